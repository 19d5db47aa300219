import GRDB

extension SQLiteStore {
    /// Whether the database takes writes now: an immediate transaction (the write lock) is begun and
    /// committed without changing anything. For readiness probes.
    public func checkWritable() async throws {
        try await self.pool.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) { .commit }
        }
    }

    /// The newest audit sequence number (0 for an empty log).
    public func newestAuditSequence() async throws -> Int64 {
        try await self.pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM audit_log") ?? 0
        }
    }
}
