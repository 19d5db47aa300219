import Foundation
import HTTPTypes
import Hummingbird
import LDAPClient
import Logging
import TenureAccess
import TenureConfig
import TenureCore
import TenureCrypto
import TenureEngine
import TenureStore
import TenureVault

/// What activations change: the store (with the audit in the same transaction), then the access
/// index, then the write-back group. Every change runs inside `coordinator.exclusive`.
extension Operations {
    /// Who the sweeper is in the audit.
    static let sweeperActor = "sweeper"

    // MARK: - Request

    /// Checks and stores an activation request: pending when the role needs approval, else active
    /// with its assignment (index and write-back follow). Refusals are audited and thrown as problems.
    func requestActivation(
        _ body: ActivationRequestBody,
        token: APIToken,
        context: TenureRequestContext,
        api: TenureAPI
    ) async throws -> ActivationRecord {
        guard let subject = body.subject ?? token.subject, !subject.isEmpty else {
            throw Problem.badRequest("subject is required (the token names no person)", jsonPath: "subject")
        }
        guard !body.role.isEmpty else { throw Problem.badRequest("role must not be empty", jsonPath: "role") }
        let requestedSeconds = try Self.seconds(body.duration)
        let identity: IdentityRecord
        switch self.index.snapshot.resolveSubject(subject) {
        case .found(let found): identity = found
        case .unknown: throw Problem(refusal: .unknownIdentity(subject))
        case .ambiguous(let ids): throw Self.ambiguous(subject, ids)
        }
        if !token.scopes.contains(.admin), !Self.isOwn(identity.id, token: token, model: self.index.snapshot) {
            throw Problem(
                .forbidden,
                "subject-mismatch",
                title: "Forbidden",
                detail: "this token may only request activations for its own person"
            )
        }
        let actor = context.actor
        let requestID = context.requestID
        return try await self.coordinator.exclusive {
            let now = self.now()
            let model = self.index.snapshot
            var base = ActivationRecord(
                id: UUID().uuidString.lowercased(),
                identityID: identity.id,
                role: body.role,
                state: .pending,
                requestedBy: actor,
                requestedAt: now,
                durationSeconds: Double(max(requestedSeconds ?? 1, 1)),
                justification: body.justification,
                ticket: body.ticket
            )
            func refuse(_ problem: Problem, code: String) async throws -> Never {
                var event = self.activationEvent(
                    "activation.requested",
                    base,
                    actor: actor,
                    time: now,
                    requestID: requestID
                )
                event.outcome = "refused"
                event.details["code"] = code
                event.details["reason"] = problem.detail
                event.details["state"] = nil
                event.details["duration"] = requestedSeconds.map(String.init) ?? ""
                try await api.audited([event])
                throw problem
            }
            // Everything but the code first (a refused request must not use up a TOTP code).
            let grant: ActivationGrant
            switch ActivationPolicy.check(
                identityID: identity.id,
                role: body.role,
                requestedSeconds: requestedSeconds,
                justification: body.justification,
                ticket: body.ticket,
                mfaVerified: true,
                model: model,
                now: now
            ) {
            case .success(let granted): grant = granted
            case .failure(let refusal): try await refuse(Problem(refusal: refusal), code: refusal.code)
            }
            if try await self.store.activations(identityID: identity.id, state: .pending).contains(where: {
                $0.role == body.role
            }) {
                try await refuse(
                    Problem.conflict(
                        "already-pending",
                        "a request for \"\(body.role)\" is already waiting for approval"
                    ),
                    code: "already_pending"
                )
            }
            var mfa = false
            if grant.requirements.contains(.mfa) {
                if let (problem, code) = try await self.verifyTOTP(body.totp, identityID: identity.id, now: now) {
                    try await refuse(problem, code: code)
                }
                mfa = true
            }
            base.durationSeconds = Double(grant.seconds)
            base.mfa = mfa
            if grant.needsApproval {
                let requested = self.activationEvent(
                    "activation.requested",
                    base,
                    actor: actor,
                    time: now,
                    requestID: requestID
                )
                try await self.storing {
                    try await self.store.createActivation(base, assignment: nil, audit: [requested])
                }
                self.metrics.activation("requested")
                return base
            }
            var record = base
            record.state = .active
            record.startsAt = grant.since
            record.endsAt = grant.until
            let assignment = grant.assignment(source: record.assignmentSource)
            let events = [
                self.activationEvent("activation.requested", record, actor: actor, time: now, requestID: requestID),
                self.activationEvent("activation.started", record, actor: actor, time: now, requestID: requestID),
            ]
            try await self.storing {
                try await self.store.createActivation(record, assignment: assignment, audit: events)
            }
            self.index.update { $0.upsertAssignment(assignment) }
            self.metrics.activation("requested")
            self.metrics.activation("started")
            await self.writeBackStarted(record, actor: actor)
            return record
        }
    }

