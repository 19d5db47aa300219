import Foundation
import Hummingbird
import Logging
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureStore

extension Operations {
    struct OffboardRequest: Decodable {
        var subject: String
        /// ISO 8601 with a time zone; absent or not in the future: now.
        var effectiveAt: String?
        var reason: String
    }

    /// POST /v1/offboard {subject, effectiveAt, reason} (scope `hr`): now → that identity's leaver
    /// plan runs at once (200, with what it did); later → stored and carried out when due (202).
    func addOffboardingRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {
        router.post("/v1/offboard") { request, context in
            try context.require(.hr)
            let body = try await api.decode(OffboardRequest.self, from: request)
            guard !body.reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Problem.badRequest("a reason is required", jsonPath: "reason")
            }
            let identity = try self.resolve(body.subject, rule: .change)
            let now = self.now()
            var effective = now
            if let text = body.effectiveAt {
                guard let date = parseISO8601Time(text) else {
                    throw Problem.badRequest(
                        "effectiveAt \(text) is not an ISO 8601 time with a time zone (2026-12-01T17:00:00Z)",
                        jsonPath: "effectiveAt"
                    )
                }
                effective = date
            }
            if effective > now {
                let offboarding = Offboarding(
                    id: "off-\(UUID().uuidString.lowercased())",
                    identityID: identity.id,
                    effectiveAt: effective,
                    reason: body.reason,
                    requestedBy: context.actor,
                    requestedAt: now
                )
                try await self.store.addOffboarding(
                    offboarding,
                    audit: [
                        AuditEvent(
                            time: now,
                            actor: context.actor,
                            type: "offboarding.scheduled",
                            subject: identity.id,
                            object: "offboarding:\(offboarding.id)",
                            details: [
                                "reason": body.reason, "effectiveAt": isoDate(effective), "request": context.requestID,
                                "username": identity.username ?? "",
                            ]
                        )
                    ]
                )
                self.metrics.offboarding("scheduled")
                return api.json(
                    OffboardingResponse(offboarding, username: identity.username),
                    status: .accepted,
                    headers: [.location: "/v1/offboardings/\(offboarding.id)"]
                )
            }
            let report = try await self.offboardNow(identity.id, reason: body.reason, requestedBy: context.actor)
            var response = OffboardingResponse(
                Offboarding(
                    id: report.offboardingID,
                    identityID: identity.id,
                    effectiveAt: now,
                    reason: body.reason,
                    requestedBy: context.actor,
                    requestedAt: now,
                    state: .done,
                    doneAt: self.now(),
                    planID: report.planID
                ),
                username: identity.username
            )
            response.actions = report.plan.identities.first?.actions.filter(\.changesAccess).map(describe) ?? []
            response.withheld = report.withheld
            return api.json(response, status: report.withheld ? .conflict : .ok)
        }

        router.get("/v1/offboardings/:id") { _, context in
            guard context.has(.hr, .read) else { throw Problem.forbidden(scope: "hr") }
            let id = try context.parameters.require("id")
            guard let found = try await self.store.offboarding(id: id) else {
                throw Problem.notFound("no offboarding \(id)")
            }
            return api.json(OffboardingResponse(found, username: nil))
        }

