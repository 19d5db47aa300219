import TenureCrypto
import Testing

private func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("SHA-256 known answers (FIPS 180-2)")
struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownAnswer(message: String, expected: String) {
        #expect(hex(Digest.sha256(utf8(message))) == expected)
    }

    @Test func emptyArrayAndEmptySliceDoNotCrash() {
        let empty: [UInt8] = []
        #expect(hex(Digest.sha256(empty)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256(utf8("xabc").dropFirst()) == Digest.sha256(utf8("abc")))
    }

    @Test func nonContiguousCollectionsHashTheirElements() {
        // A lazy collection has no contiguous storage: the copying path must agree.
        let lazy = utf8("abc").lazy.map { $0 }
        #expect(hex(Digest.sha256(lazy)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func oneMillionA() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(hex(Digest.sha256(message)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite("HMAC-SHA256 known answers (RFC 4231)")
struct HMACTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: [UInt8]
        var message: [UInt8]
        var expected: String
        var testDescription: String { self.name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "RFC 4231 test case 1",
            key: [UInt8](repeating: 0x0b, count: 20),
            message: Array("Hi There".utf8),
            expected: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        Vector(
            name: "RFC 4231 test case 2 (short key)",
            key: Array("Jefe".utf8),
            message: Array("what do ya want for nothing?".utf8),
            expected: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        Vector(
            name: "RFC 4231 test case 6 (key longer than the block)",
            key: [UInt8](repeating: 0xaa, count: 131),
            message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            expected: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        Vector(
            name: "RFC 4231 test case 7 (long key, long message)",
            key: [UInt8](repeating: 0xaa, count: 131),
            message: Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm.").utf8
            ),
            expected: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
        Vector(
            name: "empty message",
            key: [UInt8](repeating: 0x0b, count: 20),
            message: [],
            expected: "999a901219f032cd497cadb5e6051e97b6a29ab297bd6ae722bd6062a2f59542"
        ),
        Vector(
            name: "empty key and empty message",
            key: [],
            message: [],
            expected: "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
        ),
    ]

    @Test(arguments: HMACTests.vectors)
    func oneShot(_ vector: Vector) {
        #expect(hex(Digest.hmacSHA256(key: vector.key, message: vector.message)) == vector.expected)
    }

    @Test(arguments: HMACTests.vectors)
    func reusableContextGivesTheSameTagEveryTime(_ vector: Vector) {
        let context = HMACSHA256(key: vector.key)
        for _ in 0..<3 {
            #expect(hex(context.authenticationCode(for: vector.message)) == vector.expected)
        }
    }

    @Test func reusableContextInterleavesMessages() {
        // Alternating messages must not leak state from one tag into the next.
        let context = HMACSHA256(key: Array("Jefe".utf8))
        let first = Array("what do ya want for nothing?".utf8)
        let other = Array("something else".utf8)
        let expectedOther = Digest.hmacSHA256(key: Array("Jefe".utf8), message: other)
        #expect(context.authenticationCode(for: other) == expectedOther)
        #expect(
            hex(context.authenticationCode(for: first))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )
        #expect(context.authenticationCode(for: other) == expectedOther)
    }

    @Test func writesIntoACallerBuffer() {
        let context = HMACSHA256(key: [UInt8](repeating: 0x0b, count: 20))
        var output = [UInt8](repeating: 0xff, count: 40)
        let message = Array("Hi There".utf8)
        message.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { context.authenticationCode(for: input, into: $0) }
        }
        #expect(hex(output.prefix(32)) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(output.suffix(8).allSatisfy { $0 == 0xff })
    }

    @Test func differentKeysGiveDifferentTags() {
        let message = Array("audit".utf8)
        #expect(
            Digest.hmacSHA256(key: [1, 2, 3], message: message) != Digest.hmacSHA256(key: [1, 2, 4], message: message)
        )
    }
}

@Suite("Random bytes, comparison and hex")
struct BytesTests {
    @Test func randomBytesHaveTheRequestedLengthAndDiffer() throws {
        #expect(try SecureRandom.bytes(0).isEmpty)
        let a = try SecureRandom.bytes(32)
        let b = try SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(b.count == 32)
        // 2^-256 chance of a false failure.
        #expect(a != b)
        #expect(try SecureRandom.bytes(1_000).count == 1_000)
    }

    @Test func constantTimeEqualsComparesContentsAndLengths() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([0, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!constantTimeEquals([], [0]))
    }

    @Test func hexRoundTrips() {
        let all = (0...255).map { UInt8($0) }
        let text = hex(all)
        #expect(text.count == 512)
        #expect(text.hasPrefix("000102"))
        #expect(text.hasSuffix("fdfeff"))
        #expect(bytes(fromHex: text) == all)
        #expect(bytes(fromHex: text.uppercased()) == all)
        #expect(hex([UInt8]()) == "")
        #expect(bytes(fromHex: "") == [])
    }

    @Test(arguments: ["0", "abc", "zz", "0g", " 00", "é0"])
    func invalidHexIsRejected(_ text: String) {
        #expect(bytes(fromHex: text) == nil)
    }

    @Test func secureZeroClearsTheBuffer() {
        var secret: [UInt8] = [9, 8, 7, 6]
        secureZero(&secret)
        #expect(secret == [0, 0, 0, 0])
        var empty: [UInt8] = []
        secureZero(&empty)
        #expect(empty.isEmpty)
    }
}
