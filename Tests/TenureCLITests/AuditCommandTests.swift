import Foundation
import GRDB
import SlapdFixture
import TenureCore
import TenureEngine
import TenureStore
import Testing

/// `tenure audit` and plan hashes, through the binary.
@Suite(.timeLimit(.minutes(5)))
struct AuditCommandTests {
    @Test func tailExportAndTamperDetection() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                #expect(try world.tenure(["sync"]).status == 0)

                // tail: the newest records, oldest first, one per line.
                let tail = try world.tenure(["audit", "tail", "-n", "3"])
                #expect(tail.status == 0, "\(tail)")
                let lines = tail.stdout.split(separator: "\n")
                #expect(lines.count == 3)
                #expect(lines.last?.contains("plan.applied") == true)

                // export csv, filtered to one subject: a header and only that subject's records.
                let store = try world.store()
                let kmueller = try #require(
                    try await store.loadState().identities.values.first { $0.username == "kmueller" }
                )
                let csv = try world.tenure(["audit", "export", "--format", "csv", "--subject", kmueller.id])
                #expect(csv.status == 0, "\(csv)")
                let rows = csv.stdout.split(whereSeparator: \.isNewline)  // RFC 4180: CRLF
                #expect(rows.count >= 3, "\(csv)")  // header, joiner, grants
                #expect(rows.dropFirst().allSatisfy { $0.contains(kmueller.id) })
                #expect(rows.contains { $0.contains("identity.joiner") })
                // A time window in the future selects nothing; a bad time is a usage error.
                let future = try world.tenure(["audit", "export", "--since", "2999-01-01T00:00:00Z"])
                #expect(future.status == 0 && future.stdout.isEmpty, "\(future)")
                #expect(try world.tenure(["audit", "export", "--since", "yesterday"]).status == 64)

                // Tamper with record 5 as an attacker with file access would (triggers dropped).
                #expect(try world.tenure(["audit", "verify"]).status == 0)
                let queue = try DatabaseQueue(path: world.database)
                try await queue.write { db in
                    let triggers = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'")
                    for trigger in triggers { try db.execute(sql: "DROP TRIGGER \(trigger)") }
                    try db.execute(sql: "UPDATE audit_log SET outcome = 'failure' WHERE sequence = 5")
                }
                try queue.close()
                let verify = try world.tenure(["audit", "verify"])
                #expect(verify.status == 1, "\(verify)")
                #expect(verify.stdout.contains("sequence 5"))
            }
        }
    }

    /// Deleting the newest records leaves a chain that still links up: only a head kept elsewhere
    /// shows it (`audit head`, then `verify --expect-head`).
    @Test func aKeptHeadShowsTheNewestRecordsDeleted() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                #expect(try world.tenure(["sync"]).status == 0)
                let head = try world.tenure(["audit", "head"])
                #expect(head.status == 0, "\(head)")
                let kept = head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let parts = kept.split(separator: ":")
                let sequence = try #require(parts.first.flatMap { Int64($0) })
                #expect(parts.count == 2 && parts[1].count == 64, "\(kept)")
                let intact = try world.tenure(["audit", "verify", "--expect-head", kept])
                #expect(intact.status == 0, "\(intact)")
                #expect(intact.stdout.contains("the head kept at sequence \(sequence) is there"))
                #expect(try world.tenure(["audit", "verify", "--expect-head", "nonsense"]).status == 64)

                // An attacker with the file deletes the newest three records.
                let queue = try DatabaseQueue(path: world.database)
                try await queue.write { db in
                    try db.execute(sql: "DROP TRIGGER audit_log_no_delete")
                    try db.execute(sql: "DELETE FROM audit_log WHERE sequence > ?", arguments: [sequence - 3])
                }
                try queue.close()
                #expect(try world.tenure(["audit", "verify"]).status == 0)  // the chain alone cannot tell
                let truncated = try world.tenure(["audit", "verify", "--expect-head", kept])
                #expect(truncated.status == 1, "\(truncated)")
                #expect(truncated.stdout.contains("the newest records were deleted"))
                // A head that does not match the record there: rewritten.
                let other = try world.tenure([
                    "audit", "verify", "--expect-head", "2:" + String(repeating: "0", count: 64),
                ])
                #expect(other.status == 1)
                #expect(other.stdout.contains("its MAC differs"))
            }
        }
    }

    /// Reading the audit never writes: a database that is not there is an error (not an empty log
    /// said intact), an empty log is not called intact unless asked, an existing file is left as it
    /// was, and `tail` shows control characters escaped.
    @Test func readingTheAuditNeitherCreatesNorChangesTheStore() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                for command in [["audit", "verify"], ["audit", "head"], ["audit", "tail"], ["audit", "export"]] {
                    let missing = try world.tenure(command)
                    #expect(missing.status == 78, "\(command): \(missing)")
                    #expect(missing.stderr.contains("does not exist"), "\(missing)")
                }
                #expect(!FileManager.default.fileExists(atPath: world.database), "nothing was created")

                // A store that has recorded nothing: not "intact" unless --allow-empty.
                let store = try world.store()
                let empty = try world.tenure(["audit", "verify"])
                #expect(empty.status == 1, "\(empty)")
                #expect(empty.stdout.contains("Audit log EMPTY"), "\(empty)")
                #expect(try world.tenure(["audit", "verify", "--allow-empty"]).status == 0)

                // A value with a line break and an escape sequence cannot fake a line or drive the terminal.
                _ = try await store.appendAudit([
                    AuditEvent(
                        time: 1_800_000_000,
                        actor: "token:gateway",
                        type: "access.decision",
                        subject: "x\n4711  2026-01-01T00:00:00Z  sync  role.revoked  success",
                        object: "role:\u{1b}[2Jdb-read",
                        outcome: "deny"
                    )
                ])
                try store.close()
                let tail = try world.tenure(["audit", "tail"])
                #expect(tail.status == 0, "\(tail)")
                #expect(tail.stdout.split(separator: "\n").count == 1, "\(tail)")
                #expect(tail.stdout.contains(#"subject=x\n4711"#), "\(tail)")
                #expect(tail.stdout.contains(#"object=role:\u{1b}[2Jdb-read"#), "\(tail)")

                // verify, head, tail and export leave the file as it was.
                let before = try Data(contentsOf: URL(fileURLWithPath: world.database))
                for command in [["audit", "verify"], ["audit", "head"], ["audit", "tail"], ["audit", "export"]] {
                    #expect(try world.tenure(command).status == 0, "\(command)")
                }
                #expect(try Data(contentsOf: URL(fileURLWithPath: world.database)) == before)
            }
        }
    }

    @Test func planAndSyncOfTheSameChangesHaveTheSameHash() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                let plan = try world.tenure(["plan"])
                try await Task.sleep(for: .seconds(1.1))  // a different clock second
                let sync = try world.tenure(["sync"])
                func hash(_ run: CLIRun) -> Substring? {
                    run.stdout.split(separator: "\n").first { $0.hasPrefix("Plan hash: sha256:") }
                }
                #expect(hash(plan) != nil)
                #expect(hash(plan) == hash(sync), "\(plan)\n\(sync)")
            }
        }
    }
}
