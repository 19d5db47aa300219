import Foundation
import TenureCore
import Testing

@testable import TenureAccess

/// The decision hot path reads and writes JSON without Foundation's coders; it must agree with them.
@Suite struct FastJSONTests {
    static let bodies = [
        #"{"subject":{"type":"user","id":"ann"},"resource":{"type":"role","id":"dba"},"action":{"name":"assume"}}"#,
        """
        { "subject" : { "type":"user", "id":"Ann \\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/", "properties": {"n": 1, "f": 1.5, "e": 2e3, "neg": -0.25, "big": 12345678901234567890, "t": true, "z": null, "a": [1, "x", {"k": []}]}},
          "resource": {"type": "credential", "id": "db-root", "properties": null},
          "action": {"name": "checkout"}, "context": {"time": "2026-01-01T00:00:00Z"}, "extra": 1 }
        """,
        #"{"subject":{"type":"user","id":""},"resource":{"type":"role","id":"r"},"action":{"name":"a","properties":{}}}"#,
    ]

    @Test(arguments: bodies)
    func fastDecodingAgreesWithTheDecoder(_ body: String) throws {
        let fast = try AuthZEN.decodeEvaluationFast(Array(body.utf8))
        let slow = try AuthZEN.decodeEvaluation(Data(body.utf8))
        #expect(fast == slow)
        // And the fast parser really took it (no fallback).
        let parsed = Array(body.utf8).withUnsafeBytes { FastJSON.parse($0) }
        guard case .object(let object)? = parsed else {
            Issue.record("not parsed on the fast path")
            return
        }
        #expect(EvaluationRequest(object) == slow)
    }

    @Test(
        arguments: [
            "", "{", #"{"subject": }"#, #"{"a": 01}"#, #"{"a": 1.}"#, #"{"a": "\x"}"#, #"{"a": "\ud800"}"#,
            #"{"a": tru}"#, #"{"a": 1} x"#, "[1, 2,]", #"{"a": "b",}"#,
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ]
    )
    func malformedJSONIsRefused(_ body: String) {
        let parsed: JSONValue?? = Array(body.utf8).withUnsafeBytes { .some(FastJSON.parse($0)) }
        #expect(parsed == .some(.none), "\(body.prefix(40))")
    }

    @Test func badFieldsFallBackToTheDecodersErrors() {
        let body =
            #"{"subject": {"type": "user", "id": 42}, "resource": {"type": "role", "id": "x"}, "action": {"name": "assume"}}"#
        let fast = #expect(throws: AccessRequestError.self) { try AuthZEN.decodeEvaluationFast(Array(body.utf8)) }
        let slow = #expect(throws: AccessRequestError.self) { try AuthZEN.decodeEvaluation(Data(body.utf8)) }
        #expect(fast == slow)
        #expect(fast?.path == "subject.id")
    }

    @Test func fastEncodingAgreesWithTheEncoder() {
        let responses = [
            EvaluationResponse(decision: true),
            EvaluationResponse(
                decision: false,
                context: [
                    "reason": "eligible_not_active", "reason_admin": ["en": "needs \"activation\" / now\n"],
                    "activation": ["maxActivationSeconds": 3600, "requirements": ["approval", "mfa"]],
                    "ratio": .number(0.25), "none": .null, "flag": true, "neg": -7,
                ]
            ),
        ]
        for response in responses {
            #expect(
                String(decoding: AuthZEN.encodeFast(response), as: UTF8.self)
                    == String(decoding: AuthZEN.encode(response), as: UTF8.self)
            )
        }
        let batch = EvaluationsResponse(evaluations: responses)
        #expect(
            String(decoding: AuthZEN.encodeFast(batch), as: UTF8.self)
                == String(decoding: AuthZEN.encode(batch), as: UTF8.self)
        )
    }
}
