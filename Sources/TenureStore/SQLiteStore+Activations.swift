import GRDB
public import TenureCore

/// Just-in-time activations (`activation`), the write-back members they make, and TOTP enrolments
/// (`mfa_enrollment`), migration v5. Every mutation checks and writes inside one `BEGIN IMMEDIATE`
/// transaction together with its audit events: a refusal leaves neither a change nor an audit
/// record, and two writers cannot interleave between the check and the write.
extension SQLiteStore {
    private static let activationColumns = """
        id, identityID, role, state, requestedBy, requestedAt, durationSeconds, justification, ticket, mfa,
        decidedBy, decidedAt, decisionReason, startsAt, endsAt, endedAt, endReason
        """

    // MARK: - Activations

    /// Stores a new activation: `pending` without an assignment, or `active` with the assignment it
    /// stands for (state active, source `activation:<id>`), which is written in the same transaction.
    /// An active assignment of the role still in force at the assignment's start is never replaced
    /// (`alreadyActive`); one that has run out (an activation not yet swept) is.
    public func createActivation(_ record: ActivationRecord, assignment: Assignment?, audit: [AuditEvent])
        async throws
    {
        switch (record.state, assignment) {
        case (.pending, nil):
            break
        case (.active, let assignment?):
            try Self.check(assignment, for: record)
        default:
            throw ActivationStoreError(
                .invalidRecord,
                "a new activation is pending without an assignment or active with one (activation \(record.id))"
            )
        }
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO activation (\(Self.activationColumns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: Self.arguments(record)
            )
            if let assignment {
                try Self.requireNoActiveAssignment(assignment, db)
                try Self.writeAssignment(assignment, db)
            }
            _ = try self.appendAudit(audit, db)
        }
    }

    /// Approves a pending activation: it becomes active from `assignment.since` to `assignment.until`
    /// (the duration follows) and the assignment is written. `wrongState` unless pending.
    public func approveActivation(
        id: String,
        by approver: String,
        at time: Double,
        assignment: Assignment,
        audit: [AuditEvent]
    ) async throws -> ActivationRecord {
        try await self.pool.write { db in
            var record = try Self.requireActivation(id, in: [.pending], db)
            try Self.check(assignment, for: record)
            try Self.requireNoActiveAssignment(assignment, db)
            record.state = .active
            record.decidedBy = approver
            record.decidedAt = time
            record.startsAt = assignment.since
            record.endsAt = assignment.until
            if let until = assignment.until { record.durationSeconds = until - assignment.since }
            try db.execute(
                sql: """
                    UPDATE activation SET state = 'active', decidedBy = ?, decidedAt = ?, startsAt = ?, endsAt = ?,
                        durationSeconds = ?
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [approver, time, record.startsAt, record.endsAt, record.durationSeconds, id]
            )
            try Self.writeAssignment(assignment, db)
            _ = try self.appendAudit(audit, db)
            return record
        }
    }

    /// Denies a pending activation. `wrongState` unless pending.
    public func denyActivation(
        id: String,
        by approver: String,
        reason: String?,
        at time: Double,
        audit: [AuditEvent]
    ) async throws -> ActivationRecord {
        try await self.pool.write { db in
            var record = try Self.requireActivation(id, in: [.pending], db)
            record.state = .denied
            record.decidedBy = approver
            record.decidedAt = time
            record.decisionReason = reason
            try db.execute(
                sql: """
                    UPDATE activation SET state = 'denied', decidedBy = ?, decidedAt = ?, decisionReason = ?
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [approver, time, reason, id]
            )
            _ = try self.appendAudit(audit, db)
            return record
        }
    }

