import Foundation
import GRDB
import Synchronization
public import TenureCore

/// The PIM store in one SQLite file, through GRDB.
///
/// A `DatabasePool` in WAL mode: reads run concurrently with the single writer; writes are
/// `BEGIN IMMEDIATE` transactions, so a write that reads before it writes (the audit chain's last
/// MAC) holds the write lock from the start — also against other processes on the same file, who
/// wait up to 10 seconds for it. Foreign keys are enforced; `synchronous = FULL` (every commit synced:
/// it survives a power loss) unless opened with `durable: false` (`NORMAL`: durable across process
/// crashes; a power loss can lose the newest transactions but never corrupts the file).
/// Opening a database written by a newer version (unknown migrations) fails rather than guess.
///
/// The audit log is append-only: SQLite triggers abort any UPDATE or DELETE of `audit_log`. They stop
/// mistakes, not an attacker with the file, who can drop them — `verifyAudit()` does not rely on
/// them: every record's MAC (under the audit key) covers its content, its sequence number and the
/// previous record's MAC, so a change, deletion, insertion or reordering made with the triggers
/// dropped is still reported, at the first record it affects.
public final class SQLiteStore: PIMStore {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    let auditKey: AuditKey
    /// The connection passive checkpoints run on (`checkpointPassively()`), opened by the first
    /// and kept: the API server's checkpointer runs one every quarter second.
    let checkpointConnection = Mutex<DatabaseQueue?>(nil)

