import Foundation
import GRDB
import SlapdFixture
import TenureCore
import TenureEngine
import TenureStore
import Testing

/// `tenure sync`, `plan` and `audit` against a real slapd, a real SQLite file and the real binary.
@Suite(.timeLimit(.minutes(5)))
struct SyncTests {
    static let mappings = """
        roles:
          - name: dba-prod
            tier: 0
            mode: eligible
            maxActivation: 4h
            requirements: [approval]
            conflicts: [auditor]
          - name: db-read
            tier: 2
            mode: standing
          - name: platform-admin
            tier: 1
            mode: standing
          - name: auditor
            tier: 1
            mode: standing
        rules:
          - name: dbas
            when:
              memberOf: dba
            grant: dba-prod
            as: eligible
          - name: database-department
            when:
              attribute: department
              equals: Database
            grant: db-read
            as: standing
          - name: platform
            when:
              memberOf: "cn=platform-admins,ou=groups,dc=tenure,dc=test"
            grant: platform-admin
            as: standing
        guard:
          maxLeavers: 500
          maxLeaverPercent: 30

        """

    /// A configuration with a `state:` section in `directory`, its mappings and audit key.
    struct World {
        let server: SlapdServer
        let directory: String
        let config: String
        var database: String { self.directory + "/tenure.sqlite" }

        init(
            server: SlapdServer,
            directory: String,
            userBase: String = Sample.people,
            mappings: String = SyncTests.mappings,
            vault: Bool = false,
            writeBack: Bool = false,
            extra: String = ""
        ) throws {
            self.server = server
            self.directory = directory
            try FileManager.default.createDirectory(atPath: directory + "/mappings", withIntermediateDirectories: true)
            _ = try write(mappings, to: "mappings/roles.yaml", in: directory)
            let base = sampleConfiguration(
                url: server.url,
                bindDN: server.readerDN,
                password: .file(server.readerPasswordFile),
                userBase: userBase
            )
            self.config = try write(
                base + "state:\n  database: tenure.sqlite\n  auditKeyFile: audit.key\n  mappings: mappings\n"
                    + (vault ? "  vaultKeyFile: vault.key\n" : "")
                    + (writeBack
                        ? "writeBack:\n  bindDN: \"\(server.writerDN)\"\n  passwordFile: \"\(server.writerPasswordFile)\"\n"
                            + "  emptyGroupPlaceholder: \"cn=nobody,dc=tenure,dc=test\"\n" : "")
                    + extra,
                to: "tenure-\(UUID().uuidString.prefix(6)).yaml",
                in: directory
            )
            if !FileManager.default.fileExists(atPath: directory + "/audit.key") {
                let made = try self.tenure(["audit", "init-key"])
                try #require(made.status == 0, "\(made)")
            }
        }

        func tenure(_ arguments: [String]) throws -> CLIRun {
            try TenureCLITests.tenure(arguments + ["--config", self.config])
        }

        func store() throws -> SQLiteStore {
            try SQLiteStore(path: self.database, auditKey: try AuditKey.load(path: self.directory + "/audit.key"))
        }
    }

    private func holds(_ state: PIMState, _ username: String, _ role: String, _ kind: AssignmentState) -> Bool {
        guard let id = state.identities.values.first(where: { $0.username == username })?.id else { return false }
        return state.assignments.contains { $0.identityID == id && $0.role == role && $0.state == kind }
    }

    @Test func aDayOfChurnGivesTheExpectedPlansAndAudit() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try World(server: server, directory: directory)

                // First sync: every active person is a joiner with what the rules grant.
                let first = try world.tenure(["sync"])
                #expect(first.status == 0, "\(first)")
                #expect(first.stdout.contains("+ joiner"))
                #expect(first.stdout.contains("+ grant eligible dba-prod"))
                var state = try await world.store().loadState()
                #expect(self.holds(state, "kmueller", "dba-prod", .eligible))
                #expect(self.holds(state, "rpatel", "db-read", .active))
                #expect(!self.holds(state, "fdubois", "dba-prod", .eligible))  // locked: never granted
                #expect(state.identities.values.filter { $0.state == .active }.count == 24)

