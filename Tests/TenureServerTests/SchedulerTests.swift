import Foundation
import Logging
import TenureConfig
import TenureCore
import TenureEngine
import TenureServer
import Testing

/// When the daemon syncs: the schedule, jitter and back-off after failures.
@Suite struct SchedulerTests {
    static let start: Double = 1_795_774_050  // 2026-11-27T10:07:30Z

    func scheduler(_ when: ScheduleSettings.When, jitter: Double = 0) async throws -> SyncScheduler {
        let harness = try await Harness(mappings: Mappings(), state: PIMState(identities: ["a": person("a", "a")]))
        return SyncScheduler(
            schedule: ScheduleSettings(when: when, jitterSeconds: jitter),
            engine: harness.operations.engine,
            operations: harness.operations,
            lockPath: harness.directory + "/lock",
            logger: Logger(label: "test"),
            pull: { throw CancellationError() }
        )
    }

    @Test func intervalsCronAndJitter() async throws {
        let interval = try await self.scheduler(.interval(seconds: 900))
        #expect(interval.nextRun(after: Self.start, failures: 0) == Self.start + 900)
        let cron = try await self.scheduler(.cron(try CronSchedule("0 * * * *")))
        #expect(isoDate(cron.nextRun(after: Self.start, failures: 0)) == "2026-11-27T11:00:00Z")
        let jittered = try await self.scheduler(.interval(seconds: 900), jitter: 30)
        for _ in 0..<20 {
            let next = jittered.nextRun(after: Self.start, failures: 0)
            #expect((Self.start + 900)...(Self.start + 930) ~= next)
        }
    }

    @Test func failuresBackOffButNeverPastTheSchedule() async throws {
        #expect((1...8).map { SyncScheduler.backoff(afterFailures: $0) } == [30, 60, 120, 240, 480, 900, 900, 900])
        let hourly = try await self.scheduler(.interval(seconds: 3_600))
        #expect(hourly.nextRun(after: Self.start, failures: 1) == Self.start + 30)
        #expect(hourly.nextRun(after: Self.start, failures: 3) == Self.start + 120)
        let often = try await self.scheduler(.interval(seconds: 60))
        #expect(often.nextRun(after: Self.start, failures: 5) == Self.start + 60)
    }

    @Test func aFailedRunIsCountedAndAudited() async throws {
        let harness = try await Harness(mappings: Mappings(), state: PIMState(identities: ["a": person("a", "a")]))
        let scheduler = SyncScheduler(
            schedule: ScheduleSettings(when: .interval(seconds: 60)),
            engine: harness.operations.engine,
            operations: harness.operations,
            lockPath: harness.directory + "/lock",
            logger: Logger(label: "test"),
            pull: { throw URLError(.cannotConnectToHost) }
        )
        #expect(await scheduler.runOnce() == false)
        #expect(harness.operations.metrics.text().contains(#"tenure_sync_runs_total{outcome="failed"} 1"#))
        #expect(try await harness.auditRecords(type: "sync.failed").count == 1)
    }
}
