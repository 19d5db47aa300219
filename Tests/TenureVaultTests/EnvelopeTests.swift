import Foundation
import TenureCrypto
import Testing

@testable import TenureVault

private func isAuthenticationFailure(_ error: any Error, credential: String, version: Int) -> Bool {
    guard let error = error as? VaultError else { return false }
    return error.code == .authenticationFailed && error.credential == credential && error.version == version
}

/// The byte fields of a sealed secret, for tampering.
enum SealedField: String, CaseIterable, Sendable {
    case wrappedKeyNonce, wrappedKey, wrappedKeyTag, nonce, ciphertext, tag

    var keyPath: WritableKeyPath<SealedSecret, [UInt8]> {
        switch self {
        case .wrappedKeyNonce: \.wrappedKeyNonce
        case .wrappedKey: \.wrappedKey
        case .wrappedKeyTag: \.wrappedKeyTag
        case .nonce: \.nonce
        case .ciphertext: \.ciphertext
        case .tag: \.tag
        }
    }
}

@Suite("Envelope encryption")
struct EnvelopeTests {
    let masterKey: MasterKey

    init() throws {
        self.masterKey = try MasterKey.random()
    }

    static let secrets: [NamedBytes] = [
        NamedBytes(name: "empty", bytes: []),
        NamedBytes(name: "one byte", bytes: [0x7f]),
        NamedBytes(name: "10 KB", bytes: (0..<10_240).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }),
        NamedBytes(name: "UTF-8", bytes: Array("pässwörd 🔑 пароль 密码".utf8)),
    ]

    @Test(arguments: secrets)
    func roundTrip(named: NamedBytes) throws {
        let secret = named.bytes
        let sealed = try Envelope.seal(secret, credential: "db/admin", version: 3, masterKey: self.masterKey)
        #expect(sealed.credential == "db/admin")
        #expect(sealed.version == 3)
        #expect(sealed.algorithm == "AES-256-GCM")
        #expect(sealed.wrappedKeyNonce.count == 12)
        #expect(sealed.wrappedKey.count == 32)
        #expect(sealed.wrappedKeyTag.count == 16)
        #expect(sealed.nonce.count == 12)
        #expect(sealed.ciphertext.count == secret.count)
        #expect(sealed.tag.count == 16)
        if secret.count > 16 {
            // No plaintext on the outside.
            #expect(sealed.ciphertext != secret)
        }
        #expect(try Envelope.open(sealed, masterKey: self.masterKey) == secret)
    }

    @Test func utf8SecretComesBackAsTheSameString() throws {
        let text = "naïve café – 🔐"
        let sealed = try Envelope.seal(Array(text.utf8), credential: "svc", version: 1, masterKey: self.masterKey)
        let opened = try Envelope.open(sealed, masterKey: self.masterKey)
        #expect(String(decoding: opened, as: UTF8.self) == text)
    }

    @Test func twoSealingsOfTheSameSecretShareNothingButTheirLabels() throws {
        let secret = Array("same secret, sealed twice".utf8)
        let first = try Envelope.seal(secret, credential: "svc", version: 1, masterKey: self.masterKey)
        let second = try Envelope.seal(secret, credential: "svc", version: 1, masterKey: self.masterKey)
        #expect(first != second)
        #expect(first.wrappedKeyNonce != second.wrappedKeyNonce)
        #expect(first.wrappedKey != second.wrappedKey)
        #expect(first.nonce != second.nonce)
        #expect(first.ciphertext != second.ciphertext)
        #expect(first.tag != second.tag)
        #expect(first.wrappedKeyNonce != first.nonce)
        #expect(try Envelope.open(first, masterKey: self.masterKey) == secret)
        #expect(try Envelope.open(second, masterKey: self.masterKey) == secret)
    }

    @Test(arguments: SealedField.allCases)
    func flippingAnyByteOfAnyFieldFailsAuthentication(field: SealedField) throws {
        let secret = Array("a secret long enough to span several GCM blocks!".utf8)
        let sealed = try Envelope.seal(secret, credential: "svc/api", version: 7, masterKey: self.masterKey)
        let original = sealed[keyPath: field.keyPath]
        #expect(!original.isEmpty)
        for index in original.indices {
            for mask: UInt8 in [0x01, 0x80] {
                var tampered = sealed
                tampered[keyPath: field.keyPath][index] ^= mask
                do {
                    _ = try Envelope.open(tampered, masterKey: self.masterKey)
                    Issue.record("opened after flipping \(field) byte \(index) with \(mask)")
                } catch {
                    #expect(
                        isAuthenticationFailure(error, credential: "svc/api", version: 7),
                        "\(field) byte \(index): \(error)"
                    )
                }
            }
        }
    }

    @Test(arguments: SealedField.allCases)
    func truncatingOrExtendingAnyFieldFailsAuthentication(field: SealedField) throws {
        let sealed = try Envelope.seal([1, 2, 3, 4], credential: "svc", version: 1, masterKey: self.masterKey)
        var truncated = sealed
        truncated[keyPath: field.keyPath].removeLast()
        var extended = sealed
        extended[keyPath: field.keyPath].append(0)
        for tampered in [truncated, extended] {
            #expect {
                try Envelope.open(tampered, masterKey: self.masterKey)
            } throws: { error in
                isAuthenticationFailure(error, credential: "svc", version: 1)
            }
        }
    }

    @Test func wrongMasterKeyFailsWithAClearMessageAndNoSecret() throws {
        let secret = Array("hunter2-hunter2".utf8)
        let sealed = try Envelope.seal(secret, credential: "db/root", version: 12, masterKey: self.masterKey)
        let other = try MasterKey.random()
        let error = try #require(throws: VaultError.self) {
            try Envelope.open(sealed, masterKey: other)
        }
        #expect(error.code == .authenticationFailed)
        #expect(
            error.description
                == "cannot open credential db/root version 12: wrong master key or the stored secret was modified"
        )
        #expect(!error.description.contains("hunter2"))
        #expect(!error.description.contains(hex(sealed.ciphertext)))
    }

    @Test func movingASealedSecretToAnotherCredentialOrVersionFails() throws {
        let sealed = try Envelope.seal(
            Array("s3cret".utf8),
            credential: "app/db",
            version: 2,
            masterKey: self.masterKey
        )
        var renamed = sealed
        renamed.credential = "app/db2"
        var caseChanged = sealed
        caseChanged.credential = "App/db"
        var otherVersion = sealed
        otherVersion.version = 3
        var negativeVersion = sealed
        negativeVersion.version = -2
        for moved in [renamed, caseChanged, otherVersion, negativeVersion] {
            #expect {
                try Envelope.open(moved, masterKey: self.masterKey)
            } throws: { error in
                isAuthenticationFailure(error, credential: moved.credential, version: moved.version)
            }
        }
    }

    @Test func layersCannotBeSwapped() throws {
        // Both layers use the same AAD shape; the layer label keeps one from standing in for the other.
        let secretLayer = Envelope.additionalData(layer: .secret, credential: "c", version: 1)
        let keyLayer = Envelope.additionalData(layer: .dataKey, credential: "c", version: 1)
        #expect(secretLayer != keyLayer)
        // And the length prefixes keep ("ab", 1) and ("a", …) from colliding by concatenation.
        #expect(
            Envelope.additionalData(layer: .secret, credential: "ab", version: 1)
                != Envelope.additionalData(layer: .secret, credential: "a", version: 1)
        )
    }

    @Test func additionalDataHasTheDocumentedLayout() {
        let aad = Envelope.additionalData(layer: .secret, credential: "db", version: 258)
        let expected: [UInt8] =
            [0, 0, 0, 15] + Array("tenure-vault-v1".utf8)
            + [0, 0, 0, 6] + Array("secret".utf8)
            + [0, 0, 0, 2] + Array("db".utf8)
            + [0, 0, 0, 8] + [0, 0, 0, 0, 0, 0, 1, 2]
        #expect(aad == expected)
    }

    @Test func unknownAlgorithmIsRefusedByName() throws {
        var sealed = try Envelope.seal([1], credential: "svc", version: 1, masterKey: self.masterKey)
        sealed.algorithm = "AES-128-GCM"
        let error = try #require(throws: VaultError.self) {
            try Envelope.open(sealed, masterKey: self.masterKey)
        }
        #expect(error.code == .unsupportedAlgorithm)
        #expect(error.description.contains("AES-128-GCM"))
    }

    @Test func codableRoundTripKeepsEverythingAndStillOpens() throws {
        let secret = Array("json me".utf8)
        let sealed = try Envelope.seal(secret, credential: "svc/json", version: 4, masterKey: self.masterKey)
        let data = try JSONEncoder().encode(sealed)
        let decoded = try JSONDecoder().decode(SealedSecret.self, from: data)
        #expect(decoded == sealed)
        #expect(try Envelope.open(decoded, masterKey: self.masterKey) == secret)
        let json = String(decoding: data, as: UTF8.self)
        #expect(json.contains("\"wrappedKeyTag\""))
        #expect(!json.contains("json me"))
    }
}
