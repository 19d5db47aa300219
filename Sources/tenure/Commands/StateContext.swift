import ArgumentParser
import DirectorySource
import Foundation
import LDAPClient
import Logging
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureStore
import TenureVault

/// What plan, sync and audit need besides the directory: the `state:` settings, the mappings, the
/// audit key and the store. Errors exit 78 (configuration) with the place named.
struct StateContext {
    var configuration: TenureConfiguration
    var state: StateSettings
    var logger: Logger

    init(options: GlobalOptions) throws {
        self.logger = options.makeLogger()
        self.configuration = try options.loadConfiguration(logger: self.logger)
        guard let state = self.configuration.state else {
            printError(
                "configuration error: \(options.configPath): no state: section; add state.database, "
                    + "state.auditKeyFile and state.mappings (see Config/tenure.yaml)"
            )
            throw ExitCode(78)
        }
        self.state = state
    }

    /// The identity a username or a stable id names in the store (`SubjectResolution.resolve` with
    /// the rule for changing a person: terminated accounts are passed over, two others are refused);
    /// a warning when it is not active. Only the candidates are read (by id, and by username through
    /// its index), not the whole model. Errors name `command` and exit 1.
    static func identity(_ user: String, in store: SQLiteStore, command: String) async throws -> IdentityRecord {
        var candidates = try await store.identityRecords(username: user)
        if let byID = try await store.loadState(identityID: user).identities[user] { candidates.append(byID) }
        let state = PIMState(identities: Dictionary(candidates.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
        switch state.resolveSubject(user, rule: .change) {
        case .found(let identity):
            if identity.state != .active { printError("warning: \(user) is \(identity.state.rawValue)") }
            return identity
        case .unknown:
            printError("\(command): no identity known as \(user) in the store (run a sync first)")
            throw ExitCode.failure
        case .ambiguous(let ids):
            printError(
                "\(command): \(user) names several identities (\(ids.joined(separator: ", "))); give a stable id"
            )
            throw ExitCode.failure
        }
    }

    func loadMappings() throws -> Mappings {
        do {
            guard FileManager.default.fileExists(atPath: self.state.mappings) else {
                printError("configuration error: state.mappings: \(self.state.mappings) does not exist")
                throw ExitCode(78)
            }
            let mappings = try MappingsLoader.load(path: self.state.mappings)
            let unread = mappings.unreadAttributes(extraAttributes: self.configuration.users.extraAttributes)
            guard unread.isEmpty else {
                printError(
                    "mappings error: \(self.state.mappings): conditions use \(unread.joined(separator: ", ")), which "
                        + "the configuration does not read; add \(unread.count == 1 ? "it" : "them") to "
                        + "users.extraAttributes in \(self.configuration.sourceFile ?? "the configuration")"
                )
                throw ExitCode(78)
            }
            return mappings
        } catch let error as ConfigError {
            printError("mappings error: \(error)")
            throw ExitCode(78)
        }
    }

    func auditKey() throws -> AuditKey {
        do {
            return try AuditKey.load(path: self.state.auditKeyFile)
        } catch {
            printError("audit key error: \(error) (create one with: tenure audit init-key)")
            throw ExitCode(78)
        }
    }

    /// The store, read-only, for reading the audit (`audit verify`, `head`, `tail`, `export`): a
    /// database that does not exist is an error (exit 78) — verifying a wrong path must not create
    /// an empty log and call it intact — and an existing one is not written to (evidence stays as
    /// it was).
    func openStoreForReading() throws -> SQLiteStore {
        let key = try self.auditKey()
        guard FileManager.default.fileExists(atPath: self.state.database) else {
            printError("store error: \(self.state.database) does not exist (state.database)")
            throw ExitCode(78)
        }
        do {
            return try SQLiteStore(path: self.state.database, auditKey: key, readOnly: true)
        } catch {
            printError("store error: \(self.state.database): \(error)")
            throw ExitCode.failure
        }
    }

    func openStore(autoCheckpoint: Bool = true) throws -> SQLiteStore {
        let key = try self.auditKey()
        do {
            let directory = URL(fileURLWithPath: self.state.database).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return try SQLiteStore(
                path: self.state.database,
                auditKey: key,
                autoCheckpoint: autoCheckpoint,
                durable: self.state.durability == .full
            )
        } catch {
            printError("store error: \(self.state.database): \(error)")
            throw ExitCode.failure
        }
    }

    /// What a sync would do now, applying nothing (`tenure plan`, `tenure drift`): the directory
    /// pulled (with progress on a terminal), planned against the store. A pull failure is printed
    /// as `<command>: <error>` (plus `afterFailure`, when given) and exits 1.
    func previewPlan(
        command: String,
        afterFailure: String? = nil
    ) async throws -> PlanPreview {
        let mappings = try self.loadMappings()
        let store = try self.openStore()
        let engine = try self.engine(mappings: mappings, store: store, executing: false)
        let pulled: PullResult
        do {
            pulled = try await self.pull(
                progress: isTerminal(STDERR_FILENO) ? ProgressPrinter() : nil,
                requiredGroups: engine.writeBackGroups
            )
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("\(command): \(error)")
            if let afterFailure { printError(afterFailure) }
            throw ExitCode.failure
        }
        let (plan, hash) = try await engine.plan(snapshot: pulled.snapshot, now: Date().timeIntervalSince1970)
        return PlanPreview(plan: plan, hash: hash, pulled: pulled, store: store, mappings: mappings)
    }

    /// Pulls the directory (the same reader as `tenure pull`), with the write-back groups wherever
    /// they are.
    func pull(progress: (any PullObserver)?, requiredGroups: [String]) async throws -> PullResult {
        let password: LDAPSecret?
        do {
            password = try self.configuration.resolvePassword(environment: ProcessInfo.processInfo.environment)
                .map(LDAPSecret.init)
        } catch {
            printError("configuration error: \(error)")
            throw ExitCode(78)
        }
        let reader = DirectoryReader(
            configuration: self.configuration,
            password: password,
            logger: self.logger,
            requiredGroups: requiredGroups
        )
        return try await reader.pull(observer: progress, now: Date().timeIntervalSince1970)
    }

    /// The vault's rotator over `store`, with the master key in `keyFile` (exit 78 when it cannot be
    /// read), the directory's connection options and `state.rotationProgramTimeLimitSeconds`.
    func rotator(store: SQLiteStore, keyFile: String) throws -> CredentialRotator {
        var rotator = CredentialRotator(
            store: store,
            masterKey: try Self.masterKey(keyFile),
            ldap: self.ldapOptions,
            logger: self.logger,
            actor: StateContext.actor
        )
        rotator.commandTimeLimit = .seconds(self.state.rotationProgramTimeLimitSeconds)
        return rotator
    }

    /// The directory's connection options (URLs, TLS, timeouts), without a bind: for the vault's
    /// LDAP rotations and, with the writer's bind, for write-back.
    var ldapOptions: LDAPConnectionOptions {
        DirectoryReader(configuration: self.configuration, password: nil, logger: self.logger).connectionOptions
    }

    /// The vault's master key in `keyFile`; exit 78 when it cannot be read.
    static func masterKey(_ keyFile: String) throws -> MasterKey {
        do {
            return try MasterKey.load(path: keyFile)
        } catch {
            printError("vault key error: \(error) (create one with: tenure vault init)")
            throw ExitCode(78)
        }
    }

    /// The engine for plan and sync: with the vault when `state.vaultKeyFile` is set (a leaver's
    /// credentials are rotated) and the LDAP writer when `writeBack:` is set (write-back groups are
    /// written). `tenure plan` passes `executing: false`: nothing is written.
    func engine(mappings: Mappings, store: SQLiteStore, executing: Bool) throws -> SyncEngine {
        var engine = SyncEngine(
            mappings: mappings,
            store: store,
            logger: self.logger,
            actor: StateContext.actor,
            writeBackPlaceholder: self.configuration.writeBack?.emptyGroupPlaceholder
        )
        guard executing else { return engine }
        if let keyFile = self.state.vaultKeyFile {
            engine.rotator = try self.rotator(store: store, keyFile: keyFile)
        }
        if let writeBack = self.configuration.writeBack {
            let password: String
            do {
                password =
                    try self.configuration.resolveWriteBackPassword(environment: ProcessInfo.processInfo.environment)
                    ?? ""
            } catch {
                printError("configuration error: \(error)")
                throw ExitCode(78)
            }
            var options = self.ldapOptions
            options.bind = .simple(dn: writeBack.bindDN, password: LDAPSecret(password))
            engine.writeBack = LDAPWriteBack(
                options: options,
                memberAttribute: writeBack.memberAttribute,
                otherMemberAttributes: self.configuration.groups.members.filter { $0.valueIs == .dn }.map(\.attribute),
                usernameAttributes: self.configuration.groups.members.filter { $0.valueIs == .username }.map(
                    \.attribute
                ),
                placeholder: writeBack.emptyGroupPlaceholder,
                logger: self.logger
            )
        }
        return engine
    }

    /// `cli:<user>` for the audit log.
    static var actor: String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name {
            return "cli:\(String(cString: name))"
        }
        return "cli:uid-\(getuid())"
    }
}

/// `StateContext.previewPlan`'s result.
struct PlanPreview {
    var plan: Plan
    var hash: String
    var pulled: PullResult
    var store: SQLiteStore
    var mappings: Mappings
}