    /// Opens (creating it if needed) the store at `path` and migrates it to the latest schema.
    /// - Parameter autoCheckpoint: false leaves checkpoints to `checkpointPassively()` called by the
    ///   owner (the API server does, on a timer): an automatic checkpoint runs on the committing
    ///   writer and stalls every request waiting for the audit (tens of milliseconds at p99).
    /// - Parameter readOnly: opens an existing store without writing to it (no file created, no
    ///   migration): for reading and verifying the audit of a copy kept as evidence, of any schema
    ///   up to this build's.
    /// - Parameter durable: `synchronous = FULL` (every commit synced: it survives a power loss);
    ///   false is `NORMAL` (synced at checkpoints: it survives a crash of the process only).
    public init(
        path: String,
        auditKey: AuditKey,
        autoCheckpoint: Bool = true,
        readOnly: Bool = false,
        durable: Bool = true
    ) throws {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.label = "tenure.store"
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // WAL + FULL syncs the WAL at every commit (NORMAL: at checkpoints only); a 32 MiB page
            // cache (per connection, grown on demand) keeps the audit indexes' random inserts off the
            // disk; checkpoints every 16 MiB of WAL instead of 4 (fewer fsyncs on bulk appends).
            try db.execute(
                sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL"); PRAGMA cache_size = -32768; "
                    + "PRAGMA wal_autocheckpoint = " + (autoCheckpoint ? "4000" : "0")
            )
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        if !readOnly {
            // GRDB turns WAL on with `synchronous = NORMAL` on the writer, after `prepareDatabase`
            // ran: without this, commits were synced at checkpoints only, whatever `durable` said.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
            }
        }
        let migrator = StoreMigrations.migrator
        if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
            try? pool.close()
            throw StoreError(.newerSchema, "\(path) was written by a newer Tenure (unknown schema migrations)")
        }
        // Read-only: any schema up to this one (the audit log has not changed since v1; evidence
        // is not migrated). Otherwise migrated to the latest.
        if !readOnly {
            try migrator.migrate(pool)
        }
        self.path = path
        self.pool = pool
        self.auditKey = auditKey
    }

    /// Closes the database connections. Further use of the store throws.
    public func close() throws {
        try self.checkpointConnection.withLock { connection in
            defer { connection = nil }
            try connection?.close()
        }
        try self.pool.close()
    }

    // MARK: - State

    public func loadState() async throws -> PIMState {
        try await self.pool.read { db in
            var state = PIMState()
            let identities = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, state, dn, username, attributes, groups, firstSeen, lastSeen, terminatedAt
                    FROM identity
                    """
            )
            while let row = try identities.next() {
                let record = try Self.identityRecord(row)
                state.identities[record.id] = record
            }
            let assignments = try Row.fetchCursor(
                db,
                sql: """
                    SELECT identityID, role, state, source, since, until
                    FROM assignment ORDER BY identityID, role, state
                    """
            )
            while let row = try assignments.next() {
                let identityID = try Self.text(row, 0, "assignment.identityID")
                let role = try Self.text(row, 1, "assignment.role")
                let stateText = try Self.text(row, 2, "assignment.state")
                guard let assignmentState = AssignmentState(rawValue: stateText) else {
                    throw StoreError(
                        .corruptData,
                        "assignment \(identityID)/\(role) has an unknown state '\(stateText)'"
                    )
                }
                state.assignments.append(
                    Assignment(
                        identityID: identityID,
                        role: role,
                        state: assignmentState,
                        source: try Self.text(row, 3, "assignment.source"),
                        since: try Self.real(row, 4, "assignment.since"),
                        until: row[5]
                    )
                )
            }
            let members = try Row.fetchCursor(
                db,
                sql:
                    "SELECT groupDN, identityID, member, role, since FROM writeback_member ORDER BY groupDN, identityID"
            )
            while let row = try members.next() {
                state.writeBackMembers.append(
                    WriteBackMember(
                        group: try Self.text(row, 0, "writeback_member.groupDN"),
                        identityID: try Self.text(row, 1, "writeback_member.identityID"),
                        member: try Self.text(row, 2, "writeback_member.member"),
                        role: try Self.text(row, 3, "writeback_member.role"),
                        since: try Self.real(row, 4, "writeback_member.since")
                    )
                )
            }
            return state
        }
    }

    /// `identityRecords(username:)`'s query (a test checks it uses the index).
    static let identitiesByUsernameSQL = """
        SELECT id, state, dn, username, attributes, groups, firstSeen, lastSeen, terminatedAt
        FROM identity WHERE username = ? COLLATE NOCASE ORDER BY id
        """

    public func identityRecords(username: String) async throws -> [IdentityRecord] {
        try await self.pool.read { db in
            try Row.fetchAll(db, sql: Self.identitiesByUsernameSQL, arguments: [username]).map(Self.identityRecord)
        }
    }

    public func loadState(identityID: String) async throws -> PIMState {
        try await self.pool.read { db in
            var state = PIMState()
            if let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT id, state, dn, username, attributes, groups, firstSeen, lastSeen, terminatedAt
                    FROM identity WHERE id = ?
                    """,
                arguments: [identityID]
            ) {
                let record = try Self.identityRecord(row)
                state.identities[record.id] = record
            }
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT role, state, source, since, until FROM assignment WHERE identityID = ? ORDER BY role, state",
                arguments: [identityID]
            ) {
                let text: String = row[1]
                guard let assignmentState = AssignmentState(rawValue: text) else {
                    throw StoreError(.corruptData, "assignment \(identityID) has an unknown state '\(text)'")
                }
                state.assignments.append(
                    Assignment(
                        identityID: identityID,
                        role: row[0],
                        state: assignmentState,
                        source: row[2],
                        since: row[3],
                        until: row[4]
                    )
                )
            }
            for row in try Row.fetchAll(
                db,
                sql: "SELECT groupDN, member, role, since FROM writeback_member WHERE identityID = ? ORDER BY groupDN",
                arguments: [identityID]
            ) {
                state.writeBackMembers.append(
                    WriteBackMember(group: row[0], identityID: identityID, member: row[1], role: row[2], since: row[3])
                )
            }
            return state
        }
    }

    public func leaverHistory(since: Double, identityID: String? = nil) async throws
        -> (ended: [EndedHolding], checkouts: [CheckoutRecord])
    {
        try await self.pool.read { db in
            var ended: [EndedHolding] = []
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT subject, object, details, time FROM audit_log
                    WHERE time >= ? AND type IN ('role.revoked', 'role.expired') AND outcome = 'success'
                        AND subject IS NOT NULL AND object IS NOT NULL
                    """ + (identityID == nil ? "" : " AND subject = ?") + " ORDER BY sequence",
                arguments: identityID.map { [since, $0] } ?? [since]
            )
            while let row = try rows.next() {
                let details = (row[2] as String?).flatMap { FlatJSON.decodeObject($0) } ?? [:]
                ended.append(
                    EndedHolding(
                        identityID: try Self.text(row, 0, "audit_log.subject"),
                        role: try Self.text(row, 1, "audit_log.object"),
                        state: details["state"].flatMap(AssignmentState.init(rawValue:)) ?? .active,
                        endedAt: try Self.real(row, 3, "audit_log.time")
                    )
                )
            }
            var checkouts: [CheckoutRecord] = []
            let checkoutRows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT identityID, name, checkedOutAt, checkedInAt IS NULL FROM credential_checkout
                    WHERE (checkedOutAt >= ? OR checkedInAt IS NULL)
                    """ + (identityID == nil ? "" : " AND identityID = ?") + " ORDER BY checkedOutAt, id",
                arguments: identityID.map { [since, $0] } ?? [since]
            )
            while let row = try checkoutRows.next() {
                checkouts.append(
                    CheckoutRecord(
                        identityID: try Self.text(row, 0, "credential_checkout.identityID"),
                        credential: try Self.text(row, 1, "credential_checkout.name"),
                        checkedOutAt: try Self.real(row, 2, "credential_checkout.checkedOutAt"),
                        isOpen: row[3] as Bool? ?? false
                    )
                )
            }
            return (ended, checkouts)
        }
    }

    // MARK: - Drift

    public func driftFindings() async throws -> [RecordedDrift] {
        try await self.pool.read { db in try Self.recordedDrift(db) }
    }

    private static func recordedDrift(_ db: Database) throws -> [RecordedDrift] {
        var found: [RecordedDrift] = []
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT findingJSON, firstSeen, lastSeen FROM drift_finding ORDER BY role, member, kind"
        )
        while let row = try rows.next() {
            let json = try Self.text(row, 0, "drift_finding.findingJSON")
            found.append(
                RecordedDrift(
                    finding: try StoreJSON.decode(json, what: "drift finding") as DriftFinding,
                    firstSeen: try Self.real(row, 1, "drift_finding.firstSeen"),
                    lastSeen: try Self.real(row, 2, "drift_finding.lastSeen")
                )
            )
        }
        return found
    }

    public func recordDrift(_ current: [DriftFinding], time: Double, actor: String) async throws
        -> (detected: [DriftFinding], resolved: [DriftFinding])
    {
        let encoded = try current.map { ($0, try StoreJSON.encode($0)) }
        return try await self.pool.write { db in
            let before = Dictionary(
                try Self.recordedDrift(db).map { (DriftKey($0.finding), $0) },
                uniquingKeysWith: { first, _ in first }
            )
            var seen = Set<DriftKey>()
            var detected: [DriftFinding] = []
            var events: [AuditEvent] = []
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO drift_finding (role, member, kind, findingJSON, firstSeen, lastSeen)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (role, member, kind) DO UPDATE SET findingJSON = excluded.findingJSON,
                        lastSeen = excluded.lastSeen
                    """
            )
            for (finding, json) in encoded {
                let k = DriftKey(finding)
                guard seen.insert(k).inserted else { continue }
                try upsert.execute(arguments: [finding.role, finding.member, finding.kind.rawValue, json, time, time])
                if before[k]?.finding.resolution != finding.resolution || before[k] == nil {
                    detected.append(finding)
                    events.append(Self.driftEvent("drift.detected", finding, time: time, actor: actor))
                }
            }
            var resolved: [DriftFinding] = []
            for (k, recorded) in before.sorted(by: { ($0.key.role, $0.key.member) < ($1.key.role, $1.key.member) })
            where !seen.contains(k) {
                try db.execute(
                    sql: "DELETE FROM drift_finding WHERE role = ? AND member = ? AND kind = ?",
                    arguments: [k.role, k.member, k.kind]
                )
                resolved.append(recorded.finding)
                events.append(Self.driftEvent("drift.resolved", recorded.finding, time: time, actor: actor))
            }
            _ = try self.appendAudit(events, db)
            return (detected, resolved)
        }
    }

    private struct DriftKey: Hashable {
        var role: String
        var member: String
        var kind: String

        init(_ finding: DriftFinding) {
            self.role = finding.role
            self.member = finding.member
            self.kind = finding.kind.rawValue
        }
    }

    private static func driftEvent(_ type: String, _ finding: DriftFinding, time: Double, actor: String) -> AuditEvent {
        AuditEvent(
            time: time,
            actor: actor,
            type: type,
            subject: finding.identityID,
            object: finding.role,
            outcome: type == "drift.resolved" ? "resolved" : finding.resolution.rawValue,
            details: [
                "group": finding.group, "member": finding.member, "kind": finding.kind.rawValue,
                "detail": finding.detail, "username": finding.username ?? "",
            ]
        )
    }

    // MARK: - Plans and the journal

    public func savePlan(_ plan: Plan, hash: String, actor: String, journal: [JournalEntry]) async throws -> Int64 {
        let planJSON = try StoreJSON.encode(plan)
        let actionJSON = try journal.map { try StoreJSON.encode($0.action) }
        return try await self.pool.write { db in
            try db.execute(
                sql: "INSERT INTO plan (hash, createdAt, actor, status, planJSON) VALUES (?, ?, ?, ?, ?)",
                arguments: [hash, plan.createdAt, actor, PlanStatus.pending.rawValue, planJSON]
            )
            let planID = db.lastInsertedRowID
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO plan_journal (planID, identityID, actionIndex, actionJSON, credential)
                    VALUES (?, ?, ?, ?, ?)
                    """
            )
            for (entry, json) in zip(journal, actionJSON) {
                var credential: String?
                if case .rotateCredential(let name, _, _) = entry.action { credential = name }
                try insert.execute(arguments: [planID, entry.identityID, entry.index, json, credential])
            }
            return planID
        }
    }

    /// Every plan whose status is `pending` or `applying`, oldest first (without journals), and
    /// those of them whose plan cannot be read (hand-edited, or from an incompatible version;
    /// resuming it fails the same way) with what their journals still say.
    public func openPlans() async throws -> (plans: [Plan], unreadable: [UnreadablePlan]) {
        try await self.pool.read { db in
            var plans: [Plan] = []
            var unreadable: [UnreadablePlan] = []
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT id, planJSON FROM plan WHERE status IN ('pending', 'applying') ORDER BY id"
            )
            while let row = try rows.next() {
                let id: Int64 = row[0]
                do {
                    plans.append(try StoreJSON.decode(try Self.text(row, 1, "plan.planJSON"), what: "plan \(id)"))
                } catch {
                    var plan = UnreadablePlan(id: id, reason: "\(error)", entries: [])
                    let entries = try Row.fetchCursor(
                        db,
                        sql: """
                            SELECT id, identityID, actionJSON FROM plan_journal WHERE planID = ? AND done = 0
                            ORDER BY id
                            """,
                        arguments: [id]
                    )
                    while let entry = try entries.next() {
                        let entryID: Int64 = entry[0]
                        let identityID = try? Self.text(entry, 1, "plan_journal.identityID")
                        let action: PlanAction? = try? StoreJSON.decode(
                            try Self.text(entry, 2, "plan_journal.actionJSON"),
                            what: "journal entry \(entryID)"
                        )
                        if let identityID, let action {
                            plan.entries.append(UnreadablePlan.Entry(identityID: identityID, action: action))
                        } else {
                            plan.unreadableEntries += 1
                            if let identityID { plan.unreadableEntryIdentities.insert(identityID) }
                        }
                    }
                    unreadable.append(plan)
                }
            }
            return (plans, unreadable)
        }
    }

    /// The oldest open plan (`pending` or `applying`, whoever saved it: this process, a
    /// `tenure sync` or `tenure offboard` beside it, a run that crashed) that has not yet rotated
    /// `credential` (a leaver could know its secret); nil when none has.
    public func planStillToRotate(credential: String) async throws -> Int64? {
        try await self.pool.read { db in
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT plan_journal.planID FROM plan_journal JOIN plan ON plan.id = plan_journal.planID
                    WHERE plan_journal.credential = ? AND plan_journal.done = 0
                        AND plan.status IN ('pending', 'applying')
                    ORDER BY plan_journal.planID LIMIT 1
                    """,
                arguments: [credential]
            )
        }
    }

    public func unfinishedPlan() async throws -> StoredPlan? {
        try await self.pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT id, hash, status, actor, planJSON FROM plan
                        WHERE status IN ('pending', 'applying') ORDER BY id LIMIT 1
                        """
                )
            else { return nil }
            let id: Int64 = row[0]
            let statusText = try Self.text(row, 2, "plan.status")
            guard let status = PlanStatus(rawValue: statusText) else {
                throw StoreError(.corruptData, "plan \(id) has an unknown status '\(statusText)'")
            }
            let plan: Plan = try StoreJSON.decode(try Self.text(row, 4, "plan.planJSON"), what: "plan \(id)")
            var journal: [JournalEntry] = []
            let entries = try Row.fetchCursor(
                db,
                sql:
                    "SELECT id, identityID, actionIndex, actionJSON, done FROM plan_journal WHERE planID = ? ORDER BY id",
                arguments: [id]
            )
            while let entry = try entries.next() {
                let entryID: Int64 = entry[0]
                journal.append(
                    JournalEntry(
                        id: entryID,
                        identityID: try Self.text(entry, 1, "plan_journal.identityID"),
                        index: entry[2],
                        action: try StoreJSON.decode(
                            try Self.text(entry, 3, "plan_journal.actionJSON"),
                            what: "journal entry \(entryID)"
                        ),
                        done: entry[4]
                    )
                )
            }
            return StoredPlan(
                id: id,
                hash: try Self.text(row, 1, "plan.hash"),
                plan: plan,
                status: status,
                actor: try Self.text(row, 3, "plan.actor"),
                journal: journal
            )
        }
    }

    public func applyJournalEntry(planID: Int64, entryID: Int64, change: StateChange, audit: [AuditEvent]) async throws
        -> Bool
    {
        try await self.applyJournalEntries(
            planID: planID,
            [JournalApplication(entryID: entryID, change: change, audit: audit)]
        ) == 1
    }

    public func journalEntryIDs(planID: Int64) async throws -> [Int64] {
        try await self.pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM plan_journal WHERE planID = ? ORDER BY id", arguments: [planID])
        }
    }

    public func applyJournalEntries(planID: Int64, _ entries: [JournalApplication]) async throws -> Int {
        let now = Date().timeIntervalSince1970
        return try await self.pool.write { db in
            var status = try Self.planStatus(db, planID)
            var applied = 0
            for entry in entries {
                // Cached statements: a batch runs these hundreds of times.
                let check = try db.cachedStatement(sql: "SELECT done FROM plan_journal WHERE id = ? AND planID = ?")
                guard let done = try Bool.fetchOne(check, arguments: [entry.entryID, planID]) else {
                    throw StoreError(.unknownJournalEntry, "plan \(planID) has no journal entry \(entry.entryID)")
                }
                if done { continue }
                guard status.isOpen else {
                    throw StoreError(.planFinished, "plan \(planID) is \(status.rawValue): nothing more can be applied")
                }
                try Self.apply(entry.change, db)
                try db.cachedStatement(sql: "UPDATE plan_journal SET done = 1, doneAt = ? WHERE id = ?")
                    .execute(arguments: [now, entry.entryID])
                _ = try self.appendAudit(entry.audit, db)
                if status != .applying {
                    try db.execute(
                        sql: "UPDATE plan SET status = ? WHERE id = ?",
                        arguments: [PlanStatus.applying.rawValue, planID]
                    )
                    status = .applying
                }
                applied += 1
            }
            return applied
        }
    }

    public func finishPlan(_ planID: Int64, status: PlanStatus, audit: [AuditEvent]) async throws {
        guard !status.isOpen else {
            throw StoreError(.invalidStatus, "a plan is finished as applied, held or failed, not \(status.rawValue)")
        }
        try await self.pool.write { db in
            let current = try Self.planStatus(db, planID)
            guard current.isOpen else {
                throw StoreError(.planFinished, "plan \(planID) is already \(current.rawValue)")
            }
            try db.execute(sql: "UPDATE plan SET status = ? WHERE id = ?", arguments: [status.rawValue, planID])
            _ = try self.appendAudit(audit, db)
        }
    }

    // MARK: - Helpers

    private static func planStatus(_ db: Database, _ planID: Int64) throws -> PlanStatus {
        guard let text = try String.fetchOne(db, sql: "SELECT status FROM plan WHERE id = ?", arguments: [planID])
        else {
            throw StoreError(.unknownPlan, "there is no plan \(planID)")
        }
        guard let status = PlanStatus(rawValue: text) else {
            throw StoreError(.corruptData, "plan \(planID) has an unknown status '\(text)'")
        }
        return status
    }

    private static func apply(_ change: StateChange, _ db: Database) throws {
        switch change {
        case .none:
            break
        case .upsertAssignment(let assignment):
            try Self.upsertAssignment(assignment, db)
        case .deleteAssignment(let key):
            try Self.deleteAssignment(key, db)
        case .replaceAssignment(let remove, let add):
            try Self.deleteAssignment(remove, db)
            try Self.upsertAssignment(add, db)
        case .upsertIdentity(let record):
            try Self.upsertIdentity(record, db)
        case .addWriteBackMember(let member):
            try db.cachedStatement(
                sql: """
                    INSERT INTO writeback_member (groupDN, identityID, member, role, since) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (groupDN, identityID) DO UPDATE SET member = excluded.member, role = excluded.role
                    """
            ).execute(arguments: [member.group, member.identityID, member.member, member.role, member.since])
        case .removeWriteBackMember(let group, let identityID):
            try db.cachedStatement(
                sql: "DELETE FROM writeback_member WHERE groupDN = ? AND identityID = ?"
            ).execute(arguments: [group, identityID])
        case .all(let changes):
            for change in changes { try Self.apply(change, db) }
        }
    }

    private static func upsertAssignment(_ assignment: Assignment, _ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO assignment (identityID, role, state, source, since, until) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (identityID, role, state)
                DO UPDATE SET source = excluded.source, since = excluded.since, until = excluded.until
                """
        ).execute(
            arguments: [
                assignment.identityID, assignment.role, assignment.state.rawValue, assignment.source,
                assignment.since, assignment.until,
            ]
        )
    }

    private static func deleteAssignment(_ key: AssignmentKey, _ db: Database) throws {
        try db.cachedStatement(
            sql: "DELETE FROM assignment WHERE identityID = ? AND role = ? AND state = ?"
        ).execute(
            arguments: [key.identityID, key.role, key.state.rawValue]
        )
    }

    private static func upsertIdentity(_ record: IdentityRecord, _ db: Database) throws {
        let attributes = FlatJSON.object(record.attributes)
        let groups = FlatJSON.array(record.groups)
        var changed = true
        if let existing = try Row.fetchOne(
            db,
            sql: "SELECT state, dn, username, attributes, groups FROM identity WHERE id = ?",
            arguments: [record.id]
        ) {
            let oldState: String? = existing[0]
            let oldDN: String? = existing[1]
            let oldUsername: String? = existing[2]
            let oldAttributes = (existing[3] as String?).flatMap { FlatJSON.decodeObject($0) }
            let oldGroups = (existing[4] as String?).flatMap { FlatJSON.decodeArray($0) }
            changed =
                oldState != record.state.rawValue || oldDN != record.dn || oldUsername != record.username
                || oldAttributes != record.attributes || oldGroups != record.groups
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO identity (id, state, dn, username, attributes, groups, firstSeen, lastSeen, terminatedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    state = excluded.state, dn = excluded.dn, username = excluded.username,
                    attributes = excluded.attributes, groups = excluded.groups, firstSeen = excluded.firstSeen,
                    lastSeen = excluded.lastSeen, terminatedAt = excluded.terminatedAt
                """
        ).execute(
            arguments: [
                record.id, record.state.rawValue, record.dn, record.username, attributes, groups, record.firstSeen,
                record.lastSeen, record.terminatedAt,
            ]
        )
        guard changed else { return }
        try db.cachedStatement(
            sql: """
                INSERT INTO identity_history (identityID, sequence, time, state, dn, username, attributes, groups)
                SELECT ?, COALESCE(MAX(sequence), 0) + 1, ?, ?, ?, ?, ?, ?
                FROM identity_history WHERE identityID = ?
                """
        ).execute(
            arguments: [
                record.id, record.lastSeen, record.state.rawValue, record.dn, record.username, attributes, groups,
                record.id,
            ]
        )
    }

    static func identityRecord(_ row: Row) throws -> IdentityRecord {
        let id = try Self.text(row, 0, "identity.id")
        let stateText = try Self.text(row, 1, "identity.state")
        guard let state = LifecycleState(rawValue: stateText) else {
            throw StoreError(.corruptData, "identity \(id) has an unknown state '\(stateText)'")
        }
        guard let attributes = FlatJSON.decodeObject(try Self.text(row, 4, "identity.attributes")) else {
            throw StoreError(.corruptData, "identity \(id): attributes is not a JSON object of strings")
        }
        guard let groups = FlatJSON.decodeArray(try Self.text(row, 5, "identity.groups")) else {
            throw StoreError(.corruptData, "identity \(id): groups is not a JSON array of strings")
        }
        return IdentityRecord(
            id: id,
            state: state,
            dn: try Self.text(row, 2, "identity.dn"),
            username: row[3],
            attributes: attributes,
            groups: groups,
            firstSeen: try Self.real(row, 6, "identity.firstSeen"),
            lastSeen: try Self.real(row, 7, "identity.lastSeen"),
            terminatedAt: row[8]
        )
    }

    /// A NOT NULL text column, exactly (NUL characters included).
    static func text(_ row: Row, _ index: Int, _ column: String) throws -> String {
        guard let text = try Self.optionalText(row, index) else {
            throw StoreError(.corruptData, "\(column) is NULL")
        }
        return text
    }

    static func optionalText(_ row: Row, _ index: Int) throws -> String? {
        try row.withUnsafeData(atIndex: index) { data in
            data.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    static func real(_ row: Row, _ index: Int, _ column: String) throws -> Double {
        guard let value = row[index] as Double? else {
            throw StoreError(.corruptData, "\(column) is NULL")
        }
        return value
    }
}

/// JSON for the Codable core types (plans, actions): sorted keys, so equal values give equal text.
enum StoreJSON {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StoreError(.corruptData, "\(what) does not decode: \(error)")
        }
    }
}
