import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import TenureAccess
import TenureConfig
import TenureCore
import TenureServer
import TenureStore
import Testing

/// The AuthZEN decision endpoints, authentication, problem details and the operations endpoints,
/// over real HTTP on loopback.
@Suite(.timeLimit(.minutes(3)))
struct DecisionAPITests {
    static let now: Double = 1_800_000_000

    static let mappings = Mappings(
        roles: [
            RoleDefinition(
                name: "dba-prod",
                tier: 0,
                mode: .eligible,
                maxActivationSeconds: 3_600,
                requirements: [.approval, .mfa],
                credentials: ["db-root"]
            ),
            RoleDefinition(name: "db-read", tier: 2, mode: .standing, credentials: ["db-report"]),
        ]
    )

    static var state: PIMState {
        PIMState(
            identities: ["id-ann": person("id-ann", "ann"), "id-eve": person("id-eve", "eve", state: .disabled)],
            assignments: [
                Assignment(identityID: "id-ann", role: "dba-prod", state: .eligible, source: "rule:dbas", since: 0),
                Assignment(identityID: "id-ann", role: "db-read", state: .active, source: "rule:readers", since: 0),
            ]
        )
    }

    func harness() async throws -> Harness {
        try await Harness(mappings: Self.mappings, state: Self.state, now: { Self.now })
    }

    static func evaluation(_ subject: String, _ type: String, _ id: String, _ action: String) -> String {
        """
        {"subject": {"type": "user", "id": "\(subject)"}, "resource": {"type": "\(type)", "id": "\(id)"},
         "action": {"name": "\(action)"}}
        """
    }

