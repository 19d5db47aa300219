import Foundation
import GRDB
import TenureCore

/// The HR users (`hr_user`, migration v5). Each mutation reads, checks (existence, If-Match
/// version, uniqueness) and writes inside one `BEGIN IMMEDIATE` transaction with its audit
/// events, so two writers cannot interleave between the check and the write, and a refusal
/// leaves neither a change nor an audit record. The partial unique indexes on `userName`
/// (`NOCASE`) and `externalId` among live rows back the uniqueness check up in the schema.
extension SQLiteStore: HRStore {
    private static let hrColumns = """
        id, userName, externalId, employeeNumber, active, terminationDate, identityID, resourceJSON, version,
        created, lastModified
        """

    public func createHRUser(_ fields: HRUserFields, actor: String, time: Double) async throws -> HRUserRecord {
        let resource = try Self.validate(fields, time: time)
        let record = HRUserRecord(
            id: UUID().uuidString.lowercased(),
            userName: fields.userName,
            externalId: fields.externalId,
            employeeNumber: fields.employeeNumber,
            active: fields.active,
            terminationDate: fields.terminationDate,
            resourceJSON: fields.resourceJSON,
            version: 1,
            created: time,
            lastModified: time
        )
        return try await self.pool.write { db in
            try Self.requireUnique(fields, excluding: record.id, db)
            try db.execute(
                sql: """
                    INSERT INTO hr_user (\(Self.hrColumns), deleted)
                    VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 1, ?, ?, 0)
                    """,
                arguments: [
                    record.id, record.userName, record.externalId, record.employeeNumber, record.active,
                    record.terminationDate, record.resourceJSON, record.created, record.lastModified,
                ]
            )
            var details = Self.statusDetails(record.fields)
            details["attributes"] = Self.attributeList(resource.keys.sorted())
            if let externalId = record.externalId { details["externalId"] = externalId }
            let event = AuditEvent(
                time: time,
                actor: actor,
                type: "hr.user.created",
                object: record.id,
                details: details
            )
            _ = try self.appendAudit([event], db)
            return record
        }
    }

    public func hrUser(id: String) async throws -> HRUserRecord? {
        try await self.pool.read { db in try Self.liveHRUser(id, db) }
    }

    public func deletedHRUserToSettle(id: String) async throws -> HRUserRecord? {
        try await self.pool.read { db in try Self.hrUser(id, where: "deleted = 1 AND settlePending = 1", db) }
    }

