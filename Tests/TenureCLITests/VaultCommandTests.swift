import Foundation
import SlapdFixture
import Testing

/// `tenure vault` through the binary, against slapd.
@Suite(.timeLimit(.minutes(5)))
struct VaultCommandTests {
    static let account = "cn=svc-db,ou=services,dc=tenure,dc=test"

    /// Whether `password` binds as the service account (ldapwhoami, independent of Tenure).
    private func binds(_ server: SlapdServer, _ password: String, in directory: String) throws -> Bool {
        let file = try write(password, to: "probe-\(UUID().uuidString.prefix(6))", in: directory)
        chmod(file, 0o600)
        defer { unlink(file) }
        let output = try run("/usr/bin/ldapwhoami", ["-x", "-H", server.url, "-D", Self.account, "-y", file])
        return output.status == 0
    }

    @Test func initAddRotateShowAndNoSecretInAnyOutput() async throws {
        let initial = "Initial-\(UUID().uuidString)"
        let data = """
            dn: \(Self.account)
            objectClass: organizationalRole
            objectClass: simpleSecurityObject
            cn: svc-db
            userPassword: \(initial)

            """
        try await withSlapd(data: Sample.ldif + "\n\n" + data) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory, vault: true)
                var outputs: [CLIRun] = []
                func tenure(_ arguments: [String]) throws -> CLIRun {
                    let result = try world.tenure(arguments)
                    outputs.append(result)
                    return result
                }

                let created = try tenure(["vault", "init"])
                #expect(created.status == 0, "\(created)")
                var info = stat()
                #expect(stat(directory + "/vault.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
                #expect(try tenure(["vault", "init"]).status == 1)  // never overwritten

                let secretFile = try write(initial + "\n", to: "initial.secret", in: directory)
                #expect(try tenure(["vault", "add", "db-root", "--ldap-account", Self.account]).status == 64)
                let added = try tenure([
                    "vault", "add", "db-root", "--ldap-account", Self.account, "--secret-file", secretFile,
                ])
                #expect(added.status == 0, "\(added)")
                #expect(try tenure(["vault", "list"]).stdout.contains("db-root"))

                let rotated = try tenure(["vault", "rotate", "db-root"])
                #expect(rotated.status == 0, "\(rotated)")
                #expect(rotated.stdout.contains("rotated to version 2"))
                #expect(try !self.binds(server, initial, in: directory))

                let shown = try tenure(["vault", "show", "db-root"])
                #expect(shown.stdout.contains("v1  retired"))
                #expect(shown.stdout.contains("v2  current"))
                #expect(try tenure(["vault", "reconcile"]).stdout.contains("Nothing to reconcile"))
                #expect(try tenure(["audit", "verify"]).status == 0)
                let audit = try tenure(["audit", "export", "--format", "jsonl"])
                #expect(audit.stdout.contains("credential.rotated"))

                // The secret never appears in any output, audit export included.
                for output in outputs {
                    #expect(
                        !output.allOutput.contains(initial),
                        "leaked by: tenure \(output.arguments.joined(separator: " "))"
                    )
                }
            }
        }
    }

    /// Ctrl-C on `tenure vault rotate` stops the rotation program too, even one that ignores
    /// SIGTERM (SIGKILL to its process group 5 s later): the program has a process group of its own,
    /// which the terminal's signal never reaches, and must not be left running with nobody to wait
    /// for it. The rotation stays pending for reconcile; tenure ends by the signal, as it would have.
    @Test func ctrlCStopsTheRotationProgram() async throws {
        let script = { (directory: String) in
            "#!/bin/sh\ntrap '' TERM\necho $$ > '\(directory)/program.pid'\ncat > /dev/null\nwhile :; do sleep 0.05; done\n"
        }
        try await withCommandCredential(script) { world, directory in
            let pidFile = directory + "/program.pid"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try TenureBinary.require())
            process.arguments = ["vault", "rotate", "app-key", "--config", world.config]
            process.environment = cliEnvironment()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let programPID = try await rotationProgramPID(in: pidFile)
            defer { if programPID > 0 { kill(-programPID, SIGKILL) } }  // whatever the outcome
            try #require(programPID > 0, "the rotation program never started")

            process.interrupt()  // SIGINT, as Ctrl-C sends it to tenure's process group
            for _ in 0..<1_000 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            try #require(!process.isRunning, "tenure did not end")
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(process.terminationStatus == SIGINT)
            // Gone, or a zombie waiting for init to reap it: not running either way.
            let state = processState(programPID)
            #expect(state == nil || state == "Z", "the program is still running (state \(state ?? "?"))")

            let shown = try world.tenure(["vault", "show", "app-key"])
            #expect(shown.stdout.contains("v2  pending"), "\(shown)")
        }
    }

    /// A command started with SIGINT ignored (a script's background job, `nohup` for SIGHUP) keeps
    /// it ignored: Ctrl-C in that terminal stops neither tenure nor its program, and the rotation
    /// finishes.
    @Test func aSignalTheCommandWasStartedIgnoringStaysIgnored() async throws {
        let script = { (directory: String) in
            "#!/bin/sh\ncat > /dev/null\n: > '\(directory)/started'\nwhile [ ! -e '\(directory)/gate' ]; do sleep 0.02; done\n"
        }
        try await withCommandCredential(script) { world, directory in
            let started = directory + "/started"
            let gate = directory + "/gate"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            // exec keeps the ignored disposition, as a shell's background job has it.
            process.arguments = [
                "-c", "trap '' INT; exec \"$0\" vault rotate app-key --config \"$1\"",
                try TenureBinary.require(), world.config,
            ]
            process.environment = cliEnvironment()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            for _ in 0..<1_000 where !FileManager.default.fileExists(atPath: started) {
                try await Task.sleep(for: .milliseconds(20))
            }
            try #require(FileManager.default.fileExists(atPath: started), "the rotation program never started")
            kill(process.processIdentifier, SIGINT)
            try await Task.sleep(for: .milliseconds(300))
            #expect(process.isRunning, "tenure ended on a signal it was started ignoring")
            #expect(FileManager.default.createFile(atPath: gate, contents: nil))
            for _ in 0..<1_000 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0)
            let shown = try world.tenure(["vault", "show", "app-key"])
            #expect(shown.stdout.contains("v2  current"), "\(shown)")
        }
    }

    /// `state.rotationProgramTimeLimitSeconds` is the rotation program's time limit: a program
    /// still running after 1 s is stopped, and the rotation is left for a person.
    @Test func theProgramTimeLimitComesFromTheConfiguration() async throws {
        let script = { (_: String) in "#!/bin/sh\ncat > /dev/null\nexec sleep 60\n" }
        try await withCommandCredential(script, extra: "  rotationProgramTimeLimitSeconds: 1\n") { world, _ in
            let start = ContinuousClock.now
            let rotated = try world.tenure(["vault", "rotate", "app-key"])
            let elapsed = ContinuousClock.now - start
            #expect(rotated.allOutput.contains("did not finish within 1 s and was stopped"), "\(rotated)")
            #expect(elapsed < .seconds(20), "took \(elapsed)")  // the default limit would take 120 s
            let shown = try world.tenure(["vault", "show", "app-key"])
            #expect(shown.stdout.contains("v2  pending"), "\(shown)")
        }
    }
}
