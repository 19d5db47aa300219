import Foundation
import Hummingbird
public import Logging
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
    /// The vault master key: TOTP seeds and credential secrets are sealed under it. nil without a vault
    /// (then MFA enrolment and check-out are refused with 503).
    public let masterKey: MasterKey?
    public let settings: ServerSettings
    public let metrics: APIMetrics
    public let logger: Logger
    public let now: @Sendable () -> Double

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
        now: (@Sendable () -> Double)? = nil
    ) {
        self.store = store
        self.mappings = mappings
        self.index = index
        self.engine = engine
        self.coordinator = coordinator
        self.masterKey = masterKey
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.now = now ?? { Date().timeIntervalSince1970 }
    }

    func addRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {
        self.addActivationRoutes(to: router, api: api)
        self.addCredentialRoutes(to: router, api: api)
        self.addOffboardingRoutes(to: router, api: api)
        self.addSCIMRoutes(to: router, api: api)
    }

    /// Rebuilds the access index from the store (after a sync or an offboarding).
    public func reloadIndex() async throws {
        let model = try await ModelLoader.load(store: self.store, mappings: self.mappings)
        self.index.update { $0 = model }
    }
}

/// One change to the model at a time, in this process: sync runs, activations, offboardings. A
/// real lock (waiters queue in order), not just actor isolation: an actor method that awaits its
/// body lets the next caller in at every suspension.
public actor Coordinator {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func exclusive<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        await self.acquire()
        defer { self.release() }
        return try await body()
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
