import Foundation
import LDAPClient
import TenureStore
import TenureVault
import Testing

@testable import TenureEngine

#if canImport(Glibc)
import Glibc
#endif

/// A `--command` credential's program runs with the new secret on stdin and nothing else of the
/// process that runs it, within a time limit: one that does not finish is stopped with what it
/// started, and the rotation needs attention with both secrets kept.
@Suite(.timeLimit(.minutes(3)))
struct RotationProgramTests {
    struct World {
        let directory: String
        let store: SQLiteStore
        let key: MasterKey
        var rotator: CredentialRotator

        func path(_ name: String) -> String { self.directory + "/" + name }

        /// Enrols `app-key` with a program made of `script` (after `#!/bin/sh`).
        func enroll(_ script: String) async throws {
            let program = self.path("rotate.sh")
            try ("#!/bin/sh\n" + script).write(toFile: program, atomically: true, encoding: .utf8)
            chmod(program, 0o700)
            try await self.rotator.enroll(
                name: "app-key",
                kind: .command(path: program),
                currentSecret: "Initial-Secret-0",
                policy: PasswordPolicy()
            )
        }
    }

    private func withWorld(_ body: (inout World) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tenure-program-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStore(path: directory + "/t.sqlite", auditKey: AuditKey.random())
        let key = try MasterKey.random()
        var world = World(
            directory: directory,
            store: store,
            key: key,
            rotator: CredentialRotator(
                store: store,
                masterKey: key,
                ldap: LDAPConnectionOptions(urls: ["ldap://127.0.0.1:1"]),
                logger: VaultTestSupport.quietLogger,
                actor: "test"
            )
        )
        try await body(&world)
    }

    /// Whether the process is gone (or a zombie nobody has reaped yet: it runs no more).
    static func hasEnded(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // "pid (comm) S ...": the state follows the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    @Test func theProgramGetsTheSecretOnStdinAndNoOtherDescriptor() async throws {
        try await withWorld { world in
            // Descriptors this process holds without close-on-exec, as a server's socket, its
            // database or another rotation's pipe may be: none may reach the program.
            let file = open(world.path("t.sqlite"), O_RDONLY)
            #expect(file >= 0)
            defer { close(file) }
            var pipeEnds: [Int32] = [0, 0]
            #expect(pipe(&pipeEnds) == 0)
            defer { for end in pipeEnds { close(end) } }

            try await world.enroll("cat > '\(world.path("received"))'\nls /proc/self/fd > '\(world.path("fds"))'\n")
            #expect(try await world.rotator.rotate("app-key", reason: "test") == .rotated(version: 2))
            let secret = try await VaultTestSupport.secret(world.store, world.key, 2, of: "app-key")
            #expect(try String(contentsOfFile: world.path("received"), encoding: .utf8) == secret)
            // 0: the secret's pipe, 1: the list, 2: /dev/null, 3: the directory `ls` reads.
            let fds = try String(contentsOfFile: world.path("fds"), encoding: .utf8)
            #expect(fds.split(separator: "\n") == ["0", "1", "2", "3"], "\(fds)")
        }
    }