    /// Ends an activation early: an active one becomes `ended` and its assignment is deleted (only
    /// the assignment whose source is this activation); a pending one becomes `ended` too, meaning
    /// withdrawn (`decidedBy` names who withdrew it). `wrongState` for any other state.
    public func endActivation(
        id: String,
        by actor: String,
        reason: String?,
        at time: Double,
        audit: [AuditEvent]
    ) async throws -> ActivationRecord {
        let given = reason.flatMap { $0.allSatisfy(\.isWhitespace) ? nil : $0 }
        return try await self.pool.write { db in
            var record = try Self.requireActivation(id, in: [.active, .pending], db)
            let withdrawn = record.state == .pending
            if withdrawn {
                record.decidedBy = actor
                record.decidedAt = time
                record.decisionReason = given ?? "withdrawn"
            } else {
                try Self.deleteActivationAssignment(record, db)
            }
            record.state = .ended
            record.endedAt = time
            record.endReason = given ?? (withdrawn ? "withdrawn by \(actor)" : "ended by \(actor)")
            try db.execute(
                sql: """
                    UPDATE activation SET state = 'ended', decidedBy = ?, decidedAt = ?, decisionReason = ?,
                        endedAt = ?, endReason = ?
                    WHERE id = ? AND state IN ('active', 'pending')
                    """,
                arguments: [record.decidedBy, record.decidedAt, record.decisionReason, time, record.endReason, id]
            )
            _ = try self.appendAudit(audit, db)
            return record
        }
    }

