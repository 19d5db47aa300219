/// Turns the stored model, a directory snapshot and the mappings into a plan. Pure and
/// deterministic: no I/O, no clock (the time is an input), output sorted by stable id.
///
/// Lifecycle, per identity (keyed by stable id, so a rename or OU move is a mover):
/// - not seen before, active and in scope → joiner;
/// - active → active with a changed DN, tracked attribute or group → mover;
/// - active → disabled, out of scope, or gone from the directory → leaver (everything revoked);
/// - disabled → active → joiner ("re-enabled"); terminated → active → rehire (a joiner; nothing
///   from before is restored — grants come from today's rules only).
/// Only rule-granted assignments follow the rules; activations and manual grants are left alone
/// except on a leaver (everything goes) or at expiry.
public struct Planner {
    public var mappings: Mappings
    /// Normalises a DN (for `underDN` and `memberOf` by DN, and group keys).
    public var normalizeDN: (String) -> String
    /// The value written into an otherwise empty write-back group (`writeBack.emptyGroupPlaceholder`),
    /// normalised; never drift.
    public var writeBackPlaceholder: String?

    public init(mappings: Mappings, normalizeDN: @escaping (String) -> String, writeBackPlaceholder: String? = nil) {
        self.mappings = mappings
        self.normalizeDN = normalizeDN
        self.writeBackPlaceholder = writeBackPlaceholder.map(normalizeDN)
    }

    /// The identity fields a mover is detected on (besides the DN and groups).
    public static let trackedFields = [
        "username", "mail", "displayName", "employeeNumber", "department", "title", "manager", "employeeType",
    ]

