public import DirectorySource
import Foundation
import LDAPClient
public import Logging
public import TenureCore
import TenureCrypto
public import TenureStore

/// Pull + plan + journaled apply.
///
/// Every action of a plan is one journal entry; applying it changes the model, marks it done and
/// appends its audit records in one transaction. A run killed at any point leaves a plan with some
/// entries done: the next run resumes it first, so every event happens exactly once.
public struct SyncEngine: Sendable {
    public var mappings: Mappings
    public var store: any PIMStore
    public var logger: Logger
    /// Who the audit records name as the actor (`sync`, `cli:<user>`).
    public var actor: String
    /// Rotates the credentials a leaver could know; nil when no vault is configured (the planned
    /// rotations are then journaled as not executed).
    public var rotator: CredentialRotator?
    /// Writes write-back groups; nil when `writeBack:` is not configured (the planned writes are then
    /// journaled as not executed).
    public var writeBack: (any WriteBackExecutor)?
    /// `writeBack.emptyGroupPlaceholder`: never reported as drift.
    public var writeBackPlaceholder: String?
    /// Called with every plan about to be applied (new, resumed or an offboarding's), once it is
    /// saved and before its first entry: `tenure serve` takes out of its access index what the plan
    /// takes away, so that nothing it revokes is permitted while the rest of it runs.
    public var beforeApply: (@Sendable (Plan) -> Void)?
    /// Runs a plan's credential rotations (each run of them, in journal order), which reach outside
    /// and may take minutes (a program's time limit, LDAP timeouts): `rotations` rotates them one
    /// after another, each journal entry done (committed) once its rotation is over.
    /// `tenure serve` runs them with its coordinator let go (`Coordinator.released`): the plan's
    /// access changes are applied, and withdrawn from the index, before them; other people's
    /// activations, approvals and check-outs need not wait for them (a check-out of a credential
    /// whose entry is not done yet is refused: `SQLiteStore.planStillToRotate`). nil: they
    /// run where the plan runs.
    public var rotationPhase: (@Sendable (_ plan: Plan, _ rotations: () async throws -> Void) async throws -> Void)?

    public init(
        mappings: Mappings,
        store: any PIMStore,
        logger: Logger,
        actor: String,
        rotator: CredentialRotator? = nil,
        writeBack: (any WriteBackExecutor)? = nil,
        writeBackPlaceholder: String? = nil
    ) {
        self.mappings = mappings
        self.store = store
        self.logger = logger
        self.actor = actor
        self.rotator = rotator
        self.writeBack = writeBack
        self.writeBackPlaceholder = writeBackPlaceholder
    }

    /// The planner, with RFC 4514 normalisation of DNs.
    public var planner: Planner {
        Planner(
            mappings: self.mappings,
            normalizeDN: normalizeDNOrKeep,
            writeBackPlaceholder: self.writeBackPlaceholder
        )
    }

    /// The write-back groups, normalised: a pull must read them even outside the group bases.
    public var writeBackGroups: [String] {
        self.mappings.roles.compactMap(\.writeBackGroup).map(normalizeDNOrKeep)
    }

    /// Audits `sync.failed` at `stage` (best effort: the error that made it is what the caller throws).
    private func auditSyncFailed(stage: String, _ error: any Error, time: Double) async {
        _ = try? await self.store.appendAudit([
            AuditEvent(
                time: time,
                actor: self.actor,
                type: "sync.failed",
                outcome: "failure",
                details: ["stage": stage, "error": String(describing: error)]
            )
        ])
    }

    /// Plans against the stored model (nothing is written).
    public func plan(snapshot: DirectorySnapshot, now: Double) async throws -> (plan: Plan, hash: String) {
        let started = ContinuousClock.now
        var state = try await self.store.loadState()
        let history = try await self.store.leaverHistory(
            since: now - self.mappings.leaver.lookBackSeconds,
            identityID: nil
        )
        state.endedHoldings = history.ended
        state.checkouts = history.checkouts
        state.hrTerminated = try await self.store.hrTerminations(now: now)
        let loaded = ContinuousClock.now
        let plan = self.planner.plan(state: state, snapshot: snapshot, now: now)
        let planned = ContinuousClock.now
        let hash = try Self.contentHash(plan)
        self.logger.debug(
            "planned",
            metadata: [
                "store.load_seconds": "\(loaded - started)", "plan.seconds": "\(planned - loaded)",
                "plan.hash_seconds": "\(ContinuousClock.now - planned)", "plan.identities": "\(plan.identities.count)",
            ]
        )
        return (plan, hash)
    }

