import Foundation
import Hummingbird
public import Logging
import Synchronization
public import TenureAccess
public import TenureConfig
public import TenureCore
public import TenureEngine
public import TenureStore
public import TenureVault

/// Everything the API changes: activations, approvals, check-outs, offboarding and HR records.
/// Changes to who holds what are serialised with the daemon's sync runs (one `Coordinator`), so a
/// plan never races an activation; the access index follows every committed change.
public final class Operations: Sendable {
    public let store: SQLiteStore
    public let mappings: Mappings
    public let index: AccessIndex
    /// The engine (with the write-back executor and the vault's rotator when configured): offboarding
    /// plans, and write-back of activations.
    public let engine: SyncEngine
    public let coordinator: Coordinator
    /// Serialises HR's employment changes (SCIM) with one another, around the coordinator: two
    /// deliveries of the same termination (a client's retry) must not both see "not offboarded
    /// yet", nor one cancel the other's offboarding while it runs.
    let employment = Coordinator()
    /// The sweep's delays for deletions whose settling failed.
    let settleRetries = RetryBackoff()
    /// The vault master key: TOTP seeds and credential secrets are sealed under it. nil without a vault
    /// (then MFA enrolment and check-out are refused with 503).
    public let masterKey: MasterKey?
    public let settings: ServerSettings
    public let metrics: APIMetrics
    public let logger: Logger
    public let now: @Sendable () -> Double
    /// Wrong TOTP codes per identity, for the guess limit.
    let totpGuesses = TOTPGuesses()
    /// Where the store's plans stood when the index was last loaded: a plan made elsewhere (a CLI
    /// sync or offboarding), or progress on one that was open then, makes the sweeper reload it.
    let indexedPlan = Mutex<PlanProgress?>(nil)
    /// How long a change that takes the sync lock (an offboarding, HR's cancellation of one) waits
    /// for a sync running elsewhere (`tenure sync`) to let go of it before it answers 503.
    let syncLockWait: Duration

    public init(
        store: SQLiteStore,
        mappings: Mappings,
        index: AccessIndex,
        engine: SyncEngine,
        coordinator: Coordinator,
        masterKey: MasterKey?,
        settings: ServerSettings,
        metrics: APIMetrics,
        logger: Logger,
        now: (@Sendable () -> Double)? = nil,
        syncLockWait: Duration = .seconds(30)
    ) {
        self.store = store
        self.mappings = mappings
        self.index = index
        var engine = engine
        let clock = now ?? { Date().timeIntervalSince1970 }
        // Every plan this server applies (a scheduled sync's, an offboarding's) is taken out of the
        // index before it runs, not only after: a leaver is denied while their credentials are
        // still being rotated. The index is rebuilt from the store after the plan (or its failure).
        engine.beforeApply = { [index] plan in index.update { $0.withdraw(aheadOf: plan) } }
        // Its rotations run with the coordinator let go (a hung target holds them up to the
        // program's time limit, each): the plan's access changes are in the store and the index by
        // then; the sync lock, still held, keeps other plans out.
        @Sendable func rotationPhase(_ plan: Plan, _ rotations: () async throws -> Void) async throws {
            // The plan's grants are committed by now (they come before its rotations): decided on
            // from here, not only once the rotations are over. The open plan is withdrawn again by
            // the load. If it fails, they show at the end of the plan (fail closed).
            if plan.identities.contains(where: { $0.actions.contains(where: \.grantsAccess) }) {
                do {
                    let model = try await ModelLoader.load(
                        store: store,
                        mappings: mappings,
                        now: clock(),
                        logger: logger
                    )
                    index.update { $0 = model }
                } catch {
                    logger.error(
                        "the index could not take a plan's grants before its rotations",
                        metadata: ["error": "\(error)"]
                    )
                }
            }
            // Until its entry is done, a credential of the run is not checked out (the check-out
            // route asks the store, which knows every open plan's rotations).
            try await coordinator.released { try await rotations() }
        }
        engine.rotationPhase = rotationPhase
        self.engine = engine
        self.coordinator = coordinator
        self.masterKey = masterKey
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.now = clock
        self.syncLockWait = syncLockWait
    }

    func addRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {
        self.addActivationRoutes(to: router, api: api)
        self.addCredentialRoutes(to: router, api: api)
        self.addOffboardingRoutes(to: router, api: api)
        self.addSCIMRoutes(to: router, api: api)
    }

    /// Rebuilds the access index from the store (after a sync or an offboarding), inside the
    /// coordinator: a rebuild read before a change and written after it would undo that change.
    public func reloadIndex() async throws {
        try await self.coordinator.exclusive { try await self.reloadIndexUnlocked() }
    }

    /// Brings one identity's part of the index up to date with the store — its record, assignments
    /// and HR termination — as `reloadIndex` would, without reading everyone's: for changes that
    /// touch one person (HR taking back a termination). Inside the coordinator, like a reload.
    func refreshIndex(identityID: String) async throws {
        try await self.coordinator.exclusive { try await self.refreshIndexUnlocked(identityID: identityID) }
    }

