import TenureCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The secret key that MACs the audit log: 32 random bytes kept in a file only its owner can read.
///
/// The bytes never appear in a description, a debug description, a mirror (`dump`) or an error.
public struct AuditKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The key length in bytes.
    public static let length = 32

    private let storage: SecretBytes

    /// A key from its bytes (exactly 32), e.g. one held by a secrets manager.
    public init(bytes: [UInt8]) throws(AuditKeyError) {
        guard bytes.count == Self.length else {
            throw AuditKeyError(path: nil, "an audit key must be \(Self.length) bytes, not \(bytes.count)")
        }
        self.storage = SecretBytes(copying: bytes)
    }

    /// A new random key, in memory only (tests, throwaway stores).
    public static func random() throws -> AuditKey {
        var bytes = try SecureRandom.bytes(Self.length)
        defer { secureZero(&bytes) }
        return try AuditKey(bytes: bytes)
    }

    /// Creates a new random key and writes it to `path` (created with mode 0600). Refuses to overwrite
    /// an existing file: losing the key makes the existing audit log unverifiable.
    public static func generate(at path: String) throws(AuditKeyError) -> AuditKey {
        var bytes: [UInt8]
        do {
            bytes = try SecureRandom.bytes(Self.length)
        } catch {
            throw AuditKeyError(path: path, "cannot generate an audit key for \(path): \(error)")
        }
        defer { secureZero(&bytes) }
        do {
            try KeyFile.create(at: path, bytes: bytes, what: "audit key")
        } catch {
            throw AuditKeyError(path: path, error.message)
        }
        return try AuditKey(bytes: bytes)
    }

    /// Reads the key at `path`. Refuses a missing file, one that is not a regular file, one readable
    /// or writable by group or others (mode & 0o077), and one that does not hold exactly 32 bytes.
    public static func load(path: String) throws(AuditKeyError) -> AuditKey {
        var bytes: [UInt8]
        do {
            bytes = try KeyFile.read(path: path, length: Self.length, what: "audit key")
        } catch {
            throw AuditKeyError(path: path, error.message)
        }
        defer { secureZero(&bytes) }
        return try AuditKey(bytes: bytes)
    }

    /// The key bytes, for the MAC only.
    var bytes: [UInt8] { self.storage.bytes }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "AuditKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

}

/// The audit key could not be created, read or accepted. Names the file; never the key.
public struct AuditKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The key file concerned, when there is one.
    public var path: String?
    public var message: String

    init(path: String?, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { self.message }
}
