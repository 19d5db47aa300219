import Foundation
import GRDB
import TenureCore
import Testing

@testable import TenureStore

private let created: Double = 1_764_000_000
private let policy = #"{"length":32,"classes":["lower","upper","digit"]}"#

private func ldapRecord(_ name: String, maxAge: Double? = 86_400) -> CredentialRecord {
    CredentialRecord(
        name: name,
        kind: .ldapAccount(dn: "uid=\(name),ou=services,dc=example,dc=org"),
        policyJSON: policy,
        maxAgeSeconds: maxAge,
        createdAt: created
    )
}

private func vaultEvent(_ type: String, _ name: String, version: Int? = nil) -> AuditEvent {
    AuditEvent(
        time: created + 60,
        actor: "cli:alice",
        type: type,
        subject: name,
        object: version.map { "version \($0)" },
        details: ["reason": "test"]
    )
}

/// An event the audit log refuses (a NUL character), so the mutation carrying it must roll back.
private let unstorableEvent = AuditEvent(time: created, actor: "cli:al\u{0}ice", type: "credential.rotated")

private func auditTypes(_ store: SQLiteStore) async throws -> [String] {
    try await store.auditRecords(AuditQuery()).map(\.event.type)
}

@Suite("Vault store: credentials and their versions")
struct VaultStoreTests {
    @Test func addingWithAnInitialSecretMakesVersionOneCurrent() async throws {
        try await withStore { store, _ throws in
            let record = CredentialRecord(
                name: "deploy.hook_2",
                kind: .command(path: "/usr/local/bin/set-secret"),
                policyJSON: policy,
                maxAgeSeconds: nil,
                oneTime: true,
                createdAt: created
            )
            try await store.addCredential(
                record,
                initialSecret: "sealed-v1",
                audit: [vaultEvent("credential.added", record.name)]
            )
            let first = CredentialVersion(
                version: 1,
                state: .current,
                sealed: "sealed-v1",
                createdAt: created,
                settledAt: created
            )
            let status = try #require(try await store.credentialStatus(named: "deploy.hook_2"))
            #expect(status == CredentialStatus(record: record, current: first))
            #expect(try await store.versions(of: "deploy.hook_2") == [first])
            #expect(try await auditTypes(store) == ["credential.added"])
            #expect(try await store.verifyAudit() == AuditVerification(records: 1))
        }
    }

