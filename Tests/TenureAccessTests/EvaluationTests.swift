import TenureCore
import Testing

@testable import TenureAccess

@Suite struct EvaluationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var request: EvaluationRequest
        var allowed: Bool
        var reason: ReasonCode
        /// Context keys that must be present with these values.
        var context: Context = [:]
        /// Text the admin reason must contain.
        var admin: String? = nil
        var testDescription: String {
            "\(self.request.subject.id) \(self.request.action.name) \(self.request.resource.type):"
                + "\(self.request.resource.id) → \(self.reason.rawValue)"
        }
    }

    static let cases: [Case] = [
        // Roles.
        Case(
            request: World.assume("alice", "db-read"),
            allowed: true,
            reason: .activeAssignment,
            context: ["role": "db-read"]
        ),
        Case(request: World.assume("ALICE", "db-read"), allowed: true, reason: .activeAssignment),
        Case(request: World.assume("u-alice", "db-read"), allowed: true, reason: .activeAssignment),
        Case(
            request: World.assume("bob", "dba-prod"),
            allowed: true,
            reason: .activeAssignment,
            context: ["role": "dba-prod", "until": .integer(Int(World.now) + 600)]
        ),
        Case(
            request: World.assume("alice", "dba-prod"),
            allowed: false,
            reason: .eligibleNotActive,
            context: [
                "role": "dba-prod",
                "activation": ["maxActivationSeconds": 3_600, "requirements": ["justification", "mfa"]],
            ]
        ),
        Case(
            request: World.assume("alice", "sec-admin"),
            allowed: false,
            reason: .notEligible,
            context: ["role": "sec-admin"]
        ),
        // An eligibility whose window ended is no eligibility.
        Case(request: World.assume("kim", "dba-prod"), allowed: false, reason: .notEligible, admin: "has ended"),
        Case(request: World.assume("alice", "root"), allowed: false, reason: .unknownRole, context: ["role": "root"]),
        Case(
            request: World.assume("carol", "dba-prod"),
            allowed: false,
            reason: .expired,
            context: [
                "role": "dba-prod", "expiredAt": .integer(Int(World.now)),
                "activation": ["maxActivationSeconds": 3_600, "requirements": ["justification", "mfa"]],
            ]
        ),
        Case(
            request: World.assume("dave", "dba-prod"),
            allowed: false,
            reason: .sodConflict,
            context: ["role": "dba-prod", "conflictsWith": "auditor"]
        ),
        // The conflict map is symmetric: "auditor" declares nothing, "dba-prod" declares it.
        Case(
            request: World.assume("dave", "auditor"),
            allowed: false,
            reason: .sodConflict,
            context: ["role": "auditor", "conflictsWith": "dba-prod"]
        ),
        // Eligible for the conflicting role is no conflict.
        Case(request: World.assume("judy", "auditor"), allowed: true, reason: .activeAssignment),

        // Subjects.
        Case(request: World.assume("nobody", "db-read"), allowed: false, reason: .unknownSubject),
        // Stable ids are exact; usernames are not.
        Case(request: World.assume("U-ALICE", "db-read"), allowed: false, reason: .unknownSubject),
        // A rehire shares the username with the old terminated record: the active one answers.
        Case(request: World.assume("ivan", "db-read"), allowed: true, reason: .activeAssignment),
        Case(request: World.assume("u-ivan-old", "db-read"), allowed: false, reason: .identityInactive),
        // Two active identities with one username: ambiguous, nobody is picked.
        Case(request: World.assume("xy", "db-read"), allowed: false, reason: .unknownSubject, admin: "stable id"),
        Case(request: World.assume("u-x1", "db-read"), allowed: true, reason: .activeAssignment),
        Case(
            request: World.assume("erin", "db-read"),
            allowed: false,
            reason: .identityInactive,
            context: ["state": "disabled"]
        ),
        Case(
            request: World.assume("frank", "db-read"),
            allowed: false,
            reason: .identityInactive,
            context: ["state": "terminated"]
        ),
        Case(
            request: World.assume("gina", "db-read"),
            allowed: false,
            reason: .identityInactive,
            context: ["state": "terminated", "hrTerminated": true],
            admin: "terminated (by HR or an offboarding)"
        ),
        Case(request: World.checkout("gina", "pg-prod-ro"), allowed: false, reason: .identityInactive),

        // Credentials.
        Case(
            request: World.checkout("alice", "pg-prod-ro"),
            allowed: true,
            reason: .roleUnlocks,
            context: ["credential": "pg-prod-ro", "role": "db-read", "requiresMFA": false]
        ),
        Case(
            request: World.checkout("bob", "pg-prod-admin"),
            allowed: true,
            reason: .roleUnlocks,
            context: ["role": "dba-prod", "requiresMFA": true, "until": .integer(Int(World.now) + 600)]
        ),
        Case(
            request: World.checkout("alice", "pg-prod-admin"),
            allowed: false,
            reason: .noRoleUnlocks,
            context: ["roles": ["dba-prod", "ops"], "eligibleRoles": ["dba-prod"]]
        ),
        // An expired holding unlocks nothing.
        Case(
            request: World.checkout("hank", "pg-prod-admin"),
            allowed: false,
            reason: .noRoleUnlocks,
            context: ["roles": ["dba-prod", "ops"]]
        ),
        Case(
            request: World.checkout("carol", "pg-prod-admin"),
            allowed: false,
            reason: .noRoleUnlocks
        ),
        Case(
            request: World.checkout("alice", "ssh-ca"),
            allowed: false,
            reason: .unknownCredential,
            context: ["credential": "ssh-ca"]
        ),
        Case(
            request: World.checkout("dave", "pg-prod-admin"),
            allowed: false,
            reason: .sodConflict,
            context: ["role": "dba-prod", "conflictsWith": "auditor"]
        ),

        // Shapes the core does not decide.
        Case(
            request: World.request("alice", "document", "1", "read"),
            allowed: false,
            reason: .unsupported,
            context: ["resourceType": "document"]
        ),
        Case(
            request: World.request("alice", "role", "db-read", "checkout"),
            allowed: false,
            reason: .unsupported,
            context: ["action": "checkout"]
        ),
        Case(
            request: World.request("alice", "credential", "pg-prod-ro", "assume"),
            allowed: false,
            reason: .unsupported
        ),
        Case(
            request: World.request("alice", "role", "db-read", "assume", subjectType: "service"),
            allowed: false,
            reason: .unsupported,
            context: ["subjectType": "service"]
        ),
        // Shape is checked before the subject: an unknown subject asking the wrong thing is unsupported.
        Case(request: World.request("nobody", "document", "1", "read"), allowed: false, reason: .unsupported),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        let decision = World.model.evaluate(c.request, now: World.now)
        #expect(decision.allowed == c.allowed)
        #expect(decision.reason == c.reason)
        let context = decision.context
        for (key, value) in c.context {
            #expect(context[key] == value, "context.\(key)")
        }
        if let admin = c.admin {
            #expect(decision.reasonAdmin.contains(admin), "\(decision.reasonAdmin)")
        }
        // Every decision explains itself, for machines and for people.
        #expect(context["reason"] == .string(c.reason.rawValue))
        #expect(context["reason_admin"]?.member("en")?.stringValue?.isEmpty == false)
        #expect(decision.response.decision == c.allowed)
        #expect(decision.response.context == context)
    }

    @Test func everyReasonCodeIsExercised() {
        let seen = Set(Self.cases.map(\.reason))
        #expect(seen == Set(ReasonCode.allCases))
    }

    /// An activation ending at `until` permits strictly before it and is expired from `until` on.
    @Test(arguments: [(-1.0, true), (-0.001, true), (0.0, false), (1.0, false)])
    func expiryIsEnforcedAtCheckTime(offset: Double, allowed: Bool) {
        let until = World.now + 600
        let decision = World.model.evaluate(World.assume("bob", "dba-prod"), now: until + offset)
        #expect(decision.allowed == allowed)
        #expect(decision.reason == (allowed ? .activeAssignment : .expired))
        let checkout = World.model.evaluate(World.checkout("bob", "pg-prod-admin"), now: until + offset)
        #expect(checkout.allowed == allowed)
    }

    @Test func anExpiredConflictingRoleNoLongerConflicts() {
        var model = World.model
        model.upsertAssignment(World.active("u-dave", "auditor", until: World.now + 60))
        #expect(model.evaluate(World.assume("dave", "dba-prod"), now: World.now).reason == .sodConflict)
        #expect(model.evaluate(World.assume("dave", "dba-prod"), now: World.now + 60).reason == .activeAssignment)
    }

    @Test func withoutMFAMetadataPermitsDoNotSay() {
        var model = World.model
        model.mfaCredentials = nil
        let decision = model.evaluate(World.checkout("bob", "pg-prod-admin"), now: World.now)
        #expect(decision.allowed)
        #expect(decision.context["requiresMFA"] == nil)
    }

    /// The checkout names the first unlocking role (sorted) held active.
    @Test func checkoutReportsTheUnlockingRole() {
        var model = World.model
        model.upsertAssignment(World.active("u-bob", "ops"))
        let decision = model.evaluate(World.checkout("bob", "pg-prod-admin"), now: World.now)
        #expect(decision.context["role"] == "dba-prod")
        let later = model.evaluate(World.checkout("bob", "pg-prod-admin"), now: World.now + 600)
        #expect(later.context["role"] == "ops")
    }
}
