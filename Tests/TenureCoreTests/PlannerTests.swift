import Foundation
import Testing

@testable import TenureCore

/// A small world: people under ou=people, groups under ou=groups, a few roles and rules.
private enum World {
    static let now: Double = 1_800_000_000
    static let earlier: Double = 1_700_000_000

    static let mappings = Mappings(
        roles: [
            RoleDefinition(name: "dba-prod", tier: 0, mode: .eligible, conflicts: ["auditor"]),
            RoleDefinition(name: "db-read", tier: 2, mode: .standing),
            RoleDefinition(name: "auditor", tier: 1, mode: .standing),
            RoleDefinition(name: "sre-oncall", tier: 1, mode: .standing),
            RoleDefinition(name: "sec-admin", tier: 0, mode: .eligible),
        ],
        rules: [
            Rule(name: "dbas", when: .memberOf("dba"), grant: "dba-prod", mode: .eligible),
            Rule(
                name: "db-readers",
                when: .attributeEquals(attribute: "department", value: "Database"),
                grant: "db-read",
                mode: .standing
            ),
            Rule(
                name: "auditors",
                when: .attributeIn(attribute: "title", values: ["Auditor", "Senior Auditor"]),
                grant: "auditor",
                mode: .standing
            ),
            Rule(name: "sre", when: .memberOf("cn=sre,ou=groups,dc=t"), grant: "sre-oncall", mode: .standing),
            Rule(
                name: "security",
                when: .all([
                    .attributeMatches(attribute: "mail", pattern: "[a-z]+@sec\\.t"),
                    .not(.underDN("ou=contractors,dc=t")),
                ]),
                grant: "sec-admin",
                mode: .eligible
            ),
        ],
        scope: .not(.attributeEquals(attribute: "employeeType", value: "service")),
        protected: [.username("breakglass")],
        guardSettings: LeaverGuard(maxLeavers: 500, maxLeaverPercent: 50)
    )

    static func person(
        _ id: String,
        department: String? = nil,
        title: String? = nil,
        mail: String? = nil,
        type: String? = "employee",
        ou: String = "ou=people",
        disabled: Bool = false
    ) -> Identity {
        Identity(
            id: id,
            dn: "uid=\(id),\(ou),dc=t",
            username: id,
            mail: mail,
            department: department,
            title: title,
            employeeType: type,
            disabled: disabled,
            disabledReasons: disabled ? ["nsAccountLock: true"] : []
        )
    }

    static func group(_ name: String, _ members: [String]) -> Group {
        Group(
            id: "g-\(name)",
            dn: "cn=\(name),ou=groups,dc=t",
            name: name,
            directMembers: members,
            transitiveMembers: members
        )
    }

    static func snapshot(_ identities: [Identity], groups: [Group] = []) -> DirectorySnapshot {
        DirectorySnapshot(identities: identities, groups: groups)
    }

    static var planner: Planner { Planner(mappings: mappings, normalizeDN: { $0.lowercased() }) }

    /// The state after applying `plan` to `state` (what the engine would store).
    static func applied(_ plan: Plan, to state: PIMState, now: Double) -> PIMState {
        var state = state
        for identity in plan.identities {
            for action in identity.actions {
                switch action {
                case .revoke(let role, let kind, _), .expire(let role, let kind, _):
                    state.assignments.removeAll {
                        $0.identityID == identity.identityID && $0.role == role && $0.state == kind
                    }
                case .grantEligible(let role, let rule):
                    state.assignments.append(
                        Assignment(
                            identityID: identity.identityID,
                            role: role,
                            state: .eligible,
                            source: "rule:\(rule)",
                            since: now
                        )
                    )
                case .grantStanding(let role, let rule):
                    state.assignments.append(
                        Assignment(
                            identityID: identity.identityID,
                            role: role,
                            state: .active,
                            source: "rule:\(rule)",
                            since: now
                        )
                    )
                case .elevate(let role, let rule):
                    state.assignments.removeAll {
                        $0.identityID == identity.identityID && $0.role == role && $0.state == .eligible
                    }
                    state.assignments.append(
                        Assignment(
                            identityID: identity.identityID,
                            role: role,
                            state: .active,
                            source: "rule:\(rule)",
                            since: now
                        )
                    )
                case .recordIdentity(let record):
                    state.identities[record.id] = record
                case .writeBack, .rotateCredential, .adopt:
                    break  // effects outside the model (and drift, tested in WriteBackPlannerTests)
                }
            }
        }
        return state
    }