    public func plan(state: PIMState, snapshot: DirectorySnapshot, now: Double) -> Plan {
        let context = Context(snapshot: snapshot, mappings: self.mappings, normalizeDN: self.normalizeDN, now: now)
        var assignmentsByIdentity: [String: [Assignment]] = [:]
        for assignment in state.assignments {
            assignmentsByIdentity[assignment.identityID, default: []].append(assignment)
        }
        var plans: [IdentityPlan] = []
        var conflicts: [SoDConflict] = []
        var protectedChanges: [String] = []
        var leavers = 0
        var seen = Set<String>()
        var activeAt = [Bool](repeating: false, count: snapshot.identities.count)
        var protectedGone = Set<String>()
        let lookBackStart = now - self.mappings.leaver.lookBackSeconds
        var recentlyHeld: [String: [EndedHolding]] = [:]
        for holding in state.endedHoldings where holding.endedAt >= lookBackStart {
            recentlyHeld[holding.identityID, default: []].append(holding)
        }
        var checkedOut: [String: [CheckoutRecord]] = [:]
        for checkout in state.checkouts where checkout.isOpen || checkout.checkedOutAt >= lookBackStart {
            checkedOut[checkout.identityID, default: []].append(checkout)
        }
        let history = LeaverHistory(recentlyHeld: recentlyHeld, checkedOut: checkedOut)

        for (position, identity) in snapshot.identities.enumerated() {
            seen.insert(identity.id)
            let view = context.view(of: position)
            let hrReason = state.hrTerminated[identity.id]
            // Terminated by HR (or an operator's offboarding): out of scope whatever the directory says.
            let previous = state.identities[identity.id]
            // An undecided scope changes nothing: who was in stays in (and may still leave, disabled
            // or terminated by HR); who was not keeps the record it had, and someone new is not
            // recorded until it is decided (a joiner then, not a rehire).
            let scope = context.evaluate(context.scope, view)
            let wasActive = previous?.state == .active
            if scope == nil && hrReason == nil && !wasActive { continue }
            let inScope = hrReason == nil && (scope ?? wasActive)
            let held = assignmentsByIdentity[identity.id] ?? []
            let record = context.record(for: position, inScope: inScope, previous: previous, now: now)

            var events: [LifecycleEvent] = []
            var desired: [String: (mode: RoleMode, rule: String)] = [:]
            var undecided = Set<String>()
            let isActive = record.state == .active
            activeAt[position] = isActive

            switch (previous?.state, record.state) {
            case (nil, .active):
                events.append(LifecycleEvent(kind: .joiner, reasons: ["new in the directory"]))
            case (.disabled?, .active):
                events.append(LifecycleEvent(kind: .joiner, reasons: ["re-enabled"]))
            case (.terminated?, .active):
                let when = previous?.terminatedAt.map { " (terminated at \(isoDate($0)))" } ?? ""
                events.append(
                    LifecycleEvent(kind: .rehire, reasons: ["back after termination\(when); nothing is restored"])
                )
            case (.active?, .active):
                // Reasons only when something changed (most identities, most runs: nothing).
                if let previous, previous != record {
                    let reasons = Self.moverReasons(previous: previous, current: record)
                    if !reasons.isEmpty { events.append(LifecycleEvent(kind: .mover, reasons: reasons)) }
                }
            case (.active?, _):
                var reasons: [String] = []
                if identity.disabled { reasons.append("disabled: " + identity.disabledReasons.joined(separator: "; ")) }
                if let hrReason {
                    reasons.append("terminated by HR: \(hrReason)")
                } else if !inScope {
                    reasons.append("out of scope")
                }
                events.append(LifecycleEvent(kind: .leaver, reasons: reasons))
                leavers += 1
            default:
                break
            }
            if isActive {
                (desired, undecided) = context.desiredRoles(view)
            }
            var actions = self.assignmentActions(
                context: context,
                identityID: identity.id,
                username: identity.username,
                held: held,
                desired: desired,
                undecided: undecided,
                isLeaver: wasActive && !isActive,
                leaverReason: events.first(where: { $0.kind == .leaver })?.reasons.joined(separator: "; "),
                history: history,
                now: now,
                conflicts: &conflicts
            )
            if previous != record {
                actions.append(.recordIdentity(record))
            }
            guard !events.isEmpty || !actions.isEmpty else { continue }
            var plan = IdentityPlan(
                identityID: identity.id,
                username: identity.username,
                dn: identity.dn,
                events: events,
                actions: actions.sorted { $0.phase < $1.phase }
            )
            if context.isProtected(position) {
                // Access changes are withheld and reported; Tenure's own record of what it saw is kept
                // (so the same change is not reported as new on every run).
                plan.isProtected = true
                let withheld = plan.actions.filter(\.changesAccess)
                let what = (plan.events.map(\.kind.rawValue) + withheld.map(describe)).joined(separator: ", ")
                protectedChanges.append(
                    "protected identity \(identity.username ?? identity.id) (\(identity.dn)): \(what)"
                        + (withheld.isEmpty ? "" : " — withheld")
                )
                plan.actions.removeAll(where: \.changesAccess)
                if plan.events.contains(where: { $0.kind == .leaver }) { leavers -= 1 }
            }
            plans.append(plan)
        }

        // Stored identities the directory no longer has: leavers (once), then remembered as terminated.
        for (id, previous) in state.identities where !seen.contains(id) && previous.state != .terminated {
            var record = previous
            record.state = .terminated
            record.terminatedAt = now
            var events: [LifecycleEvent] = []
            if previous.state == .active {
                events.append(LifecycleEvent(kind: .leaver, reasons: ["gone from the directory"]))
                leavers += 1
            }
            var actions = self.assignmentActions(
                context: context,
                identityID: id,
                username: previous.username,
                held: assignmentsByIdentity[id] ?? [],
                desired: [:],
                undecided: [],
                isLeaver: true,
                leaverReason: "gone from the directory",
                history: history,
                now: now,
                conflicts: &conflicts
            )
            actions.append(.recordIdentity(record))
            var plan = IdentityPlan(
                identityID: id,
                username: previous.username,
                dn: previous.dn,
                events: events,
                actions: actions.sorted { $0.phase < $1.phase }
            )
            if context.isProtectedRecord(previous) {
                protectedGone.insert(id)
                plan.isProtected = true
                protectedChanges.append(
                    "protected identity \(previous.username ?? id) (\(previous.dn)): gone from the directory"
                        + " — revocations withheld"
                )
                plan.actions.removeAll(where: \.changesAccess)
                if previous.state == .active { leavers -= 1 }
            }
            plans.append(plan)
        }
        let drift = WriteBackPlanning(
            mappings: self.mappings,
            normalizeDN: self.normalizeDN,
            placeholder: self.writeBackPlaceholder
        ).reconcile(
            WriteBackPlanning.Inputs(
                state: state,
                snapshot: snapshot,
                isActive: { activeAt[$0] },
                isProtected: { context.isProtected($0) },
                protectedGone: protectedGone,
                isProtectedMember: { context.isProtectedMember($0, state: state) },
                now: now
            ),
            plans: &plans
        )
        plans.sort { $0.identityID < $1.identityID }
        conflicts.sort { ($0.identityID, $0.role) < ($1.identityID, $1.role) }

        let inScopeBefore = state.identities.values.lazy.filter { $0.state == .active }.count
        // Identities that stay but lose a role (protected ones change nothing).
        let revoked = plans.lazy.filter { plan in
            !plan.isProtected && !plan.events.contains { $0.kind == .leaver }
                && plan.actions.contains { if case .revoke = $0 { true } else { false } }
        }.count
        return Plan(
            identities: plans,
            conflicts: conflicts,
            protectedChanges: protectedChanges.sorted(),
            guardVerdict: self.guardVerdict(leavers: leavers, revoked: revoked, inScope: inScopeBefore),
            createdAt: now,
            drift: drift,
            ambiguousGroupNames: context.ambiguousGroupNames
        )
    }

    /// Identities losing a role below which their share of the directory does not hold a plan.
    static let revokedPercentFloor = 10