    /// The requested duration in whole seconds (nil: the role's maximum). Beyond any role's maximum
    /// it is only clamped (the policy caps it).
    static func seconds(_ duration: Double?) throws -> Int? {
        guard let duration else { return nil }
        guard duration.isFinite, duration == duration.rounded(.towardZero) else {
            throw Problem.badRequest("duration must be a whole number of seconds", jsonPath: "duration")
        }
        return Int(min(max(duration, -1), 1e12))
    }

    /// Checks a TOTP code against the identity's enrolment and uses its time step up; nil when it is
    /// accepted, else the problem (and its code) to refuse with. The code and the seed are never
    /// logged, audited or put in a problem.
    func verifyTOTP(_ submitted: String?, identityID: String, now: Double) async throws -> (Problem, String)? {
        let code = (submitted ?? "").filter { !$0.isWhitespace }
        guard !code.isEmpty else {
            return (Problem(refusal: .mfaRequired, detail: "this role requires a TOTP code (totp)"), "mfa_required")
        }
        // A six-digit code falls to guessing without a limit: after too many wrong codes in the
        // window, every code is refused until it passes (the valid one too).
        if self.totpGuesses.isLocked(identityID, now: now) {
            return (
                Problem(
                    .tooManyRequests,
                    "totp-locked",
                    title: "Too Many Requests",
                    detail: "too many wrong TOTP codes; try again in a few minutes",
                    extra: ["code": "totp_locked"],
                    headers: [.retryAfter: String(Int(TOTPGuesses.window))]
                ),
                "totp_locked"
            )
        }
        guard let masterKey = self.masterKey else {
            throw Problem(
                .serviceUnavailable,
                "mfa-unavailable",
                title: "Service Unavailable",
                detail: "TOTP codes cannot be checked: no vault master key is configured (state.vaultKeyFile)"
            )
        }
        guard let enrollment = try await self.store.mfaEnrollment(identityID: identityID) else {
            return (
                Problem(refusal: .mfaRequired, detail: "no MFA enrolment for this identity (tenure mfa enroll)"),
                "mfa_required"
            )
        }
        var seed: [UInt8]
        do {
            let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(enrollment.sealedSeed.utf8))
            seed = try Envelope.open(sealed, masterKey: masterKey)
        } catch {
            self.logger.error(
                "an MFA enrolment cannot be opened",
                metadata: ["identity": "\(identityID)", "error": "\(type(of: error))"]
            )
            throw Problem(
                .serviceUnavailable,
                "mfa-unavailable",
                title: "Service Unavailable",
                detail: "the MFA enrolment cannot be read with this vault master key"
            )
        }
        defer { secureZero(&seed) }
        guard let step = TOTP(secret: seed).verify(code, at: now, window: 1, lastUsedStep: nil) else {
            self.totpGuesses.failed(identityID, now: now)
            return (
                Problem(
                    .forbidden,
                    "totp-invalid",
                    title: "Forbidden",
                    detail: "the TOTP code is not valid",
                    extra: ["code": "totp_invalid"]
                ),
                "totp_invalid"
            )
        }
        let fresh = enrollment.lastUsedStep.map { step > $0 } ?? true
        guard fresh, try await self.store.useTOTPStep(identityID: identityID, step: step) else {
            return (
                Problem(
                    .forbidden,
                    "totp-reused",
                    title: "Forbidden",
                    detail: "this TOTP code (or a later one) was already used; wait for the next code",
                    extra: ["code": "totp_reused"]
                ),
                "totp_reused"
            )
        }
        return nil
    }

    // MARK: - Approve, deny, end

    /// Approves a pending activation: the policy (separation of duties included) is checked again
    /// now, and the activation starts now for the requested duration.
    func approveActivation(
        id: String,
        token: APIToken,
        context: TenureRequestContext,
        api: TenureAPI
    ) async throws -> ActivationRecord {
        let actor = context.actor
        let requestID = context.requestID
        return try await self.coordinator.exclusive {
            let record = try await self.decidable(id, token: token, actor: actor)
            let now = self.now()
            let grant: ActivationGrant
            switch ActivationPolicy.check(
                identityID: record.identityID,
                role: record.role,
                requestedSeconds: Int(record.durationSeconds.rounded()),
                justification: record.justification,
                ticket: record.ticket,
                mfaVerified: true,
                model: self.index.snapshot,
                now: now
            ) {
            case .success(let granted): grant = granted
            case .failure(let refusal):
                var event = self.activationEvent(
                    "activation.approved",
                    record,
                    actor: actor,
                    time: now,
                    requestID: requestID
                )
                event.outcome = "refused"
                event.details["code"] = refusal.code
                event.details["reason"] = refusal.message
                try await api.audited([event])
                throw Problem(refusal: refusal)
            }
            let assignment = grant.assignment(source: record.assignmentSource)
            var started = record
            started.state = .active
            started.decidedBy = actor
            started.decidedAt = now
            started.startsAt = grant.since
            started.endsAt = grant.until
            started.durationSeconds = Double(grant.seconds)
            let events = [
                self.activationEvent("activation.approved", started, actor: actor, time: now, requestID: requestID),
                self.activationEvent("activation.started", started, actor: actor, time: now, requestID: requestID),
            ]
            let approved = try await self.storing {
                try await self.store.approveActivation(
                    id: id,
                    by: actor,
                    at: now,
                    assignment: assignment,
                    audit: events
                )
            }
            self.index.update { $0.upsertAssignment(assignment) }
            self.metrics.activation("approved")
            self.metrics.activation("started")
            await self.writeBackStarted(approved, actor: actor)
            return approved
        }
    }

    func denyActivation(
        id: String,
        reason: String?,
        token: APIToken,
        context: TenureRequestContext
    ) async throws -> ActivationRecord {
        let actor = context.actor
        let requestID = context.requestID
        return try await self.coordinator.exclusive {
            let record = try await self.decidable(id, token: token, actor: actor)
            let now = self.now()
            var denied = record
            denied.state = .denied
            denied.decidedBy = actor
            denied.decidedAt = now
            denied.decisionReason = reason
            var event = self.activationEvent("activation.denied", denied, actor: actor, time: now, requestID: requestID)
            event.details["reason"] = reason ?? ""
            let stored = try await self.storing {
                try await self.store.denyActivation(id: id, by: actor, reason: reason, at: now, audit: [event])
            }
            self.metrics.activation("denied")
            return stored
        }
    }

    /// The pending activation an approver may decide: it exists (404), it is not the approver's own
    /// (403 `self-approval`; the token must name its person) and it is pending (409).
    private func decidable(_ id: String, token: APIToken, actor: String) async throws -> ActivationRecord {
        guard token.subject != nil else {
            throw Problem(
                .forbidden,
                "approver-unknown",
                title: "Forbidden",
                detail: "approvals need a token that names its person (subject), so that nobody approves their own"
            )
        }
        guard let record = try await self.store.activation(id: id) else {
            throw Problem.notFound("there is no activation \(id)")
        }
        // The approver must be a person Tenure knows as active now: an offboarded approver's token
        // approves nothing.
        let model = self.index.snapshot
        guard let approver = Self.personID(of: token, in: model), let person = model.identities[approver],
            model.inactivity(of: person) == nil
        else {
            throw Problem(
                .forbidden,
                "approver-inactive",
                title: "Forbidden",
                detail: "the approver is not an active identity"
            )
        }
        // Nobody approves a request they made, under whatever token: compare people, not tokens.
        let requester = self.settings.tokens.first { "token:\($0.name)" == record.requestedBy }
            .flatMap { Self.personID(of: $0, in: model) }
        if Self.isOwn(record.identityID, token: token, model: model) || record.requestedBy == actor
            || requester == approver
        {
            throw Problem(
                .forbidden,
                "self-approval",
                title: "Forbidden",
                detail: "nobody approves or denies their own activation"
            )
        }
        guard record.state == .pending else {
            throw Problem.conflict("not-pending", "activation \(id) is \(record.state.rawValue), not pending")
        }
        return record
    }

    /// Ends an activation early (or withdraws a pending one): `approve`/`admin`, or `activate` for
    /// one's own. The index and the write-back group follow.
    func endActivation(id: String, token: APIToken, context: TenureRequestContext) async throws {
        let actor = context.actor
        let requestID = context.requestID
        let privileged = context.has(.approve)
        try await self.coordinator.exclusive {
            guard let record = try await self.store.activation(id: id) else {
                throw Problem.notFound("there is no activation \(id)")
            }
            guard privileged || Self.isOwn(record.identityID, token: token, model: self.index.snapshot) else {
                throw Self.notOwn()
            }
            guard record.state == .active || record.state == .pending else {
                throw Problem.conflict("not-active", "activation \(id) is \(record.state.rawValue); nothing to end")
            }
            let now = self.now()
            var event = self.activationEvent("activation.ended", record, actor: actor, time: now, requestID: requestID)
            event.details["state"] = "ended"
            event.details["from"] = record.state.rawValue
            event.details["reason"] = record.state == .pending ? "withdrawn" : "ended early"
            let ended = try await self.storing {
                try await self.store.endActivation(id: id, by: actor, reason: nil, at: now, audit: [event])
            }
            self.metrics.activation("ended")
            guard record.state == .active else { return }
            self.removeFromIndex(ended)
            await self.writeBackEnded(ended, actor: actor, reason: "ended")
        }
    }

    // MARK: - Expiry

    /// Records every activation past its end as expired (audit, assignment deleted, index, write-back
    /// group, metrics); how many. The daemon calls it every `settings.sweepIntervalSeconds`. Decisions
    /// already deny at `until` without it: the index checks expiry at decision time.
    public func sweepExpiredActivations() async throws -> Int {
        try await self.coordinator.exclusive {
            let now = self.now()
            let expired = try await self.store.expireActivations(dueBy: now) { record in
                [
                    self.activationEvent(
                        "activation.expired",
                        record,
                        actor: Self.sweeperActor,
                        time: now,
                        requestID: nil
                    )
                ]
            }
            for record in expired {
                self.removeFromIndex(record)
                self.metrics.activation("expired")
            }
            for record in expired {
                await self.writeBackEnded(record, actor: Self.sweeperActor, reason: "expired")
            }
            if !expired.isEmpty {
                self.logger.info("activations expired", metadata: ["count": "\(expired.count)"])
            }
            return expired.count
        }
    }

    // MARK: - Helpers

    /// Removes the activation's assignment from the index, when it is still the one there.
    private func removeFromIndex(_ record: ActivationRecord) {
        self.index.update { model in
            guard model.holding(of: record.identityID, role: record.role)?.active?.source == record.assignmentSource
            else { return }
            model.removeAssignment(AssignmentKey(identityID: record.identityID, role: record.role, state: .active))
        }
    }

    /// Runs a store change, turning its refusals into problems (404, 409) and any other failure into
    /// 503 (nothing was changed: the change and its audit are one transaction).
    private func storing<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ActivationStoreError {
            switch error.code {
            case .notFound: throw Problem.notFound(error.message)
            case .wrongState: throw Problem.conflict("wrong-state", error.message)
            case .alreadyActive:
                throw Problem(
                    .conflict,
                    "already-active",
                    title: "Conflict",
                    detail: error.message,
                    extra: ["code": "already_active"]
                )
            case .invalidRecord: throw error
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            self.logger.error("an activation could not be stored", metadata: ["error": "\(error)"])
            throw Problem(
                .serviceUnavailable,
                "store-unavailable",
                title: "Service Unavailable",
                detail: "the store or its audit log cannot be written; nothing was changed",
                headers: [.retryAfter: "5"]
            )
        }
    }

    /// An `activation.*` audit event: never a TOTP code.
    func activationEvent(
        _ type: String,
        _ record: ActivationRecord,
        actor: String,
        time: Double,
        requestID: String?
    ) -> AuditEvent {
        var details = [
            "activation": record.id, "state": record.state.rawValue, "duration": String(Int(record.durationSeconds)),
            "mfa": record.mfa ? "true" : "false", "requestedBy": record.requestedBy,
        ]
        if let username = self.index.snapshot.identities[record.identityID]?.username {
            details["username"] = username
        }
        if let justification = record.justification { details["justification"] = justification }
        if let ticket = record.ticket { details["ticket"] = ticket }
        if let requestID { details["request"] = requestID }
        if let until = record.endsAt { details["until"] = isoTimestamp(until, milliseconds: true) }
        return AuditEvent(
            time: time,
            actor: actor,
            type: type,
            subject: record.identityID,
            object: record.role,
            details: details
        )
    }
}

extension Problem {
    /// An activation refusal: its suggested status, its code (`code`, and hyphenated as the type).
    init(refusal: ActivationRefusal, detail: String? = nil) {
        let status = HTTPResponse.Status(code: refusal.suggestedStatus)
        // A status made from a bare code has no reason phrase: the standard one is named here.
        let titles = [403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"]
        self.init(
            status,
            refusal.code.replacingOccurrences(of: "_", with: "-"),
            title: titles[refusal.suggestedStatus] ?? "Refused",
            detail: detail ?? refusal.message,
            extra: ["code": refusal.code]
        )
    }
}
