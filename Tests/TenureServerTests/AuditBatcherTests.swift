import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TenureCore
import TenureCrypto
import TenureStore
import Testing

@testable import TenureServer

/// The audit batcher commits, for decisions answered on an event loop, once per round of that
/// loop's reads: everything the loop queued in the round goes into one commit.
@Suite struct AuditBatcherTests {
    @Test func decisionsQueuedInOneRoundOfALoopAreOneCommit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenure-batcher-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(path: directory + "/a.sqlite", auditKey: AuditKey.random())
        // The batcher reports a depth of 0 each time its writer takes a batch.
        let taken = Atomic<Int>(0)
        let batcher = AuditBatcher(store: store, flushSeconds: 0, logger: Logger(label: "tests")) { depth in
            if depth == 0 { taken.add(1, ordering: .relaxed) }
        }
        let running = Task { try await batcher.run() }
        defer { running.cancel() }
        // A first record, through the direct way in: the writer is running; then wait until it
        // waits again.
        try await batcher.record([Self.event(0)])
        for _ in 0..<500 where !batcher.writerIsWaiting { try await Task.sleep(for: .milliseconds(10)) }
        #expect(batcher.writerIsWaiting)
        let before = taken.load(ordering: .relaxed)

        // A loop of the test's own: it is held for the round below, and no other test's clients
        // share it.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let results = Mutex<[Bool]>([])
        let allAnswered = AsyncStream<Void>.makeStream()
        let takenDuringTheRound = try await loop.submit {
            for index in 1...10 {
                batcher.enqueue([Self.event(Double(index))], on: loop) { result in
                    let count = results.withLock { results in
                        results.append((try? result.get()) != nil)
                        return results.count
                    }
                    if count == 10 { allAnswered.continuation.finish() }
                }
            }
            // Still the same round: the writer must not take anything yet, however long it lasts.
            Thread.sleep(forTimeInterval: 0.3)
            return taken.load(ordering: .relaxed) - before
        }.get()
        #expect(takenDuringTheRound == 0)
        for await _ in allAnswered.stream {}
        #expect(results.withLock { $0 } == Array(repeating: true, count: 10))
        #expect(taken.load(ordering: .relaxed) - before == 1, "one commit for the round's ten decisions")
        #expect(try await store.auditRecords(AuditQuery()).count == 11)
        try await group.shutdownGracefully()
    }

    static func event(_ time: Double) -> AuditEvent {
        AuditEvent(time: time, actor: "api:tests", type: "access.decision", subject: "ann", outcome: "permit")
    }
}