    @Test(arguments: [true, false]) func permitsDeniesWithReasonsAndAuditsEveryDecision(fastPath: Bool) async throws {
        let harness = try await self.harness()
        try await harness.run(fastPath: fastPath) { client in
            let cases: [(String, Bool, String)] = [
                (Self.evaluation("ann", "role", "db-read", "assume"), true, "active_assignment"),
                (Self.evaluation("ANN", "role", "dba-prod", "assume"), false, "eligible_not_active"),
                (Self.evaluation("eve", "role", "db-read", "assume"), false, "identity_inactive"),
                (Self.evaluation("nobody", "role", "db-read", "assume"), false, "unknown_subject"),
                (Self.evaluation("ann", "credential", "db-report", "checkout"), true, "role_unlocks"),
                (Self.evaluation("ann", "credential", "db-root", "checkout"), false, "no_role_unlocks"),
            ]
            for (request, decision, reason) in cases {
                let response = try await client.execute(
                    uri: "/access/v1/evaluation",
                    method: .post,
                    headers: Harness.headers("gateway").merging([.requestID: "req-\(reason)"]),
                    body: body(request)
                )
                #expect(response.status == .ok)
                #expect(response.headers[.requestID] == "req-\(reason)")
                let json = try object(response)
                #expect(json["decision"] as? Bool == decision, "\(request)")
                let context = try #require(json["context"] as? [String: Any])
                #expect(context["reason"] as? String == reason)
            }
            // The hint for an eligible role says how to activate it.
            let eligible = try await client.execute(
                uri: "/access/v1/evaluation",
                method: .post,
                headers: Harness.headers("gateway"),
                body: body(Self.evaluation("ann", "role", "dba-prod", "assume"))
            )
            let activation = try #require(
                (try object(eligible)["context"] as? [String: Any])?["activation"] as? [String: Any]
            )
            #expect(activation["maxActivationSeconds"] as? Int == 3_600)
            #expect(activation["requirements"] as? [String] == ["approval", "mfa"])
            // The same headers either way (fast path or route): a request id made up when none
            // was sent, the server's name, a date.
            #expect(eligible.headers[.contentType] == "application/json")
            #expect(eligible.headers[.server] == "tenure")
            #expect(eligible.headers[.date]?.hasSuffix(" GMT") == true)
            let madeUp = try #require(eligible.headers[.requestID])
            #expect(madeUp.count > 8 && !madeUp.hasPrefix("req-"))
        }
        // An HTTP client's requests take the front path (all of them), or none do without it.
        #expect(harness.api.metrics.text().contains("tenure_decisions_front_path_total \(fastPath ? 7 : 0)\n"))
        let decisions = try await harness.auditRecords(type: "access.decision")
        #expect(decisions.count == 7)
        #expect(decisions.first?.event.outcome == "permit")
        #expect(decisions.first?.event.actor == "token:gateway")
        #expect(decisions.first?.event.details["request"] == "req-active_assignment")
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    /// AuthZEN 1.0 §10.1.2: the answer carries the `X-Request-ID` the client sent, the same, even
    /// when it is too long or too odd to go into logs and audit records as it is (those then
    /// carry an id made up here, which the answer names in `Tenure-Request-ID`), on the front path
    /// and through the router alike. Of several sent, the first is the request's.
    @Test(arguments: [true, false]) func theRequestIDSentIsEchoedAsItIs(fastPath: Bool) async throws {
        let harness = try await self.harness()
        let sane = "req-sane-1"
        let long = "req-" + String(repeating: "0123456789", count: 20)
        let odd = #"a "quoted" id\with spaces"#
        let named = Mutex<[String?]>([])
        try await harness.run(fastPath: fastPath) { client in
            for sent in [sane, long, odd] {
                let response = try await client.execute(
                    uri: "/access/v1/evaluation",
                    method: .post,
                    headers: Harness.headers("gateway").merging([.requestID: sent]),
                    body: body(Self.evaluation("ann", "role", "db-read", "assume"))
                )
                #expect(response.status == .ok)
                #expect(response.headers[.requestID] == sent)
                named.withLock { $0.append(response.headers[.recordedRequestID]) }
            }
            // Another route hands the connection over to the HTTP stack for good: after the
            // decisions, so that they take the front path when it is on.
            for sent in [sane, long, odd] {
                let health = try await client.execute(
                    uri: "/healthz",
                    method: .get,
                    headers: [.requestID: sent]
                )
                #expect(health.headers[.requestID] == sent)
                #expect((health.headers[.recordedRequestID] == nil) == (sent == sane))
            }
            // Two ids (the HTTP stack answers it, the front path hands it over): the first is echoed
            // and recorded.
            var twice = Harness.headers("gateway")
            twice.append(HTTPField(name: .requestID, value: "req-first"))
            twice.append(HTTPField(name: .requestID, value: "req-second"))
            let response = try await client.execute(
                uri: "/access/v1/evaluation",
                method: .post,
                headers: twice,
                body: body(Self.evaluation("ann", "role", "db-read", "assume"))
            )
            #expect(response.headers[values: .requestID] == ["req-first"])
            #expect(response.headers[.recordedRequestID] == nil)
        }
        // The three single-id decisions took the front path when it was on.
        #expect(harness.api.metrics.text().contains("tenure_decisions_front_path_total \(fastPath ? 3 : 0)\n"))
        let recorded = try await harness.auditRecords(type: "access.decision").map { $0.event.details["request"] }
        try #require(recorded.count == 4)
        #expect(recorded[0] == sane)
        let recordedInHeaders = named.withLock { $0 }
        #expect(recordedInHeaders[0] == nil)
        for (id, named) in zip(recorded[1...2], recordedInHeaders[1...2]) {
            let id = try #require(id)
            #expect(id != long && id != odd && !id.isEmpty && id.utf8.count <= 128)
            #expect(!id.contains(" ") && !id.contains("\"") && !id.contains("\\"))
            #expect(named == id, "the made-up id recorded is not the one the answer names")
        }
        #expect(recorded[1] != recorded[2])
        #expect(recorded[3] == "req-first")
    }

