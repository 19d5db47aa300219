import Foundation
import GRDB
import TenureCore
import Testing

@testable import TenureStore

private let created: Double = 1_764_000_000

private func record(_ name: String) -> CredentialRecord {
    CredentialRecord(
        name: name,
        kind: .ldapAccount(dn: "uid=\(name),ou=services,dc=example,dc=org"),
        policyJSON: "{}",
        createdAt: created
    )
}

private func checkout(
    _ id: String,
    _ name: String = "svc",
    by identityID: String = "id-ann",
    at time: Double,
    exclusive: Bool = false,
    due: Double? = nil
) -> CredentialCheckout {
    CredentialCheckout(
        id: id,
        name: name,
        identityID: identityID,
        username: identityID == "id-ann" ? "ann" : nil,
        version: 1,
        exclusive: exclusive,
        checkedOutAt: time,
        dueAt: due
    )
}

private func checkoutEvent(_ type: String, _ id: String) -> AuditEvent {
    AuditEvent(time: created, actor: "cli:alice", type: type, object: "svc", details: ["checkout": id])
}

/// An event the audit log refuses (a NUL character), so the mutation carrying it must roll back.
private let unstorableEvent = AuditEvent(time: created, actor: "cli:al\u{0}ice", type: "credential.checkout")

private func auditTypes(_ store: SQLiteStore) async throws -> [String] {
    try await store.auditRecords(AuditQuery()).map(\.event.type)
}

/// A store with credentials `svc` and `other`, each with a current version 1.
private func withVault(_ body: (SQLiteStore, TemporaryDirectory) async throws -> Void) async throws {
    try await withStore { store, directory throws in
        try await store.addCredential(record("svc"), initialSecret: "sealed-svc-v1", audit: [])
        try await store.addCredential(record("other"), initialSecret: "sealed-other-v1", audit: [])
        try await body(store, directory)
    }
}

