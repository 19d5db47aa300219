import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureServer
import TenureStore
import TenureVault
import Testing

/// Vault check-out over HTTP: the secret once, to a holder of a role that unlocks it; exclusive
/// and MFA when the credential says so; every check-out recorded and rotated for a leaver; check-in
/// rotating a one-time credential.
@Suite(.timeLimit(.minutes(3)))
struct CredentialAPITests {
    static let mappings = Mappings(
        roles: [
            RoleDefinition(
                name: "app-admin",
                tier: 1,
                mode: .standing,
                credentials: ["app-key", "app-once", "app-mfa"]
            )
        ]
    )

    static var state: PIMState {
        PIMState(
            identities: ["id-ann": person("id-ann", "ann"), "id-bob": person("id-bob", "bob")],
            assignments: [
                Assignment(identityID: "id-ann", role: "app-admin", state: .active, source: "rule:admins", since: 0),
                Assignment(identityID: "id-bob", role: "app-admin", state: .active, source: "rule:admins", since: 0),
            ]
        )
    }

    /// A rotation program that keeps the last secret it was given in `file`.
    static func program(in directory: String) throws -> (path: String, received: String) {
        let path = directory + "/rotate.sh"
        let received = directory + "/received"
        try "#!/bin/sh\ncat > \"\(received)\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o700)
        return (path, received)
    }

