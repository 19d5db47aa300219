import Dispatch
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
    /// Counts the batches the writer takes (the batcher reports a depth of 0 for each).
    final class Batches: Sendable {
        let taken = Atomic<Int>(0)
        var count: Int { self.taken.load(ordering: .relaxed) }
    }

    /// A running batcher over a fresh store, its writer waiting for records.
    static func withBatcher(_ body: (AuditBatcher, SQLiteStore, Batches) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenure-batcher-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(path: directory + "/a.sqlite", auditKey: AuditKey.random())
        let batches = Batches()
        let batcher = AuditBatcher(store: store, flushSeconds: 0, logger: Logger(label: "tests")) { depth in
            if depth == 0 { batches.taken.add(1, ordering: .relaxed) }
        }
        let running = Task { try await batcher.run() }
        defer { running.cancel() }
        for _ in 0..<500 where !batcher.writerIsWaiting { try await Task.sleep(for: .milliseconds(10)) }
        #expect(batcher.writerIsWaiting)
        try await body(batcher, store, batches)
    }

    @Test func decisionsQueuedInOneRoundOfALoopAreOneCommit() async throws {
        try await Self.withBatcher { batcher, store, batches in
            // A first record, through the direct way in; then wait until the writer waits again.
            try await batcher.record([Self.event(0)])
            for _ in 0..<500 where !batcher.writerIsWaiting { try await Task.sleep(for: .milliseconds(10)) }
            #expect(batcher.writerIsWaiting)
            let before = batches.count

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
                return batches.count - before
            }.get()
            #expect(takenDuringTheRound == 0)
            for await _ in allAnswered.stream {}
            #expect(results.withLock { $0 } == Array(repeating: true, count: 10))
            #expect(batches.count - before == 1, "one commit for the round's ten decisions")
            #expect(try await store.auditRecords(AuditQuery()).count == 11)
            try await group.shutdownGracefully()
        }
    }

    /// Queued for a loop from another thread (no round of that loop to wait for), a record wakes the
    /// writer at once: it is written while the loop is still busy.
    @Test func aRecordQueuedOffItsLoopIsWrittenAtOnce() async throws {
        try await Self.withBatcher { batcher, _, batches in
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let loop = group.next()
            let released = DispatchSemaphore(value: 0)
            // The loop is busy until released.
            loop.execute { released.wait() }
            let answered = AsyncStream<Bool>.makeStream()
            batcher.enqueue([Self.event(1)], on: loop) { result in
                answered.continuation.yield((try? result.get()) != nil)
                answered.continuation.finish()
            }
            var written = false
            for _ in 0..<300 where !written {
                written = batches.count == 1
                if !written { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(written, "written while the loop was busy")
            released.signal()
            var results: [Bool] = []
            for await result in answered.stream { results.append(result) }
            #expect(results == [true])
            try await group.shutdownGracefully()
        }
    }

    static func event(_ time: Double) -> AuditEvent {
        AuditEvent(time: time, actor: "api:tests", type: "access.decision", subject: "ann", outcome: "permit")
    }
}
