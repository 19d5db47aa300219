#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Secret key files (the audit key, the vault master key): created owner-only, read only when
/// nobody else can read or write them. One implementation, so the permission rules cannot drift
/// apart between the keys. Errors name the file and the problem, never the key.
public enum KeyFile {
    /// Creates `path` holding `bytes`: mode 0600, never overwriting an existing file or following a
    /// symlink, synced (file and directory); a partly written file is removed.
    public static func create(at path: String, bytes: [UInt8], what: String) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw KeyFileError(.exists, path: path, "refusing to overwrite the existing \(what) file \(path)")
            }
            throw KeyFileError(.io, path: path, "cannot create the \(what) file \(path): \(describe(code))")
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        // The umask can only remove bits; set the mode explicitly anyway.
        guard fchmod(fd, 0o600) == 0 else {
            throw KeyFileError(.io, path: path, "cannot set mode 0600 on \(path): \(describe(errno))")
        }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw KeyFileError(.io, path: path, "cannot write the \(what) file \(path): \(describe(errno))")
            }
            written += result
        }
        guard fsync(fd) == 0 else {
            throw KeyFileError(.io, path: path, "cannot sync the \(what) file \(path): \(describe(errno))")
        }
        syncParentDirectory(of: path)
        ok = true
    }

    /// Reads exactly `length` bytes from a regular file that only its owner may access. The caller
    /// wipes the returned bytes when done.
    public static func read(path: String, length: Int, what: String) throws(KeyFileError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw KeyFileError(.missing, path: path, "the \(what) file \(path) does not exist")
            }
            throw KeyFileError(.io, path: path, "cannot open the \(what) file \(path): \(describe(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw KeyFileError(.io, path: path, "cannot stat the \(what) file \(path): \(describe(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw KeyFileError(.notRegular, path: path, "the \(what) file \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            throw KeyFileError(
                .insecurePermissions,
                path: path,
                "the \(what) file \(path) is accessible by group or others (mode \(String(mode, radix: 8))); "
                    + "run chmod 600 on it"
            )
        }
        // Owned by someone else, the key is theirs to read or replace whatever its mode: a server
        // running as root must not take a key an unprivileged user owns.
        guard info.st_uid == geteuid() || info.st_uid == 0 else {
            throw KeyFileError(
                .insecurePermissions,
                path: path,
                "the \(what) file \(path) is owned by uid \(info.st_uid), not by this user (uid \(geteuid())) "
                    + "or root; chown it"
            )
        }
        guard info.st_size == length else {
            throw KeyFileError(
                .wrongLength,
                path: path,
                "the \(what) file \(path) must hold exactly \(length) bytes, not \(info.st_size)"
            )
        }
        var bytes = [UInt8](repeating: 0, count: length)
        let count = try readFully(fd, into: &bytes, path: path, what: what)
        var extra: [UInt8] = [0]
        let more = try readFully(fd, into: &extra, path: path, what: what)
        guard count == length, more == 0 else {
            secureZero(&bytes)
            // Only when the file changes between fstat and read.
            throw KeyFileError(.wrongLength, path: path, "the \(what) file \(path) must hold exactly \(length) bytes")
        }
        return bytes
    }
}

/// Why a key file could not be created or read.
public struct KeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: String, Hashable, Sendable {
        case missing
        case exists
        case notRegular
        case insecurePermissions
        case wrongLength
        case io
    }

    public var reason: Reason
    public var path: String
    public var message: String

    public init(_ reason: Reason, path: String, _ message: String) {
        self.reason = reason
        self.path = path
        self.message = message
    }

    public var description: String { self.message }
}

private func readFully(_ fd: Int32, into buffer: inout [UInt8], path: String, what: String) throws(KeyFileError)
    -> Int
{
    var count = 0
    while count < buffer.count {
        let result = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if result < 0 {
            if errno == EINTR { continue }
            throw KeyFileError(.io, path: path, "cannot read the \(what) file \(path): \(describe(errno))")
        }
        if result == 0 { break }
        count += result
    }
    return count
}

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
