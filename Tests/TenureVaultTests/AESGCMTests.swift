import TenureCrypto
import Testing

@testable import TenureVault

/// Known answers from "The Galois/Counter Mode of Operation (GCM)", D. McGrew and J. Viega (revised
/// 2005), Appendix B, AES-256 test cases 13, 14 and 16. Each value was also checked independently
/// against Python's `cryptography` AESGCM before being written here.
@Suite("AES-256-GCM known answers (McGrew–Viega)")
struct AESGCMKnownAnswerTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: String
        var nonce: String
        var aad: String
        var plaintext: String
        var ciphertext: String
        var tag: String
        var testDescription: String { self.name }
    }

    static let vectors: [Vector] = [
        Vector(
            name: "test case 13",
            key: String(repeating: "00", count: 32),
            nonce: String(repeating: "00", count: 12),
            aad: "",
            plaintext: "",
            ciphertext: "",
            tag: "530f8afbc74536b9a963b4f1c4cb738b"
        ),
        Vector(
            name: "test case 14",
            key: String(repeating: "00", count: 32),
            nonce: String(repeating: "00", count: 12),
            aad: "",
            plaintext: String(repeating: "00", count: 16),
            ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919"
        ),
        Vector(
            name: "test case 16",
            key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            nonce: "cafebabefacedbaddecaf888",
            aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            tag: "76fc6ece0f4e1768cddf8853bb2d551b"
        ),
    ]

    @Test(arguments: vectors)
    func seal(vector: Vector) throws {
        let sealed = try AESGCM.seal(
            plaintext: try unhex(vector.plaintext),
            key: try unhex(vector.key),
            nonce: try unhex(vector.nonce),
            aad: try unhex(vector.aad)
        )
        #expect(hex(sealed.ciphertext) == vector.ciphertext)
        #expect(hex(sealed.tag) == vector.tag)
    }

    @Test(arguments: vectors)
    func open(vector: Vector) throws {
        let plaintext = try AESGCM.open(
            ciphertext: try unhex(vector.ciphertext),
            tag: try unhex(vector.tag),
            key: try unhex(vector.key),
            nonce: try unhex(vector.nonce),
            aad: try unhex(vector.aad)
        )
        #expect(hex(plaintext) == vector.plaintext)
    }

    @Test(arguments: vectors)
    func openRejectsAnyModifiedTagByte(vector: Vector) throws {
        let tag = try unhex(vector.tag)
        for index in tag.indices {
            var modified = tag
            modified[index] ^= 0x01
            #expect(throws: VaultError.self) {
                try AESGCM.open(
                    ciphertext: try unhex(vector.ciphertext),
                    tag: modified,
                    key: try unhex(vector.key),
                    nonce: try unhex(vector.nonce),
                    aad: try unhex(vector.aad)
                )
            }
        }
    }
}

@Suite("AES-256-GCM behaviour")
struct AESGCMTests {
    let key = [UInt8](repeating: 0x42, count: 32)
    let nonce = [UInt8](repeating: 0x24, count: 12)

    private func expectAuthenticationFailure(_ body: () throws -> [UInt8]) {
        #expect {
            _ = try body()
        } throws: { error in
            (error as? VaultError)?.code == .authenticationFailed
        }
    }

    @Test func roundTripWithAAD() throws {
        let plaintext = Array("correct horse battery staple".utf8)
        let aad = Array("context".utf8)
        let sealed = try AESGCM.seal(plaintext: plaintext, key: self.key, nonce: self.nonce, aad: aad)
        #expect(sealed.ciphertext.count == plaintext.count)
        #expect(sealed.ciphertext != plaintext)
        #expect(sealed.tag.count == 16)
        let opened = try AESGCM.open(
            ciphertext: sealed.ciphertext,
            tag: sealed.tag,
            key: self.key,
            nonce: self.nonce,
            aad: aad
        )
        #expect(opened == plaintext)
    }

    @Test func wrongKeyNonceAADOrCiphertextFailAuthentication() throws {
        let plaintext = Array("secret".utf8)
        let aad = Array("context".utf8)
        let sealed = try AESGCM.seal(plaintext: plaintext, key: self.key, nonce: self.nonce, aad: aad)
        var otherKey = self.key
        otherKey[31] ^= 1
        var otherNonce = self.nonce
        otherNonce[0] ^= 1
        var otherCiphertext = sealed.ciphertext
        otherCiphertext[2] ^= 0x80
        self.expectAuthenticationFailure {
            try AESGCM.open(ciphertext: sealed.ciphertext, tag: sealed.tag, key: otherKey, nonce: self.nonce, aad: aad)
        }
        self.expectAuthenticationFailure {
            try AESGCM.open(ciphertext: sealed.ciphertext, tag: sealed.tag, key: self.key, nonce: otherNonce, aad: aad)
        }
        self.expectAuthenticationFailure {
            try AESGCM.open(ciphertext: sealed.ciphertext, tag: sealed.tag, key: self.key, nonce: self.nonce, aad: [])
        }
        self.expectAuthenticationFailure {
            try AESGCM.open(ciphertext: otherCiphertext, tag: sealed.tag, key: self.key, nonce: self.nonce, aad: aad)
        }
    }

    @Test func truncatedTagIsRejectedEvenWhenItIsAPrefixOfTheRightOne() throws {
        let sealed = try AESGCM.seal(plaintext: [1, 2, 3], key: self.key, nonce: self.nonce, aad: [])
        self.expectAuthenticationFailure {
            try AESGCM.open(
                ciphertext: sealed.ciphertext,
                tag: Array(sealed.tag.prefix(12)),
                key: self.key,
                nonce: self.nonce,
                aad: []
            )
        }
    }

    @Test func wrongKeyOrNonceLengthIsRejected() {
        #expect {
            try AESGCM.seal(plaintext: [1], key: [UInt8](repeating: 0, count: 16), nonce: self.nonce, aad: [])
        } throws: { error in
            (error as? VaultError)?.code == .invalidKey
        }
        #expect {
            try AESGCM.seal(plaintext: [1], key: self.key, nonce: [UInt8](repeating: 0, count: 16), aad: [])
        } throws: { error in
            (error as? VaultError)?.code == .invalidKey
        }
    }
}
