import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureStore
import Testing

@testable import TenureServer

/// The SCIM 2.0 service provider under /scim/v2 over real HTTP: Okta- and Entra-style requests,
/// filters and pages, ETags, linking HR users to identities, and HR terminations turned into
/// offboardings before the response.
@Suite(.timeLimit(.minutes(3)))
struct SCIMAPITests {
    static let now: Double = 1_800_000_000  // 2027-01-15T08:00:00Z

    static let userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    static let tenure = "urn:ietf:params:scim:schemas:extension:tenure:2.0:User"
    static let errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
    static let patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

    static let mappings = Mappings(
        roles: [
            RoleDefinition(
                name: "dba-prod",
                tier: 0,
                mode: .eligible,
                maxActivationSeconds: 3_600,
                credentials: ["db-root"]
            ),
            RoleDefinition(name: "db-read", tier: 2, mode: .standing, credentials: ["db-report"]),
        ]
    )

    /// ann (employee number E100) and bob (E200) hold roles; cat holds db-read.
    static var state: PIMState {
        PIMState(
            identities: [
                "id-ann": employee("id-ann", "ann", number: "E100"),
                "id-bob": employee("id-bob", "bob", number: "E200"),
                "id-cat": employee("id-cat", "cat", number: "E300"),
            ],
            assignments: [
                Assignment(identityID: "id-ann", role: "dba-prod", state: .eligible, source: "rule:dbas", since: 0),
                Assignment(identityID: "id-ann", role: "db-read", state: .active, source: "rule:readers", since: 0),
                Assignment(identityID: "id-bob", role: "db-read", state: .active, source: "rule:readers", since: 0),
                Assignment(identityID: "id-cat", role: "db-read", state: .active, source: "rule:readers", since: 0),
            ]
        )
    }

    static func employee(_ id: String, _ username: String, number: String) -> IdentityRecord {
        var record = person(id, username)
        record.attributes = ["employeeNumber": number, "mail": "\(username)@corp.example"]
        return record
    }

    func harness() async throws -> Harness {
        try await Harness(mappings: Self.mappings, state: Self.state, now: { Self.now })
    }

    // MARK: - Requests

    static func scimHeaders(_ token: String? = "hr", extra: HTTPFields = [:]) -> HTTPFields {
        var fields = Harness.headers(token, json: false)
        fields[.contentType] = "application/scim+json"
        fields.append(contentsOf: extra)
        return fields
    }

