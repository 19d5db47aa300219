import Foundation
import Hummingbird
import Logging
import TenureAccess
import TenureConfig
import TenureCore
public import TenureEngine
import TenureStore
import TenureVault

extension Operations {
    struct CheckoutRequest: Decodable {
        /// The person checking out (username or stable id); a token with a subject may leave it out.
        var subject: String?
        /// How long the secret is needed, in seconds (the check-out's due time). default: 1 hour.
        var duration: Double?
        /// A TOTP code, for credentials that need one.
        var totp: String?
    }

    struct CheckinRequest: Decodable {
        var checkoutID: String
    }

    /// POST /v1/credentials/{name}/checkout (scope `activate`): the current secret, once, to a
    /// subject holding an active role that unlocks it (the same decision as `checkout` in the
    /// AuthZEN API), exclusive when the credential says so, with a TOTP code when it needs one.
    /// Every check-out is recorded, so that a later leaver rotates what they saw.
    /// POST /v1/credentials/{name}/checkin {checkoutID}: ends it, rotating a one-time credential.
    func addCredentialRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {
        router.post("/v1/credentials/:name/checkout") { request, context in
            let token = try context.require(.activate)
            let raw = try context.parameters.require("name")
            let name = raw.removingPercentEncoding ?? raw
            let body = try await api.decode(CheckoutRequest.self, from: request)
            guard let subject = body.subject ?? token.subject else {
                throw Problem.badRequest("name the subject checking out", jsonPath: "subject")
            }
            guard let masterKey = self.masterKey, let rotator = self.engine.rotator else {
                throw Problem(
                    .serviceUnavailable,
                    "no-vault",
                    title: "Service Unavailable",
                    detail: "the vault is not configured (state.vaultKeyFile)"
                )
            }
            let identity = try self.resolve(subject)
            // A token checks out only for its own person (compared as identities); a token that
            // names no person may not check out at all, unless it is admin.
            if !context.has(.admin) {
                guard let own = Self.personID(of: token, in: self.index.snapshot), own == identity.id else {
                    throw Problem(
                        .forbidden,
                        "not-your-subject",
                        title: "Forbidden",
                        detail: token.subject == nil
                            ? "this token names no person (subject); only an admin token checks out for others"
                            : "this token may check out only for its own person"
                    )
                }
            }
            // A maintenance pass that only looks holds the credential's lock a moment: waited for
            // here, outside the coordinator (let go at once), never for a rotation.
            _ = try await rotator.checkoutLock(name, holder: context.actor, wait: .milliseconds(250))
            // The decision and the record of the check-out happen together, serialised with
            // offboardings: an offboarding either sees this check-out (and rotates) or revokes first.
            return try await self.coordinator.exclusive {
                let now = self.now()
                let decision = self.index.evaluate(
                    EvaluationRequest(
                        subject: Subject(type: "user", id: identity.id),
                        resource: Resource(type: "credential", id: name),
                        action: Action(name: "checkout")
                    ),
                    now: now
                )
                /// Audits a check-out that was not made: `denied` by the decision, or `refused`.
                func auditUnmade(_ outcome: String, reason: String) async throws {
                    try await api.audited([
                        AuditEvent(
                            time: now,
                            actor: context.actor,
                            type: "credential.checkout",
                            subject: identity.id,
                            object: name,
                            outcome: outcome,
                            details: ["reason": reason, "request": context.requestID]
                        )
                    ])
                }
                guard decision.allowed else {
                    try await auditUnmade("denied", reason: decision.reason.rawValue)
                    throw Problem(
                        .forbidden,
                        "checkout-denied",
                        title: "Forbidden",
                        detail: decision.reasonAdmin,
                        extra: ["reason": decision.reason.rawValue]
                    )
                }
                // No secret while a plan — this server's, a `tenure sync` or `tenure offboard`
                // beside it, one a crash left open — is still to rotate it for a leaver (the secret
                // they knew, replaced moments later), nor while a rotation of it runs, here or in
                // another process: its lock, tried once (the coordinator waits for nobody), is held
                // until the check-out is recorded, so a rotation that starts later sees it.
                let plan = try await self.store.planStillToRotate(credential: name)
                let credentialLock = plan == nil ? try await rotator.checkoutLock(name, holder: context.actor) : nil
                guard let credentialLock else {
                    try await auditUnmade("refused", reason: "rotation-in-progress")
                    let why = plan.map { "is still to be rotated for a leaver (plan \($0))" } ?? "is being rotated"
                    throw Problem(
                        .conflict,
                        "rotation-in-progress",
                        title: "Conflict",
                        detail: "\(name) \(why); ask again when the rotation has finished",
                        headers: [.retryAfter: "5"]
                    )
                }
                defer { withExtendedLifetime(credentialLock) {} }
                guard let status = try await rotator.store.credentialStatus(named: name), let current = status.current
                else {
                    throw Problem.notFound("the vault holds no current secret for \(name)")
                }
                if status.record.requiresMFA {
                    do {
                        try await self.requireTOTP(identityID: identity.id, code: body.totp, now: now)
                    } catch let problem as Problem {
                        try await auditUnmade("refused", reason: problem.slug)
                        throw problem
                    }
                }
                // Never longer than the holding that allows it (an activation's end), nor than a day.
                var duration = min(max(body.duration ?? 3_600, 60), 86_400)
                if let until = decision.details["until"]?.doubleValue { duration = min(duration, max(until - now, 0)) }
                let checkout = CredentialCheckout(
                    id: "co-\(UUID().uuidString.lowercased())",
                    name: name,
                    identityID: identity.id,
                    username: identity.username,
                    version: current.version,
                    exclusive: status.record.exclusiveCheckout,
                    checkedOutAt: now,
                    dueAt: now + duration
                )
                do {
                    try await rotator.store.recordCheckout(
                        checkout,
                        audit: [
                            AuditEvent(
                                time: now,
                                actor: context.actor,
                                type: "credential.checkout",
                                subject: identity.id,
                                object: name,
                                details: [
                                    "checkout": checkout.id, "version": String(current.version),
                                    "exclusive": String(checkout.exclusive), "request": context.requestID,
                                    "role": decision.details["role"]?.stringValue ?? "",
                                ]
                            )
                        ]
                    )
                } catch let error as StoreError where error.code == .invalidStatus {
                    throw Problem.conflict("checked-out", "\(name) is checked out exclusively by someone else")
                }
                // Only now, with the check-out recorded, is the secret opened.
                let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(current.sealed.utf8))
                let secret = String(decoding: try Envelope.open(sealed, masterKey: masterKey), as: UTF8.self)
                return api.json(
                    CheckoutResponse(
                        checkoutID: checkout.id,
                        credential: name,
                        version: current.version,
                        secret: secret,
                        dueAt: isoDate(checkout.dueAt ?? now),
                        oneTime: status.record.oneTime
                    ),
                    status: .created,
                    headers: [.cacheControl: "no-store"]
                )
            }
        }

