import DirectorySource
import Foundation
import LDAPClient
import Logging
import SlapdFixture
import Synchronization
import TenureCore
import TenureEngine
import TenureStore
import TenureVault
import Testing

/// Check-in rotation of one-time credentials and `maintain()` (max age, crash repair, retries with
/// back-off), against a real slapd and a real store, on an injected clock.
@Suite(.timeLimit(.minutes(5)))
struct VaultMaintenanceTests {
    static let suffix = "dc=tenure,dc=test"
    static let dbAccount = "cn=svc-db,ou=services,\(suffix)"
    static let appAccount = "cn=svc-app,ou=services,\(suffix)"
    static let initial = "Initial-Passw0rd-\(UUID().uuidString.prefix(8))"
    static let appInitial = "App-Passw0rd-\(UUID().uuidString.prefix(8))"
    static let data = """
        dn: \(dbAccount)
        objectClass: organizationalRole
        objectClass: simpleSecurityObject
        cn: svc-db
        userPassword: \(initial)

        dn: \(appAccount)
        objectClass: organizationalRole
        objectClass: simpleSecurityObject
        cn: svc-app
        userPassword: \(appInitial)

        """
    static let day: Double = 86_400

    /// The rotator's clock, set by the test.
    final class Clock: Sendable {
        private let value: Mutex<Double>
        init(_ start: Double) { self.value = Mutex(start) }
        var now: Double { self.value.withLock { $0 } }
        func set(_ time: Double) { self.value.withLock { $0 = time } }
        func advance(_ seconds: Double) { self.value.withLock { $0 += seconds } }
    }

    struct World {
        let server: SlapdServer
        let store: SQLiteStore
        let key: MasterKey
        let clock: Clock
        let rotator: CredentialRotator
        let directory: URL

        func binds(_ dn: String, _ password: String) async throws -> Bool {
            try await VaultTestSupport.binds(self.server, dn, password)
        }

        /// The secret of a stored version, opened with the master key.
        func secret(_ version: Int, of name: String) async throws -> String {
            try await VaultTestSupport.secret(self.store, self.key, version, of: name)
        }

        /// A pending version stored by hand, as a run that died after phase 1 leaves it.
        func storePending(_ secret: String, version: Int, name: String) async throws {
            try await VaultTestSupport.storePending(self.store, self.key, secret, version: version, name: name)
        }

        /// The administrator sets an account's password (out of band, or a rotation's phase 2).
        func adminSets(_ dn: String, _ password: String) async throws {
            try await VaultTestSupport.adminSets(self.server, dn, password)
        }

        /// Enrolls a credential at `time` on the rotator's clock (its version 1 is current from then).
        func enroll(
            _ name: String,
            _ kind: CredentialKind,
            secret: String,
            maxAge: Double? = nil,
            oneTime: Bool = false,
            at time: Double
        ) async throws {
            self.clock.set(time)
            try await self.rotator.enroll(
                name: name,
                kind: kind,
                currentSecret: secret,
                policy: PasswordPolicy(),
                maxAgeSeconds: maxAge,
                oneTime: oneTime
            )
        }

        /// An executable shell script in the world's directory.
        func script(_ name: String, _ body: String) throws -> String {
            let path = self.directory.appendingPathComponent(name).path
            try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o700)
            return path
        }

        func status(_ name: String) async throws -> CredentialStatus {
            try #require(try await self.store.credentialStatus(named: name))
        }