    /// SHA-256 of the plan's canonical JSON (sorted keys) without the clock — its creation time and
    /// the seen/terminated times of identity records — so the same changes planned a minute apart
    /// (`tenure plan`, then the `tenure sync` that applies them) have the same hash.
    public static func contentHash(_ plan: Plan) throws -> String {
        var stable = plan
        stable.createdAt = 0
        for index in stable.identities.indices {
            stable.identities[index].actions = stable.identities[index].actions.map { action in
                guard case .recordIdentity(var record) = action else { return action }
                record.firstSeen = 0
                record.lastSeen = 0
                record.terminatedAt = record.terminatedAt.map { _ in 0 }
                return .recordIdentity(record)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return hex(Digest.sha256(Array(try encoder.encode(stable))))
    }

    /// The journal of a plan: every access change of every identity (revocations and expiries
    /// first, across the whole plan, then elevations and grants), then the identity records.
    public static func journal(for plan: Plan) -> [JournalEntry] {
        var entries: [JournalEntry] = []
        for phase in 0...PlanAction.lastPhase {
            for identity in plan.identities {
                for action in identity.actions where action.phase == phase {
                    entries.append(
                        JournalEntry(
                            id: 0,
                            identityID: identity.identityID,
                            index: entries.count,
                            action: action,
                            done: false
                        )
                    )
                }
            }
        }
        return entries
    }

    /// Journal entries applied per transaction.
    public static let batchSize = 256

    /// What a sync did.
    public struct Report: Sendable {
        /// A plan left unfinished by an earlier run and completed first.
        public var resumed: (planID: Int64, entries: Int)?
        public var plan: Plan
        public var hash: String
        public var planID: Int64?
        public var applied: Int
        public var held: Bool
        /// The audit records this run wrote.
        public var auditRange: ClosedRange<Int64>?
        /// What the vault did after the plan: crash repair, retries of failed rotations, rotations of
        /// credentials past their max age.
        public var maintenance: [CredentialRotator.MaintenanceResult] = []
    }

    /// One sync: resume what an earlier run left unfinished, pull, plan, apply, then the vault's
    /// maintenance (with a vault, unless `vaultMaintenance` is false: `tenure serve`'s sweeper
    /// runs it on its own, outside the locks a sync holds). The caller holds the sync lock.
    public func sync(
        allowMassRevoke: Bool,
        now: @Sendable () -> Double,
        pull: () async throws -> PullResult,
        afterEntry: (@Sendable (Int) -> Void)? = nil,
        vaultMaintenance: Bool = true
    ) async throws -> Report {
        let auditBefore = try await self.newestAuditSequence()
        var report = try await self.syncPlan(
            allowMassRevoke: allowMassRevoke,
            now: now,
            pull: pull,
            afterEntry: afterEntry,
            auditBefore: auditBefore
        )
        if let rotator = self.rotator, vaultMaintenance {
            report.maintenance = await self.maintain(rotator, now: now)
            let after = try await self.newestAuditSequence()
            report.auditRange = after > auditBefore ? (auditBefore + 1)...after : nil
        }
        return report
    }

    /// What an offboarding did.
    public struct OffboardReport: Sendable {
        public var offboardingID: String
        public var plan: Plan
        public var planID: Int64
        public var applied: Int
        /// The plan was withheld: the identity is protected.
        public var withheld: Bool
    }

    /// Terminates one identity now, without reading the directory: every assignment revoked, Tenure's
    /// write-back memberships removed, every credential they could know rotated, the identity
    /// recorded as terminated — one journaled plan, audited like a sync's. The offboarding is
    /// recorded (`offboardingID`, or a new one) so that later syncs keep the identity terminated
    /// even while the directory still shows it enabled. The caller holds the sync lock.
    public func offboard(
        identityID: String,
        reason: String,
        offboardingID: String? = nil,
        requestedBy: String? = nil,
        now: @Sendable () -> Double
    ) async throws -> OffboardReport {
        let time = now()
        // A scheduled offboarding is carried out only while it is still scheduled: between the read
        // of the due list and here, HR may have moved the date (cancelled) or another run done it.
        if let offboardingID {
            guard let row = try await self.store.offboarding(id: offboardingID) else {
                throw OffboardingNotScheduled(id: offboardingID, state: nil)
            }
            guard row.state == .scheduled else { throw OffboardingNotScheduled(id: offboardingID, state: row.state) }
        }
        var state = try await self.store.loadState(identityID: identityID)
        guard let leaver = state.identities[identityID] else {
            throw StoreError(.invalidEvent, "no identity \(identityID) is known to Tenure")
        }
        // Other accounts with the leaver's username: the plan leaves `memberUid` alone when there
        // are any (such a value may be theirs).
        if let username = leaver.username, !username.isEmpty {
            for record in try await self.store.identityRecords(username: username) where record.id != identityID {
                state.identities[record.id] = record
            }
        }
        let history = try await self.store.leaverHistory(
            since: time - self.mappings.leaver.lookBackSeconds,
            identityID: identityID
        )
        state.endedHoldings = history.ended
        state.checkouts = history.checkouts
        guard let plan = self.planner.offboardPlan(state: state, identityID: identityID, reason: reason, now: time)
        else {
            throw StoreError(.invalidEvent, "no identity \(identityID) is known to Tenure")
        }
        let withheld = plan.identities.first?.isProtected ?? false
        let id = offboardingID ?? "off-\(UUID().uuidString.lowercased())"
        if offboardingID == nil {
            try await self.store.addOffboarding(
                Offboarding(
                    id: id,
                    identityID: identityID,
                    effectiveAt: time,
                    reason: reason,
                    requestedBy: requestedBy ?? self.actor,
                    requestedAt: time
                ),
                audit: [
                    AuditEvent(
                        time: time,
                        actor: self.actor,
                        type: "offboarding.requested",
                        subject: identityID,
                        object: "offboarding:\(id)",
                        details: ["reason": reason, "effectiveAt": isoDate(time)]
                    )
                ]
            )
        }
        let hash = try Self.contentHash(plan)
        let journal = Self.journal(for: plan)
        let planID = try await self.store.savePlan(plan, hash: hash, actor: self.actor, journal: journal)
        let saved = try await self.savedJournal(journal, planID: planID)
        let outcome = try await self.apply(planID: planID, journal: saved, plan: plan, now: now, afterEntry: nil)
        try await self.store.completeOffboarding(
            id,
            planID: planID,
            at: now(),
            audit: [
                AuditEvent(
                    time: now(),
                    actor: self.actor,
                    type: "offboarding.completed",
                    subject: identityID,
                    object: "offboarding:\(id)",
                    outcome: withheld ? "withheld" : "success",
                    details: [
                        "reason": reason, "plan": String(planID), "actions": String(journal.count),
                        "username": plan.identities.first?.username ?? "",
                    ]
                )
            ]
        )
        return OffboardReport(
            offboardingID: id,
            plan: plan,
            planID: planID,
            applied: outcome.applied,
            withheld: withheld
        )
    }

    /// The journal as saved with plan `planID`: each entry with the id the store gave it, in
    /// journal order. A count that differs means the plan was not saved as planned: nothing is
    /// applied.
    func savedJournal(_ journal: [JournalEntry], planID: Int64) async throws -> [JournalEntry] {
        let ids = try await self.store.journalEntryIDs(planID: planID)
        guard ids.count == journal.count else {
            throw StoreError(
                .corruptData,
                "plan \(planID) was saved with \(ids.count) journal entries, not \(journal.count)"
            )
        }
        return zip(journal, ids).map { entry, id in
            var entry = entry
            entry.id = id
            return entry
        }
    }

    /// The vault's share of every sync: a pending version left by a crash is settled, a failed
    /// rotation whose back-off has passed is retried, a credential past its max age is rotated. A
    /// failure here never undoes the plan: it is logged and audited, and the next sync tries again.
    func maintain(_ rotator: CredentialRotator, now: () -> Double) async -> [CredentialRotator.MaintenanceResult] {
        do {
            // Each step is logged and audited by the rotator.
            return try await rotator.maintain()
        } catch {
            self.logger.error("vault maintenance failed", metadata: ["error": "\(error)"])
            _ = try? await self.store.appendAudit([
                AuditEvent(
                    time: now(),
                    actor: self.actor,
                    type: "vault.maintenance",
                    outcome: "failure",
                    details: ["error": "\(error)"]
                )
            ])
            return []
        }
    }

    private func syncPlan(
        allowMassRevoke: Bool,
        now: @Sendable () -> Double,
        pull: () async throws -> PullResult,
        afterEntry: (@Sendable (Int) -> Void)?,
        auditBefore: Int64
    ) async throws -> Report {
        func written() async throws -> ClosedRange<Int64>? {
            let after = try await self.newestAuditSequence()
            return after > auditBefore ? (auditBefore + 1)...after : nil
        }

        var resumed: (Int64, Int)?
        if let unfinished = try await self.store.unfinishedPlan() {
            if unfinished.plan.guardVerdict.held {
                // A plan the guard held, saved by a run that stopped before marking it held: it was
                // never approved, so it is closed as held, not applied.
                try await self.store.finishPlan(
                    unfinished.id,
                    status: .held,
                    audit: [
                        AuditEvent(
                            time: now(),
                            actor: self.actor,
                            type: "plan.held",
                            object: "plan:\(unfinished.id)",
                            outcome: "held",
                            details: [
                                "hash": unfinished.hash, "reason": unfinished.plan.guardVerdict.reason ?? "",
                                "note": "found unfinished after an interrupted run; not applied",
                            ]
                        )
                    ]
                )
            } else {
                self.logger.notice(
                    "resuming an unfinished plan",
                    metadata: ["plan.id": "\(unfinished.id)", "plan.hash": "\(unfinished.hash)"]
                )
                _ = try await self.store.appendAudit([
                    AuditEvent(
                        time: now(),
                        actor: self.actor,
                        type: "plan.resumed",
                        object: "plan:\(unfinished.id)",
                        details: [
                            "hash": unfinished.hash, "pending": String(unfinished.journal.filter { !$0.done }.count),
                        ]
                    )
                ])
                let outcome = try await self.apply(
                    planID: unfinished.id,
                    journal: unfinished.journal,
                    plan: unfinished.plan,
                    now: now,
                    afterEntry: afterEntry
                )
                resumed = (unfinished.id, outcome.applied)
            }
        }

        // Offboardings that fell due while nothing carried them out (the server was down).
        for due in try await self.store.offboardings(state: .scheduled, dueBy: now()) {
            do {
                _ = try await self.offboard(
                    identityID: due.identityID,
                    reason: due.reason,
                    offboardingID: due.id,
                    requestedBy: due.requestedBy,
                    now: now
                )
            } catch let skipped as OffboardingNotScheduled {
                self.logger.info("a due offboarding was no longer scheduled", metadata: ["offboarding": "\(skipped)"])
            }
        }

        let pulled: PullResult
        do {
            pulled = try await pull()
        } catch {
            // Fail closed: nothing is planned or applied from a failed read. The failure is audited.
            await self.auditSyncFailed(stage: "pull", error, time: now())
            throw error
        }
        let (plan, hash): (Plan, String)
        do {
            (plan, hash) = try await self.plan(snapshot: pulled.snapshot, now: now())
        } catch {
            // Nothing is applied from a plan that could not be made; audited like a failed pull.
            await self.auditSyncFailed(stage: "plan", error, time: now())
            throw error
        }
        if !plan.ambiguousGroupNames.isEmpty {
            // Every run, until the mappings name the group by DN: conditions on it decide nothing.
            var events: [AuditEvent] = []
            for entry in plan.ambiguousGroupNames {
                let dns = entry.dns.joined(separator: "; ")
                self.logger.warning(
                    """
                    memberOf names several groups; its conditions are undecided (nothing granted or revoked \
                    through them) until the mappings name the group by DN
                    """,
                    metadata: ["memberOf": "\(entry.name)", "groups": "\(dns)"]
                )
                events.append(
                    AuditEvent(
                        time: now(),
                        actor: self.actor,
                        type: "mappings.ambiguous_group",
                        object: entry.name,
                        outcome: "undecided",
                        details: ["groups": dns]
                    )
                )
            }
            _ = try await self.store.appendAudit(events)
        }
        let summary = plan.summary
        var details = [
            "hash": hash, "identities": String(pulled.snapshot.identities.count), "joiners": String(summary.joiners),
            "movers": String(summary.movers), "leavers": String(summary.leavers), "grants": String(summary.grants),
            "revocations": String(summary.revocations), "server": pulled.server,
        ]

        if plan.identities.isEmpty {
            _ = try await self.store.recordDrift(plan.drift, time: now(), actor: self.actor)
            _ = try await self.store.appendAudit([
                AuditEvent(
                    time: now(),
                    actor: self.actor,
                    type: "sync.completed",
                    outcome: "no-change",
                    details: details
                )
            ])
            return Report(
                resumed: resumed,
                plan: plan,
                hash: hash,
                planID: nil,
                applied: 0,
                held: false,
                auditRange: try await written()
            )
        }

        let journal = Self.journal(for: plan)
        // A held plan is stored as approved only when a person overrode the guard; the stored
        // verdict is what a resumed run goes by.
        var stored = plan
        if plan.guardVerdict.held && allowMassRevoke {
            stored.guardVerdict.held = false
            stored.guardVerdict.reason =
                "guard overridden with --allow-mass-revoke by \(self.actor): \(plan.guardVerdict.reason ?? "")"
        }
        let planID = try await self.store.savePlan(stored, hash: hash, actor: self.actor, journal: journal)
        if plan.guardVerdict.held && allowMassRevoke {
            details["reason"] = plan.guardVerdict.reason ?? ""
            _ = try await self.store.appendAudit([
                AuditEvent(
                    time: now(),
                    actor: self.actor,
                    type: "plan.guard_overridden",
                    object: "plan:\(planID)",
                    details: details
                )
            ])
        }
        if plan.guardVerdict.held && !allowMassRevoke {
            details["reason"] = plan.guardVerdict.reason ?? ""
            try await self.store.finishPlan(
                planID,
                status: .held,
                audit: [
                    AuditEvent(
                        time: now(),
                        actor: self.actor,
                        type: "plan.held",
                        object: "plan:\(planID)",
                        outcome: "held",
                        details: details
                    )
                ]
            )
            return Report(
                resumed: resumed,
                plan: plan,
                hash: hash,
                planID: planID,
                applied: 0,
                held: true,
                auditRange: try await written()
            )
        }
        let saved = try await self.savedJournal(journal, planID: planID)
        let outcome = try await self.apply(
            planID: planID,
            journal: saved,
            plan: plan,
            now: now,
            afterEntry: afterEntry
        )
        // Drift is recorded as it ended, not as planned: a removal or re-add that did not happen
        // (write-back not configured, or the server refused) stays reported, and the next sync tries
        // again.
        var drift = plan.drift
        for index in drift.indices
        where drift[index].resolution == .removed || drift[index].resolution == .readded {
            guard outcome.unexecutedWrites.contains(Self.writeKey(drift[index].group, drift[index].member)) else {
                continue
            }
            drift[index].resolution = .reported
            drift[index].detail += " (the write did not happen; see the writeback audit record)"
        }
        _ = try await self.store.recordDrift(drift, time: now(), actor: self.actor)
        return Report(
            resumed: resumed,
            plan: plan,
            hash: hash,
            planID: planID,
            applied: outcome.applied,
            held: false,
            auditRange: try await written()
        )
    }

    /// Applies the not-yet-done entries of a stored plan, then marks it applied.
    func apply(
        planID: Int64,
        journal: [JournalEntry],
        plan: Plan,
        now: @Sendable () -> Double,
        afterEntry: (@Sendable (Int) -> Void)?
    ) async throws -> (applied: Int, unexecutedWrites: Set<String>) {
        self.beforeApply?(plan)
        var unexecuted = Set<String>()
        let plans = Dictionary(plan.identities.map { ($0.identityID, $0) }, uniquingKeysWith: { first, _ in first })
        // Batches of entries per transaction: each entry keeps its change, done-mark and audit
        // together, so a crash loses a whole batch or none of it and resume stays exact. A
        // credential rotation reaches outside the database, so it runs on its own, keyed by its
        // journal entry: a resumed plan finds the rotation instead of repeating it.
        var applied = 0
        var batch: [JournalApplication] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            applied += try await self.store.applyJournalEntries(planID: planID, batch)
            batch.removeAll(keepingCapacity: true)
            afterEntry?(applied)
        }
        let pending = journal.filter { !$0.done }
        var position = 0
        while position < pending.count {
            let entry = pending[position]
            position += 1
            if case .rotateCredential(let name, let role, let reason) = entry.action, let rotator = self.rotator {
                try await flush()
                // This rotation and the ones right after it, in one `rotationPhase`.
                var run = [(entry: entry, name: name, role: role, reason: reason)]
                while position < pending.count,
                    case .rotateCredential(let name, let role, let reason) = pending[position].action
                {
                    run.append((pending[position], name, role, reason))
                    position += 1
                }
                func rotateRun() async throws {
                    for (entry, name, role, reason) in run {
                        let event = await self.rotate(
                            name,
                            role: role,
                            reason: reason,
                            identity: plans[entry.identityID],
                            requestID: "plan:\(planID):entry:\(entry.id)",
                            rotator: rotator,
                            time: now()
                        )
                        batch.append(JournalApplication(entryID: entry.id, change: .none, audit: [event]))
                        try await flush()
                    }
                }
                if let rotationPhase = self.rotationPhase {
                    try await rotationPhase(plan, rotateRun)
                } else {
                    try await rotateRun()
                }
                continue
            }
            if case .writeBack(let group, let role, let add, let member, let reason, let username) = entry.action,
                let executor = self.writeBack
            {
                let identity = plans[entry.identityID]
                let value = member ?? identity?.dn ?? ""
                let (change, event) = await self.write(
                    group: group,
                    role: role,
                    add: add,
                    member: value,
                    username: username,
                    reason: reason,
                    entry: entry,
                    identity: identity,
                    executor: executor,
                    time: now()
                )
                if event.outcome != "success" { unexecuted.insert(Self.writeKey(group, normalizeDNOrKeep(value))) }
                batch.append(JournalApplication(entryID: entry.id, change: change, audit: [event]))
                if batch.count >= Self.batchSize { try await flush() }
                continue
            }
            if case .writeBack(let group, _, _, let member, _, _) = entry.action {
                // No executor: journaled and audited as not executed.
                let value = member ?? plans[entry.identityID]?.dn ?? ""
                unexecuted.insert(Self.writeKey(group, normalizeDNOrKeep(value)))
            }
            let (change, events) = self.effect(of: entry, identity: plans[entry.identityID], time: now())
            batch.append(JournalApplication(entryID: entry.id, change: change, audit: events))
            if batch.count >= Self.batchSize { try await flush() }
        }
        try await flush()
        var closing: [AuditEvent] = []
        for conflict in plan.conflicts {
            closing.append(
                AuditEvent(
                    time: now(),
                    actor: self.actor,
                    type: "sod.conflict",
                    subject: conflict.identityID,
                    object: conflict.role,
                    outcome: "refused",
                    details: [
                        "conflictsWith": conflict.conflictsWith, "rule": conflict.rule,
                        "username": conflict.username ?? "",
                    ]
                )
            )
        }
        for change in plan.protectedChanges {
            closing.append(
                AuditEvent(
                    time: now(),
                    actor: self.actor,
                    type: "protected.change",
                    outcome: "withheld",
                    details: ["change": change]
                )
            )
        }
        let summary = plan.summary
        closing.append(
            AuditEvent(
                time: now(),
                actor: self.actor,
                type: "plan.applied",
                object: "plan:\(planID)",
                details: [
                    "actions": String(journal.count), "joiners": String(summary.joiners),
                    "movers": String(summary.movers),
                    "leavers": String(summary.leavers), "grants": String(summary.grants),
                    "revocations": String(summary.revocations + summary.expirations),
                ]
            )
        )
        try await self.store.finishPlan(planID, status: .applied, audit: closing)
        return (applied, unexecuted)
    }

    /// A write-back group and member, for matching drift findings with write outcomes.
    static func writeKey(_ group: String, _ member: String) -> String { group + "\n" + member }

    /// Rotates one credential for a leaver; the outcome (never a secret) as an audit record. A failed
    /// rotation does not stop the sync: it is recorded here and in the vault's status for a retry.
    func rotate(
        _ name: String,
        role: String,
        reason: String,
        identity: IdentityPlan?,
        requestID: String,
        rotator: CredentialRotator,
        time: Double
    ) async -> AuditEvent {
        var details = ["username": identity?.username ?? "", "role": role, "reason": reason, "request": requestID]
        var outcome = "success"
        do {
            guard try await rotator.store.credentialStatus(named: name) != nil else {
                details["result"] = "not executed: \(name) is not in the vault"
                return AuditEvent(
                    time: time,
                    actor: self.actor,
                    type: "credential.rotate",
                    subject: identity?.identityID,
                    object: name,
                    outcome: "skipped",
                    details: details
                )
            }
            switch try await rotator.rotate(name, reason: reason, requestID: requestID) {
            case .rotated(let version):
                details["result"] = "rotated to version \(version)"
            case .nothingPending:
                details["result"] = "nothing to do"
            case .unchanged(let why), .needsAttention(let why):
                outcome = "failure"
                details["result"] = why
            }
        } catch {
            outcome = "failure"
            details["result"] = "\(error)"
        }
        return AuditEvent(
            time: time,
            actor: self.actor,
            type: "credential.rotate",
            subject: identity?.identityID,
            object: name,
            outcome: outcome,
            details: details
        )
    }

    /// Writes one member of a write-back group. LDAP writes are idempotent, so the entry joins the
    /// normal batch: a crash before its commit repeats the write on resume, harmlessly. A failed
    /// write changes nothing in the model and is audited; the next plan finds the group still
    /// differing and plans the write again.
    func write(
        group: String,
        role: String,
        add: Bool,
        member: String,
        username: String?,
        reason: String?,
        entry: JournalEntry,
        identity: IdentityPlan?,
        executor: any WriteBackExecutor,
        time: Double
    ) async -> (StateChange, AuditEvent) {
        let isIdentity = !entry.identityID.hasPrefix("member:")
        var details = [
            "group": group, "member": member, "operation": add ? "add" : "remove", "reason": reason ?? "",
            "username": identity?.username ?? "",
        ]
        var outcome = "success"
        var change = StateChange.none
        do {
            // The planner says when a removal takes the username out of `memberUid` too.
            let result = try await executor.write(
                group: group,
                member: member,
                username: add ? nil : username,
                add: add
            )
            details["result"] = result == .changed ? (add ? "added" : "removed") : "already in place"
            if isIdentity {
                change =
                    add
                    ? .addWriteBackMember(
                        WriteBackMember(
                            group: group,
                            identityID: entry.identityID,
                            member: member,
                            role: role,
                            since: time
                        )
                    )
                    : .removeWriteBackMember(group: group, identityID: entry.identityID)
            }
        } catch {
            outcome = "failure"
            details["result"] = "\(error)"
            self.logger.error(
                "write-back failed",
                metadata: ["group": "\(group)", "member": "\(member)", "error": "\(error)"]
            )
        }
        let event = AuditEvent(
            time: time,
            actor: self.actor,
            type: "writeback.\(add ? "add" : "remove")",
            subject: isIdentity ? entry.identityID : nil,
            object: role,
            outcome: outcome,
            details: details
        )
        return (change, event)
    }

    /// The model change and audit records of one journal entry.
    func effect(of entry: JournalEntry, identity: IdentityPlan?, time: Double) -> (StateChange, [AuditEvent]) {
        let id = entry.identityID
        var details = ["username": identity?.username ?? ""]
        func event(_ type: String, _ object: String?, outcome: String = "success") -> AuditEvent {
            AuditEvent(
                time: time,
                actor: self.actor,
                type: type,
                subject: id,
                object: object,
                outcome: outcome,
                details: details
            )
        }
        switch entry.action {
        case .revoke(let role, let state, let reason):
            details["state"] = state.rawValue
            details["reason"] = reason
            return (
                .deleteAssignment(AssignmentKey(identityID: id, role: role, state: state)),
                [event("role.revoked", role)]
            )
        case .expire(let role, let state, let reason):
            details["state"] = state.rawValue
            details["reason"] = reason
            return (
                .deleteAssignment(AssignmentKey(identityID: id, role: role, state: state)),
                [event("role.expired", role)]
            )
        case .grantEligible(let role, let rule):
            details["state"] = "eligible"
            details["rule"] = rule
            let assignment = Assignment(
                identityID: id,
                role: role,
                state: .eligible,
                source: "rule:\(rule)",
                since: time
            )
            return (.upsertAssignment(assignment), [event("role.granted", role)])
        case .grantStanding(let role, let rule):
            details["state"] = "active"
            details["rule"] = rule
            let assignment = Assignment(identityID: id, role: role, state: .active, source: "rule:\(rule)", since: time)
            return (.upsertAssignment(assignment), [event("role.granted", role)])
        case .elevate(let role, let rule):
            details["from"] = "eligible"
            details["to"] = "active"
            details["rule"] = rule
            let assignment = Assignment(identityID: id, role: role, state: .active, source: "rule:\(rule)", since: time)
            return (
                .replaceAssignment(
                    remove: AssignmentKey(identityID: id, role: role, state: .eligible),
                    add: assignment
                ),
                [event("role.elevated", role)]
            )
        case .writeBack(let group, let role, let add, let member, let reason, _):
            // Without a `writeBack:` account the plan still names the write; the journal records it
            // as not executed (and the audit says so) rather than pretend.
            details["group"] = group
            details["member"] = member ?? identity?.dn ?? ""
            details["operation"] = add ? "add" : "remove"
            details["reason"] = reason ?? ""
            details["result"] = "not executed: write-back is not configured (writeBack: in the configuration)"
            return (.none, [event("writeback.\(add ? "add" : "remove")", role, outcome: "skipped")])
        case .adopt(let role, let group):
            details["state"] = "active"
            details["group"] = group
            details["reason"] = "drift policy adopt: in the write-back group without holding the role"
            let assignment = Assignment(identityID: id, role: role, state: .active, source: "drift:adopt", since: time)
            let member = WriteBackMember(
                group: group,
                identityID: id,
                member: identity?.dn ?? "",
                role: role,
                since: time
            )
            return (
                .all([.upsertAssignment(assignment), .addWriteBackMember(member)]),
                [event("role.adopted", role)]
            )
        case .rotateCredential(let name, let role, let reason):
            details["role"] = role
            details["reason"] = reason
            details["result"] = "not executed: no vault in this version"
            return (.none, [event("credential.rotate", name, outcome: "skipped")])
        case .recordIdentity(let record):
            var events: [AuditEvent] = []
            for lifecycle in identity?.events ?? [] {
                details["reasons"] = lifecycle.reasons.joined(separator: "; ")
                details["dn"] = record.dn
                events.append(event("identity.\(lifecycle.kind.rawValue)", nil))
            }
            return (.upsertIdentity(record), events)
        }
    }

    private func newestAuditSequence() async throws -> Int64 {
        let newest = try await self.store.auditRecords(
            AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: 1, newestFirst: true)
        )
        return newest.first?.sequence ?? 0
    }
}

private func normalizeDNOrKeep(_ dn: String) -> String {
    (try? DistinguishedName.normalize(dn)) ?? dn.lowercased()
}

/// A scheduled offboarding found cancelled or done when its turn came: nothing was changed.
public struct OffboardingNotScheduled: Error, CustomStringConvertible, Sendable {
    public var id: String
    public var state: Offboarding.State?

    public var description: String {
        "offboarding \(self.id) is \(self.state.map { "\($0.rawValue)" } ?? "gone"), no longer scheduled: nothing was done"
    }
}