        router.post("/v1/credentials/:name/checkin") { request, context in
            let token = try context.require(.activate)
            let raw = try context.parameters.require("name")
            let name = raw.removingPercentEncoding ?? raw
            let body = try await api.decode(CheckinRequest.self, from: request)
            guard let rotator = self.engine.rotator else {
                throw Problem(.serviceUnavailable, "no-vault", title: "Service Unavailable", detail: "no vault")
            }
            guard let checkout = try await rotator.store.checkout(id: body.checkoutID), checkout.name == name else {
                throw Problem.notFound("no check-out \(body.checkoutID) of \(name)")
            }
            // As for check-out: only the token's own person (compared as identities), or an admin;
            // a token that names no person checks in nothing of anyone's.
            if !context.has(.admin) {
                guard let own = Self.personID(of: token, in: self.index.snapshot), own == checkout.identityID else {
                    throw Problem(.forbidden, "not-your-checkout", title: "Forbidden", detail: "not your check-out")
                }
            }
            let (actor, requestID) = (context.actor, context.requestID)
            // Not inside the coordinator: a one-time credential's rotation may take minutes (a
            // program's time limit), and the credential's own lock keeps check-outs away meanwhile.
            let result = try await rotator.checkIn(checkoutID: body.checkoutID, actor: actor, requestID: requestID)
            var rotated: String?
            switch result.rotation {
            case .rotated(let version)?: rotated = "rotated to version \(version)"
            case .needsAttention(let reason)?, .unchanged(let reason)?: rotated = "rotation failed: \(reason)"
            case .nothingPending?, nil: rotated = nil
            }
            if let outcome = result.rotation { self.metrics.rotation(outcome) }
            return api.json(
                CheckinResponse(
                    checkoutID: result.checkout.id,
                    credential: name,
                    checkedInAt: isoDate(result.checkout.checkedInAt ?? self.now()),
                    rotation: rotated
                )
            )
        }
    }

    /// A valid, unused TOTP code for the identity, or the problem the activation flow refuses with.
    func requireTOTP(identityID: String, code: String?, now: Double) async throws {
        if let (problem, _) = try await self.verifyTOTP(code, identityID: identityID, now: now) { throw problem }
    }
}

