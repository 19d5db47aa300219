import TenureCrypto

/// One credential version sealed by envelope encryption: the secret encrypted under a fresh random
/// data key, and that data key encrypted ("wrapped") under the master key. Both layers are
/// AES-256-GCM and both authenticate the credential name and version (see ``Envelope``), so a sealed
/// secret copied onto another credential or version does not open.
///
/// Holds no plaintext: safe to store, log-free to encode. The byte arrays encode as JSON arrays of
/// numbers with the default `Codable` strategy.
public struct SealedSecret: Codable, Sendable, Hashable {
    /// The credential the secret belongs to (authenticated).
    public var credential: String
    /// The credential version (authenticated).
    public var version: Int
    /// Always ``Envelope/algorithm`` ("AES-256-GCM") for now.
    public var algorithm: String
    /// The 12-byte nonce of the data-key layer.
    public var wrappedKeyNonce: [UInt8]
    /// The 32-byte data key encrypted under the master key.
    public var wrappedKey: [UInt8]
    /// The 16-byte GCM tag of the data-key layer.
    public var wrappedKeyTag: [UInt8]
    /// The 12-byte nonce of the secret layer.
    public var nonce: [UInt8]
    /// The secret encrypted under the data key (as long as the secret).
    public var ciphertext: [UInt8]
    /// The 16-byte GCM tag of the secret layer.
    public var tag: [UInt8]

    public init(
        credential: String,
        version: Int,
        algorithm: String,
        wrappedKeyNonce: [UInt8],
        wrappedKey: [UInt8],
        wrappedKeyTag: [UInt8],
        nonce: [UInt8],
        ciphertext: [UInt8],
        tag: [UInt8]
    ) {
        self.credential = credential
        self.version = version
        self.algorithm = algorithm
        self.wrappedKeyNonce = wrappedKeyNonce
        self.wrappedKey = wrappedKey
        self.wrappedKeyTag = wrappedKeyTag
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }
}

/// Envelope encryption of credential secrets.
///
/// Sealing draws a fresh 32-byte data key and two fresh 12-byte nonces, encrypts the secret under the
/// data key and the data key under the master key, and wipes the data key. The additional
/// authenticated data of each layer is the concatenation of four length-prefixed fields (each a 4-byte
/// big-endian length followed by the bytes):
///
/// 1. `tenure-vault-v1` (UTF-8),
/// 2. the layer: `data-key` for the wrapped key, `secret` for the secret (UTF-8),
/// 3. the credential name (UTF-8),
/// 4. the version as an 8-byte big-endian two's-complement integer.
///
/// The layer label keeps the two encryptions from being swapped for each other; the credential and
/// version bind the blob to its place.
public enum Envelope {
    /// The only algorithm written and accepted.
    public static let algorithm = "AES-256-GCM"
    /// The data key length in bytes.
    static let dataKeyLength = 32
    static let formatLabel = "tenure-vault-v1"

    /// The two layers of the envelope, named in the AAD.
    enum Layer: String {
        case dataKey = "data-key"
        case secret = "secret"
    }

    /// Seals `secret` for `credential` at `version` under `masterKey`.
    public static func seal(
        _ secret: [UInt8],
        credential: String,
        version: Int,
        masterKey: MasterKey
    ) throws(VaultError) -> SealedSecret {
        var dataKey = try randomBytes(dataKeyLength, purpose: "a data key for credential \(credential)")
        defer { secureZero(&dataKey) }
        let nonce = try randomBytes(AESGCM.nonceLength, purpose: "a nonce for credential \(credential)")
        let wrappedKeyNonce = try randomBytes(AESGCM.nonceLength, purpose: "a nonce for credential \(credential)")
        let sealedSecret = try AESGCM.seal(
            plaintext: secret,
            key: dataKey,
            nonce: nonce,
            aad: additionalData(layer: .secret, credential: credential, version: version)
        )
        let wrapped = try AESGCM.seal(
            plaintext: dataKey,
            key: masterKey.bytes,
            nonce: wrappedKeyNonce,
            aad: additionalData(layer: .dataKey, credential: credential, version: version)
        )
        return SealedSecret(
            credential: credential,
            version: version,
            algorithm: algorithm,
            wrappedKeyNonce: wrappedKeyNonce,
            wrappedKey: wrapped.ciphertext,
            wrappedKeyTag: wrapped.tag,
            nonce: nonce,
            ciphertext: sealedSecret.ciphertext,
            tag: sealedSecret.tag
        )
    }

    /// The secret in `sealed`. Throws ``VaultError/Code/authenticationFailed`` when the master key is
    /// wrong or any field was modified (including the credential and version); returns nothing
    /// partial.
    public static func open(_ sealed: SealedSecret, masterKey: MasterKey) throws(VaultError) -> [UInt8] {
        guard sealed.algorithm == algorithm else {
            throw VaultError(
                .unsupportedAlgorithm,
                "cannot open credential \(sealed.credential) version \(sealed.version): "
                    + "unsupported algorithm \"\(sealed.algorithm)\" (expected \(algorithm))",
                credential: sealed.credential,
                version: sealed.version
            )
        }
        let failure = VaultError.authenticationFailed(credential: sealed.credential, version: sealed.version)
        // Wrong lengths can only come from a damaged or forged record: report them like any other
        // modification.
        guard sealed.wrappedKeyNonce.count == AESGCM.nonceLength,
            sealed.nonce.count == AESGCM.nonceLength,
            sealed.wrappedKey.count == dataKeyLength,
            sealed.wrappedKeyTag.count == AESGCM.tagLength,
            sealed.tag.count == AESGCM.tagLength
        else {
            throw failure
        }
        var dataKey: [UInt8]
        do {
            dataKey = try AESGCM.open(
                ciphertext: sealed.wrappedKey,
                tag: sealed.wrappedKeyTag,
                key: masterKey.bytes,
                nonce: sealed.wrappedKeyNonce,
                aad: additionalData(layer: .dataKey, credential: sealed.credential, version: sealed.version)
            )
        } catch  where error.code == .authenticationFailed {
            throw failure
        }
        defer { secureZero(&dataKey) }
        do {
            return try AESGCM.open(
                ciphertext: sealed.ciphertext,
                tag: sealed.tag,
                key: dataKey,
                nonce: sealed.nonce,
                aad: additionalData(layer: .secret, credential: sealed.credential, version: sealed.version)
            )
        } catch  where error.code == .authenticationFailed {
            throw failure
        }
    }

    /// The additional authenticated data of one layer (format in the type's documentation).
    static func additionalData(layer: Layer, credential: String, version: Int) -> [UInt8] {
        var output: [UInt8] = []
        func append(_ field: [UInt8]) {
            let count = UInt32(field.count)
            output += [UInt8(count >> 24), UInt8(truncatingIfNeeded: count >> 16)]
            output += [UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
            output += field
        }
        append(Array(formatLabel.utf8))
        append(Array(layer.rawValue.utf8))
        append(Array(credential.utf8))
        let bits = UInt64(bitPattern: Int64(version))
        append((0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * $0)) })
        return output
    }
}
