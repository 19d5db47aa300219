import Foundation
import GRDB
import GRDBSQLite
public import TenureCore
import TenureCrypto

extension SQLiteStore {
    public func appendAudit(_ events: [AuditEvent]) async throws -> ClosedRange<Int64>? {
        guard !events.isEmpty else { return nil }
        return try await self.pool.write { db in
            try self.appendAudit(events, db)
        }
    }

    /// `appendAudit` blocking the calling thread (the audit writer's own thread: no task hop per
    /// commit). Not for use on a Swift concurrency or NIO thread.
    @discardableResult
    public func appendAuditBlocking(_ events: [AuditEvent]) throws -> ClosedRange<Int64>? {
        guard !events.isEmpty else { return nil }
        return try self.pool.write { db in try self.appendAudit(events, db) }
    }

    /// Appends `events` inside the caller's write transaction: reads the newest record's sequence and
    /// MAC under the write lock, so concurrent writers (threads or processes) chain one after another.
    /// Binds through the SQLite API (no argument array per record): the API server appends every
    /// decision it answers.
    func appendAudit(_ events: [AuditEvent], _ db: Database) throws -> ClosedRange<Int64>? {
        guard !events.isEmpty else { return nil }
        var sequence: Int64 = 0
        var previous = MACHex()
        previous.hex = Array(genesisHash.utf8)
        let last = try db.cachedStatement(sql: Self.auditHeadSQL)
        if let row = try Row.fetchOne(last) {
            sequence = row[0]
            let head = Array((try Self.optionalText(row, 1) ?? "").utf8)
            // Chaining to a head that is no MAC would store a broken chain (and the hex buffers are
            // 64 bytes): refuse, and let `audit verify` say what happened to record `sequence`.
            guard head.count == 64, head.allSatisfy({ isLowercaseHexDigit($0) }) else {
                throw StoreError(
                    .corruptData,
                    "the newest audit record (\(sequence)) has no valid MAC; nothing is appended (run tenure audit verify)"
                )
            }
            previous.hex = head
        }
        let first = sequence + 1
        let mac = HMACSHA256(key: self.auditKey.bytes)
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO audit_log (sequence, time, actor, type, subject, object, outcome, details, previousHash, mac)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        let statement = insert.sqliteStatement
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        var canonical = CanonicalWriter()
        var details: [UInt8] = []
        details.reserveCapacity(256)
        var tag = [UInt8](repeating: 0, count: HMACSHA256.length)
        var current = MACHex()
        for original in events {
            var event = original
            try Self.validate(&event)
            sequence += 1
            previous.hex.withUnsafeBytes {
                canonical.write(sequence: sequence, event: event, previousHash: $0, detailsJSON: &details)
            }
            canonical.bytes.withUnsafeBytes { message in
                tag.withUnsafeMutableBytes { mac.authenticationCode(for: message, into: $0) }
            }
            tag.withUnsafeBytes { current.set($0) }
            sqlite3_reset(statement)
            // A bind that fails leaves the previous record's value in place: every one is checked,
            // so a record is stored as it was MACed or not at all.
            var code = SQLITE_OK
            func bind(_ result: Int32) { if code == SQLITE_OK { code = result } }
            bind(sqlite3_bind_int64(statement, 1, sequence))
            bind(sqlite3_bind_double(statement, 2, event.time))
            bind(bindText(statement, 3, event.actor))
            bind(bindText(statement, 4, event.type))
            bind(bindText(statement, 5, event.subject))
            bind(bindText(statement, 6, event.object))
            bind(bindText(statement, 7, event.outcome))
            bind(bindText(statement, 8, details))
            bind(bindText(statement, 9, previous.hex))
            bind(bindText(statement, 10, current.hex))
            if code == SQLITE_OK { code = sqlite3_step(statement) }
            guard code == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code),
                    message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                    sql: "INSERT INTO audit_log"
                )
            }
            swap(&previous, &current)
        }
        return first...sequence
    }

    /// Whether the store will take the event (a finite time; no NUL in actor, type, subject, object
    /// or outcome). Lets a batcher refuse one bad event instead of failing everyone's batch.
    public static func isStorable(_ event: AuditEvent) -> Bool {
        var copy = event
        return (try? Self.validate(&copy)) != nil
    }

    /// Refuses what SQLite cannot store faithfully; turns -0.0 into 0.0 (SQLite stores both as 0).
    private static func validate(_ event: inout AuditEvent) throws {
        guard event.time.isFinite else {
            throw StoreError(.invalidEvent, "audit event \(event.type): time is not a finite number")
        }
        if event.time == 0 { event.time = 0 }
        func refuseNUL(_ name: String, _ value: String?) throws {
            guard let value, value.utf8.contains(0) else { return }
            throw StoreError(.invalidEvent, "audit event \(event.type): \(name) contains a NUL character")
        }
        try refuseNUL("actor", event.actor)
        try refuseNUL("type", event.type)
        try refuseNUL("subject", event.subject)
        try refuseNUL("object", event.object)
        try refuseNUL("outcome", event.outcome)
    }

    public func auditRecords(_ query: AuditQuery) async throws -> [AuditRecord] {
        if let limit = query.limit, limit <= 0 { return [] }
        return try await self.pool.read { db in
            var records: [AuditRecord] = []
            var clauses: [String] = []
            var arguments = StatementArguments()
            if let after = query.afterSequence {
                clauses.append("sequence > ?")
                arguments += [after]
            }
            if let before = query.beforeSequence {
                clauses.append("sequence < ?")
                arguments += [before]
            }
            if let since = query.since {
                clauses.append("time >= ?")
                arguments += [since]
            }
            if let until = query.until {
                clauses.append("time < ?")
                arguments += [until]
            }
            if let subject = query.subject {
                clauses.append("subject = ?")
                arguments += [subject]
            }
            var sql = "SELECT \(Self.auditColumns) FROM audit_log"
            if !clauses.isEmpty {
                sql += " WHERE " + clauses.joined(separator: " AND ")
            }
            sql += query.newestFirst ? " ORDER BY sequence DESC" : " ORDER BY sequence"
            if let limit = query.limit {
                sql += " LIMIT ?"
                arguments += [limit]
            }
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                records.append(try Self.auditRecord(row))
            }
            return records
        }
    }

    static let auditColumns = "sequence, time, actor, type, subject, object, outcome, details, previousHash, mac"

    private static func auditRecord(_ row: Row) throws -> AuditRecord {
        let sequence: Int64 = row[0]
        let column = { (name: String) in "audit record \(sequence): \(name)" }
        let details = try row.withUnsafeData(atIndex: 7) { data in
            data.flatMap { $0.withUnsafeBytes { FlatJSON.decodeObject($0) } }
        }
        guard let details else {
            throw StoreError(.corruptData, "audit record \(sequence): details is not a JSON object of strings")
        }
        let event = AuditEvent(
            time: try Self.real(row, 1, column("time")),
            actor: try Self.text(row, 2, column("actor")),
            type: try Self.text(row, 3, column("type")),
            subject: try Self.optionalText(row, 4),
            object: try Self.optionalText(row, 5),
            outcome: try Self.text(row, 6, column("outcome")),
            details: details
        )
        return AuditRecord(
            sequence: sequence,
            event: event,
            previousHash: try Self.text(row, 8, column("previousHash")),
            mac: try Self.text(row, 9, column("mac"))
        )
    }

    /// The newest record's sequence number and MAC: what the next record chains to, and the head
    /// an operator keeps.
    static let auditHeadSQL = "SELECT sequence, mac FROM audit_log ORDER BY sequence DESC LIMIT 1"

    /// The newest record's sequence number and MAC (nil for an empty log): the chain's head. Kept
    /// outside the database (a log shipper, a ticket, another host), it lets `verify` notice newest
    /// records deleted — which the chain alone cannot: what is left still links up.
    public func auditHead() async throws -> (sequence: Int64, mac: String)? {
        try await self.pool.read { db in
            guard
                let row = try Row.fetchOne(db, sql: Self.auditHeadSQL)
            else { return nil }
            return (row[0], try Self.text(row, 1, "audit_log.mac"))
        }
    }

    /// The MAC of record `sequence`, or nil when there is no such record.
    public func auditMAC(sequence: Int64) async throws -> String? {
        try await self.pool.read { db in
            try String.fetchOne(db, sql: "SELECT mac FROM audit_log WHERE sequence = ?", arguments: [sequence])
        }
    }

    /// Streams the log in sequence order (a cursor: memory stays flat whatever its size), re-computing
    /// each MAC from the row's columns. The details JSON is decoded to its pairs, in stored order, and
    /// those are MACed: reordered pairs or changed values fail, while re-escaping the same text
    /// (whitespace, `\u` escapes) does not — the content, which is what the MAC covers, is unchanged.
    public func verifyAudit() async throws -> AuditVerification {
        try await self.pool.read { db in
            let mac = HMACSHA256(key: self.auditKey.bytes)
            var canonical = CanonicalWriter()
            var tag = [UInt8](repeating: 0, count: HMACSHA256.length)
            var tagHex = MACHex()
            var expectedPrevious = Array(genesisHash.utf8)
            var expected: Int64 = 1
            var verified: Int64 = 0
            let statement = try db.makeStatement(sql: "SELECT \(Self.auditColumns) FROM audit_log ORDER BY sequence")
            let sqlite = statement.sqliteStatement
            let rows = try Row.fetchCursor(statement)
            while try rows.next() != nil {
                // The cursor has stepped `statement`: read its columns in place (no copies, no
                // conversions: blob access gives a TEXT value's exact UTF-8 bytes, NULs included).
                let sequence = sqlite3_column_int64(sqlite, 0)
                if sequence != expected {
                    let problem =
                        sequence < expected
                        ? "unexpected record \(sequence): sequences start at 1"
                        : sequence == expected + 1
                            ? "record \(expected) is missing (the next record is \(sequence))"
                            : "records \(expected)–\(sequence - 1) are missing (the next record is \(sequence))"
                    return AuditVerification(
                        records: verified,
                        firstBadSequence: min(sequence, expected),
                        problem: problem
                    )
                }
                let previousMatches =
                    columnBytes(sqlite, 8).map { stored in
                        expectedPrevious.withUnsafeBytes { $0.elementsEqual(stored) }
                    } ?? false
                guard previousMatches else {
                    let problem =
                        sequence == 1
                        ? "record 1: previousHash is not the chain's start (64 zeros): records before it were removed"
                        : "record \(sequence): previousHash is not the MAC of record \(sequence - 1) "
                            + "(a record was removed, replaced or moved)"
                    return AuditVerification(records: verified, firstBadSequence: sequence, problem: problem)
                }
                canonical.reset()
                canonical.decimalField(sequence)
                if sqlite3_column_type(sqlite, 1) == SQLITE_NULL {
                    canonical.null()
                } else {
                    canonical.hexField(sqlite3_column_double(sqlite, 1).bitPattern)
                }
                for index: Int32 in 2...6 {
                    if let bytes = columnBytes(sqlite, index) {
                        canonical.field(bytes)
                    } else {
                        canonical.null()
                    }
                }
                guard let details = columnBytes(sqlite, 7), canonical.detailsFields(json: details) else {
                    return AuditVerification(
                        records: verified,
                        firstBadSequence: sequence,
                        problem: "record \(sequence): details is not a JSON object of strings (the record was modified)"
                    )
                }
                expectedPrevious.withUnsafeBytes { canonical.field($0) }
                canonical.bytes.withUnsafeBytes { message in
                    tag.withUnsafeMutableBytes { mac.authenticationCode(for: message, into: $0) }
                }
                tag.withUnsafeBytes { tagHex.set($0) }
                let macMatches = columnBytes(sqlite, 9).map { tagHex.equals($0) } ?? false
                guard macMatches else {
                    return AuditVerification(
                        records: verified,
                        firstBadSequence: sequence,
                        problem: "record \(sequence): MAC mismatch — the record was modified, inserted or moved, "
                            + "or the audit key is not the one that wrote the log"
                    )
                }
                swap(&expectedPrevious, &tagHex.hex)
                expected += 1
                verified += 1
            }
            return AuditVerification(records: verified)
        }
    }
}

