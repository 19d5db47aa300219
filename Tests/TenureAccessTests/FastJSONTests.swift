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
        // And the fast reader really took it (no fallback).
        let streamed = Array(body.utf8).withUnsafeBytes { FastJSON.evaluationRequest($0) }
        #expect(streamed == slow)
        let parsed = Array(body.utf8).withUnsafeBytes { FastJSON.parse($0) }
        guard case .object(let object)? = parsed else {
            Issue.record("not parsed on the fast path")
            return
        }
        #expect(EvaluationRequest(object) == slow)
    }

    /// The streaming reader against the reference it replaced (`parse`, then `EvaluationRequest(_:)`)
    /// on bodies that differ from valid ones in the ways a client can get one wrong: wherever the
    /// reference reads a request the streaming reader must read the same one, and wherever the
    /// reference falls back to the decoder so must it (also for a key given twice, which both leave
    /// to the decoder to refuse).
    @Test func streamingReaderAgreesWithTheParsedObject() {
        let variants = Self.structuralVariants() + Self.byteMutations(count: 4000)
        var read = 0
        for body in variants {
            let bytes = Array(body.utf8)
            let streamed = bytes.withUnsafeBytes { FastJSON.evaluationRequest($0) }
            let reference: EvaluationRequest? = bytes.withUnsafeBytes { raw in
                guard case .object(let object)? = FastJSON.parse(raw) else { return nil }
                return EvaluationRequest(object)
            }
            if streamed != nil { read += 1 }
            if streamed != reference {
                Issue.record(
                    "streaming \(String(describing: streamed)) vs reference \(String(describing: reference)): \(body)"
                )
            }
        }
        // The variants exercise both outcomes (a generator that only broke bodies would prove little).
        #expect(read > 20)
        #expect(read < variants.count - 100)
    }

    /// Parsers disagree on which of two values for one key counts (Foundation's decoder the first,
    /// the fast path used to take the last, most gateways the last): a body that repeats a key, at
    /// any depth, is refused, naming the key, on every way in.
    @Test func aKeyGivenTwiceIsRefusedWithItsPath() {
        let evaluation =
            #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#
        let single: [(body: String, path: String)] = [
            (
                #"{"subject":{"type":"user","id":"a"},"subject":{"type":"user","id":"b"},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                "subject"
            ),
            (
                #"{"subject":{"type":"user","id":"alice","id":"admin"},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                "subject.id"
            ),
            (
                #"{"subject":{"type":"user","id":"a","properties":{"x":1,"y":{"z":1,"z":2}}},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                "subject.properties.y.z"
            ),
            (
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"assume"},"context":{},"context":null}"#,
                "context"
            ),
            (
                #"{"x-y":[{"a b":1,"a b":2}],"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                #"["x-y"][0]["a b"]"#
            ),
            (
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r","id":"r"},"action":{"name":"assume"}}"#,
                "resource.id"
            ),
        ]
        for (body, path) in single {
            #expect(Array(body.utf8).withUnsafeBytes { FastJSON.evaluationRequest($0) } == nil, "\(body)")
            #expect(Array(body.utf8).withUnsafeBytes { FastJSON.parse($0) } == nil, "\(body)")
            let error = #expect(throws: AccessRequestError.self) { try AuthZEN.decodeEvaluationFast(Array(body.utf8)) }
            #expect(error?.kind == .invalidValue)
            #expect(error?.path == path, "\(body)")
        }
        let batch =
            #"{"subject":{"type":"user","id":"a"},"evaluations":[{"action":{"name":"assume"}},{"resource":{"type":"role","id":"r"},"resource":{"type":"role","id":"s"}}]}"#
        let error = #expect(throws: AccessRequestError.self) { try AuthZEN.decodeEvaluations(Data(batch.utf8)) }
        #expect(error?.path == "evaluations[1].resource")
        // Not a repeat: the same key in different objects, and a body without any.
        let distinct =
            #"{"subject":{"type":"user","id":"a","properties":{"id":"b"}},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#
        #expect(Array(distinct.utf8).withUnsafeBytes { FastJSON.duplicateKeyPath(in: $0) } == nil)
        #expect((try? AuthZEN.decodeEvaluationFast(Array(distinct.utf8)))?.subject.id == "a")
        #expect(Array(evaluation.utf8).withUnsafeBytes { FastJSON.duplicateKeyPath(in: $0) } == nil)
        // Not JSON at all: left to the decoder, which says so.
        #expect(Array(#"{"a":1,"a""#.utf8).withUnsafeBytes { FastJSON.duplicateKeyPath(in: $0) } == nil)
    }

    /// Valid bodies with one field missing, mistyped, null, nested, escaped or reordered.
    static func structuralVariants() -> [String] {
        let values = [
            #""user""#, #""us\u0065r""#, "42", "null", "true", "[]", "{}", #"{"a":[1,{"b":null}]}"#, #""""#, "-0.5e3",
        ]
        var bodies: [String] = []
        for value in values {
            bodies += [
                #"{"subject":{"type":\#(value),"id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                #"{"subject":{"type":"user","id":\#(value)},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                #"{"subject":{"type":"user","id":"a","properties":\#(value)},"resource":{"type":"role","id":"r"},"action":{"name":"assume"}}"#,
                #"{"subject":{"type":"user","id":"a"},"resource":\#(value),"action":{"name":"assume"}}"#,
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":\#(value)}}"#,
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"x","type":\#(value)}}"#,
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"x","properties":\#(value)}}"#,
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"x"},"context":\#(value)}"#,
                #"{"extra":\#(value),"action":{"name":"x"},"resource":{"id":"r","type":"role"},"subject":{"id":"a","type":"user","more":\#(value)}}"#,
                #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"}}"#,
                #" \#n{ "\u0073ubject" : {"type":"user","id":"a"} , "resource":{"type":"role","id":"r"},"action":{"name":"x"} } \#t"#,
            ]
        }
        // A key given twice: a known one, or one that is only skipped, at each level.
        bodies += [
            #"{"subject":{"type":"user","id":"a","id":"b"},"resource":{"type":"role","id":"r"},"action":{"name":"x"}}"#,
            #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"x"},"x":1,"x":2}"#,
            #"{"subject":{"type":"user","id":"a","x":1,"x":2},"resource":{"type":"role","id":"r"},"action":{"name":"x"}}"#,
            #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"x","type":1,"type":2}}"#,
            #"{"subject":{"type":"user","id":"a"},"resource":{"type":"role","id":"r"},"action":{"name":"x"},"context":{"c":1,"c":2}}"#,
        ]
        return bodies
    }

    /// Valid bodies with a few bytes deleted, inserted or replaced (a fixed seed: the same bodies
    /// every run).
    static func byteMutations(count: Int) -> [String] {
        var generator = SplitMix(seed: 0x7E11_5EED)
        let alphabet = Array(#"{}[]":,\ u0123456789abcdefnulltrue-.eE"#.utf8) + [0x00, 0x09, 0xC3, 0xA9]
        var bodies: [String] = []
        for index in 0..<count {
            var bytes = Array(Self.bodies[index % Self.bodies.count].utf8)
            for _ in 0...(generator.next() % 3) {
                let position = Int(generator.next() % UInt64(bytes.count))
                let byte = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                switch generator.next() % 3 {
                case 0: bytes.remove(at: position)
                case 1: bytes.insert(byte, at: position)
                default: bytes[position] = byte
                }
            }
            bodies.append(String(decoding: bytes, as: UTF8.self))
        }
        return bodies
    }

    /// SplitMix64: a small seeded generator.
    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { self.state = seed }
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
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

    /// A decision is written straight from its parts, byte for byte as Foundation's encoder writes
    /// its response (keys sorted, `/` not escaped), alone and in a batch.
    @Test func aDecisionIsWrittenAsTheEncoderWritesItsResponse() {
        let details: [JSONObject] = [
            [:],
            ["role": "dba"],
            [
                "role": "dba", "until": 1_767_225_600,
                "activation": ["requirements": ["mfa"], "maxActivationSeconds": 3600],
            ],
            ["credential": "db-root", "roles": ["a", "b"], "eligibleRoles": [], "requiresMFA": false],
            ["ratio": .number(0.25), "none": .null, "flag": true, "neg": -7, "path": "a/b"],
            // Keys a decision sets itself, and keys sorting around them.
            ["reason": "spoofed", "reason_admin": "spoofed", "reasonable": 1, "reaso": .null, "Zed": "\"\n/é"],
        ]
        var decisions: [Decision] = []
        for (index, reason) in ReasonCode.allCases.enumerated() {
            let decision = Decision(
                allowed: index % 2 == 0,
                reason: reason,
                reasonAdmin: "holds \"dba\" — until\t\u{1} / now\n",
                details: details[index % details.count]
            )
            decisions.append(decision)
            #expect(
                String(decoding: AuthZEN.encodeFast(decision), as: UTF8.self)
                    == String(decoding: AuthZEN.encode(decision.response), as: UTF8.self)
            )
        }
        for batch in [[], Array(decisions.prefix(1)), decisions] {
            #expect(
                String(decoding: AuthZEN.encodeFast(batch), as: UTF8.self)
                    == String(
                        decoding: AuthZEN.encode(EvaluationsResponse(evaluations: batch.map(\.response))),
                        as: UTF8.self
                    )
            )
        }
    }
}

