import Foundation
import GRDB
import TenureCore
import Testing

@testable import TenureStore

private let t0: Double = 1_764_000_000
private let day: Double = 86_400

private func hrFields(_ userName: String, active: Bool = true, terminationDate: Double? = nil) -> HRUserFields {
    HRUserFields(
        userName: userName,
        active: active,
        terminationDate: terminationDate,
        resourceJSON: #"{"userName":"\#(userName)","active":\#(active)}"#
    )
}

/// The per-identity reads a SCIM write makes (`offboardings(identityID:)`,
/// `terminationReason(identityID:asOf:)`) answer exactly what the whole-table reads
/// (`offboardings()`, `terminatedIdentities(asOf:)`) answer for that identity, from the index.
@Suite("Store: per-identity offboarding and termination reads")
struct PerIdentityQueryTests {
    @Test func offboardingsOfOneIdentityAreThatIdentitysInEveryState() async throws {
        try await withStore { store, _ throws in
            func add(_ id: String, _ identityID: String, at effectiveAt: Double, by requester: String) async throws {
                try await store.addOffboarding(
                    Offboarding(
                        id: id,
                        identityID: identityID,
                        effectiveAt: effectiveAt,
                        reason: "reason \(id)",
                        requestedBy: requester,
                        requestedAt: t0
                    ),
                    audit: []
                )
            }
            // id-a: one of each state, HR's and an operator's, added out of effectiveAt order.
            try await add("off-a3", "id-a", at: t0 + 3 * day, by: "scim:hr-1")
            try await add("off-a1", "id-a", at: t0 + day, by: "cli:alice")
            try await add("off-a2", "id-a", at: t0 + 2 * day, by: "scim:hr-2")
            try await store.completeOffboarding("off-a1", planID: 7, at: t0 + day, audit: [])
            _ = try await store.cancelOffboardings(identityID: "id-a", requestedByPrefix: "scim:hr-2", audit: [])
            // id-b: two scheduled on the same date (ordered by id), one done.
            try await add("off-b2", "id-b", at: t0 + day, by: "scim:hr-3")
            try await add("off-b1", "id-b", at: t0 + day, by: "scim:hr-3")
            try await add("off-b0", "id-b", at: t0, by: "scim:hr-3")
            try await store.completeOffboarding("off-b0", planID: nil, at: t0, audit: [])
            // id-c: cancelled only.
            try await add("off-c1", "id-c", at: t0, by: "scim:hr-4")
            _ = try await store.cancelOffboardings(identityID: "id-c", requestedByPrefix: "scim:", audit: [])

            let a = try await store.offboardings(identityID: "id-a")
            #expect(a.map(\.id) == ["off-a1", "off-a2", "off-a3"])
            #expect(a.map(\.state) == [.done, .cancelled, .scheduled])
            #expect(a[0].planID == 7 && a[0].doneAt == t0 + day && a[0].requestedBy == "cli:alice")
            #expect(a[2].effectiveAt == t0 + 3 * day && a[2].reason == "reason off-a3")

            let b = try await store.offboardings(identityID: "id-b")
            #expect(b.map(\.id) == ["off-b0", "off-b1", "off-b2"])
            #expect(b.map(\.state) == [.done, .scheduled, .scheduled])

            #expect(try await store.offboardings(identityID: "id-c").map(\.state) == [.cancelled])
            #expect(try await store.offboardings(identityID: "id-none").isEmpty)

            // The same as reading everything and keeping the identity's (what SCIM did before).
            let all = try await store.offboardings()
            for identityID in ["id-a", "id-b", "id-c", "id-none"] {
                #expect(
                    try await store.offboardings(identityID: identityID) == all.filter { $0.identityID == identityID }
                )
            }
        }
    }

    @Test func terminationReasonOfOneIdentityIsTerminatedIdentitiesEntry() async throws {
        try await withStore { store, _ throws in
            let now = t0 + 10 * day
            func make(
                _ name: String,
                active: Bool = true,
                date: Double? = nil,
                identity: String?,
                at time: Double = t0
            ) async throws -> HRUserRecord {
                try await makeHRUser(
                    store,
                    hrFields(name, active: active, terminationDate: date),
                    identity: identity,
                    at: time
                )
            }
            _ = try await make("inactive", active: false, identity: "id-inactive")
            _ = try await make("past", date: now - day, identity: "id-past")
            _ = try await make("today", date: now, identity: "id-today")
            _ = try await make("future", date: now + day, identity: "id-future")
            _ = try await make("employed", identity: "id-employed")
            _ = try await make("prehire", active: false, identity: nil)
            // Two HR records: one terminated, one still employing the identity.
            _ = try await make("two-terminated", active: false, identity: "id-two")
            _ = try await make("two-employed", identity: "id-two", at: t0 + 1)
            // Two HR records, both terminated: the newest (lastModified) gives the reason.
            _ = try await make("both-older", date: now - 2 * day, identity: "id-both")
            _ = try await make("both-newer", active: false, identity: "id-both", at: t0 + 5)
            // Deleted; and a rehire (old record deleted, a new live one linked).
            let gone = try await make("gone", identity: "id-gone")
            try await store.deleteHRUser(id: gone.id, ifMatch: nil, actor: "scim", time: t0 + 1)
            let old = try await make("rehire-old", identity: "id-rehire")
            try await store.deleteHRUser(id: old.id, ifMatch: nil, actor: "scim", time: t0 + 1)
            _ = try await make("rehire-new", identity: "id-rehire")

            #expect(
                try await store.terminationReason(identityID: "id-inactive", asOf: now)
                    == "HR user inactive is inactive"
            )
            #expect(
                try await store.terminationReason(identityID: "id-past", asOf: now)
                    == "HR user past terminated on 2025-12-03T16:00:00Z"
            )
            #expect(try await store.terminationReason(identityID: "id-today", asOf: now) != nil)
            #expect(try await store.terminationReason(identityID: "id-employed", asOf: now) == nil)
            #expect(try await store.terminationReason(identityID: "id-two", asOf: now) == nil)
            #expect(
                try await store.terminationReason(identityID: "id-both", asOf: now) == "HR user both-newer is inactive"
            )
            #expect(try await store.terminationReason(identityID: "id-gone", asOf: now) == "HR user gone was deleted")
            #expect(try await store.terminationReason(identityID: "id-rehire", asOf: now) == nil)
            #expect(try await store.terminationReason(identityID: "id-unlinked", asOf: now) == nil)
            // A termination date in the future terminates nobody yet; once it has passed, it does.
            #expect(try await store.terminationReason(identityID: "id-future", asOf: now) == nil)
            #expect(
                try await store.terminationReason(identityID: "id-future", asOf: now + day)
                    == "HR user future terminated on 2025-12-05T16:00:00Z"
            )

            // Identical to the whole-table answer, identity by identity, before and after the dates.
            let identities = [
                "id-inactive", "id-past", "id-today", "id-future", "id-employed", "id-two", "id-both", "id-gone",
                "id-rehire", "id-unlinked",
            ]
            for time in [t0, now - day, now, now + day, now + 2 * day] {
                let all = try await store.terminatedIdentities(asOf: time)
                for identityID in identities {
                    #expect(
                        try await store.terminationReason(identityID: identityID, asOf: time) == all[identityID],
                        "\(identityID) at \(time)"
                    )
                }
            }
        }
    }

    /// SQLite answers both reads from the identity indexes (migration v5), not by scanning the
    /// tables.
    @Test func perIdentityReadsUseTheIdentityIndexes() async throws {
        try await withStore { store, _ throws in
            func plan(_ sql: String) async throws -> String {
                try await store.pool.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: ["id-x"])
                        .map { $0["detail"] as String }.joined(separator: "\n")
                }
            }
            let offboardings = try await plan(SQLiteStore.identityOffboardingsSQL)
            #expect(offboardings.contains("USING INDEX offboarding_identity (identityID=?)"), "\(offboardings)")
            let termination = try await plan(SQLiteStore.identityTerminationSQL)
            #expect(termination.contains("USING INDEX hr_user_identity (identityID=?)"), "\(termination)")
            let byUsername = try await plan(SQLiteStore.identitiesByUsernameSQL)
            #expect(byUsername.contains("USING INDEX identity_username (username=?)"), "\(byUsername)")
        }
    }
}