    /// Expires every active activation whose `endsAt` is at or before `dueBy`: each becomes
    /// `expired` (`endedAt` = its `endsAt`) and its assignment is deleted; `audit` gives each one's
    /// events. One transaction; the expired records, in `endsAt` order.
    public func expireActivations(
        dueBy: Double,
        audit: @Sendable (ActivationRecord) -> [AuditEvent]
    ) async throws -> [ActivationRecord] {
        try await self.pool.write { db in
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.activationColumns) FROM activation
                    WHERE state = 'active' AND endsAt IS NOT NULL AND endsAt <= ?
                    ORDER BY endsAt, id
                    """,
                arguments: [dueBy]
            ).map(Self.activationRecord)
            var expired: [ActivationRecord] = []
            var events: [AuditEvent] = []
            for var record in due {
                record.state = .expired
                record.endedAt = record.endsAt
                record.endReason = "expired"
                try db.execute(
                    sql: """
                        UPDATE activation SET state = 'expired', endedAt = ?, endReason = 'expired'
                        WHERE id = ? AND state = 'active'
                        """,
                    arguments: [record.endedAt, record.id]
                )
                try Self.deleteActivationAssignment(record, db)
                expired.append(record)
                events += audit(record)
            }
            _ = try self.appendAudit(events, db)
            return expired
        }
    }

    public func activation(id: String) async throws -> ActivationRecord? {
        try await self.pool.read { db in try Self.fetchActivation(id, db) }
    }

    /// Activations, oldest request first, optionally of one identity and in one state.
    public func activations(identityID: String? = nil, state: ActivationRecord.State? = nil) async throws
        -> [ActivationRecord]
    {
        try await self.pool.read { db in
            var sql = "SELECT \(Self.activationColumns) FROM activation WHERE 1 = 1"
            var arguments = StatementArguments()
            if let identityID {
                sql += " AND identityID = ?"
                arguments += [identityID]
            }
            if let state {
                sql += " AND state = ?"
                arguments += [state.rawValue]
            }
            sql += " ORDER BY requestedAt, id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.activationRecord)
        }
    }

    // MARK: - Write-back members of activations

    /// The member Tenure wrote into a write-back group for an identity, if any.
    public func writeBackMember(group: String, identityID: String) async throws -> WriteBackMember? {
        try await self.pool.read { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT groupDN, identityID, member, role, since FROM writeback_member WHERE groupDN = ? AND identityID = ?",
                arguments: [group, identityID]
            ).map { row in
                WriteBackMember(
                    group: try Self.text(row, 0, "writeback_member.groupDN"),
                    identityID: try Self.text(row, 1, "writeback_member.identityID"),
                    member: try Self.text(row, 2, "writeback_member.member"),
                    role: try Self.text(row, 3, "writeback_member.role"),
                    since: try Self.real(row, 4, "writeback_member.since")
                )
            }
        }
    }

    /// Records a member Tenure wrote into a write-back group (replacing the group's row for the
    /// identity), with its audit events.
    public func recordWriteBackMember(_ member: WriteBackMember, audit: [AuditEvent]) async throws {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO writeback_member (groupDN, identityID, member, role, since) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (groupDN, identityID) DO UPDATE SET member = excluded.member, role = excluded.role,
                        since = excluded.since
                    """,
                arguments: [member.group, member.identityID, member.member, member.role, member.since]
            )
            _ = try self.appendAudit(audit, db)
        }
    }

    /// Forgets the member Tenure wrote into a group for an identity (it was removed), with its audit
    /// events. Whether there was one.
    @discardableResult
    public func forgetWriteBackMember(group: String, identityID: String, audit: [AuditEvent]) async throws -> Bool {
        try await self.pool.write { db in
            try db.execute(
                sql: "DELETE FROM writeback_member WHERE groupDN = ? AND identityID = ?",
                arguments: [group, identityID]
            )
            let removed = db.changesCount > 0
            _ = try self.appendAudit(audit, db)
            return removed
        }
    }

    // MARK: - MFA

    /// Stores an identity's sealed TOTP seed, replacing an earlier enrolment (whose used steps no
    /// longer matter), with its audit events (which must not carry the seed).
    public func enrollMFA(identityID: String, sealedSeed: String, at time: Double, audit: [AuditEvent]) async throws {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO mfa_enrollment (identityID, sealedSeed, lastUsedStep, enrolledAt) VALUES (?, ?, NULL, ?)
                    ON CONFLICT (identityID) DO UPDATE SET sealedSeed = excluded.sealedSeed, lastUsedStep = NULL,
                        enrolledAt = excluded.enrolledAt
                    """,
                arguments: [identityID, sealedSeed, time]
            )
            _ = try self.appendAudit(audit, db)
        }
    }

    /// The identity's sealed TOTP seed; nil when not enrolled.
    public func mfaSeed(identityID: String) async throws -> String? {
        try await self.mfaEnrollment(identityID: identityID)?.sealedSeed
    }

    public func mfaEnrollment(identityID: String) async throws -> MFAEnrollment? {
        try await self.pool.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT identityID, sealedSeed, lastUsedStep, enrolledAt FROM mfa_enrollment WHERE identityID = ?",
                arguments: [identityID]
            ).map { row in
                MFAEnrollment(
                    identityID: try Self.text(row, 0, "mfa_enrollment.identityID"),
                    sealedSeed: try Self.text(row, 1, "mfa_enrollment.sealedSeed"),
                    lastUsedStep: row[2],
                    enrolledAt: try Self.real(row, 3, "mfa_enrollment.enrolledAt")
                )
            }
        }
    }

    /// Marks a TOTP time step used, atomically: true only when the stored last used step is NULL or
    /// older than `step` (then it becomes `step`). Of two requests with the same code, one wins.
    /// False also when the identity is not enrolled.
    public func useTOTPStep(identityID: String, step: Int64) async throws -> Bool {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    UPDATE mfa_enrollment SET lastUsedStep = ?
                    WHERE identityID = ? AND (lastUsedStep IS NULL OR lastUsedStep < ?)
                    """,
                arguments: [step, identityID, step]
            )
            return db.changesCount == 1
        }
    }

    // MARK: - Helpers

    private static func arguments(_ record: ActivationRecord) -> StatementArguments {
        [
            record.id, record.identityID, record.role, record.state.rawValue, record.requestedBy, record.requestedAt,
            record.durationSeconds, record.justification, record.ticket, record.mfa, record.decidedBy,
            record.decidedAt, record.decisionReason, record.startsAt, record.endsAt, record.endedAt, record.endReason,
        ]
    }

    private static func activationRecord(_ row: Row) throws -> ActivationRecord {
        let id = try Self.text(row, 0, "activation.id")
        let stateText = try Self.text(row, 3, "activation.state")
        guard let state = ActivationRecord.State(rawValue: stateText) else {
            throw StoreError(.corruptData, "activation \(id) has an unknown state '\(stateText)'")
        }
        return ActivationRecord(
            id: id,
            identityID: try Self.text(row, 1, "activation.identityID"),
            role: try Self.text(row, 2, "activation.role"),
            state: state,
            requestedBy: try Self.text(row, 4, "activation.requestedBy"),
            requestedAt: try Self.real(row, 5, "activation.requestedAt"),
            durationSeconds: try Self.real(row, 6, "activation.durationSeconds"),
            justification: try Self.optionalText(row, 7),
            ticket: try Self.optionalText(row, 8),
            mfa: row[9] as Bool? ?? false,
            decidedBy: try Self.optionalText(row, 10),
            decidedAt: row[11],
            decisionReason: try Self.optionalText(row, 12),
            startsAt: row[13],
            endsAt: row[14],
            endedAt: row[15],
            endReason: try Self.optionalText(row, 16)
        )
    }

    private static func fetchActivation(_ id: String, _ db: Database) throws -> ActivationRecord? {
        try Row.fetchOne(
            db,
            sql: "SELECT \(Self.activationColumns) FROM activation WHERE id = ?",
            arguments: [id]
        ).map(Self.activationRecord)
    }

    private static func requireActivation(
        _ id: String,
        in states: Set<ActivationRecord.State>,
        _ db: Database
    ) throws -> ActivationRecord {
        guard let record = try Self.fetchActivation(id, db) else {
            throw ActivationStoreError(.notFound, "there is no activation \(id)")
        }
        guard states.contains(record.state) else {
            throw ActivationStoreError(
                .wrongState,
                "activation \(id) is \(record.state.rawValue)",
                state: record.state
            )
        }
        return record
    }

    /// The assignment must be the activation's: same identity and role, active, its source.
    private static func check(_ assignment: Assignment, for record: ActivationRecord) throws {
        guard assignment.identityID == record.identityID, assignment.role == record.role,
            assignment.state == .active, assignment.source == record.assignmentSource
        else {
            throw ActivationStoreError(
                .invalidRecord,
                "the assignment of activation \(record.id) must be the active \(record.role) of \(record.identityID) "
                    + "with source \(record.assignmentSource)"
            )
        }
    }

    /// Refuses to replace an active assignment of the role that is still in force when `assignment`
    /// starts (a standing grant, or another activation).
    private static func requireNoActiveAssignment(_ assignment: Assignment, _ db: Database) throws {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT source, until FROM assignment WHERE identityID = ? AND role = ? AND state = 'active'",
                arguments: [assignment.identityID, assignment.role]
            )
        else { return }
        let until: Double? = row[1]
        if let until, until <= assignment.since { return }
        throw ActivationStoreError(
            .alreadyActive,
            "\(assignment.identityID) already holds \(assignment.role) active"
        )
    }

    private static func writeAssignment(_ assignment: Assignment, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO assignment (identityID, role, state, source, since, until) VALUES (?, ?, 'active', ?, ?, ?)
                ON CONFLICT (identityID, role, state)
                DO UPDATE SET source = excluded.source, since = excluded.since, until = excluded.until
                """,
            arguments: [assignment.identityID, assignment.role, assignment.source, assignment.since, assignment.until]
        )
    }

    /// Deletes the activation's assignment, and only it (a later grant of the role stays).
    private static func deleteActivationAssignment(_ record: ActivationRecord, _ db: Database) throws {
        try db.execute(
            sql: "DELETE FROM assignment WHERE identityID = ? AND role = ? AND state = 'active' AND source = ?",
            arguments: [record.identityID, record.role, record.assignmentSource]
        )
    }
}
