import TenureCrypto
import Testing

/// The RFC 4226 / RFC 6238 SHA1 seed.
private let rfcSeed = Array("12345678901234567890".utf8)

@Suite("HMAC-SHA1 known answers (RFC 2202)")
struct HMACSHA1Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: [UInt8]
        var message: [UInt8]
        var expected: String
        var testDescription: String { self.name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "RFC 2202 test case 1",
            key: [UInt8](repeating: 0x0b, count: 20),
            message: Array("Hi There".utf8),
            expected: "b617318655057264e28bc0b6fb378c8ef146be00"
        ),
        Vector(
            name: "RFC 2202 test case 2 (short key)",
            key: Array("Jefe".utf8),
            message: Array("what do ya want for nothing?".utf8),
            expected: "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        ),
        Vector(
            name: "RFC 2202 test case 3",
            key: [UInt8](repeating: 0xaa, count: 20),
            message: [UInt8](repeating: 0xdd, count: 50),
            expected: "125d7342b9ac11cd91a39af48aa17b4f63f175d3"
        ),
        Vector(
            name: "RFC 2202 test case 4",
            key: (1...25).map { UInt8($0) },
            message: [UInt8](repeating: 0xcd, count: 50),
            expected: "4c9007f4026250c6bc8414f9bf50c86c2d7235da"
        ),
        Vector(
            name: "RFC 2202 test case 6 (key longer than the block)",
            key: [UInt8](repeating: 0xaa, count: 80),
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            expected: "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        ),
        Vector(
            name: "RFC 2202 test case 7 (long key, long message)",
            key: [UInt8](repeating: 0xaa, count: 80),
            message: Array("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".utf8),
            expected: "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"
        ),
    ]

    @Test(arguments: HMACSHA1Tests.vectors)
    func knownAnswer(_ vector: Vector) {
        let tag = Digest.hmacSHA1(key: vector.key, message: vector.message)
        #expect(tag.count == Digest.hmacSHA1Length)
        #expect(hex(tag) == vector.expected)
    }

    @Test func emptyKeyAndMessage() {
        // HMAC-SHA1("", "") as computed by `openssl dgst -sha1 -hmac ''`.
        #expect(hex(Digest.hmacSHA1(key: [], message: [])) == "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d")
    }
}

@Suite("Base32 (RFC 4648)")
struct Base32Tests {
    static let vectors: [(String, String)] = [
        ("", ""),
        ("f", "MY======"),
        ("fo", "MZXQ===="),
        ("foo", "MZXW6==="),
        ("foob", "MZXW6YQ="),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI======"),
    ]

    @Test(arguments: Base32Tests.vectors)
    func encodes(plain: String, encoded: String) {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
        let unpadded = String(encoded.prefix { $0 != "=" })
        #expect(Base32.encode(Array(plain.utf8), padding: false) == unpadded)
    }

    @Test(arguments: Base32Tests.vectors)
    func decodesPaddedUnpaddedAndLowercase(plain: String, encoded: String) throws {
        let expected = Array(plain.utf8)
        let unpadded = String(encoded.prefix { $0 != "=" })
        #expect(try Base32.decode(encoded) == expected)
        #expect(try Base32.decode(unpadded) == expected)
        #expect(try Base32.decode(encoded.lowercased()) == expected)
        #expect(try Base32.decode(unpadded.lowercased()) == expected)
    }

    @Test func ignoresSpacesAndMixedCase() throws {
        #expect(try Base32.decode("mzxw 6ytb OI") == Array("foobar".utf8))
        #expect(try Base32.decode(" GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ ") == rfcSeed)
    }

    @Test func roundTripsEveryByte() throws {
        let all = (0...255).map { UInt8($0) }
        for count in 0...all.count {
            let prefix = Array(all.prefix(count))
            #expect(try Base32.decode(Base32.encode(prefix)) == prefix)
            #expect(try Base32.decode(Base32.encode(prefix, padding: false)) == prefix)
        }
    }

    @Test(arguments: [
        ("MZXW1===", Base32Error.Reason.invalidCharacter, 4),  // '1' is not in the alphabet
        ("MZXW8", .invalidCharacter, 4),
        ("MZ-XW6", .invalidCharacter, 2),
        ("MZXWé", .invalidCharacter, 4),
        ("MZ\tXW6", .invalidCharacter, 2),
        ("M", .invalidLength, 1),
        ("MZX", .invalidLength, 3),
        ("MZXW6Y", .invalidLength, 6),
        ("MY=", .invalidPadding, 2),  // partial padding
        ("MY=======", .invalidPadding, 2),  // too much padding
        ("MY==A===", .invalidPadding, 2),  // a symbol after the padding
        ("========", .invalidPadding, 0),
        ("MZ", .nonZeroTrailingBits, 2),  // "MY" is the canonical spelling of "f"
    ])
    func rejectsInvalidText(text: String, reason: Base32Error.Reason, offset: Int) {
        #expect(throws: Base32Error(reason, offset: offset)) {
            try Base32.decode(text)
        }
    }
}