    func harness(now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) async throws
        -> (Harness, received: String)
    {
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: now, vault: true)
        let (path, received) = try Self.program(in: harness.directory)
        let rotator = try #require(harness.operations.engine.rotator)
        try await rotator.enroll(
            name: "app-key",
            kind: .command(path: path),
            currentSecret: "Key-One-Secret",
            policy: PasswordPolicy(),
            exclusiveCheckout: true
        )
        try await rotator.enroll(
            name: "app-once",
            kind: .command(path: path),
            currentSecret: "Once-Secret",
            policy: PasswordPolicy(),
            oneTime: true
        )
        try await rotator.enroll(
            name: "app-mfa",
            kind: .command(path: path),
            currentSecret: "Mfa-Secret",
            policy: PasswordPolicy(),
            requiresMFA: true
        )
        return (harness, received)
    }

    static func checkout(_ client: any TestClientProtocol, _ name: String, token: String, body: String = "{}")
        async throws
        -> TestResponse
    {
        try await client.execute(
            uri: "/v1/credentials/\(name)/checkout",
            method: .post,
            headers: Harness.headers(token),
            body: ByteBuffer(string: body)
        )
    }

    @Test func aHolderChecksOutOnceAndTheCheckOutIsRecorded() async throws {
        let (harness, _) = try await self.harness()
        try await harness.run { client in
            let response = try await Self.checkout(client, "app-key", token: "ann")
            #expect(response.status == .created)
            #expect(response.headers[.cacheControl] == "no-store")
            let json = try object(response)
            #expect(json["secret"] as? String == "Key-One-Secret")
            #expect(json["version"] as? Int == 1)
            // Exclusive: bob must wait until ann checks in.
            let second = try await Self.checkout(client, "app-key", token: "bob")
            #expect(second.status == .conflict)
            func checkIn(_ token: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/v1/credentials/app-key/checkin",
                    method: .post,
                    headers: Harness.headers(token),
                    body: ByteBuffer(string: #"{"checkoutID": "\#(json["checkoutID"] as? String ?? "")"}"#)
                )
            }
            // Nobody else checks ann's check-out in: not another person, not a token naming no one.
            for other in ["bob", "agent"] {
                let refused = try await checkIn(other)
                #expect(refused.status == .forbidden, "\(other)")
                #expect(try object(refused)["type"] as? String == "https://tenure.dev/problems/not-your-checkout")
            }
            #expect(try await Self.checkout(client, "app-key", token: "bob").status == .conflict, "still open")
            #expect(try await checkIn("ann").status == .ok)
            #expect(try await Self.checkout(client, "app-key", token: "bob").status == .created)
        }
        let open = try await harness.store.checkouts(since: 0)
        #expect(open.map(\.identityID).sorted() == ["id-ann", "id-bob"])
        let audit = try await harness.auditRecords()
        #expect(audit.filter { $0.event.type == "credential.checkout" }.count == 2)
        #expect(!audit.map { "\($0.event)" }.joined().contains("Key-One-Secret"), "the secret never reaches the audit")
    }

    @Test func withoutARoleThatUnlocksItTheAnswerIsNo() async throws {
        let (harness, _) = try await self.harness()
        try await harness.run { client in
            // Ann loses the role; the index follows (as after a sync).
            harness.operations.index.update {
                $0.removeAssignment(AssignmentKey(identityID: "id-ann", role: "app-admin", state: .active))
            }
            let denied = try await Self.checkout(client, "app-key", token: "ann")
            #expect(denied.status == .forbidden)
            let json = try object(denied)
            #expect(json["reason"] as? String == "no_role_unlocks")
            #expect(json["secret"] == nil)
            // A token may not check out for someone else.
            let other = try await Self.checkout(client, "app-key", token: "ann", body: #"{"subject": "bob"}"#)
            #expect(other.status == .forbidden)
            #expect(try await Self.checkout(client, "app-key", token: "gateway").status == .forbidden)
        }
        let denials = try await harness.auditRecords(type: "credential.checkout")
        #expect(denials.map(\.event.outcome) == ["denied"])
    }

    @Test func aCredentialThatNeedsMFANeedsACode() async throws {
        let (harness, _) = try await self.harness()
        try await harness.run { client in
            let response = try await Self.checkout(client, "app-mfa", token: "ann")
            #expect(response.status == .forbidden)
            #expect((try object(response)["type"] as? String)?.hasSuffix("mfa-required") == true)
        }
    }

    @Test func checkingInAOneTimeCredentialRotatesIt() async throws {
        let (harness, received) = try await self.harness()
        try await harness.run { client in
            let response = try await Self.checkout(client, "app-once", token: "ann")
            let id = try #require(try object(response)["checkoutID"] as? String)
            let checkin = try await client.execute(
                uri: "/v1/credentials/app-once/checkin",
                method: .post,
                headers: Harness.headers("ann"),
                body: ByteBuffer(string: #"{"checkoutID": "\#(id)"}"#)
            )
            #expect(checkin.status == .ok)
            #expect(try object(checkin)["rotation"] as? String == "rotated to version 2")
            // Audited as the token that checked in, with its request id, like the check-out.
            let checkins = try await harness.auditRecords(type: "credential.checkin")
            #expect(checkins.map(\.event.actor) == ["token:ann"])
            #expect(checkins.first?.event.details["request"] == checkin.headers[.requestID])
            #expect(checkins.first?.event.details["request"]?.isEmpty == false)
            // The target program received the new secret, which is not the one ann saw.
            let now = try String(contentsOfFile: received, encoding: .utf8)
            #expect(!now.isEmpty && now != "Once-Secret")
            let next = try await Self.checkout(client, "app-once", token: "ann")
            #expect(try object(next)["secret"] as? String == now)
        }
    }

    /// A check-out is never longer than the holding that allowed it: once due, the sweeper checks
    /// it in — the exclusive credential is free again, the one-time one rotated — as its holder would.
    @Test func theSweeperChecksInOverdueCheckouts() async throws {
        let clock = Mutex<Double>(Date().timeIntervalSince1970)
        let (harness, received) = try await self.harness(now: { clock.withLock { $0 } })
        let rotator = try #require(harness.operations.engine.rotator)
        try await harness.run { client in
            let key = try await Self.checkout(client, "app-key", token: "ann", body: #"{"duration": 60}"#)
            #expect(key.status == .created)
            let once = try await Self.checkout(client, "app-once", token: "ann", body: #"{"duration": 600}"#)
            #expect(once.status == .created)
            #expect(try await Self.checkout(client, "app-key", token: "bob").status == .conflict)
            // Not due yet: nothing happens.
            #expect(try await harness.operations.checkInOverdueCheckouts() == 0)
            clock.withLock { $0 += 61 }
            #expect(try await harness.operations.checkInOverdueCheckouts() == 1)
            #expect(try await Self.checkout(client, "app-key", token: "bob").status == .created)
            #expect(try await rotator.store.credentialStatus(named: "app-once")?.current?.version == 1)
            clock.withLock { $0 += 600 }
            // Both of ann's are due now; bob's app-key (an hour) is not.
            #expect(try await harness.operations.checkInOverdueCheckouts() == 1)
            #expect(try await rotator.store.credentialStatus(named: "app-once")?.current?.version == 2)
            #expect(try String(contentsOfFile: received, encoding: .utf8) != "Once-Secret")
            #expect(try await harness.operations.checkInOverdueCheckouts() == 0)
        }
        let checkins = try await harness.auditRecords(type: "credential.checkin").map(\.event)
        #expect(checkins.map(\.actor) == ["sweeper", "sweeper"])
        #expect(checkins.map(\.object) == ["app-key", "app-once"])
        #expect(checkins.allSatisfy { $0.details["reason"]?.hasPrefix("overdue: due at ") == true })
        let open = try await harness.store.checkouts(since: 0).filter { $0.checkedInAt == nil }
        #expect(open.map(\.identityID) == ["id-bob"])
    }

    @Test func aLeaverRotatesWhatTheyCheckedOut() async throws {
        let (harness, received) = try await self.harness()
        try await harness.run { client in
            _ = try await Self.checkout(client, "app-key", token: "ann")
            let offboard = try await client.execute(
                uri: "/v1/offboard",
                method: .post,
                headers: Harness.headers("hr"),
                body: ByteBuffer(string: #"{"subject": "ann", "reason": "left"}"#)
            )
            #expect(offboard.status == .ok)
            #expect((try object(offboard)["actions"] as? [String])?.contains("rotate credential app-key") == true)
            #expect(try await Self.checkout(client, "app-key", token: "ann").status == .forbidden)
            #expect(
                try await harness.operations.engine.rotator?.store.credentialStatus(named: "app-key")?.current?.version
                    == 2
            )
            #expect(try String(contentsOfFile: received, encoding: .utf8) != "Key-One-Secret")
        }
    }

    /// An offboarding takes the leaver's access out of the index before its plan runs, not after:
    /// while a credential they could know is still being rotated (a slow target, minutes at worst),
    /// decisions for them already deny — and for the others nothing changes.
    @Test func aLeaverIsDeniedWhileTheirOffboardingStillRotates() async throws {
        let (harness, slow) = try await Self.slowWorld("app-slow")
        try await harness.run { client in
            @Sendable func decide(_ subject: String, _ type: String, _ id: String, _ action: String) async throws -> (
                Bool?, String?
            ) {
                let response = try await client.execute(
                    uri: "/access/v1/evaluation",
                    method: .post,
                    headers: Harness.headers("gateway"),
                    body: ByteBuffer(
                        string: #"{"subject": {"type": "user", "id": "\#(subject)"}, "#
                            + #""resource": {"type": "\#(type)", "id": "\#(id)"}, "action": {"name": "\#(action)"}}"#
                    )
                )
                #expect(response.status == .ok)
                let json = try object(response)
                return (json["decision"] as? Bool, (json["context"] as? [String: Any])?["reason"] as? String)
            }
            #expect(try await decide("ann", "role", "app-admin", "assume") == (true, "active_assignment"))
            // On a connection of its own: the test client sends its requests one after another.
            let port = try #require(client.port)
            let offboard = Self.offboarding("ann", port: port)
            defer { slow.finish() }  // a failure on the way must not leave the program waiting
            try await slow.waitUntilStarted()
            // ann's offboarding is rotating app-slow: her role and its credentials are denied now.
            let role = try await Self.promptly("a decision during the offboarding", while: slow) {
                try await decide("ann", "role", "app-admin", "assume")
            }
            #expect(role == (false, "identity_inactive"))
            #expect(try await decide("ann", "credential", "app-key", "checkout") == (false, "identity_inactive"))
            #expect(try await decide("bob", "role", "app-admin", "assume") == (true, "active_assignment"))
            // The rotations run with the coordinator let go: bob's check-out does not wait for
            // them, and gets app-key as ann's offboarding left it (rotated before app-slow).
            let checkout = try await Self.promptly("a check-out during ann's offboarding", while: slow) {
                try await Self.checkout(client, "app-key", token: "bob")
            }
            #expect(checkout.status == .created)
            #expect(try object(checkout)["version"] as? Int == 2)
            slow.finish()
            #expect(try await offboard.value == 200)
            #expect(try await decide("ann", "role", "app-admin", "assume") == (false, "identity_inactive"))
            #expect(try await decide("bob", "credential", "app-key", "checkout") == (true, "role_unlocks"))
        }
    }

    /// While an offboarding rotates the leaver's credentials one after another (the coordinator let
    /// go), one whose turn has not come yet is not checked out: it would be handed the secret the
    /// leaver knew, replaced moments later. Once rotated, it is handed out again, new.
    @Test func aCredentialStillToBeRotatedForALeaverIsNotCheckedOut() async throws {
        let harness = try await Harness(
            mappings: Mappings(
                roles: [
                    RoleDefinition(
                        name: "app-admin",
                        tier: 1,
                        mode: .standing,
                        credentials: ["app-first", "app-second"]
                    )
                ]
            ),
            state: Self.state,
            vault: true
        )
        let slow = try SlowProgram(in: harness.directory, name: "app-first")
        let (path, _) = try Self.program(in: harness.directory)
        let rotator = try #require(harness.operations.engine.rotator)
        try await rotator.enroll(
            name: "app-first",
            kind: .command(path: slow.path),
            currentSecret: "First-One-Secret",
            policy: PasswordPolicy()
        )
        try await rotator.enroll(
            name: "app-second",
            kind: .command(path: path),
            currentSecret: "Second-One-Secret",
            policy: PasswordPolicy()
        )
        try await harness.run { client in
            let port = try #require(client.port)
            let offboard = Self.offboarding("ann", port: port)
            defer { slow.finish() }  // a failure on the way must not leave the program waiting
            try await slow.waitUntilStarted()
            let refused = try await Self.promptly("a check-out of a credential still to be rotated", while: slow) {
                try await Self.checkout(client, "app-second", token: "bob")
            }
            #expect(refused.status == .conflict)
            #expect(refused.headers[.retryAfter] == "5")
            #expect(try object(refused)["type"] as? String == "https://tenure.dev/problems/rotation-in-progress")
            slow.finish()
            #expect(try await offboard.value == 200)
            let after = try await Self.checkout(client, "app-second", token: "bob")
            #expect(after.status == .created)
            #expect(try object(after)["version"] as? Int == 2)
        }
    }

    /// A leaver's plan saved by another process (`tenure offboard` beside the server), or left
    /// open by a crash: the server did not run it, and still hands out none of the secrets it has
    /// yet to rotate — until the rotation's entry is done.
    @Test func aCredentialAPlanElsewhereStillHasToRotateIsNotCheckedOut() async throws {
        let (harness, _) = try await self.harness()
        let leaver = person("id-ann", "ann", state: .terminated)
        let plan = Plan(
            identities: [
                leaving(
                    leaver,
                    [
                        .revoke(role: "app-admin", state: .active, reason: "leaver"),
                        .rotateCredential(name: "app-key", role: "app-admin", reason: "leaver ann could know it"),
                        .recordIdentity(leaver),
                    ]
                )
            ],
            conflicts: [],
            protectedChanges: [],
            guardVerdict: GuardVerdict(held: false, reason: nil, leavers: 1, inScope: 2),
            createdAt: 1
        )
        let planID = try await harness.store.savePlan(
            plan,
            hash: "elsewhere",
            actor: "cli:offboard",
            journal: SyncEngine.journal(for: plan)
        )
        try await harness.run { client in
            let refused = try await Self.checkout(client, "app-key", token: "bob")
            #expect(refused.status == .conflict)
            #expect(try object(refused)["type"] as? String == "https://tenure.dev/problems/rotation-in-progress")
            #expect(refused.headers[.retryAfter] == "5")
            #expect(
                try object(refused)["detail"] as? String
                    == "app-key is still to be rotated for a leaver (plan \(planID)); ask again when the rotation has finished"
            )
            #expect(!String(buffer: refused.body).contains("Key-One-Secret"))
            // Another credential of the same role is not held back.
            #expect(try await Self.checkout(client, "app-once", token: "bob").status == .created)

            // The other process rotates it (here: marks the entry done); the plan is still open.
            let entries = try #require(try await harness.store.unfinishedPlan()).journal
            let rotation = try #require(entries.first { if case .rotateCredential = $0.action { true } else { false } })
            _ = try await harness.store.applyJournalEntries(
                planID: planID,
                [JournalApplication(entryID: rotation.id, change: .none, audit: [])]
            )
            #expect(try await Self.checkout(client, "app-key", token: "bob").status == .created)
        }
        let refusals = try await harness.auditRecords().filter {
            $0.event.type == "credential.checkout" && $0.event.outcome == "refused"
        }
        #expect(refusals.map(\.event.details["reason"]) == ["rotation-in-progress"])
    }

    /// `POST /v1/offboard` for `subject` on a connection of its own (the test client sends its
    /// requests one after another); the task's value is the response status. The answer may wait
    /// for as long as a test holds a rotation up, so the read waits up to 150 s (within the
    /// suite's 3-minute limit) rather than the raw client's default 10 s.
    static func offboarding(_ subject: String, port: Int) -> Task<Int, any Error> {
        let body = #"{"subject": "\#(subject)", "reason": "left"}"#
        let request = Array(
            ("POST /v1/offboard HTTP/1.1\r\nHost: localhost\r\n"
                + "Authorization: Bearer \(Harness.token("hr"))\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n" + body).utf8
        )
        return Task {
            try await RawHTTP.exchangeOnThread(port: port, request, responses: 1, readTimeout: 150)[0].status
        }
    }

    /// A rotation program that waits: it reads the secret, creates `started`, waits for `release`
    /// to exist, then keeps the secret in `received` — a target that takes its time.
    struct SlowProgram {
        var path, started, release, received: String

        init(in directory: String, name: String) throws {
            self.path = directory + "/\(name).sh"
            self.started = directory + "/\(name).started"
            self.release = directory + "/\(name).release"
            self.received = directory + "/\(name).received"
            let script = """
                #!/bin/sh
                secret=$(cat)
                : > "\(self.started)"
                while [ ! -e "\(self.release)" ]; do sleep 0.02; done
                printf '%s' "$secret" > "\(self.received)"
                """
            try script.write(toFile: self.path, atomically: true, encoding: .utf8)
            chmod(self.path, 0o700)
        }

        /// Waits (up to 20 s) until the program runs.
        func waitUntilStarted() async throws {
            for _ in 0..<1_000 where !FileManager.default.fileExists(atPath: self.started) {
                try await Task.sleep(for: .milliseconds(20))
            }
            try #require(FileManager.default.fileExists(atPath: self.started), "the rotation program never started")
        }

        func finish() {
            _ = FileManager.default.createFile(atPath: self.release, contents: nil)
        }
    }

    /// A harness whose role unlocks `app-key` (a program that answers at once) and `name`, rotated
    /// by a `SlowProgram`.
    static func slowWorld(
        _ name: String,
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        maxAgeSeconds: Double? = nil,
        oneTime: Bool = false
    ) async throws -> (Harness, SlowProgram) {
        let harness = try await Harness(
            mappings: Mappings(
                roles: [RoleDefinition(name: "app-admin", tier: 1, mode: .standing, credentials: ["app-key", name])]
            ),
            state: Self.state,
            now: now,
            vault: true
        )
        let (path, _) = try Self.program(in: harness.directory)
        let slow = try SlowProgram(in: harness.directory, name: name)
        let rotator = try #require(harness.operations.engine.rotator)
        try await rotator.enroll(
            name: "app-key",
            kind: .command(path: path),
            currentSecret: "Key-One-Secret",
            policy: PasswordPolicy()
        )
        try await rotator.enroll(
            name: name,
            kind: .command(path: slow.path),
            currentSecret: "Slow-One-Secret",
            policy: PasswordPolicy(),
            maxAgeSeconds: maxAgeSeconds,
            oneTime: oneTime
        )
        return (harness, slow)
    }

    /// `body`'s result, expected within 10 s while `program` runs. One that waits longer (for the
    /// rotation) is a failure; the program is then let go so that the test still ends.
    static func promptly<T: Sendable>(
        _ what: Comment,
        while program: SlowProgram,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let done = Mutex(false)
        let task = Task {
            defer { done.withLock { $0 = true } }
            return try await body()
        }
        for _ in 0..<500 where !done.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
        if !done.withLock({ $0 }) {
            Issue.record("\(what) waited for the rotation")
            program.finish()
        }
        return try await task.value
    }

    /// A rotation may take minutes (a program's time limit, LDAP timeouts): the sweeper's vault
    /// maintenance runs outside the coordinator, so the rest of the API goes on meanwhile. Only the
    /// credential being rotated is refused (409, Retry-After) — never handed out while it is about
    /// to be replaced — and it is handed out again, new, once the rotation is over.
    @Test func aSlowRotationHoldsUpOnlyItsOwnCredential() async throws {
        let clock = Mutex<Double>(1_800_000_000)
        let (harness, slow) = try await Self.slowWorld("app-slow", now: { clock.withLock { $0 } }, maxAgeSeconds: 60)
        clock.withLock { $0 += 120 }  // app-slow is past its max age
        try await harness.run { client in
            let maintenance = Task { try await harness.operations.maintainVault() }
            try await slow.waitUntilStarted()
            let other = try await Self.promptly("a check-out of another credential", while: slow) {
                try await Self.checkout(client, "app-key", token: "ann")
            }
            #expect(other.status == .created)
            #expect(try object(other)["secret"] as? String == "Key-One-Secret")
            let refused = try await Self.promptly("a check-out of the credential being rotated", while: slow) {
                try await Self.checkout(client, "app-slow", token: "bob")
            }
            #expect(refused.status == .conflict)
            #expect(refused.headers[.retryAfter] == "5")
            #expect(try object(refused)["type"] as? String == "https://tenure.dev/problems/rotation-in-progress")
            #expect(try await harness.store.credentialStatus(named: "app-slow")?.current?.version == 1)

            slow.finish()
            let results = try await maintenance.value
            #expect(results.map(\.name) == ["app-slow"])
            #expect(results.map(\.outcome) == [.rotated(version: 2)])
            let after = try await Self.checkout(client, "app-slow", token: "bob")
            #expect(after.status == .created)
            #expect(try object(after)["version"] as? Int == 2)
            let received = try String(contentsOfFile: slow.received, encoding: .utf8)
            #expect(try object(after)["secret"] as? String == received)
        }
        let checkouts = try await harness.auditRecords(type: "credential.checkout").map(\.event)
        let refusals = checkouts.filter { $0.outcome == "refused" }
        #expect(refusals.map(\.object) == ["app-slow"])
        #expect(refusals.map(\.subject) == ["id-bob"])
        #expect(refusals.first?.details["reason"] == "rotation-in-progress")
        #expect(checkouts.filter { $0.outcome == "success" }.map(\.object) == ["app-key", "app-slow"])
    }

    /// Checking in a one-time credential holds its lock from the check-in to the end of the
    /// rotation: nobody checks it out in between (they would get the secret being replaced), and
    /// the rest of the API does not wait for the rotation.
    @Test func aOneTimeCheckInKeepsCheckOutsAwayUntilItsRotationIsDone() async throws {
        let (harness, slow) = try await Self.slowWorld("once", oneTime: true)
        try await harness.run { client in
            let first = try await Self.checkout(client, "once", token: "ann")
            #expect(first.status == .created)
            let id = try #require(try object(first)["checkoutID"] as? String)
            // On a connection of its own: the test client sends its requests one after another.
            let port = try #require(client.port)
            let body = #"{"checkoutID": "\#(id)"}"#
            let request = Array(
                ("POST /v1/credentials/once/checkin HTTP/1.1\r\nHost: localhost\r\n"
                    + "Authorization: Bearer \(Harness.token("ann"))\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body).utf8
            )
            let checkin = Task { try await RawHTTP.exchangeOnThread(port: port, request, responses: 1)[0].status }
            try await slow.waitUntilStarted()
            let refused = try await Self.promptly("a check-out during the check-in's rotation", while: slow) {
                try await Self.checkout(client, "once", token: "bob")
            }
            #expect(refused.status == .conflict)
            #expect(try object(refused)["type"] as? String == "https://tenure.dev/problems/rotation-in-progress")
            let other = try await Self.promptly("a check-out of another credential", while: slow) {
                try await Self.checkout(client, "app-key", token: "bob")
            }
            #expect(other.status == .created)

            slow.finish()
            #expect(try await checkin.value == 200)
            #expect(try await harness.store.credentialStatus(named: "once")?.current?.version == 2)
            let after = try await Self.checkout(client, "once", token: "bob")
            #expect(after.status == .created)
            #expect(try object(after)["version"] as? Int == 2)
            #expect(
                try object(after)["secret"] as? String == (try String(contentsOfFile: slow.received, encoding: .utf8))
            )
        }
    }
}