        router.get("/v1/offboardings") { _, context in
            guard context.has(.hr, .read) else { throw Problem.forbidden(scope: "hr") }
            let all = try await self.store.offboardings(state: nil, dueBy: nil)
            return api.json(["offboardings": all.map { OffboardingResponse($0, username: nil) }])
        }
    }

    /// The identity a subject names (username or stable id); 404 otherwise.
    func resolve(_ subject: String, rule: SubjectRule = .preferActive) throws -> IdentityRecord {
        switch self.index.snapshot.resolveSubject(subject, rule: rule) {
        case .found(let identity): return identity
        case .unknown: throw Problem.notFound("no identity is known as \(subject)")
        case .ambiguous(let ids):
            throw Problem.conflict(
                "ambiguous-subject",
                "\(subject) names \(ids.count) identities; use the stable id (\(ids.joined(separator: ", ")))"
            )
        }
    }

    /// Runs one identity's offboarding plan now, serialised with syncs, activations and
    /// check-outs; the index follows inside the same critical section. If the plan fails part-way,
    /// the index is rebuilt from what the store holds (never left permitting what was revoked).
    /// `offboardingID`: a scheduled offboarding that fell due (the sweeper), carried out as itself.
    func offboardNow(_ identityID: String, reason: String, offboardingID: String? = nil, requestedBy: String)
        async throws -> SyncEngine.OffboardReport
    {
        // The sync lock first, as the daemon's sync takes it (then the coordinator): a `tenure sync`
        // running beside the server must not resume this plan half-applied, nor apply one it made
        // before this termination after it.
        try await self.withSyncLock(purpose: "tenure serve (offboarding)") {
            try await self.offboardNowLocked(
                identityID,
                reason: reason,
                offboardingID: offboardingID,
                requestedBy: requestedBy
            )
        }
    }

    private func offboardNowLocked(_ identityID: String, reason: String, offboardingID: String?, requestedBy: String)
        async throws -> SyncEngine.OffboardReport
    {
        let report = try await self.coordinator.exclusive {
            let report: SyncEngine.OffboardReport
            do {
                report = try await self.engine.offboard(
                    identityID: identityID,
                    reason: reason,
                    offboardingID: offboardingID,
                    requestedBy: requestedBy,
                    now: self.now
                )
            } catch {
                try? await self.reloadIndexUnlocked()
                throw error
            }
            // The index takes the identity's part from the store, now the plan is applied: its
            // terminated record, what is still held, and the reason a reload would give. Even when
            // withheld (a protected identity keeps its roles), it is recorded as terminated and
            // decisions follow the record — now, not at the next reload. If that read fails, it is
            // marked terminated anyway (fail closed: every decision for it denies).
            do {
                try await self.refreshIndexUnlocked(identityID: identityID)
            } catch {
                self.logger.error(
                    "the index could not re-read an offboarded identity; it is marked terminated",
                    metadata: ["identity": "\(identityID)", "error": "\(error)"]
                )
                self.index.update { $0.setTerminated(identityID, reason: "offboarded: \(reason)") }
            }
            // Ended after the index follows the plan: if this fails the leaver is already denied
            // (the error still reaches the caller; the records then end at their expiry).
            if !report.withheld {
                try await self.store.endActivations(
                    identityID: identityID,
                    reason: "offboarded: \(reason)",
                    at: self.now(),
                    actor: requestedBy
                )
            }
            return report
        }
        self.metrics.offboarding(report.withheld ? "withheld" : "done")
        return report
    }

    /// Whether the running task holds the sync lock (inside `withSyncLock`).
    @TaskLocal static var holdsSyncLock = false

    /// When the running request stops waiting for the sync lock (its arrival + `syncLockWait`);
    /// nil outside a request (the sweeper waits `syncLockWait` each time).
    @TaskLocal static var syncLockDeadline: ContinuousClock.Instant?

    /// Runs `body` holding the sync lock (`<database>.lock`, as `tenure sync` takes it), waited for
    /// up to `syncLockWait` (30 s) — for a SCIM request, counted from its arrival, so that changes
    /// queued behind one another do not each wait it again; then a 503 naming the holder (the
    /// client retries), `body` not run. Within `body` the task holds it: a change that takes it
    /// again (an HR termination's cancellation and offboarding, a move's cancellation) runs in the
    /// same turn — a second `flock` from this process would wait for the first.
    func withSyncLock<T: Sendable>(purpose: String, _ body: () async throws -> T) async throws -> T {
        if Self.holdsSyncLock { return try await body() }
        var wait = self.syncLockWait
        if let deadline = Self.syncLockDeadline { wait = min(wait, max(.zero, deadline - .now)) }
        let lock: SyncLock
        do {
            lock = try await SyncLock.acquire(
                path: self.store.path + ".lock",
                purpose: purpose,
                waitingUpTo: wait
            )
        } catch SyncLockError.held(_, let holder) {
            throw Problem(
                .serviceUnavailable,
                "sync-running",
                title: "Service Unavailable",
                detail: "another sync holds the lock (\(holder)); nothing was changed, try again",
                headers: [.retryAfter: "30"]
            )
        }
        defer { withExtendedLifetime(lock) {} }
        return try await Self.$holdsSyncLock.withValue(true) { try await body() }
    }

    /// Carries out offboardings that are due (the daemon's sweeper calls it), each exactly as an
    /// immediate one (`offboardNow`: a withheld plan ends no activations, the index follows). One
    /// that fails is logged and the others still run.
    public func runDueOffboardings() async throws -> Int {
        let due = try await self.store.offboardings(state: .scheduled, dueBy: self.now())
        var done = 0
        for offboarding in due {
            do {
                _ = try await self.offboardNow(
                    offboarding.identityID,
                    reason: offboarding.reason,
                    offboardingID: offboarding.id,
                    requestedBy: offboarding.requestedBy
                )
                done += 1
            } catch let skipped as OffboardingNotScheduled {
                // Cancelled (HR moved the date) or done by another run since the list was read.
                self.logger.info("a due offboarding was no longer scheduled", metadata: ["offboarding": "\(skipped)"])
            } catch {
                self.metrics.offboarding("failed")
                self.logger.error(
                    "a due offboarding failed; the next sweep tries again",
                    metadata: ["offboarding": "\(offboarding.id)", "error": "\(error)"]
                )
            }
        }
        return done
    }
}

struct OffboardingResponse: Encodable {
    var id: String
    var subject: String
    var username: String?
    var effectiveAt: String
    var reason: String
    var requestedBy: String
    var state: String
    var doneAt: String?
    var plan: Int64?
    var actions: [String]?
    var withheld: Bool?

    init(_ offboarding: Offboarding, username: String?) {
        self.id = offboarding.id
        self.subject = offboarding.identityID
        self.username = username
        self.effectiveAt = isoDate(offboarding.effectiveAt)
        self.reason = offboarding.reason
        self.requestedBy = offboarding.requestedBy
        self.state = offboarding.state.rawValue
        self.doneAt = offboarding.doneAt.map(isoDate)
        self.plan = offboarding.planID
    }
}