@Suite("HOTP and TOTP (RFC 4226, RFC 6238)")
struct TOTPTests {
    @Test(arguments: [
        (59.0, "94287082"),
        (1_111_111_109.0, "07081804"),
        (1_111_111_111.0, "14050471"),
        (1_234_567_890.0, "89005924"),
        (2_000_000_000.0, "69279037"),
        (20_000_000_000.0, "65353130"),
    ])
    func rfc6238AppendixB(time: Double, expected: String) {
        let totp = TOTP(secret: rfcSeed, digits: 8)
        #expect(totp.code(at: time) == expected)
    }

    @Test func rfc6238TimeSteps() {
        // The "Value of T (hex)" column of RFC 6238 Appendix B.
        #expect(TOTP.step(at: 59, step: 30) == 0x1)
        #expect(TOTP.step(at: 1_111_111_109, step: 30) == 0x23523EC)
        #expect(TOTP.step(at: 1_111_111_111, step: 30) == 0x23523ED)
        #expect(TOTP.step(at: 1_234_567_890, step: 30) == 0x273EF07)
        #expect(TOTP.step(at: 2_000_000_000, step: 30) == 0x3F940AA)
        #expect(TOTP.step(at: 20_000_000_000, step: 30) == 0x27BC86AA)
        #expect(TOTP.step(at: 0, step: 30) == 0)
        #expect(TOTP.step(at: 29.999, step: 30) == 0)
        #expect(TOTP.step(at: 30, step: 30) == 1)
        #expect(TOTP.step(at: 120, step: 60) == 2)
    }

    @Test func rfc4226AppendixD() {
        let hotp = TOTP(secret: rfcSeed)
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        for (counter, code) in expected.enumerated() {
            #expect(hotp.code(forStep: Int64(counter)) == code)
        }
    }

    @Test func defaultsAndConfiguredStep() {
        let totp = TOTP(secret: rfcSeed)
        #expect(totp.digits == 6)
        #expect(totp.step == 30)
        // Six digits are the low six of the eight-digit RFC value (same truncated integer).
        #expect(totp.code(at: 59) == "287082")
        #expect(totp.code(at: 1_111_111_109) == "081804")
        // A 60-second step: time 119 is step 1.
        let slow = TOTP(secret: rfcSeed, step: 60)
        #expect(slow.code(at: 119) == "287082")
        #expect(slow.code(at: 120) == "359152")
    }

    // MARK: - Verification

    static let now = 1_111_111_111.0
    static let nowStep: Int64 = 0x23523ED

    @Test func acceptsTheCurrentPreviousAndNextStep() {
        let totp = TOTP(secret: rfcSeed)
        #expect(totp.verify(totp.code(at: Self.now), at: Self.now, lastUsedStep: nil) == Self.nowStep)
        #expect(totp.verify(totp.code(at: Self.now - 30), at: Self.now, lastUsedStep: nil) == Self.nowStep - 1)
        #expect(totp.verify(totp.code(at: Self.now + 30), at: Self.now, lastUsedStep: nil) == Self.nowStep + 1)
        // The codes of that window, spelled out (they are all different).
        #expect(totp.code(forStep: Self.nowStep - 1) == "081804")
        #expect(totp.code(forStep: Self.nowStep) == "050471")
        #expect(totp.verify("050471", at: Self.now, lastUsedStep: Self.nowStep - 1) == Self.nowStep)
        #expect(totp.verify("081804", at: Self.now, lastUsedStep: Self.nowStep - 2) == Self.nowStep - 1)
    }

    @Test func rejectsCodesOutsideTheWindow() {
        let totp = TOTP(secret: rfcSeed)
        let twoBefore = totp.code(forStep: Self.nowStep - 2)
        let twoAfter = totp.code(forStep: Self.nowStep + 2)
        for step in Self.nowStep - 1...Self.nowStep + 1 {
            // Guards the test itself: a chance collision with an in-window code would make it meaningless.
            #expect(totp.code(forStep: step) != twoBefore)
            #expect(totp.code(forStep: step) != twoAfter)
        }
        #expect(totp.verify(twoBefore, at: Self.now, lastUsedStep: nil) == nil)
        #expect(totp.verify(twoAfter, at: Self.now, lastUsedStep: nil) == nil)
        // A wider window accepts them; a zero window accepts only the current step.
        #expect(totp.verify(twoBefore, at: Self.now, window: 2, lastUsedStep: nil) == Self.nowStep - 2)
        #expect(totp.verify(twoAfter, at: Self.now, window: 2, lastUsedStep: nil) == Self.nowStep + 2)
        #expect(totp.verify(totp.code(at: Self.now - 30), at: Self.now, window: 0, lastUsedStep: nil) == nil)
        #expect(totp.verify(totp.code(at: Self.now), at: Self.now, window: 0, lastUsedStep: nil) == Self.nowStep)
    }

