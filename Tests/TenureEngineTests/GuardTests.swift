import DirectorySource
import Foundation
import GRDB
import Logging
import TenureCore
import TenureEngine
import Testing

@testable import TenureStore

/// The mass-revocation guard across interrupted runs: a held plan is never applied without the
/// override, even when a crash left it saved but unfinished.
@Suite struct GuardTests {
    static let mappings = Mappings(
        roles: [RoleDefinition(name: "db-read", tier: 2, mode: .standing)],
        rules: [Rule(name: "everyone", when: .always, grant: "db-read", mode: .standing)],
        guardSettings: LeaverGuard(maxLeavers: 2, maxLeaverPercent: 100)
    )

    static let people = DirectorySnapshot(
        identities: (1...5).map { Identity(id: "id-\($0)", dn: "uid=p\($0),ou=people,dc=t", username: "p\($0)") },
        groups: []
    )

    static func pull(_ snapshot: DirectorySnapshot) -> PullResult {
        PullResult(snapshot: snapshot, server: "ldap://127.0.0.1:1", entriesRead: snapshot.identities.count, seconds: 0)
    }

    private func withEngine(_ body: (SyncEngine, SQLiteStore) async throws -> Void) async throws {
        try await VaultTestSupport.withEngine(Self.mappings, body)
    }

    private func types(_ store: SQLiteStore) async throws -> [String] {
        try await store.auditRecords(
            AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: nil, newestFirst: false)
        )
        .map(\.event.type)
    }

    @Test func aHeldPlanLeftUnfinishedByACrashIsClosedNotApplied() async throws {
        try await withEngine { engine, store in
            _ = try await engine.sync(allowMassRevoke: false, now: { 1_000 }, pull: { Self.pull(Self.people) })
            #expect(try await store.loadState().assignments.count == 5)

            // A run that saved a held plan (everyone gone) and died before marking it held.
            let empty = DirectorySnapshot(identities: [], groups: [])
            let (held, hash) = try await engine.plan(snapshot: empty, now: 2_000)
            #expect(held.guardVerdict.held)
            _ = try await store.savePlan(held, hash: hash, actor: "test", journal: SyncEngine.journal(for: held))

            // The next run must not apply it.
            let report = try await engine.sync(allowMassRevoke: false, now: { 3_000 }, pull: { Self.pull(Self.people) })
            #expect(report.resumed == nil)
            #expect(try await store.unfinishedPlan() == nil)
            #expect(try await store.loadState().assignments.count == 5)
            let audit = try await self.types(store)
            #expect(audit.contains("plan.held"))
            #expect(!audit.contains("role.revoked"))
        }
    }

    @Test func theOverrideIsRecordedAndApplied() async throws {
        try await withEngine { engine, store in
            _ = try await engine.sync(allowMassRevoke: false, now: { 1_000 }, pull: { Self.pull(Self.people) })
            let empty = DirectorySnapshot(identities: [], groups: [])
            let held = try await engine.sync(allowMassRevoke: false, now: { 2_000 }, pull: { Self.pull(empty) })
            #expect(held.held)
            #expect(try await store.loadState().assignments.count == 5)

            let forced = try await engine.sync(allowMassRevoke: true, now: { 3_000 }, pull: { Self.pull(empty) })
            #expect(!forced.held)
            #expect(forced.applied > 0)
            #expect(try await store.loadState().assignments.isEmpty)
            let audit = try await self.types(store)
            #expect(audit.filter { $0 == "plan.guard_overridden" }.count == 1)
            #expect(audit.filter { $0 == "role.revoked" }.count == 5)
        }
    }

    /// A plan that cannot be made (the stored model cannot be read) applies nothing and is audited
    /// as a failed sync, as a failed pull is.
    @Test func aPlanThatCannotBeMadeIsAuditedAndAppliesNothing() async throws {
        try await withEngine { engine, store in
            _ = try await engine.sync(allowMassRevoke: false, now: { 1_000 }, pull: { Self.pull(Self.people) })
            try await store.pool.write { db in
                try db.execute(sql: "UPDATE identity SET attributes = 'not json' WHERE id = 'id-1'")
            }
            await #expect(throws: (any Error).self) {
                try await engine.sync(allowMassRevoke: false, now: { 2_000 }, pull: { Self.pull(Self.people) })
            }
            let failed = try await store.auditRecords(AuditQuery()).filter { $0.event.type == "sync.failed" }
            #expect(failed.map { $0.event.details["stage"] } == ["plan"])
            #expect(try await store.unfinishedPlan() == nil)
        }
    }
}
