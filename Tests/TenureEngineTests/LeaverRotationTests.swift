import DirectorySource
import Foundation
import LDAPClient
import Logging
import SlapdFixture
import TenureCore
import TenureEngine
import TenureStore
import TenureVault
import Testing

/// A leaver's sync rotates the credentials their roles unlocked — once, even when the plan is
/// resumed — against a real slapd and a real store.
@Suite(.timeLimit(.minutes(5)))
struct LeaverRotationTests {
    static let mappings = Mappings(
        roles: [
            RoleDefinition(name: "dba-prod", tier: 0, mode: .eligible, credentials: ["db-root", "not-in-vault"]),
            RoleDefinition(name: "reader", tier: 2, mode: .standing),
        ],
        rules: [
            Rule(
                name: "dbas",
                when: .attributeEquals(attribute: "department", value: "Database"),
                grant: "dba-prod",
                mode: .eligible
            ),
            Rule(name: "everyone", when: .always, grant: "reader", mode: .standing),
        ],
        guardSettings: LeaverGuard(maxLeavers: 10, maxLeaverPercent: 100)
    )

    static func snapshot(_ people: [String]) -> PullResult {
        let identities = people.map { name in
            Identity(
                id: "id-\(name)",
                dn: "uid=\(name),ou=people,dc=tenure,dc=test",
                username: name,
                department: "Database"
            )
        }
        return PullResult(
            snapshot: DirectorySnapshot(identities: identities, groups: []),
            server: "ldap://127.0.0.1",
            entriesRead: identities.count,
            seconds: 0
        )
    }

    @Test func aLeaverRotatesWhatTheyCouldKnowExactlyOnce() async throws {
        let account = "cn=svc-db,ou=services,dc=tenure,dc=test"
        let initial = "Initial-\(UUID().uuidString)"
        let data = """
            dn: \(account)
            objectClass: organizationalRole
            objectClass: simpleSecurityObject
            cn: svc-db
            userPassword: \(initial)

            """
        try await withSlapd(data: data) { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tenure-leaver-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try SQLiteStore(
                path: directory.appendingPathComponent("t.sqlite").path,
                auditKey: AuditKey.random()
            )
            var logger = Logger(label: "tenure.tests")
            logger.logLevel = .critical
            let rotator = CredentialRotator(
                store: store,
                masterKey: try MasterKey.random(),
                ldap: LDAPConnectionOptions(urls: [server.url]),
                logger: logger,
                actor: "sync"
            )
            try await rotator.enroll(
                name: "db-root",
                kind: .ldapAccount(dn: account),
                currentSecret: initial,
                policy: PasswordPolicy()
            )
            let engine = SyncEngine(
                mappings: Self.mappings,
                store: store,
                logger: logger,
                actor: "sync",
                rotator: rotator
            )

            _ = try await engine.sync(allowMassRevoke: false, now: { 1_000 }, pull: { Self.snapshot(["ann", "ben"]) })
            let left = try await engine.sync(allowMassRevoke: false, now: { 2_000 }, pull: { Self.snapshot(["ben"]) })
            #expect(left.plan.summary.leavers == 1)
            #expect(left.plan.summary.rotations == 2)  // db-root and not-in-vault

            // The account's password changed: the old one no longer binds, the vault's current one does.
            #expect(try await store.credentialStatus(named: "db-root")?.current?.version == 2)
            let options = { (password: String) in
                LDAPConnectionOptions(urls: [server.url], bind: .simple(dn: account, password: LDAPSecret(password)))
            }
            var oldBinds = true
            do {
                let connection = try await LDAPConnection.connect(options: options(initial), logger: logger)
                await connection.close()
            } catch {
                oldBinds = (error as? LDAPError)?.code != .invalidCredentials
            }
            #expect(!oldBinds)

            // Audited once each: rotated, and skipped for the credential the vault does not hold.
            let records = try await store.auditRecords(
                AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: nil, newestFirst: false)
            )
            let rotations = records.filter { $0.event.type == "credential.rotate" }
            #expect(rotations.count == 2)
            #expect(rotations.first { $0.event.object == "db-root" }?.event.outcome == "success")
            #expect(rotations.first { $0.event.object == "not-in-vault" }?.event.outcome == "skipped")
            #expect(!records.map { "\($0.event)" }.joined().contains(initial))

            // A resumed plan asking again with the same request id does not rotate a second time.
            let request = try #require(rotations.first { $0.event.object == "db-root" }?.event.details["request"])
            #expect(try await rotator.rotate("db-root", reason: "again", requestID: request) == .rotated(version: 2))
            #expect(try await store.versions(of: "db-root").count == 2)
        }
    }
}
