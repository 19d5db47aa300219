import TenureCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The vault's key-encryption key: 32 random bytes kept in a file only its owner can read. It wraps
/// (encrypts) the per-secret data keys; it never encrypts a secret directly.
///
/// The bytes never appear in a description, a debug description, a mirror (`dump`) or an error, and
/// are wiped when the last copy of the key goes away.
public struct MasterKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The key length in bytes (AES-256).
    public static let length = 32

    private let storage: SecretBytes

    /// A key from its bytes (exactly 32), e.g. for tests or one held by a secrets manager.
    public init(bytes: [UInt8]) throws(VaultError) {
        guard bytes.count == Self.length else {
            throw VaultError(.invalidKey, "a master key must be \(Self.length) bytes, not \(bytes.count)")
        }
        self.storage = SecretBytes(copying: bytes)
    }

    /// A new random key, in memory only (tests, throwaway vaults).
    public static func random() throws(VaultError) -> MasterKey {
        var bytes = try randomBytes(Self.length, purpose: "a master key")
        defer { secureZero(&bytes) }
        return try MasterKey(bytes: bytes)
    }

    /// Creates a new random key and writes it to `path` (created with mode 0600, synced to disk).
    /// Refuses to overwrite an existing file: losing the master key loses every secret sealed under it.
    public static func generate(at path: String) throws(VaultError) -> MasterKey {
        var bytes = try randomBytes(Self.length, purpose: "a master key for \(path)")
        defer { secureZero(&bytes) }
        do {
            try KeyFile.create(at: path, bytes: bytes, what: "master key")
        } catch {
            throw VaultError(error)
        }
        return try MasterKey(bytes: bytes)
    }

    /// Reads the key at `path`. Refuses a missing file, one that is not a regular file, one readable
    /// or writable by group or others (mode & 0o077), and one that does not hold exactly 32 bytes.
    public static func load(path: String) throws(VaultError) -> MasterKey {
        var bytes: [UInt8]
        do {
            bytes = try KeyFile.read(path: path, length: Self.length, what: "master key")
        } catch {
            throw VaultError(error)
        }
        defer { secureZero(&bytes) }
        return try MasterKey(bytes: bytes)
    }

    var bytes: [UInt8] { self.storage.bytes }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "MasterKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

}

/// `count` bytes from the secure random generator, with its failure as a ``VaultError``.
func randomBytes(_ count: Int, purpose: String) throws(VaultError) -> [UInt8] {
    do {
        return try SecureRandom.bytes(count)
    } catch {
        throw VaultError(.randomFailure, "cannot generate \(purpose): \(error)")
    }
}

extension VaultError {
    /// A key-file problem as a vault error (same message, the matching code).
    init(_ error: KeyFileError) {
        let code: Code =
            switch error.reason {
            case .missing: .keyFileMissing
            case .exists: .keyFileExists
            case .notRegular: .keyFileNotRegular
            case .insecurePermissions: .keyFileInsecurePermissions
            case .wrongLength: .keyFileWrongLength
            case .io: .keyFileIO
            }
        self.init(code, error.message, path: error.path)
    }
}
