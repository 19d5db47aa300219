/// Write-back and drift: after the assignment actions of a plan are known, each role's write-back
/// group is compared with what it must hold — the role's active holders once the plan is applied —
/// and with what Tenure itself wrote there (`PIMState.writeBackMembers`).
///
/// - A holder missing from the group is added (a holder Tenure had added and someone removed is
///   also reported as drift, `missing`).
/// - A member Tenure wrote whose holding ended is removed, whatever the drift policy: Tenure's own
///   writes never come back as drift.
/// - Any other member is drift, handled by the role's policy: `alert` reports it, `revert` removes
///   it, `adopt` gives a managed identity the role (others are reported).
/// - Protected identities are never added or removed; a difference is reported.
/// - An eligible-only role held standing (not through an activation) is reported.
struct WriteBackPlanning {
    let mappings: Mappings
    let normalizeDN: (String) -> String
    let placeholder: String?

    /// What the main planning pass knows about each identity of the snapshot and the store.
    struct Inputs {
        var state: PIMState
        var snapshot: DirectorySnapshot
        /// Whether the identity at a snapshot position is active (in scope, enabled) in this run.
        var isActive: (Int) -> Bool
        /// Whether the identity at a snapshot position is protected.
        var isProtected: (Int) -> Bool
        /// Protected identities no longer in the snapshot (by stable id).
        var protectedGone: Set<String>
        /// Whether a member value that is no identity of the snapshot names a protected identity: a
        /// DN (a protected `dn:`, or the DN of a protected identity as last seen) or a username (a
        /// protected `username:`, or the username of a protected identity as last seen). Such a
        /// member is never removed, even as an orphan.
        var isProtectedMember: (String) -> Bool
        var now: Double
    }

    /// Snapshot positions by stable id: a binary search when the identities are in id order (as the
    /// snapshot builder makes them), a dictionary otherwise. Planning 100,000 identities must not
    /// pay for a 100,000-entry table when only a few hundred group members are looked up.
    struct Positions {
        let identities: [Identity]
        let table: [String: Int]?

        init(_ identities: [Identity]) {
            self.identities = identities
            var sorted = true
            for index in identities.indices.dropFirst() where !(identities[index - 1].id < identities[index].id) {
                sorted = false
                break
            }
            self.table =
                sorted
                ? nil
                : Dictionary(identities.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        }

        subscript(_ id: String) -> Int? {
            if let table = self.table { return table[id] }
            var low = 0
            var high = self.identities.count
            while low < high {
                let middle = (low + high) / 2
                if self.identities[middle].id < id { low = middle + 1 } else { high = middle }
            }
            return low < self.identities.count && self.identities[low].id == id ? low : nil
        }
    }