/// The bytes of column `index` of the current row (TEXT or BLOB, exactly), nil for NULL. Valid until the
/// statement steps again.
@inline(__always)
private func columnBytes(_ statement: SQLiteStatement, _ index: Int32) -> UnsafeRawBufferPointer? {
    guard sqlite3_column_type(statement, index) != SQLITE_NULL else { return nil }
    // blob before bytes, as the SQLite documentation asks; an empty value may give a NULL pointer.
    guard let base = sqlite3_column_blob(statement, index) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: base, count: Int(sqlite3_column_bytes(statement, index)))
}

/// SQLite copies the bound bytes (SQLITE_TRANSIENT): the value may go away after the call.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Binds text (NULL for nil) at `index`; SQLite's result code.
private func bindText(_ statement: OpaquePointer?, _ index: Int32, _ value: String?) -> Int32 {
    guard var value else { return sqlite3_bind_null(statement, index) }
    return value.withUTF8 { bindText(statement, index, $0) }
}

/// Binds UTF-8 bytes as text at `index`; SQLite's result code.
private func bindText(_ statement: OpaquePointer?, _ index: Int32, _ bytes: [UInt8]) -> Int32 {
    bytes.withUnsafeBufferPointer { bindText(statement, index, $0) }
}

private func bindText(_ statement: OpaquePointer?, _ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
    guard let count = Int32(exactly: bytes.count) else { return SQLITE_TOOBIG }
    return sqlite3_bind_text(statement, index, bytes.baseAddress, count, transient)
}
