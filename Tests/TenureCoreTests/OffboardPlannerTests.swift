import Testing

@testable import TenureCore

/// HR terminations and the single-identity offboarding plan.
@Suite struct OffboardPlannerTests {
    static let now: Double = 1_800_000_000
    static let group = "cn=dba-prod,ou=privileged,dc=t"

    static let mappings = Mappings(
        roles: [
            RoleDefinition(name: "dba-prod", tier: 0, mode: .standing, writeBackGroup: group, credentials: ["db-root"]),
            RoleDefinition(name: "db-read", tier: 2, mode: .standing, credentials: ["db-report"]),
        ],
        rules: [
            Rule(
                name: "dbas",
                when: .attributeEquals(attribute: "department", value: "Database"),
                grant: "dba-prod",
                mode: .standing
            ),
            Rule(name: "all", when: .always, grant: "db-read", mode: .standing),
        ],
        protected: [.username("breakglass")]
    )

    static var planner: Planner { Planner(mappings: mappings, normalizeDN: { $0.lowercased() }) }

    static func record(_ id: String, state: LifecycleState = .active) -> IdentityRecord {
        IdentityRecord(
            id: id,
            state: state,
            dn: "uid=\(id),ou=people,dc=t",
            username: id,
            attributes: ["username": id, "department": "Database"],
            groups: [],
            firstSeen: 0,
            lastSeen: 0
        )
    }

    static var state: PIMState {
        PIMState(
            identities: ["ann": record("ann"), "breakglass": record("breakglass")],
            assignments: [
                Assignment(identityID: "ann", role: "dba-prod", state: .active, source: "rule:dbas", since: 0),
                Assignment(identityID: "ann", role: "db-read", state: .active, source: "rule:all", since: 0),
                Assignment(identityID: "breakglass", role: "db-read", state: .active, source: "rule:all", since: 0),
            ],
            writeBackMembers: [
                WriteBackMember(
                    group: group,
                    identityID: "ann",
                    member: "uid=ann,ou=people,dc=t",
                    role: "dba-prod",
                    since: 0
                )
            ]
        )
    }

    @Test func anHRTerminationMakesALeaverWhileTheDirectoryShowsTheAccount() {
        var state = Self.state
        state.hrTerminated = ["ann": "resigned"]
        let snapshot = DirectorySnapshot(
            identities: [Identity(id: "ann", dn: "uid=ann,ou=people,dc=t", username: "ann", department: "Database")],
            groups: [
                Group(id: "g", dn: Self.group, name: "dba-prod", directMembers: ["ann"], transitiveMembers: ["ann"])
            ]
        )
        let plan = Self.planner.plan(state: state, snapshot: snapshot, now: Self.now)
        let ann = plan.identities.first { $0.identityID == "ann" }
        #expect(ann?.events.map(\.kind) == [.leaver])
        #expect(ann?.events.first?.reasons == ["terminated by HR: resigned"])
        let revoked = ann?.actions.compactMap { action -> String? in
            if case .revoke(let role, _, _) = action { return role }
            return nil
        }
        #expect(revoked?.sorted() == ["db-read", "dba-prod"])
        #expect(ann?.actions.contains { if case .writeBack(_, _, false, _, _, _) = $0 { true } else { false } } == true)
        // Without the termination, nothing happens.
        state.hrTerminated = [:]
        #expect(
            Self.planner.plan(state: state, snapshot: snapshot, now: Self.now).identities.filter {
                $0.identityID == "ann"
            }.allSatisfy { $0.events.isEmpty }
        )
    }

    @Test func theOffboardingPlanRevokesRemovesRotatesAndRecords() throws {
        let plan = try #require(
            Self.planner.offboardPlan(state: Self.state, identityID: "ann", reason: "fired", now: Self.now)
        )
        #expect(plan.identities.count == 1)
        let ann = try #require(plan.identities.first)
        #expect(ann.events == [LifecycleEvent(kind: .leaver, reasons: ["offboarded: fired"])])
        #expect(
            ann.actions.map(describe) == [
                "revoke active db-read", "revoke active dba-prod",
                "remove from write-back group \(Self.group)", "rotate credential db-report",
                "rotate credential db-root", "record",
            ]
        )
        guard case .recordIdentity(let record)? = ann.actions.last else {
            Issue.record("the last action records the identity")
            return
        }
        #expect(record.state == .terminated)
        #expect(record.terminatedAt == Self.now)
        #expect(plan.summary.leavers == 1)
        #expect(Self.planner.offboardPlan(state: Self.state, identityID: "nobody", reason: "x", now: Self.now) == nil)
    }

    @Test func aProtectedIdentitysOffboardingIsWithheld() throws {
        let plan = try #require(
            Self.planner.offboardPlan(state: Self.state, identityID: "breakglass", reason: "x", now: Self.now)
        )
        #expect(plan.identities.first?.isProtected == true)
        #expect(plan.identities.first?.actions.allSatisfy { !$0.changesAccess } == true)
        #expect(plan.protectedChanges.first?.contains("withheld") == true)
    }
}