    /// Holds the plan when leavers, or identities that stay but lose a role, exceed their count or
    /// their share of the identities that were active (for the latter, from 10 identities on).
    func guardVerdict(leavers: Int, revoked: Int = 0, inScope: Int) -> GuardVerdict {
        let settings = self.mappings.guardSettings
        var reasons: [String] = []
        func check(_ count: Int, _ what: String, limit: Int, percentLimit: Double, percentFrom floor: Int = 0) {
            let percent = inScope > 0 ? Double(count) * 100 / Double(inScope) : 0
            if count > limit {
                reasons.append("\(count) \(what) is more than the limit of \(limit)")
            }
            if percent > percentLimit && count >= floor {
                reasons.append(
                    "\(count) \(what) is \(formatPercent(percent)) of the \(inScope) active identities, more than "
                        + "\(formatPercent(percentLimit))"
                )
            }
        }
        check(leavers, "leavers", limit: settings.maxLeavers, percentLimit: settings.maxLeaverPercent)
        // The share counts from 10 identities on: in a small directory a couple of ordinary movers
        // are a large share, and the count limit still applies.
        check(
            revoked,
            "identities losing a role",
            limit: settings.maxRevoked,
            percentLimit: settings.maxRevokedPercent,
            percentFrom: Self.revokedPercentFloor
        )
        let reason =
            reasons.isEmpty
            ? nil
            : reasons.joined(separator: "; ")
                + " — a wrong base DN, a truncated directory or a group read back empty looks like this; check "
                + "the snapshot, then apply with --allow-mass-revoke if it is right"
        return GuardVerdict(
            held: !reasons.isEmpty,
            reason: reason,
            leavers: leavers,
            inScope: inScope,
            revoked: revoked
        )
    }

    /// Revocations, expiries, grants and elevations that bring `held` to `desired`.
    fileprivate func assignmentActions(
        context: Context,
        identityID: String,
        username: String?,
        held: [Assignment],
        desired: [String: (mode: RoleMode, rule: String)],
        undecided: Set<String>,
        isLeaver: Bool,
        leaverReason: String?,
        history: LeaverHistory,
        now: Double,
        conflicts: inout [SoDConflict]
    ) -> [PlanAction] {
        var actions: [PlanAction] = []
        var keep: [Assignment] = []
        for assignment in held.sorted(by: { $0.key < $1.key }) {
            if isLeaver {
                actions.append(
                    .revoke(role: assignment.role, state: assignment.state, reason: "leaver: \(leaverReason ?? "left")")
                )
            } else if let until = assignment.until, until <= now {
                actions.append(
                    .expire(role: assignment.role, state: assignment.state, reason: "expired at \(isoDate(until))")
                )
            } else if assignment.source.hasPrefix("rule:") {
                let rule = String(assignment.source.dropFirst("rule:".count))
                // A rule that may still grant it (undecided): kept as it is, never revoked on a guess.
                if undecided.contains(assignment.role) {
                    keep.append(assignment)
                    continue
                }
                switch desired[assignment.role] {
                case nil:
                    let why =
                        !context.roleNames.contains(assignment.role)
                        ? "role \(assignment.role) is no longer defined"
                        : "no rule grants \(assignment.role) any more (was \(rule))"
                    actions.append(.revoke(role: assignment.role, state: assignment.state, reason: why))
                case .some(let want) where want.mode == .eligible && assignment.state == .active:
                    actions.append(
                        .revoke(
                            role: assignment.role,
                            state: .active,
                            reason: "\(want.rule) now grants \(assignment.role) as eligible only"
                        )
                    )
                default:
                    keep.append(assignment)
                }
            } else {
                keep.append(assignment)
            }
        }
        guard !isLeaver else {
            return actions
                + self.leaverRotations(
                    identityID: identityID,
                    name: username ?? identityID,
                    held: held,
                    history: history
                )
        }

        // Grants, in rule order, checking separation of duties against what is kept and granted.
        var holding = Set(keep.map(\.role))
        let ruleOrder = context.ruleOrder
        for (role, want) in desired.sorted(by: {
            (ruleOrder[$0.value.rule] ?? 0, $0.key) < (ruleOrder[$1.value.rule] ?? 0, $1.key)
        }) {
            let hasEligible = keep.contains { $0.role == role && $0.state == .eligible }
            let hasActive = keep.contains { $0.role == role && $0.state == .active }
            if !holding.contains(role), let clash = context.conflict(of: role, with: holding) {
                conflicts.append(
                    SoDConflict(
                        identityID: identityID,
                        username: username,
                        role: role,
                        conflictsWith: clash,
                        rule: want.rule
                    )
                )
                continue
            }
            switch want.mode {
            case .standing where hasActive:
                break
            case .standing where hasEligible:
                actions.append(.elevate(role: role, rule: want.rule))
            case .standing:
                actions.append(.grantStanding(role: role, rule: want.rule))
            case .eligible where !hasEligible:
                actions.append(.grantEligible(role: role, rule: want.rule))
            case .eligible:
                break
            }
            holding.insert(role)
        }
        return actions
    }

