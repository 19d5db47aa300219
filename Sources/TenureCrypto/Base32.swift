/// Base32 with the RFC 4648 §6 alphabet (`A`–`Z`, `2`–`7`), as used by otpauth secrets.
public enum Base32 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// The base32 text of `bytes`: uppercase, padded with `=` to a multiple of 8 characters unless
    /// `padding` is false (otpauth URIs carry the secret unpadded).
    public static func encode(_ bytes: [UInt8], padding: Bool = true) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 4) / 5 * 8)
        var buffer: UInt64 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt64(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(Self.alphabet[Int(buffer >> UInt64(bits) & 0x1f)])
            }
        }
        if bits > 0 {
            output.append(Self.alphabet[Int(buffer << UInt64(5 - bits) & 0x1f)])
        }
        if padding {
            while output.count % 8 != 0 {
                output.append(UInt8(ascii: "="))
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes spelled by `text`. Letters may be in either case, spaces are ignored (secrets are often
    /// shown in groups) and the trailing `=` padding is optional; when present it must be complete.
    /// Throws for any other character, a length no encoding produces, misplaced or partial padding, and
    /// non-zero unused bits in the last character (a non-canonical spelling, usually a typo). The error
    /// names the offending position, never the text, which is normally a secret.
    public static func decode(_ text: String) throws(Base32Error) -> [UInt8] {
        var symbols: [UInt8] = []
        defer { secureZero(&symbols) }
        symbols.reserveCapacity(text.utf8.count)
        var paddingStart: Int? = nil
        var paddingCount = 0
        for (offset, character) in text.utf8.enumerated() {
            if character == UInt8(ascii: " ") { continue }
            if character == UInt8(ascii: "=") {
                if paddingStart == nil { paddingStart = offset }
                paddingCount += 1
                continue
            }
            guard paddingStart == nil else {
                throw Base32Error(.invalidPadding, offset: paddingStart!)
            }
            guard let value = Self.value(of: character) else {
                throw Base32Error(.invalidCharacter, offset: offset)
            }
            symbols.append(value)
        }
        // A final group of n symbols (n = count mod 8) encodes 0, 1, 2, 3 or 4 bytes; 1, 3 and 6 are
        // impossible.
        let remainder = symbols.count % 8
        guard remainder != 1, remainder != 3, remainder != 6 else {
            throw Base32Error(.invalidLength, offset: text.utf8.count)
        }
        if let paddingStart {
            guard remainder != 0, paddingCount == 8 - remainder else {
                throw Base32Error(.invalidPadding, offset: paddingStart)
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(symbols.count * 5 / 8)
        var buffer: UInt64 = 0
        var bits = 0
        for symbol in symbols {
            buffer = buffer << 5 | UInt64(symbol)
            bits += 5
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt64(bits)))
            }
        }
        guard bits == 0 || symbols.last! & (1 << UInt8(bits) - 1) == 0 else {
            secureZero(&output)
            throw Base32Error(.nonZeroTrailingBits, offset: text.utf8.count)
        }
        return output
    }

    @inline(__always)
    private static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a")
        case UInt8(ascii: "2")...UInt8(ascii: "7"): character - UInt8(ascii: "2") + 26
        default: nil
        }
    }
}

/// Text that is not valid base32. Carries the position of the problem, never the text itself.
public struct Base32Error: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: String, Hashable, Sendable {
        /// A character outside the base32 alphabet, `=` and space.
        case invalidCharacter
        /// A number of symbols that no byte string encodes to.
        case invalidLength
        /// `=` before the end, or not exactly the padding the symbols need.
        case invalidPadding
        /// The unused low bits of the last symbol are not zero.
        case nonZeroTrailingBits
    }

    public var reason: Reason
    /// The UTF-8 offset in the input where the problem was found (the input length for whole-text
    /// problems).
    public var offset: Int

    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        switch self.reason {
        case .invalidCharacter: "invalid base32: unexpected character at offset \(self.offset)"
        case .invalidLength: "invalid base32: the length is not that of any encoding"
        case .invalidPadding: "invalid base32: bad padding at offset \(self.offset)"
        case .nonZeroTrailingBits: "invalid base32: non-zero unused bits in the last character"
        }
    }
}