    @Test func rejectsReuseAndOlderCodes() {
        let totp = TOTP(secret: rfcSeed)
        let code = totp.code(at: Self.now)
        guard let used = totp.verify(code, at: Self.now, lastUsedStep: nil) else {
            Issue.record("the current code was not accepted")
            return
        }
        #expect(used == Self.nowStep)
        // The same code again, in the same step or the next one.
        #expect(totp.verify(code, at: Self.now, lastUsedStep: used) == nil)
        #expect(totp.verify(code, at: Self.now + 30, lastUsedStep: used) == nil)
        // An older code, still inside the window, after a newer one was used.
        #expect(totp.verify(totp.code(at: Self.now - 30), at: Self.now, lastUsedStep: used) == nil)
        // A newer code is still accepted.
        #expect(totp.verify(totp.code(at: Self.now + 30), at: Self.now, lastUsedStep: used) == Self.nowStep + 1)
        // Once the next step is used, the current one is refused.
        #expect(totp.verify(code, at: Self.now, lastUsedStep: Self.nowStep + 1) == nil)
    }

    @Test(arguments: [
        "", "05047", "0504710", "50471", "05047a", "0504 71", " 050471", "050471 ", "+50471", "-50471",
        "０５０４７１",  // fullwidth digits
        "٠٥٠٤٧١",  // Arabic-Indic digits
    ])
    func rejectsMalformedCodes(code: String) {
        let totp = TOTP(secret: rfcSeed)
        #expect(totp.code(at: Self.now) == "050471")
        #expect(totp.verify(code, at: Self.now, window: 2, lastUsedStep: nil) == nil)
    }

    @Test func eightDigitCodesNeedEightDigits() {
        let totp = TOTP(secret: rfcSeed, digits: 8)
        #expect(totp.verify("14050471", at: Self.now, lastUsedStep: nil) == Self.nowStep)
        #expect(totp.verify("050471", at: Self.now, lastUsedStep: nil) == nil)
    }

    @Test func wrongSecretIsRejected() {
        let totp = TOTP(secret: rfcSeed)
        let other = TOTP(secret: Array("12345678901234567891".utf8))
        let code = other.code(at: Self.now)
        #expect(code != totp.code(at: Self.now))
        #expect(code != totp.code(at: Self.now - 30))
        #expect(code != totp.code(at: Self.now + 30))
        #expect(totp.verify(code, at: Self.now, lastUsedStep: nil) == nil)
    }

    // MARK: - Secrets and URIs

    @Test func generateSecretGivesTwentyFreshBytes() throws {
        let a = try TOTP.generateSecret()
        let b = try TOTP.generateSecret()
        #expect(a.count == 20)
        #expect(b.count == 20)
        // 2^-160 chance of a false failure.
        #expect(a != b)
    }

    @Test func otpauthURIEncodesTheLabelAndIssuer() {
        let uri = TOTP.otpauthURI(secret: rfcSeed, account: "alice@example.com:ops", issuer: "Tenure PIM")
        #expect(
            uri
                == "otpauth://totp/Tenure%20PIM:alice%40example.com%3Aops"
                + "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tenure%20PIM&algorithm=SHA1&digits=6&period=30"
        )
    }

    @Test func otpauthURIWithOptionsAndUnusualCharacters() {
        let uri = TOTP.otpauthURI(
            secret: Array("foob".utf8),
            account: "b.o-b_~1/é",
            issuer: "A:B&C",
            digits: 8,
            step: 60
        )
        #expect(
            uri
                == "otpauth://totp/A%3AB%26C:b.o-b_~1%2F%C3%A9"
                + "?secret=MZXW6YQ&issuer=A%3AB%26C&algorithm=SHA1&digits=8&period=60"
        )
        #expect(
            TOTP.otpauthURI(secret: Array("f".utf8), account: "bob", issuer: "")
                == "otpauth://totp/bob?secret=MY&algorithm=SHA1&digits=6&period=30"
        )
    }

    @Test func otpauthSecretDecodesBackToTheSeed() throws {
        let secret = try TOTP.generateSecret()
        let uri = TOTP.otpauthURI(secret: secret, account: "a", issuer: "b")
        let encoded = uri.split(separator: "?")[1].split(separator: "&")[0].dropFirst("secret=".count)
        #expect(try Base32.decode(String(encoded)) == secret)
    }
}
