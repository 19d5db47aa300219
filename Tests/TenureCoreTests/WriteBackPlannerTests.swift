import Testing

@testable import TenureCore

/// Write-back groups and drift, planned: the group must hold the role's active holders, Tenure's
/// own writes never come back as drift or movers, and everything else is handled by the role's
/// drift policy.
@Suite struct WriteBackPlannerTests {
    static let now: Double = 1_800_000_000
    static let dbaGroup = "cn=dba-prod,ou=privileged,dc=t"
    static let readGroup = "cn=db-read,ou=privileged,dc=t"
    static let auditGroup = "cn=auditor,ou=privileged,dc=t"

    static func mappings(drift: DriftPolicy = .alert, lookBack: Double = 7 * 86_400) -> Mappings {
        Mappings(
            roles: [
                RoleDefinition(
                    name: "dba-prod",
                    tier: 0,
                    mode: .eligible,
                    writeBackGroup: dbaGroup,
                    credentials: ["db-root"],
                    drift: drift
                ),
                RoleDefinition(
                    name: "db-read",
                    tier: 2,
                    mode: .standing,
                    writeBackGroup: readGroup,
                    credentials: ["db-root", "db-report"],
                    conflicts: ["auditor"],
                    drift: drift
                ),
                RoleDefinition(name: "auditor", tier: 2, mode: .standing, writeBackGroup: auditGroup, drift: drift),
            ],
            rules: [
                Rule(name: "dbas", when: .memberOf("dba"), grant: "dba-prod", mode: .eligible),
                Rule(
                    name: "readers",
                    when: .attributeEquals(attribute: "department", value: "Database"),
                    grant: "db-read",
                    mode: .standing
                ),
                Rule(
                    name: "auditors",
                    when: .attributeEquals(attribute: "title", value: "Auditor"),
                    grant: "auditor",
                    mode: .standing
                ),
            ],
            scope: .not(.attributeEquals(attribute: "employeeType", value: "service")),
            protected: [.username("breakglass")],
            leaver: LeaverPolicy(lookBackSeconds: lookBack)
        )
    }

    static func person(_ id: String, department: String? = nil, title: String? = nil, type: String = "employee")
        -> Identity
    {
        Identity(
            id: id,
            dn: "uid=\(id),ou=people,dc=t",
            username: id,
            department: department,
            title: title,
            employeeType: type
        )
    }

    /// A group with identities (ids) and raw values that resolve to no identity.
    static func group(_ dn: String, members: [String] = [], unresolved: [String] = [], nested: [String] = [])
        -> Group
    {
        Group(
            id: "g:" + dn,
            dn: dn,
            name: String(dn.dropFirst(3).prefix { $0 != "," }),
            directMembers: members.sorted(),
            directGroups: nested,
            transitiveMembers: members.sorted(),
            unresolvedMembers: unresolved
        )
    }

    /// A snapshot with every write-back group (empty unless given).
    static func snap(identities: [Identity], groups: [Group]) -> DirectorySnapshot {
        var groups = groups
        for dn in [dbaGroup, readGroup, auditGroup] where !groups.contains(where: { $0.dn == dn }) {
            groups.append(group(dn))
        }
        return DirectorySnapshot(identities: identities, groups: groups)
    }

    static func planner(_ mappings: Mappings, placeholder: String? = nil) -> Planner {
        Planner(mappings: mappings, normalizeDN: { $0.lowercased() }, writeBackPlaceholder: placeholder)
    }