    /// State after a first run over `snapshot` (everyone recorded, rules applied).
    static func settled(_ snapshot: DirectorySnapshot) -> PIMState {
        let plan = planner.plan(state: PIMState(), snapshot: snapshot, now: earlier)
        return applied(plan, to: PIMState(), now: earlier)
    }
}

private func actions(_ plan: Plan, _ id: String) -> [PlanAction] {
    plan.identities.first { $0.identityID == id }?.actions.filter(\.changesAccess) ?? []
}

private func events(_ plan: Plan, _ id: String) -> [LifecycleEvent.Kind] {
    plan.identities.first { $0.identityID == id }?.events.map(\.kind) ?? []
}

private func reasons(_ plan: Plan, _ id: String) -> [String] {
    plan.identities.first { $0.identityID == id }?.events.flatMap(\.reasons) ?? []
}

@Suite struct PlannerTests {
    let base = World.snapshot(
        [
            World.person("ann", department: "Database"),
            World.person("ben", title: "Auditor"),
            World.person("cat", mail: "cat@sec.t"),
            World.person("svc", type: "service"),
            World.person("breakglass"),
        ],
        groups: [World.group("dba", ["ann"]), World.group("sre", ["cat"])]
    )

    @Test func joinersGetWhatTheRulesGrant() {
        let plan = World.planner.plan(state: PIMState(), snapshot: self.base, now: World.now)
        #expect(events(plan, "ann") == [.joiner])
        #expect(
            actions(plan, "ann") == [
                .grantEligible(role: "dba-prod", rule: "dbas"), .grantStanding(role: "db-read", rule: "db-readers"),
            ]
        )
        #expect(actions(plan, "ben") == [.grantStanding(role: "auditor", rule: "auditors")])
        #expect(
            actions(plan, "cat") == [
                .grantStanding(role: "sre-oncall", rule: "sre"), .grantEligible(role: "sec-admin", rule: "security"),
            ]
        )
        // Out of scope: recorded, never granted, no event.
        #expect(events(plan, "svc").isEmpty)
        #expect(actions(plan, "svc").isEmpty)
        #expect(plan.summary.joiners == 4)  // ann, ben, cat, breakglass (protected: reported)
        #expect(!plan.guardVerdict.held)
    }

    @Test func aSecondRunWithoutChangesPlansNothing() {
        let state = World.settled(self.base)
        let plan = World.planner.plan(state: state, snapshot: self.base, now: World.now)
        #expect(plan.identities.isEmpty, "\(plan.identities)")
        #expect(!plan.hasAccessChanges)
    }

    @Test func anAttributeMoverLosesAndGainsRolesRevocationsFirst() throws {
        let state = World.settled(self.base)
        var moved = self.base
        moved.identities[0].department = "Security"
        moved.identities[0].title = "Senior Auditor"
        let plan = World.planner.plan(state: state, snapshot: moved, now: World.now)
        #expect(events(plan, "ann") == [.mover])
        #expect(reasons(plan, "ann").contains("department changed from \"Database\" to \"Security\""))
        // auditor conflicts with dba-prod (held): the grant is refused and reported.
        #expect(
            actions(plan, "ann") == [
                .revoke(role: "db-read", state: .active, reason: "no rule grants db-read any more (was db-readers)")
            ]
        )
        #expect(
            plan.conflicts == [
                SoDConflict(
                    identityID: "ann",
                    username: "ann",
                    role: "auditor",
                    conflictsWith: "dba-prod",
                    rule: "auditors"
                )
            ]
        )
    }

    @Test func aGroupMoverAndARenameAreMoversNotLeaverPlusJoiner() {
        let state = World.settled(self.base)
        var changed = self.base
        changed.identities[1].dn = "uid=ben,ou=finance,ou=people,dc=t"  // OU move, same stable id
        changed.groups = [World.group("dba", ["ann", "ben"]), World.group("sre", ["cat"])]
        let plan = World.planner.plan(state: state, snapshot: changed, now: World.now)
        #expect(events(plan, "ben") == [.mover])
        #expect(reasons(plan, "ben").contains { $0.hasPrefix("DN changed") })
        #expect(reasons(plan, "ben").contains("joined group cn=dba,ou=groups,dc=t"))
        // Joining dba would grant dba-prod, but ben holds auditor (SoD).
        #expect(actions(plan, "ben").isEmpty)
        #expect(plan.conflicts.map(\.role) == ["dba-prod"])
        #expect(plan.summary.leavers == 0)
        #expect(plan.summary.joiners == 0)
    }

    @Test(arguments: ["disabled", "gone", "out of scope"])
    func leaversLoseEverythingIncludingActivations(_ how: String) {
        var state = World.settled(self.base)
        state.assignments.append(
            Assignment(
                identityID: "ann",
                role: "sec-admin",
                state: .active,
                source: "activation:42",
                since: World.earlier,
                until: World.now + 3600
            )
        )
        var after = self.base
        switch how {
        case "disabled": after.identities[0].disabled = true
        case "gone": after.identities.remove(at: 0)
        default: after.identities[0].employeeType = "service"
        }
        let plan = World.planner.plan(state: state, snapshot: after, now: World.now)
        #expect(events(plan, "ann") == [.leaver])
        #expect(
            Set(actions(plan, "ann").map(describe)) == [
                "revoke eligible dba-prod", "revoke active db-read", "revoke active sec-admin",
            ]
        )
        let record = plan.identities.first { $0.identityID == "ann" }?.actions.compactMap { action -> IdentityRecord? in
            if case .recordIdentity(let record) = action { return record }
            return nil
        }.first
        #expect(record?.state == (how == "disabled" ? .disabled : .terminated))
        // A second run records nothing new for the leaver.
        let next = World.applied(plan, to: state, now: World.now)
        #expect(World.planner.plan(state: next, snapshot: after, now: World.now + 60).identities.isEmpty)
    }

    @Test func aRehireIsAJoinerAndNothingIsRestored() {
        var state = World.settled(self.base)
        state.assignments.append(
            Assignment(identityID: "ann", role: "sec-admin", state: .active, source: "manual:ops", since: World.earlier)
        )
        let gone = World.snapshot(Array(self.base.identities.dropFirst()), groups: self.base.groups)
        let leaverPlan = World.planner.plan(state: state, snapshot: gone, now: World.now)
        state = World.applied(leaverPlan, to: state, now: World.now)
        #expect(!state.assignments.contains { $0.identityID == "ann" })
        var back = self.base
        back.identities[0].department = "Finance"
        let plan = World.planner.plan(state: state, snapshot: back, now: World.now + 86_400)
        #expect(events(plan, "ann") == [.rehire])
        #expect(actions(plan, "ann") == [.grantEligible(role: "dba-prod", rule: "dbas")])
    }

    @Test func reEnabledIsAJoiner() {
        var disabled = self.base
        disabled.identities[0].disabled = true
        let state = World.settled(disabled)
        let plan = World.planner.plan(state: state, snapshot: self.base, now: World.now)
        #expect(events(plan, "ann") == [.joiner])
        #expect(reasons(plan, "ann") == ["re-enabled"])
    }

    @Test func elevationAndItsReverse() {
        var mappings = World.mappings
        mappings.rules[0].mode = .standing  // dbas now grants dba-prod standing
        let state = World.settled(self.base)
        let up = Planner(mappings: mappings, normalizeDN: { $0.lowercased() }).plan(
            state: state,
            snapshot: self.base,
            now: World.now
        )
        #expect(actions(up, "ann") == [.elevate(role: "dba-prod", rule: "dbas")])
        let elevated = World.applied(up, to: state, now: World.now)
        let down = World.planner.plan(state: elevated, snapshot: self.base, now: World.now)
        #expect(
            actions(down, "ann") == [
                .revoke(role: "dba-prod", state: .active, reason: "dbas now grants dba-prod as eligible only"),
                .grantEligible(role: "dba-prod", rule: "dbas"),
            ]
        )
    }

    @Test func expiredAssignmentsExpireAndManualOnesAreOtherwiseLeftAlone() {
        var state = World.settled(self.base)
        state.assignments.append(
            Assignment(
                identityID: "cat",
                role: "sec-admin",
                state: .active,
                source: "activation:7",
                since: World.earlier,
                until: World.now - 1
            )
        )
        state.assignments.append(
            Assignment(
                identityID: "ben",
                role: "sre-oncall",
                state: .active,
                source: "manual:ops",
                since: World.earlier
            )
        )
        let plan = World.planner.plan(state: state, snapshot: self.base, now: World.now)
        #expect(
            actions(plan, "cat") == [
                .expire(role: "sec-admin", state: .active, reason: "expired at \(isoDate(World.now - 1))")
            ]
        )
        #expect(actions(plan, "ben").isEmpty)
    }

    @Test func rulesOutsideTheirWindowAndRemovedRolesAreRevoked() {
        let state = World.settled(self.base)
        var mappings = World.mappings
        mappings.rules[2].validUntil = World.now - 10  // auditors rule expired
        mappings.roles.removeAll { $0.name == "sre-oncall" }
        let plan = Planner(mappings: mappings, normalizeDN: { $0.lowercased() }).plan(
            state: state,
            snapshot: self.base,
            now: World.now
        )
        #expect(
            actions(plan, "ben") == [
                .revoke(role: "auditor", state: .active, reason: "no rule grants auditor any more (was auditors)")
            ]
        )
        #expect(
            actions(plan, "cat") == [
                .revoke(role: "sre-oncall", state: .active, reason: "role sre-oncall is no longer defined")
            ]
        )
    }

    @Test func protectedIdentitiesAreNeverChangedAndAreReported() {
        var mappings = World.mappings
        mappings.rules.append(Rule(name: "everyone-reads", when: .always, grant: "db-read", mode: .standing))
        let planner = Planner(mappings: mappings, normalizeDN: { $0.lowercased() })
        let plan = planner.plan(state: PIMState(), snapshot: self.base, now: World.now)
        let breakglass = plan.identities.first { $0.identityID == "breakglass" }
        #expect(breakglass?.isProtected == true)
        #expect(breakglass?.actions.allSatisfy { !$0.changesAccess } == true)
        #expect(plan.protectedChanges.count == 1)
        #expect(plan.protectedChanges[0].contains("grant standing db-read"))
    }

    /// An identity protected by `dn:` stays protected once it is gone from the directory (or
    /// moved): its revocations and rotations are withheld, as for one protected by username.
    @Test func anIdentityProtectedByDNIsWithheldWhenItIsGone() {
        var mappings = World.mappings
        mappings.protected = [.dn("uid=root,ou=people,dc=t")]
        let planner = Planner(mappings: mappings, normalizeDN: { $0.lowercased() })
        let root = World.person("root", department: "Database")
        let state = World.settled(World.snapshot([root] + self.base.identities))
        let plan = planner.plan(state: state, snapshot: self.base, now: World.now)
        let gone = plan.identities.first { $0.identityID == "root" }
        #expect(gone?.isProtected == true)
        #expect(gone?.actions.allSatisfy { !$0.changesAccess } == true)
        #expect(plan.protectedChanges.contains { $0.contains("gone from the directory") })
        #expect(state.assignments.contains { $0.identityID == "root" })
    }

    @Test func theGuardHoldsMassRevocation() {
        let people = (0..<40).map { World.person("p\($0)", department: "Database") }
        let state = World.settled(World.snapshot(people))
        // A wrong base DN: the directory looks empty.
        let empty = World.planner.plan(state: state, snapshot: World.snapshot([]), now: World.now)
        #expect(empty.guardVerdict.held)
        #expect(empty.guardVerdict.leavers == 40)
        #expect(empty.guardVerdict.reason?.contains("--allow-mass-revoke") == true)
        // Below both limits: not held.
        let few = World.planner.plan(state: state, snapshot: World.snapshot(Array(people.dropFirst(5))), now: World.now)
        #expect(!few.guardVerdict.held)
        // A count limit.
        var strict = World.mappings
        strict.guardSettings = LeaverGuard(maxLeavers: 3, maxLeaverPercent: 100)
        let counted = Planner(mappings: strict, normalizeDN: { $0.lowercased() }).plan(
            state: state,
            snapshot: World.snapshot(Array(people.dropFirst(5))),
            now: World.now
        )
        #expect(counted.guardVerdict.held)
        #expect(counted.guardVerdict.reason?.hasPrefix("5 leavers is more than the limit of 3") == true)
    }

    /// A group read back empty (an ACL hides its members) takes a role from everyone who stays:
    /// held like mass leavers, until --allow-mass-revoke.
    @Test func theGuardHoldsMassRevocationOfPeopleWhoStay() throws {
        let people = (0..<40).map { World.person("p\($0)") }
        let ids = people.map(\.id)
        let state = World.settled(World.snapshot(people, groups: [World.group("dba", ids)]))
        #expect(state.assignments.filter { $0.role == "dba-prod" }.count == 40)
        let emptied = World.planner.plan(
            state: state,
            snapshot: World.snapshot(people, groups: [World.group("dba", [])]),
            now: World.now
        )
        #expect(emptied.guardVerdict.held)
        #expect(emptied.guardVerdict.leavers == 0 && emptied.guardVerdict.revoked == 40)
        let reason = try #require(emptied.guardVerdict.reason)
        #expect(reason.contains("40 identities losing a role is 100% of the 40 active identities"), "\(reason)")
        #expect(reason.contains("--allow-mass-revoke"))
        // A few movers: not held.
        let few = World.planner.plan(
            state: state,
            snapshot: World.snapshot(people, groups: [World.group("dba", Array(ids.dropFirst(5)))]),
            now: World.now
        )
        #expect(!few.guardVerdict.held && few.guardVerdict.revoked == 5)
        // A count limit of its own.
        var strict = World.mappings
        strict.guardSettings = LeaverGuard(maxRevoked: 3)
        let counted = Planner(mappings: strict, normalizeDN: { $0.lowercased() }).plan(
            state: state,
            snapshot: World.snapshot(people, groups: [World.group("dba", Array(ids.dropFirst(5)))]),
            now: World.now
        )
        #expect(
            counted.guardVerdict.reason?.hasPrefix("5 identities losing a role is more than the limit of 3") == true
        )
        // A small directory: 4 of 6 people losing a role is a large share but below 10 identities.
        let small = Array(people.prefix(6))
        let smallState = World.settled(World.snapshot(small, groups: [World.group("dba", small.map(\.id))]))
        let smallPlan = World.planner.plan(
            state: smallState,
            snapshot: World.snapshot(small, groups: [World.group("dba", small.prefix(2).map(\.id))]),
            now: World.now
        )
        #expect(!smallPlan.guardVerdict.held && smallPlan.guardVerdict.revoked == 4)
    }

    /// A verdict with nothing revoked encodes as before the count existed (plan hashes stay).
    @Test func aVerdictWithoutRevocationsEncodesAsBefore() throws {
        let old = #"{"held":false,"inScope":24,"leavers":1}"#
        let decoded = try JSONDecoder().decode(GuardVerdict.self, from: Data(old.utf8))
        #expect(decoded == GuardVerdict(held: false, reason: nil, leavers: 1, inScope: 24))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(decoded), as: UTF8.self) == old)
        let counted = GuardVerdict(held: true, reason: "r", leavers: 0, inScope: 24, revoked: 9)
        #expect(try JSONDecoder().decode(GuardVerdict.self, from: encoder.encode(counted)) == counted)
    }

    @Test func plansAreDeterministic() {
        let state = World.settled(self.base)
        var shuffled = self.base
        shuffled.identities.reverse()
        shuffled.identities[2].department = "Database"
        var ordered = self.base
        ordered.identities[ordered.identities.firstIndex { $0.id == shuffled.identities[2].id }!].department =
            "Database"
        let a = World.planner.plan(state: state, snapshot: shuffled, now: World.now)
        let b = World.planner.plan(state: state, snapshot: ordered, now: World.now)
        #expect(a == b)
        #expect(a.identities.map(\.identityID) == a.identities.map(\.identityID).sorted())
    }

    @Test func conditionsOfEveryKind() {
        let identities = [
            World.person("a", mail: "a@sec.t"),
            World.person("b", mail: "b@sec.t", ou: "ou=contractors"),
            World.person("c", mail: "C@SEC.T"),
        ]
        let plan = World.planner.plan(state: PIMState(), snapshot: World.snapshot(identities), now: World.now)
        #expect(actions(plan, "a") == [.grantEligible(role: "sec-admin", rule: "security")])
        #expect(actions(plan, "b").isEmpty)  // under ou=contractors
        #expect(actions(plan, "c").isEmpty)  // the regex is case-sensitive, whole-value
    }
}

@Suite struct UnreadAttributeTests {
    @Test func conditionsOnAttributesThatAreNotReadAreFound() {
        let mappings = Mappings(
            roles: [RoleDefinition(name: "r", tier: 1, mode: .standing)],
            rules: [
                Rule(
                    name: "x",
                    when: .all([
                        .attributeEquals(attribute: "department", value: "a"),
                        .not(.attributeIn(attribute: "roomnumber", values: ["1"])),
                    ]),
                    grant: "r",
                    mode: .standing
                )
            ],
            scope: .attributeMatches(attribute: "costcenter", pattern: "C.*")
        )
        #expect(mappings.unreadAttributes(extraAttributes: []) == ["costcenter", "roomnumber"])
        #expect(mappings.unreadAttributes(extraAttributes: ["roomNumber", "costCenter"]).isEmpty)
    }
}
