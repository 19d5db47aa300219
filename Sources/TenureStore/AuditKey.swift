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

    private let storage: Storage

    /// A key from its bytes (exactly 32), e.g. one held by a secrets manager.
    public init(bytes: [UInt8]) throws(AuditKeyError) {
        guard bytes.count == Self.length else {
            throw AuditKeyError(path: nil, "an audit key must be \(Self.length) bytes, not \(bytes.count)")
        }
        self.storage = Storage(bytes)
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
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw AuditKeyError(path: path, "refusing to overwrite the existing audit key file \(path)")
            }
            throw AuditKeyError(path: path, "cannot create the audit key file \(path): \(describe(code))")
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        // The umask can only remove bits; set the mode explicitly anyway.
        guard fchmod(fd, 0o600) == 0 else {
            throw AuditKeyError(path: path, "cannot set mode 0600 on \(path): \(describe(errno))")
        }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw AuditKeyError(path: path, "cannot write the audit key file \(path): \(describe(errno))")
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            throw AuditKeyError(path: path, "cannot sync the audit key file \(path): \(describe(errno))")
        }
        ok = true
        return try AuditKey(bytes: bytes)
    }

    /// Reads the key at `path`. Refuses a missing file, one that is not a regular file, one readable
    /// or writable by group or others (mode & 0o077), and one that does not hold exactly 32 bytes.
    public static func load(path: String) throws(AuditKeyError) -> AuditKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw AuditKeyError(path: path, "the audit key file \(path) does not exist")
            }
            throw AuditKeyError(path: path, "cannot open the audit key file \(path): \(describe(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw AuditKeyError(path: path, "cannot stat the audit key file \(path): \(describe(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw AuditKeyError(path: path, "the audit key file \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            throw AuditKeyError(
                path: path,
                "the audit key file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); "
                    + "run chmod 600 on it"
            )
        }
        guard info.st_size == Self.length else {
            throw AuditKeyError(
                path: path,
                "the audit key file \(path) must hold exactly \(Self.length) bytes, not \(info.st_size)"
            )
        }
        var bytes = [UInt8](repeating: 0, count: Self.length)
        defer { secureZero(&bytes) }
        let count = try readFully(fd, into: &bytes, path: path)
        var extra: [UInt8] = [0]
        let more = try readFully(fd, into: &extra, path: path)
        guard count == Self.length, more == 0 else {
            // Only when the file changes between fstat and read.
            throw AuditKeyError(path: path, "the audit key file \(path) must hold exactly \(Self.length) bytes")
        }
        return try AuditKey(bytes: bytes)
    }

    /// The key bytes, for the MAC only.
    var bytes: [UInt8] { self.storage.bytes }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "AuditKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Owns the key bytes and wipes them when the last copy of the key goes away.
    ///
    /// `@unchecked Sendable`: `bytes` is written only by `init` and `deinit`, when no other reference
    /// exists.
    private final class Storage: @unchecked Sendable {
        private(set) var bytes: [UInt8]

        init(_ source: [UInt8]) {
            // A private copy, so wiping it in deinit cannot be defeated by copy-on-write sharing.
            self.bytes = [UInt8](unsafeUninitializedCapacity: source.count) { buffer, count in
                _ = buffer.initialize(from: source)
                count = source.count
            }
        }

        deinit {
            secureZero(&self.bytes)
        }
    }
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

/// Reads until `buffer` is full or the file ends; returns how many bytes were read.
private func readFully(_ fd: Int32, into buffer: inout [UInt8], path: String) throws(AuditKeyError) -> Int {
    var count = 0
    while count < buffer.count {
        let result = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if result < 0 {
            if errno == EINTR { continue }
            throw AuditKeyError(path: path, "cannot read the audit key file \(path): \(describe(errno))")
        }
        if result == 0 { break }
        count += result
    }
    return count
}

private func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
}