                // A second sync changes nothing.
                let quiet = try world.tenure(["plan", "--detailed-exitcode"])
                #expect(quiet.status == 0, "\(quiet)")
                #expect(quiet.stdout.contains("No changes."))

                // A day of churn, through LDAP: a joiner, a mover, a rename, a leaver, a deletion.
                try server.add(
                    """
                    dn: uid=newdba,ou=people,dc=tenure,dc=test
                    objectClass: inetOrgPerson
                    uid: newdba
                    cn: New DBA
                    sn: DBA
                    departmentNumber: Database

                    """
                )
                try server.modify(
                    """
                    dn: cn=dba,ou=groups,dc=tenure,dc=test
                    changetype: modify
                    add: member
                    member: uid=newdba,ou=people,dc=tenure,dc=test

                    dn: uid=rpatel,ou=people,dc=tenure,dc=test
                    changetype: modify
                    replace: departmentNumber
                    departmentNumber: Security

                    dn: uid=hsato,ou=people,dc=tenure,dc=test
                    changetype: modrdn
                    newrdn: uid=hsato2
                    deleteoldrdn: 0

                    dn: uid=kmueller,ou=people,dc=tenure,dc=test
                    changetype: modify
                    add: pwdAccountLockedTime
                    pwdAccountLockedTime: 000001010000Z

                    dn: uid=oadeyemi,ou=people,dc=tenure,dc=test
                    changetype: delete

                    """
                )
                let plan = try world.tenure(["plan", "--detailed-exitcode"])
                #expect(plan.status == 2, "\(plan)")
                #expect(plan.stdout.contains("+ joiner  newdba"))
                #expect(plan.stdout.contains("department changed from \"Database\" to \"Security\""))
                #expect(plan.stdout.contains("- revoke active db-read"))
                #expect(plan.stdout.contains("DN changed from \"uid=hsato,ou=people"))
                #expect(plan.stdout.contains("- leaver  kmueller"))
                #expect(plan.stdout.contains("gone from the directory"))
                #expect(plan.stdout.contains("Plan: 1 joiner(s), 2 mover(s), 2 leaver(s)"), "\(plan.stdout)")

                let applied = try world.tenure(["sync"])
                #expect(applied.status == 0, "\(applied)")
                #expect(applied.stdout.contains("Audit records"))
                state = try await world.store().loadState()
                #expect(self.holds(state, "newdba", "dba-prod", .eligible))
                #expect(self.holds(state, "newdba", "db-read", .active))
                #expect(!self.holds(state, "rpatel", "db-read", .active))
                #expect(self.holds(state, "hsato", "dba-prod", .eligible))  // the rename kept the grant
                #expect(state.identities.values.first { $0.username == "hsato" }?.dn.hasPrefix("uid=hsato2,") == true)
                #expect(!state.assignments.contains { a in state.identities[a.identityID]?.username == "kmueller" })
                #expect(state.identities.values.first { $0.username == "oadeyemi" }?.state == .terminated)