    @Test func addingWithoutASecretHasNoVersionUntilTheFirstIsPromoted() async throws {
        try await withStore { store, _ throws in
            let record = ldapRecord("svc-backup", maxAge: 3_600.5)
            try await store.addCredential(record, initialSecret: nil, audit: [])
            #expect(try await store.credentialStatus(named: "svc-backup") == CredentialStatus(record: record))
            #expect(try await store.versions(of: "svc-backup").isEmpty)
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)

            let version = try await store.addPendingVersion(of: "svc-backup", sealed: "sealed-first", audit: [])
            #expect(version == 1)
            try await store.promote("svc-backup", version: 1, audit: [])
            let status = try #require(try await store.credentialStatus(named: "svc-backup"))
            #expect(status.current?.version == 1)
            #expect(status.current?.sealed == "sealed-first")
            #expect(status.pending == nil)
            #expect(try await store.versions(of: "svc-backup").map(\.state) == [.current])
        }
    }

    @Test func aDuplicateNameIsRefusedAndTheOriginalKept() async throws {
        try await withStore { store, _ throws in
            let original = ldapRecord("svc-backup")
            try await store.addCredential(original, initialSecret: "sealed-v1", audit: [])
            var copy = ldapRecord("svc-backup")
            copy.policyJSON = "{}"
            let error = await #expect(throws: StoreError.self) {
                try await store.addCredential(
                    copy,
                    initialSecret: "sealed-other",
                    audit: [vaultEvent("credential.added", "svc-backup")]
                )
            }
            #expect(error?.code == .invalidStatus)
            #expect(error?.message.contains("svc-backup") == true)
            #expect(error?.message.contains("sealed-other") == false)
            #expect(try await store.credentialStatus(named: "svc-backup")?.record == original)
            #expect(try await store.versions(of: "svc-backup").map(\.sealed) == ["sealed-v1"])
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)
        }
    }

    @Test(arguments: ["", "has space", "a/b", "é", "semi;colon", "nul\u{0}"])
    func anInvalidNameIsRefused(_ name: String) async throws {
        try await withStore { store, _ throws in
            let error = await #expect(throws: StoreError.self) {
                try await store.addCredential(
                    ldapRecord(name),
                    initialSecret: "sealed",
                    audit: [vaultEvent("credential.added", "x")]
                )
            }
            #expect(error?.code == .invalidEvent)
            #expect(try await store.credentialStatuses().isEmpty)
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)
        }
    }

    @Test func valuesTheStoreCannotKeepAreRefused() async throws {
        try await withStore { store, _ throws in
            var nanTime = ldapRecord("a")
            nanTime.createdAt = .nan
            var negativeAge = ldapRecord("b")
            negativeAge.maxAgeSeconds = -1
            for record in [nanTime, negativeAge] {
                let error = await #expect(throws: StoreError.self) {
                    try await store.addCredential(record, initialSecret: nil, audit: [])
                }
                #expect(error?.code == .invalidEvent)
            }
            let emptySecret = await #expect(throws: StoreError.self) {
                try await store.addCredential(ldapRecord("c"), initialSecret: "", audit: [])
            }
            #expect(emptySecret?.code == .invalidEvent)
            #expect(try await store.credentialStatuses().isEmpty)

            try await store.addCredential(ldapRecord("d"), initialSecret: nil, audit: [])
            let emptyPending = await #expect(throws: StoreError.self) {
                try await store.addPendingVersion(of: "d", sealed: "", audit: [])
            }
            #expect(emptyPending?.message == "credential d version 1: the sealed secret is empty")
            let nanRetry = await #expect(throws: StoreError.self) {
                try await store.recordRotationFailure("d", error: "timeout", nextAttemptAt: .infinity, audit: [])
            }
            #expect(nanRetry?.code == .invalidEvent)
            #expect(try await store.versions(of: "d").isEmpty)
            #expect(try await store.credentialStatus(named: "d")?.failures == 0)
        }
    }

    /// A rotation that gave up waiting records its failure only while the version it meant to
    /// replace is still current, checked in the same transaction: once another rotation has made a
    /// new one current, a failure recorded after it would start a needless retry.
    @Test func aConditionalFailureIsRecordedOnlyWhileItsVersionIsCurrent() async throws {
        try await withStore { store, _ throws in
            try await store.addCredential(ldapRecord("svc-backup"), initialSecret: "sealed-v1", audit: [])
            let event = vaultEvent("credential.rotation.failed", "svc-backup")
            #expect(
                try await store.recordRotationFailure(
                    "svc-backup",
                    error: "lock held",
                    nextAttemptAt: created + 60,
                    ifCurrentVersion: 1,
                    audit: [event]
                )
            )
            #expect(try await store.credentialStatus(named: "svc-backup")?.failures == 1)
            #expect(try await store.addPendingVersion(of: "svc-backup", sealed: "sealed-v2", audit: []) == 2)
            try await store.promote("svc-backup", version: 2, audit: [])
            let recorded = try await store.recordRotationFailure(
                "svc-backup",
                error: "lock held",
                nextAttemptAt: created + 60,
                ifCurrentVersion: 1,
                audit: [event]
            )
            #expect(!recorded)
            let status = try #require(try await store.credentialStatus(named: "svc-backup"))
            #expect(status.failures == 0)
            #expect(status.lastError == nil)
            #expect(try await auditTypes(store).filter { $0 == "credential.rotation.failed" }.count == 1)
        }
    }

    @Test func promotingRetiresTheOldCurrentAndClearsFailures() async throws {
        try await withStore { store, _ throws in
            try await store.addCredential(ldapRecord("svc-backup"), initialSecret: "sealed-v1", audit: [])
            let before = Date().timeIntervalSince1970
            #expect(try await store.addPendingVersion(of: "svc-backup", sealed: "sealed-v2", audit: []) == 2)

            var status = try #require(try await store.credentialStatus(named: "svc-backup"))
            #expect(status.current?.version == 1)
            #expect(status.pending?.version == 2)
            #expect(status.pending?.state == .pending)
            #expect(status.pending?.sealed == "sealed-v2")
            #expect(status.pending?.settledAt == nil)
            #expect(try #require(status.pending?.createdAt) >= before)

            try await store.recordRotationFailure(
                "svc-backup",
                error: "Password Modify: insufficient access",
                nextAttemptAt: created + 300,
                audit: []
            )
            try await store.recordRotationFailure(
                "svc-backup",
                error: "connection refused",
                nextAttemptAt: created + 900,
                audit: []
            )
            status = try #require(try await store.credentialStatus(named: "svc-backup"))
            #expect(status.failures == 2)
            #expect(status.lastError == "connection refused")
            #expect(status.nextAttemptAt == created + 900)

            try await store.promote("svc-backup", version: 2, audit: [])
            status = try #require(try await store.credentialStatus(named: "svc-backup"))
            #expect(status.current?.version == 2)
            #expect(status.current?.sealed == "sealed-v2")
            #expect(status.pending == nil)
            #expect(status.failures == 0)
            #expect(status.lastError == nil)
            #expect(status.nextAttemptAt == nil)

            let versions = try await store.versions(of: "svc-backup")
            #expect(versions.map(\.state) == [.retired, .current])
            #expect(versions.map(\.sealed) == ["sealed-v1", "sealed-v2"])
            #expect(versions[0].createdAt == created)
            #expect(try #require(versions[0].settledAt) >= before)
            #expect(try #require(versions[1].settledAt) >= before)
        }
    }

    @Test func abandoningKeepsTheCurrentVersionAndTheNumberIsNotReused() async throws {
        try await withStore { store, _ throws in
            try await store.addCredential(ldapRecord("svc-backup"), initialSecret: "sealed-v1", audit: [])
            let before = Date().timeIntervalSince1970
            #expect(try await store.addPendingVersion(of: "svc-backup", sealed: "sealed-v2", audit: []) == 2)
            try await store.recordRotationFailure("svc-backup", error: "timeout", nextAttemptAt: created, audit: [])
            try await store.abandon("svc-backup", version: 2, audit: [])

            let status = try #require(try await store.credentialStatus(named: "svc-backup"))
            #expect(status.current?.version == 1)
            #expect(status.current?.sealed == "sealed-v1")
            #expect(status.pending == nil)
            #expect(status.failures == 1, "abandoning is not a success: the failure count stays")
            let versions = try await store.versions(of: "svc-backup")
            #expect(versions.map(\.state) == [.current, .abandoned])
            #expect(versions[1].sealed == "sealed-v2", "an abandoned secret is kept")
            #expect(try #require(versions[1].settledAt) >= before)

            #expect(try await store.addPendingVersion(of: "svc-backup", sealed: "sealed-v3", audit: []) == 3)
            #expect(try await store.credentialStatus(named: "svc-backup")?.pending?.version == 3)
        }
    }

    @Test func aSecondPendingVersionIsRefused() async throws {
        try await withStore { store, _ throws in
            try await store.addCredential(ldapRecord("svc-backup"), initialSecret: "sealed-v1", audit: [])
            _ = try await store.addPendingVersion(of: "svc-backup", sealed: "sealed-v2", audit: [])
            let error = await #expect(throws: StoreError.self) {
                try await store.addPendingVersion(
                    of: "svc-backup",
                    sealed: "sealed-v3",
                    audit: [vaultEvent("credential.pending", "svc-backup")]
                )
            }
            #expect(error?.code == .invalidStatus)
            #expect(error?.message.contains("svc-backup") == true)
            #expect(error?.message.contains("(2)") == true)
            #expect(error?.message.contains("sealed") == false)
            #expect(try await store.versions(of: "svc-backup").map(\.sealed) == ["sealed-v1", "sealed-v2"])
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)
        }
    }

    @Test func onlyThePendingVersionCanBePromotedOrAbandoned() async throws {
        try await withStore { store, _ throws in
            try await store.addCredential(ldapRecord("svc"), initialSecret: "sealed-v1", audit: [])
            _ = try await store.addPendingVersion(of: "svc", sealed: "sealed-v2", audit: [])
            try await store.promote("svc", version: 2, audit: [])  // 1 retired, 2 current
            _ = try await store.addPendingVersion(of: "svc", sealed: "sealed-v3", audit: [])
            try await store.abandon("svc", version: 3, audit: [])  // 3 abandoned
            let expected = try await store.versions(of: "svc")

            let attempts: [(String, Int, String)] = [
                ("promote", 1, "it is retired, not pending"),
                ("promote", 2, "it is current, not pending"),
                ("promote", 3, "it is abandoned, not pending"),
                ("promote", 9, "no such version"),
                ("abandon", 1, "it is retired, not pending"),
                ("abandon", 2, "it is current, not pending"),
                ("abandon", 3, "it is abandoned, not pending"),
                ("abandon", 0, "no such version"),
            ]
            for (action, version, reason) in attempts {
                let audit = [vaultEvent("credential.\(action)", "svc", version: version)]
                let error = await #expect(throws: StoreError.self) {
                    if action == "promote" {
                        try await store.promote("svc", version: version, audit: audit)
                    } else {
                        try await store.abandon("svc", version: version, audit: audit)
                    }
                }
                #expect(error?.code == .invalidStatus)
                #expect(error?.message == "cannot \(action) credential svc version \(version): \(reason)")
            }
            #expect(try await store.versions(of: "svc") == expected)
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)
        }
    }

    @Test func anUnknownCredentialIsReported() async throws {
        try await withStore { store, _ throws in
            #expect(try await store.credentialStatus(named: "ghost") == nil)
            #expect(try await store.versions(of: "ghost").isEmpty)
            let calls: [@Sendable () async throws -> Void] = [
                { _ = try await store.addPendingVersion(of: "ghost", sealed: "s", audit: []) },
                { try await store.promote("ghost", version: 1, audit: []) },
                { try await store.abandon("ghost", version: 1, audit: []) },
                { try await store.recordRotationFailure("ghost", error: "e", nextAttemptAt: created, audit: []) },
            ]
            for call in calls {
                let error = await #expect(throws: StoreError.self) { try await call() }
                #expect(error?.code == .unknownPlan)
                #expect(error?.message == "there is no credential ghost")
            }
        }
    }

    @Test func versionsAreListedInOrderAndNeverDeletedOrReplaced() async throws {
        try await withStore { store, directory throws in
            try await store.addCredential(ldapRecord("svc"), initialSecret: "sealed-v1", audit: [])
            for index in 2...5 {
                let version = try await store.addPendingVersion(of: "svc", sealed: "sealed-v\(index)", audit: [])
                if index == 3 {
                    try await store.abandon("svc", version: version, audit: [])
                } else {
                    try await store.promote("svc", version: version, audit: [])
                }
            }
            let versions = try await store.versions(of: "svc")
            #expect(versions.map(\.version) == [1, 2, 3, 4, 5])
            #expect(versions.map(\.state) == [.retired, .retired, .abandoned, .retired, .current])
            #expect(versions.map(\.sealed) == (1...5).map { "sealed-v\($0)" })

            let path = directory.file("tenure.sqlite")
            let refused: [(String, String)] = [
                ("DELETE FROM credential_version WHERE name = 'svc' AND version = 1", "never deleted"),
                ("DELETE FROM credential_version", "never deleted"),
                ("DELETE FROM credential WHERE name = 'svc'", "FOREIGN KEY constraint failed"),
                ("UPDATE credential_version SET sealed = 'x' WHERE version = 5", "never replaced"),
                ("UPDATE credential_version SET state = 'current' WHERE version = 4", "UNIQUE constraint failed"),
                (
                    "INSERT INTO credential_version (name, version, state, sealed, createdAt) "
                        + "VALUES ('svc', 6, 'current', 'x', 0)",
                    "UNIQUE constraint failed"
                ),
                (
                    "INSERT INTO credential_version (name, version, state, sealed, createdAt) "
                        + "VALUES ('svc', 6, 'pending', 'x', 0), ('svc', 7, 'pending', 'y', 0)",
                    "UNIQUE constraint failed"
                ),
                (
                    "INSERT INTO credential_version (name, version, state, sealed, createdAt) "
                        + "VALUES ('nobody', 1, 'pending', 'x', 0)",
                    "FOREIGN KEY constraint failed"
                ),
                (
                    "INSERT INTO credential (name, kind, kindValue, policyJSON, oneTime, createdAt) "
                        + "VALUES ('bad name', 'command', '/bin/true', '{}', 0, 0)",
                    "CHECK constraint failed"
                ),
            ]
            for (sql, reason) in refused {
                let error = #expect(throws: DatabaseError.self, "\(sql)") {
                    try withRawDatabase(path) { try $0.execute(sql: sql) }
                }
                #expect(error?.description.contains(reason) == true, "\(sql): \(String(describing: error))")
            }
            #expect(try await store.versions(of: "svc") == versions)
        }
    }

    @Test func statusesAreSortedByNameAndKeepTheirOwnVersions() async throws {
        try await withStore { store, _ throws in
            let names = ["zeta", "alpha", "Mid", "beta.2", "beta-1", "_under"]
            for name in names {
                try await store.addCredential(ldapRecord(name), initialSecret: "sealed-\(name)", audit: [])
            }
            _ = try await store.addPendingVersion(of: "beta.2", sealed: "sealed-beta.2-next", audit: [])
            let statuses = try await store.credentialStatuses()
            #expect(statuses.map(\.record.name) == names.sorted())
            #expect(statuses.map(\.record.name) == ["Mid", "_under", "alpha", "beta-1", "beta.2", "zeta"])
            for status in statuses {
                #expect(status.current?.sealed == "sealed-\(status.record.name)")
                #expect(status.record == ldapRecord(status.record.name))
                #expect(
                    status.pending?.sealed == (status.record.name == "beta.2" ? "sealed-beta.2-next" : nil)
                )
                #expect(try await store.credentialStatus(named: status.record.name) == status)
            }
        }
    }

    @Test func eachMutationAppendsItsAuditEventsInTheSameTransaction() async throws {
        try await withStore { store, _ throws in
            let name = "svc"
            try await store.addCredential(
                ldapRecord(name),
                initialSecret: "sealed-v1",
                audit: [vaultEvent("credential.added", name)]
            )
            _ = try await store.addPendingVersion(
                of: name,
                sealed: "sealed-v2",
                audit: [vaultEvent("credential.pending", name, version: 2)]
            )
            try await store.recordRotationFailure(
                name,
                error: "timeout",
                nextAttemptAt: created,
                audit: [vaultEvent("credential.rotation-failed", name)]
            )
            try await store.promote(
                name,
                version: 2,
                audit: [vaultEvent("credential.promoted", name, version: 2), vaultEvent("credential.retired", name)]
            )
            _ = try await store.addPendingVersion(of: name, sealed: "sealed-v3", audit: [])
            try await store.abandon(name, version: 3, audit: [vaultEvent("credential.abandoned", name, version: 3)])
            let expected = [
                "credential.added", "credential.pending", "credential.rotation-failed", "credential.promoted",
                "credential.retired", "credential.abandoned",
            ]
            #expect(try await auditTypes(store) == expected)
            #expect(try await store.verifyAudit() == AuditVerification(records: 6))

            // A mutation whose audit events cannot be stored does not happen at all.
            let noPending = try await store.versions(of: name)
            let refusedPending = await #expect(throws: StoreError.self) {
                try await store.addPendingVersion(of: name, sealed: "sealed-v4", audit: [unstorableEvent])
            }
            #expect(refusedPending?.code == .invalidEvent)
            #expect(try await store.versions(of: name) == noPending)
            #expect(try await store.addPendingVersion(of: name, sealed: "sealed-v4", audit: []) == 4)
            let statusBefore = try await store.credentialStatus(named: name)
            let versionsBefore = try await store.versions(of: name)
            let failing: [@Sendable () async throws -> Void] = [
                { try await store.addCredential(ldapRecord("other"), initialSecret: "s", audit: [unstorableEvent]) },
                { try await store.promote("svc", version: 4, audit: [vaultEvent("ok", "svc"), unstorableEvent]) },
                { try await store.abandon("svc", version: 4, audit: [unstorableEvent]) },
                {
                    try await store.recordRotationFailure(
                        "svc",
                        error: "e",
                        nextAttemptAt: created,
                        audit: [unstorableEvent]
                    )
                },
            ]
            for call in failing {
                let error = await #expect(throws: StoreError.self) { try await call() }
                #expect(error?.code == .invalidEvent)
            }
            #expect(try await store.credentialStatus(named: "other") == nil)
            #expect(try await store.credentialStatus(named: name) == statusBefore)
            #expect(try await store.versions(of: name) == versionsBefore)
            #expect(try await auditTypes(store) == expected)
            #expect(try await store.verifyAudit() == AuditVerification(records: 6))
        }
    }
}

