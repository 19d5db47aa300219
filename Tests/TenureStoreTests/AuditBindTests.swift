import GRDB
import GRDBSQLite
import TenureCore
import Testing

@testable import TenureStore

/// Audit records are bound column by column through the SQLite API. A bind SQLite refuses must
/// fail the append: the statement would otherwise keep the previous record's value in that column
/// and store a record other than the one that was MACed.
@Suite struct AuditBindTests {
    @Test func aValueSQLiteRefusesFailsTheWholeAppend() async throws {
        try await withStore { store, _ throws in
            _ = try await store.appendAudit([event(1)])
            // Text longer than this is refused at bind time (SQLITE_TOOBIG).
            store.pool.writeWithoutTransaction { db in
                _ = sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_LENGTH, 300)
            }
            var large = event(3)
            large.details["note"] = String(repeating: "x", count: 400)
            await #expect(throws: DatabaseError.self) {
                _ = try await store.appendAudit([event(2), large])
            }
            // Nothing of the batch was stored, and the log still verifies.
            let records = try await store.auditRecords(AuditQuery())
            #expect(records.map(\.sequence) == [1])
            #expect(try await store.verifyAudit() == AuditVerification(records: 1))
        }
    }
}
