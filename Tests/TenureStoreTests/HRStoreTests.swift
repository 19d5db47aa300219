import Foundation
import TenureCore
import Testing

@testable import TenureStore

private let t0: Double = 1_764_000_000
private let day: Double = 86_400

/// A resource as the SCIM layer would store it (the store only needs a JSON object).
private func resource(_ userName: String, active: Bool = true, givenName: String = "Ada") -> String {
    """
    {"active":\(active),"name":{"familyName":"Lovelace","givenName":"\(givenName)"},\
    "schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\(userName)"}
    """
}

private func fields(
    _ userName: String,
    externalId: String? = nil,
    employeeNumber: String? = nil,
    active: Bool = true,
    terminationDate: Double? = nil,
    givenName: String = "Ada"
) -> HRUserFields {
    HRUserFields(
        userName: userName,
        externalId: externalId,
        employeeNumber: employeeNumber,
        active: active,
        terminationDate: terminationDate,
        resourceJSON: resource(userName, active: active, givenName: givenName)
    )
}

private func auditEvents(_ store: SQLiteStore) async throws -> [AuditEvent] {
    try await store.auditRecords(AuditQuery()).map(\.event)
}

/// An error a PATCH closure throws (standing in for a SCIM error).
private struct Refused: Error, Equatable {}

@Suite("HR store: users pushed over SCIM")
struct HRStoreTests {
    @Test func createThenGetReturnsTheRecordAndAuditsIt() async throws {
        try await withStore { store, _ throws in
            let created = try await store.createHRUser(
                fields("ada@example.com", externalId: "00u1", employeeNumber: "E-1", terminationDate: t0 + day),
                actor: "scim:okta",
                time: t0
            )
            #expect(created.version == 1)
            #expect(created.created == t0 && created.lastModified == t0)
            #expect(created.identityID == nil)
            #expect(created.id == created.id.lowercased() && UUID(uuidString: created.id) != nil)
            #expect(try await store.hrUser(id: created.id) == created)
            #expect(try await store.hrUser(id: "no-such-id") == nil)

            let events = try await auditEvents(store)
            #expect(events.count == 1)
            let event = try #require(events.first)
            #expect(event.type == "hr.user.created")
            #expect(event.actor == "scim:okta")
            #expect(event.object == created.id)
            #expect(event.subject == nil)
            #expect(event.details["userName"] == "ada@example.com")
            #expect(event.details["active"] == "true")
            #expect(event.details["terminationDate"] == "2025-11-25T16:00:00Z")
            #expect(event.details["attributes"] == "active,name,schemas,userName")
            #expect(try await store.verifyAudit() == AuditVerification(records: 1))
        }
    }