    @Test func aProgramThatDoesNotFinishIsStoppedWithWhatItStartedAndBothSecretsAreKept() async throws {
        try await withWorld { world in
            world.rotator.commandTimeLimit = .milliseconds(500)
            try await world.enroll(
                """
                cat > /dev/null
                echo $$ > '\(world.path("program.pid"))'
                sh -c 'trap "" TERM; echo $$ > "\(world.path("child.pid"))"; while :; do sleep 1; done' &
                while [ ! -s '\(world.path("child.pid"))' ]; do sleep 0.01; done
                wait

                """
            )
            // The program never ends on its own: a rotation that returns at all stopped it. The
            // bound is far above the 0.5 s limit: on a loaded two-core machine running the whole
            // suite, starting, stopping and reaping the programs took up to 12 s.
            let started = ContinuousClock.now
            let outcome = try await world.rotator.rotate("app-key", reason: "test")
            #expect(ContinuousClock.now - started < .seconds(60))
            guard case .needsAttention(let reason) = outcome else {
                Issue.record("expected needsAttention, got \(outcome)")
                return
            }
            #expect(reason.contains("did not finish within 0.5 s and was stopped"), "\(reason)")
            #expect(reason.contains("promote or abandon version 2"), "\(reason)")
            let status = try #require(try await world.store.credentialStatus(named: "app-key"))
            #expect(status.current?.version == 1)
            #expect(status.pending?.version == 2, "the new secret is kept: the program may have set it")
            #expect(status.failures == 1)
            // The program and the process it started, which ignores SIGTERM, are stopped.
            for name in ["program.pid", "child.pid"] {
                let text = try String(contentsOfFile: world.path(name), encoding: .utf8)
                let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                var ended = Self.hasEnded(pid)
                for _ in 0..<100 where !ended {
                    try await Task.sleep(for: .milliseconds(20))
                    ended = Self.hasEnded(pid)
                }
                #expect(ended, "\(name) \(pid) still runs")
            }
            let audit = try await VaultTestSupport.auditText(world.store)
            #expect(!audit.contains(try await VaultTestSupport.secret(world.store, world.key, 2, of: "app-key")))
        }
    }

    /// The secret is written with SIGPIPE held off: a program that closed its stdin first must
    /// not end the process that runs it.
    @Test func aWriteToAProgramThatClosedItsStdinFailsWithoutASignal() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[1]) }
        close(ends[0])
        var action = sigaction()
        sigaction(SIGPIPE, nil, &action)
        // At its default action, a SIGPIPE delivered here would end this process; one left pending
        // (this thread may block signals: libdispatch's do) would be delivered later, elsewhere.
        #expect(action.__sigaction_handler.sa_handler == nil, "SIGPIPE is not at its default action here")
        var maskBefore = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &maskBefore)
        #expect(RotationProgram.writeAll(Array("Secret-Value-1".utf8), to: ends[1]) == false)
        var pending = sigset_t()
        sigpending(&pending)
        #expect(sigismember(&pending, SIGPIPE) == 0, "a SIGPIPE is left pending")
        var maskAfter = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &maskAfter)
        #expect(sigismember(&maskAfter, SIGPIPE) == sigismember(&maskBefore, SIGPIPE), "the mask is not restored")
        #expect(RotationProgram.writeAll([], to: ends[1]))
    }

    @Test func aProgramThatExitsWithoutReadingItsStdinLeavesTheCurrentSecret() async throws {
        try await withWorld { world in
            try await world.enroll("exit 4\n")
            let outcome = try await world.rotator.rotate("app-key", reason: "test")
            #expect(outcome == .unchanged(reason: "\(world.path("rotate.sh")) exited with status 4"))
            let status = try #require(try await world.store.credentialStatus(named: "app-key"))
            #expect(status.current?.version == 1)
            #expect(status.pending == nil)
        }
    }

    /// A command being interrupted (Ctrl-C) starts no program: the rotation that comes next — a
    /// leaver's next credential — is recorded as failed, with no pending version, so that the
    /// vault's maintenance rotates it later (the secret the leaver knew must not stay).
    @Test func anInterruptedCommandStartsNoProgramAndRecordsTheFailure() async throws {
        try await withWorld { world in
            let started = world.path("started")
            try await world.enroll(": > '\(started)'\ncat > /dev/null\n")
            world.rotator.isInterrupted = { true }
            await #expect(throws: CredentialRotator.RotationError.self) {
                _ = try await world.rotator.rotate("app-key", reason: "leaver")
            }
            #expect(!FileManager.default.fileExists(atPath: started), "the program was started")
            let status = try #require(try await world.store.credentialStatus(named: "app-key"))
            #expect(status.current?.version == 1)
            #expect(status.pending == nil)
            #expect(status.failures == 1)
            #expect(status.lastError == "not rotated: the command was interrupted")
            #expect(status.nextAttemptAt != nil)

            // The next run, not interrupted: the program runs and the rotation succeeds.
            world.rotator.isInterrupted = { false }
            let retried = try await world.rotator.rotate("app-key", reason: "retry")
            #expect(retried == .rotated(version: 2))
            #expect(FileManager.default.fileExists(atPath: started))
        }
    }
}
