import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SlapdFixture
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureServer
import TenureStore
import TenureVault
import Testing

/// The OpenAPI 3.1 document (Sources/TenureServer/Resources/openapi.json, served at
/// `/openapi.json`) against the server that serves it: every route the server registers is
/// documented, every documented operation answers with a documented status and a body of the
/// documented shape, and schemathesis (scripts/openapi-conformance.sh) finds no nonconformance
/// in a property-based run.
@Suite(.timeLimit(.minutes(5)))
struct OpenAPITests {
    // MARK: - What the server registers

    /// Every route the server registers, by hand from the code (method, OpenAPI path). Update it
    /// with the router: a route added there and here but not to openapi.json fails
    /// `everyRegisteredRouteIsDocumented`.
    ///
    /// Not listed, because they only answer errors and are described in the operations that are:
    /// the SCIM 405 fallbacks (every method a SCIM path does not serve, SCIMRoutes.swift
    /// `route(_:_:)`), the other methods of `/scim/v2/Groups`, `/Bulk` and `/Me`, their `/**`
    /// subpaths, and the SCIM catch-all `/scim/v2/**` (404).
    static let registeredRoutes: [(method: String, path: String)] = [
        // OperationsRoutes.swift
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        // OpenAPIRoute.swift
        ("get", "/openapi.json"),
        // Decisions.swift
        ("get", "/.well-known/authzen-configuration"),
        ("post", "/access/v1/evaluation"),
        ("post", "/access/v1/evaluations"),
        // ActivationRoutes.swift
        ("post", "/v1/activations"),
        ("get", "/v1/activations"),
        ("get", "/v1/activations/{id}"),
        ("delete", "/v1/activations/{id}"),
        ("post", "/v1/activations/{id}/approve"),
        ("post", "/v1/activations/{id}/deny"),
        // CredentialRoutes.swift (`:name` in the code)
        ("post", "/v1/credentials/{name}/checkout"),
        ("post", "/v1/credentials/{name}/checkin"),
        // OffboardingRoutes.swift
        ("post", "/v1/offboard"),
        ("get", "/v1/offboardings"),
        ("get", "/v1/offboardings/{id}"),
        // SCIMRoutes.swift (under router.group("/scim/v2"))
        ("get", "/scim/v2/Users"),
        ("post", "/scim/v2/Users"),
        ("post", "/scim/v2/Users/.search"),
        ("post", "/scim/v2/.search"),
        ("get", "/scim/v2/Users/{id}"),
        ("put", "/scim/v2/Users/{id}"),
        ("patch", "/scim/v2/Users/{id}"),
        ("delete", "/scim/v2/Users/{id}"),
        ("get", "/scim/v2/ServiceProviderConfig"),
        ("get", "/scim/v2/ResourceTypes"),
        ("get", "/scim/v2/ResourceTypes/{id}"),
        ("get", "/scim/v2/Schemas"),
        ("get", "/scim/v2/Schemas/{id}"),
        ("get", "/scim/v2/Groups"),
        ("post", "/scim/v2/Bulk"),
        ("get", "/scim/v2/Me"),
    ]

    // MARK: - The fixture

    static let coreUser = "urn:ietf:params:scim:schemas:core:2.0:User"

    static let mappings = Mappings(
        roles: [
            RoleDefinition(
                name: "dba-prod",
                tier: 0,
                mode: .eligible,
                maxActivationSeconds: 3_600,
                requirements: [.approval],
                credentials: ["db-root"]
            ),
            RoleDefinition(name: "ops", tier: 1, mode: .eligible, maxActivationSeconds: 600),
            RoleDefinition(name: "db-read", tier: 2, mode: .standing, credentials: ["db-report"]),
        ]
    )

    static var state: PIMState {
        PIMState(
            identities: [
                "id-ann": person("id-ann", "ann"), "id-bob": person("id-bob", "bob"),
                "id-eve": person("id-eve", "eve", state: .disabled),
            ],
            assignments: [
                Assignment(identityID: "id-ann", role: "dba-prod", state: .eligible, source: "rule:dbas", since: 0),
                Assignment(identityID: "id-bob", role: "ops", state: .eligible, source: "rule:ops", since: 0),
                Assignment(identityID: "id-ann", role: "db-read", state: .active, source: "rule:readers", since: 0),
            ]
        )
    }