    /// The plan of one identity's offboarding, made without reading the directory (HR terminated them,
    /// or an operator did): every assignment revoked, every write-back membership Tenure made
    /// removed, every credential they could know rotated, and the identity recorded as terminated.
    /// A protected identity's access is withheld and reported, as in `plan`.
    public func offboardPlan(state: PIMState, identityID: String, reason: String, now: Double) -> Plan? {
        guard let previous = state.identities[identityID] else { return nil }
        var record = previous
        record.state = .terminated
        if previous.state != .terminated { record.terminatedAt = now }
        record.lastSeen = now
        let held = state.assignments.filter { $0.identityID == identityID }.sorted { $0.key < $1.key }
        var actions: [PlanAction] = held.map {
            .revoke(role: $0.role, state: $0.state, reason: "offboarded: \(reason)")
        }
        // Its username leaves username-valued attributes too, unless another account Tenure knows
        // has it, in any state (the value may be theirs; `state` must hold them — SyncEngine.offboard
        // loads them by username).
        let username = previous.username.flatMap { name -> String? in
            let lowered = name.lowercased()
            let shared = state.identities.values.contains {
                $0.id != identityID && $0.username?.lowercased() == lowered
            }
            return shared ? nil : name
        }
        for member in state.writeBackMembers where member.identityID == identityID {
            actions.append(
                .writeBack(
                    group: member.group,
                    role: member.role,
                    add: false,
                    member: member.member,
                    reason: "offboarded: \(reason)",
                    username: username
                )
            )
        }
        let lookBackStart = now - self.mappings.leaver.lookBackSeconds
        let history = LeaverHistory(
            recentlyHeld: [
                identityID: state.endedHoldings.filter { $0.identityID == identityID && $0.endedAt >= lookBackStart }
            ],
            checkedOut: [
                identityID: state.checkouts.filter {
                    $0.identityID == identityID && ($0.isOpen || $0.checkedOutAt >= lookBackStart)
                }
            ]
        )
        actions += self.leaverRotations(
            identityID: identityID,
            name: previous.username ?? identityID,
            held: held,
            history: history
        )
        actions.append(.recordIdentity(record))
        let events =
            previous.state == .active ? [LifecycleEvent(kind: .leaver, reasons: ["offboarded: \(reason)"])] : []
        var plan = IdentityPlan(
            identityID: identityID,
            username: previous.username,
            dn: previous.dn,
            events: events,
            actions: actions.sorted { $0.phase < $1.phase }
        )
        var protectedChanges: [String] = []
        let context = Context(
            snapshot: DirectorySnapshot(identities: [], groups: []),
            mappings: self.mappings,
            normalizeDN: self.normalizeDN,
            now: now
        )
        if context.isProtectedRecord(previous) {
            plan.isProtected = true
            let withheld = plan.actions.filter(\.changesAccess).map(describe)
            protectedChanges.append(
                "protected identity \(previous.username ?? identityID) (\(previous.dn)): offboarding "
                    + (withheld.isEmpty ? "" : "(\(withheld.joined(separator: ", "))) ") + "withheld"
            )
            plan.actions.removeAll(where: \.changesAccess)
        }
        return Plan(
            identities: [plan],
            conflicts: [],
            protectedChanges: protectedChanges,
            guardVerdict: GuardVerdict(held: false, reason: nil, leavers: events.isEmpty ? 0 : 1, inScope: 1),
            createdAt: now
        )
    }

    /// The credentials a leaver could know, each rotated once: unlocked by a role held now (active
    /// or eligible) or held within the look-back window, or checked out within it (or still out).
    func leaverRotations(identityID: String, name: String, held: [Assignment], history: LeaverHistory) -> [PlanAction] {
        var effects: [PlanAction] = []
        var rotated = Set<String>()
        func rotate(_ credential: String, role: String, reason: String) {
            guard rotated.insert(credential).inserted else { return }
            effects.append(.rotateCredential(name: credential, role: role, reason: reason))
        }
        for assignment in held.sorted(by: { $0.key < $1.key }) {
            for credential in self.mappings.role(named: assignment.role)?.credentials ?? [] {
                rotate(
                    credential,
                    role: assignment.role,
                    reason: "\(name) held \(assignment.state.rawValue) \(assignment.role) and is a leaver"
                )
            }
        }
        let ended = (history.recentlyHeld[identityID] ?? []).sorted {
            ($0.role, $0.state.rawValue, $0.endedAt) < ($1.role, $1.state.rawValue, $1.endedAt)
        }
        for holding in ended {
            for credential in self.mappings.role(named: holding.role)?.credentials ?? [] {
                rotate(
                    credential,
                    role: holding.role,
                    reason: "\(name) held \(holding.state.rawValue) \(holding.role) until \(isoDate(holding.endedAt)) "
                        + "(within the leaver look-back) and is a leaver"
                )
            }
        }
        let checkouts = (history.checkedOut[identityID] ?? []).sorted {
            ($0.checkedOutAt, $0.credential) < ($1.checkedOutAt, $1.credential)
        }
        for checkout in checkouts {
            rotate(
                checkout.credential,
                role: "",
                reason:
                    "\(name) checked out \(checkout.credential) at \(isoDate(checkout.checkedOutAt)) and is a leaver"
            )
        }
        return effects
    }

