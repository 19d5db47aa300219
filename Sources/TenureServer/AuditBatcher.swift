import Dispatch
import Foundation
public import Logging
public import NIOCore
public import ServiceLifecycle
import Synchronization
public import TenureCore
public import TenureStore

/// Decisions are audited in batches, never dropped: each request hands its records to the batcher
/// and waits until they are committed (one transaction for everything gathered meanwhile). If the
/// commit fails, every waiting request fails, and the API answers 503: no decision goes out
/// unaudited. On graceful shutdown what is queued is written before the service returns.
///
/// The commits run on a thread of the batcher's own, blocking on SQLite: at tens of thousands of
/// decisions a second, the hops of an async write (task → GRDB's queue → task → each waiter) cost
/// more than the commit. Two ways in, one queue behind a lock: `record` (async, for routes) and
/// `enqueue` (a completion handler, for the decision fast path on a NIO event loop; completions for
/// one event loop are delivered together, one hop per loop and commit). A decision from an event
/// loop wakes the writer at the end of that loop's round of reads, not at once: one commit then
/// takes every request the loop read in the round (a commit costs about as much for one record as
/// for a dozen; woken at the first record, the writer would commit batches of one or two).
public final class AuditBatcher: Service, Sendable {
    public typealias Completion = @Sendable (Result<Void, any Error>) -> Void

    private enum Waiter {
        case direct(Completion)
        case onLoop(any EventLoop, Completion)
    }

    private struct Queue {
        var pending: [AuditEvent] = []
        var waiters: [Waiter] = []
        var stopped = false
        /// The writer thread waits on `wakeup` (set under the lock, signalled after it).
        var sleeping = false
    }

    private let store: SQLiteStore
    private let interval: Double
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    /// Called with the queue depth after every change (for the metrics gauge).
    private let depthObserver: @Sendable (Int) -> Void

    public init(
        store: SQLiteStore,
        flushSeconds: Double,
        logger: Logger,
        depthObserver: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.store = store
        self.interval = max(0, flushSeconds)
        self.logger = logger
        self.depthObserver = depthObserver
    }

    /// Queues the records and returns once they are committed; throws when they could not be.
    public func record(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.enqueue(events, .direct { continuation.resume(with: $0) })
        }
    }

    /// Queues the records; `completion` is called exactly once, on `loop`: with success when they
    /// are committed, with `AuditEventRefused` when one cannot be stored (a NUL in a field: in the
    /// batch it would fail every request waiting on the same commit), with `AuditUnavailable` when
    /// the commit failed or the batcher has stopped.
    public func enqueue(_ events: [AuditEvent], on loop: any EventLoop, completion: @escaping Completion) {
        self.enqueue(events, .onLoop(loop, completion))
    }

    private func enqueue(_ events: [AuditEvent], _ waiter: Waiter) {
        guard !events.isEmpty else { return Self.complete([waiter], .success(())) }
        guard events.allSatisfy(SQLiteStore.isStorable) else {
            return Self.complete([waiter], .failure(AuditEventRefused()))
        }
        let admitted: (depth: Int, wake: Bool)? = self.queue.withLock { queue in
            guard !queue.stopped else { return nil }
            queue.pending.append(contentsOf: events)
            queue.waiters.append(waiter)
            defer { queue.sleeping = false }
            return (queue.pending.count, queue.sleeping)
        }
        guard let admitted else { return Self.complete([waiter], .failure(AuditUnavailable())) }
        if admitted.wake {
            switch waiter {
            case .onLoop(let loop, _) where loop.inEventLoop:
                // Called on `loop`, while it handles what its sockets delivered in this round: the
                // writer is woken once the round is over, so the batch holds every decision the loop
                // read in it (the others see `sleeping` false and only queue), not just the first.
                loop.execute { self.wakeup.signal() }
            case .onLoop, .direct:
                // No round of this thread's to wait for.
                self.wakeup.signal()
            }
        }
        self.depthObserver(admitted.depth)
    }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    let thread = Thread {
                        self.writeUntilStopped()
                        finished.resume()
                    }
                    thread.name = "tenure-audit"
                    thread.start()
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    /// Whether the writer waits for a wake-up (nothing queued): the next record queued from an event
    /// loop is written at the end of that loop's round. For tests.
    var writerIsWaiting: Bool { self.queue.withLock { $0.sleeping } }

    /// Refuses records from now on; the writer commits what is queued and ends.
    private func stop() {
        let wake = self.queue.withLock { queue in
            queue.stopped = true
            defer { queue.sleeping = false }
            return queue.sleeping
        }
        if wake { self.wakeup.signal() }
    }

    private enum Next {
        case batch([AuditEvent], [Waiter])
        case sleep
        case end
    }

    /// The writer thread: one commit for everything queued, then the next.
    private func writeUntilStopped() {
        while true {
            let next: Next = self.queue.withLock { queue in
                if !queue.pending.isEmpty {
                    defer { (queue.pending, queue.waiters) = ([], []) }
                    return .batch(queue.pending, queue.waiters)
                }
                if queue.stopped { return .end }
                queue.sleeping = true
                return .sleep
            }
            switch next {
            case .end:
                return
            case .sleep:
                self.wakeup.wait()
                if self.interval > 0 { Thread.sleep(forTimeInterval: self.interval) }
            case .batch(let events, let waiters):
                self.depthObserver(0)
                do {
                    try self.store.appendAuditBlocking(events)
                    Self.complete(waiters, .success(()))
                } catch {
                    self.logger.error(
                        "audit write failed: the requests waiting for it are refused (503)",
                        metadata: ["error": "\(error)", "records": "\(events.count)"]
                    )
                    Self.complete(waiters, .failure(AuditUnavailable()))
                }
            }
        }
    }

    /// Delivers a result: directly, or in one task per event loop for all of that loop's waiters.
    private static func complete(_ waiters: [Waiter], _ result: Result<Void, any Error>) {
        var loops: [ObjectIdentifier: (loop: any EventLoop, completions: [Completion])] = [:]
        for waiter in waiters {
            switch waiter {
            case .direct(let completion):
                completion(result)
            case .onLoop(let loop, let completion):
                loops[ObjectIdentifier(loop), default: (loop, [])].completions.append(completion)
            }
        }
        for (loop, completions) in loops.values {
            loop.execute { for completion in completions { completion(result) } }
        }
    }
}

/// The audit could not be written (the API answers 503).
public struct AuditUnavailable: Error, Sendable {}

/// A record the store cannot take, built from what a request sent (the API answers 400).
public struct AuditEventRefused: Error, Sendable {}
