import Foundation
import SlapdFixture
import TenureCore
import TenureStore
import Testing

/// The sweeper as `tenure serve` wires it: a check-out left open past its due time is checked in by
/// the daemon itself (audited by `sweeper`, with the reason), and a one-time credential is rotated.
@Suite(.timeLimit(.minutes(5)))
struct ServeSweeperTests {
    @Test func theDaemonChecksInAnOverdueCheckOutAndRotatesItsOneTimeCredential() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(
                    server: server,
                    directory: directory,
                    vault: true,
                    extra: "server:\n  sweepIntervalSeconds: 1\n"
                )
                #expect(try world.tenure(["vault", "init"]).status == 0)
                let received = directory + "/received"
                let program = try write("#!/bin/sh\ncat > '\(received)'\n", to: "rotate.sh", in: directory)
                chmod(program, 0o700)
                let secretFile = try write("initial-secret\n", to: "initial.secret", in: directory)
                chmod(secretFile, 0o600)
                let added = try world.tenure([
                    "vault", "add", "app-key", "--command", program, "--secret-file", secretFile, "--one-time",
                ])
                try #require(added.status == 0, "\(added)")
                let sync = try world.tenure(["sync"])
                try #require(sync.status == 0, "\(sync)")

                // Checked out two hours ago, due an hour ago; the holder never came back.
                let store = try world.store()
                let now = Date().timeIntervalSince1970
                try await store.recordCheckout(
                    CredentialCheckout(
                        id: "co-overdue",
                        name: "app-key",
                        identityID: "id-kmueller",
                        username: "kmueller",
                        version: 1,
                        exclusive: true,
                        checkedOutAt: now - 7_200,
                        dueAt: now - 3_600
                    ),
                    audit: []
                )

                let log = directory + "/serve.log"
                let (pid, _) = try await ServeCommandTests.serve(world, log: log)
                var stopped = false
                defer { if !stopped { kill(pid, SIGKILL) } }
                var checkout = try await store.checkout(id: "co-overdue")
                for _ in 0..<100 where checkout?.isOpen != false {
                    try await Task.sleep(for: .milliseconds(100))
                    checkout = try await store.checkout(id: "co-overdue")
                }
                #expect(checkout?.isOpen == false, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                var status = try await store.credentialStatus(named: "app-key")
                for _ in 0..<50 where status?.current?.version != 2 {
                    try await Task.sleep(for: .milliseconds(100))
                    status = try await store.credentialStatus(named: "app-key")
                }
                #expect(status?.current?.version == 2)
                #expect((try? String(contentsOfFile: received, encoding: .utf8))?.count == 32)

                kill(pid, SIGTERM)
                let exit = waitForExit(pid, within: .seconds(60))
                stopped = true
                #expect(exit == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                let audit = try await store.auditRecords(AuditQuery())
                let checkin = try #require(audit.first { $0.event.type == "credential.checkin" })
                #expect(checkin.event.actor == "sweeper")
                #expect(checkin.event.details["reason"]?.hasPrefix("overdue: due at ") == true, "\(checkin.event)")
                #expect(audit.contains { $0.event.type == "credential.rotated" && $0.event.object == "app-key" })
                let text = audit.map { "\($0.event)" }.joined(separator: "\n")
                #expect(!text.contains("initial-secret"))
            }
        }
    }
}
