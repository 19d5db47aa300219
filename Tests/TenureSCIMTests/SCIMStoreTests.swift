import Foundation
import TenureCore
import TenureSCIM
import TenureStore
import Testing

// The glue an HTTP layer writes between the two modules (TenureSCIM knows no store, TenureStore
// knows no SCIM): SCIMUser ⇄ HRUserFields / HRUserRecord, SCIMFilter → HRUserQuery,
// HRStoreError → SCIMError. Tested here end to end against a real store.

private func storeFields(_ user: SCIMUser) -> HRUserFields {
    HRUserFields(
        userName: user.userName,
        externalId: user.externalId,
        employeeNumber: user.employeeNumber,
        active: user.active,
        terminationDate: user.terminationDate,
        resourceJSON: user.storedJSON
    )
}

private func rendered(_ record: HRUserRecord) throws -> SCIMValue {
    try SCIMUser(storedJSON: record.resourceJSON).resource(
        id: record.id,
        meta: SCIMMeta(created: record.created, lastModified: record.lastModified, version: record.version)
    )
}

private func query(_ filter: SCIMFilter) -> HRUserQuery {
    let equalities = filter.requiredEqualities
    return HRUserQuery(
        id: equalities.id,
        userName: equalities.userName,
        externalId: equalities.externalId,
        employeeNumber: equalities.employeeNumber,
        active: equalities.active,
        matches: { record in
            (try? SCIMUser(storedJSON: record.resourceJSON)).map { filter.matches($0, id: record.id) } ?? false
        }
    )
}

private func scim(_ error: HRStoreError) -> SCIMError {
    switch error.code {
    case .conflict: return .uniqueness(error.attribute ?? "userName")
    case .notFound: return .notFound(error.message)
    case .preconditionFailed: return .preconditionFailed(error.message)
    case .invalidValue: return .invalidValue(error.attribute ?? "resource", error.message)
    }
}

private func withSCIMStore(_ body: (SQLiteStore) async throws -> Void) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tenure-scim-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try SQLiteStore(path: directory.appendingPathComponent("tenure.sqlite").path, auditKey: .random())
    defer { try? store.close() }
    try await body(store)
}

private let t0: Double = 1_764_000_000

@Suite("SCIM over the HR store")
struct SCIMStoreTests {
    @Test func oktaLifecycleFromCreateToLeaver() async throws {
        try await withSCIMStore { store in
            // Okta: look the user up, create it.
            let lookup = try SCIMFilter(parsing: #"userName eq "TEST.USER@okta.local""#)
            #expect(try await store.hrUsers(query(lookup), startIndex: 1, count: 2).totalResults == 0)
            let created = try await store.createHRUser(storeFields(try user(oktaCreate)), actor: "scim:okta", time: t0)
            let found = try await store.hrUsers(query(lookup), startIndex: 1, count: 2)
            #expect(found.totalResults == 1 && found.records.map(\.id) == [created.id])
            #expect(!created.resourceJSON.contains("password"))

            // A second create with the same userName is a 409 uniqueness.
            do {
                _ = try await store.createHRUser(storeFields(try user(oktaCreate)), actor: "scim:okta", time: t0)
                Issue.record("a duplicate was created")
            } catch let error as HRStoreError {
                #expect(scim(error) == .uniqueness("userName"))
            }

            // Link to the directory identity, then Okta deactivates with PATCH.
            _ = try await store.linkHRUser(id: created.id, to: "id-test", actor: "sync", time: t0 + 1)
            #expect(try await store.terminatedIdentities(asOf: t0 + 2).isEmpty)
            let request = try patch(oktaDeactivate)
            let id = created.id
            let deactivated = try await store.patchHRUser(id: id, ifMatch: 1, actor: "scim:okta", time: t0 + 3) {
                record in
                var current = try SCIMUser(storedJSON: record.resourceJSON)
                try current.apply(request, id: id)
                return storeFields(current)
            }
            #expect(!deactivated.active && deactivated.version == 2)
            let body = try #require(try rendered(deactivated).objectValue)
            #expect(body["active"] == false && body["id"] == .string(id))
            #expect(body["meta"]?[scim: "version"] == #"W/"2""#)
            #expect(
                try await store.terminatedIdentities(asOf: t0 + 4) == [
                    "id-test": "HR user test.user@okta.local is inactive"
                ]
            )

            let audit = try await store.auditRecords(AuditQuery()).map(\.event)
            #expect(audit.map(\.type) == ["hr.user.created", "hr.user.linked", "hr.user.updated"])
            #expect(audit.last?.details["attributes"] == "active")
            #expect(audit.last?.subject == "id-test")
        }
    }

    @Test func aRefusedPatchLeavesTheStoreAsItWas() async throws {
        try await withSCIMStore { store in
            let created = try await store.createHRUser(
                storeFields(try user(entraCreate)),
                actor: "scim:entra",
                time: t0
            )
            let bad = try patch(
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"},{"op":"Remove","path":"emails[type eq \"home\"].value"}]}"#
            )
            await #expect(throws: SCIMError.self) {
                _ = try await store.patchHRUser(id: created.id, ifMatch: nil, actor: "scim:entra", time: t0 + 1) {
                    record in
                    var current = try SCIMUser(storedJSON: record.resourceJSON)
                    try current.apply(bad)
                    return storeFields(current)
                }
            }
            #expect(try await store.hrUser(id: created.id) == created)
            #expect(try await store.auditRecords(AuditQuery()).count == 1)
        }
    }

    @Test func entraTerminationDateMakesALeaverOnceItPasses() async throws {
        try await withSCIMStore { store in
            let created = try await store.createHRUser(
                storeFields(try user(entraCreate)),
                actor: "scim:entra",
                time: t0
            )
            _ = try await store.linkHRUser(id: created.id, to: "id-entra", actor: "sync", time: t0)
            let request = try patch(
                """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                  {"op":"Add","path":"\(SCIMSchema.tenureUser):terminationDate","value":"2026-03-31T17:00:00Z"},
                  {"op":"Add","path":"\(SCIMSchema.enterpriseUser):employeeNumber","value":"701984"}]}
                """
            )
            let updated = try await store.patchHRUser(id: created.id, ifMatch: nil, actor: "scim:entra", time: t0 + 1) {
                record in
                var current = try SCIMUser(storedJSON: record.resourceJSON)
                try current.apply(request)
                return storeFields(current)
            }
            #expect(updated.terminationDate == 1_774_976_400 && updated.employeeNumber == "701984")
            #expect(try await store.terminatedIdentities(asOf: 1_774_976_399).isEmpty)
            #expect(
                try await store.terminatedIdentities(asOf: 1_774_976_400)
                    == [
                        "id-entra":
                            "HR user Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1 terminated on 2026-03-31T17:00:00Z"
                    ]
            )
            let event = try #require(try await store.auditRecords(AuditQuery()).last?.event)
            #expect(
                event.details["attributes"]
                    == "schemas,\(SCIMSchema.enterpriseUser),\(SCIMSchema.tenureUser)"
            )
            #expect(event.details["terminationDate"] == "2026-03-31T17:00:00Z")

            // Filtering by the enterprise employeeNumber goes through the store's index and the filter.
            let byNumber = try SCIMFilter(
                parsing: #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
            )
            #expect(try await store.findHRUsers(query(byNumber)).map(\.id) == [created.id])
            let byEmail = try SCIMFilter(
                parsing: #"emails.value eq "TEST_USER_FD0EA19B-0777-472C-9F96-4F70D2226F2E@testuser.com""#
            )
            #expect(try await store.findHRUsers(query(byEmail)).map(\.id) == [created.id])
        }
    }
}
