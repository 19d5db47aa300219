/// Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, the variant every
/// authenticator app supports. The secret is held in ``SecretBytes`` and wiped when the last copy of the
/// generator goes away.
public struct TOTP: Sendable {
    /// Digits in a code (6 by default; RFC 4226 allows 6 to 10 here).
    public let digits: Int
    /// Length of a time step in seconds (30 by default).
    public let step: Double

    private let secret: SecretBytes

    /// A generator for `secret` (the raw seed, not its base32 text). `digits` must be 6...10 and `step`
    /// a positive finite number of seconds.
    public init(secret: [UInt8], digits: Int = 6, step: Double = 30) {
        precondition((6...10).contains(digits), "TOTP: digits must be 6...10")
        precondition(step.isFinite && step > 0, "TOTP: the step must be a positive number of seconds")
        self.secret = SecretBytes(copying: secret)
        self.digits = digits
        self.step = step
    }

    /// The time step `time` (seconds since the Unix epoch) falls in: floor(time / step), with T0 = 0.
    public static func step(at time: Double, step: Double) -> Int64 {
        precondition(step.isFinite && step > 0, "TOTP: the step must be a positive number of seconds")
        let counter = (time / step).rounded(.down)
        // 2^63 is exact as a Double; Int64.max is not.
        precondition(
            counter >= -9_223_372_036_854_775_808.0 && counter < 9_223_372_036_854_775_808.0,
            "TOTP: time \(time) is out of range"
        )
        return Int64(counter)
    }

    /// The code for `time` (seconds since the Unix epoch).
    public func code(at time: Double) -> String {
        self.code(forStep: Self.step(at: time, step: self.step))
    }

    /// The code for time step (HOTP counter) `counter`, zero-padded to ``digits``. The counter is
    /// encoded as 8 big-endian bytes (a negative value as its two's complement bit pattern).
    public func code(forStep counter: Int64) -> String {
        var message = [UInt8](repeating: 0, count: 8)
        var value = UInt64(bitPattern: counter)
        for index in stride(from: 7, through: 0, by: -1) {
            message[index] = UInt8(truncatingIfNeeded: value)
            value >>= 8
        }
        var tag = Digest.hmacSHA1(key: self.secret.bytes, message: message)
        defer { secureZero(&tag) }
        // Dynamic truncation (RFC 4226 §5.3).
        let offset = Int(tag[tag.count - 1] & 0x0f)
        let binary =
            UInt64(tag[offset] & 0x7f) << 24 | UInt64(tag[offset + 1]) << 16 | UInt64(tag[offset + 2]) << 8
            | UInt64(tag[offset + 3])
        var modulus: UInt64 = 1
        for _ in 0..<self.digits { modulus *= 10 }
        let number = Array(String(binary % modulus).utf8)
        let padded = [UInt8](repeating: UInt8(ascii: "0"), count: self.digits - number.count) + number
        return String(decoding: padded, as: UTF8.self)
    }

    /// The time step `code` belongs to, when it is the code of a step within `window` steps of `time`
    /// (inclusive) that is later than `lastUsedStep`; nil otherwise, including for a code of the wrong
    /// length or with anything but ASCII digits. Store the returned step as the new `lastUsedStep`: a
    /// code is then never accepted twice, nor one older than the last accepted. Every candidate is
    /// compared in constant time, and all of them are compared; if several match (a chance collision)
    /// the earliest is returned.
    public func verify(_ code: String, at time: Double, window: Int = 1, lastUsedStep: Int64?) -> Int64? {
        precondition(window >= 0, "TOTP: the window cannot be negative")
        let submitted = Array(code.utf8)
        guard submitted.count == self.digits,
            submitted.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else {
            return nil
        }
        let current = Self.step(at: time, step: self.step)
        var matched: Int64? = nil
        for offset in -window...window {
            let (candidate, overflow) = current.addingReportingOverflow(Int64(offset))
            if overflow || candidate < 0 { continue }
            if let lastUsedStep, candidate <= lastUsedStep { continue }
            let expected = Array(self.code(forStep: candidate).utf8)
            if constantTimeEquals(expected, submitted), matched == nil {
                matched = candidate
            }
        }
        return matched
    }

    /// A new random secret: 20 bytes (160 bits, the HMAC-SHA1 output length RFC 4226 recommends).
    public static func generateSecret() throws -> [UInt8] {
        try SecureRandom.bytes(20)
    }

    /// The `otpauth://` URI authenticator apps import (usually as a QR code):
    /// `otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30`.
    /// The secret is unpadded base32; the issuer and account are percent-encoded (everything but the
    /// RFC 3986 unreserved characters, so a ':' inside either is encoded and only the separator is
    /// literal). An empty issuer leaves out both the label prefix and the `issuer` parameter. `step`
    /// must be a whole number of seconds.
    public static func otpauthURI(
        secret: [UInt8],
        account: String,
        issuer: String,
        digits: Int = 6,
        step: Double = 30
    ) -> String {
        precondition((6...10).contains(digits), "TOTP: digits must be 6...10")
        precondition(
            step.isFinite && step >= 1 && step < 4_294_967_296 && step == step.rounded(.down),
            "TOTP: the otpauth period must be a whole number of seconds"
        )
        let label =
            issuer.isEmpty ? percentEncoded(account) : percentEncoded(issuer) + ":" + percentEncoded(account)
        var uri = "otpauth://totp/" + label + "?secret=" + Base32.encode(secret, padding: false)
        if !issuer.isEmpty {
            uri += "&issuer=" + percentEncoded(issuer)
        }
        uri += "&algorithm=SHA1&digits=\(digits)&period=\(Int64(step))"
        return uri
    }
}

private let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

/// `text` with every UTF-8 byte outside the RFC 3986 unreserved set (ALPHA DIGIT - . _ ~) written as
/// %XX (uppercase hex).
private func percentEncoded(_ text: String) -> String {
    var output: [UInt8] = []
    output.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            output.append(byte)
        default:
            output.append(UInt8(ascii: "%"))
            output.append(upperHexDigits[Int(byte >> 4)])
            output.append(upperHexDigits[Int(byte & 0x0f)])
        }
    }
    return String(decoding: output, as: UTF8.self)
}