// The reader `FastJSON.evaluationRequest` replaced, kept as its reference: the whole document parsed
// into values, then the request picked out of them.

extension FastJSON {
    /// The value of a whole document, or nil when it is not valid JSON, nests too deep or gives a
    /// key twice in one object.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> JSONValue? {
        var reader = Reader(bytes: bytes)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        // (Not a ternary: `nil` there would become JSONValue.null through ExpressibleByNilLiteral.)
        guard reader.position == bytes.count else { return nil }
        return value
    }
}

extension EvaluationRequest {
    /// A request from a parsed object, or nil when any field is missing or of the wrong type (the
    /// decoder then reports which).
    init?(_ object: [String: JSONValue]) {
        guard case .object(let subject)? = object["subject"], case .object(let resource)? = object["resource"],
            case .object(let action)? = object["action"],
            case .string(let subjectType)? = subject["type"], case .string(let subjectID)? = subject["id"],
            case .string(let resourceType)? = resource["type"], case .string(let resourceID)? = resource["id"],
            case .string(let name)? = action["name"]
        else { return nil }
        func properties(_ value: JSONValue?) -> JSONObject?? {
            switch value {
            case nil, .null?: return .some(nil)
            case .object(let object)?: return .some(object)
            default: return nil
            }
        }
        guard let subjectProperties = properties(subject["properties"]),
            let resourceProperties = properties(resource["properties"]),
            let actionProperties = properties(action["properties"]),
            let context = properties(object["context"])
        else { return nil }
        self.init(
            subject: Subject(type: subjectType, id: subjectID, properties: subjectProperties),
            resource: Resource(type: resourceType, id: resourceID, properties: resourceProperties),
            action: Action(name: name, properties: actionProperties),
            context: context
        )
    }
}
