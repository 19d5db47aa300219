import Foundation
import GRDB
import TenureCore
import TenureCrypto
import Testing

@testable import TenureStore

@Suite("Schema migrations")
struct MigrationTests {
    @Test func anEmptyDatabaseMigratesToTheLatestSchema() async throws {
        try await withStore { store, directory throws in
            try store.close()
            try withRawDatabase(directory.file("tenure.sqlite")) { db throws in
                #expect(try StoreMigrations.migrator.appliedMigrations(db) == StoreMigrations.ids)
                for table in ["identity", "identity_history", "assignment", "plan", "plan_journal", "audit_log"] {
                    #expect(try db.tableExists(table), "missing table \(table)")
                }
                #expect(try db.triggerExists("audit_log_no_update"))
                #expect(try db.triggerExists("audit_log_no_delete"))
                #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            }
            // Opening again is a no-op migration that keeps working.
            let reopened = try SQLiteStore(path: directory.file("tenure.sqlite"), auditKey: try testKey())
            #expect(try await reopened.appendAudit([event(1)]) == 1...1)
        }
    }

    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("tenure.sqlite")
            try SQLiteStore(path: path, auditKey: try testKey()).close()
            try withRawDatabase(path) { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999-from-the-future')")
            }
            let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path, auditKey: try testKey()) }
            #expect(error?.code == .newerSchema)
        }
    }

    /// Every registered migration must have a seeding case here (see `seed`).
    @Test func everyMigrationHasSeedData() {
        for id in StoreMigrations.ids {
            #expect(Self.seeders[id] != nil, "add a seeder for migration \(id) to MigrationTests.seeders")
        }
    }

    /// For each schema version: build a database at that version, insert representative rows the way
    /// that version stored them, open it with the current store (which migrates to the latest), and
    /// check every row through the public API.
    @Test(arguments: StoreMigrations.ids)
    func dataWrittenAtAnEarlierVersionSurvivesMigration(_ version: String) async throws {
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("tenure.sqlite")
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: version)
            let seeder = try #require(Self.seeders[version])
            try await queue.write { try seeder($0) }
            try queue.close()

            let store = try SQLiteStore(path: path, auditKey: try testKey())
            try await store.pool.read { db throws in
                #expect(try StoreMigrations.migrator.appliedMigrations(db) == StoreMigrations.ids)
            }

            let state = try await store.loadState()
            #expect(state.identities == ["id-ada": Self.ada])
            #expect(state.assignments == [Self.adaAdmin])

            let plan = try #require(try await store.unfinishedPlan())
            #expect(plan.id == 1)
            #expect(plan.hash == "sha256:seed")
            #expect(plan.status == .applying)
            #expect(plan.plan == samplePlan().0)
            #expect(plan.journal.map(\.done) == [true, false, false])
            #expect(plan.journal.map(\.action) == samplePlan().1.map(\.action))

            #expect(try await store.auditRecords(AuditQuery()).map(\.event) == Self.seedEvents)
            #expect(try await store.verifyAudit() == AuditVerification(records: 2))
            // The migrated log keeps chaining.
            #expect(try await store.appendAudit([event(3)]) == 3...3)
            #expect(try await store.verifyAudit() == AuditVerification(records: 3))
            let remaining = plan.journal.filter { !$0.done }
            #expect(try await store.applyJournalEntry(planID: 1, entryID: remaining[0].id, change: .none, audit: []))
        }
    }

    /// v10: users deleted before it are taken as settled, however recent; a deletion after it is
    /// to settle until that is recorded.
    @Test func deletionsFromBeforeV10AreNotSettledAgain() async throws {
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("tenure.sqlite")
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: "v9")
            let hourAgo = Date().timeIntervalSince1970 - 3_600
            try await queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO hr_user (id, userName, externalId, employeeNumber, active, terminationDate,
                                             identityID, resourceJSON, version, created, lastModified, deleted)
                        VALUES ('hr-gone', 'ada', NULL, 'E100', 1, NULL, 'id-ada', '{}', 2, 1764000000, ?, 1),
                               ('hr-live', 'cat', NULL, 'E300', 1, NULL, 'id-cat', '{}', 1, 1764000000, ?, 0);
                        """,
                    arguments: [hourAgo, hourAgo]
                )
            }
            try queue.close()
            let store = try SQLiteStore(path: path, auditKey: try testKey())
            #expect(try await store.deletedHRUserToSettle(id: "hr-gone") == nil)
            #expect(try await store.deletedHRUsersToSettle().isEmpty)
            try await store.deleteHRUser(id: "hr-live", ifMatch: nil, actor: "scim", time: hourAgo + 60)
            #expect(try await store.deletedHRUsersToSettle().map(\.id) == ["hr-live"])
            try await store.settledDeletedHRUser(id: "hr-live")
            #expect(try await store.deletedHRUsersToSettle().isEmpty)
        }
    }

    /// v11: a rotation journaled before it (by a plan a crash left open, say) is found by a
    /// check-out as one journaled after it is; done entries and other actions are not.
    @Test func rotationsJournaledBeforeV11AreStillFound() async throws {
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("tenure.sqlite")
            let queue = try DatabaseQueue(path: path)
            try StoreMigrations.migrator.migrate(queue, upTo: "v10")
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let actions: [(PlanAction, done: Bool)] = [
                (.revoke(role: "db-admin", state: .active, reason: "leaver"), true),
                (.rotateCredential(name: "db-root", role: "db-admin", reason: "leaver"), false),
                (.rotateCredential(name: "db-backup", role: "db-admin", reason: "leaver"), true),
            ]
            try await queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO plan (id, hash, createdAt, actor, status, planJSON)
                        VALUES (1, 'h', 1, 'cli:offboard', 'applying', '{}')
                        """
                )
                for (index, (action, done)) in actions.enumerated() {
                    try db.execute(
                        sql: """
                            INSERT INTO plan_journal (planID, identityID, actionIndex, actionJSON, done)
                            VALUES (1, 'id-bob', ?, ?, ?)
                            """,
                        arguments: [index, String(decoding: try encoder.encode(action), as: UTF8.self), done]
                    )
                }
            }
            try queue.close()
            let store = try SQLiteStore(path: path, auditKey: try testKey())
            #expect(try await store.planStillToRotate(credential: "db-root") == 1)
            #expect(try await store.planStillToRotate(credential: "db-backup") == nil)
            #expect(try await store.planStillToRotate(credential: "db-admin") == nil)
        }
    }

    // MARK: - Seed data, per schema version

    static let ada = IdentityRecord(
        id: "id-ada",
        state: .active,
        dn: "uid=ada,ou=people,dc=example,dc=org",
        username: "ada",
        attributes: ["department": "Database", "mail": "ada@example.org"],
        groups: ["cn=dba,ou=groups,dc=example,dc=org"],
        firstSeen: 1_764_000_000,
        lastSeen: 1_764_230_000
    )

    static let adaAdmin = Assignment(
        identityID: "id-ada",
        role: "db-admin",
        state: .active,
        source: "rule:dba-team",
        since: 1_764_230_000
    )

    static let seedEvents = [
        AuditEvent(
            time: 1_764_230_000.25,
            actor: "sync",
            type: "identity.joined",
            subject: "id-ada",
            details: ["username": "ada"]
        ),
        AuditEvent(
            time: 1_764_230_000.5,
            actor: "sync",
            type: "role.granted",
            subject: "id-ada",
            object: "db-admin",
            details: ["rule": "dba-team", "reason": "member of cn=dba"]
        ),
    ]

    /// Inserts, as raw SQL in that version's schema, one identity with history, one assignment, a plan
    /// half applied, and two chained audit records (MACed independently of the store's code).
    static let seeders: [String: @Sendable (Database) throws -> Void] = [
        "v1": { db in
            try db.execute(
                sql: """
                    INSERT INTO identity (id, state, dn, username, attributes, groups, firstSeen, lastSeen, terminatedAt)
                    VALUES ('id-ada', 'active', 'uid=ada,ou=people,dc=example,dc=org', 'ada',
                            '{"department":"Database","mail":"ada@example.org"}',
                            '["cn=dba,ou=groups,dc=example,dc=org"]', 1764000000, 1764230000, NULL);
                    INSERT INTO identity_history (identityID, sequence, time, state, dn, username, attributes, groups)
                    VALUES ('id-ada', 1, 1764000000, 'active', 'uid=ada,ou=people,dc=example,dc=org', 'ada',
                            '{"department":"Database","mail":"ada@example.org"}', '["cn=dba,ou=groups,dc=example,dc=org"]');
                    INSERT INTO assignment (identityID, role, state, source, since, until)
                    VALUES ('id-ada', 'db-admin', 'active', 'rule:dba-team', 1764230000, NULL);
                    """
            )
            let (plan, journal) = samplePlan()
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try db.execute(
                sql:
                    "INSERT INTO plan (id, hash, createdAt, actor, status, planJSON) VALUES (1, 'sha256:seed', ?, 'sync', 'applying', ?)",
                arguments: [plan.createdAt, String(decoding: try encoder.encode(plan), as: UTF8.self)]
            )
            for (index, entry) in journal.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO plan_journal (planID, identityID, actionIndex, actionJSON, done, doneAt)
                        VALUES (1, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        entry.identityID, entry.index,
                        String(decoding: try encoder.encode(entry.action), as: UTF8.self),
                        index == 0, index == 0 ? 1_764_230_001 : nil,
                    ]
                )
            }
            var previous = zeroHash
            for (index, event) in seedEvents.enumerated() {
                let sequence = Int64(index + 1)
                let mac = independentMAC(sequence: sequence, event: event, previousHash: previous)
                let details = String(decoding: try encoder.encode(event.details), as: UTF8.self)
                try db.execute(
                    sql: """
                        INSERT INTO audit_log (sequence, time, actor, type, subject, object, outcome, details, previousHash, mac)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        sequence, event.time, event.actor, event.type, event.subject, event.object, event.outcome,
                        details, previous, mac,
                    ]
                )
                previous = mac
            }
        },
        // v2 adds the credential vault: everything v1 holds, plus two credentials (one mid-rotation,
        // one without a secret yet). VaultMigrationTests reads them back (VaultSeed).
        "v2": { db in
            try MigrationTests.seeders["v1"]!(db)
            try db.execute(
                sql: """
                    INSERT INTO credential (name, kind, kindValue, policyJSON, maxAgeSeconds, oneTime, createdAt,
                                            failures, lastError, nextAttemptAt)
                    VALUES ('svc-backup', 'ldapAccount', 'uid=backup,ou=services,dc=example,dc=org',
                            '{"length":24}', 2592000, 0, 1764000000, 1, 'Password Modify: timeout', 1764200300),
                           ('deploy-hook', 'command', '/usr/local/bin/deploy-secret', '{}', NULL, 1, 1764000000,
                            0, NULL, NULL);
                    INSERT INTO credential_version (name, version, state, sealed, createdAt, settledAt)
                    VALUES ('svc-backup', 1, 'retired', 'v1:AAAA', 1764000000, 1764100000),
                           ('svc-backup', 2, 'current', 'v1:BBBB', 1764100000, 1764100000),
                           ('svc-backup', 3, 'pending', 'v1:CCCC', 1764200000, NULL);
                    """
            )
        },
        // v3 adds request ids to credential versions: everything v2 holds, one version made for a plan.
        "v3": { db in
            try MigrationTests.seeders["v2"]!(db)
            try db.execute(
                sql:
                    "UPDATE credential_version SET requestID = 'plan:1:entry:9' WHERE name = 'svc-backup' AND version = 3"
            )
        },
        // v4 adds check-outs: everything v3 holds, plus one exclusive check-out of svc-backup that was
        // checked in and one still open. CheckoutStoreTests reads them back (CheckoutSeed).
        "v4": { db in
            try MigrationTests.seeders["v3"]!(db)
            try db.execute(
                sql: """
                    INSERT INTO credential_checkout (id, name, identityID, username, version, exclusive, checkedOutAt,
                                                     dueAt, checkedInAt)
                    VALUES ('co-1', 'svc-backup', 'id-ada', 'ada', 2, 1, 1764150000, 1764153600, 1764151000),
                           ('co-2', 'svc-backup', 'id-ada', NULL, 2, 0, 1764160000.5, NULL, NULL);
                    """
            )
            try db.execute(
                sql: """
                    INSERT INTO writeback_member (groupDN, identityID, member, role, since)
                    VALUES ('cn=dba-prod,ou=privileged,dc=t', 'id-ada', 'uid=ada,ou=people,dc=t', 'dba-prod', 1764000000);
                    INSERT INTO drift_finding (role, member, kind, findingJSON, firstSeen, lastSeen)
                    VALUES ('dba-prod', 'uid=eve,ou=people,dc=t', 'out-of-band', '{}', 1764000000, 1764100000);
                    """
            )
        },
        // v5 adds the checking API's tables and credential.requiresMFA: everything v4 holds, plus an
        // activation, an MFA enrolment, an HR record and a scheduled offboarding.
        "v5": { db in
            try MigrationTests.seeders["v4"]!(db)
            try db.execute(
                sql: """
                    INSERT INTO activation (id, identityID, role, state, requestedBy, requestedAt, durationSeconds,
                                            justification, ticket, mfa, startsAt, endsAt)
                    VALUES ('act-1', 'id-ada', 'dba-prod', 'active', 'token:ops', 1764200000, 3600, 'incident', 'INC-1',
                            1, 1764200000, 1764203600);
                    INSERT INTO mfa_enrollment (identityID, sealedSeed, lastUsedStep, enrolledAt)
                    VALUES ('id-ada', 'v1:SEED', 58800000, 1764000000);
                    INSERT INTO hr_user (id, userName, externalId, employeeNumber, active, terminationDate, identityID,
                                         resourceJSON, version, created, lastModified)
                    VALUES ('hr-1', 'ada', 'E100', 'E100', 1, NULL, 'id-ada', '{}', 1, 1764000000, 1764000000);
                    INSERT INTO offboarding (id, identityID, effectiveAt, reason, requestedBy, requestedAt, state)
                    VALUES ('off-1', 'id-ada', 1765000000, 'resignation', 'token:hr', 1764000000, 'scheduled');
                    UPDATE credential SET requiresMFA = 1 WHERE name = 'svc-backup';
                    """
            )
        },
        // v6 adds exclusive check-out: everything v5 holds, svc-backup exclusive.
        "v6": { db in
            try MigrationTests.seeders["v5"]!(db)
            try db.execute(sql: "UPDATE credential SET exclusiveCheckout = 1 WHERE name = 'svc-backup'")
        },
        // v7 adds a trigger only: the same data as v6.
        "v7": { db in
            try MigrationTests.seeders["v6"]!(db)
        },
        // v8 adds an index only: the same data as v7.
        "v8": { db in
            try MigrationTests.seeders["v7"]!(db)
        },
        // v9 adds a column, empty until a link is refused: the same data as v8.
        "v9": { db in
            try MigrationTests.seeders["v8"]!(db)
        },
        // v10 adds a column, set by deletions from then on: the same data as v9.
        "v10": { db in
            try MigrationTests.seeders["v9"]!(db)
        },
        // v11 adds a column, set for rotations from then on (filled from older entries, see
        // `rotationsJournaledBeforeV11AreStillFound`): the same data as v10.
        "v11": { db in
            try MigrationTests.seeders["v10"]!(db)
        },
    ]
}
