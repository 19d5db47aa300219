import SlapdFixture
import TenureCrypto
import Testing

@testable import TenureVault

/// Rebuilds the envelope AAD in Python from its documented layout (not from Swift's bytes), then opens
/// both layers with `cryptography`'s AESGCM, or seals an envelope the same way for Swift to open.
private let pythonEnvelope = """
    import struct, sys
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    def field(b):
        return struct.pack(">I", len(b)) + b

    def aad(layer, credential, version):
        return (field(b"tenure-vault-v1") + field(layer) + field(credential.encode("utf-8"))
                + field(struct.pack(">q", version)))

    mode = sys.argv[1]
    if mode == "open":
        master, credential, version, wkn, wk, wkt, n, ct, t = sys.argv[2:]
        version = int(version)
        data_key = AESGCM(bytes.fromhex(master)).decrypt(
            bytes.fromhex(wkn), bytes.fromhex(wk) + bytes.fromhex(wkt), aad(b"data-key", credential, version))
        secret = AESGCM(data_key).decrypt(
            bytes.fromhex(n), bytes.fromhex(ct) + bytes.fromhex(t), aad(b"secret", credential, version))
        print(secret.hex())
    else:
        master, credential, version, secret = sys.argv[2:]
        version = int(version)
        data_key = AESGCM.generate_key(bit_length=256)
        import os
        wkn, n = os.urandom(12), os.urandom(12)
        wrapped = AESGCM(bytes.fromhex(master)).encrypt(wkn, data_key, aad(b"data-key", credential, version))
        sealed = AESGCM(data_key).encrypt(n, bytes.fromhex(secret), aad(b"secret", credential, version))
        print(" ".join(x.hex() for x in (wkn, wrapped[:-16], wrapped[-16:], n, sealed[:-16], sealed[-16:])))
    """

@Suite(
    "Interoperability with Python cryptography",
    .enabled(
        if: pythonCryptographyAvailable,
        "python3 with the `cryptography` package is not installed: the interop tests are skipped"
    )
)
struct InteropTests {
    @Test(arguments: [
        NamedBytes(name: "empty", bytes: []),
        NamedBytes(name: "UTF-8", bytes: Array("interop: 🔑 pässwörd".utf8)),
        NamedBytes(name: "3000 bytes", bytes: (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
    ])
    func pythonOpensBothLayersOfASwiftEnvelope(named: NamedBytes) throws {
        let secret = named.bytes
        let keyBytes = try SecureRandom.bytes(32)
        let masterKey = try MasterKey(bytes: keyBytes)
        let sealed = try Envelope.seal(secret, credential: "db/ünïcode", version: 42, masterKey: masterKey)
        let output = try runProgram(
            "python3",
            [
                "-c", pythonEnvelope, "open", hex(keyBytes), sealed.credential, String(sealed.version),
                hex(sealed.wrappedKeyNonce), hex(sealed.wrappedKey), hex(sealed.wrappedKeyTag),
                hex(sealed.nonce), hex(sealed.ciphertext), hex(sealed.tag),
            ]
        )
        #expect(output.status == 0, "python3 failed: \(output.stderr)")
        #expect(output.stdout.trimmingWhitespace == hex(secret))
    }

    @Test func pythonRejectsAnEnvelopeMovedToAnotherVersion() throws {
        let keyBytes = try SecureRandom.bytes(32)
        let sealed = try Envelope.seal(
            [1, 2, 3],
            credential: "svc",
            version: 1,
            masterKey: try MasterKey(bytes: keyBytes)
        )
        let output = try runProgram(
            "python3",
            [
                "-c", pythonEnvelope, "open", hex(keyBytes), sealed.credential, "2",
                hex(sealed.wrappedKeyNonce), hex(sealed.wrappedKey), hex(sealed.wrappedKeyTag),
                hex(sealed.nonce), hex(sealed.ciphertext), hex(sealed.tag),
            ]
        )
        #expect(output.status != 0)
        #expect(output.stderr.contains("InvalidTag"))
    }

    @Test func swiftOpensAnEnvelopeSealedByPython() throws {
        let keyBytes = try SecureRandom.bytes(32)
        let secret = Array("sealed by python".utf8)
        let output = try runProgram(
            "python3",
            ["-c", pythonEnvelope, "seal", hex(keyBytes), "ops/ldap", "9", hex(secret)]
        )
        try #require(output.status == 0, "python3 failed: \(output.stderr)")
        let parts = try output.stdout.trimmingWhitespace.split(separator: " ").map { try unhex(String($0)) }
        try #require(parts.count == 6)
        let sealed = SealedSecret(
            credential: "ops/ldap",
            version: 9,
            algorithm: "AES-256-GCM",
            wrappedKeyNonce: parts[0],
            wrappedKey: parts[1],
            wrappedKeyTag: parts[2],
            nonce: parts[3],
            ciphertext: parts[4],
            tag: parts[5]
        )
        #expect(try Envelope.open(sealed, masterKey: try MasterKey(bytes: keyBytes)) == secret)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