    func reconcile(_ inputs: Inputs, plans: inout [IdentityPlan]) -> [DriftFinding] {
        let roles = self.mappings.roles.filter { $0.writeBackGroup != nil }
        let eligibleOnly = Set(self.mappings.roles.filter { $0.mode == .eligible }.map(\.name))
        guard !roles.isEmpty || !eligibleOnly.isEmpty else { return [] }
        var findings: [DriftFinding] = []
        var planIndex: [String: Int] = [:]
        for (index, plan) in plans.enumerated() { planIndex[plan.identityID] = index }
        let identityIndex = Positions(inputs.snapshot.identities)
        func isProtected(_ id: String) -> Bool {
            identityIndex[id].map(inputs.isProtected) ?? inputs.protectedGone.contains(id)
        }

        // What the plan changes (small), then who holds what once it is applied: the stored
        // assignments (large) are only read, never copied.
        var changed: [AssignmentKey: String?] = [:]
        var endedNow: [String: Set<String>] = [:]
        var grantedNow: [String: Set<String>] = [:]
        for plan in plans {
            let id = plan.identityID
            for action in plan.actions {
                switch action {
                case .revoke(let role, let state, _), .expire(let role, let state, _):
                    changed[AssignmentKey(identityID: id, role: role, state: state)] = .some(nil)
                    if state == .active { endedNow[role, default: []].insert(id) }
                case .grantStanding(let role, let rule):
                    changed[AssignmentKey(identityID: id, role: role, state: .active)] = "rule:\(rule)"
                    grantedNow[role, default: []].insert(id)
                case .elevate(let role, let rule):
                    changed[AssignmentKey(identityID: id, role: role, state: .eligible)] = .some(nil)
                    changed[AssignmentKey(identityID: id, role: role, state: .active)] = "rule:\(rule)"
                    grantedNow[role, default: []].insert(id)
                case .grantEligible(let role, let rule):
                    changed[AssignmentKey(identityID: id, role: role, state: .eligible)] = "rule:\(rule)"
                default:
                    break
                }
            }
        }
        let writeBackRoles = Set(roles.map(\.name))
        // One look-up per stored assignment: is its role written back, eligible-only, or neither.
        var interest: [String: (writeBack: Bool, eligibleOnly: Bool)] = [:]
        for role in self.mappings.roles {
            let entry = (writeBackRoles.contains(role.name), eligibleOnly.contains(role.name))
            if entry.0 || entry.1 { interest[role.name] = entry }
        }
        let touched = Set(changed.keys.map(\.identityID))
        var holders: [String: Set<String>] = [:]
        /// Active holdings of eligible-only roles once applied, with their source.
        var standingEligible: [(key: AssignmentKey, source: String)] = []
        let assignments = inputs.state.assignments
        for index in assignments.indices where assignments[index].state == .active {
            guard let kind = interest[assignments[index].role] else { continue }
            let assignment = assignments[index]
            // Changed by the plan: counted below.
            if touched.contains(assignment.identityID) && changed[assignment.key] != nil { continue }
            if kind.writeBack { holders[assignment.role, default: []].insert(assignment.identityID) }
            if kind.eligibleOnly && !assignment.source.hasPrefix("activation:") {
                standingEligible.append((assignment.key, assignment.source))
            }
        }
        for (key, source) in changed where key.state == .active {
            guard let source, let kind = interest[key.role] else { continue }
            if kind.writeBack { holders[key.role, default: []].insert(key.identityID) }
            if kind.eligibleOnly && !source.hasPrefix("activation:") { standingEligible.append((key, source)) }
        }
        /// The roles an identity holds (either state) once the plan is applied (for adopt's SoD check).
        func heldRoles(_ id: String) -> Set<String> {
            var roles = Set<String>()
            for assignment in inputs.state.assignments where assignment.identityID == id {
                if changed[assignment.key] == nil { roles.insert(assignment.role) }
            }
            for (key, source) in changed where key.identityID == id && source != nil { roles.insert(key.role) }
            return roles
        }

        var written: [String: [String: WriteBackMember]] = [:]
        for member in inputs.state.writeBackMembers { written[member.group, default: [:]][member.identityID] = member }
        var groupsByDN: [String: Group] = [:]
        for group in inputs.snapshot.groups { groupsByDN[self.normalizeDN(group.dn)] = group }
        let groupDNByID = Dictionary(
            inputs.snapshot.groups.map { ($0.id, $0.dn) },
            uniquingKeysWith: { first, _ in first }
        )
        let conflicts = Planner.conflictMap(self.mappings)
        var adopted: [String: Set<String>] = [:]
        // Active holdings that ended recently (within the leaver look-back): a member whose holding
        // ended is Tenure's to remove even when its own write was never recorded (write-back not
        // configured yet, or the removal failed), so a failed removal is retried by the next sync.
        var recentlyEnded: [String: Set<String>] = [:]
        for holding in inputs.state.endedHoldings where holding.state == .active {
            recentlyEnded[holding.role, default: []].insert(holding.identityID)
        }

        // Who the reader takes a username-valued member (`memberUid`) to be: every identity of the
        // snapshot with that username (built at the first removal; most plans have none).
        var usernameOwners: [String: [String]]?
        /// The username a removal of identity `id` also takes out of username-valued attributes: its
        /// own, unless another identity of the directory has it too (the value would be theirs).
        func removalUsername(_ username: String?, of id: String) -> String? {
            guard let username, !username.isEmpty else { return nil }
            if usernameOwners == nil {
                var table: [String: [String]] = [:]
                for identity in inputs.snapshot.identities {
                    if let name = identity.username { table[name.lowercased(), default: []].append(identity.id) }
                }
                usernameOwners = table
            }
            let owners = usernameOwners?[username.lowercased()] ?? []
            return owners.allSatisfy { $0 == id } ? username : nil
        }

        func append(_ action: PlanAction, for id: String, username: String?, dn: String) {
            if let index = planIndex[id] {
                plans[index].actions.append(action)
            } else {
                planIndex[id] = plans.count
                plans.append(IdentityPlan(identityID: id, username: username, dn: dn, events: [], actions: [action]))
            }
        }

        for role in roles {
            guard let groupDN = role.writeBackGroup else { continue }
            guard let group = groupsByDN[groupDN] else {
                findings.append(
                    DriftFinding(
                        role: role.name,
                        group: groupDN,
                        member: "",
                        kind: .missingGroup,
                        resolution: .reported,
                        detail: "the write-back group does not exist or does not match groups.filter; "
                            + "nothing is written for \(role.name) until it does"
                    )
                )
                continue
            }
            let roleHolders = holders[role.name] ?? []
            let wrote = written[groupDN] ?? [:]
            let current = Set(group.directMembers)
            let granted = grantedNow[role.name] ?? []
            let ended = (endedNow[role.name] ?? []).union(recentlyEnded[role.name] ?? [])
            var consumed = Set<String>()

            // Holders that must be in the group.
            for id in roleHolders.sorted() {
                guard let position = identityIndex[id] else { continue }
                let identity = inputs.snapshot.identities[position]
                if inputs.isProtected(position) {
                    if !current.contains(id) {
                        findings.append(
                            DriftFinding(
                                role: role.name,
                                group: groupDN,
                                member: self.normalizeDN(identity.dn),
                                identityID: id,
                                username: identity.username,
                                kind: .protectedMember,
                                resolution: .reported,
                                detail: "protected identity holds \(role.name) but is not in the group; not changed"
                            )
                        )
                    }
                    continue
                }
                guard inputs.isActive(position) else { continue }
                // Renamed since Tenure wrote it: the old value goes (the directory may not have
                // rewritten it, and the old DN could later name someone else).
                let currentDN = self.normalizeDN(identity.dn)
                if let earlier = wrote[id], self.normalizeDN(earlier.member) != currentDN {
                    consumed.insert(self.normalizeDN(earlier.member))
                    if group.unresolvedMembers.contains(where: {
                        self.normalizeDN($0) == self.normalizeDN(earlier.member)
                    }) {
                        append(
                            .writeBack(
                                group: groupDN,
                                role: role.name,
                                add: false,
                                member: earlier.member,
                                reason: "renamed from \(earlier.member): the old DN Tenure wrote is removed"
                            ),
                            for: id,
                            username: identity.username,
                            dn: identity.dn
                        )
                    }
                }
                if current.contains(id) {
                    // In the group, but not by Tenure's hand (first run with write-back, or put there
                    // by hand before the grant), or under an older DN: record it as Tenure's (the add
                    // is idempotent), so that it is removed when the holding ends.
                    if wrote[id] == nil || self.normalizeDN(wrote[id]?.member ?? "") != currentDN {
                        append(
                            .writeBack(
                                group: groupDN,
                                role: role.name,
                                add: true,
                                member: identity.dn,
                                reason: "holds \(role.name) and is already a member; now managed by Tenure"
                            ),
                            for: id,
                            username: identity.username,
                            dn: identity.dn
                        )
                    }
                    continue
                }
                let reason: String
                if granted.contains(id) {
                    reason = "granted \(role.name)"
                } else if wrote[id] != nil {
                    reason = "holds \(role.name) but was removed from the group outside Tenure: re-added"
                    findings.append(
                        DriftFinding(
                            role: role.name,
                            group: groupDN,
                            member: self.normalizeDN(identity.dn),
                            identityID: id,
                            username: identity.username,
                            kind: .missing,
                            resolution: .readded,
                            detail: "holds \(role.name); removed from the group outside Tenure"
                        )
                    )
                } else {
                    reason = "holds \(role.name) and is not in the group"
                }
                append(
                    .writeBack(group: groupDN, role: role.name, add: true, member: identity.dn, reason: reason),
                    for: id,
                    username: identity.username,
                    dn: identity.dn
                )
            }

            // Members that are identities of the snapshot but do not hold the role.
            for id in current.subtracting(roleHolders).sorted() {
                guard let position = identityIndex[id] else { continue }
                let identity = inputs.snapshot.identities[position]
                let member = self.normalizeDN(identity.dn)
                if inputs.isProtected(position) {
                    findings.append(
                        DriftFinding(
                            role: role.name,
                            group: groupDN,
                            member: member,
                            identityID: id,
                            username: identity.username,
                            kind: .protectedMember,
                            resolution: .reported,
                            detail: "protected identity is in the group without holding \(role.name); not changed"
                        )
                    )
                    continue
                }
                if wrote[id] != nil || ended.contains(id) {
                    let why = ended.contains(id) ? "no longer holds \(role.name)" : "does not hold \(role.name)"
                    append(
                        .writeBack(
                            group: groupDN,
                            role: role.name,
                            add: false,
                            member: identity.dn,
                            reason: "\(why) (Tenure's own membership)",
                            username: removalUsername(identity.username, of: id)
                        ),
                        for: id,
                        username: identity.username,
                        dn: identity.dn
                    )
                    continue
                }
                let managed = inputs.isActive(position)
                let kind: DriftFinding.Kind = managed ? .outOfBand : .unmanaged
                var resolution = DriftFinding.Resolution.reported
                var detail =
                    managed
                    ? "in the group without holding \(role.name)"
                    : "not a managed identity (out of scope or disabled), in the group"
                switch role.drift {
                case .alert:
                    break
                case .revert:
                    resolution = .removed
                    append(
                        .writeBack(
                            group: groupDN,
                            role: role.name,
                            add: false,
                            member: identity.dn,
                            reason: "drift: \(detail); drift policy revert",
                            username: removalUsername(identity.username, of: id)
                        ),
                        for: id,
                        username: identity.username,
                        dn: identity.dn
                    )
                case .adopt:
                    let holding = heldRoles(id).union(adopted[id] ?? [])
                    let excluded = conflicts[role.name] ?? []
                    if !managed {
                        detail += "; not adopted: only managed identities are"
                    } else if role.mode == .eligible {
                        detail += "; not adopted: \(role.name) is eligible-only (adopting would give standing access)"
                    } else if let clash = holding.filter({ excluded.contains($0) }).min() {
                        detail += "; not adopted: \(role.name) conflicts with \(clash), which it holds"
                    } else {
                        resolution = .adopted
                        adopted[id, default: []].insert(role.name)
                        append(
                            .adopt(role: role.name, group: groupDN),
                            for: id,
                            username: identity.username,
                            dn: identity.dn
                        )
                    }
                }
                findings.append(
                    DriftFinding(
                        role: role.name,
                        group: groupDN,
                        member: member,
                        identityID: id,
                        username: identity.username,
                        kind: kind,
                        resolution: resolution,
                        detail: detail
                    )
                )
            }

            // Tenure's memberships of identities no longer in the snapshot, and memberships it
            // recorded that are gone from the group although the holding ended. A protected
            // identity's value is never removed (nor reported as an orphan: it is not one).
            for (id, member) in wrote.sorted(by: { $0.key < $1.key })
            where !roleHolders.contains(id) && !current.contains(id) {
                let value = self.normalizeDN(member.member)
                consumed.insert(value)
                guard !isProtected(id) else { continue }
                let identity = identityIndex[id].map { inputs.snapshot.identities[$0] }
                let previous = inputs.state.identities[id]
                append(
                    .writeBack(
                        group: groupDN,
                        role: role.name,
                        add: false,
                        member: member.member,
                        reason: "no longer holds \(role.name) (Tenure's own membership)",
                        username: removalUsername(identity?.username ?? previous?.username, of: id)
                    ),
                    for: id,
                    username: identity?.username ?? previous?.username,
                    dn: identity?.dn ?? previous?.dn ?? member.member
                )
            }

            // Values that are no identity of the snapshot, and nested groups.
            var others: [(value: String, kind: DriftFinding.Kind)] = []
            for value in group.unresolvedMembers {
                let normalized = self.normalizeDN(value)
                if normalized == self.placeholder || consumed.contains(normalized) { continue }
                if inputs.isProtectedMember(value) {
                    findings.append(
                        DriftFinding(
                            role: role.name,
                            group: groupDN,
                            member: normalized,
                            kind: .protectedMember,
                            resolution: .reported,
                            detail: "a protected account is in the group (not read as an identity); not changed"
                        )
                    )
                    continue
                }
                others.append((value, .orphan))
            }
            for nested in group.directGroups {
                if let dn = groupDNByID[nested] { others.append((dn, .nestedGroup)) }
            }
            for (value, kind) in others.sorted(by: { $0.value < $1.value }) {
                let member = self.normalizeDN(value)
                var detail =
                    kind == .orphan
                    ? "member is no identity Tenure reads (a deleted entry, one outside the user bases, "
                        + "or a group when groups.nested is false)"
                    : "a nested group: its members get \(role.name)'s access without holding it"
                var resolution = DriftFinding.Resolution.reported
                if role.drift == .revert {
                    resolution = .removed
                    append(
                        .writeBack(
                            group: groupDN,
                            role: role.name,
                            add: false,
                            member: value,
                            reason: "drift: \(detail); drift policy revert"
                        ),
                        for: "member:" + member,
                        username: nil,
                        dn: value
                    )
                } else if role.drift == .adopt {
                    detail += "; not adopted: only managed identities are"
                }
                findings.append(
                    DriftFinding(
                        role: role.name,
                        group: groupDN,
                        member: member,
                        kind: kind,
                        resolution: resolution,
                        detail: detail
                    )
                )
            }
        }

        // Eligible-only roles held standing (not through an activation).
        for (id, roles) in adopted {
            for role in roles where eligibleOnly.contains(role) {
                standingEligible.append((AssignmentKey(identityID: id, role: role, state: .active), "drift:adopt"))
            }
        }
        for (key, source) in standingEligible where !source.hasPrefix("activation:") {
            let identity = identityIndex[key.identityID].map { inputs.snapshot.identities[$0] }
            findings.append(
                DriftFinding(
                    role: key.role,
                    group: self.mappings.role(named: key.role)?.writeBackGroup ?? "",
                    member: identity.map { self.normalizeDN($0.dn) }
                        ?? inputs.state.identities[key.identityID].map { self.normalizeDN($0.dn) }
                        ?? "id:\(key.identityID)",
                    identityID: key.identityID,
                    username: identity?.username ?? inputs.state.identities[key.identityID]?.username,
                    kind: .standingEligible,
                    resolution: .reported,
                    detail: "\(key.role) is eligible-only but held standing (source \(source))"
                )
            )
        }
        for index in plans.indices { plans[index].actions.sort { $0.phase < $1.phase } }
        return findings.sorted {
            ($0.role, $0.member, $0.kind.rawValue, $0.identityID ?? "")
                < ($1.role, $1.member, $1.kind.rawValue, $1.identityID ?? "")
        }
    }
}

extension Planner {
    /// Role → the roles it may not be held with (both directions).
    static func conflictMap(_ mappings: Mappings) -> [String: Set<String>] {
        var conflicts: [String: Set<String>] = [:]
        for role in mappings.roles {
            for other in role.conflicts {
                conflicts[role.name, default: []].insert(other)
                conflicts[other, default: []].insert(role.name)
            }
        }
        return conflicts
    }
}