    public func deletedHRUsersToSettle() async throws -> [HRUserRecord] {
        try await self.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.hrColumns) FROM hr_user INDEXED BY hr_user_settle_pending
                    WHERE settlePending = 1 AND deleted = 1 ORDER BY lastModified, id
                    """
            ).map(Self.hrUserRecord)
        }
    }

    public func settledDeletedHRUser(id: String) async throws {
        try await self.pool.write { db in
            try db.execute(
                sql: "UPDATE hr_user SET settlePending = 0 WHERE id = ? AND deleted = 1",
                arguments: [id]
            )
        }
    }

    public func hrUsers(_ query: HRUserQuery, startIndex: Int, count: Int) async throws -> HRUserPage {
        let start = max(1, startIndex)
        let limit = max(0, count)
        return try await self.pool.read { db in
            var clauses = ["deleted = 0"]
            var arguments = StatementArguments()
            if let id = query.id {
                clauses.append("id = ?")
                arguments += [id]
            }
            if let userName = query.userName {
                clauses.append("userName = ? COLLATE NOCASE")
                arguments += [userName]
            }
            if let externalId = query.externalId {
                clauses.append("externalId = ?")
                arguments += [externalId]
            }
            if let employeeNumber = query.employeeNumber {
                clauses.append("employeeNumber = ? COLLATE NOCASE")
                arguments += [employeeNumber]
            }
            if let active = query.active {
                clauses.append("active = ?")
                arguments += [active]
            }
            let condition = clauses.joined(separator: " AND ")
            let select = "SELECT \(Self.hrColumns) FROM hr_user WHERE \(condition) ORDER BY created, id"
            guard let matches = query.matches else {
                let total =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM hr_user WHERE \(condition)", arguments: arguments)
                    ?? 0
                guard limit > 0 else { return HRUserPage(totalResults: total, startIndex: start, records: []) }
                var pageArguments = arguments
                pageArguments += [Int64(clamping: limit), Int64(clamping: start - 1)]
                var records: [HRUserRecord] = []
                let rows = try Row.fetchCursor(db, sql: select + " LIMIT ? OFFSET ?", arguments: pageArguments)
                while let row = try rows.next() { records.append(try Self.hrUserRecord(row)) }
                return HRUserPage(totalResults: total, startIndex: start, records: records)
            }
            // A predicate: every candidate is read, counted when it matches, kept when in the page.
            var total = 0
            var records: [HRUserRecord] = []
            let rows = try Row.fetchCursor(db, sql: select, arguments: arguments)
            while let row = try rows.next() {
                let record = try Self.hrUserRecord(row)
                guard matches(record) else { continue }
                total += 1
                if total >= start, records.count < limit { records.append(record) }
            }
            return HRUserPage(totalResults: total, startIndex: start, records: records)
        }
    }

    public func replaceHRUser(
        id: String,
        with fields: HRUserFields,
        ifMatch version: Int?,
        actor: String,
        time: Double
    ) async throws -> HRUserRecord {
        _ = try Self.validate(fields, time: time)
        return try await self.updateHRUser(id: id, ifMatch: version, actor: actor, time: time, via: "put") { _ in
            fields
        }
    }

    public func patchHRUser(
        id: String,
        ifMatch version: Int?,
        actor: String,
        time: Double,
        _ change: @escaping @Sendable (HRUserRecord) throws -> HRUserFields
    ) async throws -> HRUserRecord {
        try await self.updateHRUser(id: id, ifMatch: version, actor: actor, time: time, via: "patch", change)
    }

    public func deleteHRUser(id: String, ifMatch version: Int?, actor: String, time: Double) async throws {
        try Self.validateTime(time)
        try await self.pool.write { db in
            let current = try Self.requireLive(id, ifMatch: version, db)
            try db.execute(
                sql: """
                    UPDATE hr_user SET deleted = 1, settlePending = 1, version = version + 1, lastModified = ?
                    WHERE id = ?
                    """,
                arguments: [time, id]
            )
            let event = AuditEvent(
                time: time,
                actor: actor,
                type: "hr.user.deleted",
                subject: current.identityID,
                object: id,
                details: ["userName": current.userName]
            )
            _ = try self.appendAudit([event], db)
        }
    }

    public func linkHRUser(id: String, to identityID: String, actor: String, time: Double) async throws
        -> HRUserRecord
    {
        // Never refused when not asked to check: the result is always a record.
        guard
            let record = try await self.linkHRUser(
                id: id,
                to: identityID,
                actor: actor,
                time: time,
                unlessEmployedElsewhere: false
            )
        else { throw StoreError(.corruptData, "HR user \(id): an unconditional link was refused") }
        return record
    }

    public func linkHRUserIfNotEmployedElsewhere(
        id: String,
        to identityID: String,
        ifLinkedTo expected: String?,
        actor: String,
        time: Double
    ) async throws -> HRUserRecord? {
        try await self.linkHRUser(
            id: id,
            to: identityID,
            actor: actor,
            time: time,
            unlessEmployedElsewhere: true,
            expecting: .some(expected)
        )
    }

    public func refuseHRLinkIfEmployedElsewhere(id: String, to identityID: String, actor: String, time: Double)
        async throws -> Bool
    {
        try await self.linkHRUser(
            id: id,
            to: identityID,
            actor: actor,
            time: time,
            unlessEmployedElsewhere: true,
            expecting: nil,
            linking: false
        ) == nil
    }

    /// Every link: validated, then in one write transaction the check (when asked) and the link with
    /// its `hr.user.linked` audit, or the refusal with `hr.user.link_refused` (nil).
    /// - Parameters:
    ///   - expecting: when given, the user's current link (nil: unlinked); another one is left as
    ///     it is (nil returned, nothing audited): someone else linked or moved it meanwhile.
    ///   - linking: false only checks (and audits a refusal); the user is returned unchanged.
    private func linkHRUser(
        id: String,
        to identityID: String,
        actor: String,
        time: Double,
        unlessEmployedElsewhere: Bool,
        expecting expected: String?? = nil,
        linking: Bool = true
    ) async throws -> HRUserRecord? {
        try Self.validateTime(time)
        guard !identityID.isEmpty else {
            throw HRStoreError(.invalidValue, "HR user \(id): the identity id is empty")
        }
        return try await self.pool.write { db in
            var record = try Self.requireLive(id, ifMatch: nil, db)
            guard record.identityID != identityID else { return record }
            if let expected, record.identityID != expected { return nil }
            if unlessEmployedElsewhere,
                let other = try Self.otherEmployingUser(of: identityID, besides: id, at: time, db)
            {
                // The same refusal as last time (the daemon retries pending users on every pass):
                // audited once, until the user changes or the conflict does.
                let refusal = "\(identityID) \(other)"
                let last = try String.fetchOne(db, sql: "SELECT linkRefused FROM hr_user WHERE id = ?", arguments: [id])
                guard last != refusal else { return nil }
                try db.execute(sql: "UPDATE hr_user SET linkRefused = ? WHERE id = ?", arguments: [refusal, id])
                let event = AuditEvent(
                    time: time,
                    actor: actor,
                    type: "hr.user.link_refused",
                    subject: identityID,
                    object: id,
                    outcome: "refused",
                    details: [
                        "userName": record.userName, "employedBy": other,
                        "reason": "another HR user linked to this identity still employs it",
                    ]
                )
                _ = try self.appendAudit([event], db)
                return nil
            }
            if unlessEmployedElsewhere,
                let last = try String.fetchOne(
                    db,
                    sql: "SELECT linkRefused FROM hr_user WHERE id = ?",
                    arguments: [id]
                ),
                last.hasPrefix(identityID + " ")
            {
                // The conflict this user was refused for is gone: should it come back, even with the
                // same HR user, it is a new refusal and audited again.
                try db.execute(sql: "UPDATE hr_user SET linkRefused = NULL WHERE id = ?", arguments: [id])
            }
            guard linking else { return record }
            var details = ["userName": record.userName]
            if let previous = record.identityID { details["previousIdentity"] = previous }
            try db.execute(
                sql: "UPDATE hr_user SET identityID = ?, linkRefused = NULL WHERE id = ?",
                arguments: [identityID, id]
            )
            record.identityID = identityID
            let event = AuditEvent(
                time: time,
                actor: actor,
                type: "hr.user.linked",
                subject: identityID,
                object: id,
                details: details
            )
            _ = try self.appendAudit([event], db)
            return record
        }
    }

    /// Another live user linked to the identity that employs it open-ended at `time` (active, no
    /// termination date; its id), if any. One with a termination date ahead (a contractor whose new
    /// employee record arrives before the old one ends) does not block: its own end is scheduled.
    private static func otherEmployingUser(of identityID: String, besides id: String, at time: Double, _ db: Database)
        throws -> String?
    {
        let others = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, userName, active, terminationDate, deleted FROM hr_user
                WHERE identityID = ? AND deleted = 0 AND id != ?
                """,
            arguments: [identityID, id]
        )
        while let row = try others.next() {
            let terminationDate: Double? = row[3]
            if terminationDate == nil, try Self.terminationReason(row, from: 1, asOf: time) == nil { return row[0] }
        }
        return nil
    }

    public func terminatedIdentities(asOf now: Double) async throws -> [String: String] {
        try await self.pool.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT identityID, userName, active, terminationDate, deleted FROM hr_user
                    WHERE identityID IS NOT NULL ORDER BY identityID, lastModified DESC, id
                    """
            )
            var employed = Set<String>()
            var reasons: [String: String] = [:]
            while let row = try rows.next() {
                let identityID = try Self.text(row, 0, "hr_user.identityID")
                guard let reason = try Self.terminationReason(row, from: 1, asOf: now) else {
                    employed.insert(identityID)
                    continue
                }
                // Rows come newest first per identity: the newest terminated record gives the reason.
                if reasons[identityID] == nil { reasons[identityID] = reason }
            }
            for identityID in employed { reasons[identityID] = nil }
            return reasons
        }
    }

    public func terminationReason(identityID: String, asOf now: Double) async throws -> String? {
        try await self.pool.read { db in
            let rows = try Row.fetchCursor(db, sql: Self.identityTerminationSQL, arguments: [identityID])
            var newest: String?
            while let row = try rows.next() {
                guard let reason = try Self.terminationReason(row, from: 0, asOf: now) else { return nil }
                if newest == nil { newest = reason }
            }
            return newest
        }
    }

    public func unlinkedHRUsers() async throws -> [HRUserRecord] {
        try await self.pool.read { db in
            var records: [HRUserRecord] = []
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(Self.hrColumns) FROM hr_user WHERE deleted = 0 AND identityID IS NULL
                    ORDER BY created, id
                    """
            )
            while let row = try rows.next() { records.append(try Self.hrUserRecord(row)) }
            return records
        }
    }

    /// `terminationReason(identityID:asOf:)`'s query: the identity's users (index
    /// `hr_user_identity`), newest first as in `terminatedIdentities`. A test checks the index.
    static let identityTerminationSQL = """
        SELECT userName, active, terminationDate, deleted FROM hr_user
        WHERE identityID = ? ORDER BY lastModified DESC, id
        """

    // MARK: - Helpers

    /// Why one linked user (columns `userName, active, terminationDate, deleted` from `column`)
    /// says its identity is gone, or nil when it still employs the identity.
    private static func terminationReason(_ row: Row, from column: Int, asOf now: Double) throws -> String? {
        let userName = try Self.text(row, column, "hr_user.userName")
        let active: Bool = row[column + 1]
        let terminationDate: Double? = row[column + 2]
        let deleted: Bool = row[column + 3]
        if deleted {
            return "HR user \(userName) was deleted"
        } else if let date = terminationDate, date <= now {
            return "HR user \(userName) terminated on \(isoTimestamp(date, milliseconds: false))"
        } else if !active {
            return "HR user \(userName) is inactive"
        }
        return nil
    }

    private func updateHRUser(
        id: String,
        ifMatch version: Int?,
        actor: String,
        time: Double,
        via: String,
        _ change: @escaping @Sendable (HRUserRecord) throws -> HRUserFields
    ) async throws -> HRUserRecord {
        try Self.validateTime(time)
        return try await self.pool.write { db in
            let current = try Self.requireLive(id, ifMatch: version, db)
            let fields = try change(current)
            let resource = try Self.validate(fields, time: time)
            guard fields != current.fields else { return current }
            try Self.requireUnique(fields, excluding: id, db)
            var record = current
            record.userName = fields.userName
            record.externalId = fields.externalId
            record.employeeNumber = fields.employeeNumber
            record.active = fields.active
            record.terminationDate = fields.terminationDate
            record.resourceJSON = fields.resourceJSON
            record.version = current.version + 1
            record.lastModified = time
            try db.execute(
                sql: """
                    UPDATE hr_user SET userName = ?, externalId = ?, employeeNumber = ?, active = ?,
                        terminationDate = ?, resourceJSON = ?, version = ?, lastModified = ?, linkRefused = NULL
                    WHERE id = ?
                    """,
                arguments: [
                    record.userName, record.externalId, record.employeeNumber, record.active, record.terminationDate,
                    record.resourceJSON, record.version, record.lastModified, id,
                ]
            )
            let before = (try? HRJSON.decodeObject(current.resourceJSON)) ?? [:]
            var changed = HRJSON.changedAttributes(before, resource)
            var details = ["userName": record.userName, "version": String(record.version), "via": via]
            if current.userName != record.userName, !changed.contains("userName") { changed.append("userName") }
            if current.active != record.active { details["active"] = String(record.active) }
            if current.terminationDate != record.terminationDate {
                details["terminationDate"] = record.terminationDate.map { isoTimestamp($0, milliseconds: false) } ?? ""
            }
            details["attributes"] = Self.attributeList(changed.sorted())
            let event = AuditEvent(
                time: time,
                actor: actor,
                type: "hr.user.updated",
                subject: record.identityID,
                object: id,
                details: details
            )
            _ = try self.appendAudit([event], db)
            return record
        }
    }

    private static func liveHRUser(_ id: String, _ db: Database) throws -> HRUserRecord? {
        try Self.hrUser(id, where: "deleted = 0", db)
    }

    /// The user `id` if its row meets `condition` (fixed SQL, never built from input).
    private static func hrUser(_ id: String, where condition: StaticString, _ db: Database) throws -> HRUserRecord? {
        try Row.fetchOne(
            db,
            sql: "SELECT \(Self.hrColumns) FROM hr_user WHERE id = ? AND \(condition)",
            arguments: [id]
        ).map(Self.hrUserRecord)
    }

    /// The live user `id`, at `version` when one is given.
    private static func requireLive(_ id: String, ifMatch version: Int?, _ db: Database) throws -> HRUserRecord {
        guard let record = try Self.liveHRUser(id, db) else {
            throw HRStoreError(.notFound, "there is no HR user \(id)")
        }
        if let version, version != record.version {
            throw HRStoreError(
                .preconditionFailed,
                "HR user \(id) is at version \(record.version), not \(version)"
            )
        }
        return record
    }

    private static func requireUnique(_ fields: HRUserFields, excluding id: String, _ db: Database) throws {
        if try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM hr_user WHERE deleted = 0 AND userName = ? COLLATE NOCASE AND id <> ?)
                """,
            arguments: [fields.userName, id]
        ) ?? false {
            throw HRStoreError(.conflict, "another HR user has this userName", attribute: "userName")
        }
        if let externalId = fields.externalId,
            try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM hr_user WHERE deleted = 0 AND externalId = ? AND id <> ?)",
                arguments: [externalId, id]
            ) ?? false
        {
            throw HRStoreError(.conflict, "another HR user has this externalId", attribute: "externalId")
        }
    }

    /// Checks what a write supplies; returns the resource's top-level members.
    @discardableResult
    private static func validate(_ fields: HRUserFields, time: Double) throws -> JSONObject {
        try Self.validateTime(time)
        guard fields.userName.contains(where: { !$0.isWhitespace }) else {
            throw HRStoreError(.invalidValue, "the userName is empty", attribute: "userName")
        }
        if let date = fields.terminationDate, !date.isFinite {
            throw HRStoreError(.invalidValue, "terminationDate is not a finite number", attribute: "terminationDate")
        }
        guard let resource = try? HRJSON.decodeObject(fields.resourceJSON) else {
            throw HRStoreError(.invalidValue, "the resource is not a JSON object")
        }
        return resource
    }

    private static func validateTime(_ time: Double) throws {
        guard time.isFinite else {
            throw HRStoreError(.invalidValue, "the time is not a finite number")
        }
    }

    private static func statusDetails(_ fields: HRUserFields) -> [String: String] {
        var details = ["userName": fields.userName, "active": String(fields.active)]
        if let date = fields.terminationDate {
            details["terminationDate"] = isoTimestamp(date, milliseconds: false)
        }
        return details
    }

    /// Attribute names for an audit detail: comma-separated, at most 32 (then a count).
    private static func attributeList(_ names: [String]) -> String {
        let shown = names.prefix(32).joined(separator: ",")
        return names.count > 32 ? shown + ",…(+\(names.count - 32))" : shown
    }

    private static func hrUserRecord(_ row: Row) throws -> HRUserRecord {
        HRUserRecord(
            id: try Self.text(row, 0, "hr_user.id"),
            userName: try Self.text(row, 1, "hr_user.userName"),
            externalId: try Self.optionalText(row, 2),
            employeeNumber: try Self.optionalText(row, 3),
            active: row[4],
            terminationDate: row[5],
            identityID: try Self.optionalText(row, 6),
            resourceJSON: try Self.text(row, 7, "hr_user.resourceJSON"),
            version: row[8],
            created: try Self.real(row, 9, "hr_user.created"),
            lastModified: try Self.real(row, 10, "hr_user.lastModified")
        )
    }
}

/// Comparing two stored resources and naming what changed (the store does not know SCIM; it only
/// needs "which members differ"), on the shared `JSONValue`.
private enum HRJSON {
    static func decodeObject(_ text: String) throws -> JSONObject {
        try JSONDecoder().decode(JSONObject.self, from: Data(text.utf8))
    }

    /// The members that differ, one level into objects: `active`, `name.givenName`, and for an
    /// extension (a `urn:` member) `urn:…:User:employeeNumber`.
    static func changedAttributes(_ before: JSONObject, _ after: JSONObject) -> [String] {
        var changed: [String] = []
        for key in Set(before.keys).union(after.keys) where before[key] != after[key] {
            if case .object(let old)? = before[key], case .object(let new)? = after[key] {
                let separator = key.hasPrefix("urn:") ? ":" : "."
                for sub in Set(old.keys).union(new.keys) where old[sub] != new[sub] {
                    changed.append(key + separator + sub)
                }
            } else {
                changed.append(key)
            }
        }
        return changed
    }
}