                // Nothing left to do, and the audit chain verifies.
                #expect(try world.tenure(["plan", "--detailed-exitcode"]).status == 0)
                let verify = try world.tenure(["audit", "verify"])
                #expect(verify.status == 0, "\(verify)")
                let export = try world.tenure(["audit", "export", "--format", "jsonl"])
                let lines = export.stdout.split(separator: "\n")
                let types = try lines.map { line -> String in
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                    return object["type"] as! String
                }
                #expect(types.contains("identity.leaver"))
                #expect(types.contains("identity.mover"))
                #expect(types.filter { $0 == "plan.applied" }.count == 2)
            }
        }
    }

    @Test func aBaseThatReturnsNobodyIsHeldByTheGuard() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try World(server: server, directory: directory)
                #expect(try world.tenure(["sync"]).status == 0)
                let before = try await world.store().loadState()

                // A base that exists but holds no people: every identity looks like a leaver.
                let wrong = try World(server: server, directory: directory, userBase: "ou=services,dc=tenure,dc=test")
                let held = try wrong.tenure(["sync"])
                #expect(held.status == 3, "\(held)")
                #expect(held.stdout.contains("Plan HELD"))
                #expect(held.stderr.contains("--allow-mass-revoke"))
                #expect(try await world.store().loadState() == before)

                // A base that does not exist is a read error: nothing is planned.
                let missing = try World(server: server, directory: directory, userBase: "ou=nowhere,dc=tenure,dc=test")
                let failed = try missing.tenure(["sync"])
                #expect(failed.status == 1, "\(failed)")
                #expect(failed.stderr.contains("noSuchObject"))
                #expect(try await world.store().loadState() == before)
                // plan and drift read the same way: a read error, named, and no output on stdout.
                for format in ["text", "json"] {
                    let plan = try missing.tenure(["plan", "--format", format])
                    #expect(plan.status == 1, "\(plan)")
                    #expect(plan.stdout.isEmpty, "\(plan)")
                    #expect(plan.stderr.contains("tenure plan: ") && plan.stderr.contains("noSuchObject"), "\(plan)")
                    #expect(plan.stderr.contains("no plan was made."), "\(plan)")
                }
                let drift = try missing.tenure(["drift", "--format", "json"])
                #expect(drift.status == 1, "\(drift)")
                #expect(drift.stdout.isEmpty, "\(drift)")
                #expect(drift.stderr.contains("tenure drift: ") && drift.stderr.contains("noSuchObject"), "\(drift)")

                // Explicitly allowed: applied.
                let forced = try wrong.tenure(["sync", "--allow-mass-revoke"])
                #expect(forced.status == 0, "\(forced)")
                #expect(try await world.store().loadState().assignments.isEmpty)
            }
        }
    }

    @Test func aSecondSyncSaysWhoHoldsTheLock() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try World(server: server, directory: directory)
                let lock = try SyncLock.acquire(path: world.database + ".lock", purpose: "tenure-tests")
                let blocked = try world.tenure(["sync"])
                #expect(blocked.status == 75, "\(blocked)")
                #expect(blocked.stderr.contains("tenure-tests by pid \(getpid())"))
                withExtendedLifetime(lock) {}
            }
        }
    }

    /// SIGKILL in the middle of applying a large plan, run again: the final model and the audit
    /// equal an uninterrupted run's, every event exactly once.
    @Test func aSyncKilledMidApplyResumesToTheSameResult() async throws {
        let count = 3_000
        var bulk = ""
        for index in 0..<count {
            bulk += "dn: uid=u\(index),ou=people,dc=tenure,dc=test\nobjectClass: inetOrgPerson\nuid: u\(index)\n"
            bulk += "cn: U\(index)\nsn: u\(index)\ndepartmentNumber: Database\n\n"
        }
        bulk += "dn: cn=dba,ou=groups,dc=tenure,dc=test\nobjectClass: groupOfNames\ncn: dba\n"
        for index in 0..<count { bulk += "member: uid=u\(index),ou=people,dc=tenure,dc=test\n" }
        bulk += "\n"
        try await withSlapd(bulk: bulk) { server in
            try await withTemporaryDirectoryAsync { root in
                let clean = try World(server: server, directory: root + "/clean")
                #expect(try clean.tenure(["sync"]).status == 0)  // the uninterrupted run

                // The interrupted run: start it, wait until part of the journal is applied, SIGKILL.
                // If the machine is so busy that the sync finishes first, try again on a fresh store.
                var crashedWorld: World?
                for attempt in 1...3 where crashedWorld == nil {
                    let world = try World(server: server, directory: root + "/crashed-\(attempt)")
                    if try await self.killMidApply(world) { crashedWorld = world }
                }
                let crashed = try #require(
                    crashedWorld,
                    "could not kill a sync in the middle of its apply in 3 attempts"
                )
                let observer = try crashed.store()
                let unfinished = try #require(try await observer.unfinishedPlan())
                #expect(unfinished.journal.contains { $0.done } && unfinished.journal.contains { !$0.done })

                // Run again: it resumes the plan, then finds nothing else to do.
                let resumed = try crashed.tenure(["sync"])
                #expect(resumed.status == 0, "\(resumed)")
                #expect(resumed.stdout.contains("Resumed plan"))
                #expect(try await observer.unfinishedPlan() == nil)

                // Same model.
                let a = try await observer.loadState()
                let b = try await clean.store().loadState()
                func grants(_ state: PIMState) -> Set<String> {
                    Set(state.assignments.map { "\($0.identityID) \($0.role) \($0.state.rawValue) \($0.source)" })
                }
                #expect(grants(a) == grants(b))
                #expect(grants(a).count == 2 * count)
                #expect(
                    Set(a.identities.values.map { "\($0.id) \($0.state) \($0.dn)" })
                        == Set(b.identities.values.map { "\($0.id) \($0.state) \($0.dn)" })
                )

                // Same audit: every access and lifecycle event exactly once.
                func events(_ store: SQLiteStore) async throws -> [String: Int] {
                    let records = try await store.auditRecords(
                        AuditQuery(
                            afterSequence: nil,
                            since: nil,
                            until: nil,
                            subject: nil,
                            limit: nil,
                            newestFirst: false
                        )
                    )
                    var counts: [String: Int] = [:]
                    for record in records
                    where record.event.type.hasPrefix("role.") || record.event.type.hasPrefix("identity.") {
                        counts[
                            "\(record.event.type) \(record.event.subject ?? "") \(record.event.object ?? "")",
                            default: 0
                        ] += 1
                    }
                    return counts
                }
                let crashedEvents = try await events(observer)
                #expect(crashedEvents == (try await events(try clean.store())))
                #expect(crashedEvents.values.allSatisfy { $0 == 1 })
                #expect(crashedEvents.count == 3 * count)  // 2 grants + 1 joiner each
                #expect(try crashed.tenure(["audit", "verify"]).status == 0)
            }
        }
    }
}