@Suite("Vault store: schema migration")
struct VaultMigrationTests {
    @Test func theVaultTablesAreAddedToADatabaseAtTheVersionBefore() async throws {
        let ids = StoreMigrations.ids
        let vault = try #require(ids.firstIndex(of: "v2"))
        try #require(vault > 0)
        let previous = ids[vault - 1]
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("tenure.sqlite")
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: previous)
            let seeder = try #require(MigrationTests.seeders[previous])
            try await queue.write { db throws in
                #expect(try !db.tableExists("credential"))
                try seeder(db)
            }
            try queue.close()

            let store = try SQLiteStore(path: path, auditKey: try testKey())
            defer { try? store.close() }
            try await store.pool.read { db throws in
                #expect(try StoreMigrations.migrator.appliedMigrations(db) == ids)
                #expect(try db.tableExists("credential"))
                #expect(try db.tableExists("credential_version"))
                #expect(try db.triggerExists("credential_version_no_delete"))
                #expect(try db.triggerExists("credential_version_sealed_fixed"))
                let indexes = try db.indexes(on: "credential_version").map(\.name)
                #expect(indexes.contains("credential_version_one_current"))
                #expect(indexes.contains("credential_version_one_pending"))
            }
            #expect(try await store.credentialStatuses().isEmpty)
            // The earlier data is untouched, and the vault works on the migrated file.
            #expect(try await store.loadState().identities == ["id-ada": MigrationTests.ada])
            try await store.addCredential(
                ldapRecord("svc"),
                initialSecret: "sealed-v1",
                audit: [vaultEvent("credential.added", "svc")]
            )
            #expect(try await store.addPendingVersion(of: "svc", sealed: "sealed-v2", audit: []) == 2)
            try await store.promote("svc", version: 2, audit: [])
            #expect(try await store.versions(of: "svc").map(\.state) == [.retired, .current])
            #expect(try await store.verifyAudit() == AuditVerification(records: 3))
        }
    }

    /// The rows `MigrationTests.seeders["v2"]` writes, read back through the API after opening.
    @Test func vaultRowsWrittenAtV2ReadBack() async throws {
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("tenure.sqlite")
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: "v2")
            let seeder = try #require(MigrationTests.seeders["v2"])
            try await queue.write { try seeder($0) }
            try queue.close()

            let store = try SQLiteStore(path: path, auditKey: try testKey())
            defer { try? store.close() }
            #expect(try await store.credentialStatuses() == VaultSeed.statuses)
            #expect(try await store.versions(of: "svc-backup") == VaultSeed.backupVersions)
            #expect(try await store.versions(of: "deploy-hook").isEmpty)
            try await store.promote("svc-backup", version: 3, audit: [])
            #expect(try await store.credentialStatus(named: "svc-backup")?.failures == 0)
        }
    }
}

