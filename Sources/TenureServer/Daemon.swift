public import DirectorySource
import Foundation
public import Logging
public import ServiceLifecycle
public import TenureConfig
import TenureCore
import TenureEngine
public import TenureStore

/// The scheduled sync: on an interval or a cron expression, with random jitter, never two runs at
/// once (the in-process coordinator and the sync lock file, which a CLI `tenure sync` also takes),
/// backing off after directory errors. Each run's outcome goes to the metrics; the engine audits it.
public struct SyncScheduler: Service {
    let schedule: ScheduleSettings
    let operations: Operations
    let lockPath: String
    let pull: @Sendable () async throws -> PullResult
    let afterRun: @Sendable () async -> Void
    let logger: Logger

    public init(
        schedule: ScheduleSettings,
        operations: Operations,
        lockPath: String,
        logger: Logger,
        pull: @escaping @Sendable () async throws -> PullResult,
        afterRun: @escaping @Sendable () async -> Void = {}
    ) {
        self.schedule = schedule
        self.operations = operations
        self.lockPath = lockPath
        self.logger = logger
        self.pull = pull
        self.afterRun = afterRun
    }

    /// Seconds to wait after a failed run: 30 s doubling to 15 minutes (never beyond the next
    /// scheduled run for an interval schedule).
    public static func backoff(afterFailures failures: Int) -> Double {
        min(900, 30 * pow(2, Double(min(max(failures, 1) - 1, 5))))
    }

    /// When the next run starts, after `time`.
    public func nextRun(after time: Double, failures: Int) -> Double {
        let jitter = self.schedule.jitterSeconds > 0 ? Double.random(in: 0...self.schedule.jitterSeconds) : 0
        var next: Double
        switch self.schedule.when {
        case .interval(let seconds): next = time + seconds
        case .cron(let cron): next = cron.next(after: time) ?? time + 86_400
        }
        if failures > 0 { next = min(next, time + Self.backoff(afterFailures: failures)) }
        return next + jitter
    }

    public func run() async throws {
        var failures = 0
        var time = Date().timeIntervalSince1970
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let next = self.nextRun(after: time, failures: failures)
            let wait = max(0, next - Date().timeIntervalSince1970)
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(wait)) }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully { return }
            time = Date().timeIntervalSince1970
            failures = await self.runOnce() ? 0 : failures + 1
        }
    }

    /// One run; true when it did not fail.
    @discardableResult
    public func runOnce() async -> Bool {
        // The lock lives inside `lockedRun` only: what runs after a sync (linking pending HR users)
        // may offboard, and an offboarding takes the sync lock itself — a second holder in this
        // process would wait for this one.
        guard let succeeded = await self.lockedRun() else { return true }
        if succeeded { await self.afterRun() }
        return succeeded
    }

    /// The run, holding the sync lock (let go when it returns); nil when another sync holds it.
    private func lockedRun() async -> Bool? {
        let metrics = self.operations.metrics
        let lock: SyncLock
        do {
            lock = try SyncLock.acquire(path: self.lockPath, purpose: "tenure serve (scheduled sync)")
        } catch {
            self.logger.notice("scheduled sync skipped: another sync holds the lock", metadata: ["error": "\(error)"])
            metrics.syncRun("skipped", actions: 0, leavers: 0)
            return nil
        }
        defer { withExtendedLifetime(lock) {} }
        do {
            // The index follows the sync before the coordinator is let go at the end: an activation
            // or approval queued behind the sync must not be decided on the model from before it.
            // A sync that failed after applying part of its plan must not leave the index
            // permitting what it revoked either. While the plan's rotations run (the coordinator
            // let go meanwhile), the index already denies what the plan revokes and permits what
            // it granted (reloaded before the rotations).
            let report = try await self.operations.coordinator.exclusive {
                let report: SyncEngine.Report
                do {
                    // Without the vault's maintenance: the sweeper runs it outside the sync lock
                    // and the coordinator, so a slow rotation holds up neither offboardings nor
                    // activations.
                    // The operations' engine: it takes each plan out of the index before applying it.
                    report = try await self.operations.engine.sync(
                        allowMassRevoke: false,
                        now: { Date().timeIntervalSince1970 },
                        pull: self.pull,
                        vaultMaintenance: false
                    )
                } catch {
                    do {
                        try await self.operations.reloadIndexUnlocked()
                    } catch let reload {
                        self.logger.error("index reload after a failed sync failed", metadata: ["error": "\(reload)"])
                    }
                    throw error
                }
                try await self.operations.reloadIndexUnlocked()
                return report
            }
            let summary = report.plan.summary
            let outcome = report.held ? "held" : (report.planID == nil ? "no_change" : "applied")
            metrics.syncRun(outcome, actions: report.applied, leavers: summary.leavers)
            self.logger.info(
                "scheduled sync",
                metadata: [
                    "outcome": "\(outcome)", "applied": "\(report.applied)", "leavers": "\(summary.leavers)",
                    "plan": "\(report.planID.map(String.init) ?? "-")",
                ]
            )
            return true
        } catch {
            metrics.syncRun("failed", actions: 0, leavers: 0)
            self.logger.error("scheduled sync failed; backing off", metadata: ["error": "\(error)"])
            return false
        }
    }
}

/// Every `sweepIntervalSeconds`, the steps it is given, one after another. `tenure serve` runs two:
/// one records expired activations (decisions already deny at expiry) and carries out offboardings
/// that fell due; the other checks in overdue check-outs and runs the vault's maintenance (retries
/// of failed rotations, max age), which may take minutes and so has a loop of its own.
public struct Sweeper: Service {
    let operations: Operations
    let interval: Double
    let logger: Logger
    let steps: [@Sendable () async throws -> Void]

    public init(operations: Operations, interval: Double, logger: Logger, steps: [@Sendable () async throws -> Void]) {
        self.operations = operations
        self.interval = interval
        self.logger = logger
        self.steps = steps
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(self.interval)) }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully { return }
            await self.sweep()
        }
    }

    /// One pass; a step's failure is logged and the next step still runs.
    public func sweep() async {
        for step in self.steps {
            do {
                try await step()
            } catch {
                self.logger.error("sweeper step failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Keeps the WAL short for a store opened with `autoCheckpoint: false`: a passive checkpoint every
/// `interval` seconds on a connection of its own, off the request path, finished on the writer's
/// connection when commits kept it from reaching the WAL's end.
public struct Checkpointer: Service {
    let store: SQLiteStore
    let interval: Double
    let logger: Logger

    /// `interval`: a quarter of a second keeps what the writer's part copies and syncs small (a
    /// few milliseconds of stall under a stream of decisions, instead of 10–20 once a second).
    public init(store: SQLiteStore, interval: Double = 0.25, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(self.interval)) }
            } catch {
                break
            }
            do {
                try await self.checkpoint()
            } catch {
                self.logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
        // A last one, so the database file holds everything when the server stops.
        _ = try? await self.store.checkpointPassively()
    }

    /// One pass. The WAL is copied back beside the writer; under a steady stream of commits
    /// (audited decisions) more are appended meanwhile and the WAL never starts again from its
    /// top — it would grow without end. So what came meanwhile is copied on the writer's
    /// connection, between two commits: the next commit starts the WAL again.
    public func checkpoint() async throws {
        let passive = try await self.store.checkpointPassively()
        if passive.walFrames > 0 {
            try await self.store.checkpointOnWriter()
        }
    }
}