struct CheckoutResponse: Encodable {
    var checkoutID: String
    var credential: String
    var version: Int
    var secret: String
    var dueAt: String
    var oneTime: Bool
}

struct CheckinResponse: Encodable {
    var checkoutID: String
    var credential: String
    var checkedInAt: String
    var rotation: String?
}

extension Operations {
    /// Checks in every check-out whose due time has passed (the daemon's sweeper calls it): the
    /// holder's time with the secret is over — it was never longer than the holding that allowed
    /// it — so an exclusive credential is free again, and a one-time one is rotated, exactly as a
    /// check-in by its holder (audited `credential.checkin` by the sweeper, with the reason). One
    /// that fails is logged and the others still run. Returns how many were checked in.
    public func checkInOverdueCheckouts() async throws -> Int {
        guard let rotator = self.engine.rotator else { return 0 }
        let now = self.now()
        var closed = 0
        for checkout in try await rotator.store.openCheckouts(dueBy: now) {
            do {
                let due = isoDate(checkout.dueAt ?? now)
                let result = try await rotator.checkIn(
                    checkoutID: checkout.id,
                    actor: Self.sweeperActor,
                    reason: "overdue: due at \(due)"
                )
                if let outcome = result.rotation { self.metrics.rotation(outcome) }
                closed += 1
            } catch {
                self.logger.error(
                    "an overdue check-out could not be checked in",
                    metadata: ["checkout": "\(checkout.id)", "credential": "\(checkout.name)", "error": "\(error)"]
                )
            }
        }
        if closed > 0 { self.logger.info("overdue check-outs checked in", metadata: ["count": "\(closed)"]) }
        return closed
    }

    /// Vault maintenance as the daemon's sweeper runs it (settling pending versions, retries of
    /// failed rotations, max age). Outside the coordinator: a rotation may take minutes (LDAP
    /// timeouts, a program's time limit), and activations, approvals, check-outs of other
    /// credentials and offboardings must not wait for it. Each credential's own lock does what the
    /// coordinator did for it: a check-out either comes first — and a max-age rotation then waits
    /// for it — or is refused while the rotation runs and gets what is current after; it never
    /// hands out a secret that a running maintenance rotation is about to replace. (A leaver's
    /// rotation is decided when a sync plans it: until its plan entry runs, a check-out by someone
    /// else still gets the current secret, as before.) Counts the outcomes in the metrics.
    public func maintainVault() async throws -> [CredentialRotator.MaintenanceResult] {
        guard let rotator = self.engine.rotator else { return [] }
        let results = try await rotator.maintain()
        for result in results { self.metrics.rotation(result.outcome) }
        return results
    }
}