/// What `MigrationTests.seeders["v2"]` stores in the vault tables.
enum VaultSeed {
    static let backupVersions = [
        CredentialVersion(
            version: 1,
            state: .retired,
            sealed: "v1:AAAA",
            createdAt: 1_764_000_000,
            settledAt: 1_764_100_000
        ),
        CredentialVersion(
            version: 2,
            state: .current,
            sealed: "v1:BBBB",
            createdAt: 1_764_100_000,
            settledAt: 1_764_100_000
        ),
        CredentialVersion(version: 3, state: .pending, sealed: "v1:CCCC", createdAt: 1_764_200_000),
    ]

    static let statuses = [
        CredentialStatus(
            record: CredentialRecord(
                name: "deploy-hook",
                kind: .command(path: "/usr/local/bin/deploy-secret"),
                policyJSON: "{}",
                maxAgeSeconds: nil,
                oneTime: true,
                createdAt: 1_764_000_000
            )
        ),
        CredentialStatus(
            record: CredentialRecord(
                name: "svc-backup",
                kind: .ldapAccount(dn: "uid=backup,ou=services,dc=example,dc=org"),
                policyJSON: #"{"length":24}"#,
                maxAgeSeconds: 2_592_000,
                oneTime: false,
                createdAt: 1_764_000_000
            ),
            current: backupVersions[1],
            pending: backupVersions[2],
            failures: 1,
            lastError: "Password Modify: timeout",
            nextAttemptAt: 1_764_200_300
        ),
    ]
}