    static func moverReasons(previous: IdentityRecord, current: IdentityRecord) -> [String] {
        var reasons: [String] = []
        if previous.dn != current.dn {
            reasons.append("DN changed from \"\(previous.dn)\" to \"\(current.dn)\" (rename or move)")
        }
        for field in Set(previous.attributes.keys).union(current.attributes.keys).sorted() {
            let before = previous.attributes[field]
            let after = current.attributes[field]
            if before != after {
                reasons.append("\(field) changed from \(quote(before)) to \(quote(after))")
            }
        }
        let before = Set(previous.groups)
        let after = Set(current.groups)
        for group in after.subtracting(before).sorted() { reasons.append("joined group \(group)") }
        for group in before.subtracting(after).sorted() { reasons.append("left group \(group)") }
        return reasons
    }
}

/// What a leaver could still know: roles held within the look-back window and check-outs, by identity.
struct LeaverHistory {
    var recentlyHeld: [String: [EndedHolding]]
    var checkedOut: [String: [CheckoutRecord]]
}

/// Precomputed look-ups over one snapshot.
private struct Context {
    let snapshot: DirectorySnapshot
    let mappings: Mappings
    let normalizeDN: (String) -> String
    /// Per identity: positions of the groups it is in (transitively), sorted.
    let groupsOf: [[Int32]]
    let normalizedGroupDNs: [String]
    let groupNames: [String]
    let normalizedIdentityDNs: [String]
    /// `memberOf` targets → group positions.
    let groupTargets: [String: Set<Int32>]
    /// `memberOf` names more than one group has: conditions on them are undecided (`.unknown`).
    let ambiguousGroupNames: [AmbiguousGroupName]
    let regexes: [String: Regex<AnyRegexOutput>]
    let protectedIDs: Set<String>
    let protectedUsernames: Set<String>
    let protectedDNs: Set<String>

    /// Defined role names.
    let roleNames: Set<String>
    /// Rule name → position (grants are made in rule order).
    let ruleOrder: [String: Int]
    /// Rules in force now (validity window) whose role exists, in order.
    let activeRules: [(rule: Rule, when: Compiled)]
    let scope: Compiled
    /// Role → the roles it may not be held with (both directions).
    let conflicts: [String: Set<String>]

