import Foundation
public import LDAPClient
public import Logging
import TenureCore
public import TenureStore
public import TenureVault

#if canImport(Glibc)
import Glibc
#endif

/// Rotates vault credentials without ever losing a password.
///
/// Two phases: the new secret is sealed and committed as a PENDING version first; then the target
/// is changed (LDAP Password Modify, bound as the account with its current secret); then the new
/// secret is verified by binding with it, and only then promoted to current. If anything fails or
/// the process dies between the steps, `reconcile` settles the state by trying both secrets:
/// the pending one binds → promote; only the current one binds → abandon the pending one; neither →
/// keep both and report (a person must look). Every step is audited; no secret is ever logged,
/// audited or put in an error.
public struct CredentialRotator: Sendable {
    public var store: any VaultStore
    public var masterKey: MasterKey
    /// Server URLs, TLS and timeouts for binding as the accounts (the bind itself is per account).
    public var ldap: LDAPConnectionOptions
    public var logger: Logger
    public var actor: String
    public var now: @Sendable () -> Double

    public init(
        store: any VaultStore,
        masterKey: MasterKey,
        ldap: LDAPConnectionOptions,
        logger: Logger,
        actor: String,
        now: (@Sendable () -> Double)? = nil
    ) {
        self.store = store
        self.masterKey = masterKey
        self.ldap = ldap
        self.logger = logger
        self.actor = actor
        self.now = now ?? { Date().timeIntervalSince1970 }
    }

    /// How a rotation or reconciliation ended.
    public enum Outcome: Sendable, Hashable {
        /// The new version is current and binds.
        case rotated(version: Int)
        /// The target kept its current secret; the pending version was abandoned.
        case unchanged(reason: String)
        /// Nothing to do (no pending version).
        case nothingPending
        /// Neither secret binds, or the target cannot be checked: both versions are kept.
        case needsAttention(reason: String)
    }

    public struct RotationError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// What a check-in did.
    public struct CheckInResult: Sendable, Hashable {
        /// The check-out, checked in.
        public var checkout: CredentialCheckout
        /// The outcome of rotating a one-time credential; nil when the credential is not one-time
        /// (no rotation needed).
        public var rotation: Outcome?

        public init(checkout: CredentialCheckout, rotation: Outcome?) {
            self.checkout = checkout
            self.rotation = rotation
        }
    }

    /// One maintenance step `maintain()` took for a credential.
    public struct MaintenanceResult: Sendable, Hashable {
        /// Why the step ran.
        public enum Trigger: String, Sendable, Hashable {
            /// A pending version was left (a crash or failure between the rotation's steps).
            case reconcile
            /// An earlier rotation failed and its back-off has passed.
            case retry
            /// The current secret is older than the credential's max age.
            case maxAge
        }

        public var name: String
        public var trigger: Trigger
        /// How the step ended. A step that threw is recorded as a rotation failure and reported as
        /// `.needsAttention` with the error's message.
        public var outcome: Outcome

        public init(name: String, trigger: Trigger, outcome: Outcome) {
            self.name = name
            self.trigger = trigger
            self.outcome = outcome
        }
    }

    /// Adds a credential with its current secret as version 1.
    public func enroll(
        name: String,
        kind: CredentialKind,
        currentSecret: String,
        policy: PasswordPolicy,
        maxAgeSeconds: Double? = nil,
        oneTime: Bool = false,
        requiresMFA: Bool = false,
        exclusiveCheckout: Bool = false
    ) async throws {
        try policy.validate()
        let sealed = try Self.encode(
            Envelope.seal(Array(currentSecret.utf8), credential: name, version: 1, masterKey: self.masterKey)
        )
        let policyJSON = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
        let record = CredentialRecord(
            name: name,
            kind: kind,
            policyJSON: policyJSON,
            maxAgeSeconds: maxAgeSeconds,
            oneTime: oneTime,
            requiresMFA: requiresMFA,
            exclusiveCheckout: exclusiveCheckout,
            createdAt: self.now()
        )
        try await self.store.addCredential(
            record,
            initialSecret: sealed,
            audit: [self.event("credential.added", name, details: ["version": "1", "target": Self.describe(kind)])]
        )
    }

    /// How long a rotation waits for another one of the same credential to finish (a rotation takes
    /// a few LDAP round trips; this allows for their timeouts). `tenure serve` waits less: its
    /// writes take turns, and a wait holds up every other one.
    public var lockWait: Duration = .seconds(120)

