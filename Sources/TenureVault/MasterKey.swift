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

    private let storage: Storage

    /// A key from its bytes (exactly 32), e.g. for tests or one held by a secrets manager.
    public init(bytes: [UInt8]) throws(VaultError) {
        guard bytes.count == Self.length else {
            throw VaultError(.invalidKey, "a master key must be \(Self.length) bytes, not \(bytes.count)")
        }
        self.storage = Storage(bytes)
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
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw VaultError(
                    .keyFileExists,
                    "refusing to overwrite the existing master key file \(path)",
                    path: path
                )
            }
            throw VaultError(.keyFileIO, "cannot create the master key file \(path): \(describe(code))", path: path)
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        // The umask can only remove bits; set the mode explicitly anyway.
        guard fchmod(fd, 0o600) == 0 else {
            throw VaultError(.keyFileIO, "cannot set mode 0600 on \(path): \(describe(errno))", path: path)
        }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw VaultError(.keyFileIO, "cannot write the master key file \(path): \(describe(errno))", path: path)
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            throw VaultError(.keyFileIO, "cannot sync the master key file \(path): \(describe(errno))", path: path)
        }
        syncParentDirectory(of: path)
        ok = true
        return try MasterKey(bytes: bytes)
    }

    /// Reads the key at `path`. Refuses a missing file, one that is not a regular file, one readable
    /// or writable by group or others (mode & 0o077), and one that does not hold exactly 32 bytes.
    public static func load(path: String) throws(VaultError) -> MasterKey {
        // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw VaultError(.keyFileMissing, "the master key file \(path) does not exist", path: path)
            }
            throw VaultError(.keyFileIO, "cannot open the master key file \(path): \(describe(code))", path: path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw VaultError(.keyFileIO, "cannot stat the master key file \(path): \(describe(errno))", path: path)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw VaultError(.keyFileNotRegular, "the master key file \(path) is not a regular file", path: path)
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            throw VaultError(
                .keyFileInsecurePermissions,
                "the master key file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); "
                    + "chmod 600 it",
                path: path
            )
        }
        guard info.st_size == Self.length else {
            throw VaultError(
                .keyFileWrongLength,
                "the master key file \(path) must hold exactly \(Self.length) bytes, not \(info.st_size)",
                path: path
            )
        }
        var bytes = [UInt8](repeating: 0, count: Self.length)
        defer { secureZero(&bytes) }
        let count = try readFully(fd, into: &bytes, path: path)
        var extra: [UInt8] = [0]
        let more = try readFully(fd, into: &extra, path: path)
        guard count == Self.length, more == 0 else {
            // Only when the file changes between fstat and read.
            throw VaultError(
                .keyFileWrongLength,
                "the master key file \(path) must hold exactly \(Self.length) bytes",
                path: path
            )
        }
        return try MasterKey(bytes: bytes)
    }

    /// The key bytes, for wrapping data keys only.
    var bytes: [UInt8] { self.storage.bytes }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "MasterKey(<redacted>)" }
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

/// `count` bytes from the secure random generator, with its failure as a ``VaultError``.
func randomBytes(_ count: Int, purpose: String) throws(VaultError) -> [UInt8] {
    do {
        return try SecureRandom.bytes(count)
    } catch {
        throw VaultError(.randomFailure, "cannot generate \(purpose): \(error)")
    }
}

/// Reads until `buffer` is full or the file ends; returns how many bytes were read.
private func readFully(_ fd: Int32, into buffer: inout [UInt8], path: String) throws(VaultError) -> Int {
    var count = 0
    while count < buffer.count {
        let result = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if result < 0 {
            if errno == EINTR { continue }
            throw VaultError(.keyFileIO, "cannot read the master key file \(path): \(describe(errno))", path: path)
        }
        if result == 0 { break }
        count += result
    }
    return count
}

/// Best effort: makes the new directory entry durable too (a crash right after `generate` must not
/// lose the key file while the caller already sealed secrets under it).
private func syncParentDirectory(of path: String) {
    let directory: String
    if let slash = path.lastIndex(of: "/") {
        directory = slash == path.startIndex ? "/" : String(path[..<slash])
    } else {
        directory = "."
    }
    let fd = open(directory, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
}

private func describe(_ code: Int32) -> String {
    String(cString: strerror(code))
}