@Suite("Vault store: request ids")
struct VaultRequestTests {
    @Test func aVersionMadeForARequestIsFoundAndTheRequestIsUnique() async throws {
        try await withStore { store, _ throws in
            try await store.addCredential(ldapRecord("svc-a"), initialSecret: "v1:A", audit: [])
            try await store.addCredential(ldapRecord("svc-b"), initialSecret: "v1:B", audit: [])
            #expect(try await store.version(forRequest: "plan:1:entry:1") == nil)
            let version = try await store.addPendingVersion(
                of: "svc-a",
                sealed: "v1:A2",
                requestID: "plan:1:entry:1",
                at: 1_800_000_000,
                audit: []
            )
            let found = try #require(try await store.version(forRequest: "plan:1:entry:1"))
            #expect(found.name == "svc-a")
            #expect(found.version.version == version)
            #expect(found.version.state == .pending)
            // Created on the caller's clock (a rotator's lease on pending versions runs on it).
            #expect(found.version.createdAt == 1_800_000_000)
            // The same request cannot make a second version, even of another credential.
            await #expect(throws: (any Error).self) {
                _ = try await store.addPendingVersion(
                    of: "svc-b",
                    sealed: "v1:B2",
                    requestID: "plan:1:entry:1",
                    at: 1_800_000_000,
                    audit: []
                )
            }
            try await store.promote("svc-a", version: version, at: 1_800_000_060, audit: [])
            let promoted = try #require(try await store.version(forRequest: "plan:1:entry:1")?.version)
            #expect(promoted.state == .current)
            #expect(promoted.settledAt == 1_800_000_060)
            let retired = try #require(try await store.versions(of: "svc-a").first { $0.version == 1 })
            #expect(retired.state == .retired && retired.settledAt == 1_800_000_060)
            _ = try await store.addPendingVersion(
                of: "svc-a",
                sealed: "v1:A3",
                requestID: nil,
                at: 1_800_000_100,
                audit: []
            )
            try await store.abandon("svc-a", version: version + 1, at: 1_800_000_120, audit: [])
            let abandoned = try #require(try await store.versions(of: "svc-a").first { $0.version == version + 1 })
            #expect(abandoned.state == .abandoned && abandoned.createdAt == 1_800_000_100)
            #expect(abandoned.settledAt == 1_800_000_120)
            // A time that is not a finite number is refused, not stored (SQLite would make NaN NULL).
            await #expect(throws: StoreError.self) {
                _ = try await store.addPendingVersion(
                    of: "svc-a",
                    sealed: "v1:A4",
                    requestID: nil,
                    at: .infinity,
                    audit: []
                )
            }
            let last = try await store.addPendingVersion(
                of: "svc-a",
                sealed: "v1:A4",
                requestID: nil,
                at: 1_800_000_130,
                audit: []
            )
            await #expect(throws: StoreError.self) {
                try await store.promote("svc-a", version: last, at: .nan, audit: [])
            }
            await #expect(throws: StoreError.self) {
                try await store.abandon("svc-a", version: last, at: -.infinity, audit: [])
            }
            #expect(try await store.versions(of: "svc-a").last?.state == .pending)
        }
    }
}
