import TenureCore

/// How `exportAudit` writes records.
public enum AuditExportFormat: String, Sendable, Hashable, CaseIterable {
    /// One JSON object per line: sequence, time (ISO 8601 UTC, milliseconds), actor, type, subject,
    /// object, outcome, details (an object), previousHash, mac.
    case jsonl
    /// RFC 4180 CSV with a header line and CRLF line ends; empty subject/object for none; details as
    /// a JSON object in one column.
    case csv
}

extension PIMStore {
    /// Writes the records matching `query` to `sink`, one record (one line) per call, the CSV header
    /// first. Reads the log in pages of 1,000, so memory stays flat whatever the log's size.
    public func exportAudit(
        _ query: AuditQuery,
        format: AuditExportFormat,
        to sink: (_ bytes: [UInt8]) throws -> Void
    ) async throws {
        if format == .csv {
            try sink(Array("sequence,time,actor,type,subject,object,outcome,details,previousHash,mac\r\n".utf8))
        }
        var page = query
        var remaining = query.limit
        while remaining.map({ $0 > 0 }) ?? true {
            page.limit = min(remaining ?? 1_000, 1_000)
            let records = try await self.auditRecords(page)
            for record in records {
                try sink(format == .jsonl ? AuditExport.jsonLine(record) : AuditExport.csvLine(record))
            }
            guard let last = records.last, records.count == page.limit else { break }
            if query.newestFirst {
                page.beforeSequence = last.sequence
            } else {
                page.afterSequence = last.sequence
            }
            remaining = remaining.map { $0 - records.count }
        }
    }
}

enum AuditExport {
    static func jsonLine(_ record: AuditRecord) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(384)
        func key(_ name: String) {
            out.append(out.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            FlatJSON.appendString(name, to: &out)
            out.append(UInt8(ascii: ":"))
        }
        func string(_ value: String?) {
            if let value {
                FlatJSON.appendString(value, to: &out)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        }
        key("sequence")
        out.append(contentsOf: String(record.sequence).utf8)
        key("time")
        string(iso8601(record.event.time))
        key("actor")
        string(record.event.actor)
        key("type")
        string(record.event.type)
        key("subject")
        string(record.event.subject)
        key("object")
        string(record.event.object)
        key("outcome")
        string(record.event.outcome)
        key("details")
        FlatJSON.appendObject(record.event.details, to: &out)
        key("previousHash")
        string(record.previousHash)
        key("mac")
        string(record.mac)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    static func csvLine(_ record: AuditRecord) -> [UInt8] {
        let fields = [
            String(record.sequence), iso8601(record.event.time), record.event.actor, record.event.type,
            record.event.subject ?? "", record.event.object ?? "", record.event.outcome,
            FlatJSON.object(record.event.details), record.previousHash, record.mac,
        ]
        return CSV.line(fields)
    }

    static func iso8601(_ time: Double) -> String {
        isoTimestamp(time, milliseconds: true)
    }
}
