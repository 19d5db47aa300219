/// JSON string literals (RFC 8259 §7) written as UTF-8 bytes, without Foundation — the one escaper
/// behind the snapshot writer, the decision hot path's `FastJSON` and the API's problem details.
///
/// The output is byte for byte what `JSONEncoder` with `.withoutEscapingSlashes` writes:
/// - `"` and `\` as `\"` and `\\`;
/// - U+0008, U+0009, U+000A, U+000C and U+000D as `\b`, `\t`, `\n`, `\f` and `\r`;
/// - the other control characters below U+0020 as `\u00xx` (lowercase hex);
/// - everything else — `/`, DEL (U+007F), U+2028/U+2029 and all other non-ASCII — as its UTF-8
///   bytes, unescaped.
///
/// The input is a `String`, whose UTF-8 is always valid (decoding invalid bytes into a `String`
/// replaces them with U+FFFD), so the output is always valid UTF-8 and valid JSON.
public enum JSONString {
    /// Appends `value` as a quoted JSON string literal to `out`.
    public static func write(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        // Native strings are contiguous UTF-8 already: no copy.
        value.withUTF8 { bytes in Self.appendEscaped(bytes, into: &out) }
        out.append(UInt8(ascii: "\""))
    }

    /// `value` as a quoted JSON string literal.
    public static func literal(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count + 2)
        self.write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Copies runs that need no escaping in one go (most values are a single run).
    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
            out.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            default:
                out.append(UInt8(ascii: "u"))
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "0"))
                out.append(Self.hexDigit(byte >> 4))
                out.append(Self.hexDigit(byte & 0x0F))
            }
            runStart = index + 1
        }
        if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