    init(snapshot: DirectorySnapshot, mappings: Mappings, normalizeDN: @escaping (String) -> String, now: Double) {
        self.normalizeDN = normalizeDN
        self.snapshot = snapshot
        self.mappings = mappings
        let roleNames = Set(mappings.roles.map(\.name))
        self.roleNames = roleNames
        self.ruleOrder = Dictionary(
            mappings.rules.enumerated().map { ($1.name, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        let inForce = mappings.rules.filter { rule in
            if let from = rule.validFrom, now < from { return false }
            if let until = rule.validUntil, now > until { return false }
            return roleNames.contains(rule.grant)
        }
        self.conflicts = Planner.conflictMap(mappings)
        var position: [String: Int32] = [:]
        position.reserveCapacity(snapshot.identities.count)
        for (index, identity) in snapshot.identities.enumerated() { position[identity.id] = Int32(index) }
        // Write-back groups are Tenure's output, not input: their membership is no identity's group
        // (Tenure's own writes never make movers) and no condition reads them (validated).
        // A group that contains a write-back group (nested) would carry Tenure's writes into its own
        // membership, and so into movers and rules: its members are recomputed without them.
        let writeBackGroups = Set(mappings.roles.compactMap(\.writeBackGroup))
        let cut = Self.membersWithoutWriteBack(
            snapshot: snapshot,
            writeBackGroups: writeBackGroups,
            normalizeDN: normalizeDN
        )
        var groupsOf = [[Int32]](repeating: [], count: snapshot.identities.count)
        for (groupIndex, group) in snapshot.groups.enumerated()
        where writeBackGroups.isEmpty || !writeBackGroups.contains(normalizeDN(group.dn)) {
            for member in cut[groupIndex] ?? group.transitiveMembers {
                if let index = position[member] { groupsOf[Int(index)].append(Int32(groupIndex)) }
            }
        }
        self.groupsOf = groupsOf
        let groupDNs = snapshot.groups.map { normalizeDN($0.dn) }
        let groupNames = snapshot.groups.map { $0.name.lowercased() }
        self.normalizedGroupDNs = groupDNs
        self.groupNames = groupNames
        self.normalizedIdentityDNs = snapshot.identities.map { normalizeDN($0.dn) }

        var targets: [String: Set<Int32>] = [:]
        var ambiguous: [AmbiguousGroupName] = []
        var patterns: [String: Regex<AnyRegexOutput>] = [:]
        func collect(_ condition: Condition) {
            switch condition {
            case .memberOf(let target):
                guard targets[target] == nil else { return }
                // As the mappings decoder reads it: with "=" a DN (matched by DN only: a group whose
                // name is that text is not it), else a group name.
                var matches = Set<Int32>()
                if target.contains("=") {
                    let normalized = normalizeDN(target)
                    for index in snapshot.groups.indices where groupDNs[index] == normalized {
                        matches.insert(Int32(index))
                    }
                } else {
                    let lowered = target.lowercased()
                    for index in snapshot.groups.indices where groupNames[index] == lowered {
                        matches.insert(Int32(index))
                    }
                    if matches.count > 1 {
                        ambiguous.append(
                            AmbiguousGroupName(
                                name: target,
                                dns: matches.map { snapshot.groups[Int($0)].dn }.sorted()
                            )
                        )
                    }
                }
                targets[target] = matches
            case .attributeMatches(_, let pattern):
                if patterns[pattern] == nil, let regex = try? Regex(pattern) { patterns[pattern] = regex }
            case .all(let parts), .any(let parts):
                parts.forEach(collect)
            case .not(let inner):
                collect(inner)
            case .always, .attributeEquals, .attributeIn, .underDN:
                break
            }
        }
        collect(mappings.scope)
        for rule in mappings.rules { collect(rule.when) }
        self.groupTargets = targets
        self.regexes = patterns
        self.ambiguousGroupNames = ambiguous.sorted { $0.name < $1.name }
        let undecided = Set(ambiguous.map(\.name))
        func compile(_ condition: Condition) -> Compiled {
            switch condition {
            case .always: .always
            case .memberOf(let target): undecided.contains(target) ? .unknown : .groups(targets[target] ?? [])
            case .attributeEquals(let attribute, let value): .equals(attribute, value)
            case .attributeIn(let attribute, let values): .among(attribute, values)
            case .attributeMatches(let attribute, let pattern):
                patterns[pattern].map { .matches(attribute, $0) } ?? .never
            case .underDN(let base): .under(base)
            case .all(let parts): .all(parts.map(compile))
            case .any(let parts): .any(parts.map(compile))
            case .not(let inner): .not(compile(inner))
            }
        }
        self.activeRules = inForce.map { ($0, compile($0.when)) }
        self.scope = compile(mappings.scope)

        var ids = Set<String>()
        var usernames = Set<String>()
        var dns = Set<String>()
        for entry in mappings.protected {
            switch entry {
            case .id(let id): ids.insert(id.lowercased())
            case .username(let name): usernames.insert(name.lowercased())
            case .dn(let dn): dns.insert(normalizeDN(dn))
            }
        }
        self.protectedIDs = ids
        self.protectedUsernames = usernames
        self.protectedDNs = dns
    }

    /// For every group that contains a write-back group (directly or through nesting): its
    /// transitive members with the write-back groups cut out of the nesting graph. Groups not
    /// affected are not in the result (their stored transitive members stand).
    static func membersWithoutWriteBack(
        snapshot: DirectorySnapshot,
        writeBackGroups: Set<String>,
        normalizeDN: (String) -> String
    ) -> [Int: [String]] {
        guard !writeBackGroups.isEmpty else { return [:] }
        var indexByID: [String: Int] = [:]
        for (index, group) in snapshot.groups.enumerated() { indexByID[group.id] = index }
        let cutIndices = Set(
            snapshot.groups.indices.filter { writeBackGroups.contains(normalizeDN(snapshot.groups[$0].dn)) }
        )
        guard !cutIndices.isEmpty else { return [:] }
        // Parents of each group, to find every group above a write-back group.
        var parents: [Int: [Int]] = [:]
        for (index, group) in snapshot.groups.enumerated() {
            for child in group.directGroups {
                if let childIndex = indexByID[child] { parents[childIndex, default: []].append(index) }
            }
        }
        var affected = Set<Int>()
        var queue = Array(cutIndices)
        while let next = queue.popLast() {
            for parent in parents[next] ?? [] where affected.insert(parent).inserted { queue.append(parent) }
        }
        var result: [Int: [String]] = [:]
        for index in affected where !cutIndices.contains(index) {
            var members = Set<String>()
            var seen: Set<Int> = [index]
            var stack = [index]
            while let current = stack.popLast() {
                members.formUnion(snapshot.groups[current].directMembers)
                for child in snapshot.groups[current].directGroups {
                    guard let childIndex = indexByID[child], !cutIndices.contains(childIndex),
                        seen.insert(childIndex).inserted
                    else { continue }
                    stack.append(childIndex)
                }
            }
            result[index] = members.sorted()
        }
        return result
    }

    struct View {
        let position: Int
    }

    func view(of position: Int) -> View { View(position: position) }

    func isProtected(_ position: Int) -> Bool {
        let identity = self.snapshot.identities[position]
        return self.protectedIDs.contains(identity.id.lowercased())
            || identity.username.map { self.protectedUsernames.contains($0.lowercased()) } == true
            || self.protectedDNs.contains(self.normalizedIdentityDNs[position])
    }

    /// A member value naming a protected identity: as a DN, a protected `dn:` or the last-seen DN of
    /// an identity protected by id or username; as a username (no "="), a protected `username:` or the
    /// last-seen username of an identity protected by id or DN. Only asked for group member values
    /// that are no identity of the snapshot (rare), so the stored records are scanned, not indexed.
    func isProtectedMember(_ value: String, state: PIMState) -> Bool {
        guard value.contains("=") else {
            // A username (`memberUid`).
            let lowered = value.lowercased()
            if self.protectedUsernames.contains(lowered) { return true }
            guard !self.protectedIDs.isEmpty || !self.protectedDNs.isEmpty else { return false }
            return state.identities.values.contains { record in
                record.username?.lowercased() == lowered && self.isProtectedRecord(record)
            }
        }
        let dn = self.normalizeDN(value)
        if self.protectedDNs.contains(dn) { return true }
        guard !self.protectedIDs.isEmpty || !self.protectedUsernames.isEmpty else { return false }
        return state.identities.values.contains { record in
            self.isProtectedRecord(record) && self.normalizeDN(record.dn) == dn
        }
    }

    /// A stored record protected by id, username or `dn:` (its last-seen DN): an identity protected
    /// by DN stays protected once it is gone from the directory or moved.
    func isProtectedRecord(_ record: IdentityRecord) -> Bool {
        self.protectedIDs.contains(record.id.lowercased())
            || record.username.map { self.protectedUsernames.contains($0.lowercased()) } == true
            || (!self.protectedDNs.isEmpty && self.protectedDNs.contains(self.normalizeDN(record.dn)))
    }

    /// Values of an attribute: a mapped field by name, `dn`, or an extra attribute (lowercased).
    func values(_ attribute: String, _ view: View) -> [String] {
        let identity = self.snapshot.identities[view.position]
        switch attribute {
        case "dn": return [identity.dn]
        case "username": return identity.username.map { [$0] } ?? []
        case "mail": return identity.mail.map { [$0] } ?? []
        case "displayName": return identity.displayName.map { [$0] } ?? []
        case "employeeNumber": return identity.employeeNumber.map { [$0] } ?? []
        case "department": return identity.department.map { [$0] } ?? []
        case "title": return identity.title.map { [$0] } ?? []
        case "manager": return identity.manager.map { [$0] } ?? []
        case "employeeType": return identity.employeeType.map { [$0] } ?? []
        default: return identity.attributes[attribute.lowercased()] ?? []
        }
    }

    /// A condition with its group targets resolved to positions and its regexes compiled, once
    /// per plan (evaluated 100,000s of times).
    indirect enum Compiled {
        case always
        case never
        /// Cannot be decided (a `memberOf` name several groups have): neither true nor false.
        case unknown
        case groups(Set<Int32>)
        case equals(String, String)
        case among(String, [String])
        case matches(String, Regex<AnyRegexOutput>)
        case under(String)
        case all([Compiled])
        case any([Compiled])
        case not(Compiled)
    }

    /// Three-valued (Kleene): nil when the answer depends on an undecided part — `all` is false
    /// if any part is false, `any` true if any part is true, whatever the undecided ones say.
    func evaluate(_ condition: Compiled, _ view: View) -> Bool? {
        switch condition {
        case .always:
            return true
        case .never:
            return false
        case .unknown:
            return nil
        case .groups(let groups):
            return !groups.isEmpty && self.groupsOf[view.position].contains { groups.contains($0) }
        case .equals(let attribute, let value):
            return self.anyValue(attribute, view) { $0.caseInsensitiveEquals(value) }
        case .among(let attribute, let options):
            return self.anyValue(attribute, view) { value in options.contains { $0.caseInsensitiveEquals(value) } }
        case .matches(let attribute, let regex):
            return self.anyValue(attribute, view) { (try? regex.wholeMatch(in: $0)) != nil }
        case .under(let base):
            return DNSubtree.contains(self.normalizedIdentityDNs[view.position], base: base)
        case .all(let parts):
            var result: Bool? = true
            for part in parts {
                switch self.evaluate(part, view) {
                case false?: return false
                case nil: result = nil
                case true?: break
                }
            }
            return result
        case .any(let parts):
            var result: Bool? = false
            for part in parts {
                switch self.evaluate(part, view) {
                case true?: return true
                case nil: result = nil
                case false?: break
                }
            }
            return result
        case .not(let inner):
            return self.evaluate(inner, view).map { !$0 }
        }
    }

    /// Roles the rules grant now: standing wins over eligible; the first rule (in order) names it.
    /// `undecided`: roles a rule may or may not grant (its condition is undecided): what is held of
    /// them is kept, nothing more is granted.
    func desiredRoles(_ view: View) -> (
        desired: [String: (mode: RoleMode, rule: String)], undecided: Set<String>
    ) {
        var desired: [String: (mode: RoleMode, rule: String)] = [:]
        var undecided = Set<String>()
        for index in self.activeRules.indices {
            let rule = self.activeRules[index].rule
            switch self.evaluate(self.activeRules[index].when, view) {
            case false?: continue
            case nil:
                undecided.insert(rule.grant)
                continue
            case true?: break
            }
            if let existing = desired[rule.grant], existing.mode == .standing || rule.mode == .eligible { continue }
            desired[rule.grant] = (rule.mode, rule.name)
        }
        return (desired, undecided)
    }

    /// A role among `holding` that `role` may not be held with.
    func conflict(of role: String, with holding: Set<String>) -> String? {
        guard let excluded = self.conflicts[role] else { return nil }
        return holding.filter { excluded.contains($0) }.min()
    }

    /// Whether a value of a mapped field or extra attribute satisfies `body` (no array built).
    private func anyValue(_ attribute: String, _ view: View, _ body: (String) -> Bool) -> Bool {
        let identity = self.snapshot.identities[view.position]
        let single: String?
        switch attribute {
        case "dn": single = identity.dn
        case "username": single = identity.username
        case "mail": single = identity.mail
        case "displayName": single = identity.displayName
        case "employeeNumber": single = identity.employeeNumber
        case "department": single = identity.department
        case "title": single = identity.title
        case "manager": single = identity.manager
        case "employeeType": single = identity.employeeType
        default: return identity.attributes[attribute.lowercased()]?.contains(where: body) ?? false
        }
        return single.map(body) ?? false
    }

    /// The record this run will store for the identity.
    func record(for position: Int, inScope: Bool, previous: IdentityRecord?, now: Double) -> IdentityRecord {
        let identity = self.snapshot.identities[position]
        var attributes: [String: String] = [:]
        let view = View(position: position)
        for field in Planner.trackedFields {
            if let value = self.values(field, view).first { attributes[field] = value }
        }
        let state: LifecycleState = identity.disabled ? .disabled : (inScope ? .active : .terminated)
        var record = IdentityRecord(
            id: identity.id,
            state: state,
            dn: identity.dn,
            username: identity.username,
            attributes: attributes,
            groups: self.groupsOf[position].map { self.normalizedGroupDNs[Int($0)] }.sorted(),
            firstSeen: previous?.firstSeen ?? now,
            lastSeen: previous?.lastSeen ?? now,
            terminatedAt: previous?.terminatedAt
        )
        if state == .terminated, previous?.state != .terminated { record.terminatedAt = now }
        // lastSeen moves only when something else changes: a no-change run writes nothing.
        if let previous, record != previous { record.lastSeen = now }
        return record
    }
}

extension String {
    /// Case-insensitive equality without lowercased copies for ASCII.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = self.utf8
        let b = other.utf8
        if a.allSatisfy({ $0 < 0x80 }) && b.allSatisfy({ $0 < 0x80 }) {
            return a.count == b.count
                && a.elementsEqual(b) { x, y in
                    (x >= 0x41 && x <= 0x5A ? x | 0x20 : x) == (y >= 0x41 && y <= 0x5A ? y | 0x20 : y)
                }
        }
        return self.lowercased() == other.lowercased()
    }
}

/// One action, for people: `revoke active dba-prod`, `remove from write-back group …`.
public func describe(_ action: PlanAction) -> String {
    switch action {
    case .revoke(let role, let state, _): "revoke \(state.rawValue) \(role)"
    case .expire(let role, let state, _): "expire \(state.rawValue) \(role)"
    case .grantEligible(let role, _): "grant eligible \(role)"
    case .grantStanding(let role, _): "grant standing \(role)"
    case .elevate(let role, _): "elevate \(role)"
    case .writeBack(let group, _, let add, _, _, _): "\(add ? "add to" : "remove from") write-back group \(group)"
    case .adopt(let role, _): "adopt \(role) (drift)"
    case .rotateCredential(let name, _, _): "rotate credential \(name)"
    case .recordIdentity: "record"
    }
}

private func quote(_ value: String?) -> String {
    value.map { "\"\($0)\"" } ?? "(none)"
}

private func formatPercent(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return rounded == rounded.rounded() ? "\(Int(rounded))%" : "\(rounded)%"
}

/// `2026-01-01T00:00:00Z` for seconds since 1970 (UTC, whole seconds).
public func isoDate(_ seconds: Double) -> String {
    isoTimestamp(seconds, milliseconds: false)
}
