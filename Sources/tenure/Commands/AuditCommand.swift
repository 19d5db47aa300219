import ArgumentParser
import Foundation
import TenureConfig
import TenureCore
import TenureServer
import TenureStore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The tamper-evident audit log: create its key, verify, read and export it.",
        subcommands: [InitKey.self, Verify.self, Head.self, Tail.self, Export.self]
    )

    struct InitKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init-key",
            abstract: "Create the audit HMAC key (32 random bytes, mode 0600) at state.auditKeyFile."
        )
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let context = try StateContext(options: self.options)
            do {
                let directory = URL(fileURLWithPath: context.state.auditKeyFile).deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                _ = try AuditKey.generate(at: context.state.auditKeyFile)
            } catch {
                printError("tenure audit init-key: \(error)")
                throw ExitCode.failure
            }
            print(
                "Created the audit key \(context.state.auditKeyFile) (mode 0600). Back it up: without it the log cannot be verified."
            )
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every record's MAC and the chain; name the first bad sequence number.",
            discussion: """
                Exit status 0 when intact, 1 when a record was modified, deleted, inserted or reordered. \
                The chain alone cannot show the newest records deleted (what is left still links up): \
                keep `tenure audit head` somewhere else and pass it as --expect-head SEQUENCE:MAC.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Option(help: "A head kept earlier (`tenure audit head`): that record must still be there, unchanged.")
        var expectHead: String?
        @Flag(help: "Accept an empty log (a store that has recorded nothing yet) as intact.")
        var allowEmpty = false

        func run() async throws {
            let context = try StateContext(options: self.options)
            var expected: (sequence: Int64, mac: String)?
            if let text = self.expectHead {
                let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, let sequence = Int64(parts[0]), sequence > 0, !parts[1].isEmpty else {
                    throw ValidationError("--expect-head \(text): write SEQUENCE:MAC, as `tenure audit head` prints it")
                }
                expected = (sequence, parts[1].lowercased())
            }
            let store = try context.openStoreForReading()
            let result = try await store.verifyAudit()
            if let bad = result.firstBadSequence {
                print(
                    "Audit log NOT intact: first bad record is sequence \(bad): \(result.problem ?? "unknown problem")."
                )
                throw ExitCode.failure
            }
            // Nothing to verify is no proof of anything: a wrong path, or a log emptied by someone with
            // the file. Only said intact when asked for.
            if result.records == 0 && !self.allowEmpty && expected == nil {
                print(
                    "Audit log EMPTY: \(context.state.database) holds no audit record; nothing was verified "
                        + "(--allow-empty accepts a store that has recorded nothing yet)."
                )
                throw ExitCode.failure
            }
            if let expected {
                guard let mac = try await store.auditMAC(sequence: expected.sequence) else {
                    print(
                        "Audit log NOT intact: it ends at sequence \(result.records), but record \(expected.sequence) "
                            + "was kept as its head: the newest records were deleted."
                    )
                    throw ExitCode.failure
                }
                guard mac == expected.mac else {
                    print(
                        "Audit log NOT intact: record \(expected.sequence) is not the one kept as the head "
                            + "(its MAC differs): the log was rewritten from there."
                    )
                    throw ExitCode.failure
                }
            }
            print(
                "Audit log intact: \(result.records) record(s), every MAC and link verified"
                    + (expected.map { " (the head kept at sequence \($0.sequence) is there)" } ?? "") + "."
            )
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the chain's head (SEQUENCE:MAC) to keep elsewhere, for verify --expect-head.",
            discussion: """
                The MAC is no secret (it cannot be forged without the audit key). Keep heads where someone \
                with the database file cannot change them: a log shipper, a ticket, another host.
                """
        )
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let context = try StateContext(options: self.options)
            guard let head = try await context.openStoreForReading().auditHead() else {
                printError("tenure audit head: the audit log is empty")
                throw ExitCode.failure
            }
            print("\(head.sequence):\(head.mac)")
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest audit records.")

        /// The value with C0 and C1 control characters and DEL written as `\n`, `\t`, `\r` or `\u{…}`.
        static func printable(_ value: String) -> String {
            guard value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return value
            }
            var out = ""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                case _ where scalar.properties.generalCategory == .control:
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out
        }
        @OptionGroup var options: GlobalOptions
        @Option(name: .short, help: "How many records.") var n: Int = 20

        func run() async throws {
            let context = try StateContext(options: self.options)
            let store = try context.openStoreForReading()
            let records = try await store.auditRecords(
                AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: self.n, newestFirst: true)
            )
            for record in records.reversed() {
                let event = record.event
                // Every value may come from a directory user or an API client: control characters
                // are shown escaped, so a value can neither fake a line nor drive the terminal.
                let p = Self.printable
                var line =
                    "\(record.sequence)  \(isoDate(event.time))  \(p(event.actor))  \(p(event.type))  \(p(event.outcome))"
                if let subject = event.subject { line += "  subject=\(p(subject))" }
                if let object = event.object { line += "  object=\(p(object))" }
                for key in event.details.keys.sorted() where !(event.details[key] ?? "").isEmpty {
                    line += "  \(p(key))=\(p(event.details[key]!))"
                }
                print(line)
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export audit records as JSON lines or CSV.")
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case jsonl
            case csv
        }
        @OptionGroup var options: GlobalOptions
        @Option(help: "jsonl or csv.") var format: Format = .jsonl
        @Option(help: "Only records at or after this time (ISO 8601, e.g. 2026-11-01T00:00:00Z).") var since: String?
        @Option(help: "Only records before this time (ISO 8601).") var until: String?
        @Option(help: "Only records about this subject (an identity id).") var subject: String?
        @Option(help: "Only records after this sequence number (to continue an earlier export).") var after: Int64?

        func run() async throws {
            let context = try StateContext(options: self.options)
            let store = try context.openStoreForReading()
            func time(_ text: String?, _ name: String) throws -> Double? {
                guard let text else { return nil }
                guard let date = parseISO8601Time(text).map(Date.init(timeIntervalSince1970:)) else {
                    throw ValidationError("--\(name) \(text): not an ISO 8601 time like 2026-11-01T00:00:00Z")
                }
                return date.timeIntervalSince1970
            }
            let query = AuditQuery(
                afterSequence: self.after,
                since: try time(self.since, "since"),
                until: try time(self.until, "until"),
                subject: self.subject,
                limit: nil,
                newestFirst: false
            )
            let output = FileHandle.standardOutput
            try await store.exportAudit(query, format: self.format == .csv ? .csv : .jsonl) { bytes in
                output.write(Data(bytes))
            }
        }
    }
}
