import DirectorySource
import Foundation
import Logging
import Synchronization
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureServer
import TenureStore
import TenureVault
import Testing

/// When the daemon syncs: the schedule, jitter and back-off after failures.
@Suite struct SchedulerTests {
    static let start: Double = 1_795_774_050  // 2026-11-27T10:07:30Z

    func scheduler(_ when: ScheduleSettings.When, jitter: Double = 0) async throws -> SyncScheduler {
        let harness = try await Harness(mappings: Mappings(), state: PIMState(identities: ["a": person("a", "a")]))
        return SyncScheduler(
            schedule: ScheduleSettings(when: when, jitterSeconds: jitter),
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

    /// What runs after a sync (linking pending HR users, which may offboard) runs once the sync
    /// lock is let go: an offboarding takes that lock, and waiting for it under the daemon's own
    /// hold blocked for 30 s and lost the termination.
    @Test func whatRunsAfterASyncRunsWithoutTheSyncLock() async throws {
        let harness = try await Harness(mappings: Mappings(), state: PIMState(identities: ["a": person("a", "a")]))
        let lockPath = harness.store.path + ".lock"
        let free = Mutex<Bool?>(nil)
        let scheduler = SyncScheduler(
            schedule: ScheduleSettings(when: .interval(seconds: 60)),
            operations: harness.operations,
            lockPath: lockPath,
            logger: Logger(label: "test"),
            pull: {
                PullResult(
                    snapshot: DirectorySnapshot(
                        identities: [Identity(id: "a", dn: "uid=a,ou=people,dc=t", username: "a")],
                        groups: []
                    ),
                    server: "ldap://127.0.0.1:1",
                    entriesRead: 1,
                    seconds: 0
                )
            },
            afterRun: {
                let lock = try? SyncLock.acquire(path: lockPath, purpose: "an offboarding after the sync")
                free.withLock { $0 = lock != nil }
            }
        )
        #expect(await scheduler.runOnce())
        #expect(free.withLock { $0 } == true)
    }

    @Test func aFailedRunIsCountedAndAudited() async throws {
        let harness = try await Harness(mappings: Mappings(), state: PIMState(identities: ["a": person("a", "a")]))
        let scheduler = SyncScheduler(
            schedule: ScheduleSettings(when: .interval(seconds: 60)),
            operations: harness.operations,
            lockPath: harness.directory + "/lock",
            logger: Logger(label: "test"),
            pull: { throw URLError(.cannotConnectToHost) }
        )
        #expect(await scheduler.runOnce() == false)
        #expect(harness.operations.metrics.text().contains(#"tenure_sync_runs_total{outcome="failed"} 1"#))
        #expect(try await harness.auditRecords(type: "sync.failed").count == 1)
    }

    /// The index follows a sync before the coordinator is let go: what was queued behind the sync
    /// (an activation, an approval) is decided on the model the sync left, also when it failed
    /// after changing the store.
    @Test func whatWaitedForTheSyncSeesTheModelItLeft() async throws {
        let mappings = Mappings(roles: [RoleDefinition(name: "db-read", tier: 2, mode: .standing)])
        let harness = try await Harness(
            mappings: mappings,
            state: PIMState(
                identities: ["a": person("a", "ann")],
                assignments: [Assignment(identityID: "a", role: "db-read", state: .active, source: "rule:r", since: 0)]
            )
        )
        let operations = harness.operations
        let queued = Mutex<Task<Bool, Never>?>(nil)
        let scheduler = SyncScheduler(
            schedule: ScheduleSettings(when: .interval(seconds: 60)),
            operations: operations,
            lockPath: harness.directory + "/lock",
            logger: Logger(label: "test"),
            pull: {
                // The run changes the store (ann disabled), a decision queues behind it, and the
                // run then fails.
                try await harness.store.seed(PIMState(identities: ["a": person("a", "ann", state: .disabled)]))
                queued.withLock {
                    $0 = Task {
                        await operations.coordinator.exclusive {
                            let request = EvaluationRequest(
                                subject: Subject(type: "user", id: "ann"),
                                resource: Resource(type: "role", id: "db-read"),
                                action: Action(name: "assume")
                            )
                            return operations.index.evaluate(request, now: Date().timeIntervalSince1970).allowed
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(50))  // the decision is queued by now
                throw URLError(.cannotConnectToHost)
            }
        )
        #expect(await scheduler.runOnce() == false)
        let task = try #require(queued.withLock { $0 })
        #expect(await task.value == false, "decided on the index from before the sync")
    }

    /// A scheduled sync takes a leaver's access out of the index before it applies its plan: while
    /// the plan still rotates a credential the leaver could know (a slow target), decisions for them
    /// already deny (before, the index followed only once the whole plan was applied), what it
    /// granted is permitted, and other changes do not wait for the rotation.
    @Test func aLeaverIsDeniedWhileTheSyncStillRotates() async throws {
        let harness = try await Harness(
            mappings: Mappings(
                roles: [RoleDefinition(name: "app-admin", tier: 1, mode: .standing, credentials: ["app-slow"])],
                // bob (in the directory) is granted the role by this sync.
                rules: [Rule(name: "everyone", when: .always, grant: "app-admin", mode: .standing)],
                guardSettings: LeaverGuard(maxLeaverPercent: 100, maxRevokedPercent: 100)
            ),
            state: PIMState(
                identities: ["id-ann": person("id-ann", "ann"), "id-bob": person("id-bob", "bob")],
                assignments: [
                    Assignment(identityID: "id-ann", role: "app-admin", state: .active, source: "manual", since: 0)
                ]
            ),
            vault: true
        )
        let slow = try CredentialAPITests.SlowProgram(in: harness.directory, name: "app-slow")
        let rotator = try #require(harness.operations.engine.rotator)
        try await rotator.enroll(
            name: "app-slow",
            kind: .command(path: slow.path),
            currentSecret: "Slow-One-Secret",
            policy: PasswordPolicy()
        )
        let scheduler = SyncScheduler(
            schedule: ScheduleSettings(when: .interval(seconds: 60)),
            operations: harness.operations,
            lockPath: harness.directory + "/lock",
            logger: Logger(label: "test"),
            pull: {
                // ann is gone from the directory: a leaver.
                PullResult(
                    snapshot: DirectorySnapshot(
                        identities: [Identity(id: "id-bob", dn: "uid=bob,ou=people,dc=t", username: "bob")],
                        groups: []
                    ),
                    server: "ldap://127.0.0.1:1",
                    entriesRead: 1,
                    seconds: 0
                )
            }
        )
        let index = harness.operations.index
        let request = EvaluationRequest(
            subject: Subject(type: "user", id: "ann"),
            resource: Resource(type: "role", id: "app-admin"),
            action: Action(name: "assume")
        )
        #expect(index.evaluate(request, now: Date().timeIntervalSince1970).allowed)
        let run = Task { await scheduler.runOnce() }
        try await slow.waitUntilStarted()
        let during = index.evaluate(request, now: Date().timeIntervalSince1970)
        // The sync's grant to bob is committed before the rotations and decided on during them.
        var bobs = request
        bobs.subject = Subject(type: "user", id: "bob")
        let bobDuring = index.evaluate(bobs, now: Date().timeIntervalSince1970)
        // The rotations run with the coordinator let go: a change queued meanwhile (an activation,
        // a check-out) is not held up by them.
        let coordinator = harness.operations.coordinator
        let changed = try await CredentialAPITests.promptly("a change during the sync's rotation", while: slow) {
            await coordinator.exclusive { true }
        }
        #expect(changed)
        slow.finish()
        #expect(during.allowed == false, "permitted while the sync rotated the leaver's credential")
        #expect(during.reason == .identityInactive)
        #expect(bobDuring.allowed, "the sync's grant was not decided on during its rotations")
        #expect(await run.value)
        #expect(index.evaluate(request, now: Date().timeIntervalSince1970).allowed == false)
        #expect(try await harness.store.credentialStatus(named: "app-slow")?.current?.version == 2)
    }
}
