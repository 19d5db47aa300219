import Foundation
import GRDB
public import TenureCore

/// The vault's tables (`credential`, `credential_version`, migration v2; `credential_checkout`, v4).
/// Each mutation checks the version (or check-out) states inside its write transaction
/// (`BEGIN IMMEDIATE`: no other writer in between), then changes the rows and appends its audit
/// events, all committed together or not at all. The partial unique indexes (one current, one
/// pending per credential) and the no-delete triggers back the checks up in the schema.
extension SQLiteStore: VaultStore {
    /// `<database>.locks`, beside the database every process of this vault opens (through its real
    /// path: processes opening it through a symbolic link must lock the same files).
    public var credentialLockDirectory: String {
        URL(fileURLWithPath: self.path).resolvingSymlinksInPath().path + ".locks"
    }

    public func addCredential(_ record: CredentialRecord, initialSecret sealed: String?, audit: [AuditEvent])
        async throws
    {
        try Self.validate(record)
        if let sealed { try Self.validateSealed(sealed, record.name, version: 1) }
        let (kind, kindValue) = Self.columns(record.kind)
        try await self.pool.write { db in
            if try Self.credentialExists(db, record.name) {
                throw StoreError(.invalidStatus, "credential \(record.name) already exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO credential (name, kind, kindValue, policyJSON, maxAgeSeconds, oneTime, requiresMFA,
                                            exclusiveCheckout, createdAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.name, kind, kindValue, record.policyJSON, record.maxAgeSeconds, record.oneTime,
                    record.requiresMFA, record.exclusiveCheckout, record.createdAt,
                ]
            )
            if let sealed {
                try db.execute(
                    sql: """
                        INSERT INTO credential_version (name, version, state, sealed, createdAt, settledAt)
                        VALUES (?, 1, ?, ?, ?, ?)
                        """,
                    arguments: [
                        record.name, CredentialVersionState.current.rawValue, sealed, record.createdAt,
                        record.createdAt,
                    ]
                )
            }
            _ = try self.appendAudit(audit, db)
        }
    }

    public func credentialStatuses() async throws -> [CredentialStatus] {
        try await self.pool.read { db in
            try Self.statuses(db, name: nil)
        }
    }

    public func credentialStatus(named name: String) async throws -> CredentialStatus? {
        try await self.pool.read { db in
            try Self.statuses(db, name: name).first
        }
    }

    /// The last entry of the credential's range of the primary key (name, version): no secret read.
    static let highestVersionSQL = "SELECT version FROM credential_version WHERE name = ? ORDER BY version DESC LIMIT 1"

    public func highestVersion(of name: String) async throws -> Int? {
        try await self.pool.read { db in
            try Int.fetchOne(db, sql: Self.highestVersionSQL, arguments: [name])
        }
    }

