import TenureCore
import Testing

@testable import TenureAccess

@Suite struct ActivationPolicyTests {
    struct Request: Sendable {
        var identity: String
        var role: String
        var seconds: Int? = nil
        var justification: String? = "incident 7"
        var ticket: String? = nil
        var mfa = true
    }

    static func check(_ r: Request, model: AccessModel = World.model, now: Double = World.now)
        -> Result<ActivationGrant, ActivationRefusal>
    {
        ActivationPolicy.check(
            identityID: r.identity,
            role: r.role,
            requestedSeconds: r.seconds,
            justification: r.justification,
            ticket: r.ticket,
            mfaVerified: r.mfa,
            model: model,
            now: now
        )
    }

    struct Grant: Sendable, CustomTestStringConvertible {
        var request: Request
        var seconds: Int
        var capApplied: Bool
        var needsApproval: Bool
        var testDescription: String { "\(self.request.identity) \(self.request.role) \(self.request.seconds ?? -1)" }
    }

    static let grantCases: [Grant] = [
        // No duration asked: the role's maximum.
        Grant(
            request: Request(identity: "u-alice", role: "dba-prod"),
            seconds: 3_600,
            capApplied: false,
            needsApproval: false
        ),
        Grant(
            request: Request(identity: "u-alice", role: "dba-prod", seconds: 600),
            seconds: 600,
            capApplied: false,
            needsApproval: false
        ),
        Grant(
            request: Request(identity: "u-alice", role: "dba-prod", seconds: 3_600),
            seconds: 3_600,
            capApplied: false,
            needsApproval: false
        ),
        Grant(
            request: Request(identity: "u-alice", role: "dba-prod", seconds: 7_200),
            seconds: 3_600,
            capApplied: true,
            needsApproval: false
        ),
        Grant(
            request: Request(identity: "u-hank", role: "sec-admin", ticket: "CHG-1", mfa: false),
            seconds: 1_800,
            capApplied: false,
            needsApproval: true
        ),
        // An expired activation does not stand in the way of a new one.
        Grant(
            request: Request(identity: "u-carol", role: "dba-prod", seconds: 60),
            seconds: 60,
            capApplied: false,
            needsApproval: false
        ),
    ]

    @Test(arguments: grantCases)
    func grants(_ c: Grant) throws {
        let grant = try Self.check(c.request).get()
        #expect(grant.identityID == c.request.identity)
        #expect(grant.role == c.request.role)
        #expect(grant.seconds == c.seconds)
        #expect(grant.capApplied == c.capApplied)
        #expect(grant.needsApproval == c.needsApproval)
        #expect(grant.since == World.now)
        #expect(grant.until == World.now + Double(c.seconds))
        #expect(grant.maxActivationSeconds == World.model.roles[c.request.role]?.maxActivationSeconds)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var request: Request
        var refusal: ActivationRefusal
        var code: String
        var status: Int
        var testDescription: String { "\(self.request.identity) \(self.request.role) → \(self.code)" }
    }

