import Foundation
import LDAPClient
import Logging
import SlapdFixture
import TenureCore
import TenureEngine
import TenureStore
import TenureVault
import Testing

/// What the vault tests do with a real slapd and a real store, shared by their worlds.
enum VaultTestSupport {
    static var quietLogger: Logger {
        var logger = Logger(label: "tenure.tests")
        logger.logLevel = .critical
        return logger
    }

    /// A sync engine with `mappings` over a fresh store in a temporary directory (removed after).
    static func withEngine(
        _ mappings: Mappings,
        _ body: (SyncEngine, SQLiteStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tenure-engine-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(
            path: directory.appendingPathComponent("t.sqlite").path,
            auditKey: AuditKey.random()
        )
        try await body(SyncEngine(mappings: mappings, store: store, logger: Self.quietLogger, actor: "test"), store)
    }

    /// Whether `password` binds as `dn` (wrong credentials are false; anything else throws).
    static func binds(_ server: SlapdServer, _ dn: String, _ password: String) async throws -> Bool {
        let options = LDAPConnectionOptions(urls: [server.url], bind: .simple(dn: dn, password: LDAPSecret(password)))
        let result: Result<LDAPConnection, LDAPError>
        do {
            result = .success(try await LDAPConnection.connect(options: options, logger: Self.quietLogger))
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success(let connection):
            await connection.close()
            return true
        case .failure(let error) where error.code == .invalidCredentials:
            return false
        case .failure(let error):
            throw error
        }
    }

    /// The secret of a stored version, opened with the master key.
    static func secret(_ store: SQLiteStore, _ key: MasterKey, _ version: Int, of name: String) async throws -> String {
        let stored = try #require(try await store.versions(of: name).first { $0.version == version })
        let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(stored.sealed.utf8))
        return String(decoding: try Envelope.open(sealed, masterKey: key), as: UTF8.self)
    }

    /// A pending version stored by hand, as a run that died after phase 1 leaves it.
    static func storePending(_ store: SQLiteStore, _ key: MasterKey, _ secret: String, version: Int, name: String)
        async throws
    {
        let sealed = try Envelope.seal(Array(secret.utf8), credential: name, version: version, masterKey: key)
        let text = String(decoding: try JSONEncoder().encode(sealed), as: UTF8.self)
        _ = try await store.addPendingVersion(of: name, sealed: text, audit: [])
    }

    /// The administrator sets an account's password (out of band, or a rotation's phase 2).
    static func adminSets(_ server: SlapdServer, _ dn: String, _ password: String) async throws {
        let adminPassword = try String(contentsOfFile: server.adminPasswordFile, encoding: .utf8)
            .trimmingCharacters(in: .newlines)
        let admin = try await LDAPConnection.connect(
            options: LDAPConnectionOptions(
                urls: [server.url],
                bind: .simple(dn: server.adminDN, password: LDAPSecret(adminPassword))
            ),
            logger: Self.quietLogger
        )
        try await admin.changePassword(of: dn, to: LDAPSecret(password))
        await admin.close()
    }

    /// Every audit record, as text (for "never contains the secret" checks).
    static func auditText(_ store: SQLiteStore) async throws -> String {
        let records = try await store.auditRecords(
            AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: nil, newestFirst: false)
        )
        return records.map { "\($0.event)" }.joined(separator: "\n")
    }
}