    /// How long a `--command` credential's program has to finish; one that takes longer is stopped
    /// and the rotation needs attention (`RotationProgram`). The commands set it from
    /// `state.rotationProgramTimeLimitSeconds`.
    public var commandTimeLimit: Duration = .seconds(120)

    /// Whether the command is being interrupted (`RotationProgramInterrupts`): then no program is
    /// started. Process-wide; tests set their own.
    var isInterrupted: @Sendable () -> Bool = { RotationProgram.isInterrupted }

    /// Rotates one credential (settling an interrupted rotation first). Waits for a rotation of the
    /// same credential running elsewhere (`CredentialLock`).
    public func rotate(_ name: String, reason: String) async throws -> Outcome {
        try await self.locked(name) {
            try await self.performRotation(name, reason: reason, requestID: nil)
        }
    }

    /// Rotates for a request at most once: called again with the same request id (a resumed sync
    /// plan), it settles what the first call left instead of rotating a second time.
    public func rotate(_ name: String, reason: String, requestID: String) async throws -> Outcome {
        try await self.locked(name) {
            try await self.rotateLocked(name, reason: reason, requestID: requestID)
        }
    }

    /// `rotate(_:reason:requestID:)` for a caller that holds the credential's lock.
    private func rotateLocked(_ name: String, reason: String, requestID: String) async throws -> Outcome {
        if let earlier = try await self.store.version(forRequest: requestID) {
            switch earlier.version.state {
            case .current, .retired:
                return .rotated(version: earlier.version.version)
            case .pending:
                return try await self.reconcileLocked(earlier.name)
            case .abandoned:
                return .unchanged(reason: "the rotation for \(requestID) was attempted and abandoned")
            }
        }
        return try await self.performRotation(name, reason: reason, requestID: requestID)
    }

    /// The credential's lock for a check-out: nil while a rotation of it runs — here or in another
    /// process (`tenure vault rotate`, `tenure sync`) — and stays running for `wait`. A check-out
    /// that holds it until its record is written can never hand out a secret a running rotation is
    /// about to replace, and a rotation that takes it after sees the check-out (a max-age rotation
    /// then waits for it). The server waits a moment for it before it takes its coordinator (a
    /// maintenance pass that only looks holds it that long; a rotation may take minutes), then
    /// tries once inside.
    public func checkoutLock(_ name: String, holder: String, wait: Duration = .zero) async throws -> SyncLock? {
        do {
            return try await CredentialLock.acquire(
                name,
                in: self.store.credentialLockDirectory,
                purpose: "check-out by \(holder)",
                timeout: wait
            )
        } catch CredentialLockError.held {
            return nil
        }
    }

