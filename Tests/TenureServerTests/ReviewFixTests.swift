import Foundation
import Hummingbird
import HummingbirdTesting
import TenureAccess
import TenureConfig
import TenureCore
import TenureCrypto
import TenureEngine
import TenureServer
import TenureStore
import TenureVault
import Testing

/// Fixes from the review of the API: TOTP guessing, approvers who left, changes made beside the
/// server, offboarding ending activations.
@Suite(.timeLimit(.minutes(3)))
struct ReviewFixTests {
    static let start: Double = 1_800_000_000

    @Test func tooManyWrongCodesLockTheIdentityOut() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await Harness(
            mappings: ActivationAPITests.mappings,
            state: ActivationAPITests.state,
            now: { clock.now() }
        )
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let seed = try await enrollTOTP(harness, identityID: "id-ann", at: Self.start)
            let generator = TOTP(secret: seed)
            let valid = generator.code(at: Self.start)
            let window = Set((-1...1).map { generator.code(at: Self.start + Double($0) * 30) })
            let wrong = (0..<1_000_000).lazy.map { String(format: "%06d", $0) }.first { !window.contains($0) }!
            for _ in 0..<5 {
                let refused = try await api.activate("ann", "\"role\": \"root-shell\", \"totp\": \"\(wrong)\"")
                #expect(try problem(refused).slug == "totp-invalid")
            }
            // Locked: even the right code is refused now.
            let locked = try await api.activate("ann", "\"role\": \"root-shell\", \"totp\": \"\(valid)\"")
            #expect(locked.status == .tooManyRequests)
            #expect(try problem(locked).slug == "totp-locked")
            #expect(try await api.permits("ann", "root-shell") == false)
            // After the window, the current code works again.
            clock.advance(301)
            let later = try await api.activate(
                "ann",
                "\"role\": \"root-shell\", \"totp\": \"\(generator.code(at: clock.now()))\""
            )
            #expect(later.status == .created)
        }
    }

    @Test func anApproverWhoLeftApprovesNothing() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await Harness(
            mappings: ActivationAPITests.mappings,
            state: ActivationAPITests.state,
            now: { clock.now() }
        )
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let pending = try await api.activate("ann", #""role": "dba-prod", "justification": "migration""#)
            #expect(pending.status == .accepted)
            let id = try #require(try object(pending)["id"] as? String)
            // Bob (the approver) is offboarded.
            let offboard = try await api.post("/v1/offboard", "hr", #"{"subject": "bob", "reason": "left"}"#)
            #expect(offboard.status == .ok)
            let approval = try await api.post("/v1/activations/\(id)/approve", "bob")
            #expect(approval.status == .forbidden)
            #expect(try problem(approval).slug == "approver-inactive")
            #expect(try await api.permits("ann", "dba-prod") == false)
        }
    }

    @Test func offboardingEndsTheIdentitysActivations() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await Harness(
            mappings: ActivationAPITests.mappings,
            state: ActivationAPITests.state,
            now: { clock.now() }
        )
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let active = try await api.activate(
                "ann",
                #""role": "change-window", "justification": "release", "ticket": "CHG-1""#
            )
            let activeID = try #require(try object(active)["id"] as? String)
            let pending = try await api.activate("ann", #""role": "dba-prod", "justification": "migration""#)
            let pendingID = try #require(try object(pending)["id"] as? String)
            #expect(try await api.post("/v1/offboard", "hr", #"{"subject": "ann", "reason": "left"}"#).status == .ok)
            #expect(try await harness.store.activation(id: activeID)?.state == .ended)
            #expect(try await harness.store.activation(id: pendingID)?.state == .ended)
            // The pending one can no longer be approved.
            #expect(try await api.post("/v1/activations/\(pendingID)/approve", "bob").status == .conflict)
        }
    }

    @Test func aChangeMadeBesideTheServerReachesTheIndex() async throws {
        let harness = try await Harness(mappings: DecisionAPITests.mappings, state: DecisionAPITests.state)
        try await harness.run { client in
            func decision() async throws -> Bool? {
                let response = try await client.execute(
                    uri: "/access/v1/evaluation",
                    method: .post,
                    headers: Harness.headers("gateway"),
                    body: body(DecisionAPITests.evaluation("ann", "role", "db-read", "assume"))
                )
                return try object(response)["decision"] as? Bool
            }
            try await harness.operations.reloadIndexIfChangedElsewhere()
            #expect(try await decision() == true)
            // `tenure offboard` in another process: its engine changes the store, not this index.
            var elsewhere = harness.operations.engine
            elsewhere.beforeApply = nil
            elsewhere.rotationPhase = nil
            _ = try await elsewhere.offboard(identityID: "id-ann", reason: "cli", now: { Self.start })
            #expect(try await decision() == true, "not seen yet")
            try await harness.operations.reloadIndexIfChangedElsewhere()
            #expect(try await decision() == false)
        }
    }

    @Test func aSubjectlessTokenChecksOutForNobody() async throws {
        let harness = try await Harness(
            mappings: CredentialAPITests.mappings,
            state: CredentialAPITests.state,
            vault: true
        )
        let rotator = try #require(harness.operations.engine.rotator)
        try await rotator.enroll(
            name: "app-key",
            kind: .command(path: "/bin/true"),
            currentSecret: "Key-Secret",
            policy: PasswordPolicy()
        )
        try await harness.run { client in
            let response = try await client.execute(
                uri: "/v1/credentials/app-key/checkout",
                method: .post,
                headers: Harness.headers("agent"),
                body: ByteBuffer(string: #"{"subject": "ann"}"#)
            )
            #expect(response.status == .forbidden)
            #expect(try object(response)["secret"] == nil)
        }
    }
}
