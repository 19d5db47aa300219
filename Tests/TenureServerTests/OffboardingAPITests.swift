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
import Testing

/// POST /v1/offboard: an immediate termination runs the identity's leaver plan before answering; a
/// future one is stored and carried out when due; later syncs keep the identity a leaver.
@Suite(.timeLimit(.minutes(3)))
struct OffboardingAPITests {
    final class Clock: Sendable {
        let value = Mutex<Double>(1_800_000_000)
        var now: Double { self.value.withLock { $0 } }
        func advance(_ seconds: Double) { self.value.withLock { $0 += seconds } }
    }

    static let mappings = Mappings(
        roles: [
            RoleDefinition(
                name: "dba-prod",
                tier: 0,
                mode: .eligible,
                maxActivationSeconds: 3_600,
                credentials: ["db-root"]
            ),
            RoleDefinition(name: "db-read", tier: 2, mode: .standing),
        ]
    )

    static var state: PIMState {
        PIMState(
            identities: ["id-ann": person("id-ann", "ann"), "id-ben": person("id-ben", "ben")],
            assignments: [
                Assignment(identityID: "id-ann", role: "dba-prod", state: .eligible, source: "rule:dbas", since: 0),
                Assignment(identityID: "id-ann", role: "db-read", state: .active, source: "rule:readers", since: 0),
                Assignment(identityID: "id-ben", role: "db-read", state: .active, source: "rule:readers", since: 0),
            ]
        )
    }

    static func decide(_ client: any TestClientProtocol, _ subject: String) async throws -> [String: Any] {
        let response = try await client.execute(
            uri: "/access/v1/evaluation",
            method: .post,
            headers: Harness.headers("gateway"),
            body: body(
                #"{"subject": {"type": "user", "id": "\#(subject)"}, "resource": {"type": "role", "id": "db-read"}, "action": {"name": "assume"}}"#
            )
        )
        return try object(response)
    }

    /// POST /v1/offboard with `json`, as `token`.
    static func offboard(_ client: any TestClientProtocol, _ json: String, token: String = "hr") async throws
        -> TestResponse
    {
        try await client.execute(uri: "/v1/offboard", method: .post, headers: Harness.headers(token), body: body(json))
    }

    /// Schedules ann's offboarding ("contract ends") an hour from the test clock's now.
    static func offboardAnnInAnHour(_ client: any TestClientProtocol, _ clock: Clock) async throws -> TestResponse {
        let later = isoDate(clock.now + 3_600)
        return try await Self.offboard(
            client,
            #"{"subject": "ann", "reason": "contract ends", "effectiveAt": "\#(later)"}"#
        )
    }

    /// effectiveAt as JavaScript's toISOString writes it (milliseconds), or with an offset; a time
    /// without a zone is refused, not guessed.
    @Test func effectiveAtTakesFractionalSecondsAndOffsets() {
        #expect(parseISO8601Time("2027-01-01T00:00:00Z") == 1_798_761_600)
        #expect(parseISO8601Time("2027-01-01T00:00:00.000Z") == 1_798_761_600)
        #expect(parseISO8601Time("2027-01-01T00:00:00.250Z") == 1_798_761_600.25)
        #expect(parseISO8601Time("2027-01-01T01:00:00+01:00") == 1_798_761_600)
        #expect(parseISO8601Time("2027-01-01T00:00:00") == nil)
        #expect(parseISO8601Time("tomorrow") == nil)
    }