extension SyncTests {
    /// Starts `tenure sync`, SIGKILLs it once some journal entries are done; true when the plan
    /// was left unfinished (the kill landed in the middle of the apply).
    func killMidApply(_ world: World) async throws -> Bool {
        let pid = try spawnDetached(try TenureBinary.require(), ["sync", "--config", world.config])
        var queue: DatabaseQueue?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if queue == nil, FileManager.default.fileExists(atPath: world.database) {
                queue = try? DatabaseQueue(path: world.database, configuration: .readOnly)
            }
            // A cheap count straight from the journal (the store's own API loads whole plans).
            if let queue,
                let done = try? await queue.read({
                    try Int.fetchOne($0, sql: "SELECT count(*) FROM plan_journal WHERE done")
                }),
                done >= 100
            {
                break
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        kill(pid, SIGKILL)
        _ = waitForExit(pid, within: .seconds(30))
        guard let plan = try await world.store().unfinishedPlan() else { return false }
        return plan.journal.contains { $0.done } && plan.journal.contains { !$0.done }
    }
}

/// Starts a program without waiting for it (its output discarded); returns its pid.
func spawnDetached(_ executable: String, _ arguments: [String]) throws -> pid_t {
    try spawn(executable, arguments, environment: cliEnvironment())
}

/// `withTemporaryDirectory` for async bodies.
func withTemporaryDirectoryAsync<R>(_ body: (String) async throws -> R) async throws -> R {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tenure-sync-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

extension Configuration {
    /// A read-only connection (the test only watches the store another process writes).
    static var readOnly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }
}