    /// The state after a plan (assignments, identity records and Tenure's write-back memberships, as
    /// the engine stores them when every write succeeds).
    static func applied(_ plan: Plan, to state: PIMState, now: Double) -> PIMState {
        var state = state
        for identity in plan.identities {
            let id = identity.identityID
            for action in identity.actions {
                switch action {
                case .revoke(let role, let kind, _), .expire(let role, let kind, _):
                    state.assignments.removeAll { $0.identityID == id && $0.role == role && $0.state == kind }
                case .grantEligible(let role, let rule):
                    state.assignments.append(
                        Assignment(identityID: id, role: role, state: .eligible, source: "rule:\(rule)", since: now)
                    )
                case .grantStanding(let role, let rule), .elevate(let role, let rule):
                    state.assignments.removeAll { $0.identityID == id && $0.role == role }
                    state.assignments.append(
                        Assignment(identityID: id, role: role, state: .active, source: "rule:\(rule)", since: now)
                    )
                case .adopt(let role, let group):
                    state.assignments.append(
                        Assignment(identityID: id, role: role, state: .active, source: "drift:adopt", since: now)
                    )
                    state.writeBackMembers.append(
                        WriteBackMember(group: group, identityID: id, member: identity.dn, role: role, since: now)
                    )
                case .writeBack(let group, let role, let add, let member, _, _):
                    guard !id.hasPrefix("member:") else { continue }
                    state.writeBackMembers.removeAll { $0.group == group && $0.identityID == id }
                    if add {
                        state.writeBackMembers.append(
                            WriteBackMember(
                                group: group,
                                identityID: id,
                                member: member ?? identity.dn,
                                role: role,
                                since: now
                            )
                        )
                    }
                case .recordIdentity(let record):
                    state.identities[record.id] = record
                case .rotateCredential:
                    break
                }
            }
        }
        return state
    }

    static func writes(_ plan: Plan, _ id: String) -> [(group: String, add: Bool)] {
        (plan.identities.first { $0.identityID == id }?.actions ?? []).compactMap { action in
            if case .writeBack(let group, _, let add, _, _, _) = action { return (group, add) }
            return nil
        }
    }

    static func has(_ plan: Plan, _ id: String, add: Bool, _ group: String) -> Bool {
        writes(plan, id).contains { $0.group == group && $0.add == add }
    }

    // MARK: - Tenure's own writes

    @Test func standingHoldersAreWrittenAndTenuresOwnWritesAreNeitherDriftNorMovers() {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann", department: "Database")
        let empty = Self.snap(identities: [ann], groups: [Self.group(Self.readGroup), Self.group(Self.dbaGroup)])
        let first = planner.plan(state: PIMState(), snapshot: empty, now: Self.now)
        // Standing grants go into the group; eligible ones do not (they are not active).
        #expect(Self.writes(first, "ann").map(\.group) == [Self.readGroup])
        #expect(Self.has(first, "ann", add: true, Self.readGroup))
        #expect(first.drift.isEmpty)

        // The next pull shows Tenure's write: no action, no drift, no mover.
        let state = Self.applied(first, to: PIMState(), now: Self.now)
        #expect(state.writeBackMembers.map(\.identityID) == ["ann"])
        let written = Self.snap(
            identities: [ann],
            groups: [Self.group(Self.readGroup, members: ["ann"]), Self.group(Self.dbaGroup)]
        )
        let second = planner.plan(state: state, snapshot: written, now: Self.now + 60)
        #expect(second.identities.isEmpty, "no events or actions: \(second.identities)")
        #expect(second.drift.isEmpty)
    }