        func audit() async throws -> [AuditEvent] {
            try await self.store.auditRecords(
                AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: nil, newestFirst: false)
            ).map(\.event)
        }

        /// Every audit record, as text, for searching for secrets.
        func auditText() async throws -> String {
            try await self.audit().map { "\($0)" }.joined(separator: "\n")
        }
    }

    private func withWorld(_ body: (World) async throws -> Void) async throws {
        try await withSlapd(data: Self.data) { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tenure-maintenance-\(UUID().uuidString)"
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
            let clock = Clock(Date().timeIntervalSince1970)
            let rotator = CredentialRotator(
                store: store,
                masterKey: key,
                ldap: LDAPConnectionOptions(urls: [server.url]),
                logger: logger,
                actor: "test",
                now: { clock.now }
            )
            try await body(
                World(server: server, store: store, key: key, clock: clock, rotator: rotator, directory: directory)
            )
        }
    }

    private func checkOut(
        _ world: World,
        _ id: String,
        of name: String,
        by identityID: String = "id-ann",
        dueAt: Double? = nil
    ) async throws {
        let version = try #require(try await world.status(name).current?.version)
        try await world.store.recordCheckout(
            CredentialCheckout(
                id: id,
                name: name,
                identityID: identityID,
                username: "ann",
                version: version,
                exclusive: true,
                checkedOutAt: world.clock.now,
                dueAt: dueAt
            ),
            audit: []
        )
    }

    // MARK: - Check-in

    @Test func aOneTimeCredentialIsRotatedOnCheckInAndOnlyOnce() async throws {
        try await withWorld { world in
            let start = Date().timeIntervalSince1970
            try await world.enroll(
                "db-root",
                .ldapAccount(dn: Self.dbAccount),
                secret: Self.initial,
                oneTime: true,
                at: start
            )
            try await self.checkOut(world, "co-1", of: "db-root")
            world.clock.set(start + 600)

            let result = try await world.rotator.checkIn(checkoutID: "co-1")
            #expect(result.rotation == .rotated(version: 2))
            #expect(result.checkout.id == "co-1")
            #expect(result.checkout.checkedInAt == start + 600)
            #expect(try await world.store.checkout(id: "co-1")?.checkedInAt == start + 600)
            let new = try await world.secret(2, of: "db-root")
            #expect(try await world.binds(Self.dbAccount, new))
            #expect(try await !world.binds(Self.dbAccount, Self.initial))
            #expect(try await world.store.version(forRequest: "checkin:co-1")?.version.version == 2)

            // A retried check-in neither records a second check-in nor rotates again.
            world.clock.set(start + 700)
            let retried = try await world.rotator.checkIn(checkoutID: "co-1")
            #expect(retried.rotation == .rotated(version: 2))
            #expect(retried.checkout.checkedInAt == start + 600)
            #expect(try await world.store.versions(of: "db-root").map(\.version) == [1, 2])
            #expect(try await world.binds(Self.dbAccount, new))

            let audit = try await world.audit()
            let checkIns = audit.filter { $0.type == "credential.checkin" }
            #expect(
                checkIns == [
                    AuditEvent(
                        time: start + 600,
                        actor: "test",
                        type: "credential.checkin",
                        subject: "id-ann",
                        object: "db-root",
                        details: ["checkout": "co-1", "version": "1"]
                    )
                ]
            )
            #expect(audit.filter { $0.type == "credential.rotation.started" }.count == 1)
            #expect(audit.filter { $0.type == "credential.rotated" }.count == 1)
            let text = try await world.auditText()
            #expect(!text.contains(new))
            #expect(!text.contains(Self.initial))
            #expect(try await world.store.verifyAudit().firstBadSequence == nil)
        }
    }

    @Test func aCheckInOfAnOrdinaryCredentialDoesNotRotate() async throws {
        try await withWorld { world in
            let start = Date().timeIntervalSince1970
            try await world.enroll("db-root", .ldapAccount(dn: Self.dbAccount), secret: Self.initial, at: start)
            try await self.checkOut(world, "co-1", of: "db-root")
            world.clock.set(start + 60)

            let result = try await world.rotator.checkIn(checkoutID: "co-1")
            #expect(result.rotation == nil)
            #expect(result.checkout.checkedInAt == start + 60)
            #expect(try await world.store.openCheckouts(of: "db-root").isEmpty)
            #expect(try await world.store.versions(of: "db-root").map(\.version) == [1])
            #expect(try await world.binds(Self.dbAccount, Self.initial))
            // Again: still no rotation, and the check-in is recorded once.
            #expect(try await world.rotator.checkIn(checkoutID: "co-1").rotation == nil)
            let types = try await world.audit().map(\.type)
            #expect(types == ["credential.added", "credential.checkin"])

            await #expect(throws: CredentialRotator.RotationError.self) {
                try await world.rotator.checkIn(checkoutID: "no-such-checkout")
            }
        }
    }

    // MARK: - Maintenance

    @Test func aCredentialPastItsMaxAgeIsRotatedAndOneNotDueIsLeftAlone() async throws {
        try await withWorld { world in
            let now = Date().timeIntervalSince1970
            let received = world.directory.appendingPathComponent("received").path
            let good = try world.script("rotate-ok.sh", "cat > '\(received)'")
            try await world.enroll(
                "db-root",
                .ldapAccount(dn: Self.dbAccount),
                secret: Self.initial,
                maxAge: 90 * Self.day,
                at: now - 91 * Self.day
            )
            try await world.enroll(
                "fresh",
                .command(path: good),
                secret: "fresh-old",
                maxAge: 90 * Self.day,
                at: now - 10 * Self.day
            )
            try await world.enroll("no-max-age", .command(path: good), secret: "nma-old", at: now - 400 * Self.day)
            world.clock.set(now)

            let results = try await world.rotator.maintain()
            #expect(
                results == [.init(name: "db-root", trigger: .maxAge, outcome: .rotated(version: 2))]
            )
            let new = try await world.secret(2, of: "db-root")
            #expect(try await world.binds(Self.dbAccount, new))
            #expect(try await !world.binds(Self.dbAccount, Self.initial))
            #expect(try await world.store.versions(of: "fresh").map(\.version) == [1])
            #expect(try await world.store.versions(of: "no-max-age").map(\.version) == [1])
            let started = try await world.audit().filter { $0.type == "credential.rotation.started" }
            #expect(started.map(\.object) == ["db-root"])
            #expect(started.first?.details["reason"] == "older than its max age of 90 days")

            // Just rotated: nothing is due.
            #expect(try await world.rotator.maintain().isEmpty)

            // 91 days on, both credentials with a max age are due; the other never is.
            world.clock.advance(91 * Self.day)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "db-root", trigger: .maxAge, outcome: .rotated(version: 3)),
                    .init(name: "fresh", trigger: .maxAge, outcome: .rotated(version: 2)),
                ]
            )
            #expect(try await world.binds(Self.dbAccount, try await world.secret(3, of: "db-root")))
            #expect(try String(contentsOfFile: received, encoding: .utf8) == (try await world.secret(2, of: "fresh")))
            #expect(try await world.store.versions(of: "no-max-age").map(\.version) == [1])
            let text = try await world.auditText()
            for secret in [Self.initial, new, try await world.secret(3, of: "db-root")] {
                #expect(!text.contains(secret))
            }
        }
    }

    /// A max-age rotation waits while the credential is checked out within its time, and goes ahead
    /// once the check-out is past due; a check-out without a due time defers nothing.
    @Test func aMaxAgeRotationWaitsForAnOpenCheckOutWithinItsTime() async throws {
        try await withWorld { world in
            let now = Date().timeIntervalSince1970
            try await world.enroll(
                "db-root",
                .ldapAccount(dn: Self.dbAccount),
                secret: Self.initial,
                maxAge: 90 * Self.day,
                at: now - 91 * Self.day
            )
            world.clock.set(now)
            try await self.checkOut(world, "c1", of: "db-root", dueAt: now + 3_600)
            #expect(try await world.rotator.maintain().isEmpty)
            #expect(try await world.binds(Self.dbAccount, Self.initial))
            #expect(try await world.store.versions(of: "db-root").map(\.version) == [1])

            // Past the due time (not checked in): rotated.
            world.clock.advance(3_601)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "db-root", trigger: .maxAge, outcome: .rotated(version: 2))
                ]
            )
            #expect(try await !world.binds(Self.dbAccount, Self.initial))

            // A check-out without a due time does not hold a max-age rotation back.
            _ = try await world.store.checkIn(id: "c1", at: world.clock.now, audit: [])
            world.clock.advance(91 * Self.day)
            try await self.checkOut(world, "c2", of: "db-root")
            #expect(try await world.rotator.maintain().map(\.outcome) == [.rotated(version: 3)])
        }
    }

    @Test func aPendingVersionLeftByACrashIsReconciled() async throws {
        try await withWorld { world in
            let now = Date().timeIntervalSince1970
            try await world.enroll("app", .ldapAccount(dn: Self.appAccount), secret: Self.appInitial, at: now)
            try await world.enroll("db-root", .ldapAccount(dn: Self.dbAccount), secret: Self.initial, at: now)
            // db-root: the target changed, then the process died before promoting.
            let applied = "Applied-Not-Promoted-\(UUID().uuidString)"
            try await world.storePending(applied, version: 2, name: "db-root")
            try await world.adminSets(Self.dbAccount, applied)
            // app: the process died before changing the target.
            try await world.storePending("Never-Applied-\(UUID().uuidString)", version: 2, name: "app")

            // A pending version younger than the lease may be a rotation still running elsewhere.
            #expect(try await world.rotator.maintain().isEmpty)
            world.clock.set(Date().timeIntervalSince1970 + CredentialRotator.pendingLease)
            let later = world.clock.now
            #expect(
                try await world.rotator.maintain() == [
                    .init(
                        name: "app",
                        trigger: .reconcile,
                        outcome: .unchanged(reason: "the target kept its current password")
                    ),
                    .init(name: "db-root", trigger: .reconcile, outcome: .rotated(version: 2)),
                ]
            )
            let db = try await world.status("db-root")
            #expect(db.current?.version == 2)
            #expect(db.pending == nil)
            #expect(db.failures == 0)
            #expect(try await world.binds(Self.dbAccount, applied))
            let app = try await world.status("app")
            #expect(app.current?.version == 1)
            #expect(app.pending == nil)
            #expect(try await world.store.versions(of: "app").map(\.state) == [.current, .abandoned])
            #expect(try await world.binds(Self.appAccount, Self.appInitial))
            // Abandoning counts as a failure: app waits for its back-off; db-root has nothing to do.
            #expect(app.failures == 1)
            #expect(app.nextAttemptAt == later + 60)
            #expect(try await world.rotator.maintain().isEmpty)
            #expect(!(try await world.auditText()).contains(applied))
        }
    }

    @Test func aFailedRotationIsRecordedBacksOffAndIsRetried() async throws {
        try await withWorld { world in
            // The rotator's clock starts at the wall clock (the credential is enrolled by it).
            var now = Date().timeIntervalSince1970
            let received = world.directory.appendingPathComponent("received").path
            let program = try world.script("rotate.sh", "cat > /dev/null\nexit 1")
            try await world.enroll(
                "app-key",
                .command(path: program),
                secret: "old",
                maxAge: Self.day,
                at: now - 2 * Self.day
            )
            let failure = "\(program) exited with status 1"
            world.clock.set(now)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "app-key", trigger: .maxAge, outcome: .unchanged(reason: failure))
                ]
            )
            var status = try await world.status("app-key")
            #expect(status.failures == 1)
            #expect(status.lastError == failure)
            #expect(status.nextAttemptAt == now + 60)
            #expect(status.current?.version == 1)

            // Not before nextAttemptAt.
            world.clock.set(now + 59)
            #expect(try await world.rotator.maintain().isEmpty)
            #expect(try await world.store.versions(of: "app-key").count == 2)
            #expect(try await world.status("app-key").failures == 1)

            // After it: retried, failed again, and the back-off doubles.
            now += 61
            world.clock.set(now)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "app-key", trigger: .retry, outcome: .unchanged(reason: failure))
                ]
            )
            status = try await world.status("app-key")
            #expect(status.failures == 2)
            #expect(status.nextAttemptAt == now + 120)
            #expect(try await world.store.versions(of: "app-key").map(\.state) == [.current, .abandoned, .abandoned])
            let reasons = try await world.audit().filter { $0.type == "credential.rotation.started" }
                .map { $0.details["reason"] }
            #expect(reasons == ["older than its max age of 1 day", "retry after 1 failed attempt"])

            world.clock.set(now + 119)
            #expect(try await world.rotator.maintain().isEmpty)

            // The program is fixed: the next retry rotates and clears the failures.
            _ = try world.script("rotate.sh", "cat > '\(received)'")
            now += 121
            world.clock.set(now)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "app-key", trigger: .retry, outcome: .rotated(version: 4))
                ]
            )
            status = try await world.status("app-key")
            #expect(status.failures == 0)
            #expect(status.nextAttemptAt == nil)
            #expect(status.lastError == nil)
            #expect(status.current?.version == 4)
            #expect(try String(contentsOfFile: received, encoding: .utf8) == (try await world.secret(4, of: "app-key")))
            #expect(try await world.rotator.maintain().isEmpty)
        }
    }

    @Test func anAccountThatDoesNotExistNeedsAttentionAndBacksOff() async throws {
        try await withWorld { world in
            let start = Date().timeIntervalSince1970
            let ghost = "cn=ghost,ou=services,\(Self.suffix)"
            let secret = "Ghost-Secret-\(UUID().uuidString)"
            try await world.enroll("ghost", .ldapAccount(dn: ghost), secret: secret, maxAge: Self.day, at: start)
            let reason = "neither the pending (version 2) nor the current password binds as \(ghost)"

            var now = start + 2 * Self.day
            world.clock.set(now)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "ghost", trigger: .maxAge, outcome: .needsAttention(reason: reason))
                ]
            )
            var status = try await world.status("ghost")
            #expect(status.failures == 1)
            #expect(status.lastError == reason)
            #expect(status.nextAttemptAt == now + 60)
            #expect(status.pending?.version == 2)  // both secrets kept
            #expect(status.current?.version == 1)

            world.clock.set(now + 59)
            #expect(try await world.rotator.maintain().isEmpty)
            // Past the back-off, the pending version is still within its lease (it could belong to
            // a rotation running elsewhere): left alone until the lease is over.
            world.clock.set(now + 61)
            #expect(try await world.rotator.maintain().isEmpty)

            now += CredentialRotator.pendingLease + 1
            world.clock.set(now)
            #expect(
                try await world.rotator.maintain() == [
                    .init(name: "ghost", trigger: .reconcile, outcome: .needsAttention(reason: reason))
                ]
            )
            status = try await world.status("ghost")
            #expect(status.failures == 2)
            #expect(status.nextAttemptAt == now + 120)
            #expect(status.pending?.version == 2)
            let pending = try await world.secret(2, of: "ghost")
            let text = try await world.auditText()
            #expect(!text.contains(secret))
            #expect(!text.contains(pending))
        }
    }

    @Test func oneCredentialsErrorIsRecordedAndTheNextIsStillMaintained() async throws {
        try await withWorld { world in
            // The rotator's clock runs ten minutes behind the wall clock: every time it keeps and
            // compares (back-off, the pending version's lease) is on its clock alone. (Once the
            // store dated pending versions by the wall clock, and a slow run could not settle one.)
            let now = Date().timeIntervalSince1970 - 600
            let good = try world.script("rotate-ok.sh", "cat > /dev/null")
            try await world.enroll(
                "a-db",
                .ldapAccount(dn: Self.dbAccount),
                secret: Self.initial,
                maxAge: Self.day,
                at: now - 2 * Self.day
            )
            try await world.enroll(
                "b-key",
                .command(path: good),
                secret: "old",
                maxAge: Self.day,
                at: now - 2 * Self.day
            )
            // No server listens here: the bind check cannot tell whether the password changed.
            var rotator = world.rotator
            rotator.ldap = LDAPConnectionOptions(urls: ["ldap://127.0.0.1:1"], networkTimeout: 2)
            world.clock.set(now)

            let results = try await rotator.maintain()
            #expect(results.map(\.name) == ["a-db", "b-key"])
            #expect(results.map(\.trigger) == [.maxAge, .maxAge])
            guard case .needsAttention(let reason) = results.first?.outcome else {
                Issue.record("expected needsAttention, got \(String(describing: results.first))")
                return
            }
            #expect(reason.hasPrefix("older than its max age of 1 day: "))
            #expect(results.last?.outcome == .rotated(version: 2))
            let status = try await world.status("a-db")
            #expect(status.failures == 1)
            #expect(status.lastError == reason)
            #expect(status.nextAttemptAt == now + 60)
            #expect(status.pending?.version == 2)  // kept for the next reconcile
            #expect(try await world.binds(Self.dbAccount, Self.initial))

            // With the server back, the pending version is settled after the back-off and the lease.
            world.clock.set(now + CredentialRotator.pendingLease + 61)
            let settled = try await world.rotator.maintain()
            #expect(
                settled == [
                    .init(
                        name: "a-db",
                        trigger: .reconcile,
                        outcome: .unchanged(reason: "the target kept its current password")
                    )
                ],
                "maintain() gave \(settled)"
            )
            #expect(!(try await world.auditText()).contains(Self.initial))
        }
    }

    @Test func theBackOffDoublesFromAMinuteAndIsCappedAtAnHour() {
        #expect(
            (1...9).map { CredentialRotator.retryDelay(afterFailures: $0) }
                == [60, 120, 240, 480, 960, 1_920, 3_600, 3_600, 3_600]
        )
        #expect(CredentialRotator.retryDelay(afterFailures: 1_000) == 3_600)
    }

    @Test func theNextSyncRepairsACrashAndRotatesWhatIsPastItsMaxAge() async throws {
        try await withWorld { world in
            let now = Date().timeIntervalSince1970
            try await world.enroll("db-root", .ldapAccount(dn: Self.dbAccount), secret: Self.initial, at: now)
            try await world.enroll(
                "app",
                .ldapAccount(dn: Self.appAccount),
                secret: Self.appInitial,
                maxAge: 30 * Self.day,
                at: now - 31 * Self.day
            )
            // A rotation of db-root died after the server took the new password, long enough ago.
            let applied = "Applied-Not-Promoted-\(UUID().uuidString)"
            try await world.storePending(applied, version: 2, name: "db-root")
            try await world.adminSets(Self.dbAccount, applied)
            world.clock.set(Date().timeIntervalSince1970 + CredentialRotator.pendingLease)

            var logger = Logger(label: "tenure.tests")
            logger.logLevel = .critical
            let engine = SyncEngine(
                mappings: Mappings(),
                store: world.store,
                logger: logger,
                actor: "sync",
                rotator: world.rotator
            )
            let report = try await engine.sync(
                allowMassRevoke: false,
                now: { now },
                pull: {
                    PullResult(
                        snapshot: DirectorySnapshot(identities: [], groups: []),
                        server: "ldap://127.0.0.1",
                        entriesRead: 0,
                        seconds: 0
                    )
                }
            )
            #expect(
                report.maintenance == [
                    .init(name: "app", trigger: .maxAge, outcome: .rotated(version: 2)),
                    .init(name: "db-root", trigger: .reconcile, outcome: .rotated(version: 2)),
                ]
            )
            #expect(try await world.binds(Self.dbAccount, applied))
            #expect(try await !world.binds(Self.appAccount, Self.appInitial))
            #expect(try await world.binds(Self.appAccount, try await world.secret(2, of: "app")))
            // The sync's audit range covers the maintenance.
            let range = try #require(report.auditRange)
            let rotations = try await world.store.auditRecords(
                AuditQuery(
                    afterSequence: range.lowerBound - 1,
                    since: nil,
                    until: nil,
                    subject: nil,
                    limit: nil,
                    newestFirst: false
                )
            ).filter { $0.event.type == "credential.rotated" }
            #expect(rotations.count == 2)
        }
    }
}
