import Foundation
import GRDB
public import TenureCore

/// A termination ordered by HR or an operator: carried out at once, or when due.
public struct Offboarding: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case scheduled, done, cancelled
    }

    public var id: String
    public var identityID: String
    public var effectiveAt: Double
    public var reason: String
    public var requestedBy: String
    public var requestedAt: Double
    public var state: State
    public var doneAt: Double?
    public var planID: Int64?

    public init(
        id: String,
        identityID: String,
        effectiveAt: Double,
        reason: String,
        requestedBy: String,
        requestedAt: Double,
        state: State = .scheduled,
        doneAt: Double? = nil,
        planID: Int64? = nil
    ) {
        self.id = id
        self.identityID = identityID
        self.effectiveAt = effectiveAt
        self.reason = reason
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.state = state
        self.doneAt = doneAt
        self.planID = planID
    }
}

extension SQLiteStore {
    /// Stores an offboarding (scheduled) with its audit records, in one transaction.
    public func addOffboarding(_ offboarding: Offboarding, audit: [AuditEvent]) async throws {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO offboarding (id, identityID, effectiveAt, reason, requestedBy, requestedAt, state)
                    VALUES (?, ?, ?, ?, ?, ?, 'scheduled')
                    """,
                arguments: [
                    offboarding.id, offboarding.identityID, offboarding.effectiveAt, offboarding.reason,
                    offboarding.requestedBy, offboarding.requestedAt,
                ]
            )
            _ = try self.appendAudit(audit, db)
        }
    }

    /// Marks an offboarding done (with the plan that carried it out) and audits, in one transaction.
    public func completeOffboarding(_ id: String, planID: Int64?, at time: Double, audit: [AuditEvent]) async throws {
        try await self.pool.write { db in
            try db.execute(
                sql:
                    "UPDATE offboarding SET state = 'done', doneAt = ?, planID = ? WHERE id = ? AND state = 'scheduled'",
                arguments: [time, planID, id]
            )
            guard db.changesCount == 1 else {
                throw StoreError(.invalidStatus, "offboarding \(id) does not exist or is not scheduled")
            }
            _ = try self.appendAudit(audit, db)
        }
    }

    /// Offboardings in a state, due ones first (by effectiveAt).
    public func offboardings(state: Offboarding.State? = nil, dueBy: Double? = nil) async throws -> [Offboarding] {
        try await self.pool.read { db in
            var sql = """
                SELECT id, identityID, effectiveAt, reason, requestedBy, requestedAt, state, doneAt, planID
                FROM offboarding WHERE 1 = 1
                """
            var arguments: StatementArguments = []
            if let state {
                sql += " AND state = ?"
                arguments += [state.rawValue]
            }
            if let dueBy {
                sql += " AND effectiveAt <= ?"
                arguments += [dueBy]
            }
            sql += " ORDER BY effectiveAt, id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.offboarding)
        }
    }

    /// The offboardings of one identity, in every state, in the order `offboardings(state:dueBy:)`
    /// gives them (by effectiveAt, then id). Reads only that identity's rows (index
    /// `offboarding_identity`), however many offboardings the store holds.
    public func offboardings(identityID: String) async throws -> [Offboarding] {
        try await self.pool.read { db in
            try Row.fetchAll(db, sql: Self.identityOffboardingsSQL, arguments: [identityID]).map(Self.offboarding)
        }
    }

    public func offboarding(id: String) async throws -> Offboarding? {
        try await self.pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT id, identityID, effectiveAt, reason, requestedBy, requestedAt, state, doneAt, planID
                    FROM offboarding WHERE id = ?
                    """,
                arguments: [id]
            ).map(Self.offboarding)
        }
    }

    /// `offboardings(identityID:)`'s query (a test checks SQLite answers it from the index).
    static let identityOffboardingsSQL = """
        SELECT id, identityID, effectiveAt, reason, requestedBy, requestedAt, state, doneAt, planID
        FROM offboarding WHERE identityID = ? ORDER BY effectiveAt, id
        """

    /// An offboarding from a row of `id, identityID, effectiveAt, reason, requestedBy, requestedAt,
    /// state, doneAt, planID`.
    private static func offboarding(_ row: Row) -> Offboarding {
        Offboarding(
            id: row[0],
            identityID: row[1],
            effectiveAt: row[2],
            reason: row[3],
            requestedBy: row[4],
            requestedAt: row[5],
            state: Offboarding.State(rawValue: row[6]) ?? .cancelled,
            doneAt: row[7],
            planID: row[8]
        )
    }

    /// Identities HR or an operator terminated, with why: offboardings carried out, and (through
    /// the HR store) linked HR records that are inactive, past their termination date or deleted.
    /// A sync treats them as leavers even while the directory still shows them enabled.
    public func hrTerminations(now: Double) async throws -> [String: String] {
        var terminated = try await self.terminatedIdentities(asOf: now)
        for offboarding in try await self.offboardings(state: .done) where terminated[offboarding.identityID] == nil {
            terminated[offboarding.identityID] = "offboarded: \(offboarding.reason)"
        }
        return terminated
    }

    /// `hrTerminations(now:)` for one identity (its entry there, or nil), read through the identity
    /// indexes: HR's word first, then the first offboarding carried out.
    public func hrTermination(identityID: String, now: Double) async throws -> String? {
        if let reason = try await self.terminationReason(identityID: identityID, asOf: now) { return reason }
        return try await self.offboardings(identityID: identityID).first { $0.state == .done }
            .map { "offboarded: \($0.reason)" }
    }

    /// Takes back the offboardings HR asked for (`requestedBy` starting with `prefix`, e.g.
    /// `scim:<id>`) once HR says the person is employed again: they stop keeping the identity a
    /// leaver, and the next sync grants what the directory and the rules say (nothing is restored).
    public func cancelOffboardings(identityID: String, requestedByPrefix prefix: String, audit: [AuditEvent])
        async throws
        -> Int
    {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    UPDATE offboarding SET state = 'cancelled'
                    WHERE identityID = ? AND state IN ('scheduled', 'done') AND substr(requestedBy, 1, ?) = ?
                    """,
                arguments: [identityID, prefix.count, prefix]
            )
            let count = db.changesCount
            if count > 0 { _ = try self.appendAudit(audit, db) }
            return count
        }
    }

    /// Credentials that need a TOTP code at check-out.
    public func credentialsRequiringMFA() async throws -> Set<String> {
        try await self.pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT name FROM credential WHERE requiresMFA = 1"))
        }
    }
}

extension SQLiteStore {
    /// Ends every active or pending activation of an identity (its offboarding revoked the
    /// assignments): they show as ended, and a pending one can no longer be approved.
    @discardableResult
    public func endActivations(identityID: String, reason: String, at time: Double, actor: String) async throws -> Int {
        try await self.pool.write { db in
            try db.execute(
                sql: """
                    UPDATE activation SET state = 'ended', endedAt = ?, endReason = ?
                    WHERE identityID = ? AND state IN ('pending', 'active')
                    """,
                arguments: [time, reason, identityID]
            )
            let count = db.changesCount
            if count > 0 {
                _ = try self.appendAudit(
                    [
                        AuditEvent(
                            time: time,
                            actor: actor,
                            type: "activation.ended",
                            subject: identityID,
                            details: ["reason": reason, "activations": String(count)]
                        )
                    ],
                    db
                )
            }
            return count
        }
    }
}
