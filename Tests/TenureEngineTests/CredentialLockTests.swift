import Foundation
import LDAPClient
import TenureEngine
import TenureStore
import TenureVault
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One rotation of a credential at a time across processes (two stores on one database stand for
/// two processes: `tenure serve` and `tenure vault rotate`). A rotation of a command credential
/// whose program waits for a gate file is "running elsewhere" for as long as the test wants.
@Suite(.timeLimit(.minutes(3)))
struct CredentialLockTests {
    struct World {
        let directory: URL
        let key: MasterKey
        let first: SQLiteStore
        let second: SQLiteStore
        let program: String
        var gate: String { self.directory.appendingPathComponent("gate").path }
        var received: String { self.directory.appendingPathComponent("received").path }

        func rotator(_ store: SQLiteStore, actor: String, now: @escaping @Sendable () -> Double) -> CredentialRotator {
            CredentialRotator(
                store: store,
                masterKey: self.key,
                ldap: LDAPConnectionOptions(urls: ["ldap://127.0.0.1:1"]),
                logger: VaultTestSupport.quietLogger,
                actor: actor,
                now: now
            )
        }

        /// Waits until the first rotation has stored its pending version (it is then in its program).
        func waitForPending() async throws {
            for _ in 0..<500 {
                if try await self.first.credentialStatus(named: "app-key")?.pending != nil { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("the first rotation never stored a pending version")
        }
    }

    private func withWorld(_ body: (World) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tenure-lock-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("t.sqlite").path
        let auditKey = try AuditKey.random()
        let first = try SQLiteStore(path: path, auditKey: auditKey)
        let second = try SQLiteStore(path: path, auditKey: auditKey)
        let gate = directory.appendingPathComponent("gate").path
        let received = directory.appendingPathComponent("received").path
        let program = directory.appendingPathComponent("rotate.sh").path
        try "#!/bin/sh\ncat > '\(received)'\nwhile [ ! -f '\(gate)' ]; do sleep 0.02; done\n"
            .write(toFile: program, atomically: true, encoding: .utf8)
        chmod(program, 0o700)
        let world = World(
            directory: directory,
            key: try MasterKey.random(),
            first: first,
            second: second,
            program: program
        )
        try await world.rotator(first, actor: "setup", now: { 1_000 }).enroll(
            name: "app-key",
            kind: .command(path: program),
            currentSecret: "initial",
            policy: PasswordPolicy()
        )
        try await body(world)
    }

    @Test func aRotationWaitsForOneOfTheSameCredentialRunningElsewhere() async throws {
        try await withWorld { world in
            let serve = world.rotator(world.first, actor: "serve", now: { 2_000 })
            let cli = world.rotator(world.second, actor: "cli", now: { 2_000 })
            let running = Task { try await serve.rotate("app-key", reason: "check-in") }
            try await world.waitForPending()

            let second = Task { try await cli.rotate("app-key", reason: "by hand") }
            try await Task.sleep(for: .milliseconds(400))
            // The second rotation waits: it neither settled the running one's pending version nor
            // recorded a failure.
            let meanwhile = try #require(try await world.second.credentialStatus(named: "app-key"))
            #expect(meanwhile.pending?.version == 2)
            #expect(meanwhile.failures == 0)

            #expect(FileManager.default.createFile(atPath: world.gate, contents: nil))
            #expect(try await running.value == .rotated(version: 2))
            #expect(try await second.value == .rotated(version: 3))
            let status = try #require(try await world.first.credentialStatus(named: "app-key"))
            #expect(status.current?.version == 3)
            #expect(status.failures == 0)
            #expect(try await world.first.versions(of: "app-key").map(\.state) == [.retired, .retired, .current])
            let secret = try await VaultTestSupport.secret(world.first, world.key, 3, of: "app-key")
            #expect(try String(contentsOfFile: world.received, encoding: .utf8) == secret)
        }
    }

    @Test func maintenancePassesOverACredentialBeingRotatedElsewhere() async throws {
        try await withWorld { world in
            let serve = world.rotator(world.first, actor: "serve", now: { 2_000 })
            let running = Task { try await serve.rotate("app-key", reason: "check-in") }
            try await world.waitForPending()

            // Long after the pending lease, as a sync with a clock far ahead would see it.
            let pendingSince = try #require(
                try await world.second.credentialStatus(named: "app-key")?.pending?.createdAt
            )
            let sync = world.rotator(
                world.second,
                actor: "sync",
                now: { pendingSince + 10 * CredentialRotator.pendingLease }
            )
            #expect(try await sync.maintain().isEmpty)
            let meanwhile = try #require(try await world.second.credentialStatus(named: "app-key"))
            #expect(meanwhile.pending?.version == 2)
            #expect(meanwhile.failures == 0)

            #expect(FileManager.default.createFile(atPath: world.gate, contents: nil))
            #expect(try await running.value == .rotated(version: 2))
            #expect(try await sync.maintain().isEmpty, "nothing is due once the rotation is done")
        }
    }

    /// A check-out never gets the credential's lock while a rotation of it runs in another process
    /// (it would hand out a secret about to be replaced), and while a check-out holds it, a
    /// rotation elsewhere waits for it (here: gives up after its 200 ms wait).
    @Test func aCheckOutNeverTakesTheLockFromARunningRotation() async throws {
        try await withWorld { world in
            let serve = world.rotator(world.first, actor: "serve", now: { 2_000 })
            var cli = world.rotator(world.second, actor: "cli", now: { 2_000 })
            cli.lockWait = .milliseconds(200)
            do {
                let held = try #require(try await serve.checkoutLock("app-key", holder: "token:ann"))
                await #expect(throws: CredentialLockError.self) {
                    try await cli.rotate("app-key", reason: "by hand")
                }
                withExtendedLifetime(held) {}
            }
            cli.lockWait = .seconds(30)
            let running = Task { try await cli.rotate("app-key", reason: "by hand") }
            for _ in 0..<500 where try await world.first.credentialStatus(named: "app-key")?.pending == nil {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await world.first.credentialStatus(named: "app-key")?.pending != nil)
            #expect(try await serve.checkoutLock("app-key", holder: "token:ann") == nil, "not while it rotates")
            #expect(FileManager.default.createFile(atPath: world.gate, contents: nil))
            _ = try await running.value
            #expect(try await serve.checkoutLock("app-key", holder: "token:ann") != nil, "free once it is done")
        }
    }

    /// A check-out waits a moment for the lock (a maintenance pass that only looks holds it that
    /// long), not for a rotation.
    @Test func aCheckOutWaitsAMomentForTheLock() async throws {
        try await withWorld { world in
            let serve = world.rotator(world.first, actor: "serve", now: { 2_000 })
            let cli = world.rotator(world.second, actor: "cli", now: { 2_000 })
            let (taken, take) = AsyncStream.makeStream(of: Bool.self)
            let holder = Task {
                defer { take.finish() }
                let brief = try await cli.checkoutLock("app-key", holder: "maintenance")
                take.yield(brief != nil)
                try await Task.sleep(for: .milliseconds(50))
                withExtendedLifetime(brief) {}
            }
            for await held in taken {
                #expect(held)
                break
            }
            #expect(try await serve.checkoutLock("app-key", holder: "token:ann", wait: .milliseconds(250)) != nil)
            try await holder.value
        }
    }

    /// A rotation that cannot wait long enough (the server's) records a failure, so maintenance
    /// retries it; the running rotation's success then clears it (its secret is one nobody has seen).
    @Test func aRotationThatCannotWaitIsRecordedAsFailed() async throws {
        try await withWorld { world in
            let serve = world.rotator(world.first, actor: "serve", now: { 2_000 })
            let running = Task { try await serve.rotate("app-key", reason: "check-in") }
            try await world.waitForPending()

            var impatient = world.rotator(world.second, actor: "api", now: { 2_000 })
            impatient.lockWait = .milliseconds(200)
            await #expect(throws: CredentialLockError.self) {
                try await impatient.rotate("app-key", reason: "one-time check-in", requestID: "checkin:co-1")
            }
            let meanwhile = try #require(try await world.second.credentialStatus(named: "app-key"))
            #expect(meanwhile.failures == 1)
            #expect(meanwhile.lastError?.contains("is in use elsewhere (rotation by serve") == true, "\(meanwhile)")
            #expect(meanwhile.pending?.version == 2, "the running rotation's version is untouched")

            #expect(FileManager.default.createFile(atPath: world.gate, contents: nil))
            #expect(try await running.value == .rotated(version: 2))
            #expect(try await world.first.credentialStatus(named: "app-key")?.failures == 0)
        }
    }

    /// A one-time credential checked in while another rotation of it runs: the check-in stands, its
    /// rotation is reported as needing attention and recorded for maintenance to retry.
    @Test func aCheckInStandsWhenItsRotationCannotWait() async throws {
        try await withWorld { world in
            let setup = world.rotator(world.first, actor: "setup", now: { 1_000 })
            try await setup.enroll(
                name: "one-time",
                kind: .command(path: world.program),
                currentSecret: "initial",
                policy: PasswordPolicy(),
                oneTime: true
            )
            try await world.first.recordCheckout(
                CredentialCheckout(
                    id: "co-1",
                    name: "one-time",
                    identityID: "id-ann",
                    username: "ann",
                    version: 1,
                    exclusive: true,
                    checkedOutAt: 1_500
                ),
                audit: []
            )
            // Another process is rotating it (its program waits for the gate).
            let cli = world.rotator(world.second, actor: "cli", now: { 2_000 })
            let running = Task { try await cli.rotate("one-time", reason: "by hand") }
            for _ in 0..<500 where try await world.first.credentialStatus(named: "one-time")?.pending == nil {
                try await Task.sleep(for: .milliseconds(20))
            }

            var api = world.rotator(world.first, actor: "api", now: { 2_000 })
            api.lockWait = .milliseconds(200)
            let result = try await api.checkIn(checkoutID: "co-1")
            #expect(result.checkout.isOpen == false)
            guard case .needsAttention(let reason)? = result.rotation else {
                Issue.record("expected needsAttention, got \(String(describing: result.rotation))")
                return
            }
            #expect(reason.contains("retried by maintenance"))
            #expect(try await world.first.credentialStatus(named: "one-time")?.failures == 1)

            #expect(FileManager.default.createFile(atPath: world.gate, contents: nil))
            #expect(try await running.value == .rotated(version: 2))
        }
    }

    /// Processes that open the database through a symbolic link lock the same files.
    @Test func theLockDirectoryFollowsSymbolicLinks() async throws {
        try await withWorld { world in
            let link = world.directory.appendingPathComponent("link.sqlite").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: world.first.path)
            let linked = try SQLiteStore(path: link, auditKey: try AuditKey.random())
            #expect(linked.credentialLockDirectory == world.first.credentialLockDirectory)
            #expect(world.first.credentialLockDirectory.hasSuffix("/t.sqlite.locks"))
        }
    }
}
