import Foundation
public import TenureCore

/// What a credential is the secret of, and so how it is rotated.
public enum CredentialKind: Sendable, Hashable, Codable {
    /// An LDAP service account, rotated by Password Modify.
    case ldapAccount(dn: String)
    /// A program that receives the new secret on stdin.
    case command(path: String)
}

/// A credential the vault manages (its secrets are in `CredentialVersion`s).
public struct CredentialRecord: Sendable, Hashable {
    /// Unique, `[A-Za-z0-9._-]+`.
    public var name: String
    public var kind: CredentialKind
    /// The password policy, as opaque JSON (the vault module owns its type).
    public var policyJSON: String
    /// Rotate when the current secret is older than this.
    public var maxAgeSeconds: Double?
    /// Rotate after each check-in.
    public var oneTime: Bool
    /// A check-out needs a valid TOTP code.
    public var requiresMFA: Bool
    /// At most one open check-out at a time.
    public var exclusiveCheckout: Bool
    /// Seconds since 1970.
    public var createdAt: Double

    public init(
        name: String,
        kind: CredentialKind,
        policyJSON: String,
        maxAgeSeconds: Double? = nil,
        oneTime: Bool = false,
        requiresMFA: Bool = false,
        exclusiveCheckout: Bool = false,
        createdAt: Double
    ) {
        self.name = name
        self.kind = kind
        self.policyJSON = policyJSON
        self.maxAgeSeconds = maxAgeSeconds
        self.oneTime = oneTime
        self.requiresMFA = requiresMFA
        self.exclusiveCheckout = exclusiveCheckout
        self.createdAt = createdAt
    }

    /// Whether `name` is a valid credential name: `[A-Za-z0-9._-]+`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    return true
                default:
                    return false
                }
            }
    }
}

/// Where a secret version is in its life: `pending` (stored, not yet confirmed by the target),
/// then `current` (the target took it) and later `retired`, or `abandoned` (the target never took it).
public enum CredentialVersionState: String, Sendable, Hashable {
    case pending, current, retired, abandoned
}

/// One secret of a credential. Versions are never deleted.
public struct CredentialVersion: Sendable, Hashable {
    /// 1, 2, 3 … per credential.
    public var version: Int
    public var state: CredentialVersionState
    /// The encrypted secret (opaque; never decoded by the store).
    public var sealed: String
    public var createdAt: Double
    /// When it became current, retired or abandoned.
    public var settledAt: Double?

    public init(
        version: Int,
        state: CredentialVersionState,
        sealed: String,
        createdAt: Double,
        settledAt: Double? = nil
    ) {
        self.version = version
        self.state = state
        self.sealed = sealed
        self.createdAt = createdAt
        self.settledAt = settledAt
    }
}

/// A credential with its current and pending secrets and its rotation state.
public struct CredentialStatus: Sendable, Hashable {
    public var record: CredentialRecord
    /// At most one.
    public var current: CredentialVersion?
    /// At most one.
    public var pending: CredentialVersion?
    /// Consecutive rotation failures (cleared when a version is promoted).
    public var failures: Int
    /// The last rotation failure's message. Never a secret (the caller's duty).
    public var lastError: String?
    /// When to try rotating again after a failure.
    public var nextAttemptAt: Double?

    public init(
        record: CredentialRecord,
        current: CredentialVersion? = nil,
        pending: CredentialVersion? = nil,
        failures: Int = 0,
        lastError: String? = nil,
        nextAttemptAt: Double? = nil
    ) {
        self.record = record
        self.current = current
        self.pending = pending
        self.failures = failures
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
    }
}

/// One hand-out of a credential's secret to a person: who saw which version, when, and when they
/// gave it back. Check-outs are never deleted (a leaver's look-back reads them). Never holds a secret.
public struct CredentialCheckout: Sendable, Hashable {
    /// Unique (chosen by the caller).
    public var id: String
    /// The credential checked out.
    public var name: String
    /// Who checked it out (an identity id).
    public var identityID: String
    public var username: String?
    /// The version handed out.
    public var version: Int
    /// No other open check-out of the credential while this one is open.
    public var exclusive: Bool
    /// Seconds since 1970.
    public var checkedOutAt: Double
    /// When it must be checked in by.
    public var dueAt: Double?
    /// When it was checked in; nil while open.
    public var checkedInAt: Double?

    public init(
        id: String,
        name: String,
        identityID: String,
        username: String? = nil,
        version: Int,
        exclusive: Bool = false,
        checkedOutAt: Double,
        dueAt: Double? = nil,
        checkedInAt: Double? = nil
    ) {
        self.id = id
        self.name = name
        self.identityID = identityID
        self.username = username
        self.version = version
        self.exclusive = exclusive
        self.checkedOutAt = checkedOutAt
        self.dueAt = dueAt
        self.checkedInAt = checkedInAt
    }

    /// Not checked in yet.
    public var isOpen: Bool { self.checkedInAt == nil }
}