@Suite("Vault store: check-outs")
struct CheckoutStoreTests {
    /// A credential's status reads its current and pending versions through the partial indexes,
    /// never every version it ever had (rotated at each leaver, a credential keeps them all).
    @Test func statusesReadLiveVersionsThroughTheirIndexes() async throws {
        try await withVault { store, _ throws in
            func plan(_ sql: String, _ arguments: StatementArguments) async throws -> String {
                try await store.pool.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                        .map { $0["detail"] as String }.joined(separator: "\n")
                }
            }
            for (sql, arguments) in [
                (SQLiteStore.liveVersionsSQL, StatementArguments()),
                (SQLiteStore.liveVersionsOfOneSQL, ["svc", "svc"] as StatementArguments),
            ] {
                let detail = try await plan(sql, arguments)
                #expect(detail.contains("USING INDEX credential_version_one_current"), "\(detail)")
                #expect(detail.contains("USING INDEX credential_version_one_pending"), "\(detail)")
                #expect(!detail.contains("SCAN credential_version\n") && !detail.hasSuffix("SCAN credential_version"))
            }
            // And they still say what is current and pending, after rotations.
            for round in 2...4 {
                let version = try await store.addPendingVersion(of: "svc", sealed: "sealed-svc-v\(round)", audit: [])
                #expect(version == round)
                try await store.promote("svc", version: version, audit: [])
            }
            _ = try await store.addPendingVersion(of: "svc", sealed: "sealed-svc-v5", audit: [])
            let svc = try #require(try await store.credentialStatus(named: "svc"))
            #expect(svc.current?.version == 4 && svc.pending?.version == 5)
            // The next version number, for sealing, comes from the primary key too.
            #expect(try await store.highestVersion(of: "svc") == 5)
            #expect(try await store.highestVersion(of: "nothing") == nil)
            let highest = try await plan(SQLiteStore.highestVersionSQL, ["svc"])
            #expect(highest.contains("USING COVERING INDEX sqlite_autoindex_credential_version_1"), "\(highest)")
            let all = try await store.credentialStatuses()
            #expect(all.map(\.record.name) == ["other", "svc"])
            #expect(all.map { $0.current?.version } == [1, 4])
            #expect(all.map { $0.pending?.version } == [nil, 5])
        }
    }

    /// A leaver's history (roles ended and check-outs within the look-back, or still open) for one
    /// identity is exactly everyone's history filtered to it, read without the others'.
    @Test func leaverHistoryOfOneIdentityIsEveryonesFilteredToIt() async throws {
        try await withVault { store, _ throws in
            func ended(_ identityID: String, _ role: String, at time: Double, outcome: String = "success") -> AuditEvent
            {
                AuditEvent(
                    time: time,
                    actor: "sync",
                    type: "role.revoked",
                    subject: identityID,
                    object: role,
                    outcome: outcome,
                    details: ["state": "eligible"]
                )
            }
            _ = try await store.appendAudit([
                ended("id-ann", "dba", at: created + 100),  // before the look-back
                ended("id-ann", "ops", at: created + 1_100),
                ended("id-ben", "ops", at: created + 1_200),
                ended("id-ann", "audit", at: created + 1_300, outcome: "failure"),
                AuditEvent(time: created + 1_400, actor: "sync", type: "role.expired", subject: "id-ann", object: "pg"),
            ])
            for item in [
                checkout("c-ann-old", at: created + 100),  // before the look-back, checked in below
                checkout("c-ann-open", "other", at: created + 200),  // before it, but still open
                checkout("c-ann", at: created + 1_500),
                checkout("c-ben", by: "id-ben", at: created + 1_600),
            ] {
                try await store.recordCheckout(item, audit: [])
            }
            _ = try await store.checkIn(id: "c-ann-old", at: created + 150, audit: [])

            let everyone = try await store.leaverHistory(since: created + 1_000, identityID: nil)
            let ann = try await store.leaverHistory(since: created + 1_000, identityID: "id-ann")
            #expect(ann.ended == everyone.ended.filter { $0.identityID == "id-ann" })
            #expect(ann.checkouts == everyone.checkouts.filter { $0.identityID == "id-ann" })
            #expect(ann.ended.map(\.role) == ["ops", "pg"])
            #expect(ann.ended.map(\.state) == [.eligible, .active])
            #expect(ann.checkouts.map(\.credential) == ["other", "svc"])
            #expect(ann.checkouts.map(\.isOpen) == [true, true])
            #expect(everyone.ended.contains { $0.identityID == "id-ben" })
            #expect(everyone.checkouts.contains { $0.identityID == "id-ben" })
            let nobody = try await store.leaverHistory(since: created + 1_000, identityID: "id-nobody")
            #expect(nobody.ended.isEmpty && nobody.checkouts.isEmpty)
        }
    }

    @Test func checkOutsAreRecordedCheckedInAndQueried() async throws {
        try await withVault { store, _ throws in
            let old = checkout("c-old", "other", by: "id-ben", at: created + 300)
            let stillOpen = checkout("c-open", "other", at: created + 500)
            let first = checkout("c-1", at: created + 1_000, due: created + 2_000)
            let second = checkout("c-2", by: "id-ben", at: created + 1_500)
            let sameTimeB = checkout("c-b", "other", by: "id-cy", at: created + 1_500)
            let sameTimeA = checkout("c-a", "other", by: "id-cy", at: created + 1_500)
            for item in [old, stillOpen, first, second, sameTimeB, sameTimeA] {
                try await store.recordCheckout(item, audit: [checkoutEvent("credential.checkout", item.id)])
            }
            #expect(try await store.checkout(id: "c-1") == first)
            #expect(try await store.checkout(id: "c-1")?.username == "ann")
            #expect(try await store.checkout(id: "c-2")?.username == nil)
            #expect(try await store.checkout(id: "c-1")?.dueAt == created + 2_000)
            #expect(try await store.checkout(id: "nope") == nil)
            #expect(try await store.openCheckouts(of: "svc") == [first, second])

            let closedOld = try await store.checkIn(
                id: "c-old",
                at: created + 400,
                audit: [checkoutEvent("credential.checkin", "c-old")]
            )
            #expect(closedOld.checkedInAt == created + 400)
            #expect(!closedOld.isOpen)
            let closedFirst = try await store.checkIn(
                id: "c-1",
                at: created + 2_500,
                audit: [checkoutEvent("credential.checkin", "c-1")]
            )
            var expected = first
            expected.checkedInAt = created + 2_500
            #expect(closedFirst == expected)
            #expect(try await store.checkout(id: "c-1") == expected)
            #expect(try await store.openCheckouts(of: "svc") == [second])
            #expect(try await store.openCheckouts(of: "other") == [stillOpen, sameTimeA, sameTimeB])
            #expect(try await store.openCheckouts(of: "ghost").isEmpty)

            // Made at or after `since`, plus every open one; by time, then id.
            #expect(
                try await store.checkouts(since: created + 1_000).map(\.id) == ["c-open", "c-1", "c-2", "c-a", "c-b"]
            )
            #expect(try await store.checkouts(since: created + 1_000.5).map(\.id) == ["c-open", "c-2", "c-a", "c-b"])
            #expect(
                try await store.checkouts(since: 0).map(\.id) == ["c-old", "c-open", "c-1", "c-2", "c-a", "c-b"]
            )
            #expect(try await store.checkouts(since: created + 9_000).map(\.id) == ["c-open", "c-2", "c-a", "c-b"])
            #expect(try await store.checkouts(identityID: "id-ann", since: created + 1_000) == [stillOpen, expected])
            #expect(try await store.checkouts(identityID: "id-ben", since: 0) == [closedOld, second])
            #expect(try await store.checkouts(identityID: "id-ben", since: created + 301) == [second])
            #expect(try await store.checkouts(identityID: "id-nobody", since: 0).isEmpty)

            #expect(
                try await auditTypes(store) == Array(repeating: "credential.checkout", count: 6)
                    + ["credential.checkin", "credential.checkin"]
            )
            #expect(try await store.verifyAudit() == AuditVerification(records: 8))
        }
    }

    @Test func anExclusiveCheckOutExcludesEveryOtherOpenOne() async throws {
        try await withVault { store, _ throws in
            try await store.recordCheckout(checkout("shared", at: created), audit: [])
            let refused = await #expect(throws: StoreError.self) {
                try await store.recordCheckout(
                    checkout("solo", by: "id-ben", at: created + 1, exclusive: true),
                    audit: [checkoutEvent("credential.checkout", "solo")]
                )
            }
            #expect(refused?.code == .invalidStatus)
            #expect(
                refused?.message == "cannot check out credential svc exclusively: check-out shared by id-ann is open"
            )
            #expect(try await store.checkout(id: "solo") == nil)

            _ = try await store.checkIn(id: "shared", at: created + 2, audit: [])
            try await store.recordCheckout(checkout("solo", by: "id-ben", at: created + 3, exclusive: true), audit: [])
            for (id, exclusive) in [("second", false), ("second-exclusive", true)] {
                let error = await #expect(throws: StoreError.self) {
                    try await store.recordCheckout(
                        checkout(id, at: created + 4, exclusive: exclusive),
                        audit: [checkoutEvent("credential.checkout", id)]
                    )
                }
                #expect(error?.code == .invalidStatus)
                #expect(error?.message.contains("credential svc") == true)
                #expect(error?.message.contains("solo by id-ben") == true)
                #expect(try await store.checkout(id: id) == nil)
            }
            // Another credential is not affected.
            try await store.recordCheckout(checkout("elsewhere", "other", at: created + 4, exclusive: true), audit: [])
            #expect(try await store.openCheckouts(of: "svc").map(\.id) == ["solo"])
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)

            _ = try await store.checkIn(id: "solo", at: created + 5, audit: [])
            try await store.recordCheckout(checkout("second", at: created + 6), audit: [])
            try await store.recordCheckout(checkout("third", by: "id-ben", at: created + 6), audit: [])
            #expect(try await store.openCheckouts(of: "svc").map(\.id) == ["second", "third"])
        }
    }

    @Test func aCheckOutIsCheckedInOnce() async throws {
        try await withVault { store, _ throws in
            try await store.recordCheckout(checkout("c-1", at: created), audit: [])
            let closed = try await store.checkIn(
                id: "c-1",
                at: created + 10,
                audit: [checkoutEvent("credential.checkin", "c-1")]
            )
            let again = await #expect(throws: StoreError.self) {
                try await store.checkIn(
                    id: "c-1",
                    at: created + 20,
                    audit: [checkoutEvent("credential.checkin", "c-1")]
                )
            }
            #expect(again?.code == .invalidStatus)
            #expect(again?.message == "check-out c-1 of credential svc is already checked in")
            #expect(try await store.checkout(id: "c-1") == closed)
            #expect(try await store.checkout(id: "c-1")?.checkedInAt == created + 10)

            let unknown = await #expect(throws: StoreError.self) {
                try await store.checkIn(id: "nope", at: created, audit: [checkoutEvent("credential.checkin", "nope")])
            }
            #expect(unknown?.code == .unknownPlan)
            #expect(unknown?.message == "there is no check-out nope")

            try await store.recordCheckout(checkout("c-2", at: created), audit: [])
            let notANumber = await #expect(throws: StoreError.self) {
                try await store.checkIn(id: "c-2", at: .nan, audit: [])
            }
            #expect(notANumber?.code == .invalidEvent)
            #expect(try await store.checkout(id: "c-2")?.isOpen == true)
            #expect(try await auditTypes(store) == ["credential.checkin"])
        }
    }

    @Test func checkOutsTheStoreCannotKeepAreRefused() async throws {
        try await withVault { store, _ throws in
            try await store.recordCheckout(checkout("taken", at: created), audit: [])
            var unknownVersion = checkout("v9", at: created)
            unknownVersion.version = 9
            var notANumber = checkout("nan", at: .nan)
            notANumber.checkedOutAt = .nan
            var infiniteDue = checkout("due", at: created)
            infiniteDue.dueAt = .infinity
            var checkedIn = checkout("closed", at: created)
            checkedIn.checkedInAt = created + 1
            var noIdentity = checkout("nobody", at: created)
            noIdentity.identityID = ""
            let cases: [(CredentialCheckout, StoreError.Code, String)] = [
                (checkout("c-1", "ghost", at: created), .unknownPlan, "there is no credential ghost"),
                (unknownVersion, .unknownPlan, "cannot check out credential svc version 9: no such version"),
                (
                    checkout("taken", at: created + 1), .invalidStatus,
                    "cannot check out credential svc: check-out id taken is already used (credential svc)"
                ),
                (
                    checkout("taken", "other", at: created + 1), .invalidStatus,
                    "cannot check out credential other: check-out id taken is already used (credential svc)"
                ),
                (notANumber, .invalidEvent, "check-out nan of credential svc: checkedOutAt is not a finite number"),
                (infiniteDue, .invalidEvent, "check-out due of credential svc: dueAt is not a finite number"),
                (
                    checkout("early", at: created, due: created - 1), .invalidEvent,
                    "check-out early of credential svc: dueAt is before checkedOutAt"
                ),
                (
                    checkedIn, .invalidEvent,
                    "check-out closed of credential svc is already checked in: record it open, then check it in"
                ),
                (checkout("", at: created), .invalidEvent, "a check-out of credential svc has an empty id"),
                (noIdentity, .invalidEvent, "check-out nobody of credential svc names no identity"),
            ]
            for (item, code, message) in cases {
                let error = await #expect(throws: StoreError.self, "\(item.id)") {
                    try await store.recordCheckout(item, audit: [checkoutEvent("credential.checkout", item.id)])
                }
                #expect(error?.code == code, "\(item.id)")
                #expect(error?.message == message)
            }
            let badSince = await #expect(throws: StoreError.self) { try await store.checkouts(since: .nan) }
            #expect(badSince?.code == .invalidEvent)
            await #expect(throws: StoreError.self) { try await store.checkouts(identityID: "id-ann", since: .nan) }

            #expect(try await store.checkouts(since: 0) == [checkout("taken", at: created)])
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)
        }
    }

    @Test func checkOutsAreNeverDeleted() async throws {
        try await withVault { store, directory throws in
            try await store.recordCheckout(checkout("c-1", at: created), audit: [])
            try await store.recordCheckout(checkout("c-2", "other", at: created + 1), audit: [])
            _ = try await store.checkIn(id: "c-1", at: created + 2, audit: [])
            let before = try await store.checkouts(since: 0)
            #expect(before.count == 2)

            let refused: [(String, String)] = [
                ("DELETE FROM credential_checkout WHERE id = 'c-1'", "check-outs are never deleted"),
                ("DELETE FROM credential_checkout", "check-outs are never deleted"),
                (
                    "INSERT INTO credential_checkout (id, name, identityID, version, exclusive, checkedOutAt) "
                        + "VALUES ('c-3', 'ghost', 'id-ann', 1, 0, 0)",
                    "FOREIGN KEY constraint failed"
                ),
                (
                    "INSERT INTO credential_checkout (id, name, identityID, version, exclusive, checkedOutAt) "
                        + "VALUES ('c-1', 'svc', 'id-ann', 1, 0, 0)",
                    "UNIQUE constraint failed"
                ),
                (
                    "INSERT INTO credential_checkout (id, name, identityID, version, exclusive, checkedOutAt) "
                        + "VALUES ('c-4', 'svc', 'id-ann', 1, 2, 0)",
                    "CHECK constraint failed"
                ),
            ]
            for (sql, reason) in refused {
                let error = #expect(throws: DatabaseError.self, "\(sql)") {
                    try withRawDatabase(directory.file("tenure.sqlite")) { try $0.execute(sql: sql) }
                }
                #expect(error?.description.contains(reason) == true, "\(sql): \(String(describing: error))")
            }
            #expect(try await store.checkouts(since: 0) == before)
        }
    }

    @Test func aCheckOutAndItsAuditEventsCommitTogether() async throws {
        try await withVault { store, _ throws in
            let recordRefused = await #expect(throws: StoreError.self) {
                try await store.recordCheckout(
                    checkout("c-1", at: created),
                    audit: [checkoutEvent("credential.checkout", "c-1"), unstorableEvent]
                )
            }
            #expect(recordRefused?.code == .invalidEvent)
            #expect(try await store.checkout(id: "c-1") == nil)
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)

            try await store.recordCheckout(
                checkout("c-1", at: created),
                audit: [checkoutEvent("credential.checkout", "c-1")]
            )
            let checkInRefused = await #expect(throws: StoreError.self) {
                try await store.checkIn(id: "c-1", at: created + 1, audit: [unstorableEvent])
            }
            #expect(checkInRefused?.code == .invalidEvent)
            #expect(try await store.checkout(id: "c-1")?.isOpen == true)
            #expect(try await auditTypes(store) == ["credential.checkout"])

            _ = try await store.checkIn(id: "c-1", at: created + 1, audit: [checkoutEvent("credential.checkin", "c-1")])
            #expect(try await store.checkout(id: "c-1")?.checkedInAt == created + 1)
            #expect(try await auditTypes(store) == ["credential.checkout", "credential.checkin"])
            #expect(try await store.verifyAudit() == AuditVerification(records: 2))
        }
    }

    /// The rows `MigrationTests.seeders["v4"]` writes, read back through the API after opening.
    @Test func checkOutRowsWrittenAtV4ReadBack() async throws {
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("tenure.sqlite")
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: "v4")
            let seeder = try #require(MigrationTests.seeders["v4"])
            try await queue.write { try seeder($0) }
            try queue.close()

            let store = try SQLiteStore(path: path, auditKey: try testKey())
            defer { try? store.close() }
            #expect(try await store.checkouts(since: 0) == CheckoutSeed.checkouts)
            #expect(try await store.openCheckouts(of: "svc-backup") == [CheckoutSeed.checkouts[1]])
            let closed = try await store.checkIn(id: "co-2", at: 1_764_200_500, audit: [])
            #expect(closed.checkedInAt == 1_764_200_500)
            #expect(try await store.openCheckouts(of: "svc-backup").isEmpty)
        }
    }
}

/// What `MigrationTests.seeders["v4"]` stores in `credential_checkout`.
enum CheckoutSeed {
    static let checkouts = [
        CredentialCheckout(
            id: "co-1",
            name: "svc-backup",
            identityID: "id-ada",
            username: "ada",
            version: 2,
            exclusive: true,
            checkedOutAt: 1_764_150_000,
            dueAt: 1_764_153_600,
            checkedInAt: 1_764_151_000
        ),
        CredentialCheckout(
            id: "co-2",
            name: "svc-backup",
            identityID: "id-ada",
            username: nil,
            version: 2,
            exclusive: false,
            checkedOutAt: 1_764_160_000.5
        ),
    ]
}
