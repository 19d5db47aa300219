import Foundation
import LDAPClient
import Logging
import SlapdFixture
import TenureCore
import TenureEngine
import TenureStore
import TenureVault
import Testing

/// Credential rotation against a real slapd: two phases, and every crash point in between settled
/// by `reconcile` without losing a password.
@Suite(.timeLimit(.minutes(5)))
struct RotationTests {
    static let suffix = "dc=tenure,dc=test"
    static let account = "cn=svc-db,ou=services,\(suffix)"
    static let initial = "Initial-Passw0rd-\(UUID().uuidString.prefix(8))"
    static let data = """
        dn: \(account)
        objectClass: organizationalRole
        objectClass: simpleSecurityObject
        cn: svc-db
        userPassword: \(initial)

        """

    struct World {
        let server: SlapdServer
        let store: SQLiteStore
        let key: MasterKey
        let rotator: CredentialRotator
        let directory: URL

        func binds(_ password: String) async throws -> Bool {
            try await VaultTestSupport.binds(self.server, RotationTests.account, password)
        }

        /// The secret of a stored version, opened with the master key.
        func secret(_ version: Int, of name: String = "db-root") async throws -> String {
            try await VaultTestSupport.secret(self.store, self.key, version, of: name)
        }

        /// A pending version stored by hand, as a run that died after phase 1 leaves it.
        func storePending(_ secret: String, version: Int, name: String = "db-root") async throws {
            try await VaultTestSupport.storePending(self.store, self.key, secret, version: version, name: name)
        }

        /// The administrator sets the account's password (out of band, or a rotation's phase 2).
        func adminSets(_ password: String) async throws {
            try await VaultTestSupport.adminSets(self.server, RotationTests.account, password)
        }

        func auditText() async throws -> String {
            try await VaultTestSupport.auditText(self.store)
        }
    }

    private func withWorld(_ body: (World) async throws -> Void) async throws {
        try await withSlapd(data: Self.data) { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tenure-rotation-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try SQLiteStore(
                path: directory.appendingPathComponent("t.sqlite").path,
                auditKey: AuditKey.random()
            )
            let key = try MasterKey.random()
            var logger = Logger(label: "tenure.tests")
            logger.logLevel = .critical
            let rotator = CredentialRotator(
                store: store,
                masterKey: key,
                ldap: LDAPConnectionOptions(urls: [server.url]),
                logger: logger,
                actor: "test"
            )
            try await rotator.enroll(
                name: "db-root",
                kind: .ldapAccount(dn: Self.account),
                currentSecret: Self.initial,
                policy: PasswordPolicy()
            )
            try await body(World(server: server, store: store, key: key, rotator: rotator, directory: directory))
        }
    }

    @Test func aRotationChangesVerifiesAndPromotes() async throws {
        try await withWorld { world in
            #expect(try await world.binds(Self.initial))
            let outcome = try await world.rotator.rotate("db-root", reason: "test")
            #expect(outcome == .rotated(version: 2))
            let new = try await world.secret(2)
            #expect(new.count == 32)
            #expect(try await world.binds(new))
            #expect(try await !world.binds(Self.initial))
            let status = try #require(try await world.store.credentialStatus(named: "db-root"))
            #expect(status.current?.version == 2)
            #expect(status.pending == nil)
            #expect(try await world.store.versions(of: "db-root").first { $0.version == 1 }?.state == .retired)
            // No secret in the audit log.
            let audit = try await world.auditText()
            #expect(audit.contains("credential.rotated"))
            #expect(!audit.contains(new))
            #expect(!audit.contains(Self.initial))
            #expect(try await world.store.verifyAudit().firstBadSequence == nil)
        }
    }

    @Test func aCrashAfterStoringThePendingSecretKeepsTheCurrentOne() async throws {
        try await withWorld { world in
            try await world.storePending("Never-Applied-\(UUID().uuidString)", version: 2)
            #expect(
                try await world.rotator.reconcile("db-root")
                    == .unchanged(reason: "the target kept its current password")
            )
            #expect(try await world.store.versions(of: "db-root").first { $0.version == 2 }?.state == .abandoned)
            #expect(try await world.binds(Self.initial))
            // And the next rotation works from the current secret.
            #expect(try await world.rotator.rotate("db-root", reason: "test") == .rotated(version: 3))
        }
    }

    @Test func aCrashAfterChangingTheTargetPromotesThePendingSecret() async throws {
        try await withWorld { world in
            let new = "Applied-Not-Promoted-\(UUID().uuidString)"
            try await world.storePending(new, version: 2)
            try await world.adminSets(new)  // phase 2 happened, the process died before promoting
            #expect(try await world.rotator.reconcile("db-root") == .rotated(version: 2))
            #expect(try await world.store.credentialStatus(named: "db-root")?.current?.version == 2)
            #expect(try await world.secret(2) == new)
        }
    }

    @Test func whenNeitherSecretBindsBothAreKeptAndReported() async throws {
        try await withWorld { world in
            try await world.storePending("Pending-\(UUID().uuidString)", version: 2)
            try await world.adminSets("Changed-Out-Of-Band-\(UUID().uuidString)")
            let outcome = try await world.rotator.reconcile("db-root")
            guard case .needsAttention = outcome else {
                Issue.record("expected needsAttention, got \(outcome)")
                return
            }
            let status = try #require(try await world.store.credentialStatus(named: "db-root"))
            #expect(status.pending?.version == 2)  // nothing lost
            #expect(status.current?.version == 1)
            #expect(status.failures == 1)
            #expect(status.nextAttemptAt != nil)
        }
    }

    @Test func commandCredentialsRotateThroughTheProgram() async throws {
        try await withWorld { world in
            let received = world.directory.appendingPathComponent("received").path
            let good = world.directory.appendingPathComponent("rotate-ok.sh").path
            try "#!/bin/sh\ncat > '\(received)'\n".write(toFile: good, atomically: true, encoding: .utf8)
            chmod(good, 0o700)
            let bad = world.directory.appendingPathComponent("rotate-fail.sh").path
            try "#!/bin/sh\ncat > /dev/null\nexit 3\n".write(toFile: bad, atomically: true, encoding: .utf8)
            chmod(bad, 0o700)
            try await world.rotator.enroll(
                name: "app-key",
                kind: .command(path: good),
                currentSecret: "old",
                policy: PasswordPolicy()
            )
            try await world.rotator.enroll(
                name: "app-key-2",
                kind: .command(path: bad),
                currentSecret: "old",
                policy: PasswordPolicy()
            )

            #expect(try await world.rotator.rotate("app-key", reason: "test") == .rotated(version: 2))
            #expect(try String(contentsOfFile: received, encoding: .utf8) == (try await world.secret(2, of: "app-key")))

            let failed = try await world.rotator.rotate("app-key-2", reason: "test")
            #expect(failed == .unchanged(reason: "\(bad) exited with status 3"))
            #expect(try await world.store.credentialStatus(named: "app-key-2")?.current?.version == 1)
        }
    }
}
