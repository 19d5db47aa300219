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
@Suite(.timeLimit(.minutes(2)))
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
}
