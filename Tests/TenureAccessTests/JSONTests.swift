import Foundation
import TenureCore
import Testing

@testable import TenureAccess

/// Bodies from the AuthZEN Authorization API 1.0 examples, decoded, re-encoded and compared as
/// JSON; decode errors name the JSON path of the bad field.
@Suite struct JSONTests {
    static func json(_ text: String) -> JSONValue {
        try! JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static func roundTrips<T: Codable & Equatable>(_ type: T.Type, _ text: String) throws -> T {
        let value = try AuthZEN.decode(type, from: Data(text.utf8))
        let encoded = AuthZEN.encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoded) == json(text))
        #expect(try AuthZEN.decode(type, from: encoded) == value)
        return value
    }

    /// Access Evaluation request (§6.1 example).
    @Test func singleRequest() throws {
        let request = try Self.roundTrips(
            EvaluationRequest.self,
            #"""
            {
              "subject": { "type": "user", "id": "alice@acmecorp.com" },
              "resource": { "type": "account", "id": "123" },
              "action": { "name": "can_read", "properties": { "method": "GET" } },
              "context": { "time": "1985-10-26T01:22-07:00" }
            }
            """#
        )
        #expect(request.subject == Subject(type: "user", id: "alice@acmecorp.com"))
        #expect(request.resource == Resource(type: "account", id: "123"))
        #expect(request.action.properties == ["method": "GET"])
        #expect(request.context == ["time": "1985-10-26T01:22-07:00"])
        #expect(try AuthZEN.decodeEvaluation(AuthZEN.encode(request)) == request)
    }

    /// Subject and resource properties (§5.1, §5.2 examples): any JSON.
    @Test func properties() throws {
        let subject = try Self.roundTrips(
            Subject.self,
            #"""
            { "type": "user", "id": "alice@acmecorp.com",
              "properties": { "department": "Sales", "ip_address": "172.217.22.14", "device_id": "8:65:ee:17:7e:0b" } }
            """#
        )
        #expect(subject.properties?["department"] == "Sales")
        let resource = try Self.roundTrips(
            Resource.self,
            #"""
            { "type": "book", "id": "123",
              "properties": { "library_record": { "title": "AuthZEN in Action", "isbn": "978-0593383322" },
                              "copies": 3, "rating": 4.5, "lent": false, "tags": ["a", 1, null] } }
            """#
        )
        #expect(resource.properties?["library_record"]?.member("isbn") == "978-0593383322")
        #expect(resource.properties?["copies"] == .integer(3))
        #expect(resource.properties?["rating"] == .number(4.5))
        #expect(resource.properties?["lent"] == false)
        #expect(resource.properties?["tags"] == ["a", 1, nil])
    }

    /// Access Evaluations request with defaults and an overridden action (§7.1.1 example).
    @Test func batchWithDefaults() throws {
        let request = try Self.roundTrips(
            EvaluationsRequest.self,
            #"""
            {
              "subject": { "type": "user", "id": "alice@acmecorp.com" },
              "context": { "time": "2024-05-31T15:22-07:00" },
              "action": { "name": "can_read" },
              "evaluations": [
                { "resource": { "type": "document", "id": "boxcarring.md" } },
                { "resource": { "type": "document", "id": "subject-search.md" } },
                { "action": { "name": "can_edit" }, "resource": { "type": "document", "id": "resource-search.md" } }
              ]
            }
            """#
        )
        let resolved = try request.resolved()
        #expect(resolved.map(\.action.name) == ["can_read", "can_read", "can_edit"])
        #expect(resolved.allSatisfy { $0.context == ["time": "2024-05-31T15:22-07:00"] })
        #expect(request.semantic == .executeAll)
    }

    /// The three semantics examples (§7.1.2.1) and their responses.
    @Test(arguments: EvaluationsSemantic.allCases)
    func batchSemantics(_ semantic: EvaluationsSemantic) throws {
        let request = try AuthZEN.decodeEvaluations(
            Data(
                #"""
                {
                  "subject": { "type": "user", "id": "alice@example.com" },
                  "action": { "name": "read" },
                  "options": { "evaluations_semantic": "\#(semantic.rawValue)" },
                  "evaluations": [
                    { "resource": { "type": "document", "id": "1" } },
                    { "resource": { "type": "document", "id": "2" } },
                    { "resource": { "type": "document", "id": "3" } }
                  ]
                }
                """#.utf8
            )
        )
        #expect(request.semantic == semantic)
        #expect(try request.resolved().count == 3)
        #expect(
            AuthZEN.encode(request.options).elementsEqual(
                Data(#"{"evaluations_semantic":"\#(semantic.rawValue)"}"#.utf8)
            )
        )
    }

    /// Unknown option keys are the caller's business (§7.1.2): ignored, the default semantic applies.
    @Test func unknownOptionsAreIgnored() throws {
        let request = try AuthZEN.decodeEvaluations(
            Data(
                #"""
                { "evaluations": [{ "resource": { "type": "doc", "id": "1" }, "subject": { "type": "doc", "id": "2" },
                    "action": { "name": "read" } }],
                  "options": { "evaluation_semantics": "execute_all", "another_option": "value" } }
                """#.utf8
            )
        )
        #expect(request.semantic == .executeAll)
    }

    /// Access Evaluations responses (§7.2 examples), including a context carrying an error.
    @Test func batchResponse() throws {
        let response = try Self.roundTrips(
            EvaluationsResponse.self,
            #"""
            {
              "evaluations": [
                { "decision": true },
                { "decision": false, "context": { "error": { "status": 404, "message": "Resource not found" } } },
                { "decision": false, "context": { "reason": "Subject is a viewer of the resource" } }
              ]
            }
            """#
        )
        #expect(response.evaluations.map(\.decision) == [true, false, false])
        #expect(response.evaluations[1].context?["error"]?.member("status") == 404)
        _ = try Self.roundTrips(
            EvaluationResponse.self,
            #"""
            { "decision": false,
              "context": { "id": "0", "reason_admin": { "en": "Request failed policy C076E82F" },
                "reason_user": { "en-403": "Insufficient privileges. Contact your administrator",
                                 "es-403": "Privilegios insuficientes. Póngase en contacto con su administrador" } } }
            """#
        )
    }

    /// What the server sends for a decision, byte for byte (keys sorted).
    @Test func decisionBody() {
        let deny = World.model.evaluate(World.assume("alice", "dba-prod"), now: World.now)
        let body = String(decoding: AuthZEN.encode(deny.response), as: UTF8.self)
        #expect(
            body
                == #"{"context":{"activation":{"maxActivationSeconds":3600,"requirements":["justification","mfa"]},"#
                + #""reason":"eligible_not_active","reason_admin":{"en":"eligible for \"dba-prod\" but not activated"},"#
                + #""role":"dba-prod"},"decision":false}"#
        )
        let permit = World.model.evaluate(World.checkout("bob", "pg-prod-admin"), now: World.now)
        let batch = EvaluationsResponse(evaluations: [permit.response])
        #expect(
            String(decoding: AuthZEN.encode(batch), as: UTF8.self)
                == #"{"evaluations":[{"context":{"credential":"pg-prod-admin","reason":"role_unlocks","#
                + #""reason_admin":{"en":"\"dba-prod\", held active, unlocks \"pg-prod-admin\""},"#
                + #""requiresMFA":true,"role":"dba-prod","until":1800000600},"decision":true}]}"#
        )
    }

    @Test func jsonValues() throws {
        let text = #"{"a":null,"b":true,"c":-12,"d":0.25,"e":"x","f":[1,[2]],"g":{"h":{}}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value.member("a") == .null)
        #expect(value.member("b") == .bool(true))
        #expect(value.member("c") == .integer(-12))
        #expect(value.member("d") == .number(0.25))
        #expect(value.member("f") == [1, [2]])
        #expect(value.member("g")?.member("h") == .object([:]))
        #expect(try JSONDecoder().decode(JSONValue.self, from: AuthZEN.encode(value)) == value)
        #expect(JSONValue.number(2).intValue == 2)
        #expect(JSONValue.number(2.5).intValue == nil)
    }

    // MARK: - Errors

    struct Bad: Sendable, CustomTestStringConvertible {
        var batch: Bool
        var body: String
        var kind: AccessRequestError.Kind
        var path: String
        var message: String? = nil
        var testDescription: String { "\(self.path.isEmpty ? "(body)" : self.path): \(self.kind.rawValue)" }
    }

    static let subject = #""subject":{"type":"user","id":"alice"}"#
    static let resource = #""resource":{"type":"role","id":"db-read"}"#
    static let action = #""action":{"name":"assume"}"#

    static let bad: [Bad] = [
        Bad(batch: false, body: "{", kind: .malformedJSON, path: ""),
        Bad(batch: false, body: "", kind: .malformedJSON, path: ""),
        Bad(batch: true, body: "not json", kind: .malformedJSON, path: ""),
        Bad(batch: false, body: "[]", kind: .wrongType, path: "", message: "expected an object"),
        Bad(batch: false, body: "{\(resource),\(action)}", kind: .missing, path: "subject"),
        Bad(
            batch: false,
            body: #"{"subject":{"type":"user"},\#(resource),\#(action)}"#,
            kind: .missing,
            path: "subject.id",
            message: "required field is missing"
        ),
        Bad(
            batch: false,
            body: #"{"subject":{"type":"user","id":5},\#(resource),\#(action)}"#,
            kind: .wrongType,
            path: "subject.id",
            message: "expected a string"
        ),
        Bad(
            batch: false,
            body: #"{"subject":null,\#(resource),\#(action)}"#,
            kind: .wrongType,
            path: "subject"
        ),
        Bad(
            batch: false,
            body: #"{"subject":{"type":"user","id":"a","properties":[1]},\#(resource),\#(action)}"#,
            kind: .wrongType,
            path: "subject.properties",
            message: "expected an object"
        ),
        Bad(
            batch: false,
            body: #"{\#(subject),\#(resource),"action":{"name":true}}"#,
            kind: .wrongType,
            path: "action.name"
        ),
        Bad(
            batch: false,
            body: #"{\#(subject),\#(resource),\#(action),"context":"now"}"#,
            kind: .wrongType,
            path: "context"
        ),
        Bad(
            batch: true,
            body: #"""
                {\#(subject),\#(action),"evaluations":[{\#(resource)},{\#(resource)},
                  {"subject":{"type":"user"},\#(resource)}]}
                """#,
            kind: .missing,
            path: "evaluations[2].subject.id"
        ),
        Bad(
            batch: true,
            body: #"{\#(subject),\#(action),"evaluations":[{\#(resource)},{"resource":{"type":7,"id":"x"}}]}"#,
            kind: .wrongType,
            path: "evaluations[1].resource.type"
        ),
        Bad(
            batch: true,
            body: #"{\#(subject),"evaluations":{}}"#,
            kind: .wrongType,
            path: "evaluations",
            message: "expected an array"
        ),
        Bad(
            batch: true,
            body: #"{\#(subject),\#(action),"evaluations":[{\#(resource)},{}]}"#,
            kind: .missing,
            path: "evaluations[1].resource",
            message: "required field is missing (and there is no top-level default)"
        ),
        Bad(
            batch: true,
            body: #"{\#(subject),\#(resource),\#(action),"options":{"evaluations_semantic":"sometimes"}}"#,
            kind: .invalidValue,
            path: "options.evaluations_semantic",
            message: "expected one of execute_all, deny_on_first_deny, permit_on_first_permit"
        ),
        Bad(batch: true, body: #"{\#(subject),\#(resource)}"#, kind: .missing, path: "action"),
    ]

    @Test(arguments: bad)
    func decodeErrorsNameThePath(_ c: Bad) {
        do {
            if c.batch {
                _ = try AuthZEN.decodeEvaluations(Data(c.body.utf8))
            } else {
                _ = try AuthZEN.decodeEvaluation(Data(c.body.utf8))
            }
            Issue.record("decoded")
        } catch {
            #expect(error.kind == c.kind)
            #expect(error.path == c.path)
            if let message = c.message { #expect(error.message == message) }
            #expect(!error.message.isEmpty)
        }
    }

    @Test func pathsQuoteKeysThatAreNotIdentifiers() {
        do {
            _ = try AuthZEN.decode([String: [String: Int]].self, from: Data(#"{"x":{"a.b \"c\"":"s"}}"#.utf8))
            Issue.record("decoded")
        } catch {
            #expect(error.path == #"x["a.b \"c\""]"#)
            #expect(error.description == #"x["a.b \"c\""]: expected a number"#)
        }
    }
}
