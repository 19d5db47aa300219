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
        var out: [UInt8] = []
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendCSVField(field, to: &out)
        }
        out.append(contentsOf: "\r\n".utf8)
        return out
    }

    /// RFC 4180: a field with a comma, a double quote, CR or LF is quoted, its quotes doubled.
    static func appendCSVField(_ field: String, to out: inout [UInt8]) {
        let needsQuotes = field.utf8.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0a || $0 == 0x0d
        }
        guard needsQuotes else {
            out.append(contentsOf: field.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in field.utf8 {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `2026-11-27T08:21:23.456Z`: UTC, milliseconds (truncated, so a time never rounds into the next
    /// second). Times outside years 0000–9999 keep the same shape with more digits or a sign.
    static func iso8601(_ time: Double) -> String {
        // Round to the microsecond first, so binary noise (x.999999999) does not lose a millisecond.
        let milliseconds =
            abs(time) < 9.0e9 ? ((time * 1_000_000).rounded() / 1_000).rounded(.down) : (time * 1_000).rounded(.down)
        guard milliseconds.isFinite, abs(milliseconds) < 9.0e15 else { return String(time) }
        let total = Int64(milliseconds)
        var seconds = total / 1_000
        var millis = total % 1_000
        if millis < 0 {
            millis += 1_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value.magnitude)
            let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
            return value < 0 ? "-" + padded : padded
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }
}