    /// Runs `body` holding the credential's lock, waiting up to `lockWait` for it. When the wait
    /// runs out, a failure is recorded before the error is thrown, so maintenance retries after its
    /// back-off: the rotation that held the lock either made a secret nobody has seen (what this one
    /// was for) or recorded a failure of its own — nothing that was due is lost. Not when a rotation
    /// has made a new secret current meanwhile: that is what this one was for, and a failure
    /// recorded after it would start a retry, which waits for no check-out.
    private func locked<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        let currentBefore = try await self.store.credentialStatus(named: name)?.current?.version
        let lock: SyncLock
        do {
            lock = try await CredentialLock.acquire(
                name,
                in: self.store.credentialLockDirectory,
                purpose: "rotation by \(self.actor)",
                timeout: self.lockWait
            )
        } catch let error as CredentialLockError {
            do {
                try await self.recordFailure(name, "\(error)", whileCurrent: currentBefore)
            } catch let recordError {
                self.logger.error(
                    "a rotation that could not take its credential's lock could not be recorded as failed",
                    metadata: ["credential": "\(name)", "error": "\(recordError)"]
                )
            }
            throw error
        }
        defer { withExtendedLifetime(lock) {} }
        return try await body()
    }

    /// Under the credential's lock: no other rotation of it is running, so a pending version found
    /// here is an orphan (its rotation died) and is settled before rotating again.
    private func performRotation(_ name: String, reason: String, requestID: String?) async throws -> Outcome {
        var status = try await self.status(name)
        if status.pending != nil {
            _ = try await self.reconcileLocked(name)
            status = try await self.status(name)
            if status.pending != nil {
                throw RotationError(
                    description: "credential \(name) has an unsettled pending version; see `tenure vault show \(name)`"
                )
            }
        }
        guard let current = status.current else {
            throw RotationError(description: "credential \(name) has no current secret to rotate from")
        }
        let policy = try JSONDecoder().decode(PasswordPolicy.self, from: Data(status.record.policyJSON.utf8))
        let old = try self.open(name, current)
        let new = try PasswordGenerator.generate(policy)
        let version = (try await self.store.highestVersion(of: name) ?? 0) + 1
        let sealed = try Self.encode(
            Envelope.seal(Array(new.utf8), credential: name, version: version, masterKey: self.masterKey)
        )

        // An interrupted command starts no program (`RotationProgramInterrupts`): no pending
        // version for one that will not run.
        if case .command = status.record.kind, self.isInterrupted() {
            // Recorded as failed, so maintenance rotates it later: a leaver's plan marks this entry
            // done, and the secret they knew must not stay.
            let reason = "not rotated: the command was interrupted"
            try await self.recordFailure(name, reason)
            throw RotationError(description: "credential \(name) was \(reason)")
        }

        // Phase 1: the new secret is safe (encrypted, committed) before the target changes.
        let stored = try await self.store.addPendingVersion(
            of: name,
            sealed: sealed,
            requestID: requestID,
            at: self.now(),
            audit: [
                self.event(
                    "credential.rotation.started",
                    name,
                    details: ["version": String(version), "reason": reason]
                )
            ]
        )
        guard stored == version else {
            throw RotationError(
                description: "credential \(name): stored pending version \(stored), expected \(version)"
            )
        }

        // Phase 2: change the target. Whatever happens, the bind checks below decide.
        var changeError: String?
        switch status.record.kind {
        case .ldapAccount(let dn):
            do {
                let connection = try await self.connect(as: dn, secret: LDAPSecret(old))
                do {
                    try await connection.changePassword(of: dn, to: LDAPSecret(new), old: LDAPSecret(old))
                } catch {
                    changeError = "\(error)"
                }
                await connection.close()
            } catch {
                changeError = "\(error)"
            }
        case .command(let path):
            switch await RotationProgram.run(path, secret: new, timeLimit: self.commandTimeLimit) {
            case .succeeded:
                try await self.promote(name, version, verified: ["verified": "command exit 0"])
                return .rotated(version: version)
            case .failed(let failure):
                // The program says it did not change the secret: the current one stays.
                try await self.abandon(name, version, failure: failure)
                return .unchanged(reason: failure)
            case .unknown(let failure):
                // Stopped or killed part-way: it may have set the new secret. Both are kept.
                let reason =
                    "\(failure); its result is unknown: check the target, then promote or abandon version \(version)"
                try await self.recordFailure(name, reason)
                return .needsAttention(reason: reason)
            }
        }
        // Phase 3: verify by binding, then promote (or settle).
        return try await self.settle(
            name,
            status.record.kind,
            pending: version,
            new: new,
            old: old,
            changeError: changeError
        )
    }

    /// Settles a credential left with a pending version (a crash or failure between the steps).
    /// Waits for a rotation of it running elsewhere, which settles its own version.
    public func reconcile(_ name: String) async throws -> Outcome {
        try await self.locked(name) { try await self.reconcileLocked(name) }
    }

    private func reconcileLocked(_ name: String) async throws -> Outcome {
        let status = try await self.status(name)
        guard let pending = status.pending else { return .nothingPending }
        let new = try self.open(name, pending)
        guard let current = status.current else {
            return .needsAttention(reason: "credential \(name) has a pending version but no current one")
        }
        let old = try self.open(name, current)
        return try await self.settle(
            name,
            status.record.kind,
            pending: pending.version,
            new: new,
            old: old,
            changeError: nil
        )
    }

    // MARK: - Check-in

    /// Checks in the check-out `checkoutID` (audited `credential.checkin`) and, when its credential
    /// is one-time, rotates it for request `checkin:<checkoutID>`. Safe to retry: a check-out already
    /// checked in is not recorded again, and the request id makes sure the credential is rotated at
    /// most once for it (a retry settles or reports what the first call left).
    /// - Parameters:
    ///   - actor: who checks in, as audited (the API's token); the rotator's own actor otherwise.
    ///   - requestID: the request that asked, recorded with the check-in.
    ///   - reason: why, when it is not the holder returning it (e.g. its due time passed).
    public func checkIn(
        checkoutID: String,
        actor: String? = nil,
        requestID: String? = nil,
        reason: String? = nil
    ) async throws -> CheckInResult {
        guard let checkout = try await self.store.checkout(id: checkoutID) else {
            throw RotationError(description: "there is no check-out \(checkoutID)")
        }
        let record = { try await self.recordCheckIn(checkout, actor: actor, requestID: requestID, reason: reason) }
        guard try await self.status(checkout.name).record.oneTime else {
            return CheckInResult(checkout: try await record(), rotation: nil)
        }
        // One-time: the credential's lock is held from the check-in to the end of the rotation, so
        // no check-out comes between them (it would get the secret about to be replaced).
        do {
            return try await self.locked(checkout.name) {
                let closed = try await record()
                let outcome = try await self.rotateLocked(
                    checkout.name,
                    reason: "one-time credential checked in (check-out \(checkoutID))",
                    requestID: "checkin:\(checkoutID)"
                )
                return CheckInResult(checkout: closed, rotation: outcome)
            }
        } catch let error as CredentialLockError {
            // Another rotation holds the credential. The check-in stands whatever the rotation
            // does: `locked` recorded the failure, so maintenance retries it.
            return CheckInResult(
                checkout: try await record(),
                rotation: .needsAttention(reason: "\(error); retried by maintenance")
            )
        }
    }

    /// Records the check-in of `checkout` (audited `credential.checkin`) unless it is checked in
    /// already; the check-out as stored after.
    private func recordCheckIn(
        _ checkout: CredentialCheckout,
        actor: String?,
        requestID: String?,
        reason: String?
    ) async throws -> CredentialCheckout {
        guard checkout.isOpen else { return checkout }
        var event = AuditEvent(
            time: self.now(),
            actor: actor ?? self.actor,
            type: "credential.checkin",
            subject: checkout.identityID,
            object: checkout.name,
            details: ["checkout": checkout.id, "version": String(checkout.version)]
        )
        if let requestID { event.details["request"] = requestID }
        if let reason { event.details["reason"] = reason }
        do {
            return try await self.store.checkIn(id: checkout.id, at: self.now(), audit: [event])
        } catch let error as StoreError where error.code == .invalidStatus {
            // Checked in by a concurrent call in between: carry on as its retry.
            guard let again = try await self.store.checkout(id: checkout.id), !again.isOpen else { throw error }
            return again
        }
    }

    // MARK: - Maintenance

    /// One pass over every credential (what each sync and the daemon run), at most one step each,
    /// in name order:
    /// - a pending version exists → `reconcile` it (crash repair);
    /// - else an earlier rotation failed (failures > 0) → rotate again;
    /// - else the current version became current (settledAt, else createdAt) more than its
    ///   `maxAgeSeconds` ago → rotate.
    ///
    /// While a failure's back-off runs (`nextAttemptAt` is after now) the credential is left alone,
    /// whatever else is due. Credentials with nothing to do are not in the result. A step that fails
    /// is recorded (failures, lastError, a growing back-off; see `retryDelay`) and the next
    /// credential is tried; only a failure to read the credential list throws.
    public func maintain() async throws -> [MaintenanceResult] {
        let statuses = try await self.store.credentialStatuses()
        let now = self.now()
        var results: [MaintenanceResult] = []
        for status in statuses {
            guard let (trigger, reason) = Self.maintenanceStep(status, now: now) else { continue }
            let name = status.record.name
            // Looked at again under the lock (below); here it spares the lock, which a check-out
            // of this credential would find taken meanwhile.
            if trigger == .maxAge, let due = await self.openCheckoutDue(name, now: now) {
                self.logMaxAgeDeferred(name, until: due)
                continue
            }
            let outcome: Outcome
            do {
                // A credential another process is rotating right now is its business this time.
                guard
                    let lock = try await CredentialLock.attempt(
                        name,
                        in: self.store.credentialLockDirectory,
                        purpose: "maintenance by \(self.actor)"
                    )
                else {
                    self.logger.info(
                        "vault maintenance: skipped while being rotated elsewhere",
                        metadata: ["credential": "\(name)"]
                    )
                    continue
                }
                defer { withExtendedLifetime(lock) {} }
                // What was due when the list was read may have been done meanwhile.
                guard let fresh = try await self.store.credentialStatus(named: name),
                    let (step, why) = Self.maintenanceStep(fresh, now: now), step == trigger
                else { continue }
                // A scheduled (max-age) rotation waits for an open check-out that is still within its
                // time, as PAM vaults do: the holder is using the password now. Retries, leavers and
                // check-ins are never deferred, nor is a check-out without a due time or past it.
                // Looked at under the lock, which a check-out holds until it is recorded: one asked
                // for after this look is refused until the rotation is over, then gets the new secret.
                if step == .maxAge, let due = await self.openCheckoutDue(name, now: now) {
                    self.logMaxAgeDeferred(name, until: due)
                    continue
                }
                switch step {
                case .reconcile: outcome = try await self.reconcileLocked(name)
                case .retry, .maxAge: outcome = try await self.performRotation(name, reason: why, requestID: nil)
                }
            } catch {
                let failure = "\(reason): \(error)"
                do {
                    try await self.recordFailure(name, failure)
                } catch let recordError {
                    self.logger.error(
                        "vault maintenance could not record a failure",
                        metadata: ["credential": "\(name)", "error": "\(recordError)"]
                    )
                }
                outcome = .needsAttention(reason: failure)
            }
            self.logger.info(
                "vault maintenance",
                metadata: ["credential": "\(name)", "trigger": "\(trigger.rawValue)", "outcome": "\(outcome)"]
            )
            results.append(MaintenanceResult(name: name, trigger: trigger, outcome: outcome))
        }
        return results
    }

    private func logMaxAgeDeferred(_ name: String, until due: Double) {
        self.logger.info(
            "vault maintenance: max-age rotation deferred while checked out",
            metadata: ["credential": "\(name)", "until": "\(Int(due))"]
        )
    }

    /// The latest due time among the credential's open check-outs still within their time; nil when
    /// there is none — or when the check-outs cannot be read (the rotation then goes ahead: a
    /// failure never keeps an old password in place).
    private func openCheckoutDue(_ name: String, now: Double) async -> Double? {
        guard let open = try? await self.store.openCheckouts(of: name) else { return nil }
        return open.compactMap(\.dueAt).filter { $0 > now }.max()
    }

    /// The step `maintain()` takes for `status` at `now`, with its reason; nil for none.
    static func maintenanceStep(
        _ status: CredentialStatus,
        now: Double
    ) -> (MaintenanceResult.Trigger, String)? {
        let backingOff = status.failures > 0 && (status.nextAttemptAt.map { $0 > now } ?? false)
        if let pending = status.pending {
            // A pending version younger than the lease may belong to a rotation still running in
            // another process (tenure vault rotate, a check-in): settling it now could abandon a
            // password the target is about to take. Left alone until it is clearly orphaned.
            guard now - pending.createdAt >= Self.pendingLease else { return nil }
            return backingOff ? nil : (.reconcile, "settle pending version \(pending.version)")
        }
        if status.failures > 0 {
            guard !backingOff else { return nil }
            let attempts = status.failures == 1 ? "1 failed attempt" : "\(status.failures) failed attempts"
            return (.retry, "retry after \(attempts)")
        }
        if let maxAge = status.record.maxAgeSeconds, let current = status.current,
            now - (current.settledAt ?? current.createdAt) > maxAge
        {
            return (.maxAge, "older than its max age of \(Self.describeDuration(maxAge))")
        }
        return nil
    }

    /// How old a pending version must be before `maintain()` settles it (a rotation takes seconds).
    public static let pendingLease: Double = 300

    /// How long to wait before retrying after `failures` consecutive failures: one minute, doubling
    /// with each further failure (2, 4, … 32 minutes), capped at one hour from the seventh on.
    public static func retryDelay(afterFailures failures: Int) -> Double {
        min(3_600, 60 * pow(2, Double(min(max(failures, 1) - 1, 6))))
    }

    /// "90 days", "12 hours", "5 minutes", "90 seconds".
    static func describeDuration(_ seconds: Double) -> String {
        for (size, unit) in [(86_400.0, "day"), (3_600, "hour"), (60, "minute"), (1, "second")]
        where seconds >= size && seconds / size < 1e12 && seconds.truncatingRemainder(dividingBy: size) == 0 {
            let count = Int(seconds / size)
            return "\(count) \(unit)\(count == 1 ? "" : "s")"
        }
        return "\(seconds) seconds"
    }

    // MARK: - Steps

    private func settle(
        _ name: String,
        _ kind: CredentialKind,
        pending version: Int,
        new: String,
        old: String,
        changeError: String?
    ) async throws -> Outcome {
        guard case .ldapAccount(let dn) = kind else {
            let reason =
                "the rotation program's result is unknown; check the target, then promote or abandon version \(version)"
            try await self.recordFailure(name, reason)
            return .needsAttention(reason: reason)
        }
        if try await self.binds(dn, new) {
            try await self.promote(name, version, verified: ["verified": "bind", "dn": dn])
            return .rotated(version: version)
        }
        if try await self.binds(dn, old) {
            let failure =
                changeError.map { "the password change failed: \($0)" } ?? "the target kept its current password"
            try await self.abandon(name, version, failure: failure)
            return .unchanged(reason: failure)
        }
        let reason = "neither the pending (version \(version)) nor the current password binds as \(dn)"
        try await self.recordFailure(name, reason)
        return .needsAttention(reason: reason)
    }

    /// Makes the pending version current, recording how it was verified.
    private func promote(_ name: String, _ version: Int, verified evidence: [String: String]) async throws {
        var details = evidence
        details["version"] = String(version)
        try await self.store.promote(
            name,
            version: version,
            at: self.now(),
            audit: [self.event("credential.rotated", name, details: details)]
        )
    }

    private func abandon(_ name: String, _ version: Int, failure: String) async throws {
        try await self.store.abandon(
            name,
            version: version,
            at: self.now(),
            audit: [
                self.event(
                    "credential.rotation.abandoned",
                    name,
                    outcome: "failure",
                    details: ["version": String(version), "reason": failure]
                )
            ]
        )
        try await self.recordFailure(name, failure)
    }

    /// Records a failed attempt (audited).
    private func recordFailure(_ name: String, _ reason: String) async throws {
        let (nextAttemptAt, audit) = try await self.failureRecord(name, reason)
        try await self.store.recordRotationFailure(name, error: reason, nextAttemptAt: nextAttemptAt, audit: audit)
    }

    /// `recordFailure`, only while version `current` (nil: none) is still the current one (checked
    /// in the same transaction).
    private func recordFailure(_ name: String, _ reason: String, whileCurrent current: Int?) async throws {
        let (nextAttemptAt, audit) = try await self.failureRecord(name, reason)
        let recorded = try await self.store.recordRotationFailure(
            name,
            error: reason,
            nextAttemptAt: nextAttemptAt,
            ifCurrentVersion: current,
            audit: audit
        )
        if !recorded {
            self.logger.info(
                "a rotation that could not wait is not recorded as failed: another made a new version current",
                metadata: ["credential": "\(name)"]
            )
        }
    }

    /// When to try again after this failure, and its audit record.
    private func failureRecord(_ name: String, _ reason: String) async throws -> (Double, [AuditEvent]) {
        let failures = (try await self.store.credentialStatus(named: name)?.failures ?? 0) + 1
        let audit = self.event(
            "credential.rotation.failed",
            name,
            outcome: "failure",
            details: ["reason": reason, "failures": String(failures)]
        )
        return (self.now() + Self.retryDelay(afterFailures: failures), [audit])
    }

    private func status(_ name: String) async throws -> CredentialStatus {
        guard let status = try await self.store.credentialStatus(named: name) else {
            throw RotationError(description: "no credential named \(name)")
        }
        return status
    }

    private func open(_ name: String, _ version: CredentialVersion) throws -> String {
        let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(version.sealed.utf8))
        guard sealed.credential == name, sealed.version == version.version else {
            throw RotationError(
                description: "credential \(name) version \(version.version) holds another credential's secret"
            )
        }
        var bytes = try Envelope.open(sealed, masterKey: self.masterKey)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func connect(as dn: String, secret: LDAPSecret) async throws -> LDAPConnection {
        var options = self.ldap
        options.bind = .simple(dn: dn, password: secret)
        return try await LDAPConnection.connect(options: options, logger: self.logger)
    }

    /// True when `dn` binds with `secret`; false for invalid credentials; other errors throw (a
    /// server that cannot be reached must not be read as "the password is wrong").
    private func binds(_ dn: String, _ secret: String) async throws -> Bool {
        do {
            let connection = try await self.connect(as: dn, secret: LDAPSecret(secret))
            await connection.close()
            return true
        } catch let error as LDAPError where error.code == .invalidCredentials {
            return false
        }
    }

    private func event(
        _ type: String,
        _ name: String,
        outcome: String = "success",
        details: [String: String]
    ) -> AuditEvent {
        AuditEvent(time: self.now(), actor: self.actor, type: type, object: name, outcome: outcome, details: details)
    }

    private static func encode(_ sealed: SealedSecret) throws -> String {
        String(decoding: try JSONEncoder().encode(sealed), as: UTF8.self)
    }

    private static func describe(_ kind: CredentialKind) -> String {
        switch kind {
        case .ldapAccount(let dn): "ldap:\(dn)"
        case .command(let path): "command:\(path)"
        }
    }
}
