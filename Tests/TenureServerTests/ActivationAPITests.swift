import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import TenureAccess
import TenureConfig
import TenureCore
import TenureCrypto
import TenureEngine
import TenureServer
import TenureStore
import Testing

/// Just-in-time activations over real HTTP: request, approval, ending, expiry, MFA, write-back.
@Suite(.timeLimit(.minutes(3)))
struct ActivationAPITests {
    static let start: Double = 1_800_000_000
    static let group = "cn=ops-admins,ou=groups,dc=t"

    static let mappings = Mappings(
        roles: [
            RoleDefinition(
                name: "ops-admin",
                tier: 1,
                mode: .eligible,
                maxActivationSeconds: 3_600,
                requirements: [.justification],
                writeBackGroup: Self.group
            ),
            RoleDefinition(
                name: "dba-prod",
                tier: 0,
                mode: .eligible,
                maxActivationSeconds: 1_800,
                requirements: [.approval, .justification],
                conflicts: ["ops-admin"]
            ),
            RoleDefinition(
                name: "root-shell",
                tier: 0,
                mode: .eligible,
                maxActivationSeconds: 900,
                requirements: [.mfa]
            ),
            RoleDefinition(
                name: "change-window",
                tier: 1,
                mode: .eligible,
                maxActivationSeconds: 600,
                requirements: [.justification, .ticket]
            ),
            RoleDefinition(name: "payments", tier: 1, mode: .standing),
            RoleDefinition(
                name: "payments-approver",
                tier: 1,
                mode: .eligible,
                maxActivationSeconds: 600,
                conflicts: ["payments"]
            ),
            RoleDefinition(name: "break-glass", tier: 0, mode: .eligible, maxActivationSeconds: 600),
        ]
    )

    static var state: PIMState {
        func eligible(_ id: String, _ role: String) -> Assignment {
            Assignment(identityID: id, role: role, state: .eligible, source: "rule:jit", since: 0)
        }
        return PIMState(
            identities: [
                "id-ann": person("id-ann", "ann"), "id-bob": person("id-bob", "bob"),
                "id-carl": person("id-carl", "carl"),
            ],
            assignments: [
                eligible("id-ann", "ops-admin"), eligible("id-ann", "dba-prod"), eligible("id-ann", "root-shell"),
                eligible("id-ann", "change-window"), eligible("id-ann", "payments-approver"),
                eligible("id-bob", "dba-prod"), eligible("id-carl", "ops-admin"),
                Assignment(identityID: "id-ann", role: "payments", state: .active, source: "rule:pay", since: 0),
            ]
        )
    }

    func harness(clock: ActivationClock, writeBack: RecordingWriteBack? = nil) async throws -> Harness {
        try await Harness(
            mappings: Self.mappings,
            state: Self.state,
            now: { clock.now() },
            configureEngine: writeBack.map { executor in { $0.writeBack = executor } }
        )
    }

    // MARK: - Self-activation