/// The credential vault's storage. Secrets arrive sealed and are stored as given. Every mutation
/// and its audit events commit in one transaction: a mutation that fails appends nothing.
///
/// Errors are `StoreError`s (messages name the credential and version, never a sealed value):
/// `.unknownPlan` for a credential, version or check-out that does not exist (there is no
/// vault-specific code yet), `.invalidStatus` for a step the current state refuses (the name exists,
/// a pending version exists, the version is not the pending one, the check-out id exists or is
/// already checked in, an exclusive check-out conflicts), `.invalidEvent` for a value the store
/// refuses (a bad name, an empty sealed secret or id, a time that is not a finite number; or an
/// audit event it cannot store),
/// `.corruptData` for rows that do not decode.
public protocol VaultStore: Sendable {
    /// Where the per-credential rotation locks live: shared by every process using this vault.
    var credentialLockDirectory: String { get }
    /// Adds a credential, with its first secret (version 1, current) when given. Error if the name exists.
    func addCredential(_ record: CredentialRecord, initialSecret sealed: String?, audit: [AuditEvent]) async throws
    /// Every credential, sorted by name.
    func credentialStatuses() async throws -> [CredentialStatus]
    /// The credential named `name`, or nil.
    func credentialStatus(named name: String) async throws -> CredentialStatus?
    /// All versions of the credential, by version (empty for an unknown credential).
    func versions(of name: String) async throws -> [CredentialVersion]
    /// The highest version number the credential has had (nil for an unknown credential): one index
    /// seek, where `versions(of:)` reads every secret it ever had.
    func highestVersion(of name: String) async throws -> Int?
    /// Stores the next version as PENDING (version = highest + 1), created `at` (the caller's
    /// clock: a rotator's lease on pending versions is measured on it), and commits, recording the
    /// id of the request that asked for it (unique): a caller that may run twice for one request (a
    /// resumed plan) finds the version with `version(forRequest:)`. Error if a pending one exists.
    func addPendingVersion(
        of name: String,
        sealed: String,
        requestID: String?,
        at time: Double,
        audit: [AuditEvent]
    ) async throws -> Int

    /// The version made for a request, with its credential's name.
    func version(forRequest requestID: String) async throws -> (name: String, version: CredentialVersion)?
    /// pending → current; the previous current → retired, both settled `at`; clears failures.
    /// Error unless `version` is the pending one.
    func promote(_ name: String, version: Int, at time: Double, audit: [AuditEvent]) async throws
    /// pending → abandoned (the target never took it), settled `at`. Error unless `version` is the
    /// pending one.
    func abandon(_ name: String, version: Int, at time: Double, audit: [AuditEvent]) async throws
    /// Records a failed attempt: failures += 1, lastError, nextAttemptAt.
    func recordRotationFailure(_ name: String, error: String, nextAttemptAt: Double, audit: [AuditEvent]) async throws
    /// `recordRotationFailure`, only while version `ifCurrentVersion` (nil: none) is the current
    /// one, in the same transaction; whether it was recorded (and audited).
    func recordRotationFailure(
        _ name: String,
        error: String,
        nextAttemptAt: Double,
        ifCurrentVersion: Int?,
        audit: [AuditEvent]
    ) async throws -> Bool

    // MARK: Check-outs

    /// Records a new, open check-out. Error for an unknown credential or version, an id already
    /// used, an empty id or identity, a time that is not finite, a due time before the check-out, a
    /// check-out given as already checked in, or an exclusivity conflict: an exclusive check-out
    /// needs no other open check-out of the credential, and none can be added while an exclusive
    /// one is open (checked in the same transaction as the insert).
    func recordCheckout(_ checkout: CredentialCheckout, audit: [AuditEvent]) async throws
    /// Closes the open check-out `id` at `at` and returns it, checked in. Error if there is no such
    /// check-out, it is already checked in, or `at` is not finite.
    func checkIn(id: String, at: Double, audit: [AuditEvent]) async throws -> CredentialCheckout
    /// The check-out `id`, or nil.
    func checkout(id: String) async throws -> CredentialCheckout?
    /// The open check-outs of credential `name`, by check-out time then id.
    func openCheckouts(of name: String) async throws -> [CredentialCheckout]

    /// Every check-out still open whose due time is at or before `time`, oldest first.
    func openCheckouts(dueBy time: Double) async throws -> [CredentialCheckout]
    /// Every check-out made at or after `since`, and every one still open (whenever it was made), by
    /// check-out time then id: what a leaver's look-back reads.
    func checkouts(since: Double) async throws -> [CredentialCheckout]
    /// The same, for one identity.
    func checkouts(identityID: String, since: Double) async throws -> [CredentialCheckout]
}

extension VaultStore {
    /// `addPendingVersion` for no request, now by the wall clock.
    public func addPendingVersion(of name: String, sealed: String, audit: [AuditEvent]) async throws -> Int {
        try await self.addPendingVersion(
            of: name,
            sealed: sealed,
            requestID: nil,
            at: Date().timeIntervalSince1970,
            audit: audit
        )
    }

    /// `promote`, now by the wall clock.
    public func promote(_ name: String, version: Int, audit: [AuditEvent]) async throws {
        try await self.promote(name, version: version, at: Date().timeIntervalSince1970, audit: audit)
    }

    /// `abandon`, now by the wall clock.
    public func abandon(_ name: String, version: Int, audit: [AuditEvent]) async throws {
        try await self.abandon(name, version: version, at: Date().timeIntervalSince1970, audit: audit)
    }
}
