import Foundation
import Synchronization
import Testing

@testable import TenureCore
@testable import TenureStore

/// A store without automatic checkpoints keeps writing; a passive checkpoint from another
/// connection moves the WAL into the database.
@Suite struct CheckpointTests {
    @Test func passiveCheckpointsCatchUpWithoutStoppingWrites() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tenure-ckpt-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(
            path: directory.appendingPathComponent("t.sqlite").path,
            auditKey: AuditKey.random(),
            autoCheckpoint: false
        )
        for batch in 0..<20 {
            _ = try await store.appendAudit(
                (0..<100).map { AuditEvent(time: Double(batch * 100 + $0), actor: "test", type: "access.decision") }
            )
        }
        let first = try await store.checkpointPassively()
        #expect(first.walFrames > 0)
        #expect(first.checkpointed == first.walFrames, "no reader or writer held it back")
        // Writes go on after it; the chain is intact.
        _ = try await store.appendAudit([AuditEvent(time: 5_000, actor: "test", type: "access.decision")])
        #expect(try await store.newestAuditSequence() == 2_001)
        #expect(try await store.verifyAudit().isIntact)
        // Later passes reuse the first pass's connection (the server runs one every 0.25 s).
        let connection = try #require(store.checkpointConnection.withLock { $0.map(ObjectIdentifier.init) })
        for _ in 0..<3 { try await store.checkpointPassively() }
        #expect(store.checkpointConnection.withLock { $0.map(ObjectIdentifier.init) } == connection)
        try store.close()
        #expect(store.checkpointConnection.withLock { $0 == nil })
    }
}