    /// While `tenure sync` holds the sync lock, an offboarding waits for it (then is applied): the
    /// CLI sync must neither resume the server's plan half-applied nor apply a stale plan after it.
    @Test func anOffboardingWaitsForASyncRunningElsewhere() async throws {
        let clock = Clock()
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            let offboarding = try await harness.whileACLISyncHoldsTheLock {
                let offboarding = Task { try await Self.offboard(client, #"{"subject": "ann", "reason": "resigned"}"#) }
                try await Task.sleep(for: .milliseconds(400))
                // (The test client has one connection: the offboarding's request holds it meanwhile.)
                #expect(try await harness.store.offboardings().isEmpty, "nothing applied while the lock is held")
                #expect(try await harness.store.loadState().assignments.contains { $0.identityID == "id-ann" })
                return offboarding
            }
            let response = try await offboarding.value
            #expect(response.status == .ok)
            #expect(try await Self.decide(client, "ann")["decision"] as? Bool == false)
            #expect(try await harness.store.offboardings().map(\.state) == [.done])
        }
    }

    /// A sync elsewhere that holds the lock longer than the offboarding waits: 503 with
    /// Retry-After and the holder, nothing applied; the retry after the sync is applied.
    @Test func anOffboardingThatCannotGetTheSyncLockIs503AndChangesNothing() async throws {
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, syncLockWait: .milliseconds(200))
        try await harness.run { client in
            try await harness.whileACLISyncHoldsTheLock {
                let busy = try await Self.offboard(client, #"{"subject": "ann", "reason": "resigned"}"#)
                #expect(busy.status == .serviceUnavailable)
                #expect(busy.headers[.retryAfter] == "30")
                let problem = try object(busy)
                #expect(problem["type"] as? String == "https://tenure.dev/problems/sync-running")
                #expect((problem["detail"] as? String)?.contains("tenure sync") == true)
                #expect(try await harness.store.offboardings().isEmpty)
                #expect(try await harness.store.loadState().assignments.count { $0.identityID == "id-ann" } == 2)
                #expect(try await Self.decide(client, "ann")["decision"] as? Bool == true)
                #expect(try await harness.auditRecords(type: "offboarding.completed").isEmpty)

            }
            let retried = try await Self.offboard(client, #"{"subject": "ann", "reason": "resigned"}"#)
            #expect(retried.status == .ok)
            #expect(try await harness.store.offboardings().map(\.state) == [.done])
        }
    }

    @Test func anImmediateOffboardingIsAppliedBeforeTheAnswer() async throws {
        let clock = Clock()
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            #expect(try await Self.decide(client, "ann")["decision"] as? Bool == true)
            let response = try await Self.offboard(client, #"{"subject": "ann", "reason": "resigned"}"#)
            #expect(response.status == .ok)
            let json = try object(response)
            #expect(json["state"] as? String == "done")
            #expect(
                (json["actions"] as? [String])?.sorted() == [
                    "revoke active db-read", "revoke eligible dba-prod", "rotate credential db-root",
                ]
            )
            // Denied at once, for the reason HR gave.
            let decision = try await Self.decide(client, "ann")
            #expect(decision["decision"] as? Bool == false)
            #expect((decision["context"] as? [String: Any])?["reason"] as? String == "identity_inactive")
            // Ben is untouched.
            #expect(try await Self.decide(client, "ben")["decision"] as? Bool == true)
            // The index holds what a reload gives: her stored (terminated) record, nothing held.
            #expect(harness.operations.index.snapshot.identities["id-ann"]?.state == .terminated)
            let reloaded = try await ModelLoader.load(store: harness.store, mappings: harness.mappings, now: clock.now)
            #expect(harness.operations.index.snapshot == reloaded)
        }
        let state = try await harness.store.loadState()
        #expect(!state.assignments.contains { $0.identityID == "id-ann" })
        #expect(state.identities["id-ann"]?.state == .terminated)
        #expect(try await harness.store.hrTerminations(now: clock.now)["id-ann"] == "offboarded: resigned")
        let types = try await harness.auditRecords().map(\.event.type)
        #expect(types.contains("offboarding.requested"))
        #expect(types.contains("identity.leaver"))
        #expect(types.filter { $0 == "role.revoked" }.count == 2)
        #expect(types.contains("offboarding.completed"))
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    @Test func aFutureOffboardingIsCarriedOutWhenDue() async throws {
        let clock = Clock()
        let harness = try await Harness(mappings: Self.mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            let response = try await Self.offboardAnnInAnHour(client, clock)
            #expect(response.status == .accepted)
            let location = try #require(response.headers[.location])
            #expect(location.hasPrefix("/v1/offboardings/off-"))
            let one = try await client.execute(uri: location, method: .get, headers: Harness.headers("hr"))
            #expect(one.status == .ok)
            #expect(try object(one)["id"] as? String == String(location.dropFirst("/v1/offboardings/".count)))
            #expect(try object(one)["state"] as? String == "scheduled")
            let missing = try await client.execute(
                uri: "/v1/offboardings/off-nope",
                method: .get,
                headers: Harness.headers("hr")
            )
            #expect(missing.status == .notFound)
            #expect(try await harness.operations.runDueOffboardings() == 0)
            #expect(try await Self.decide(client, "ann")["decision"] as? Bool == true)
            clock.advance(3_601)
            #expect(try await harness.operations.runDueOffboardings() == 1)
            #expect(try await Self.decide(client, "ann")["decision"] as? Bool == false)
            let list = try await client.execute(uri: "/v1/offboardings", method: .get, headers: Harness.headers("hr"))
            let offboardings = try #require(try object(list)["offboardings"] as? [[String: Any]])
            #expect(offboardings.map { $0["state"] as? String } == ["done"])
        }
    }

    /// A due offboarding of a protected (break-glass) identity is carried out exactly as an
    /// immediate one: withheld (counted so), not "done".
    @Test func aDueOffboardingOfAProtectedIdentityIsWithheld() async throws {
        let clock = Clock()
        var mappings = Self.mappings
        mappings.protected = [.username("ann")]
        let harness = try await Harness(mappings: mappings, state: Self.state, now: { clock.now })
        try await harness.run { client in
            let response = try await Self.offboardAnnInAnHour(client, clock)
            #expect(response.status == .accepted)
            clock.advance(3_601)
            #expect(try await harness.operations.runDueOffboardings() == 1)
            let metrics = harness.operations.metrics.text()
            #expect(metrics.contains(#"tenure_offboardings_total{outcome="withheld"} 1"#), "\(metrics)")
            #expect(!metrics.contains(#"tenure_offboardings_total{outcome="done"}"#))
            // Her standing role was not revoked (the plan was withheld).
            #expect(try await harness.store.loadState().assignments.contains { $0.identityID == "id-ann" })
            // Decisions follow the recorded termination at once, and the same after a reload.
            let now = try await Self.decide(client, "ann")
            #expect(now["decision"] as? Bool == false)
            try await harness.operations.reloadIndex()
            let reloaded = try await Self.decide(client, "ann")
            #expect(reloaded["decision"] as? Bool == false)
            #expect(
                (now["context"] as? [String: Any])?["reason_admin"] as? String
                    == (reloaded["context"] as? [String: Any])?["reason_admin"] as? String
            )
        }
    }

    /// Two accounts named jo that are not terminated (one disabled, one active): /v1/offboard names
    /// nobody (409 with both ids) — while a decision for "jo" is about the active one.
    @Test func anOffboardingNeedsAnUnambiguousPerson() async throws {
        var state = Self.state
        state.identities["id-jo-leave"] = person("id-jo-leave", "jo", state: .disabled)
        state.identities["id-jo"] = person("id-jo", "jo")
        state.assignments.append(
            Assignment(identityID: "id-jo", role: "db-read", state: .active, source: "rule:readers", since: 0)
        )
        let harness = try await Harness(mappings: Self.mappings, state: state)
        try await harness.run { client in
            let refused = try await Self.offboard(client, #"{"subject": "jo", "reason": "left"}"#)
            #expect(refused.status == .conflict)
            let detail = try object(refused)["detail"] as? String ?? ""
            #expect(detail.contains("id-jo") && detail.contains("id-jo-leave"), "\(detail)")
            #expect(try await Self.decide(client, "jo")["decision"] as? Bool == true)
            let byID = try await Self.offboard(client, #"{"subject": "id-jo", "reason": "left"}"#)
            #expect(byID.status == .ok)
            #expect(try await Self.decide(client, "id-jo")["decision"] as? Bool == false)
        }
    }

    @Test func errors() async throws {
        let harness = try await Harness(mappings: Self.mappings, state: Self.state)
        try await harness.run { client in
            let refused = try await Self.offboard(client, #"{"subject": "ann", "reason": "x"}"#, token: "gateway")
            #expect(refused.status == .forbidden)
            let unknown = try await Self.offboard(client, #"{"subject": "nobody", "reason": "x"}"#)
            #expect(unknown.status == .notFound)
            let noReason = try await Self.offboard(client, #"{"subject": "ann", "reason": " "}"#)
            #expect(noReason.status == .badRequest)
            #expect(try object(noReason)["jsonPath"] as? String == "reason")
            let badTime = try await Self.offboard(
                client,
                #"{"subject": "ann", "reason": "x", "effectiveAt": "tomorrow"}"#
            )
            #expect(try object(badTime)["jsonPath"] as? String == "effectiveAt")
        }
        // Nothing happened to ann.
        #expect(try await harness.store.loadState().assignments.count == 3)
    }
}