    @Test func selfActivationStartsAtOnceAndPermits() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            #expect(try await api.permits("ann", "ops-admin") == false)
            let response = try await api.activate(
                "ann",
                #""subject": "ann", "role": "ops-admin", "duration": 600, "justification": "incident 42""#
            )
            #expect(response.status == .created)
            let json = try object(response)
            let id = try #require(json["id"] as? String)
            #expect(response.headers[.location] == "/v1/activations/\(id)")
            #expect(json["state"] as? String == "active")
            #expect(json["subject"] as? String == "id-ann")
            #expect(json["username"] as? String == "ann")
            #expect(json["role"] as? String == "ops-admin")
            #expect(json["duration"] as? Int == 600)
            #expect(json["requestedBy"] as? String == "token:ann")
            #expect(json["justification"] as? String == "incident 42")
            #expect(json["startsAt"] as? String == isoTimestamp(Self.start, milliseconds: true))
            #expect(json["endsAt"] as? String == isoTimestamp(Self.start + 600, milliseconds: true))
            #expect(try await api.permits("ann", "ops-admin"))
            // The same role again while active: 409.
            let again = try await api.activate("ann", #""role": "ops-admin", "justification": "again""#)
            #expect(again.status == .conflict)
            #expect(try problem(again).code == "already_active")

            let active = harness.operations.index.snapshot.holding(of: "id-ann", role: "ops-admin")?.active
            #expect(active?.source == "activation:\(id)")
            #expect(active?.until == Self.start + 600)
            let stored = try await harness.store.loadState().assignments.filter {
                $0.role == "ops-admin" && $0.state == .active
            }
            #expect(stored.map(\.source) == ["activation:\(id)"])
            #expect(try await harness.store.activation(id: id)?.state == .active)
            let started = try await harness.auditRecords(type: "activation.started")
            #expect(started.first?.event.details["activation"] == id)
        }
        let requested = try await harness.auditRecords(type: "activation.requested")
        let started = try await harness.auditRecords(type: "activation.started")
        #expect(requested.map(\.event.outcome) == ["success", "refused"])
        #expect(started.count == 1)
        #expect(started.first?.event.subject == "id-ann")
        #expect(started.first?.event.object == "ops-admin")
        #expect(started.first?.event.actor == "token:ann")
        #expect(started.first?.event.details["duration"] == "600")
        #expect(harness.api.metrics.text().contains(#"event="started""#))
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    @Test func durationIsCappedByTheRoleAndDefaultsToItsMaximum() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let capped = try await api.activate("ann", #""role": "ops-admin", "duration": 99999, "justification": "x""#)
            #expect(capped.status == .created)
            #expect(try object(capped)["duration"] as? Int == 3_600)
            #expect(try object(capped)["endsAt"] as? String == isoTimestamp(Self.start + 3_600, milliseconds: true))
            let defaulted = try await api.activate(
                "ann",
                #""role": "change-window", "justification": "x", "ticket": "CHG-1""#
            )
            #expect(defaulted.status == .created)
            #expect(try object(defaulted)["duration"] as? Int == 600)
            #expect(try object(defaulted)["ticket"] as? String == "CHG-1")
            let fractional = try await api.activate("ann", #""role": "root-shell", "duration": 1.5"#)
            #expect(fractional.status == .badRequest)
            #expect(try object(fractional)["jsonPath"] as? String == "duration")
            let negative = try await api.activate("ann", #""role": "root-shell", "duration": -5"#)
            #expect(negative.status.code == 422)
            #expect(try problem(negative).code == "invalid_duration")
        }
    }

    @Test func refusalsCarryTheirStatusAndCodeAndAreAudited() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let cases: [(String, Int, String)] = [
                (#""role": "change-window", "ticket": "CHG-1""#, 422, "justification_required"),
                (#""role": "change-window", "justification": "  ""#, 422, "justification_required"),
                (#""role": "change-window", "justification": "deploy""#, 422, "ticket_required"),
                (#""role": "break-glass""#, 403, "not_eligible"),
                (#""role": "no-such-role""#, 422, "unknown_role"),
                (#""role": "payments""#, 422, "role_not_activatable"),
                (#""role": "payments-approver""#, 409, "sod_conflict"),
            ]
            for (members, status, code) in cases {
                let response = try await api.activate("ann", members)
                #expect(Int(response.status.code) == status, "\(code)")
                let (slug, returned) = try problem(response)
                #expect(returned == code)
                #expect(slug == code.replacingOccurrences(of: "_", with: "-"))
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            let missingRole = try await api.activate("ann", #""justification": "x""#)
            #expect(missingRole.status == .badRequest)
            #expect(try object(missingRole)["jsonPath"] as? String == "role")
            #expect(try await api.permits("ann", "change-window") == false)
        }
        let refused = try await harness.auditRecords(type: "activation.requested")
        #expect(refused.count == 7)
        #expect(refused.allSatisfy { $0.event.outcome == "refused" })
        #expect(refused.map { $0.event.details["code"] ?? "" }.contains("sod_conflict"))
        #expect(try await harness.store.activations().isEmpty)
    }

    @Test func aTokenActsOnlyForItsOwnPersonButAdminForAnyone() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let forCarl = try await api.activate(
                "ann",
                #""subject": "carl", "role": "ops-admin", "justification": "x""#
            )
            #expect(forCarl.status == .forbidden)
            #expect(try problem(forCarl).slug == "subject-mismatch")
            let bobForAnn = try await api.activate(
                "bob",
                #""subject": "id-ann", "role": "ops-admin", "justification": "x""#
            )
            #expect(bobForAnn.status == .forbidden)
            let gateway = try await api.activate(
                "gateway",
                #""subject": "ann", "role": "ops-admin", "justification": "x""#
            )
            #expect(gateway.status == .forbidden)
            #expect(try problem(gateway).slug == "insufficient-scope")
            let root = try await api.activate("root", #""subject": "carl", "role": "ops-admin", "justification": "x""#)
            #expect(root.status == .created)
            #expect(try object(root)["subject"] as? String == "id-carl")
            #expect(try object(root)["requestedBy"] as? String == "token:root")
            let rootWithoutSubject = try await api.activate("root", #""role": "ops-admin", "justification": "x""#)
            #expect(rootWithoutSubject.status == .badRequest)
            let unknown = try await api.activate(
                "root",
                #""subject": "nobody", "role": "ops-admin", "justification": "x""#
            )
            #expect(unknown.status == .forbidden)
            #expect(try problem(unknown).code == "unknown_identity")
            #expect(try await api.permits("carl", "ops-admin"))
            #expect(try await api.permits("ann", "ops-admin") == false)
        }
    }

    // MARK: - MFA

    @Test func mfaNeedsAnEnrolmentAValidCodeAndNeverTheSameCodeTwice() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            // Not enrolled.
            let notEnrolled = try await api.activate("ann", #""role": "root-shell", "totp": "123456""#)
            #expect(notEnrolled.status == .forbidden)
            #expect(try problem(notEnrolled).code == "mfa_required")

            let seed = try await enrollTOTP(harness, identityID: "id-ann", at: Self.start)
            let generator = TOTP(secret: seed)
            let valid = generator.code(at: Self.start)
            let window = Set((-1...1).map { generator.code(at: Self.start + Double($0) * 30) })
            var wrong = valid
            var candidate = (Int(valid) ?? 0) + 1
            while window.contains(wrong) {
                wrong =
                    String(repeating: "0", count: 6 - String(candidate % 1_000_000).count)
                    + String(candidate % 1_000_000)
                candidate += 1
            }

            let noCode = try await api.activate("ann", #""role": "root-shell""#)
            #expect(noCode.status == .forbidden)
            #expect(try problem(noCode).code == "mfa_required")
            let wrongCode = try await api.activate("ann", "\"role\": \"root-shell\", \"totp\": \"\(wrong)\"")
            #expect(wrongCode.status == .forbidden)
            #expect(try problem(wrongCode).slug == "totp-invalid")
            #expect(try await api.permits("ann", "root-shell") == false)

            let accepted = try await api.activate("ann", "\"role\": \"root-shell\", \"totp\": \"\(valid)\"")
            #expect(accepted.status == .created)
            let acceptedJSON = try object(accepted)
            #expect(acceptedJSON["mfa"] as? Bool == true)
            #expect(try await api.permits("ann", "root-shell"))
            let id = try #require(acceptedJSON["id"] as? String)
            #expect(try await api.delete("/v1/activations/\(id)", "ann").status == .noContent)

            // The same code again (still within its window): refused.
            let reused = try await api.activate("ann", "\"role\": \"root-shell\", \"totp\": \"\(valid)\"")
            #expect(reused.status == .forbidden)
            #expect(try problem(reused).slug == "totp-reused")
            #expect(try await api.permits("ann", "root-shell") == false)

            // The next code is accepted.
            clock.advance(30)
            let next = generator.code(at: clock.now())
            let later = try await api.activate("ann", "\"role\": \"root-shell\", \"totp\": \"\(next)\"")
            #expect(later.status == .created)

            // No code in any audit record, response or problem detail.
            let records = try await harness.auditRecords()
            let leaked = records.contains { record in
                record.event.details.values.contains { $0.contains(valid) || $0.contains(wrong) || $0.contains(next) }
            }
            #expect(!leaked)
            let bodies = [notEnrolled, noCode, wrongCode, accepted, reused, later].map {
                String(decoding: $0.body.readableBytesView, as: UTF8.self)
            }
            let echoed = bodies.contains { $0.contains(valid) || $0.contains(wrong) || $0.contains(next) }
            #expect(!echoed)
        }
        let refused = try await harness.auditRecords(type: "activation.requested").filter {
            $0.event.outcome == "refused"
        }
        #expect(
            refused.map { $0.event.details["code"] ?? "" } == [
                "mfa_required", "mfa_required", "totp_invalid", "totp_reused",
            ]
        )
        let enrollment = try await harness.store.mfaEnrollment(identityID: "id-ann")
        #expect(enrollment?.lastUsedStep == TOTP.step(at: Self.start + 30, step: 30))
    }

    @Test func aTOTPStepIsUsedOnceEvenByConcurrentRequests() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        _ = try await enrollTOTP(harness, identityID: "id-ann", at: Self.start)
        let step = TOTP.step(at: Self.start, step: 30)
        let store = harness.store
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 { group.addTask { try await store.useTOTPStep(identityID: "id-ann", step: step) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        #expect(try await store.useTOTPStep(identityID: "id-ann", step: step - 1) == false)
        #expect(try await store.useTOTPStep(identityID: "id-ann", step: step + 1))
        #expect(try await store.useTOTPStep(identityID: "id-bob", step: step) == false)
        try? FileManager.default.removeItem(atPath: harness.directory)
    }

    // MARK: - Approval

    @Test func approvalFlowPendingThenApprovedByAnotherPerson() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let pending = try await api.activate(
                "ann",
                #""role": "dba-prod", "duration": 900, "justification": "migration""#
            )
            #expect(pending.status == .accepted)
            let id = try #require(try object(pending)["id"] as? String)
            #expect(pending.headers[.location] == "/v1/activations/\(id)")
            #expect(try object(pending)["state"] as? String == "pending")
            #expect(try object(pending)["endsAt"] == nil)
            #expect(try await api.permits("ann", "dba-prod") == false)
            #expect(harness.operations.index.snapshot.holding(of: "id-ann", role: "dba-prod")?.active == nil)

            // A second request for the same role while one is pending.
            let duplicate = try await api.activate("ann", #""role": "dba-prod", "justification": "again""#)
            #expect(duplicate.status == .conflict)
            #expect(try problem(duplicate).slug == "already-pending")

            // ann may not approve (no scope); bob may not approve his own request.
            let byAnn = try await api.post("/v1/activations/\(id)/approve", "ann")
            #expect(byAnn.status == .forbidden)
            let bobsOwn = try await api.activate("bob", #""role": "dba-prod", "justification": "mine""#)
            #expect(bobsOwn.status == .accepted)
            let bobsID = try #require(try object(bobsOwn)["id"] as? String)
            let selfApproval = try await api.post("/v1/activations/\(bobsID)/approve", "bob")
            #expect(selfApproval.status == .forbidden)
            #expect(try problem(selfApproval).slug == "self-approval")
            let selfDenial = try await api.post("/v1/activations/\(bobsID)/deny", "bob")
            #expect(selfDenial.status == .forbidden)
            // An approver token without a person: refused too.
            let root = try await api.post("/v1/activations/\(id)/approve", "root")
            #expect(root.status == .forbidden)
            #expect(try problem(root).slug == "approver-unknown")

            clock.advance(120)
            let approved = try await api.post("/v1/activations/\(id)/approve", "bob")
            #expect(approved.status == .ok)
            let json = try object(approved)
            #expect(json["state"] as? String == "active")
            #expect(json["decidedBy"] as? String == "token:bob")
            #expect(json["duration"] as? Int == 900)
            // It starts at approval, for the requested duration.
            #expect(json["startsAt"] as? String == isoTimestamp(Self.start + 120, milliseconds: true))
            #expect(json["endsAt"] as? String == isoTimestamp(Self.start + 1_020, milliseconds: true))
            #expect(try await api.permits("ann", "dba-prod"))

            let twice = try await api.post("/v1/activations/\(id)/approve", "bob")
            #expect(twice.status == .conflict)
            #expect(try problem(twice).slug == "not-pending")
            let missing = try await api.post("/v1/activations/nope/approve", "bob")
            #expect(missing.status == .notFound)
        }
        #expect(try await harness.auditRecords(type: "activation.approved").map(\.event.actor) == ["token:bob"])
        #expect(try await harness.auditRecords(type: "activation.started").count == 1)
        let requested = try await harness.auditRecords(type: "activation.requested")
        #expect(requested.filter { $0.event.outcome == "success" }.count == 2)
        #expect(harness.api.metrics.text().contains(#"event="approved""#))
    }

    @Test func denyLeavesTheRoleInactive() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let pending = try await api.activate("ann", #""role": "dba-prod", "justification": "migration""#)
            let id = try #require(try object(pending)["id"] as? String)
            let denied = try await api.post("/v1/activations/\(id)/deny", "bob", #"{"reason": "use the replica"}"#)
            #expect(denied.status == .ok)
            #expect(try object(denied)["state"] as? String == "denied")
            #expect(try object(denied)["decisionReason"] as? String == "use the replica")
            #expect(try await api.permits("ann", "dba-prod") == false)
            let again = try await api.post("/v1/activations/\(id)/deny", "bob")
            #expect(again.status == .conflict)
            let approveDenied = try await api.post("/v1/activations/\(id)/approve", "bob")
            #expect(approveDenied.status == .conflict)
            // A new request may follow a denial.
            let retry = try await api.activate("ann", #""role": "dba-prod", "justification": "migration, take 2""#)
            #expect(retry.status == .accepted)
        }
        let events = try await harness.auditRecords(type: "activation.denied")
        #expect(events.count == 1)
        #expect(events.first?.event.details["reason"] == "use the replica")
        #expect(try await harness.store.activations(identityID: "id-ann", state: .denied).count == 1)
    }

    @Test func separationOfDutiesIsCheckedAgainAtApproval() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let pending = try await api.activate("ann", #""role": "dba-prod", "justification": "migration""#)
            let id = try #require(try object(pending)["id"] as? String)
            // Meanwhile ann activates a role that excludes dba-prod.
            let ops = try await api.activate("ann", #""role": "ops-admin", "justification": "on call""#)
            #expect(ops.status == .created)
            let approval = try await api.post("/v1/activations/\(id)/approve", "bob")
            #expect(approval.status == .conflict)
            #expect(try problem(approval).code == "sod_conflict")
            #expect(try await api.permits("ann", "dba-prod") == false)
            let record = try await harness.store.activation(id: id)
            #expect(record?.state == .pending)
        }
        let refused = try await harness.auditRecords(type: "activation.approved")
        #expect(refused.map(\.event.outcome) == ["refused"])
    }

    // MARK: - Ending and expiry

    @Test func deleteEndsAnActivationEarly() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let created = try await api.activate("ann", #""role": "ops-admin", "justification": "x""#)
            let id = try #require(try object(created)["id"] as? String)
            #expect(try await api.permits("ann", "ops-admin"))
            #expect(try await api.delete("/v1/activations/\(id)", "ops").status == .forbidden)
            #expect(try await api.delete("/v1/activations/\(id)", "gateway").status == .forbidden)
            clock.advance(60)
            #expect(try await api.delete("/v1/activations/\(id)", "ann").status == .noContent)
            #expect(try await api.permits("ann", "ops-admin") == false)
            let shown = try object(try await api.get("/v1/activations/\(id)", "ann"))
            #expect(shown["state"] as? String == "ended")
            #expect(shown["endedAt"] as? String == isoTimestamp(Self.start + 60, milliseconds: true))
            #expect(try await api.delete("/v1/activations/\(id)", "ann").status == .conflict)
            #expect(try await api.delete("/v1/activations/nope", "ann").status == .notFound)

            // Someone else's: an approver may end it, its owner's colleague may not.
            let carls = try await api.activate("root", #""subject": "carl", "role": "ops-admin", "justification": "x""#)
            let carlsID = try #require(try object(carls)["id"] as? String)
            #expect(try await api.delete("/v1/activations/\(carlsID)", "ann").status == .forbidden)
            #expect(try await api.delete("/v1/activations/\(carlsID)", "bob").status == .noContent)
            #expect(try await api.permits("carl", "ops-admin") == false)

            // A pending request is withdrawn.
            let pending = try await api.activate("ann", #""role": "dba-prod", "justification": "x""#)
            let pendingID = try #require(try object(pending)["id"] as? String)
            #expect(try await api.delete("/v1/activations/\(pendingID)", "ann").status == .noContent)
            #expect(try await api.post("/v1/activations/\(pendingID)/approve", "bob").status == .conflict)
        }
        #expect(harness.operations.index.snapshot.holding(of: "id-ann", role: "ops-admin")?.active == nil)
        let stored = try await harness.store.loadState().assignments.filter {
            $0.state == .active && $0.role == "ops-admin"
        }
        #expect(stored.isEmpty)
        let ended = try await harness.auditRecords(type: "activation.ended")
        #expect(ended.map(\.event.actor) == ["token:ann", "token:bob", "token:ann"])
        #expect(ended.last?.event.details["from"] == "pending")
    }

    @Test func expiryDeniesAtUntilAndTheSweeperRecordsIt() async throws {
        let clock = ActivationClock(Self.start)
        let writeBack = RecordingWriteBack()
        let harness = try await self.harness(clock: clock, writeBack: writeBack)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let created = try await api.activate("ann", #""role": "ops-admin", "duration": 600, "justification": "x""#)
            #expect(created.status == .created)
            let id = try #require(try object(created)["id"] as? String)
            #expect(writeBack.calls == [.init(group: Self.group, member: "uid=ann,ou=people,dc=t", add: true)])
            let member = try await harness.store.writeBackMember(group: Self.group, identityID: "id-ann")
            #expect(member?.member == "uid=ann,ou=people,dc=t")
            #expect(member?.role == "ops-admin")

            clock.advance(599)
            #expect(try await harness.operations.sweepExpiredActivations() == 0)
            #expect(try await api.permits("ann", "ops-admin"))
            clock.advance(1)
            // Denied at `until`, before any sweep.
            #expect(try await api.permits("ann", "ops-admin") == false)
            #expect(try await harness.operations.sweepExpiredActivations() == 1)
            #expect(try await harness.operations.sweepExpiredActivations() == 0)
            #expect(try await api.permits("ann", "ops-admin") == false)
            let shown = try object(try await api.get("/v1/activations/\(id)", "ops"))
            #expect(shown["state"] as? String == "expired")
            #expect(shown["endedAt"] as? String == isoTimestamp(Self.start + 600, milliseconds: true))
            #expect(writeBack.calls.last == .init(group: Self.group, member: "uid=ann,ou=people,dc=t", add: false))
            #expect(try await harness.store.writeBackMember(group: Self.group, identityID: "id-ann") == nil)

            // A new activation after expiry starts cleanly.
            let again = try await api.activate("ann", #""role": "ops-admin", "duration": 60, "justification": "y""#)
            #expect(again.status == .created)
            #expect(try await api.permits("ann", "ops-admin"))
        }
        let expired = try await harness.auditRecords(type: "activation.expired")
        #expect(expired.count == 1)
        #expect(expired.first?.event.actor == "sweeper")
        #expect(expired.first?.event.subject == "id-ann")
        let writes = try await harness.auditRecords().filter { $0.event.type.hasPrefix("writeback.") }
        #expect(writes.map(\.event.type) == ["writeback.add", "writeback.remove", "writeback.add"])
        #expect(writes.allSatisfy { $0.event.outcome == "success" })
        let active = try await harness.store.loadState().assignments.filter {
            $0.state == .active && $0.role == "ops-admin"
        }
        #expect(active.count == 1)
        #expect(harness.api.metrics.text().contains(#"event="expired""#))
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    @Test func aFailedWriteBackIsAuditedAndDoesNotUndoTheActivation() async throws {
        let clock = ActivationClock(Self.start)
        let writeBack = RecordingWriteBack(failing: true)
        let harness = try await self.harness(clock: clock, writeBack: writeBack)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let created = try await api.activate("ann", #""role": "ops-admin", "justification": "x""#)
            #expect(created.status == .created)
            let id = try #require(try object(created)["id"] as? String)
            #expect(try await api.permits("ann", "ops-admin"))
            #expect(try await harness.store.writeBackMember(group: Self.group, identityID: "id-ann") == nil)
            #expect(try await api.delete("/v1/activations/\(id)", "ann").status == .noContent)
            // Nothing was written, so nothing is removed.
            #expect(writeBack.calls.count == 1)
            // Roles without a write-back group write nothing.
            _ = try await api.activate("ann", #""role": "change-window", "justification": "x", "ticket": "T-1""#)
            #expect(writeBack.calls.count == 1)
        }
        let failures = try await harness.auditRecords(type: "writeback.add")
        #expect(failures.map(\.event.outcome) == ["failure"])
        #expect(failures.first?.event.details["result"] == "the directory is unreachable")
    }

    /// A member added to the write-back group but not recorded would stay for ever (Tenure only
    /// removes what it knows it wrote): it is removed again and the failure audited.
    @Test func aWriteBackMemberThatCannotBeRecordedIsRemovedAgain() async throws {
        let clock = ActivationClock(Self.start)
        let writeBack = RecordingWriteBack()
        let harness = try await self.harness(clock: clock, writeBack: writeBack)
        try await refuseWrites("INSERT", on: "writeback_member", in: harness)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let created = try await api.activate("ann", #""role": "ops-admin", "justification": "x""#)
            #expect(created.status == .created)
            #expect(
                writeBack.calls == [
                    .init(group: Self.group, member: "uid=ann,ou=people,dc=t", add: true),
                    .init(group: Self.group, member: "uid=ann,ou=people,dc=t", add: false),
                ]
            )
            #expect(try await harness.store.writeBackMember(group: Self.group, identityID: "id-ann") == nil)
        }
        let records = try await harness.auditRecords(type: "writeback.add")
        #expect(records.map(\.event.outcome) == ["failure"])
        #expect(records.first?.event.details["result"]?.hasSuffix("removed again") == true)
    }

    /// A member removed from the write-back group whose record cannot be dropped is still audited:
    /// the group changed. The failure of the bookkeeping is the outcome.
    @Test func aWriteBackRemovalThatCannotBeRecordedIsStillAudited() async throws {
        let clock = ActivationClock(Self.start)
        let writeBack = RecordingWriteBack()
        let harness = try await self.harness(clock: clock, writeBack: writeBack)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let created = try await api.activate("ann", #""role": "ops-admin", "justification": "x""#)
            let id = try #require(try object(created)["id"] as? String)
            #expect(try await harness.store.writeBackMember(group: Self.group, identityID: "id-ann") != nil)
            try await refuseWrites("DELETE", on: "writeback_member", in: harness)
            #expect(try await api.delete("/v1/activations/\(id)", "ann").status == .noContent)
            #expect(writeBack.calls.last == .init(group: Self.group, member: "uid=ann,ou=people,dc=t", add: false))
        }
        let removals = try await harness.auditRecords(type: "writeback.remove")
        #expect(removals.map(\.event.outcome) == ["failure"])
        #expect(removals.first?.event.details["result"]?.hasPrefix("removed, but not recorded as removed") == true)
        #expect(removals.first?.event.details["activation"] != nil)
    }

    /// An offboarding whose activation bookkeeping fails still denies at once: the index follows
    /// the applied plan before the activations are ended, and the error reaches the caller.
    @Test func anOffboardingDeniesEvenIfEndingActivationsFails() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            #expect(try await api.activate("ann", #""role": "ops-admin", "justification": "x""#).status == .created)
            #expect(try await api.permits("ann", "ops-admin"))
            try await refuseWrites("UPDATE", on: "activation", in: harness)
            let offboard = try await client.execute(
                uri: "/v1/offboard",
                method: .post,
                headers: Harness.headers("hr"),
                body: ByteBuffer(string: #"{"subject": "ann", "reason": "left"}"#)
            )
            #expect(offboard.status.code >= 500)
            #expect(try await !api.permits("ann", "ops-admin"))
        }
    }

    // MARK: - Listing

    @Test func listingFiltersAndOwnOnlyForActivateTokens() async throws {
        let clock = ActivationClock(Self.start)
        let harness = try await self.harness(clock: clock)
        try await harness.run { client in
            let api = ActivationClient(client: client)
            let mine = try await api.activate("ann", #""role": "ops-admin", "justification": "x""#)
            let mineID = try #require(try object(mine)["id"] as? String)
            clock.advance(1)
            _ = try await api.activate("ann", #""role": "change-window", "justification": "x", "ticket": "T""#)
            clock.advance(1)
            let pending = try await api.activate("bob", #""role": "dba-prod", "justification": "x""#)
            #expect(pending.status == .accepted)
            clock.advance(1)
            let carls = try await api.activate("root", #""subject": "carl", "role": "ops-admin", "justification": "x""#)
            let carlsID = try #require(try object(carls)["id"] as? String)

            func ids(_ uri: String, _ token: String) async throws -> [String] {
                let response = try await api.get(uri, token)
                #expect(response.status == .ok, "\(uri)")
                let list = try #require(try object(response)["activations"] as? [[String: Any]])
                return list.compactMap { $0["id"] as? String }
            }
            #expect(try await ids("/v1/activations", "ops").count == 4)
            #expect(try await ids("/v1/activations?state=pending", "ops").count == 1)
            #expect(try await ids("/v1/activations?subject=carl", "ops") == [carlsID])
            #expect(try await ids("/v1/activations?subject=id-carl&state=active", "bob") == [carlsID])
            #expect(try await ids("/v1/activations?subject=carl&state=ended", "root").isEmpty)
            #expect(try await ids("/v1/activations", "ann").count == 2)
            #expect(try await ids("/v1/activations?state=active&subject=ann", "ann").first == mineID)

            #expect(try await api.get("/v1/activations?subject=carl", "ann").status == .forbidden)
            #expect(try await api.get("/v1/activations/\(carlsID)", "ann").status == .forbidden)
            #expect(try await api.get("/v1/activations/\(carlsID)", "ops").status == .ok)
            #expect(try await api.get("/v1/activations/\(mineID)", "ann").status == .ok)
            #expect(try await api.get("/v1/activations/nope", "ops").status == .notFound)
            #expect(try await api.get("/v1/activations?state=bogus", "ops").status == .badRequest)
            #expect(try await api.get("/v1/activations", "gateway").status == .forbidden)
            #expect(try await api.get("/v1/activations", nil).status == .unauthorized)
        }
    }
}