    /// With a vault holding `db-report` (unlocked by `db-read`, which ann holds), so that check-out
    /// and check-in answer for real rather than 503 "no vault".
    func harness() async throws -> Harness {
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, vault: true)
        let program = harness.directory + "/rotate.sh"
        try "#!/bin/sh\ncat >/dev/null\n".write(toFile: program, atomically: true, encoding: .utf8)
        chmod(program, 0o700)
        let rotator = try #require(harness.operations.engine.rotator)
        try await rotator.enroll(
            name: "db-report",
            kind: .command(path: program),
            currentSecret: "Report-Secret-1",
            policy: PasswordPolicy()
        )
        return harness
    }

    static var sourceDocument: Data {
        get throws {
            try Data(
                contentsOf: repositoryRoot.appendingPathComponent("Sources/TenureServer/Resources/openapi.json")
            )
        }
    }

    // MARK: - The document itself

    @Test func documentIsOpenAPI31AndServedAsCheckedIn() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let response = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(response.status == .ok)
            #expect(mediaType(response.headers[.contentType] ?? "") == "application/json")
            let served = Data(response.body.readableBytesView)
            #expect(served == (try Self.sourceDocument), "the served document is not the checked-in one")
            let document = try OpenAPIDocument(data: served)
            let version = try #require(document.version)
            #expect(version.hasPrefix("3.1."), "openapi is \(version)")
            #expect(
                document.root["jsonSchemaDialect"]?.stringValue == "https://json-schema.org/draft/2020-12/schema"
            )
            #expect(!document.operations.isEmpty)
        }
    }

    @Test func everyRegisteredRouteIsDocumented() throws {
        let document = try OpenAPIDocument(data: try Self.sourceDocument)
        let documented = Set(document.operations.map { "\($0.method.uppercased()) \($0.path)" })
        let registered = Set(Self.registeredRoutes.map { "\($0.method.uppercased()) \($0.path)" })
        #expect(registered.count == Self.registeredRoutes.count, "a route is listed twice")
        for route in registered.subtracting(documented).sorted() {
            Issue.record("\(route) is registered but not documented in openapi.json")
        }
        for route in documented.subtracting(registered).sorted() {
            Issue.record("\(route) is documented but not in OpenAPITests.registeredRoutes (is it registered?)")
        }
    }

    /// What every operation must say: a summary and an operationId; for the open paths an empty
    /// `security`, for the rest bearer security naming the scope, `x-required-scope`, the scope in
    /// the description, 401 and 403; error bodies as problem details (SCIM errors under `/scim/v2`,
    /// but for 401); every `$ref` resolves; only schema keywords the validator knows.
    @Test func everyOperationIsCompletelyDescribed() throws {
        let document = try OpenAPIDocument(data: try Self.sourceDocument)
        var operationIDs: Set<String> = []
        for operation in document.operations {
            let name = "\(operation.method.uppercased()) \(operation.path)"
            let summary = operation.value["summary"]?.stringValue ?? ""
            #expect(summary.isEmpty == false, "\(name): no summary")
            let id = try #require(operation.value["operationId"]?.stringValue, "\(name): no operationId")
            #expect(operationIDs.insert(id).inserted, "\(name): operationId \(id) is used twice")
            let security = try #require(operation.security, "\(name): no security requirement")
            if TenureAPI.openPaths.contains(operation.path) {
                #expect(security.isEmpty, "\(name) is open: its security must be []")
            } else {
                let scope = try #require(operation.value["x-required-scope"]?.stringValue, "\(name): x-required-scope")
                #expect(APIScope(rawValue: scope) != nil, "\(name): \(scope) is not a scope")
                #expect(security.first?["bearerAuth"]?.arrayValue == [.string(scope)], "\(name): bearer security")
                #expect(
                    operation.value["description"]?.stringValue?.contains("Required scope: `\(scope)`") == true,
                    "\(name): the description names no scope"
                )
                #expect(operation.statuses.isSuperset(of: [401, 403]), "\(name): 401 and 403 must be documented")
            }
            for (status, _) in operation.responses {
                guard let code = Int(status), code >= 400,
                    let response = document.response(operation, status: code)
                else { continue }
                let media = Set(document.content(of: response).keys)
                let expected: String =
                    operation.path.hasPrefix("/scim/v2/") ? "application/scim+json" : "application/problem+json"
                // /readyz answers 503 as JSON status; a withheld offboarding is a 409 JSON report.
                let exempt =
                    (operation.path == "/readyz" && code == 503) || (operation.path == "/v1/offboard" && code == 409)
                if !exempt {
                    #expect(media == [expected], "\(name) \(status): \(media.sorted()) rather than \(expected)")
                } else {
                    #expect(!media.isEmpty, "\(name) \(status): no content")
                }
            }
        }
        for (reference, at) in document.references() {
            #expect(document.pointer(reference) != nil, "\(at): \(reference) does not resolve")
        }
        #expect(SchemaValidator(document: document).unknownKeywords() == [])
    }

    // MARK: - Every operation against the live server

    /// For every documented operation: a request with the admin token, path parameters that name
    /// something real (an activation, a SCIM User, a credential) and a minimal valid body; the
    /// status must be documented for it, the Content-Type one documented for that status, and a
    /// JSON body must validate against the documented schema. Then the same without a token: 401
    /// (documented) for all but the open paths. Operations the table below does not know get `{}`.
    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let harness = try await self.harness()
        let data = try Self.sourceDocument
        try await harness.run { client in
            let document = try OpenAPIDocument(data: data)
            let validator = SchemaValidator(document: document)

            // Things to name: a pending activation, a SCIM User, a check-out.
            let pending = try await client.execute(
                uri: "/v1/activations",
                method: .post,
                headers: Harness.headers("ann"),
                body: body(#"{"role": "dba-prod"}"#)
            )
            #expect(pending.status == .accepted)
            let activationID = try #require(try object(pending)["id"] as? String)
            let user = try await client.execute(
                uri: "/scim/v2/Users",
                method: .post,
                headers: Harness.headers("hr"),
                body: body(#"{"schemas": ["\#(Self.coreUser)"], "userName": "openapi-probe"}"#)
            )
            #expect(user.status == .created)
            let userID = try #require(try object(user)["id"] as? String)
            let checkout = try await client.execute(
                uri: "/v1/credentials/db-report/checkout",
                method: .post,
                headers: Harness.headers("ann"),
                body: body("{}")
            )
            #expect(checkout.status == .created)
            let checkoutID = try #require(try object(checkout)["checkoutID"] as? String)

            let bodies: [String: String] = [
                "evaluate": Self.evaluation,
                "evaluateBatch": #"{"evaluations": [\#(Self.evaluation)]}"#,
                "requestActivation": #"{"subject": "bob", "role": "ops", "duration": 300}"#,
                "denyActivation": #"{"reason": "not now"}"#,
                "checkoutCredential": #"{"subject": "ann", "duration": 600}"#,
                "checkinCredential": #"{"checkoutID": "\#(checkoutID)"}"#,
                "offboard": #"{"subject": "eve", "reason": "left", "effectiveAt": "2099-01-01T00:00:00Z"}"#,
                "scimCreateUser": #"{"schemas": ["\#(Self.coreUser)"], "userName": "openapi-second"}"#,
                "scimReplaceUser": #"{"schemas": ["\#(Self.coreUser)"], "userName": "openapi-probe"}"#,
                "scimPatchUser": """
                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "replace", "path": "displayName", "value": "Probe"}]}
                """,
                "scimSearchUsers": #"{"filter": "userName eq \"openapi-probe\"", "count": 10}"#,
                "scimSearchRoot": #"{"filter": "userName eq \"openapi-probe\""}"#,
            ]
            func pathValue(_ operation: OpenAPIDocument.Operation, _ name: String) -> String {
                switch (operation.path, name) {
                case (let path, "id") where path.hasPrefix("/v1/activations/"): activationID
                case (let path, "id") where path.hasPrefix("/scim/v2/Users/"): userID
                case (let path, "id") where path.hasPrefix("/scim/v2/ResourceTypes/"): "User"
                case (let path, "id") where path.hasPrefix("/scim/v2/Schemas/"): Self.coreUser
                case (_, "name"): "db-report"
                default: "x"
                }
            }

            // Deletions last, so that what they remove is there for the others.
            let operations = document.operations.sorted {
                ($0.method == "delete" ? 1 : 0) < ($1.method == "delete" ? 1 : 0)
            }
            var seen = 0
            for operation in operations {
                var uri = operation.path
                for parameter in operation.parameters.map(document.resolve) where parameter["in"] == "path" {
                    let name = parameter["name"]?.stringValue ?? ""
                    let value = pathValue(operation, name)
                    let escaped = value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? value
                    uri = uri.replacingOccurrences(of: "{\(name)}", with: escaped)
                }
                #expect(!uri.contains("{"), "\(operation.id): a path parameter is not documented")
                var requestBody: ByteBuffer?
                var headers = Harness.headers("root", json: false)
                if let request = operation.value["requestBody"].map(document.resolve) {
                    let media = document.content(of: request).keys.sorted().first ?? "application/json"
                    headers[.contentType] = media
                    requestBody = body(bodies[operation.id] ?? "{}")
                }
                let method = try #require(HTTPRequest.Method(operation.method.uppercased()))
                let response = try await client.execute(uri: uri, method: method, headers: headers, body: requestBody)
                try self.check(response, operation, document, validator, "\(operation.method.uppercased()) \(uri)")
                seen += 1

                // Without a token.
                let anonymous = try await client.execute(
                    uri: uri,
                    method: method,
                    headers: requestBody == nil ? [:] : [.contentType: headers[.contentType] ?? ""],
                    body: requestBody
                )
                if TenureAPI.openPaths.contains(operation.path) {
                    #expect(anonymous.status.code < 400, "\(operation.id) is open, yet \(anonymous.status)")
                } else {
                    #expect(anonymous.status == .unauthorized, "\(operation.id) without a token: \(anonymous.status)")
                    try self.check(anonymous, operation, document, validator, "\(operation.id) without a token")
                }
            }
            #expect(seen == document.operations.count)
        }
    }

    static let evaluation = """
        {"subject": {"type": "user", "id": "ann"}, "resource": {"type": "role", "id": "db-read"},
         "action": {"name": "assume"}}
        """

    /// The status is documented; the Content-Type is one documented for it (none when it documents
    /// no content); a JSON body validates against its schema.
    func check(
        _ response: TestResponse,
        _ operation: OpenAPIDocument.Operation,
        _ document: OpenAPIDocument,
        _ validator: SchemaValidator,
        _ request: String
    ) throws {
        let text = String(buffer: response.body)
        let code = Int(response.status.code)
        guard let documented = document.response(operation, status: code) else {
            Issue.record(
                "\(request): \(code) is not documented (documented: \(operation.statuses.sorted())); body: \(text)"
            )
            return
        }
        let content = document.content(of: documented)
        guard !content.isEmpty else {
            #expect(response.body.readableBytes == 0, "\(request): \(code) documents no content, yet: \(text)")
            return
        }
        let media = mediaType(response.headers[.contentType] ?? "")
        guard let schema = content[media] else {
            Issue.record("\(request): \(code) \(media) is not documented (documented: \(content.keys.sorted()))")
            return
        }
        guard media.hasSuffix("json") else { return }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
        } catch {
            Issue.record("\(request): \(code) \(media) is not JSON: \(text)")
            return
        }
        let errors = validator.validate(value, schema)
        #expect(errors.isEmpty, "\(request) \(code) \(media):\n\(errors.joined(separator: "\n"))\nbody: \(text)")
    }

    // MARK: - schemathesis

    static let script = repositoryRoot.appendingPathComponent("scripts/openapi-conformance.sh").path

    static var venv: String {
        ProcessInfo.processInfo.environment["TENURE_OPENAPI_VENV"]
            ?? repositoryRoot.appendingPathComponent(".tenure/openapi-venv").path
    }

    /// The real application (`TenureAPI.application`, as `tenure serve` runs it) on 127.0.0.1 and a
    /// port the system picks, and scripts/openapi-conformance.sh against it with the admin token.
    @Test func schemathesisFindsNoNonconformance() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.venv + "/bin/schemathesis") else {
            Issue.record(
                """
                the schemathesis venv is not installed in \(Self.venv): run \
                `scripts/openapi-conformance.sh --install` (scripts/openapi-conformance.sh runs this check)
                """
            )
            return
        }
        let harness = try await self.harness()
        defer { try? FileManager.default.removeItem(atPath: harness.directory) }
        #expect(harness.api.settings.host == "127.0.0.1" && harness.api.settings.port == 0)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = harness.api.application(onServerRunning: { port in continuation.yield(port) })
        let output = try await withThrowingTaskGroup(of: ProcessOutput?.self) { group in
            group.addTask {
                // A server that ends (or fails to start) ends the wait for its port.
                defer { continuation.finish() }
                try await application.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(port > 0)
            let output = try await Self.runOffThread(
                Self.script,
                ["--no-install", "http://127.0.0.1:\(port)", Harness.token("root")]
            )
            group.cancelAll()
            return output
        }
        print(output.stdout)
        #expect(
            output.status == 0,
            "scripts/openapi-conformance.sh exited \(output.status):\n\(output.stdout)\n\(output.stderr)"
        )
        #expect(output.stdout.contains("openapi-conformance: PASS"), "\(output.stdout)")
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    /// `run` blocks on waitpid: keep it off the cooperative pool, which serves the server.
    static func runOffThread(_ executable: String, _ arguments: [String]) async throws -> ProcessOutput {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try run(executable, arguments) })
            }
        }
    }
}