    /// Two HR users employing one identity open-ended would let either keep it employed after the
    /// other's termination: a second link is refused (and audited) while the first does; once the
    /// first has an end date (a conversion, or a rehire after it) it is made.
    @Test func aSecondLinkIsRefusedWhileAnotherUserEmploysTheIdentity() async throws {
        try await withStore { store, _ throws in
            let first = try await makeHRUser(store, fields("ada", employeeNumber: "E1"), identity: "id-ada", at: 100)
            let second = try await store.createHRUser(fields("ada.l", employeeNumber: "E1"), actor: "scim", time: 110)
            #expect(
                try await store.linkHRUserIfNotEmployedElsewhere(
                    id: second.id,
                    to: "id-ada",
                    ifLinkedTo: nil,
                    actor: "scim",
                    time: 120
                )
                    == nil
            )
            #expect(try await store.hrUser(id: second.id)?.identityID == nil)
            let refused = try #require(try await auditEvents(store).last)
            #expect(refused.type == "hr.user.link_refused" && refused.subject == "id-ada")
            #expect(refused.details["employedBy"] == first.id)
            // The daemon asks again on every pass: the same refusal is not audited again, until
            // the user changes.
            let audited = try await auditEvents(store).count
            #expect(
                try await store.linkHRUserIfNotEmployedElsewhere(
                    id: second.id,
                    to: "id-ada",
                    ifLinkedTo: nil,
                    actor: "scim",
                    time: 121
                )
                    == nil
            )
            #expect(try await auditEvents(store).count == audited)
            _ = try await store.replaceHRUser(
                id: second.id,
                with: fields("ada.l", employeeNumber: "E1", givenName: "Augusta"),
                ifMatch: nil,
                actor: "scim",
                time: 122
            )
            #expect(
                try await store.linkHRUserIfNotEmployedElsewhere(
                    id: second.id,
                    to: "id-ada",
                    ifLinkedTo: nil,
                    actor: "scim",
                    time: 123
                )
                    == nil
            )
            #expect(try await auditEvents(store).suffix(2).map(\.type) == ["hr.user.updated", "hr.user.link_refused"])
            // Relinking the user already linked there is no change.
            #expect(
                try await store.linkHRUserIfNotEmployedElsewhere(
                    id: first.id,
                    to: "id-ada",
                    ifLinkedTo: "id-ada",
                    actor: "scim",
                    time: 125
                )?
                .identityID == "id-ada"
            )

            // A termination date ahead (a conversion: the old contract ends, the new record is
            // there before it does) no longer blocks: the old record's own end is scheduled.
            _ = try await store.replaceHRUser(
                id: first.id,
                with: fields("ada", employeeNumber: "E1", terminationDate: 130),
                ifMatch: nil,
                actor: "scim",
                time: 128
            )
            let linked = try await store.linkHRUserIfNotEmployedElsewhere(
                id: second.id,
                to: "id-ada",
                ifLinkedTo: nil,
                actor: "scim",
                time: 129
            )
            #expect(linked?.identityID == "id-ada")
            #expect(try await auditEvents(store).last?.type == "hr.user.linked")
        }
    }

    /// A refusal is audited once while its conflict lasts; once a check finds the conflict gone, the
    /// same conflict coming back (the other record employed open-ended again) is audited again.
    @Test func aConflictThatComesBackIsAuditedAgain() async throws {
        try await withStore { store, _ throws in
            let first = try await makeHRUser(store, fields("ada", employeeNumber: "E1"), identity: "id-ada", at: 100)
            let second = try await store.createHRUser(fields("ada.l", employeeNumber: "E1"), actor: "scim", time: 110)
            func refused(_ time: Double) async throws -> Bool {
                try await store.refuseHRLinkIfEmployedElsewhere(id: second.id, to: "id-ada", actor: "scim", time: time)
            }
            func refusals() async throws -> Int {
                let events = try await auditEvents(store)
                return events.count { $0.type == "hr.user.link_refused" }
            }
            #expect(try await refused(120))
            #expect(try await refused(121))
            #expect(try await refusals() == 1, "once while it lasts")
            func employ(_ terminationDate: Double?, at time: Double) async throws {
                _ = try await store.replaceHRUser(
                    id: first.id,
                    with: fields("ada", employeeNumber: "E1", terminationDate: terminationDate),
                    ifMatch: nil,
                    actor: "scim",
                    time: time
                )
            }
            try await employ(200, at: 130)  // an end date: no longer in the way
            #expect(!(try await refused(131)))
            try await employ(nil, at: 140)  // open-ended again
            #expect(try await refused(141))
            #expect(try await refusals() == 2, "the conflict came back")
            #expect(try await store.verifyAudit().firstBadSequence == nil)
        }
    }

    /// A link made on what the caller saw: if the user was linked or moved meanwhile, nothing is
    /// changed or audited. The refusal check links nothing either way.
    @Test func aLinkOnAStaleViewChangesNothing() async throws {
        try await withStore { store, _ throws in
            let ada = try await makeHRUser(store, fields("ada", employeeNumber: "E1"), identity: "id-ada", at: 100)
            let audited = try await auditEvents(store).count
            // The caller saw it unlinked; it is linked to id-ada now.
            #expect(
                try await store.linkHRUserIfNotEmployedElsewhere(
                    id: ada.id,
                    to: "id-other",
                    ifLinkedTo: nil,
                    actor: "tenure:hr-link",
                    time: 110
                ) == nil
            )
            #expect(try await store.hrUser(id: ada.id)?.identityID == "id-ada")
            #expect(try await auditEvents(store).count == audited)
            // Seen as linked to id-ada: moved.
            let moved = try await store.linkHRUserIfNotEmployedElsewhere(
                id: ada.id,
                to: "id-other",
                ifLinkedTo: "id-ada",
                actor: "scim",
                time: 111
            )
            #expect(moved?.identityID == "id-other")
            #expect(try await auditEvents(store).last?.details["previousIdentity"] == "id-ada")

            // Only the check: another user employs id-other now, so it would be refused (audited);
            // id-free would not, and nothing is linked.
            let grace = try await store.createHRUser(fields("grace", employeeNumber: "E2"), actor: "scim", time: 112)
            #expect(
                try await store.refuseHRLinkIfEmployedElsewhere(id: grace.id, to: "id-other", actor: "scim", time: 113)
            )
            #expect(try await auditEvents(store).last?.type == "hr.user.link_refused")
            #expect(
                !(try await store.refuseHRLinkIfEmployedElsewhere(id: grace.id, to: "id-free", actor: "scim", time: 114))
            )
            #expect(try await store.hrUser(id: grace.id)?.identityID == nil)
        }
    }

    @Test func duplicatesAreConflictsAndWriteNothing() async throws {
        try await withStore { store, _ throws in
            let first = try await store.createHRUser(
                fields("Ada@Example.com", externalId: "00u1"),
                actor: "scim",
                time: t0
            )

            let sameName = await #expect(throws: HRStoreError.self) {
                _ = try await store.createHRUser(fields("ada@EXAMPLE.com"), actor: "scim", time: t0 + 1)
            }
            #expect(sameName?.code == .conflict)
            #expect(sameName?.attribute == "userName")

            let sameExternal = await #expect(throws: HRStoreError.self) {
                _ = try await store.createHRUser(
                    fields("grace@example.com", externalId: "00u1"),
                    actor: "scim",
                    time: t0
                )
            }
            #expect(sameExternal?.code == .conflict)
            #expect(sameExternal?.attribute == "externalId")
            // externalId is case-exact: a different case is another person.
            _ = try await store.createHRUser(fields("grace@example.com", externalId: "00U1"), actor: "scim", time: t0)
            #expect(try await auditEvents(store).map(\.type) == ["hr.user.created", "hr.user.created"])

            // Deletion frees both values.
            try await store.deleteHRUser(id: first.id, ifMatch: nil, actor: "scim", time: t0 + 2)
            let again = try await store.createHRUser(
                fields("ada@example.com", externalId: "00u1"),
                actor: "scim",
                time: t0 + 3
            )
            #expect(again.id != first.id)
        }
    }

    @Test func invalidValuesAreRefusedWithoutAudit() async throws {
        try await withStore { store, _ throws in
            var notJSON = fields("ada@example.com")
            notJSON.resourceJSON = "[1, 2]"
            let cases: [(HRUserFields, Double)] = [
                (fields("   "), t0),
                (notJSON, t0),
                (fields("ada@example.com"), .nan),
                (fields("ada@example.com", terminationDate: .infinity), t0),
            ]
            for (value, time) in cases {
                let error = await #expect(throws: HRStoreError.self) {
                    _ = try await store.createHRUser(value, actor: "scim", time: time)
                }
                #expect(error?.code == .invalidValue)
            }
            #expect(try await auditEvents(store).isEmpty)
            #expect(try await store.findHRUsers(.all).isEmpty)
        }
    }

    @Test func listingPagesAndCountsEveryMatch() async throws {
        try await withStore { store, _ throws in
            var ids: [String] = []
            for index in 0..<5 {
                let user = try await store.createHRUser(
                    fields(
                        "user\(index)@example.com",
                        externalId: "ext-\(index)",
                        employeeNumber: "e-\(index)",
                        active: index != 3
                    ),
                    actor: "scim",
                    time: t0 + Double(index)
                )
                ids.append(user.id)
            }
            let first = try await store.hrUsers(.all, startIndex: 1, count: 2)
            #expect(first.totalResults == 5 && first.startIndex == 1)
            #expect(first.records.map(\.id) == Array(ids[0..<2]))
            let last = try await store.hrUsers(.all, startIndex: 5, count: 10)
            #expect(last.records.map(\.id) == [ids[4]])
            let beyond = try await store.hrUsers(.all, startIndex: 9, count: 10)
            #expect(beyond.totalResults == 5 && beyond.records.isEmpty)
            // startIndex below 1 counts as 1; count 0 asks for the total only.
            let clamped = try await store.hrUsers(.all, startIndex: -3, count: 1)
            #expect(clamped.startIndex == 1 && clamped.records.map(\.id) == [ids[0]])
            let totalOnly = try await store.hrUsers(.all, startIndex: 1, count: 0)
            #expect(totalOnly.totalResults == 5 && totalOnly.records.isEmpty)

            // Equalities: userName and employeeNumber ignore case, externalId does not.
            #expect(try await store.findHRUsers(HRUserQuery(userName: "USER2@example.COM")).map(\.id) == [ids[2]])
            #expect(try await store.findHRUsers(HRUserQuery(employeeNumber: "E-4")).map(\.id) == [ids[4]])
            #expect(try await store.findHRUsers(HRUserQuery(externalId: "EXT-1")).isEmpty)
            #expect(try await store.findHRUsers(HRUserQuery(externalId: "ext-1")).map(\.id) == [ids[1]])
            #expect(try await store.findHRUsers(HRUserQuery(active: false)).map(\.id) == [ids[3]])
            #expect(try await store.findHRUsers(HRUserQuery(id: ids[0], userName: "user1@example.com")).isEmpty)

            // A predicate: totalResults counts its matches, the page slices them.
            let odd = HRUserQuery(matches: { $0.employeeNumber.map { ["e-1", "e-3"].contains($0) } ?? false })
            let oddPage = try await store.hrUsers(odd, startIndex: 2, count: 5)
            #expect(oddPage.totalResults == 2 && oddPage.records.map(\.id) == [ids[3]])
            let oddTotal = try await store.hrUsers(odd, startIndex: 1, count: 0)
            #expect(oddTotal.totalResults == 2 && oddTotal.records.isEmpty)

            // Deleted users are not listed.
            try await store.deleteHRUser(id: ids[0], ifMatch: nil, actor: "scim", time: t0 + 10)
            #expect(try await store.hrUsers(.all, startIndex: 1, count: 100).totalResults == 4)
        }
    }

    @Test func replaceChecksTheVersionAndAuditsTheChangedAttributes() async throws {
        try await withStore { store, _ throws in
            let user = try await store.createHRUser(fields("ada@example.com"), actor: "scim", time: t0)
            let changed = fields("ada@example.com", active: false, terminationDate: t0 + day, givenName: "Augusta")

            let stale = await #expect(throws: HRStoreError.self) {
                _ = try await store.replaceHRUser(id: user.id, with: changed, ifMatch: 7, actor: "scim", time: t0 + 1)
            }
            #expect(stale?.code == .preconditionFailed)
            let missing = await #expect(throws: HRStoreError.self) {
                _ = try await store.replaceHRUser(id: "nobody", with: changed, ifMatch: nil, actor: "scim", time: t0)
            }
            #expect(missing?.code == .notFound)
            #expect(try await auditEvents(store).count == 1)
            #expect(try await store.hrUser(id: user.id) == user)

            let replaced = try await store.replaceHRUser(
                id: user.id,
                with: changed,
                ifMatch: 1,
                actor: "scim:entra",
                time: t0 + 60
            )
            #expect(replaced.version == 2)
            #expect(replaced.lastModified == t0 + 60 && replaced.created == t0)
            #expect(replaced.fields == changed)
            #expect(try await store.hrUser(id: user.id) == replaced)

            let event = try #require(try await auditEvents(store).last)
            #expect(event.type == "hr.user.updated")
            #expect(event.actor == "scim:entra")
            #expect(event.object == user.id)
            #expect(event.details["attributes"] == "active,name.givenName")
            #expect(event.details["active"] == "false")
            #expect(event.details["terminationDate"] == "2025-11-25T16:00:00Z")
            #expect(event.details["via"] == "put")
            #expect(event.details["version"] == "2")
            // Never the values of other attributes.
            #expect(!event.details.values.contains { $0.contains("Augusta") })

            // The same values again change nothing.
            let unchanged = try await store.replaceHRUser(
                id: user.id,
                with: changed,
                ifMatch: nil,
                actor: "scim",
                time: t0 + 90
            )
            #expect(unchanged == replaced)
            #expect(try await auditEvents(store).count == 2)
        }
    }

    @Test func patchIsAReadModifyWriteThatRollsBackOnError() async throws {
        try await withStore { store, _ throws in
            let ada = try await store.createHRUser(fields("ada@example.com"), actor: "scim", time: t0)
            _ = try await store.createHRUser(fields("grace@example.com"), actor: "scim", time: t0)

            let patched = try await store.patchHRUser(id: ada.id, ifMatch: 1, actor: "scim", time: t0 + 5) { current in
                #expect(current.version == 1)
                var next = current.fields
                next.active = false
                next.resourceJSON = resource(current.userName, active: false)
                return next
            }
            #expect(patched.version == 2 && !patched.active)
            let event = try #require(try await auditEvents(store).last)
            #expect(event.details["attributes"] == "active")
            #expect(event.details["via"] == "patch")

            // The closure's own error comes back as it is, and nothing is written.
            await #expect(throws: Refused()) {
                _ = try await store.patchHRUser(id: ada.id, ifMatch: nil, actor: "scim", time: t0 + 6) { _ in
                    throw Refused()
                }
            }
            // A PATCH renaming to a taken userName is a conflict.
            let conflict = await #expect(throws: HRStoreError.self) {
                _ = try await store.patchHRUser(id: ada.id, ifMatch: nil, actor: "scim", time: t0 + 7) { current in
                    var next = current.fields
                    next.userName = "GRACE@example.com"
                    return next
                }
            }
            #expect(conflict?.code == .conflict)
            // The version is checked before the closure runs.
            let stale = await #expect(throws: HRStoreError.self) {
                _ = try await store.patchHRUser(id: ada.id, ifMatch: 1, actor: "scim", time: t0 + 8) { current in
                    Issue.record("the closure ran for a stale version")
                    return current.fields
                }
            }
            #expect(stale?.code == .preconditionFailed)
            #expect(try await store.hrUser(id: ada.id) == patched)
            #expect(try await auditEvents(store).count == 3)
            #expect(try await store.verifyAudit() == AuditVerification(records: 3))
        }
    }

    @Test func deleteIsSoftAndHidesTheUser() async throws {
        try await withStore { store, _ throws in
            let user = try await store.createHRUser(fields("ada@example.com"), actor: "scim", time: t0)
            let stale = await #expect(throws: HRStoreError.self) {
                try await store.deleteHRUser(id: user.id, ifMatch: 2, actor: "scim", time: t0 + 1)
            }
            #expect(stale?.code == .preconditionFailed)
            #expect(try await store.hrUser(id: user.id) != nil)

            try await store.deleteHRUser(id: user.id, ifMatch: 1, actor: "scim:okta", time: t0 + 2)
            #expect(try await store.hrUser(id: user.id) == nil)
            // Its termination is to be settled until that is recorded, then never again.
            #expect(try await store.deletedHRUserToSettle(id: user.id)?.version == 2)
            try await store.settledDeletedHRUser(id: user.id)
            #expect(try await store.deletedHRUserToSettle(id: user.id) == nil)
            #expect(try await store.findHRUsers(.all).isEmpty)
            let again = await #expect(throws: HRStoreError.self) {
                try await store.deleteHRUser(id: user.id, ifMatch: nil, actor: "scim", time: t0 + 3)
            }
            #expect(again?.code == .notFound)
            let events = try await auditEvents(store)
            #expect(events.map(\.type) == ["hr.user.created", "hr.user.deleted"])
            #expect(events.last?.object == user.id && events.last?.actor == "scim:okta")
        }
    }

    @Test func linkRecordsTheIdentityOnce() async throws {
        try await withStore { store, _ throws in
            let user = try await store.createHRUser(fields("ada@example.com"), actor: "scim", time: t0)
            let linked = try await store.linkHRUser(id: user.id, to: "id-ada", actor: "sync", time: t0 + 1)
            #expect(linked.identityID == "id-ada" && linked.version == 1)
            #expect(try await store.hrUser(id: user.id) == linked)
            _ = try await store.linkHRUser(id: user.id, to: "id-ada", actor: "sync", time: t0 + 2)
            let relinked = try await store.linkHRUser(id: user.id, to: "id-ada2", actor: "sync", time: t0 + 3)
            #expect(relinked.identityID == "id-ada2")

            let events = try await auditEvents(store).filter { $0.type == "hr.user.linked" }
            #expect(events.count == 2)
            #expect(events.first?.subject == "id-ada" && events.first?.object == user.id)
            #expect(events.last?.details["previousIdentity"] == "id-ada")

            let unknown = await #expect(throws: HRStoreError.self) {
                _ = try await store.linkHRUser(id: "nobody", to: "id-x", actor: "sync", time: t0)
            }
            #expect(unknown?.code == .notFound)
            let empty = await #expect(throws: HRStoreError.self) {
                _ = try await store.linkHRUser(id: user.id, to: "", actor: "sync", time: t0)
            }
            #expect(empty?.code == .invalidValue)
            #expect(try await auditEvents(store).count == 3)
        }
    }

    @Test func terminatedIdentitiesFollowActiveDatesAndDeletion() async throws {
        try await withStore { store, _ throws in
            let now = t0 + 10 * day
            func make(_ name: String, active: Bool = true, date: Double? = nil, identity: String?) async throws
                -> HRUserRecord
            {
                try await makeHRUser(
                    store,
                    fields(name, active: active, terminationDate: date),
                    identity: identity,
                    at: t0
                )
            }
            _ = try await make("inactive", active: false, identity: "id-inactive")
            _ = try await make("past", date: now - day, identity: "id-past")
            _ = try await make("today", date: now, identity: "id-today")
            _ = try await make("future", date: now + day, identity: "id-future")
            _ = try await make("employed", identity: "id-employed")
            _ = try await make("prehire", active: false, identity: nil)
            let gone = try await make("gone", identity: "id-gone")
            try await store.deleteHRUser(id: gone.id, ifMatch: nil, actor: "scim", time: t0 + 1)
            // A rehire: the old record deleted, a new live one linked to the same identity.
            let old = try await make("rehire-old", identity: "id-rehire")
            try await store.deleteHRUser(id: old.id, ifMatch: nil, actor: "scim", time: t0 + 1)
            _ = try await make("rehire-new", identity: "id-rehire")

            let terminated = try await store.terminatedIdentities(asOf: now)
            #expect(Set(terminated.keys) == ["id-inactive", "id-past", "id-today", "id-gone"])
            #expect(terminated["id-inactive"] == "HR user inactive is inactive")
            #expect(terminated["id-past"] == "HR user past terminated on 2025-12-03T16:00:00Z")
            #expect(terminated["id-gone"] == "HR user gone was deleted")

            // The future date passes.
            let later = try await store.terminatedIdentities(asOf: now + 2 * day)
            #expect(later["id-future"] != nil)
            #expect(later["id-employed"] == nil && later["id-rehire"] == nil)
        }
    }

    @Test func unlinkedListsLivePreHires() async throws {
        try await withStore { store, _ throws in
            let first = try await store.createHRUser(fields("first@example.com"), actor: "scim", time: t0)
            let second = try await store.createHRUser(fields("second@example.com"), actor: "scim", time: t0 + 1)
            let linked = try await store.createHRUser(fields("linked@example.com"), actor: "scim", time: t0 + 2)
            let deleted = try await store.createHRUser(fields("deleted@example.com"), actor: "scim", time: t0 + 3)
            _ = try await store.linkHRUser(id: linked.id, to: "id-linked", actor: "sync", time: t0 + 4)
            try await store.deleteHRUser(id: deleted.id, ifMatch: nil, actor: "scim", time: t0 + 4)
            #expect(try await store.unlinkedHRUsers().map(\.id) == [first.id, second.id])
        }
    }
}