    static func send(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ path: String,
        _ json: String? = nil,
        token: String? = "hr",
        headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/scim/v2" + path,
            method: method,
            headers: Self.scimHeaders(token, extra: headers),
            body: json.map(body)
        )
    }

    /// The body of a SCIM error, checked for its shape (RFC 7644 §3.12).
    static func scimError(
        _ response: TestResponse,
        _ status: Int,
        scimType: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [String: Any] {
        #expect(Int(response.status.code) == status, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/scim+json", sourceLocation: sourceLocation)
        let json = try object(response)
        #expect(json["schemas"] as? [String] == [Self.errorSchema], sourceLocation: sourceLocation)
        #expect(json["status"] as? String == String(status), sourceLocation: sourceLocation)
        if let scimType { #expect(json["scimType"] as? String == scimType, sourceLocation: sourceLocation) }
        return json
    }

    static func evaluate(_ client: any TestClientProtocol, _ subject: String, _ role: String) async throws -> (
        Bool, String?
    ) {
        let response = try await client.execute(
            uri: "/access/v1/evaluation",
            method: .post,
            headers: Harness.headers("gateway"),
            body: body(
                """
                {"subject": {"type": "user", "id": "\(subject)"}, "resource": {"type": "role", "id": "\(role)"},
                 "action": {"name": "assume"}}
                """
            )
        )
        #expect(response.status == .ok)
        let json = try object(response)
        return (json["decision"] as? Bool ?? false, (json["context"] as? [String: Any])?["reason"] as? String)
    }

    static func created(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        #expect(response.status == .created, sourceLocation: sourceLocation)
        return try #require(try object(response)["id"] as? String, sourceLocation: sourceLocation)
    }

    static func assignments(_ harness: Harness, _ identityID: String) async throws -> [Assignment] {
        try await harness.store.loadState().assignments.filter { $0.identityID == identityID }
    }

    // MARK: - Payloads

    /// Okta's create (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20): core schema,
    /// `groups: []` and a password Tenure must neither store nor echo.
    static func oktaCreate(_ userName: String, externalId: String, active: Bool = true) -> String {
        """
        {
          "schemas": ["\(Self.userSchema)"],
          "userName": "\(userName)",
          "name": {"givenName": "Test", "familyName": "User"},
          "emails": [{"primary": true, "value": "\(userName)", "type": "work"}],
          "displayName": "Test User",
          "locale": "en-US",
          "externalId": "\(externalId)",
          "groups": [],
          "password": "placeholder-Secret-42",
          "active": \(active)
        }
        """
    }

    /// Microsoft Entra's create, with the Enterprise extension's employeeNumber.
    static func entraCreate(_ userName: String, employeeNumber: String, terminationDate: String? = nil) -> String {
        let tenure = terminationDate.map { #", "\#(Self.tenure)": {"terminationDate": "\#($0)"}"# } ?? ""
        return """
            {
              "schemas": ["\(Self.userSchema)", "\(Self.enterprise)"],
              "externalId": "\(UUID().uuidString.lowercased())",
              "userName": "\(userName)",
              "active": true,
              "emails": [{"primary": true, "type": "work", "value": "\(userName)"}],
              "meta": {"resourceType": "User"},
              "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
              "roles": [],
              "\(Self.enterprise)": {"employeeNumber": "\(employeeNumber)", "department": "Finance"}\(tenure)
            }
            """
    }

    static func entraActive(_ value: String) -> String {
        #"{"schemas": ["\#(Self.patchOp)"], "Operations": [{"op": "Replace", "path": "active", "value": \#(value)}]}"#
    }

    // MARK: - Create, read, list

    @Test func createGetAndNeverStoreOrEchoThePassword() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let response = try await Self.send(
                client,
                .post,
                "/Users",
                Self.oktaCreate("test.user@okta.local", externalId: "00ujl29u0le5T6Aj10h7")
            )
            let id = try Self.created(response)
            #expect(response.headers[.contentType] == "application/scim+json")
            #expect(response.headers[.eTag] == #"W/"1""#)
            let location = try #require(response.headers[.location])
            #expect(location.hasPrefix("http://") && location.hasSuffix("/scim/v2/Users/\(id)"))
            let text = String(buffer: response.body)
            #expect(!text.contains("password") && !text.contains("placeholder-Secret-42"))
            let json = try object(response)
            #expect(json["userName"] as? String == "test.user@okta.local")
            #expect(json["groups"] == nil)
            let meta = try #require(json["meta"] as? [String: Any])
            #expect(meta["resourceType"] as? String == "User")
            #expect(meta["created"] as? String == "2027-01-15T08:00:00Z")
            #expect(meta["lastModified"] as? String == "2027-01-15T08:00:00Z")
            #expect(meta["version"] as? String == #"W/"1""#)
            #expect(meta["location"] as? String == location)

            let got = try await Self.send(client, .get, "/Users/\(id)")
            #expect(got.status == .ok)
            #expect(got.headers[.eTag] == #"W/"1""#)
            #expect(try object(got)["id"] as? String == id)
            #expect(!String(buffer: got.body).contains("placeholder-Secret-42"))
            let notModified = try await Self.send(client, .get, "/Users/\(id)", headers: [.ifNoneMatch: #"W/"1""#])
            #expect(notModified.status == .notModified)

            // attributes / excludedAttributes.
            let only = try object(try await Self.send(client, .get, "/Users/\(id)?attributes=userName,name.givenName"))
            #expect(Set(only.keys) == ["id", "schemas", "userName", "name"])
            #expect(only["name"] as? [String: String] == ["givenName": "Test"])
            let without = try object(try await Self.send(client, .get, "/Users/\(id)?excludedAttributes=emails,meta"))
            #expect(without["emails"] == nil && without["meta"] == nil && without["userName"] != nil)

            // A second create with the same userName (another case) is a 409 uniqueness.
            let duplicate = try await Self.send(
                client,
                .post,
                "/Users",
                Self.oktaCreate("TEST.USER@okta.local", externalId: "other")
            )
            _ = try Self.scimError(duplicate, 409, scimType: "uniqueness")
            // An unknown user is a SCIM 404.
            _ = try Self.scimError(try await Self.send(client, .get, "/Users/nope"), 404)
        }
        let record = try #require(try await harness.store.findHRUsers(.all).first)
        #expect(!record.resourceJSON.contains("password") && !record.resourceJSON.contains("placeholder"))
        #expect(record.identityID == nil)  // no identity matches this Okta user: a pre-hire
        for audit in try await harness.auditRecords() {
            #expect(!audit.event.details.values.contains { $0.contains("placeholder-Secret-42") })
        }
    }

    @Test func listsWithFiltersAndPages() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            var ids: [String] = []
            for index in 1...5 {
                let response = try await Self.send(
                    client,
                    .post,
                    "/Users",
                    Self.oktaCreate("user\(index)@okta.local", externalId: "ext-\(index)", active: index != 3)
                )
                ids.append(try Self.created(response))
            }
            func list(_ query: String) async throws -> [String: Any] {
                let response = try await Self.send(client, .get, "/Users?" + query)
                #expect(response.status == .ok, "\(query)")
                #expect(response.headers[.contentType] == "application/scim+json")
                let json = try object(response)
                #expect(json["schemas"] as? [String] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
                return json
            }
            func found(_ json: [String: Any]) -> [String] {
                (json["Resources"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }

            // Okta's lookup before a create: userName, ignoring case; spaces as %20 or +.
            let byName = try await list("filter=userName%20eq%20%22USER2@okta.local%22")
            #expect(byName["totalResults"] as? Int == 1 && found(byName) == [ids[1]])
            let plus = try await list("filter=userName+eq+%22user4%40okta.local%22")
            #expect(found(plus) == [ids[3]])
            // Entra's matching attribute: externalId, exact.
            #expect(found(try await list("filter=externalId%20eq%20%22ext-5%22")) == [ids[4]])
            #expect(found(try await list("filter=externalId%20eq%20%22EXT-5%22")).isEmpty)
            let active = try await list("filter=active%20eq%20true")
            #expect(active["totalResults"] as? Int == 4 && !found(active).contains(ids[2]))

            // Pages: 1-based startIndex, count per page, totalResults counts every match. The order
            // is stable (creation time, then id; the test clock gives every user the same time).
            let all = found(try await list("count=10"))
            #expect(Set(all) == Set(ids))
            let page = try await list("startIndex=2&count=2")
            #expect(page["totalResults"] as? Int == 5)
            #expect(page["startIndex"] as? Int == 2 && page["itemsPerPage"] as? Int == 2)
            #expect(found(page) == Array(all[1...2]))
            let last = try await list("startIndex=5&count=2")
            #expect(found(last) == [all[4]])
            let countOnly = try await list("count=0")
            #expect(countOnly["totalResults"] as? Int == 5 && found(countOnly).isEmpty)

            // POST /Users/.search takes the same query in a body.
            let search = try await Self.send(
                client,
                .post,
                "/Users/.search",
                """
                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                 "filter": "active eq false", "attributes": ["userName"]}
                """
            )
            #expect(search.status == .ok)
            let resources = try #require(try object(search)["Resources"] as? [[String: Any]])
            #expect(resources.count == 1 && resources.first?["userName"] as? String == "user3@okta.local")
            #expect(resources.first?["emails"] == nil)

            // A filter Tenure does not answer is a 400 invalidFilter, not a wrong result.
            let invalid = try await Self.send(client, .get, "/Users?filter=userName%20co%20%22user%22")
            _ = try Self.scimError(invalid, 400, scimType: "invalidFilter")
            let badCount = try await Self.send(client, .get, "/Users?count=many")
            _ = try Self.scimError(badCount, 400, scimType: "invalidValue")
        }
    }

    // MARK: - PUT and ETags

    @Test func putReplacesAndAStaleIfMatchIs412() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let id = try Self.created(
                try await Self.send(client, .post, "/Users", Self.oktaCreate("put@okta.local", externalId: "ext-put"))
            )
            // Okta's PUT: the whole resource again, with the id and meta it read back.
            let replacement = """
                {"schemas": ["\(Self.userSchema)"], "id": "\(id)", "userName": "put@okta.local",
                 "name": {"givenName": "Another", "familyName": "User"}, "active": true, "groups": [],
                 "meta": {"resourceType": "User"}}
                """
            let put = try await Self.send(client, .put, "/Users/\(id)", replacement, headers: [.ifMatch: #"W/"1""#])
            #expect(put.status == .ok)
            #expect(put.headers[.eTag] == #"W/"2""#)
            let json = try object(put)
            #expect((json["name"] as? [String: String])?["givenName"] == "Another")
            #expect(json["emails"] == nil && json["externalId"] == nil)

            let stale = try await Self.send(client, .put, "/Users/\(id)", replacement, headers: [.ifMatch: #"W/"1""#])
            _ = try Self.scimError(stale, 412)
            let staleDelete = try await Self.send(client, .delete, "/Users/\(id)", headers: [.ifMatch: #"W/"1""#])
            _ = try Self.scimError(staleDelete, 412)
            // Without If-Match (or with *), a PUT applies.
            let any = try await Self.send(client, .put, "/Users/\(id)", replacement, headers: [.ifMatch: "*"])
            #expect(any.status == .ok && any.headers[.eTag] == #"W/"2""#)  // unchanged: same version
            // A PUT without the core schema is a 400.
            let invalid = try await Self.send(client, .put, "/Users/\(id)", #"{"userName": "x"}"#)
            _ = try Self.scimError(invalid, 400, scimType: "invalidSyntax")
        }
        #expect(try await harness.store.findHRUsers(.all).first?.version == 2)
    }

    // MARK: - Terminations

    /// A client retrying a deactivation (Entra does on a timeout) sends it again while the first
    /// is still being carried out: one offboarding, every delivery answered 200.
    @Test func concurrentDeliveriesOfOneDeactivationOffboardOnce() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let id = try Self.created(
                try await Self.send(
                    client,
                    .post,
                    "/Users",
                    Self.entraCreate("ann.smith@corp.example", employeeNumber: "e100")
                )
            )
            // Each on a connection of its own (the test client would send them one after another).
            let port = try #require(client.port)
            let patch = Self.entraActive("false")
            let request = Array(
                ("PATCH /scim/v2/Users/\(id) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(Harness.token("hr"))\r\n"
                    + "Content-Type: application/scim+json\r\nContent-Length: \(patch.utf8.count)\r\n\r\n" + patch).utf8
            )
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await RawHTTP.exchangeOnThread(port: port, request, responses: 1)[0].status }
                }
                for try await status in group { #expect(status == 200) }
            }
        }
        #expect(try await harness.store.offboardings().map(\.state) == [.done])
        #expect(try await harness.auditRecords(type: "offboarding.completed").count == 1)
        #expect(try await harness.auditRecords(type: "hr.termination").count == 1)
    }

    /// HR's changes take turns, and a termination waits for a command-line sync that holds the
    /// lock — but at most `syncLockWait` from its arrival: three sent together are all answered 503
    /// within that time, not one wait after another. Nothing is terminated; the retries are.
    @Test func terminationsQueuedBehindTheSyncLockAreAllAnsweredWithinTheWait() async throws {
        let harness = try await Harness(
            mappings: Self.mappings,
            state: Self.state,
            now: { Self.now },
            syncLockWait: .seconds(2)
        )
        try await harness.run { client in
            var ids: [String] = []
            for (name, number) in [("ann", "E100"), ("bob", "E200"), ("cat", "E300")] {
                let create = Self.entraCreate("\(name)@corp.example", employeeNumber: number)
                ids.append(try Self.created(try await Self.send(client, .post, "/Users", create)))
            }
            // Each on a connection of its own (the test client would send them one after another).
            let port = try #require(client.port)
            let patch = Self.entraActive("false")
            func request(_ id: String) -> [UInt8] {
                Array(
                    ("PATCH /scim/v2/Users/\(id) HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                        + "\(Harness.token("hr"))\r\nContent-Type: application/scim+json\r\n"
                        + "Content-Length: \(patch.utf8.count)\r\n\r\n" + patch).utf8
                )
            }
            try await harness.whileACLISyncHoldsTheLock {
                let start = ContinuousClock.now
                try await withThrowingTaskGroup(of: (Int, Duration).self) { group in
                    for id in ids {
                        let bytes = request(id)
                        group.addTask {
                            let status = try await RawHTTP.exchangeOnThread(port: port, bytes, responses: 1)[0].status
                            return (status, ContinuousClock.now - start)
                        }
                    }
                    for try await (status, elapsed) in group {
                        #expect(status == 503)
                        // Within the 2 s wait, with room to spare; waits in a row would reach 6 s.
                        #expect(elapsed < .milliseconds(4_500), "answered after \(elapsed)")
                    }
                }
            }
            #expect(try await harness.store.offboardings().isEmpty)
            for id in ids {
                let retried = try await Self.send(client, .patch, "/Users/\(id)", patch)
                #expect(retried.status == .ok)
            }
        }
        #expect(try await harness.store.offboardings().map(\.state) == [.done, .done, .done])
    }

    @Test func entraDeactivationOffboardsTheLinkedIdentityBeforeTheResponse() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            // Entra creates ann's HR record: linked by the Enterprise employeeNumber.
            let id = try Self.created(
                try await Self.send(
                    client,
                    .post,
                    "/Users",
                    Self.entraCreate("ann.smith@corp.example", employeeNumber: "e100")
                )
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-ann")
            #expect(try await Self.evaluate(client, "ann", "db-read") == (true, "active_assignment"))
            #expect(try await Self.assignments(harness, "id-ann").count == 2)

            // Entra disables the user: the offboarding is applied before the response.
            let disable = try await Self.send(client, .patch, "/Users/\(id)", Self.entraActive("false"))
            #expect(disable.status == .ok)
            #expect(try object(disable)["active"] as? Bool == false)
            #expect(disable.headers[.eTag] == #"W/"2""#)
            #expect(try await Self.evaluate(client, "ann", "db-read") == (false, "identity_inactive"))
            #expect(try await Self.assignments(harness, "id-ann").isEmpty)
            let completed = try await harness.auditRecords(type: "offboarding.completed")
            #expect(completed.count == 1 && completed.first?.event.subject == "id-ann")
            let termination = try #require(try await harness.auditRecords(type: "hr.termination").first?.event)
            #expect(termination.subject == "id-ann")
            #expect(termination.details["hrUser"] == id)
            #expect(termination.details["reason"] == "HR: active is false")
            let offboardings = try await harness.store.offboardings()
            #expect(offboardings.map(\.state) == [.done])
            #expect(offboardings.first?.requestedBy == "scim:\(id)")
            // bob is untouched.
            #expect(try await Self.assignments(harness, "id-bob").count == 1)

            // Disabling again changes nothing more.
            let again = try await Self.send(client, .patch, "/Users/\(id)", Self.entraActive(#""False""#))
            #expect(again.status == .ok)
            #expect(try await harness.store.offboardings().count == 1)

            // HR sets active again: the offboarding is cancelled, nothing is granted back.
            let enable = try await Self.send(client, .patch, "/Users/\(id)", Self.entraActive("true"))
            #expect(enable.status == .ok)
            #expect(try await harness.store.offboardings().map(\.state) == [.cancelled])
            #expect(try await harness.auditRecords(type: "offboarding.cancelled").first?.event.subject == "id-ann")
            #expect(harness.operations.index.snapshot.hrTerminated["id-ann"] == nil)
            #expect(try await Self.assignments(harness, "id-ann").isEmpty)
            // The identity stays terminated until the next sync says otherwise.
            #expect(try await Self.evaluate(client, "ann", "db-read") == (false, "identity_inactive"))
        }
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    @Test func deleteOffboardsTheLinkedIdentity() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            // Okta sends the directory's stable id as externalId: linked by it.
            let id = try Self.created(
                try await Self.send(client, .post, "/Users", Self.oktaCreate("bob@okta.local", externalId: "id-bob"))
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-bob")
            let delete = try await Self.send(client, .delete, "/Users/\(id)")
            #expect(delete.status == .noContent)
            #expect(delete.body.readableBytes == 0)
            _ = try Self.scimError(try await Self.send(client, .get, "/Users/\(id)"), 404)
            #expect(try await Self.evaluate(client, "bob", "db-read") == (false, "identity_inactive"))
            #expect(try await Self.assignments(harness, "id-bob").isEmpty)
            let termination = try #require(try await harness.auditRecords(type: "hr.termination").first?.event)
            #expect(termination.subject == "id-bob" && termination.details["reason"] == "HR: the user was deleted")
            #expect(try await harness.auditRecords(type: "offboarding.completed").first?.event.subject == "id-bob")
            #expect(try await Self.assignments(harness, "id-ann").count == 2)
        }
    }

    /// A rehire comes as a new HR record for the same identity: the old record's offboarding stops
    /// keeping the identity a leaver (nothing is granted back here); an operator's offboarding stays.
    @Test func aRehireUnderANewHRRecordTakesBackTheOldTermination() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let first = try Self.created(
                try await Self.send(client, .post, "/Users", Self.oktaCreate("bob@okta.local", externalId: "id-bob"))
            )
            #expect(try await Self.send(client, .delete, "/Users/\(first)").status == .noContent)
            #expect(try await harness.store.offboardings().map(\.state) == [.done])
            #expect(harness.operations.index.snapshot.hrTerminated["id-bob"] != nil)

            // Months later HR hires bob again: a new record, the same directory identity.
            let second = try Self.created(
                try await Self.send(
                    client,
                    .post,
                    "/Users",
                    Self.oktaCreate("bob.again@okta.local", externalId: "id-bob")
                )
            )
            #expect(second != first)
            #expect(try await harness.store.hrUser(id: second)?.identityID == "id-bob")
            #expect(try await harness.store.offboardings().map(\.state) == [.cancelled])
            #expect(harness.operations.index.snapshot.hrTerminated["id-bob"] == nil)
            #expect(try await harness.store.hrTerminations(now: harness.operations.now())["id-bob"] == nil)
            // Bob's part of the index was refreshed alone; it is what a whole reload gives.
            let reloaded = try await ModelLoader.load(
                store: harness.store,
                mappings: harness.mappings,
                now: harness.operations.now()
            )
            #expect(harness.operations.index.snapshot == reloaded)
            #expect(reloaded.identities["id-bob"]?.state == .terminated)  // until a sync says otherwise
            let cancelled = try #require(try await harness.auditRecords(type: "offboarding.cancelled").first?.event)
            #expect(cancelled.subject == "id-bob")
            #expect(cancelled.details["reason"] == "HR: employed again (rehired as HR user \(second))")
            // Nothing granted back by HR.
            #expect(try await Self.assignments(harness, "id-bob").isEmpty)

            // An operator's offboarding is not HR's to take back: it stays when HR (re)hires.
            let offboard = try await client.execute(
                uri: "/v1/offboard",
                method: .post,
                headers: Harness.headers("hr"),
                body: body(#"{"subject": "ann", "reason": "security incident"}"#)
            )
            #expect(offboard.status == .ok)
            _ = try Self.created(
                try await Self.send(client, .post, "/Users", Self.oktaCreate("ann@okta.local", externalId: "id-ann"))
            )
            let anns = try await harness.store.offboardings().filter { $0.identityID == "id-ann" }
            #expect(anns.map(\.state) == [.done])
            #expect(harness.operations.index.snapshot.hrTerminated["id-ann"] != nil)
        }
    }

    /// The same, rehired on a fixed-term contract: the old termination stops holding too, and the
    /// new record's end is scheduled. (It used to stay a leaver: only an open-ended rehire took the
    /// old termination back.)
    @Test func aFixedTermRehireTakesBackTheOldTerminationAndSchedulesItsEnd() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let first = try Self.created(
                try await Self.send(client, .post, "/Users", Self.oktaCreate("bob@okta.local", externalId: "id-bob"))
            )
            #expect(try await Self.send(client, .delete, "/Users/\(first)").status == .noContent)
            #expect(harness.operations.index.snapshot.hrTerminated["id-bob"] != nil)

            let second = try Self.created(
                try await Self.send(
                    client,
                    .post,
                    "/Users",
                    """
                    {"schemas": ["\(Self.userSchema)", "\(Self.tenure)"], "userName": "bob.again@okta.local",
                     "externalId": "id-bob", "active": true, "\(Self.tenure)": {"terminationDate": "2027-06-30"}}
                    """
                )
            )
            #expect(try await harness.store.hrUser(id: second)?.identityID == "id-bob")
            let bobs = try await harness.store.offboardings(identityID: "id-bob")
            #expect(bobs.map(\.state) == [.cancelled, .scheduled])
            #expect(bobs.last?.requestedBy == "scim:\(second)" && bobs.last?.effectiveAt == 1_814_313_600)
            #expect(harness.operations.index.snapshot.hrTerminated["id-bob"] == nil)
            let reloaded = try await ModelLoader.load(
                store: harness.store,
                mappings: harness.mappings,
                now: harness.operations.now()
            )
            #expect(harness.operations.index.snapshot == reloaded)
            let cancelled = try #require(try await harness.auditRecords(type: "offboarding.cancelled").first?.event)
            #expect(cancelled.details["reason"] == "HR: employed again (rehired as HR user \(second))")
            // Nothing granted back by HR.
            #expect(try await Self.assignments(harness, "id-bob").isEmpty)
        }
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    @Test func aPreHireStaysUnlinkedUntilItsIdentityExists() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let id = try Self.created(
                try await Self.send(
                    client,
                    .post,
                    "/Users",
                    Self.entraCreate("dan@corp.example", employeeNumber: "E900")
                )
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == nil)
            #expect(try await harness.operations.linkPendingHRUsers() == 0)

            // The directory account appears (a sync records it; here it is written directly).
            try await harness.store.seed(
                PIMState(identities: ["id-dan": Self.employee("id-dan", "dan", number: "E900")])
            )
            try await harness.operations.reloadIndex()
            #expect(try await harness.operations.linkPendingHRUsers() == 1)
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-dan")
            let linked = try #require(try await harness.auditRecords(type: "hr.user.linked").first?.event)
            #expect(linked.subject == "id-dan" && linked.object == id && linked.actor == "tenure:hr-link")
            #expect(try await harness.operations.linkPendingHRUsers() == 0)
            // Employed, no termination date: nothing else happened.
            #expect(try await harness.store.offboardings().isEmpty)
        }
    }

    /// A record HR terminated while it waited for its identity is not linked afterwards by number
    /// or name: an account that appears since with that number or username may be a new hire's, who
    /// would be offboarded at once. By externalId it still is.
    @Test func aTerminatedPreHireIsNotLinkedToAnAccountThatAppearsLater() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let id = try Self.created(
                try await Self.send(
                    client,
                    .post,
                    "/Users",
                    Self.entraCreate("eve@corp.example", employeeNumber: "E901")
                )
            )
            let deactivated = try await Self.send(client, .patch, "/Users/\(id)", Self.entraActive(#""False""#))
            #expect(deactivated.status == .ok)
            // Months later a new hire gets the number (and the name).
            try await harness.store.seed(
                PIMState(identities: ["id-eve2": Self.employee("id-eve2", "eve", number: "E901")])
            )
            try await harness.operations.reloadIndex()
            #expect(try await harness.operations.linkPendingHRUsers() == 0)
            #expect(try await harness.store.hrUser(id: id)?.identityID == nil)
            #expect(try await harness.store.offboardings().isEmpty)
            #expect(harness.operations.index.snapshot.hrTerminated["id-eve2"] == nil)
            #expect(try await harness.auditRecords(type: "hr.user.linked").isEmpty)
        }
    }

    /// An HR record whose employee number no account carries is not linked by its userName (the
    /// account named so is someone else's), and its termination, offboarding nobody, is audited.
    @Test func aTerminationThatMatchesNobodyIsAuditedNotGuessed() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            // "bob" is a directory account, but this HR record is E999: not bob.
            let id = try Self.created(
                try await Self.send(client, .post, "/Users", Self.entraCreate("bob", employeeNumber: "E999"))
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == nil)
            let deactivate = try await Self.send(
                client,
                .patch,
                "/Users/\(id)",
                """
                {"schemas": ["\(Self.patchOp)"], "Operations": [{"op": "replace", "path": "active", "value": false}]}
                """
            )
            #expect(deactivate.status == .ok)
            #expect(try await Self.evaluate(client, "bob", "db-read") == (true, "active_assignment"))
            #expect(try await harness.store.offboardings().isEmpty)
            let unmatched = try await harness.auditRecords(type: "hr.termination.unmatched").map(\.event)
            #expect(unmatched.count == 1)
            #expect(unmatched.first?.object == id && unmatched.first?.outcome == "unmatched")
            #expect(unmatched.first?.details["userName"] == "bob")
        }
    }

    /// An Entra-style PATCH replacing the HR user's termination date.
    static func moveTerminationDate(_ client: any TestClientProtocol, _ id: String, to date: String) async throws
        -> TestResponse
    {
        try await Self.send(
            client,
            .patch,
            "/Users/\(id)",
            """
            {"schemas": ["\(Self.patchOp)"], "Operations": [
              {"op": "replace", "path": "\(Self.tenure):terminationDate", "value": "\(date)"}]}
            """
        )
    }

    /// Creates cat (E300, linked to id-cat) with a termination date of 2027-03-31T17:00:00Z; her
    /// SCIM id.
    static func createCatLeavingOnMarch31(_ client: any TestClientProtocol) async throws -> String {
        try Self.created(
            try await Self.send(
                client,
                .post,
                "/Users",
                Self.entraCreate("cat@corp.example", employeeNumber: "E300", terminationDate: "2027-03-31T17:00:00Z")
            )
        )
    }

    /// A scheduled offboarding whose turn comes after HR moved the date (it was cancelled in
    /// between) is not carried out: the sweeper's list may be older than the cancellation.
    @Test func aCancelledOffboardingIsNotCarriedOutWhenItsTurnComes() async throws {
        let clock = TestClock(Self.now)
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            let id = try await Self.createCatLeavingOnMarch31(client)
            let first = try #require(try await harness.store.offboardings().first)
            #expect(try await Self.moveTerminationDate(client, id, to: "2027-04-30").status == .ok)
            #expect(try await harness.store.offboarding(id: first.id)?.state == .cancelled)

            // The sweeper read the list before the move, and now runs the old one.
            clock.now = 1_806_512_400
            await #expect(throws: OffboardingNotScheduled.self) {
                try await harness.operations.offboardNow(
                    "id-cat",
                    reason: first.reason,
                    offboardingID: first.id,
                    requestedBy: first.requestedBy
                )
            }
            #expect(try await Self.assignments(harness, "id-cat").isEmpty == false)
            #expect(try await Self.evaluate(client, "cat", "db-read") == (true, "active_assignment"))
            #expect(try await harness.auditRecords(type: "offboarding.completed").isEmpty)
        }
    }

    /// HR's cancellation takes its turn with offboardings (the coordinator): while an offboarding
    /// holds it — one that checked its row was still scheduled — the cancellation waits.
    @Test func aCancellationWaitsForAnOffboardingThatIsRunning() async throws {
        let clock = TestClock(Self.now)
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            let id = try await Self.createCatLeavingOnMarch31(client)
            let first = try #require(try await harness.store.offboardings().first)
            let gate = AsyncStream<Void>.makeStream()
            let entered = AsyncStream<Void>.makeStream()
            let running = Task {
                await harness.operations.coordinator.exclusive {
                    entered.continuation.yield()
                    for await _ in gate.stream { break }
                }
            }
            for await _ in entered.stream { break }
            let move = Task { try await Self.moveTerminationDate(client, id, to: "2027-04-30") }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await harness.store.offboarding(id: first.id)?.state == .scheduled)
            gate.continuation.yield()
            await running.value
            #expect(try await move.value.status == .ok)
            #expect(try await harness.store.offboarding(id: first.id)?.state == .cancelled)
        }
    }

    @Test func aFutureTerminationDateSchedulesTheOffboarding() async throws {
        let clock = TestClock(Self.now)
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            let id = try await Self.createCatLeavingOnMarch31(client)
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-cat")
            var offboardings = try await harness.store.offboardings()
            #expect(offboardings.count == 1)
            #expect(offboardings.first?.state == .scheduled && offboardings.first?.effectiveAt == 1_806_512_400)
            #expect(offboardings.first?.requestedBy == "scim:\(id)")
            // Still employed until then.
            #expect(try await Self.evaluate(client, "cat", "db-read") == (true, "active_assignment"))
            let scheduled = try #require(try await harness.auditRecords(type: "hr.termination").first?.event)
            #expect(scheduled.subject == "id-cat" && scheduled.details["effectiveAt"] == "2027-03-31T17:00:00Z")
            #expect(try await harness.auditRecords(type: "offboarding.scheduled").count == 1)

            // HR moves the date (a bare date is midnight UTC): the old schedule is cancelled.
            let moved = try await Self.moveTerminationDate(client, id, to: "2027-04-30")
            #expect(moved.status == .ok)
            offboardings = try await harness.store.offboardings()
            #expect(offboardings.map(\.state).sorted { $0.rawValue < $1.rawValue } == [.cancelled, .scheduled])
            #expect(offboardings.first { $0.state == .scheduled }?.effectiveAt == 1_809_043_200)

            // The daemon's sweeper carries it out once due.
            clock.now = 1_809_043_200
            #expect(try await harness.operations.runDueOffboardings() == 1)
            #expect(try await Self.evaluate(client, "cat", "db-read") == (false, "identity_inactive"))
            #expect(try await Self.assignments(harness, "id-cat").isEmpty)

            // A termination date that has already passed terminates at once.
            let bob = try await Self.send(
                client,
                .post,
                "/Users",
                Self.entraCreate("bob@corp.example", employeeNumber: "E200", terminationDate: "2027-01-01T00:00:00Z")
            )
            let bobID = try Self.created(bob)
            #expect(try await Self.evaluate(client, "bob", "db-read") == (false, "identity_inactive"))
            let reasons = try await harness.auditRecords(type: "hr.termination").map { $0.event.details["reason"] }
            #expect(reasons.last == "HR: terminationDate 2027-01-01T00:00:00Z has passed")
            offboardings = try await harness.store.offboardings()
            #expect(offboardings.filter { $0.state == .done }.map(\.identityID).sorted() == ["id-bob", "id-cat"])

            // HR moves bob's date, already carried out, into the future: that offboarding stops
            // keeping him a leaver (his part of the index is refreshed, as a reload would have it),
            // and a new one waits for the new date.
            let later = try await Self.moveTerminationDate(client, bobID, to: "2027-06-30")
            #expect(later.status == .ok)
            let bobs = try await harness.store.offboardings(identityID: "id-bob")
            #expect(bobs.map(\.state) == [.cancelled, .scheduled])
            #expect(harness.operations.index.snapshot.hrTerminated["id-bob"] == nil)
            let reloaded = try await ModelLoader.load(store: harness.store, mappings: harness.mappings, now: clock.now)
            #expect(harness.operations.index.snapshot == reloaded)
            // Nothing is granted back, and the stored record stays terminated until a sync.
            #expect(try await Self.evaluate(client, "bob", "db-read") == (false, "identity_inactive"))
        }
    }

    // MARK: - Discovery and errors

    @Test func discoveryEndpoints() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let config = try await Self.send(client, .get, "/ServiceProviderConfig")
            #expect(config.status == .ok && config.headers[.contentType] == "application/scim+json")
            let spc = try object(config)
            #expect(spc["schemas"] as? [String] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
            #expect((spc["patch"] as? [String: Any])?["supported"] as? Bool == true)
            #expect((spc["etag"] as? [String: Any])?["supported"] as? Bool == true)
            #expect((spc["bulk"] as? [String: Any])?["supported"] as? Bool == false)

            let types = try object(try await Self.send(client, .get, "/ResourceTypes"))
            #expect(types["totalResults"] as? Int == 1)
            let user = try object(try await Self.send(client, .get, "/ResourceTypes/User"))
            #expect(user["endpoint"] as? String == "/Users" && user["schema"] as? String == Self.userSchema)
            _ = try Self.scimError(try await Self.send(client, .get, "/ResourceTypes/Group"), 404)

            let schemas = try object(try await Self.send(client, .get, "/Schemas"))
            #expect(schemas["totalResults"] as? Int == 3)
            let core = try object(try await Self.send(client, .get, "/Schemas/\(Self.userSchema)"))
            #expect(core["id"] as? String == Self.userSchema)
            let tenure = try object(try await Self.send(client, .get, "/Schemas/\(Self.tenure)"))
            #expect((tenure["attributes"] as? [[String: Any]])?.first?["name"] as? String == "terminationDate")
            _ = try Self.scimError(try await Self.send(client, .get, "/Schemas/urn:nope"), 404)

            // Only GET on discovery; unsupported resource types and features are SCIM errors.
            let post = try await Self.send(client, .post, "/ServiceProviderConfig", "{}")
            _ = try Self.scimError(post, 405)
            #expect(post.headers[.allow] == "GET")
            _ = try Self.scimError(try await Self.send(client, .get, "/Groups"), 404)
            _ = try Self.scimError(try await Self.send(client, .post, "/Groups", "{}"), 404)
            _ = try Self.scimError(try await Self.send(client, .post, "/Bulk", "{}"), 501)
            _ = try Self.scimError(try await Self.send(client, .get, "/Me"), 501)
            _ = try Self.scimError(try await Self.send(client, .get, "/\(UUID().uuidString)"), 404)
            _ = try Self.scimError(try await Self.send(client, .get, "/Users/x/y"), 404)
        }
    }

    @Test func errorsAndAuthentication() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            // No token, or a wrong one: a SCIM 401 (the authentication middleware speaks SCIM here).
            let anonymous = try await Self.send(client, .get, "/Users", token: nil)
            _ = try Self.scimError(anonymous, 401)
            #expect(anonymous.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(anonymous.headers[.contentType] == "application/scim+json")
            var wrong = HTTPFields()
            wrong[.authorization] = "Bearer not-a-token"
            let refused = try await client.execute(uri: "/scim/v2/Users/x", method: .patch, headers: wrong)
            let refusal = try Self.scimError(refused, 401)
            #expect((refusal["detail"] as? String)?.contains("not valid") == true)
            // A token without the hr scope: a SCIM 403.
            let gateway = try await Self.send(client, .get, "/Users", token: "gateway")
            let forbidden = try Self.scimError(gateway, 403)
            #expect((forbidden["detail"] as? String)?.contains("hr") == true)
            #expect(gateway.headers[.wwwAuthenticate]?.contains("insufficient_scope") == true)
            _ = try Self.scimError(try await Self.send(client, .post, "/Users", "{}", token: "ops"), 403)
            // admin may do everything.
            #expect(try await Self.send(client, .get, "/Users", token: "root").status == .ok)

            // Bodies: not JSON, the wrong media type, a bad attribute, a bad PATCH.
            _ = try Self.scimError(
                try await Self.send(client, .post, "/Users", "{nope"),
                400,
                scimType: "invalidSyntax"
            )
            let plain = try await client.execute(
                uri: "/scim/v2/Users",
                method: .post,
                headers: [.authorization: "Bearer \(Harness.token("hr"))", .contentType: "text/plain"],
                body: body(Self.oktaCreate("plain@okta.local", externalId: "p"))
            )
            _ = try Self.scimError(plain, 415)
            // application/json is accepted as well as application/scim+json.
            let json = try await client.execute(
                uri: "/scim/v2/Users",
                method: .post,
                headers: Harness.headers("hr"),
                body: body(Self.oktaCreate("json@okta.local", externalId: "j"))
            )
            let id = try Self.created(json)
            let badActive = try await Self.send(
                client,
                .post,
                "/Users",
                #"{"schemas": ["\#(Self.userSchema)"], "userName": "x@okta.local", "active": "maybe"}"#
            )
            _ = try Self.scimError(badActive, 400, scimType: "invalidValue")
            let badPath = try await Self.send(
                client,
                .patch,
                "/Users/\(id)",
                #"{"schemas": ["\#(Self.patchOp)"], "Operations": [{"op": "replace", "path": "id", "value": "x"}]}"#
            )
            _ = try Self.scimError(badPath, 400, scimType: "mutability")
            let noTarget = try await Self.send(
                client,
                .patch,
                "/Users/nope",
                Self.entraActive("false")
            )
            _ = try Self.scimError(noTarget, 404)
            // The body limit is a SCIM 413.
            let large = try await Self.send(
                client,
                .post,
                "/Users",
                #"{"schemas": ["\#(Self.userSchema)"], "userName": "\#(String(repeating: "x", count: 1_100_000))"}"#
            )
            _ = try Self.scimError(large, 413)
        }
    }
}

/// A clock a test moves.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Double

    init(_ value: Double) { self.value = value }

    var now: Double {
        get { self.lock.withLock { self.value } }
        set { self.lock.withLock { self.value = newValue } }
    }
}
