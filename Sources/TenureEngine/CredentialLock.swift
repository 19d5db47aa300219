import Foundation
import TenureCrypto

#if canImport(Glibc)
import Glibc
#endif

/// One rotation of a credential at a time, across processes: an exclusive `flock` on a file per
/// credential in the vault's lock directory (next to its database). `tenure serve` (check-ins, the
/// sweeper's retries), `tenure sync` (leaver rotations, maintenance) and `tenure vault rotate` all
/// take it before they touch a credential's versions, so none settles another's pending version
/// while that rotation is still running. The kernel drops the lock when its holder exits, even on
/// SIGKILL; a pending version found under the lock is therefore an orphan, safe to settle.
///
/// A check-out in `tenure serve` holds it too, for the moment it takes to record the check-out
/// (`CredentialRotator.checkoutLock`): no secret is handed out while a rotation of it runs, and a
/// rotation that comes after sees the check-out.
///
/// `flock` locks belong to an open file description: two holders in one process exclude each other
/// as two processes do.
enum CredentialLock {
    /// Takes the lock on `name`, waiting up to `timeout` for its holder. Throws
    /// `CredentialLockError.held` naming the holder when it is still held then. The lock is held
    /// for as long as the returned `SyncLock` lives.
    static func acquire(
        _ name: String,
        in directory: String,
        purpose: String,
        timeout: Duration
    ) async throws -> SyncLock {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw CredentialLockError.cannotOpen(path: directory, reason: String(cString: strerror(errno)))
        }
        // Names may be long; the file says which credential it is for.
        let path = directory + "/credential-" + hex(Digest.sha256(Array(name.utf8)).prefix(16)) + ".lock"
        do {
            return try await SyncLock.acquire(path: path, purpose: "\(purpose) of \(name)", waitingUpTo: timeout)
        } catch SyncLockError.held(_, let holder) {
            throw CredentialLockError.held(credential: name, holder: holder)
        } catch SyncLockError.cannotOpen(let path, let reason) {
            throw CredentialLockError.cannotOpen(path: path, reason: reason)
        }
    }

    /// Tries once; nil when another holder has it.
    static func attempt(_ name: String, in directory: String, purpose: String) async throws -> SyncLock? {
        do {
            return try await Self.acquire(name, in: directory, purpose: purpose, timeout: .zero)
        } catch CredentialLockError.held {
            return nil
        }
    }
}

public enum CredentialLockError: Error, CustomStringConvertible, Sendable {
    case held(credential: String, holder: String)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let credential, let holder):
            "credential \(credential) is in use elsewhere (\(holder)); try again when that has finished"
        case .cannotOpen(let path, let reason):
            "cannot open the credential lock \(path): \(reason)"
        }
    }
}
