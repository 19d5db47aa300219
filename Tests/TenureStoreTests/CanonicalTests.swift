import Foundation
import TenureCore
import TenureCrypto
import Testing

@testable import TenureStore

@Suite("Canonical bytes and flat JSON")
struct CanonicalTests {
    static let events: [AuditEvent] = [
        AuditEvent(time: 0, actor: "", type: ""),
        AuditEvent(time: -1.5, actor: "a", type: "b", subject: "", object: "", outcome: "", details: ["": ""]),
        AuditEvent(time: .greatestFiniteMagnitude, actor: "sync", type: "role.granted", subject: "s", object: "o"),
        AuditEvent(
            time: 1_764_230_000.987_654,
            actor: "cli:zoë",
            type: "role.revoked",
            subject: "ユーザー",
            details: [
                "b": "2", "a": "1", "B": "upper", "é": "precomposed", "e\u{301}x": "decomposed key",
                "quote\"": "back\\slash\n\t\u{0}\u{1f}", "🧑‍💻": "emoji", "z/": "</script>",
            ]
        ),
    ]

    @Test(arguments: CanonicalTests.events)
    func writerMatchesAuditRecordCanonicalBytes(_ event: AuditEvent) throws {
        for (sequence, previous) in [(Int64(1), zeroHash), (Int64(9_223_372_036_854_775_807), "ab"), (-3, "")] {
            var writer = CanonicalWriter()
            var details: [UInt8] = []
            writer.write(sequence: sequence, event: event, previousHash: previous, detailsJSON: &details)
            let expected = AuditRecord.canonicalBytes(sequence: sequence, event: event, previousHash: previous)
            #expect(writer.bytes == expected)

            // The verifier's path: the same bytes rebuilt from the stored columns' raw bytes.
            var rebuilt = CanonicalWriter()
            rebuilt.decimalField(sequence)
            rebuilt.hexField(event.time.bitPattern)
            for text in [event.actor, event.type, event.subject, event.object, event.outcome] {
                rebuilt.field(text)
            }
            let ok = details.withUnsafeBytes { rebuilt.detailsFields(json: $0) }
            #expect(ok)
            rebuilt.field(previous)
            #expect(rebuilt.bytes == expected)

            // And the details JSON is ordinary JSON of the same dictionary.
            let decoded = try JSONSerialization.jsonObject(with: Data(details)) as? [String: String]
            #expect(decoded == event.details)
        }
    }

    @Test func detailsFromForeignButEquivalentJSONParse() {
        // Whitespace, escaped slashes and \u escapes (as JSONSerialization writes) read the same pairs.
        let foreign = #" { "a" : "x\/y" , "b":"\u00e9\ud83e\udd13\n" } "#
        #expect(FlatJSON.decodeObject(foreign) == ["a": "x/y", "b": "é🤓\n"])
        var writer = CanonicalWriter()
        let ok = Array(foreign.utf8).withUnsafeBytes { writer.detailsFields(json: $0) }
        #expect(ok)
        var expected = CanonicalWriter()
        expected.decimalField(2)
        for text in ["a", "x/y", "b", "é🤓\n"] { expected.field(text) }
        #expect(writer.bytes == expected.bytes)
    }

    @Test(arguments: [
        "", "{", "}", "[]", "{\"a\"}", "{\"a\":}", "{\"a\":1}", "{\"a\":\"b\",}", "{\"a\":\"b\"} x",
        "{\"a\":\"b\"\"c\":\"d\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\ud83e\"}", "{\"a\":\"\\udd13\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}",
        "{\"a\":null}", "{'a':'b'}",
    ])
    func malformedDetailsAreRejected(_ json: String) {
        #expect(FlatJSON.decodeObject(json) == nil)
        var writer = CanonicalWriter()
        let ok = Array(json.utf8).withUnsafeBytes { writer.detailsFields(json: $0) }
        #expect(!ok)
    }

    @Test func flatJSONRoundTrips() throws {
        let object = CanonicalTests.events[3].details
        let text = FlatJSON.object(object)
        #expect(FlatJSON.decodeObject(text) == object)
        #expect(FlatJSON.object([:]) == "{}")
        #expect(FlatJSON.decodeObject("{}") == [:])
        // Keys in Swift String order, only the necessary escapes.
        #expect(FlatJSON.object(["b": "1", "a": "x\"y\\z/\u{1}"]) == #"{"a":"x\"y\\z/\u0001","b":"1"}"#)

        let array = ["cn=a,dc=x", "", "quote\"", "ünïcode", "line\nbreak"]
        #expect(FlatJSON.decodeArray(FlatJSON.array(array)) == array)
        #expect(FlatJSON.array([]) == "[]")
        #expect(FlatJSON.decodeArray(" [ ] ") == [])
        #expect(FlatJSON.decodeArray("[\"a\",1]") == nil)
        let parsed = try JSONSerialization.jsonObject(with: Data(FlatJSON.array(array).utf8)) as? [String]
        #expect(parsed == array)
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_764_231_683.456_9, "2025-11-27T08:21:23.456Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500Z"),
        (-0.001, "1969-12-31T23:59:59.999Z"),
        (253_402_300_799.999, "9999-12-31T23:59:59.999Z"),
    ])
    func iso8601IsUTCWithMilliseconds(_ time: Double, _ expected: String) {
        #expect(AuditExport.iso8601(time) == expected)
    }

    @Test func iso8601AgreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let time = Double(Int64.random(in: 0..<4_102_444_800_000, using: &generator)) / 1_000
            let text = AuditExport.iso8601(time)
            let parsed = formatter.date(from: text)
            #expect(parsed.map { abs($0.timeIntervalSince1970 - time) < 0.001 } == true, "\(time) → \(text)")
        }
    }
}
