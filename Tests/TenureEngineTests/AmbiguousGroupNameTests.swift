import DirectorySource
import Foundation
import Logging
import TenureCore
import TenureEngine
import TenureStore
import Testing

/// A `memberOf:` name that two groups have: the sync refuses to plan rather than grant a privileged
/// role through whichever group of that name someone created.
@Suite struct AmbiguousGroupNameTests {
    static let mappings = Mappings(
        roles: [RoleDefinition(name: "db-admin", tier: 0, mode: .standing)],
        rules: [
            Rule(
                name: "dbas",
                when: .any([.memberOf("DBA"), .attributeEquals(attribute: "title", value: "x")]),
                grant: "db-admin",
                mode: .standing
            )
        ],
        guardSettings: LeaverGuard(maxLeavers: 10, maxLeaverPercent: 100)
    )

    static let ann = Identity(id: "id-ann", dn: "uid=ann,ou=people,dc=t", username: "ann")
    static let eve = Identity(id: "id-eve", dn: "uid=eve,ou=people,dc=t", username: "eve")
    static let dba = Group(
        id: "g-1",
        dn: "cn=dba,ou=groups,dc=t",
        name: "dba",
        directMembers: ["id-ann"],
        transitiveMembers: ["id-ann"]
    )
    /// Created by someone who may create groups in a project OU.
    static let impostor = Group(
        id: "g-2",
        dn: "cn=dba,ou=projects,ou=groups,dc=t",
        name: "dba",
        directMembers: ["id-eve"],
        transitiveMembers: ["id-eve"]
    )

    static func pull(_ groups: [Group]) -> PullResult {
        PullResult(
            snapshot: DirectorySnapshot(identities: [Self.ann, Self.eve], groups: groups),
            server: "ldap://127.0.0.1:1",
            entriesRead: 2 + groups.count,
            seconds: 0
        )
    }

    @Test func theNamesAreFoundInRulesAndScopeInAnyCase() {
        var mappings = Self.mappings
        let snapshot = Self.pull([Self.dba, Self.impostor]).snapshot
        #expect(
            mappings.ambiguousGroupNames(in: snapshot)
                == [
                    AmbiguousGroupName(
                        name: "DBA",
                        dns: ["cn=dba,ou=groups,dc=t", "cn=dba,ou=projects,ou=groups,dc=t"]
                    )
                ]
        )
        // By DN it is not ambiguous; a name only one group has is not either.
        mappings.rules[0].when = .memberOf("cn=dba,ou=groups,dc=t")
        #expect(mappings.ambiguousGroupNames(in: snapshot).isEmpty)
        #expect(Self.mappings.ambiguousGroupNames(in: Self.pull([Self.dba]).snapshot).isEmpty)
        mappings.scope = .not(.memberOf("dba"))
        #expect(mappings.ambiguousGroupNames(in: snapshot).map(\.name) == ["dba"])
    }

    @Test func theSyncRefusesAndChangesNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tenure-ambiguous-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(
            path: directory.appendingPathComponent("t.sqlite").path,
            auditKey: AuditKey.random()
        )
        var logger = Logger(label: "tenure.tests")
        logger.logLevel = .critical
        let engine = SyncEngine(mappings: Self.mappings, store: store, logger: logger, actor: "test")

        _ = try await engine.sync(allowMassRevoke: false, now: { 1_000 }, pull: { Self.pull([Self.dba]) })
        #expect(try await store.loadState().assignments.map(\.identityID) == ["id-ann"])

        // The impostor group appears: no grant to eve, and no revocation of ann either.
        let error = await #expect(throws: AmbiguousGroupNameError.self) {
            try await engine.sync(
                allowMassRevoke: false,
                now: { 2_000 },
                pull: { Self.pull([Self.dba, Self.impostor]) }
            )
        }
        #expect(error?.description.contains("memberOf: \"DBA\" names 2 groups") == true)
        #expect(error?.description.contains("cn=dba,ou=projects,ou=groups,dc=t") == true)
        #expect(try await store.loadState().assignments.map(\.identityID) == ["id-ann"])
        #expect(try await store.unfinishedPlan() == nil)
    }
}
