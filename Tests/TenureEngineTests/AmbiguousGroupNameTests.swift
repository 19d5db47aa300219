import DirectorySource
import Foundation
import Logging
import TenureCore
import TenureEngine
import TenureStore
import Testing

/// A `memberOf:` name that two groups have (someone created a second "dba" elsewhere under the group
/// bases): conditions on it are undecided — nobody is granted a role or joins the scope through it,
/// nobody loses one or leaves because of it — while everything else is planned as usual, and the
/// plan and the audit say so on every run. A condition naming a group by DN matches only that DN.
@Suite struct AmbiguousGroupNameTests {
    static let mappings = Mappings(
        roles: [RoleDefinition(name: "db-admin", tier: 0, mode: .standing)],
        rules: [
            Rule(
                name: "dbas",
                when: .any([.memberOf("DBA"), .attributeEquals(attribute: "title", value: "DBA lead")]),
                grant: "db-admin",
                mode: .standing
            )
        ],
        guardSettings: LeaverGuard(maxLeavers: 10, maxLeaverPercent: 100)
    )

    static func person(_ name: String, title: String? = nil, disabled: Bool = false) -> Identity {
        Identity(id: "id-\(name)", dn: "uid=\(name),ou=people,dc=t", username: name, title: title, disabled: disabled)
    }

    static func group(_ dn: String, name: String, _ members: [String]) -> Group {
        Group(id: "g-\(dn)", dn: dn, name: name, directMembers: members, transitiveMembers: members)
    }

    static let dba = Self.group("cn=dba,ou=groups,dc=t", name: "dba", ["id-ann", "id-carl"])
    /// Created by someone who may create groups in a project OU.
    static let impostor = Self.group("cn=dba,ou=projects,ou=groups,dc=t", name: "dba", ["id-eve"])

    static func pull(_ identities: [Identity], _ groups: [Group]) -> PullResult {
        PullResult(
            snapshot: DirectorySnapshot(identities: identities, groups: groups),
            server: "ldap://127.0.0.1:1",
            entriesRead: identities.count + groups.count,
            seconds: 0
        )
    }

    private func withEngine(_ mappings: Mappings, _ body: (SyncEngine, SQLiteStore) async throws -> Void) async throws {
        try await VaultTestSupport.withEngine(mappings, body)
    }

    private func holders(_ store: SQLiteStore) async throws -> [String] {
        try await store.loadState().assignments.map(\.identityID).sorted()
    }