    @Test func batchesFollowTheirSemantics() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            let items = """
                "subject": {"type": "user", "id": "ann"}, "action": {"name": "assume"},
                "evaluations": [
                  {"resource": {"type": "role", "id": "db-read"}},
                  {"resource": {"type": "role", "id": "dba-prod"}},
                  {"resource": {"type": "role", "id": "db-read"}}
                ]
                """
            for (semantic, expected) in [
                ("execute_all", [true, false, true]), ("deny_on_first_deny", [true, false]),
                ("permit_on_first_permit", [true]),
            ] {
                let response = try await client.execute(
                    uri: "/access/v1/evaluations",
                    method: .post,
                    headers: Harness.headers("gateway"),
                    body: body("{\(items), \"options\": {\"evaluations_semantic\": \"\(semantic)\"}}")
                )
                #expect(response.status == .ok)
                let evaluations = try #require(try object(response)["evaluations"] as? [[String: Any]])
                #expect(evaluations.map { $0["decision"] as? Bool } == expected, "\(semantic)")
            }
        }
        #expect(try await harness.auditRecords(type: "access.decision").count == 6)
    }

    /// AuthZEN §7.1: without `evaluations`, or with an empty array, the batch endpoint evaluates the
    /// top-level 4-tuple and answers as the single evaluation API does (a client that reads the
    /// top-level `decision` finds it).
    @Test func aBatchWithoutItemsIsAnsweredAsASingleEvaluation() async throws {
        let harness = try await self.harness()
        try await harness.run { client in
            for (items, role, allowed) in [("", "db-read", true), (#", "evaluations": []"#, "dba-prod", false)] {
                let response = try await client.execute(
                    uri: "/access/v1/evaluations",
                    method: .post,
                    headers: Harness.headers("gateway"),
                    body: body(
                        #"{"subject": {"type": "user", "id": "ann"}, "action": {"name": "assume"}, "#
                            + #""resource": {"type": "role", "id": "\#(role)"}\#(items)}"#
                    )
                )
                #expect(response.status == .ok)
                let json = try object(response)
                #expect(json["decision"] as? Bool == allowed, "\(role)")
                #expect(json["evaluations"] == nil, "\(json)")
                #expect((json["context"] as? [String: Any])?["reason"] is String, "\(json)")
            }
        }
        #expect(try await harness.auditRecords(type: "access.decision").map(\.event.outcome) == ["permit", "deny"])
    }

    @Test(arguments: [true, false]) func errorsAreProblemDetails(fastPath: Bool) async throws {
        let harness = try await Harness(
            mappings: Self.mappings,
            state: Self.state,
            settings: ServerSettings(port: 0, maxBodyBytes: 2_048),
            now: { Self.now }
        )
        try await harness.run(fastPath: fastPath) { client in
            func problem(
                _ uri: String,
                _ headers: HTTPFields,
                _ body: String,
                _ status: HTTPResponse.Status
            ) async throws -> [String: Any] {
                let response = try await client.execute(
                    uri: uri,
                    method: .post,
                    headers: headers,
                    body: ByteBuffer(string: body)
                )
                #expect(response.status == status, "\(uri) \(body.prefix(60))")
                #expect(response.headers[.contentType] == "application/problem+json")
                return try object(response)
            }
            let valid = Self.evaluation("ann", "role", "db-read", "assume")
            // No token, a wrong token, a token without the scope.
            let none = try await problem("/access/v1/evaluation", Harness.headers(nil), valid, .unauthorized)
            #expect(none["type"] as? String == "https://tenure.dev/problems/unauthorized")
            #expect(none["status"] as? Int == 401)
            var wrong = Harness.headers(nil)
            wrong[.authorization] = "Bearer not-a-token"
            _ = try await problem("/access/v1/evaluation", wrong, valid, .unauthorized)
            var basic = Harness.headers(nil)
            basic[.authorization] = "Basic Zm9vOmJhcg=="
            _ = try await problem("/access/v1/evaluation", basic, valid, .unauthorized)
            var empty = Harness.headers(nil)
            empty[.authorization] = "Bearer \t  "
            _ = try await problem("/access/v1/evaluation", empty, valid, .unauthorized)
            var glued = Harness.headers(nil)
            glued[.authorization] = "Bearer" + Harness.token("gateway")
            _ = try await problem("/access/v1/evaluation", glued, valid, .unauthorized)
            let scope = try await problem("/access/v1/evaluation", Harness.headers("hr"), valid, .forbidden)
            #expect(scope["requiredScope"] as? String == "check")
            // A bad field, named by its JSON path.
            let bad = try await problem(
                "/access/v1/evaluation",
                Harness.headers("gateway"),
                #"{"subject": {"type": "user", "id": 42}, "resource": {"type": "role", "id": "x"}, "action": {"name": "assume"}}"#,
                .badRequest
            )
            #expect(bad["jsonPath"] as? String == "subject.id")
            let batch = try await problem(
                "/access/v1/evaluations",
                Harness.headers("gateway"),
                #"{"evaluations": [{"subject": {"type": "user", "id": "a"}, "resource": {"type": "role", "id": "r"}, "action": {"name": "assume"}}, {"subject": {"type": "user"}}]}"#,
                .badRequest
            )
            #expect((batch["jsonPath"] as? String)?.hasPrefix("evaluations[1]") == true, "\(batch)")
            _ = try await problem("/access/v1/evaluation", Harness.headers("gateway"), "{not json", .badRequest)
            // Too large.
            let large = try await problem(
                "/access/v1/evaluation",
                Harness.headers("gateway"),
                String(repeating: " ", count: 4_096) + valid,
                .contentTooLarge
            )
            #expect(large["limit"] as? String == "2048")
        }
        // Nothing was decided, so nothing was audited.
        #expect(try await harness.auditRecords(type: "access.decision").isEmpty)
    }

    @Test(arguments: [true, false]) func aNULIsABadRequestAndDoesNotFailOthersDecisions(fastPath: Bool) async throws {
        let harness = try await self.harness()
        try await harness.run(fastPath: fastPath) { client in
            try await withThrowingTaskGroup(of: (Bool, HTTPResponse.Status).self) { group in
                for index in 0..<40 {
                    let bad = index % 4 == 0
                    group.addTask {
                        let subject = bad ? "a\\u0000b" : "ann"
                        let response = try await client.execute(
                            uri: "/access/v1/evaluation",
                            method: .post,
                            headers: Harness.headers("gateway"),
                            body: body(Self.evaluation(subject, "role", "db-read", "assume"))
                        )
                        return (bad, response.status)
                    }
                }
                for try await (bad, status) in group {
                    #expect(status == (bad ? .badRequest : .ok))
                }
            }
            let response = try await client.execute(
                uri: "/access/v1/evaluation",
                method: .post,
                headers: Harness.headers("gateway"),
                body: body(Self.evaluation("ann", "role", "db\\u0000read", "assume"))
            )
            #expect(try object(response)["jsonPath"] as? String == "resource.id")
        }
        #expect(try await harness.auditRecords(type: "access.decision").count == 30)
    }

    /// A subject given twice could be read as either one (gateways keep the last, Foundation the
    /// first): 400 naming it, nothing decided or audited — and so for any key given twice, one the
    /// decision does not read included, as the README says.
    @Test(arguments: [true, false]) func aKeyGivenTwiceIsABadRequest(fastPath: Bool) async throws {
        let harness = try await self.harness()
        try await harness.run(fastPath: fastPath) { client in
            let bodies = [
                (
                    #"{"subject":{"type":"user","id":"nobody","id":"ann"},"resource":{"type":"role","id":"db-read"},"action":{"name":"assume"}}"#,
                    "subject.id"
                ),
                (
                    #"{"subject":{"type":"user","id":"ann","x":1,"x":2},"resource":{"type":"role","id":"db-read"},"action":{"name":"assume"}}"#,
                    "subject.x"
                ),
                (
                    #"{"subject":{"type":"user","id":"ann"},"resource":{"type":"role","id":"db-read"},"action":{"name":"assume"},"note":"a","note":"b"}"#,
                    "note"
                ),
            ]
            for (text, path) in bodies {
                let response = try await client.execute(
                    uri: "/access/v1/evaluation",
                    method: .post,
                    headers: Harness.headers("gateway"),
                    body: body(text)
                )
                #expect(response.status == .badRequest, "\(text)")
                #expect(try object(response)["jsonPath"] as? String == path)
            }
        }
        #expect(try await harness.auditRecords(type: "access.decision").isEmpty)
    }

    /// The scheme is case-insensitive and blanks around the token do not matter (RFC 9110 §11).
    @Test(arguments: [true, false]) func theBearerSchemeIsCaseInsensitiveAndBlanksAroundTheTokenAreIgnored(
        fastPath: Bool
    ) async throws {
        let harness = try await self.harness()
        try await harness.run(fastPath: fastPath) { client in
            var loose = Harness.headers(nil)
            loose[.authorization] = "bEARER \t" + Harness.token("gateway") + " \t"
            let response = try await client.execute(
                uri: "/access/v1/evaluation",
                method: .post,
                headers: loose,
                body: ByteBuffer(string: Self.evaluation("ann", "role", "db-read", "assume"))
            )
            #expect(response.status == .ok)
        }
        #expect(try await harness.auditRecords(type: "access.decision").count == 1)
    }

    @Test(arguments: [true, false]) func anAuditThatCannotBeWrittenFailsClosed(fastPath: Bool) async throws {
        let harness = try await self.harness()
        // Make every audit insert fail (a trigger, written behind the store's back).
        let queue = try DatabaseQueue(path: harness.directory + "/t.sqlite")
        try await queue.write { db in
            try db.execute(
                sql: "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        }
        try await harness.run(fastPath: fastPath) { client in
            let response = try await client.execute(
                uri: "/access/v1/evaluation",
                method: .post,
                headers: Harness.headers("gateway"),
                body: body(Self.evaluation("ann", "role", "db-read", "assume"))
            )
            #expect(response.status == .serviceUnavailable)
            let json = try object(response)
            #expect(json["type"] as? String == "https://tenure.dev/problems/audit-unavailable")
            #expect(json["decision"] == nil, "no decision goes out unaudited")
            // The store itself still takes writes (the trigger refuses audit records only):
            // readiness stays, each decision is refused on its own.
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
        }
    }

    /// The discovery document names the server as `http://` and the request's Host unless
    /// `server.publicURL` says how clients reach it (AuthZEN: `policy_decision_point` must be
    /// identical to the address the client asked, https behind a proxy).
    @Test func theDiscoveryDocumentNamesThePublicURL() async throws {
        for publicURL in [nil, "https://pam.example.com/tenure"] {
            var settings = ServerSettings(port: 0)
            settings.publicURL = publicURL
            let harness = try await Harness(mappings: Self.mappings, state: Self.state, settings: settings)
            try await harness.run { client in
                let response = try await client.execute(uri: "/.well-known/authzen-configuration", method: .get)
                let document = try object(response)
                let base = try #require(document["policy_decision_point"] as? String)
                if let publicURL {
                    #expect(base == publicURL)
                } else {
                    #expect(base.hasPrefix("http://") && !base.dropFirst(7).contains("/"), "\(base)")
                }
                #expect(document["access_evaluation_endpoint"] as? String == base + "/access/v1/evaluation")
                #expect(document["access_evaluations_endpoint"] as? String == base + "/access/v1/evaluations")
            }
        }
    }

    @Test(arguments: [true, false]) func operationsEndpoints(fastPath: Bool) async throws {
        let harness = try await self.harness()
        try await harness.run(fastPath: fastPath) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(health.headers[.requestID]?.isEmpty == false)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            let config = try await client.execute(uri: "/.well-known/authzen-configuration", method: .get)
            let document = try object(config)
            #expect((document["access_evaluation_endpoint"] as? String)?.hasSuffix("/access/v1/evaluation") == true)
            #expect((document["access_evaluations_endpoint"] as? String)?.hasSuffix("/access/v1/evaluations") == true)
            _ = try await client.execute(
                uri: "/access/v1/evaluation",
                method: .post,
                headers: Harness.headers("gateway"),
                body: body(Self.evaluation("ann", "role", "db-read", "assume"))
            )
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            #expect(
                try await client.execute(uri: "/metrics", method: .get, headers: Harness.headers("gateway")).status
                    == .forbidden
            )
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: Harness.headers("ops"))
            let text = String(buffer: metrics.body)
            #expect(text.contains(#"tenure_decisions_total{outcome="permit"} 1"#), "\(text)")
            #expect(text.contains("tenure_audit_last_sequence"))
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var fields = self
        for field in other { fields[field.name] = field.value }
        return fields
    }
}