    public func versions(of name: String) async throws -> [CredentialVersion] {
        try await self.pool.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT version, state, sealed, createdAt, settledAt FROM credential_version
                    WHERE name = ? ORDER BY version
                    """,
                arguments: [name]
            )
            var versions: [CredentialVersion] = []
            while let row = try rows.next() {
                versions.append(try Self.credentialVersion(row, name))
            }
            return versions
        }
    }

    public func version(forRequest requestID: String) async throws -> (name: String, version: CredentialVersion)? {
        try await self.pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT version, state, sealed, createdAt, settledAt, name FROM credential_version
                        WHERE requestID = ?
                        """,
                    arguments: [requestID]
                )
            else { return nil }
            let name: String = row["name"]
            return (name, try Self.credentialVersion(row, name))
        }
    }

    public func addPendingVersion(
        of name: String,
        sealed: String,
        requestID: String?,
        at now: Double,
        audit: [AuditEvent]
    ) async throws -> Int {
        guard now.isFinite else {
            throw StoreError(.invalidEvent, "credential \(name): the pending version's time is not a finite number")
        }
        return try await self.pool.write { db in
            try Self.requireCredential(db, name)
            if let pending = try Int.fetchOne(
                db,
                sql: "SELECT version FROM credential_version WHERE name = ? AND state = ?",
                arguments: [name, CredentialVersionState.pending.rawValue]
            ) {
                throw StoreError(
                    .invalidStatus,
                    "credential \(name) already has a pending version (\(pending)): promote or abandon it first"
                )
            }
            let highest =
                try Int.fetchOne(
                    db,
                    sql: "SELECT MAX(version) FROM credential_version WHERE name = ?",
                    arguments: [name]
                ) ?? 0
            let version = highest + 1
            try Self.validateSealed(sealed, name, version: version)
            try db.execute(
                sql: """
                    INSERT INTO credential_version (name, version, state, sealed, createdAt, settledAt, requestID)
                    VALUES (?, ?, ?, ?, ?, NULL, ?)
                    """,
                arguments: [name, version, CredentialVersionState.pending.rawValue, sealed, now, requestID]
            )
            _ = try self.appendAudit(audit, db)
            return version
        }
    }

    public func promote(_ name: String, version: Int, at now: Double, audit: [AuditEvent]) async throws {
        guard now.isFinite else {
            throw StoreError(.invalidEvent, "credential \(name): the promotion's time is not a finite number")
        }
        try await self.pool.write { db in
            try Self.requirePending(db, name, version, "promote")
            // Retire first: the unique index allows one current version at a time.
            try db.execute(
                sql: "UPDATE credential_version SET state = ?, settledAt = ? WHERE name = ? AND state = ?",
                arguments: [
                    CredentialVersionState.retired.rawValue, now, name, CredentialVersionState.current.rawValue,
                ]
            )
            try db.execute(
                sql: "UPDATE credential_version SET state = ?, settledAt = ? WHERE name = ? AND version = ?",
                arguments: [CredentialVersionState.current.rawValue, now, name, version]
            )
            try db.execute(
                sql: "UPDATE credential SET failures = 0, lastError = NULL, nextAttemptAt = NULL WHERE name = ?",
                arguments: [name]
            )
            _ = try self.appendAudit(audit, db)
        }
    }

    public func abandon(_ name: String, version: Int, at now: Double, audit: [AuditEvent]) async throws {
        guard now.isFinite else {
            throw StoreError(.invalidEvent, "credential \(name): the abandonment's time is not a finite number")
        }
        try await self.pool.write { db in
            try Self.requirePending(db, name, version, "abandon")
            try db.execute(
                sql: "UPDATE credential_version SET state = ?, settledAt = ? WHERE name = ? AND version = ?",
                arguments: [CredentialVersionState.abandoned.rawValue, now, name, version]
            )
            _ = try self.appendAudit(audit, db)
        }
    }

    public func recordRotationFailure(_ name: String, error: String, nextAttemptAt: Double, audit: [AuditEvent])
        async throws
    {
        try await self.recordRotationFailure(name, error: error, nextAttemptAt: nextAttemptAt, audit: audit) { _ in
            true
        }
    }

    public func recordRotationFailure(
        _ name: String,
        error: String,
        nextAttemptAt: Double,
        ifCurrentVersion expected: Int?,
        audit: [AuditEvent]
    ) async throws -> Bool {
        try await self.recordRotationFailure(name, error: error, nextAttemptAt: nextAttemptAt, audit: audit) { db in
            let current = try Int.fetchOne(
                db,
                sql: "SELECT version FROM credential_version WHERE name = ? AND state = 'current'",
                arguments: [name]
            )
            return current == expected
        }
    }

    /// Records the failure in one transaction with `condition`, when it holds; whether it did.
    @discardableResult
    private func recordRotationFailure(
        _ name: String,
        error: String,
        nextAttemptAt: Double,
        audit: [AuditEvent],
        if condition: @escaping @Sendable (Database) throws -> Bool
    ) async throws -> Bool {
        guard nextAttemptAt.isFinite else {
            throw StoreError(.invalidEvent, "credential \(name): nextAttemptAt is not a finite number")
        }
        return try await self.pool.write { db in
            try Self.requireCredential(db, name)
            guard try condition(db) else { return false }
            try db.execute(
                sql: "UPDATE credential SET failures = failures + 1, lastError = ?, nextAttemptAt = ? WHERE name = ?",
                arguments: [error, nextAttemptAt, name]
            )
            _ = try self.appendAudit(audit, db)
            return true
        }
    }

    // MARK: - Check-outs

    public func recordCheckout(_ checkout: CredentialCheckout, audit: [AuditEvent]) async throws {
        try Self.validate(checkout)
        try await self.pool.write { db in
            let name = checkout.name
            try Self.requireCredential(db, name)
            guard
                try Bool.fetchOne(
                    db,
                    sql: "SELECT EXISTS (SELECT 1 FROM credential_version WHERE name = ? AND version = ?)",
                    arguments: [name, checkout.version]
                ) ?? false
            else {
                throw StoreError(
                    .unknownPlan,
                    "cannot check out credential \(name) version \(checkout.version): no such version"
                )
            }
            if let existing = try Self.checkouts(db, where: "id = ?", [checkout.id]).first {
                throw StoreError(
                    .invalidStatus,
                    "cannot check out credential \(name): check-out id \(checkout.id) is already used "
                        + "(credential \(existing.name))"
                )
            }
            let open = try Self.checkouts(db, where: "name = ? AND checkedInAt IS NULL", [name])
            if checkout.exclusive, let other = open.first {
                throw StoreError(
                    .invalidStatus,
                    "cannot check out credential \(name) exclusively: check-out \(other.id) by "
                        + "\(other.identityID) is open"
                )
            }
            if let exclusive = open.first(where: \.exclusive) {
                throw StoreError(
                    .invalidStatus,
                    "cannot check out credential \(name): check-out \(exclusive.id) by \(exclusive.identityID) "
                        + "holds it exclusively until it is checked in"
                )
            }
            try db.execute(
                sql: """
                    INSERT INTO credential_checkout (id, name, identityID, username, version, exclusive, checkedOutAt,
                                                     dueAt, checkedInAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
                    """,
                arguments: [
                    checkout.id, name, checkout.identityID, checkout.username, checkout.version, checkout.exclusive,
                    checkout.checkedOutAt, checkout.dueAt,
                ]
            )
            _ = try self.appendAudit(audit, db)
        }
    }

    public func checkIn(id: String, at time: Double, audit: [AuditEvent]) async throws -> CredentialCheckout {
        guard time.isFinite else {
            throw StoreError(.invalidEvent, "check-out \(id): the check-in time is not a finite number")
        }
        return try await self.pool.write { db in
            guard var checkout = try Self.checkouts(db, where: "id = ?", [id]).first else {
                throw StoreError(.unknownPlan, "there is no check-out \(id)")
            }
            guard checkout.isOpen else {
                throw StoreError(
                    .invalidStatus,
                    "check-out \(id) of credential \(checkout.name) is already checked in"
                )
            }
            try db.execute(
                sql: "UPDATE credential_checkout SET checkedInAt = ? WHERE id = ? AND checkedInAt IS NULL",
                arguments: [time, id]
            )
            _ = try self.appendAudit(audit, db)
            checkout.checkedInAt = time
            return checkout
        }
    }

    public func checkout(id: String) async throws -> CredentialCheckout? {
        try await self.pool.read { db in
            try Self.checkouts(db, where: "id = ?", [id]).first
        }
    }

    public func openCheckouts(of name: String) async throws -> [CredentialCheckout] {
        try await self.pool.read { db in
            try Self.checkouts(db, where: "name = ? AND checkedInAt IS NULL", [name])
        }
    }

    public func openCheckouts(dueBy time: Double) async throws -> [CredentialCheckout] {
        guard !time.isNaN else { throw StoreError(.invalidEvent, "the check-out due time is not a number") }
        return try await self.pool.read { db in
            try Self.checkouts(db, where: "checkedInAt IS NULL AND dueAt IS NOT NULL AND dueAt <= ?", [time])
        }
    }

    public func checkouts(since: Double) async throws -> [CredentialCheckout] {
        try Self.validateSince(since)
        return try await self.pool.read { db in
            try Self.checkouts(db, where: "(checkedOutAt >= ? OR checkedInAt IS NULL)", [since])
        }
    }

    public func checkouts(identityID: String, since: Double) async throws -> [CredentialCheckout] {
        try Self.validateSince(since)
        return try await self.pool.read { db in
            try Self.checkouts(
                db,
                where: "identityID = ? AND (checkedOutAt >= ? OR checkedInAt IS NULL)",
                [identityID, since]
            )
        }
    }

    // MARK: - Helpers

    private static func validate(_ record: CredentialRecord) throws {
        guard CredentialRecord.isValidName(record.name) else {
            throw StoreError(
                .invalidEvent,
                "credential name '\(record.name)' is not valid: use letters, digits, '.', '_' and '-'"
            )
        }
        guard record.createdAt.isFinite else {
            throw StoreError(.invalidEvent, "credential \(record.name): createdAt is not a finite number")
        }
        if let maxAge = record.maxAgeSeconds, !(maxAge.isFinite && maxAge > 0) {
            throw StoreError(.invalidEvent, "credential \(record.name): maxAgeSeconds must be a positive number")
        }
    }

    private static func validate(_ checkout: CredentialCheckout) throws {
        let what = "check-out \(checkout.id) of credential \(checkout.name)"
        guard !checkout.id.isEmpty else {
            throw StoreError(.invalidEvent, "a check-out of credential \(checkout.name) has an empty id")
        }
        guard !checkout.identityID.isEmpty else {
            throw StoreError(.invalidEvent, "\(what) names no identity")
        }
        guard checkout.checkedOutAt.isFinite else {
            throw StoreError(.invalidEvent, "\(what): checkedOutAt is not a finite number")
        }
        if let due = checkout.dueAt {
            guard due.isFinite else { throw StoreError(.invalidEvent, "\(what): dueAt is not a finite number") }
            guard due >= checkout.checkedOutAt else {
                throw StoreError(.invalidEvent, "\(what): dueAt is before checkedOutAt")
            }
        }
        guard checkout.checkedInAt == nil else {
            throw StoreError(.invalidEvent, "\(what) is already checked in: record it open, then check it in")
        }
    }

    /// A look-back start that is not a number would silently match nothing.
    private static func validateSince(_ since: Double) throws {
        guard !since.isNaN else { throw StoreError(.invalidEvent, "the check-out look-back start is not a number") }
    }

    /// The check-outs matching `condition` (SQL over `credential_checkout`), by check-out time then id.
    private static func checkouts(
        _ db: Database,
        where condition: String,
        _ arguments: StatementArguments
    ) throws -> [CredentialCheckout] {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, name, identityID, username, version, exclusive, checkedOutAt, dueAt, checkedInAt
                FROM credential_checkout WHERE \(condition) ORDER BY checkedOutAt, id
                """,
            arguments: arguments
        )
        var checkouts: [CredentialCheckout] = []
        while let row = try rows.next() {
            let id = try Self.text(row, 0, "credential_checkout.id")
            let what = "check-out \(id)"
            guard let version = row[4] as Int? else { throw StoreError(.corruptData, "\(what): version is NULL") }
            guard let exclusive = row[5] as Bool? else {
                throw StoreError(.corruptData, "\(what): exclusive is NULL")
            }
            checkouts.append(
                CredentialCheckout(
                    id: id,
                    name: try Self.text(row, 1, "\(what): name"),
                    identityID: try Self.text(row, 2, "\(what): identityID"),
                    username: try Self.optionalText(row, 3),
                    version: version,
                    exclusive: exclusive,
                    checkedOutAt: try Self.real(row, 6, "\(what): checkedOutAt"),
                    dueAt: row[7],
                    checkedInAt: row[8]
                )
            )
        }
        return checkouts
    }

    /// An empty sealed secret is a caller's bug, never a real envelope. (The message names the
    /// credential and version only.)
    private static func validateSealed(_ sealed: String, _ name: String, version: Int) throws {
        guard !sealed.isEmpty else {
            throw StoreError(.invalidEvent, "credential \(name) version \(version): the sealed secret is empty")
        }
    }

    private static func columns(_ kind: CredentialKind) -> (kind: String, value: String) {
        switch kind {
        case .ldapAccount(let dn): return ("ldapAccount", dn)
        case .command(let path): return ("command", path)
        }
    }

    private static func credentialExists(_ db: Database, _ name: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM credential WHERE name = ?)", arguments: [name])
            ?? false
    }

    private static func requireCredential(_ db: Database, _ name: String) throws {
        guard try Self.credentialExists(db, name) else {
            throw StoreError(.unknownPlan, "there is no credential \(name)")
        }
    }

    /// Throws unless `version` is the pending version of credential `name`.
    private static func requirePending(_ db: Database, _ name: String, _ version: Int, _ action: String) throws {
        try Self.requireCredential(db, name)
        guard
            let state = try String.fetchOne(
                db,
                sql: "SELECT state FROM credential_version WHERE name = ? AND version = ?",
                arguments: [name, version]
            )
        else {
            throw StoreError(.invalidStatus, "cannot \(action) credential \(name) version \(version): no such version")
        }
        guard state == CredentialVersionState.pending.rawValue else {
            throw StoreError(
                .invalidStatus,
                "cannot \(action) credential \(name) version \(version): it is \(state), not pending"
            )
        }
    }

    /// The current and pending versions of every credential: read through the two partial indexes
    /// (`credential_version_one_current`, `..._one_pending`), not by scanning every version ever
    /// made — a credential rotated at each leaver keeps them all, and this runs at every rotation,
    /// check-out and maintenance pass. A test checks the plans.
    static let liveVersionsSQL = """
        SELECT name, version, state, sealed, createdAt, settledAt FROM credential_version WHERE state = 'current'
        UNION ALL
        SELECT name, version, state, sealed, createdAt, settledAt FROM credential_version WHERE state = 'pending'
        """

    /// The same for one credential (its name bound twice).
    static let liveVersionsOfOneSQL = """
        SELECT name, version, state, sealed, createdAt, settledAt FROM credential_version
        WHERE name = ? AND state = 'current'
        UNION ALL
        SELECT name, version, state, sealed, createdAt, settledAt FROM credential_version
        WHERE name = ? AND state = 'pending'
        """

    /// Every credential (or the one named `name`), by name, with its current and pending versions.
    private static func statuses(_ db: Database, name: String?) throws -> [CredentialStatus] {
        var sql = """
            SELECT name, kind, kindValue, policyJSON, maxAgeSeconds, oneTime, createdAt, failures, lastError,
                nextAttemptAt, requiresMFA, exclusiveCheckout
            FROM credential
            """
        var arguments = StatementArguments()
        if let name {
            sql += " WHERE name = ?"
            arguments += [name]
        }
        sql += " ORDER BY name"
        var statuses: [CredentialStatus] = []
        var index: [String: Int] = [:]
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            let status = try Self.credentialStatus(row)
            index[status.record.name] = statuses.count
            statuses.append(status)
        }
        guard !statuses.isEmpty else { return [] }
        let versions = try Row.fetchCursor(
            db,
            sql: name == nil ? Self.liveVersionsSQL : Self.liveVersionsOfOneSQL,
            arguments: name.map { [$0, $0] } ?? []
        )
        while let row = try versions.next() {
            let owner = try Self.text(row, 0, "credential_version.name")
            guard let position = index[owner] else { continue }
            let version = try Self.credentialVersion(row, owner, offset: 1)
            switch version.state {
            case .current: statuses[position].current = version
            case .pending: statuses[position].pending = version
            case .retired, .abandoned: break
            }
        }
        return statuses
    }

    private static func credentialStatus(_ row: Row) throws -> CredentialStatus {
        let name = try Self.text(row, 0, "credential.name")
        let kindText = try Self.text(row, 1, "credential.kind")
        let kindValue = try Self.text(row, 2, "credential \(name): kindValue")
        let kind: CredentialKind
        switch kindText {
        case "ldapAccount": kind = .ldapAccount(dn: kindValue)
        case "command": kind = .command(path: kindValue)
        default: throw StoreError(.corruptData, "credential \(name) has an unknown kind '\(kindText)'")
        }
        guard let oneTime = row[5] as Bool? else {
            throw StoreError(.corruptData, "credential \(name): oneTime is NULL")
        }
        guard let failures = row[7] as Int? else {
            throw StoreError(.corruptData, "credential \(name): failures is NULL")
        }
        return CredentialStatus(
            record: CredentialRecord(
                name: name,
                kind: kind,
                policyJSON: try Self.text(row, 3, "credential \(name): policyJSON"),
                maxAgeSeconds: row[4],
                oneTime: oneTime,
                requiresMFA: row[10] as Bool? ?? false,
                exclusiveCheckout: row[11] as Bool? ?? false,
                createdAt: try Self.real(row, 6, "credential \(name): createdAt")
            ),
            failures: failures,
            lastError: try Self.optionalText(row, 8),
            nextAttemptAt: row[9]
        )
    }

    /// A version from `row`'s columns `offset`…`offset + 4`: version, state, sealed, createdAt, settledAt.
    private static func credentialVersion(_ row: Row, _ name: String, offset: Int = 0) throws -> CredentialVersion {
        guard let version = row[offset] as Int? else {
            throw StoreError(.corruptData, "credential \(name): a version number is NULL")
        }
        let what = "credential \(name) version \(version)"
        let stateText = try Self.text(row, offset + 1, "\(what): state")
        guard let state = CredentialVersionState(rawValue: stateText) else {
            throw StoreError(.corruptData, "\(what) has an unknown state '\(stateText)'")
        }
        return CredentialVersion(
            version: version,
            state: state,
            sealed: try Self.text(row, offset + 2, "\(what): sealed"),
            createdAt: try Self.real(row, offset + 3, "\(what): createdAt"),
            settledAt: row[offset + 4]
        )
    }
}
