public import Logging
public import ServiceLifecycle
public import TenureCore
public import TenureStore

/// Decisions are audited in batches, never dropped: each request hands its records to the batcher
/// and waits until they are committed (one transaction for everything gathered meanwhile). If the
/// commit fails, every waiting request fails, and the API answers 503: no decision goes out
/// unaudited. On graceful shutdown what is queued is written before the service returns.
public actor AuditBatcher: Service {
    private let store: any PIMStore
    private let interval: Duration
    private let logger: Logger
    private var pending: [AuditEvent] = []
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private nonisolated let wakeups: AsyncStream<Void>
    private nonisolated let wake: AsyncStream<Void>.Continuation
    private var stopped = false
    /// Called with the queue depth after every change (for the metrics gauge).
    private let depthObserver: @Sendable (Int) -> Void

    public init(
        store: any PIMStore,
        flushSeconds: Double,
        logger: Logger,
        depthObserver: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.store = store
        self.interval = .milliseconds(max(0, Int(flushSeconds * 1000)))
        self.logger = logger
        self.depthObserver = depthObserver
        (self.wakeups, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues the records and returns once they are committed; throws when they could not be.
    public func record(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        // One request's unstorable record (a NUL in a field) is refused here, alone: in the batch it
        // would fail every request waiting on the same commit.
        guard events.allSatisfy(SQLiteStore.isStorable) else { throw AuditEventRefused() }
        guard !self.stopped else { throw AuditUnavailable() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.pending.append(contentsOf: events)
            self.waiters.append(continuation)
            self.depthObserver(self.pending.count)
            self.wake.yield()
        }
    }

    public nonisolated func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in self.wakeups {
                if self.interval > .zero { try? await Task.sleep(for: self.interval) }
                await self.flush()
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        await self.stop()
    }

    /// Writes what is queued (also the last batch at shutdown) and refuses anything later.
    private func stop() async {
        self.stopped = true
        await self.flush()
    }

    private func flush() async {
        guard !self.pending.isEmpty else { return }
        let events = self.pending
        let waiters = self.waiters
        self.pending = []
        self.waiters = []
        do {
            _ = try await self.store.appendAudit(events)
            for waiter in waiters { waiter.resume() }
        } catch {
            self.logger.error(
                "audit write failed: the requests waiting for it are refused (503)",
                metadata: ["error": "\(error)", "records": "\(events.count)"]
            )
            for waiter in waiters { waiter.resume(throwing: AuditUnavailable()) }
        }
        self.depthObserver(self.pending.count)
    }
}

/// The audit could not be written (the API answers 503).
public struct AuditUnavailable: Error, Sendable {}

/// A record the store cannot take, built from what a request sent (the API answers 400).
public struct AuditEventRefused: Error, Sendable {}
