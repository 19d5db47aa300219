import GRDB
import Synchronization

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

extension SQLiteStore {
    /// A passive checkpoint on a connection of its own: copies what the WAL holds back into the
    /// database without taking the writer's lock, so commits go on meanwhile. For stores opened
    /// with `autoCheckpoint: false`. The connection is opened by the first call and kept until
    /// `close()` (it holds no lock between calls).
    /// Returns the frames in the WAL and how many of them are now in the database.
    @discardableResult
    public func checkpointPassively() async throws -> (walFrames: Int, checkpointed: Int) {
        let queue = try self.checkpointConnection.withLock { connection in
            if let connection { return connection }
            var configuration = Configuration()
            configuration.label = "tenure.store.checkpoint"
            configuration.busyMode = .timeout(1)
            let opened = try DatabaseQueue(path: self.path, configuration: configuration)
            connection = opened
            return opened
        }
        return try await queue.writeWithoutTransaction { db in
            let result = try db.checkpoint(.passive)
            return (result.walFrameCount, result.checkpointedFrameCount)
        }
    }
}

extension SQLiteStore {
    /// A passive checkpoint on the writer's connection, between two write transactions: nothing is
    /// appended meanwhile, so it copies the whole WAL back and the next transaction starts the WAL
    /// again from its beginning. Under a steady stream of commits a checkpoint on another connection
    /// never catches up with the end of the WAL, and the WAL would grow without end.
    @discardableResult
    public func checkpointOnWriter() async throws -> (walFrames: Int, checkpointed: Int) {
        try await self.pool.writeWithoutTransaction { db in
            let result = try db.checkpoint(.passive)
            return (result.walFrameCount, result.checkpointedFrameCount)
        }
    }
}

/// Where a store's plans stand: a cheap change marker for what other processes do to the model (a
/// `tenure sync` or `tenure offboard` beside the server). It changes when a plan is saved, with
/// every batch of entries applied while one is open, and when it finishes.
public struct PlanProgress: Hashable, Sendable {
    /// The newest plan's id (0 for none).
    public var newest: Int64
    /// Plans saved and not finished (`pending` or `applying`).
    public var open: Int
    /// Journal entries of those plans that are done.
    public var doneEntries: Int

    public init(newest: Int64, open: Int, doneEntries: Int) {
        self.newest = newest
        self.open = open
        self.doneEntries = doneEntries
    }
}

extension SQLiteStore {
    /// The store's `PlanProgress`, read in one transaction.
    public func planProgress() async throws -> PlanProgress {
        try await self.pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT MAX(id) FROM plan),
                           (SELECT COUNT(*) FROM plan WHERE status IN ('pending', 'applying')),
                           (SELECT COUNT(*) FROM plan_journal WHERE done = 1 AND planID IN
                               (SELECT id FROM plan WHERE status IN ('pending', 'applying')))
                    """
            )
            return PlanProgress(
                newest: row?[0] ?? 0,
                open: row?[1] ?? 0,
                doneEntries: row?[2] ?? 0
            )
        }
    }
}