    @Test func aLeaverIsRemovedFromWhatTenureWroteWhateverThePolicy() {
        for policy in [DriftPolicy.alert, .revert, .adopt] {
            let planner = Self.planner(Self.mappings(drift: policy))
            let ann = Self.person("ann", department: "Database")
            let snapshot = Self.snap(
                identities: [ann],
                groups: [Self.group(Self.readGroup, members: ["ann"]), Self.group(Self.dbaGroup)]
            )
            let state = Self.applied(
                planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now),
                to: PIMState(),
                now: Self.now
            )
            var left = snapshot
            left.identities[0].employeeType = "service"  // out of scope: a leaver
            let plan = planner.plan(state: state, snapshot: left, now: Self.now + 60)
            #expect(Self.has(plan, "ann", add: false, Self.readGroup), "policy \(policy)")
            #expect(plan.drift.isEmpty, "policy \(policy): \(plan.drift)")
            // Removals come before anything else of phase 1 and later.
            let phases = plan.identities[0].actions.map(\.phase)
            #expect(phases == phases.sorted())
        }
    }

    @Test func aLeaverGoneFromTheDirectoryIsRemovedByTheDNTenureWrote() {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann", department: "Database")
        let snapshot = Self.snap(
            identities: [ann],
            groups: [Self.group(Self.readGroup, members: ["ann"]), Self.group(Self.dbaGroup)]
        )
        let state = Self.applied(
            planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        // Deleted from the directory; the group still lists the DN (no referential integrity).
        let gone = Self.snap(
            identities: [],
            groups: [Self.group(Self.readGroup, unresolved: [ann.dn]), Self.group(Self.dbaGroup)]
        )
        let plan = planner.plan(state: state, snapshot: gone, now: Self.now + 60)
        let removal = plan.identities.first { $0.identityID == "ann" }?.actions.first {
            if case .writeBack(_, _, false, let member, _, _) = $0 { return member == ann.dn }
            return false
        }
        #expect(removal != nil)
        #expect(plan.drift.isEmpty, "the DN Tenure wrote is not an orphan: \(plan.drift)")
    }

    // MARK: - Usernames (memberUid) on removals

    /// The username each removal of `id` from `group` hands the executor (nil: the DN only).
    static func removalUsernames(_ plan: Plan, _ id: String, _ group: String) -> [String?] {
        (plan.identities.first { $0.identityID == id }?.actions ?? []).compactMap { action in
            if case .writeBack(let target, _, false, _, _, let username) = action, target == group { return username }
            return nil
        }
    }

    /// ann, a standing db-read holder, written into its group by the first plan: the planner, ann,
    /// the snapshot and the state after that plan.
    static func annWrittenIntoDBRead() -> (Planner, Identity, DirectorySnapshot, PIMState) {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann", department: "Database")
        let snapshot = Self.snap(identities: [ann], groups: [Self.group(Self.readGroup, members: ["ann"])])
        let state = Self.applied(
            planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        return (planner, ann, snapshot, state)
    }

    /// A leaver leaves by username too; not when another identity of the directory has the username
    /// (a memberUid with it is theirs), nor for the old DN of a renamed holder who stays.
    @Test func aRemovalCarriesTheUsernameOnlyWhenItIsTheLeaversOwn() {
        let (planner, ann, snapshot, state) = Self.annWrittenIntoDBRead()

        var left = snapshot
        left.identities[0].employeeType = "service"
        #expect(
            Self.removalUsernames(planner.plan(state: state, snapshot: left, now: Self.now + 60), "ann", Self.readGroup)
                == ["ann"]
        )

        // Another account (a contractor "ANN", out of scope) has the username too: the DN only.
        var shared = left
        shared.identities.append(
            Identity(id: "ann2", dn: "uid=ANN,ou=contractors,dc=t", username: "ANN", employeeType: "service")
        )
        #expect(
            Self.removalUsernames(
                planner.plan(state: state, snapshot: shared, now: Self.now + 60),
                "ann",
                Self.readGroup
            ) == [nil]
        )

        // Gone from the directory, and a new ann (another id) has the username now: the DN only.
        let newAnn = Identity(id: "zz-new-ann", dn: "uid=ann,ou=people,dc=t", username: "ann", employeeType: "service")
        let replaced = Self.snap(identities: [newAnn], groups: [Self.group(Self.readGroup, unresolved: [])])
        #expect(
            Self.removalUsernames(
                planner.plan(state: state, snapshot: replaced, now: Self.now + 60),
                "ann",
                Self.readGroup
            ) == [nil]
        )
        // Gone, and nobody has the username: it goes too.
        let gone = Self.snap(identities: [], groups: [Self.group(Self.readGroup, unresolved: [ann.dn])])
        #expect(
            Self.removalUsernames(planner.plan(state: state, snapshot: gone, now: Self.now + 60), "ann", Self.readGroup)
                == ["ann"]
        )

        // Renamed, still a holder: the old DN leaves, the username stays.
        var moved = snapshot
        moved.identities[0].dn = "uid=ann,ou=dba,ou=people,dc=t"
        moved.groups =
            Self.snap(identities: [], groups: [Self.group(Self.readGroup, members: ["ann"], unresolved: [ann.dn])])
            .groups
        let rename = planner.plan(state: state, snapshot: moved, now: Self.now + 60)
        #expect(Self.removalUsernames(rename, "ann", Self.readGroup) == [nil], "\(rename.identities)")
    }

    /// An offboarding takes the username out too, unless another account still present has it.
    @Test func anOffboardingCarriesTheUsernameUnlessAnotherAccountHasIt() {
        var (planner, _, _, state) = Self.annWrittenIntoDBRead()
        let plan = planner.offboardPlan(state: state, identityID: "ann", reason: "resigned", now: Self.now + 60)
        #expect(plan.map { Self.removalUsernames($0, "ann", Self.readGroup) } == ["ann"])
        var other = state.identities["ann"]!
        other.id = "ann-2"
        other.dn = "uid=ann,ou=contractors,dc=t"
        state.identities["ann-2"] = other
        let shared = planner.offboardPlan(state: state, identityID: "ann", reason: "resigned", now: Self.now + 60)
        #expect(shared.map { Self.removalUsernames($0, "ann", Self.readGroup) } == [nil])
    }

    /// A `memberUid` naming a protected account (not read as an identity: outside the user bases) is
    /// reported, never removed, under revert.
    @Test func aProtectedUsernameValueIsNeverRemoved() {
        let planner = Self.planner(Self.mappings(drift: .revert))
        let snapshot = Self.snap(
            identities: [],
            groups: [Self.group(Self.readGroup, unresolved: ["BreakGlass", "ghost"])]
        )
        let plan = planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now)
        let removed = plan.identities.flatMap(\.actions).compactMap { action -> String? in
            if case .writeBack(_, _, false, let member, _, _) = action { return member }
            return nil
        }
        #expect(removed == ["ghost"])
        #expect(
            plan.drift.contains { $0.kind == .protectedMember && $0.member.lowercased() == "breakglass" },
            "\(plan.drift)"
        )
    }

    // MARK: - Drift policies

    /// Zed is managed and active but holds no role; someone put him in the db-read group by hand.
    static func handAdded(_ policy: DriftPolicy, title: String? = nil) -> (Plan, PIMState) {
        let planner = Self.planner(Self.mappings(drift: policy))
        let zed = Self.person("zed", title: title)
        let clean = Self.snap(identities: [zed], groups: [Self.group(Self.readGroup), Self.group(Self.dbaGroup)])
        let state = Self.applied(
            planner.plan(state: PIMState(), snapshot: clean, now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        // The directory shows Tenure's own writes, and zed added to db-read by hand.
        let own = { (dn: String) in state.writeBackMembers.filter { $0.group == dn }.map(\.identityID) }
        let drifted = Self.snap(
            identities: [zed],
            groups: [
                Self.group(Self.readGroup, members: ["zed"]), Self.group(Self.dbaGroup, members: own(Self.dbaGroup)),
                Self.group(Self.auditGroup, members: own(Self.auditGroup)),
            ]
        )
        return (planner.plan(state: state, snapshot: drifted, now: Self.now + 60), state)
    }

    @Test func alertReportsAndChangesNothing() {
        let (plan, _) = Self.handAdded(.alert)
        #expect(plan.drift.count == 1)
        #expect(plan.drift.first?.kind == .outOfBand)
        #expect(plan.drift.first?.resolution == .reported)
        #expect(plan.drift.first?.username == "zed")
        #expect(plan.drift.first?.member == "uid=zed,ou=people,dc=t")
        #expect(plan.identities.isEmpty, "alert writes nothing: \(plan.identities)")
        #expect(plan.summary.drift == 1)
    }

    @Test func revertRemovesTheMember() {
        let (plan, _) = Self.handAdded(.revert)
        #expect(plan.drift.map(\.resolution) == [.removed])
        #expect(Self.has(plan, "zed", add: false, Self.readGroup))
    }

    @Test func adoptGivesTheRoleAndThenItIsNoLongerDrift() {
        let (plan, state) = Self.handAdded(.adopt)
        #expect(plan.drift.map(\.resolution) == [.adopted])
        let zed = plan.identities.first { $0.identityID == "zed" }
        #expect(zed?.actions == [.adopt(role: "db-read", group: Self.readGroup)])
        #expect(plan.summary.adoptions == 1)

        // Applied: zed holds db-read (active, drift:adopt) and the membership is Tenure's.
        let after = Self.applied(plan, to: state, now: Self.now + 60)
        #expect(
            after.assignments.contains { $0.identityID == "zed" && $0.role == "db-read" && $0.source == "drift:adopt" }
        )
        let planner = Self.planner(Self.mappings(drift: .adopt))
        let snapshot = Self.snap(
            identities: [Self.person("zed")],
            groups: [Self.group(Self.readGroup, members: ["zed"]), Self.group(Self.dbaGroup)]
        )
        let next = planner.plan(state: after, snapshot: snapshot, now: Self.now + 120)
        #expect(next.drift.isEmpty)
        #expect(next.identities.isEmpty)
    }

    @Test func adoptRefusesASeparationOfDutiesConflict() {
        // Zed is an auditor; db-read conflicts with auditor.
        let (plan, _) = Self.handAdded(.adopt, title: "Auditor")
        #expect(plan.drift.count == 1)
        #expect(plan.drift.first?.resolution == .reported)
        #expect(plan.drift.first?.detail.contains("conflicts with auditor") == true)
        #expect(
            !(plan.identities.first { $0.identityID == "zed" }?.actions.contains(
                .adopt(role: "db-read", group: Self.readGroup)
            ) ?? false)
        )
    }

    @Test func unmanagedOrphansAndNestedGroupsAreDriftThatOnlyRevertRemoves() {
        for policy in [DriftPolicy.alert, .revert, .adopt] {
            let planner = Self.planner(Self.mappings(drift: policy), placeholder: "cn=placeholder,dc=t")
            let svc = Self.person("svc", type: "service")  // out of scope: unmanaged
            let nested = Self.group("cn=contractors,ou=groups,dc=t")
            let read = Self.group(
                Self.readGroup,
                members: ["svc"],
                unresolved: ["uid=deleted,ou=people,dc=t", "CN=Placeholder,DC=t"],
                nested: [nested.id]
            )
            let snapshot = Self.snap(identities: [svc], groups: [read, nested, Self.group(Self.dbaGroup)])
            let plan = planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now)
            let kinds = plan.drift.map(\.kind)
            #expect(kinds.sorted { $0.rawValue < $1.rawValue } == [.nestedGroup, .orphan, .unmanaged], "\(policy)")
            // The placeholder is never drift.
            #expect(!plan.drift.contains { $0.member.contains("placeholder") })
            let expected: DriftFinding.Resolution = policy == .revert ? .removed : .reported
            #expect(plan.drift.allSatisfy { $0.resolution == expected }, "\(policy): \(plan.drift)")
            let removals = plan.identities.flatMap { identity in
                identity.actions.compactMap { action -> String? in
                    if case .writeBack(_, _, false, let member, _, _) = action { return member }
                    return nil
                }
            }
            #expect(
                removals.sorted()
                    == (policy == .revert
                        ? ["cn=contractors,ou=groups,dc=t", "uid=deleted,ou=people,dc=t", "uid=svc,ou=people,dc=t"]
                        : []),
                "\(policy)"
            )
            #expect(!plan.identities.contains { $0.actions.contains { if case .adopt = $0 { true } else { false } } })
        }
    }

    @Test func aHolderRemovedByHandIsReAddedAndReported() {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann", department: "Database")
        let written = Self.snap(
            identities: [ann],
            groups: [Self.group(Self.readGroup, members: ["ann"]), Self.group(Self.dbaGroup)]
        )
        let state = Self.applied(
            planner.plan(state: PIMState(), snapshot: written, now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        #expect(state.writeBackMembers.count == 1, "a member already there becomes Tenure's")
        var removed = written
        removed.groups[0] = Self.group(Self.readGroup)
        let plan = planner.plan(state: state, snapshot: removed, now: Self.now + 60)
        #expect(Self.has(plan, "ann", add: true, Self.readGroup))
        #expect(plan.drift.map(\.kind) == [.missing])
        #expect(plan.drift.map(\.resolution) == [.readded])
    }

    @Test func protectedIdentitiesAreReportedNeverWritten() {
        let planner = Self.planner(Self.mappings(drift: .revert))
        let breakglass = Self.person("breakglass")
        let snapshot = Self.snap(
            identities: [breakglass],
            groups: [Self.group(Self.readGroup, members: ["breakglass"]), Self.group(Self.dbaGroup)]
        )
        let plan = planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now)
        #expect(plan.drift.map(\.kind) == [.protectedMember])
        #expect(plan.drift.map(\.resolution) == [.reported])
        #expect(Self.writes(plan, "breakglass").isEmpty)
    }

    @Test func standingHoldersOfEligibleOnlyRolesAreReported() {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann")
        let bob = Self.person("bob")
        let snapshot = Self.snap(identities: [ann, bob], groups: [Self.group(Self.dbaGroup, members: ["ann", "bob"])])
        var state = Self.applied(
            planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        // Ann was given dba-prod standing by hand; Bob activated it just in time.
        state.assignments.append(
            Assignment(identityID: "ann", role: "dba-prod", state: .active, source: "manual:root", since: Self.now)
        )
        state.assignments.append(
            Assignment(
                identityID: "bob",
                role: "dba-prod",
                state: .active,
                source: "activation:42",
                since: Self.now,
                until: Self.now + 3600
            )
        )
        let plan = planner.plan(state: state, snapshot: snapshot, now: Self.now + 60)
        let standing = plan.drift.filter { $0.kind == .standingEligible }
        #expect(standing.map(\.username) == ["ann"])
        #expect(standing.first?.detail.contains("manual:root") == true)
        // Both are holders, so both are Tenure's members of the group now.
        #expect(Self.has(plan, "ann", add: true, Self.dbaGroup))
        #expect(Self.has(plan, "bob", add: true, Self.dbaGroup))
    }

    @Test func aMissingWriteBackGroupIsReportedAndNothingIsWrittenToIt() {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann", department: "Database")
        let plan = planner.plan(
            state: PIMState(),
            snapshot: DirectorySnapshot(
                identities: [ann],
                groups: [Self.group(Self.dbaGroup), Self.group(Self.auditGroup)]
            ),
            now: Self.now
        )
        #expect(plan.drift.contains { $0.kind == .missingGroup && $0.group == Self.readGroup })
        #expect(Self.writes(plan, "ann").isEmpty)
        // The grant itself still happens.
        #expect(plan.identities.first?.actions.contains(.grantStanding(role: "db-read", rule: "readers")) == true)
    }

    @Test func writeBackGroupsAreNotAnIdentitysGroups() {
        let planner = Self.planner(Self.mappings())
        let ann = Self.person("ann", department: "Database")
        let snapshot = Self.snap(
            identities: [ann],
            groups: [
                Self.group(Self.readGroup, members: ["ann"]), Self.group(Self.dbaGroup),
                Self.group("cn=dba,ou=groups,dc=t", members: ["ann"]),
            ]
        )
        let plan = planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now)
        let record = plan.identities.first?.actions.compactMap { action -> IdentityRecord? in
            if case .recordIdentity(let record) = action { return record }
            return nil
        }.first
        #expect(record?.groups == ["cn=dba,ou=groups,dc=t"])
    }

    // MARK: - Leaver rotations

    @Test func aLeaverRotatesHeldRecentlyHeldAndCheckedOutCredentialsOnce() {
        let day: Double = 86_400
        let planner = Self.planner(Self.mappings(lookBack: 7 * day))
        let ann = Self.person("ann", department: "Database")
        let snapshot = Self.snap(identities: [ann], groups: [Self.group(Self.readGroup), Self.group(Self.dbaGroup)])
        var state = Self.applied(
            planner.plan(state: PIMState(), snapshot: snapshot, now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        // Ann now holds only db-read (db-root, db-report). She held dba-prod until two days ago
        // (db-root, already covered), an old role a month ago, and checked out "payments" yesterday
        // and "old-secret" three weeks ago.
        state.endedHoldings = [
            EndedHolding(identityID: "ann", role: "dba-prod", state: .eligible, endedAt: Self.now - 2 * day),
            EndedHolding(identityID: "ann", role: "auditor", state: .active, endedAt: Self.now - 30 * day),
        ]
        state.checkouts = [
            CheckoutRecord(identityID: "ann", credential: "payments", checkedOutAt: Self.now - day),
            // Checked out three weeks ago and checked in: outside the window.
            CheckoutRecord(identityID: "ann", credential: "old-secret", checkedOutAt: Self.now - 21 * day),
            // Checked out two months ago and never checked in: she still has it.
            CheckoutRecord(identityID: "ann", credential: "still-out", checkedOutAt: Self.now - 60 * day, isOpen: true),
            CheckoutRecord(identityID: "bob", credential: "bobs", checkedOutAt: Self.now - day),
        ]
        var left = snapshot
        left.identities[0].employeeType = "service"
        let plan = planner.plan(state: state, snapshot: left, now: Self.now)
        let rotations = plan.identities.flatMap(\.actions).compactMap { action -> String? in
            if case .rotateCredential(let name, _, _) = action { return name }
            return nil
        }
        // In the order found: held roles by name (db-read: db-root, db-report), then check-outs.
        #expect(rotations == ["db-root", "db-report", "still-out", "payments"])
        #expect(plan.summary.rotations == 4)
        let phases = plan.identities[0].actions.map(\.phase)
        #expect(phases == phases.sorted())
    }

    @Test func aRoleThatEndedWithinTheLookBackRotatesItsCredentials() {
        let day: Double = 86_400
        let ann = Self.person("ann")
        for (lookBack, expected) in [(7 * day, ["db-root"]), (day, [])] {
            let planner = Self.planner(Self.mappings(lookBack: lookBack))
            var state = Self.applied(
                planner.plan(state: PIMState(), snapshot: Self.snap(identities: [ann], groups: []), now: Self.now),
                to: PIMState(),
                now: Self.now
            )
            state.endedHoldings = [
                EndedHolding(identityID: "ann", role: "dba-prod", state: .eligible, endedAt: Self.now - 3 * day)
            ]
            var left = Self.snap(identities: [ann], groups: [])
            left.identities[0].employeeType = "service"
            let plan = planner.plan(state: state, snapshot: left, now: Self.now)
            let rotations = plan.identities.flatMap(\.actions).compactMap { action -> String? in
                if case .rotateCredential(let name, _, _) = action { return name }
                return nil
            }
            #expect(rotations == expected, "look-back \(lookBack / day) days")
        }
    }

    // MARK: - Review findings

    @Test func anOpenCheckOutIsRotatedEvenWithNoLookBack() {
        let planner = Self.planner(Self.mappings(lookBack: 0))
        let ann = Self.person("ann")
        var state = Self.applied(
            planner.plan(state: PIMState(), snapshot: Self.snap(identities: [ann], groups: []), now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        state.checkouts = [
            CheckoutRecord(identityID: "ann", credential: "open", checkedOutAt: Self.now - 3_600, isOpen: true),
            CheckoutRecord(identityID: "ann", credential: "closed", checkedOutAt: Self.now - 3_600),
        ]
        var left = Self.snap(identities: [ann], groups: [])
        left.identities[0].employeeType = "service"
        let rotations = planner.plan(state: state, snapshot: left, now: Self.now).identities.flatMap(\.actions)
            .compactMap { action -> String? in
                if case .rotateCredential(let name, _, _) = action { return name }
                return nil
            }
        #expect(rotations == ["open"])
    }

    @Test func aProtectedAccountsDNIsNeverRemovedAsAnOrphan() {
        var mappings = Self.mappings(drift: .revert)
        mappings.protected.append(.dn("cn=breakglass,ou=services,dc=t"))
        let planner = Self.planner(mappings)
        // A protected account outside the user bases, and a protected identity (by username) that is
        // gone from the directory but still listed: neither is an orphan to revert.
        var state = PIMState()
        state.identities["bg2"] = IdentityRecord(
            id: "bg2",
            state: .active,
            dn: "uid=breakglass,ou=people,dc=t",
            username: "breakglass",
            attributes: [:],
            groups: [],
            firstSeen: 0,
            lastSeen: 0
        )
        let snapshot = Self.snap(
            identities: [],
            groups: [
                Self.group(
                    Self.readGroup,
                    unresolved: ["CN=Breakglass,OU=Services,DC=t", "uid=breakglass,ou=people,dc=t", "uid=gone,dc=t"]
                )
            ]
        )
        let plan = planner.plan(state: state, snapshot: snapshot, now: Self.now)
        let removals = plan.identities.flatMap(\.actions).compactMap { action -> String? in
            if case .writeBack(_, _, false, let member, _, _) = action { return member }
            return nil
        }
        #expect(removals == ["uid=gone,dc=t"])
        #expect(plan.drift.filter { $0.kind == .protectedMember }.count == 2)
    }

    @Test func aGroupContainingAWriteBackGroupDoesNotCarryTenuresWrites() {
        // Rule: members of "ops" get auditor. "ops" nests the db-read write-back group: ann, written
        // there because she holds db-read, must not become an auditor through it.
        var mappings = Self.mappings()
        mappings.rules.append(Rule(name: "ops", when: .memberOf("ops"), grant: "auditor", mode: .standing))
        let planner = Self.planner(mappings)
        let ann = Self.person("ann", department: "Database")
        let bob = Self.person("bob")
        let read = Self.group(Self.readGroup, members: ["ann"])
        var ops = Self.group("cn=ops,ou=groups,dc=t", members: ["bob"], nested: [read.id])
        ops.transitiveMembers = ["ann", "bob"]  // as the snapshot builder resolves nesting
        let plan = planner.plan(
            state: PIMState(),
            snapshot: Self.snap(identities: [ann, bob], groups: [read, ops]),
            now: Self.now
        )
        let grants = { (id: String) in
            (plan.identities.first { $0.identityID == id }?.actions ?? []).filter {
                if case .grantStanding(role: "auditor", _) = $0 { return true }
                return false
            }
        }
        #expect(grants("bob").count == 1)
        #expect(grants("ann").isEmpty, "Tenure's own write must not grant a role")
        let record = plan.identities.first { $0.identityID == "ann" }?.actions.compactMap { action -> IdentityRecord? in
            if case .recordIdentity(let record) = action { return record }
            return nil
        }.first
        #expect(record?.groups == [], "not a member of ops through the write-back group")
    }

    @Test func aRenamedHoldersOldDNIsRemovedAndTheRecordFollows() {
        let planner = Self.planner(Self.mappings())
        var ann = Self.person("ann", department: "Database")
        let state = Self.applied(
            planner.plan(
                state: PIMState(),
                snapshot: Self.snap(identities: [ann], groups: [Self.group(Self.readGroup, members: ["ann"])]),
                now: Self.now
            ),
            to: PIMState(),
            now: Self.now
        )
        // Renamed; the directory did not rewrite the member value.
        ann.dn = "uid=ann.new,ou=people,dc=t"
        let plan = planner.plan(
            state: state,
            snapshot: Self.snap(
                identities: [ann],
                groups: [Self.group(Self.readGroup, unresolved: ["uid=ann,ou=people,dc=t"])]
            ),
            now: Self.now + 60
        )
        let writes = (plan.identities.first { $0.identityID == "ann" }?.actions ?? []).compactMap { action -> String? in
            if case .writeBack(_, _, let add, let member, _, _) = action { return "\(add ? "+" : "-")\(member ?? "")" }
            return nil
        }
        #expect(writes == ["-uid=ann,ou=people,dc=t", "+uid=ann.new,ou=people,dc=t"])
        #expect(!plan.drift.contains { $0.kind == .orphan }, "the old DN is Tenure's, not an orphan")
    }

    @Test func aHolderWhoseRemovalFailedIsRemovedByTheNextSync() {
        // Ann held db-read (revoked yesterday); Tenure never recorded writing her (its write failed or
        // write-back came later), and she is still in the group.
        let planner = Self.planner(Self.mappings(drift: .alert))
        let ann = Self.person("ann")
        var state = Self.applied(
            planner.plan(state: PIMState(), snapshot: Self.snap(identities: [ann], groups: []), now: Self.now),
            to: PIMState(),
            now: Self.now
        )
        state.endedHoldings = [
            EndedHolding(identityID: "ann", role: "db-read", state: .active, endedAt: Self.now - 86_400)
        ]
        let plan = planner.plan(
            state: state,
            snapshot: Self.snap(identities: [ann], groups: [Self.group(Self.readGroup, members: ["ann"])]),
            now: Self.now
        )
        #expect(Self.has(plan, "ann", add: false, Self.readGroup))
        #expect(plan.drift.isEmpty)
    }

    @Test func adoptNeverGivesAnEligibleOnlyRoleStanding() {
        let planner = Self.planner(Self.mappings(drift: .adopt))
        let zed = Self.person("zed")
        let plan = planner.plan(
            state: PIMState(),
            snapshot: Self.snap(identities: [zed], groups: [Self.group(Self.dbaGroup, members: ["zed"])]),
            now: Self.now
        )
        #expect(plan.drift.map(\.resolution) == [.reported])
        #expect(plan.drift.first?.detail.contains("eligible-only") == true)
        #expect(!plan.identities.flatMap(\.actions).contains { if case .adopt = $0 { true } else { false } })
    }
}