    /// The same, for a caller that holds the coordinator (an offboarding, after its plan).
    func refreshIndexUnlocked(identityID: String) async throws {
        let state = try await self.store.loadState(identityID: identityID)
        let termination = try await self.store.hrTermination(identityID: identityID, now: self.now())
        self.index.update { model in
            if let record = state.identities[identityID] { model.upsertIdentity(record) }
            let stored = Set(state.assignments.map(\.key))
            for holding in model.holdings(of: identityID).values {
                for assignment in [holding.eligible, holding.active].compactMap({ $0 })
                where !stored.contains(assignment.key) {
                    model.removeAssignment(assignment.key)
                }
            }
            for assignment in state.assignments { model.upsertAssignment(assignment) }
            model.setTerminated(identityID, reason: termination)
        }
    }

    /// The same, for a caller that holds the coordinator.
    func reloadIndexUnlocked() async throws {
        // Read first: a change made while the model loads shows at the next sweep.
        let plan = try await self.store.planProgress()
        let model = try await ModelLoader.load(
            store: self.store,
            mappings: self.mappings,
            now: self.now(),
            logger: self.logger
        )
        self.index.update { $0 = model }
        self.indexedPlan.withLock { $0 = plan }
    }

    /// Reloads the index when the store's plans moved on since it was loaded (a `tenure sync` or
    /// `tenure offboard` run from the command line beside the server: a new plan, entries of an open
    /// one applied, an open one finished). The sweeper calls it. A plan still open at the reload is
    /// withdrawn ahead (`ModelLoader`), and the reloads go on until it is finished: what it grants
    /// and records after the first reload shows too.
    public func reloadIndexIfChangedElsewhere() async throws {
        let progress = try await self.store.planProgress()
        guard progress != self.indexedPlan.withLock({ $0 }) else { return }
        try await self.reloadIndex()
    }
}

/// Wrong TOTP codes per identity: at most `limit` in `window` seconds, then every code is refused
/// until the window has passed. In memory (a restart forgets; each refusal is still audited).
final class TOTPGuesses: Sendable {
    static let limit = 5
    static let window: Double = 300
    private let failures = Mutex<[String: [Double]]>([:])

    func isLocked(_ identityID: String, now: Double) -> Bool {
        self.failures.withLock { table in
            let recent = (table[identityID] ?? []).filter { now - $0 < Self.window }
            table[identityID] = recent.isEmpty ? nil : recent
            return recent.count >= Self.limit
        }
    }

    func failed(_ identityID: String, now: Double) {
        self.failures.withLock { $0[identityID, default: []].append(now) }
    }
}

/// When a deletion whose settling failed (not for the sync lock) is tried again: 15 s after the
/// first failure, doubling to an hour. In memory: a restart tries at once.
final class RetryBackoff: Sendable {
    static let first: Double = 15
    static let longest: Double = 3_600
    private let entries = Mutex<[String: (failures: Int, next: Double)]>([:])

    func isDue(_ key: String, now: Double) -> Bool {
        self.entries.withLock { ($0[key]?.next ?? now) <= now }
    }

    /// Records a failure; the seconds until the next try.
    func failed(_ key: String, now: Double) -> Double {
        self.entries.withLock { table in
            let failures = (table[key]?.failures ?? 0) + 1
            let delay = min(Self.first * pow(2, Double(failures - 1)), Self.longest)
            table[key] = (failures, now + delay)
            return delay
        }
    }

    func succeeded(_ key: String) {
        self.entries.withLock { _ = $0.removeValue(forKey: key) }
    }
}

/// One change to the model at a time, in this process: sync runs, activations, offboardings. A
/// real lock (waiters queue in order), not just actor isolation: an actor method that awaits its
/// body lets the next caller in at every suspension.
public actor Coordinator {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// The coordinator whose `exclusive` body the running task is in.
    @TaskLocal private static var holder: ObjectIdentifier?

    public init() {}

    public func exclusive<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await self.acquire()
        defer { self.release() }
        return try await Self.$holder.withValue(ObjectIdentifier(self)) { try await body() }
    }

    /// From inside `exclusive`: lets the lock go for `body` — others' changes run meanwhile — then
    /// waits its turn again (behind those already waiting) before returning. For work that reaches
    /// outside and may take minutes (a leaver's credential rotations) in the middle of a change
    /// whose model part is done. Outside `exclusive` (of this coordinator) it only runs `body`, as
    /// it does within `body` (the task does not hold the lock there). Only for the task that entered
    /// `exclusive`: a child task of its body inherits the task-local that says so.
    public nonisolated func released<T>(_ body: () async throws -> T) async rethrows -> T {
        guard Self.holder == ObjectIdentifier(self) else { return try await body() }
        await self.release()
        do {
            let result = try await Self.$holder.withValue(nil) { try await body() }
            await self.acquire()
            return result
        } catch {
            await self.acquire()
            throw error
        }
    }

    private func acquire() async {
        guard self.busy else {
            self.busy = true
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    /// Hands the lock to the next waiter (it stays busy), or frees it.
    private func release() {
        if self.waiters.isEmpty {
            self.busy = false
        } else {
            self.waiters.removeFirst().resume()
        }
    }
}