    @Test func anUndecidedRuleGrantsAndRevokesNothingAndTheRestIsPlanned() async throws {
        try await withEngine(Self.mappings) { engine, store in
            let ann = Self.person("ann")
            let carl = Self.person("carl")
            let eve = Self.person("eve")
            _ = try await engine.sync(
                allowMassRevoke: false,
                now: { 1_000 },
                pull: { Self.pull([ann, carl, eve], [Self.dba]) }
            )
            #expect(try await self.holders(store) == ["id-ann", "id-carl"])

            // The impostor group appears; carl's account is disabled; fay becomes the DBA lead.
            let fay = Self.person("fay", title: "DBA lead")
            let report = try await engine.sync(
                allowMassRevoke: false,
                now: { 2_000 },
                pull: {
                    Self.pull([ann, Self.person("carl", disabled: true), eve, fay], [Self.dba, Self.impostor])
                }
            )
            #expect(
                report.plan.ambiguousGroupNames
                    == [
                        AmbiguousGroupName(
                            name: "DBA",
                            dns: ["cn=dba,ou=groups,dc=t", "cn=dba,ou=projects,ou=groups,dc=t"]
                        )
                    ]
            )
            // eve is not granted; ann keeps it; carl, disabled, is a leaver; fay's other condition decides.
            #expect(try await self.holders(store) == ["id-ann", "id-fay"])
            let audit = try await store.auditRecords(AuditQuery())
            let warning = try #require(audit.first { $0.event.type == "mappings.ambiguous_group" })
            #expect(warning.event.object == "DBA")
            #expect(warning.event.details["groups"] == "cn=dba,ou=groups,dc=t; cn=dba,ou=projects,ou=groups,dc=t")

            // Named by DN, the rule decides again: eve stays out, ann keeps the role.
            var byDN = Self.mappings
            byDN.rules[0].when = .any([
                .memberOf("cn=dba,ou=groups,dc=t"), .attributeEquals(attribute: "title", value: "DBA lead"),
            ])
            let fixed = Planner(mappings: byDN, normalizeDN: { $0.lowercased() }).plan(
                state: try await store.loadState(),
                snapshot: DirectorySnapshot(identities: [ann, eve, fay], groups: [Self.dba, Self.impostor]),
                now: 3_000
            )
            #expect(fixed.ambiguousGroupNames.isEmpty)
            #expect(fixed.summary.grants == 0 && fixed.summary.revocations == 0)
        }
    }

    /// A group whose name is the text of the DN a rule names is not that group.
    @Test func aDNConditionMatchesTheDNOnlyNotAGroupNamedLikeIt() async throws {
        var mappings = Self.mappings
        mappings.rules[0].when = .memberOf("cn=dba,ou=groups,dc=t")
        let lookalike = Self.group(
            #"cn=cn\=dba\,ou\=groups\,dc\=t,ou=projects,dc=t"#,
            name: "cn=dba,ou=groups,dc=t",
            ["id-eve"]
        )
        let plan = Planner(mappings: mappings, normalizeDN: { $0.lowercased() }).plan(
            state: PIMState(),
            snapshot: DirectorySnapshot(
                identities: [Self.person("ann"), Self.person("eve")],
                groups: [Self.group("cn=dba,ou=groups,dc=t", name: "dba", ["id-ann"]), lookalike]
            ),
            now: 1_000
        )
        #expect(
            plan.identities.filter { $0.actions.contains { if case .grantStanding = $0 { true } else { false } } }
                .map(\.identityID) == ["id-ann"]
        )
        #expect(plan.ambiguousGroupNames.isEmpty)
    }

    /// An undecided scope: who was in stays in, who was not does not join.
    @Test func anUndecidedScopeMakesNoLeaverAndNoJoiner() async throws {
        var mappings = Self.mappings
        mappings.scope = .memberOf("staff")
        mappings.rules = [Rule(name: "everyone", when: .always, grant: "db-admin", mode: .standing)]
        try await withEngine(mappings) { engine, store in
            let staff = Self.group("cn=staff,ou=groups,dc=t", name: "staff", ["id-ann"])
            _ = try await engine.sync(
                allowMassRevoke: false,
                now: { 1_000 },
                pull: {
                    Self.pull([Self.person("ann"), Self.person("eve")], [staff])
                }
            )
            #expect(try await self.holders(store) == ["id-ann"])
            let other = Self.group("cn=staff,ou=projects,dc=t", name: "staff", ["id-eve"])
            let report = try await engine.sync(
                allowMassRevoke: false,
                now: { 2_000 },
                pull: {
                    Self.pull([Self.person("ann"), Self.person("eve"), Self.person("fay")], [staff, other])
                }
            )
            #expect(report.plan.ambiguousGroupNames.map(\.name) == ["staff"])
            #expect(report.plan.summary.leavers == 0 && report.plan.summary.joiners == 0)
            #expect(try await self.holders(store) == ["id-ann"])
            // eve keeps the record she had; fay, new, is not recorded until the scope is decided.
            #expect(!report.plan.identities.contains { $0.identityID == "id-eve" || $0.identityID == "id-fay" })
            let records = try await store.loadState().identities
            #expect(records["id-fay"] == nil)
            #expect(records["id-eve"]?.lastSeen == 1_000)
        }
    }
}
