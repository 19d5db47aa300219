import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Only one sync applies at a time: an exclusive `flock` on `<database>.lock`. The kernel drops the
/// lock when the holder exits — even on SIGKILL — so a crashed run never blocks the next one. The
/// file holds who has the lock (pid, host, start time) for the one that has to wait.
public final class SyncLock: Sendable {
    private let descriptor: Int32
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Takes the lock or throws `SyncLockError.held` naming the holder.
    public static func acquire(path: String, purpose: String) throws -> SyncLock {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SyncLockError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw SyncLockError.held(path: path, holder: holder?.isEmpty == false ? holder! : "another process")
        }
        let host = ProcessInfo.processInfo.hostName
        let since = ISO8601DateFormatter().string(from: Date())
        let text = "\(purpose) by pid \(getpid()) on \(host) since \(since)\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return SyncLock(descriptor: descriptor, path: path)
    }

    /// Takes the lock, waiting up to `timeout` for its holder (polled every 50 ms, without holding a
    /// thread); throws `SyncLockError.held` naming the holder when it is still held then.
    public static func acquire(path: String, purpose: String, waitingUpTo timeout: Duration) async throws
        -> SyncLock
    {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                return try Self.acquire(path: path, purpose: purpose)
            } catch SyncLockError.held where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    deinit {
        _ = ftruncate(self.descriptor, 0)
        flock(self.descriptor, LOCK_UN)
        close(self.descriptor)
    }
}

public enum SyncLockError: Error, CustomStringConvertible, Sendable {
    case held(path: String, holder: String)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let path, let holder):
            "another sync is running: the lock \(path) is held (\(holder)); try again when it has finished"
        case .cannotOpen(let path, let reason):
            "cannot open the sync lock \(path): \(reason)"
        }
    }
}
