import Foundation
import Testing

@testable import TenureCore

/// The one JSON string escaper (snapshot writer, decision fast path, problem details): RFC 8259
/// strings, byte for byte what `JSONEncoder` writes with `.withoutEscapingSlashes`.
@Suite struct JSONStringTests {
    static func written(_ value: String) -> String {
        var out: [UInt8] = []
        JSONString.write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// What `JSONEncoder` (sorted keys, slashes unescaped) writes for `value`.
    static func encoded(_ value: String) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let array = String(decoding: try encoder.encode([value]), as: UTF8.self)
        return String(array.dropFirst().dropLast())  // strip the `[` `]`
    }

    @Test(arguments: UInt8(0x00)...UInt8(0x1F))
    func everyControlCharacterIsEscaped(_ byte: UInt8) throws {
        let short: [UInt8: String] = [0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"]
        let hex = String(byte, radix: 16)
        let expected = short[byte] ?? "\\u00" + String(repeating: "0", count: 2 - hex.count) + hex
        let value = String(Unicode.Scalar(byte))
        #expect(Self.written(value) == "\"\(expected)\"")
        #expect(Self.written(value) == (try Self.encoded(value)))
        // Between other characters too (the unescaped runs around it are kept).
        #expect(Self.written("a\(value)b") == "\"a\(expected)b\"")
    }

    @Test func quoteAndBackslashAreEscapedSlashAndDELAreNot() throws {
        #expect(Self.written("\"") == #""\"""#)
        #expect(Self.written("\\") == #""\\""#)
        #expect(Self.written("/") == #""/""#)
        #expect(Self.written("\u{7F}") == "\"\u{7F}\"")
        #expect(Self.written("") == #""""#)
        #expect(Self.written(#"say "hi" \ a/b"#) == #""say \"hi\" \\ a/b""#)
        for value in ["\"", "\\", "/", "\u{7F}", "", #"say "hi" \ a/b"#] {
            #expect(Self.written(value) == (try Self.encoded(value)))
        }
    }

    @Test func multiByteUTF8IsWrittenUnescaped() throws {
        // 2-, 3- and 4-byte sequences, and U+2028/U+2029 (valid unescaped in JSON).
        let value = "é 日本 🔐 \u{2028}\u{2029} \u{10FFFF}"
        var out: [UInt8] = []
        JSONString.write(value, into: &out)
        #expect(out == [UInt8(ascii: "\"")] + Array(value.utf8) + [UInt8(ascii: "\"")])
        #expect(Self.written(value) == (try Self.encoded(value)))
    }

    @Test func invalidUTF8BecomesReplacementCharacters() throws {
        // A `String` cannot hold invalid UTF-8: decoding repairs it to U+FFFD, so the output is
        // always valid UTF-8 and valid JSON.
        let value = String(decoding: [0x61, 0xFF, 0xC3, 0x62, 0xED, 0xA0, 0x80] as [UInt8], as: UTF8.self)
        var out: [UInt8] = []
        JSONString.write(value, into: &out)
        #expect(String(validating: out, as: UTF8.self) != nil)
        #expect(out.count(where: { $0 == 0xEF }) >= 2)
        let decoded = try JSONDecoder().decode(String.self, from: Data(out))
        #expect(decoded == value)
        #expect(decoded.unicodeScalars.first == "a")
        #expect(decoded.unicodeScalars.contains("\u{FFFD}"))
    }

    @Test func appendsToWhatIsThere() {
        var out = Array("{\"k\":".utf8)
        JSONString.write("v\n", into: &out)
        out.append(UInt8(ascii: "}"))
        #expect(String(decoding: out, as: UTF8.self) == #"{"k":"v\n"}"#)
    }

    @Test func literalIsTheSameBytesAsAString() {
        let value = "a\u{0}\u{8}\u{C}\u{1F}\"\\é🔐"
        #expect(JSONString.literal(value) == Self.written(value))
    }

    @Test func agreesWithJSONEncoderAndRoundTrips() throws {
        // Every ASCII character, then mixed strings with escapes at the start, middle and end.
        var all = ""
        for value in UInt8(0)...UInt8(0x7F) { all.unicodeScalars.append(Unicode.Scalar(value)) }
        let samples = [
            all, all + "é日本🔐" + all, "\n", "\nstart", "end\n", "a\"b\\c\u{1}d\u{7F}e/f",
            String(repeating: "x\t", count: 500),
        ]
        for sample in samples {
            #expect(Self.written(sample) == (try Self.encoded(sample)))
            #expect(try JSONDecoder().decode(String.self, from: Data(Self.written(sample).utf8)) == sample)
        }
    }
}