    static let refusalCases: [Refusal] = [
        Refusal(
            request: Request(identity: "u-ghost", role: "dba-prod"),
            refusal: .unknownIdentity("u-ghost"),
            code: "unknown_identity",
            status: 403
        ),
        Refusal(
            request: Request(identity: "u-erin", role: "dba-prod"),
            refusal: .identityInactive(Inactivity(state: .disabled)),
            code: "identity_inactive",
            status: 403
        ),
        Refusal(
            request: Request(identity: "u-gina", role: "dba-prod"),
            refusal: .identityInactive(Inactivity(state: .terminated, hrReason: "resigned")),
            code: "identity_inactive",
            status: 403
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "root"),
            refusal: .unknownRole("root"),
            code: "unknown_role",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "db-read"),
            refusal: .roleNotActivatable("db-read"),
            code: "role_not_activatable",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "unbounded"),
            refusal: .noActivationLimit("unbounded"),
            code: "no_activation_limit",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "sec-admin"),
            refusal: .notEligible("sec-admin"),
            code: "not_eligible",
            status: 403
        ),
        // Eligibility that ended exactly now.
        Refusal(
            request: Request(identity: "u-kim", role: "dba-prod"),
            refusal: .notEligible("dba-prod"),
            code: "not_eligible",
            status: 403
        ),
        Refusal(
            request: Request(identity: "u-bob", role: "dba-prod"),
            refusal: .alreadyActive(role: "dba-prod", until: World.now + 600),
            code: "already_active",
            status: 409
        ),
        Refusal(
            request: Request(identity: "u-judy", role: "dba-prod"),
            refusal: .sodConflict(role: "dba-prod", conflictsWith: "auditor"),
            code: "sod_conflict",
            status: 409
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "dba-prod", seconds: 0),
            refusal: .invalidDuration(0),
            code: "invalid_duration",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "dba-prod", seconds: -5),
            refusal: .invalidDuration(-5),
            code: "invalid_duration",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "dba-prod", justification: nil),
            refusal: .justificationRequired,
            code: "justification_required",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "dba-prod", justification: " \n\t"),
            refusal: .justificationRequired,
            code: "justification_required",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-alice", role: "dba-prod", mfa: false),
            refusal: .mfaRequired,
            code: "mfa_required",
            status: 403
        ),
        Refusal(
            request: Request(identity: "u-hank", role: "sec-admin"),
            refusal: .ticketRequired,
            code: "ticket_required",
            status: 422
        ),
        Refusal(
            request: Request(identity: "u-hank", role: "sec-admin", ticket: ""),
            refusal: .ticketRequired,
            code: "ticket_required",
            status: 422
        ),
    ]

    @Test(arguments: refusalCases)
    func refuses(_ c: Refusal) {
        guard case .failure(let refusal) = Self.check(c.request) else {
            Issue.record("granted")
            return
        }
        #expect(refusal == c.refusal)
        #expect(refusal.code == c.code)
        #expect(refusal.suggestedStatus == c.status)
        #expect(!refusal.message.isEmpty)
    }

    @Test func refusalMessages() {
        #expect(
            ActivationRefusal.identityInactive(Inactivity(state: .terminated, hrReason: "resigned")).message
                == "identity is terminated (by HR or an offboarding)"
        )
        #expect(
            ActivationRefusal.alreadyActive(role: "dba-prod", until: World.now).message
                == "\"dba-prod\" is already active until 2027-01-15T08:00:00Z"
        )
    }

    /// The grant, applied to the model, permits until its end and not from it on.
    @Test func aGrantAppliedPermitsUntilItEnds() throws {
        let index = AccessIndex(World.model)
        let grant = try Self.check(Request(identity: "u-alice", role: "dba-prod", seconds: 900), model: index.snapshot)
            .get()
        let assignment = grant.assignment(source: "activation:7")
        #expect(assignment.state == .active)
        #expect(assignment.until == World.now + 900)
        index.update { $0.upsertAssignment(assignment) }
        #expect(index.evaluate(World.assume("alice", "dba-prod"), now: World.now + 899).allowed)
        #expect(index.evaluate(World.checkout("alice", "pg-prod-admin"), now: World.now + 899).allowed)
        #expect(index.evaluate(World.assume("alice", "dba-prod"), now: World.now + 900).reason == .expired)
        // Active now: a second activation conflicts.
        guard
            case .failure(.alreadyActive) = Self.check(
                Request(identity: "u-alice", role: "dba-prod"),
                model: index.snapshot
            )
        else {
            Issue.record("expected already_active")
            return
        }
    }

    /// The SoD check reads active, in-force roles only.
    @Test func sodIsCheckedAtActivationTime() throws {
        var model = World.model
        model.upsertAssignment(World.active("u-judy", "auditor", until: World.now + 60))
        #expect(throws: ActivationRefusal.self) {
            try Self.check(Request(identity: "u-judy", role: "dba-prod"), model: model).get()
        }
        let later = try Self.check(Request(identity: "u-judy", role: "dba-prod"), model: model, now: World.now + 60)
            .get()
        #expect(later.seconds == 3_600)
        // The conflicting role only eligible: no conflict.
        model.removeAssignment(AssignmentKey(identityID: "u-judy", role: "auditor", state: .active))
        model.upsertAssignment(World.eligible("u-judy", "auditor"))
        #expect(try Self.check(Request(identity: "u-judy", role: "dba-prod"), model: model).get().role == "dba-prod")
    }

    /// An activation ends no later than the eligibility it comes from.
    @Test func anActivationEndsWithItsEligibility() throws {
        var model = World.model
        model.upsertAssignment(World.eligible("u-alice", "dba-prod", until: World.now + 900))
        let asked = try Self.check(Request(identity: "u-alice", role: "dba-prod", seconds: 3_600), model: model).get()
        #expect(asked.seconds == 900 && asked.until == World.now + 900 && asked.capApplied)
        let none = try Self.check(Request(identity: "u-alice", role: "dba-prod"), model: model).get()
        #expect(none.seconds == 900 && none.capApplied)
        let short = try Self.check(Request(identity: "u-alice", role: "dba-prod", seconds: 600), model: model).get()
        #expect(short.seconds == 600 && !short.capApplied)
        // Less than a second left: nothing to activate.
        model.upsertAssignment(World.eligible("u-alice", "dba-prod", until: World.now + 0.5))
        #expect(throws: ActivationRefusal.notEligible("dba-prod")) {
            try Self.check(Request(identity: "u-alice", role: "dba-prod"), model: model).get()
        }
    }
}
