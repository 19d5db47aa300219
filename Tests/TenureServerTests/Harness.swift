import Foundation
import Hummingbird
import HummingbirdTesting
import LDAPClient
import Logging
import TenureAccess
import TenureConfig
import TenureCore
import TenureCrypto
import TenureEngine
import TenureServer
import TenureStore
import TenureVault
import Testing

/// A checking API over a real SQLite store in a temporary directory, served by a real HTTP server
/// on a loopback port (HummingbirdTesting `.live`). Tokens are known by their plaintext here; the
/// server only has their SHA-256.
struct Harness {
    struct Token {
        var name: String
        var plaintext: String
        var scopes: Set<APIScope>
        var subject: String?
    }

    static let tokens: [Token] = [
        Token(name: "gateway", plaintext: "tok-gateway-\(UUID().uuidString)", scopes: [.check]),
        Token(name: "ann", plaintext: "tok-ann-\(UUID().uuidString)", scopes: [.activate], subject: "ann"),
        Token(name: "bob", plaintext: "tok-bob-\(UUID().uuidString)", scopes: [.approve, .activate], subject: "bob"),
        Token(name: "hr", plaintext: "tok-hr-\(UUID().uuidString)", scopes: [.hr]),
        Token(name: "ops", plaintext: "tok-ops-\(UUID().uuidString)", scopes: [.read]),
        Token(name: "root", plaintext: "tok-root-\(UUID().uuidString)", scopes: [.admin]),
        // A system (no person) that may activate: it must not act for people.
        Token(name: "agent", plaintext: "tok-agent-\(UUID().uuidString)", scopes: [.activate]),
    ]

    /// Runs `body` while the sync lock is held as a `tenure sync` in another process holds it: the
    /// server's offboardings, HR cancellations and moves wait for it (`syncLockWait`), then 503.
    func whileACLISyncHoldsTheLock<T>(_ body: () async throws -> T) async throws -> T {
        let lock = try SyncLock.acquire(path: self.store.path + ".lock", purpose: "tenure sync")
        defer { withExtendedLifetime(lock) {} }
        return try await body()
    }

    static func token(_ name: String) -> String { Self.tokens.first { $0.name == name }!.plaintext }

    static func headers(_ token: String?, json: Bool = true) -> HTTPFields {
        var fields: HTTPFields = [:]
        if let token { fields[.authorization] = "Bearer \(Self.token(token))" }
        if json { fields[.contentType] = "application/json" }
        return fields
    }

    let directory: String
    let store: SQLiteStore
    let mappings: Mappings
    let api: TenureAPI
    let operations: Operations
    let masterKey: MasterKey

    /// A store holding `state` (identities and assignments, written directly), an index built from
    /// it, and the API over both.
    init(
        mappings: Mappings,
        state: PIMState,
        settings: ServerSettings = ServerSettings(port: 0),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        configureEngine: ((inout SyncEngine) -> Void)? = nil,
        vault: Bool = false,
        syncLockWait: Duration = .seconds(30)
    ) async throws {
        self.directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "tenure-api-\(UUID().uuidString)"
            ).path
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        self.store = try SQLiteStore(path: self.directory + "/t.sqlite", auditKey: AuditKey.random())
        try await self.store.seed(state)
        self.mappings = mappings
        var settings = settings
        settings.tokens = Self.tokens.map {
            APIToken(
                name: $0.name,
                sha256: hex(Digest.sha256(Array($0.plaintext.utf8))),
                scopes: $0.scopes,
                subject: $0.subject
            )
        }
        var logger = Logger(label: "tenure.tests")
        logger.logLevel = .critical
        let index = AccessIndex(try await ModelLoader.load(store: self.store, mappings: mappings, now: now()))
        let metrics = APIMetrics()
        self.masterKey = try MasterKey.random()
        var engine = SyncEngine(mappings: mappings, store: self.store, logger: logger, actor: "api")
        if let configure = configureEngine { configure(&engine) }
        if vault {
            // Command credentials only (no LDAP): the rotator never connects.
            engine.rotator = CredentialRotator(
                store: self.store,
                masterKey: self.masterKey,
                ldap: LDAPConnectionOptions(urls: ["ldap://127.0.0.1:1"]),
                logger: logger,
                actor: "api",
                now: now
            )
        }
        self.operations = Operations(
            store: self.store,
            mappings: mappings,
            index: index,
            engine: engine,
            coordinator: Coordinator(),
            masterKey: self.masterKey,
            settings: settings,
            metrics: metrics,
            logger: logger,
            now: now,
            syncLockWait: syncLockWait
        )
        self.api = TenureAPI(
            settings: settings,
            store: self.store,
            index: index,
            audit: AuditBatcher(store: self.store, flushSeconds: 0.001, logger: logger),
            metrics: metrics,
            logger: logger,
            operations: self.operations,
            now: now
        )
    }

    /// Serves the API on a loopback port for `body`. `fastPath: false` leaves
    /// `POST /access/v1/evaluation` to the router's route (decision tests run both ways).
    func run(fastPath: Bool = true, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        try await self.api.application(decisionFastPath: fastPath).test(.live) { client in try await body(client) }
    }

    func auditRecords(type: String? = nil) async throws -> [AuditRecord] {
        try await self.store.auditRecords(
            AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: nil, newestFirst: false)
        ).filter { type == nil || $0.event.type == type }
    }
}

extension SQLiteStore {
    /// Writes identities and assignments as they are (test set-up), through a plan journal so the
    /// store's own code path stores them.
    func seed(_ state: PIMState) async throws {
        var actions: [JournalEntry] = []
        for record in state.identities.values.sorted(by: { $0.id < $1.id }) {
            actions.append(JournalEntry(identityID: record.id, index: actions.count, action: .recordIdentity(record)))
        }
        let plan = Plan(
            identities: [],
            conflicts: [],
            protectedChanges: [],
            guardVerdict: GuardVerdict(held: false, reason: nil, leavers: 0, inScope: 0),
            createdAt: 0
        )
        let planID = try await self.savePlan(plan, hash: "seed", actor: "test", journal: actions)
        let ids = try await self.journalEntryIDs(planID: planID)
        var applications = zip(actions, ids).map { entry, id -> JournalApplication in
            guard case .recordIdentity(let record) = entry.action else { fatalError() }
            return JournalApplication(entryID: id, change: .upsertIdentity(record), audit: [])
        }
        for assignment in state.assignments {
            applications[0].change = .all([applications[0].change, .upsertAssignment(assignment)])
        }
        _ = try await self.applyJournalEntries(planID: planID, applications)
        try await self.finishPlan(planID, status: .applied, audit: [])
    }
}

/// A JSON body.
func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }

/// The response body as a JSON object.
func object(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
}

/// A person record for the state.
func person(_ id: String, _ username: String, state: LifecycleState = .active) -> IdentityRecord {
    IdentityRecord(
        id: id,
        state: state,
        dn: "uid=\(username),ou=people,dc=t",
        username: username,
        attributes: [:],
        groups: [],
        firstSeen: 0,
        lastSeen: 0
    )
}

/// A plan's part for `leaver` (their record as it now is): `actions`, as a leaver gone from the
/// directory.
func leaving(_ leaver: IdentityRecord, _ actions: [PlanAction]) -> IdentityPlan {
    IdentityPlan(
        identityID: leaver.id,
        username: leaver.username,
        dn: leaver.dn,
        events: [LifecycleEvent(kind: .leaver, reasons: ["gone from the directory"])],
        actions: actions
    )
}
