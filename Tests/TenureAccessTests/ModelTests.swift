import TenureCore
import Testing

@testable import TenureAccess

@Suite struct ModelTests {
    @Test func buildsTheIndexes() {
        let model = World.model
        #expect(model.rolesByCredential["pg-prod-admin"] == ["dba-prod", "ops"])
        #expect(model.conflicts["auditor"] == ["dba-prod"])
        #expect(model.conflicts["dba-prod"] == ["auditor"])
        #expect(model.credentials(of: "sec-admin") == ["vault-root"])
        #expect(model.idsByUsername["ivan"] == ["u-ivan", "u-ivan-old"])
        #expect(model.holding(of: "u-bob", role: "dba-prod")?.eligible != nil)
        #expect(model.holding(of: "u-bob", role: "dba-prod")?.active?.until == World.now + 600)
        #expect(model.resolveSubject("ALICE") == .found(World.identities[0]))
        #expect(model.resolveSubject("xy") == .ambiguous(["u-x1", "u-x2"]))
        #expect(model.resolveSubject("zed") == .unknown)
    }

    /// A token's subject owns an identity only when it names that identity and no other.
    @Test func subjectOwnsOnlyWhatItNamesUniquely() {
        let model = World.model
        #expect(model.subject("ALICE", isIdentity: "u-alice"))
        #expect(model.subject("u-alice", isIdentity: "u-alice"))
        #expect(!model.subject("alice", isIdentity: "u-bob"))
        // "xy" names two identities: it owns neither (no username fallback).
        #expect(!model.subject("xy", isIdentity: "u-x1"))
        #expect(!model.subject("xy", isIdentity: "u-x2"))
        // An identity gone from the model is still its own id's.
        #expect(model.subject("u-gone", isIdentity: "u-gone"))
        #expect(!model.subject("zed", isIdentity: "u-gone"))
    }

    /// What a plan takes away leaves the model before the plan runs; what it grants does not: a
    /// revocation and an expiry are gone, a leaver's record (not active) replaces the old one, and
    /// a grant, an elevation, a write-back and an active record wait for their commit.
    @Test func aPlanIsWithdrawnAheadButNotGrantedAhead() {
        var model = World.model
        let dave = World.identity("u-dave", "dave", .terminated)
        var renamed = World.identity("u-alice", "alice2")
        renamed.lastSeen = World.now
        let plan = Plan(
            identities: [
                IdentityPlan(
                    identityID: "u-dave",
                    username: "dave",
                    dn: dave.dn,
                    events: [LifecycleEvent(kind: .leaver, reasons: ["gone from the directory"])],
                    actions: [
                        .revoke(role: "dba-prod", state: .active, reason: "leaver"),
                        .writeBack(group: "cn=dba,dc=t", role: "dba-prod", add: false),
                        .rotateCredential(name: "pg-prod-admin", role: "dba-prod", reason: "leaver"),
                        .recordIdentity(dave),
                    ]
                ),
                IdentityPlan(
                    identityID: "u-alice",
                    username: "alice2",
                    dn: renamed.dn,
                    events: [LifecycleEvent(kind: .mover, reasons: ["renamed"])],
                    actions: [
                        .expire(role: "db-read", state: .active, reason: "until passed"),
                        .grantEligible(role: "sec-admin", rule: "r"),
                        .elevate(role: "dba-prod", rule: "r"),
                        .recordIdentity(renamed),
                    ]
                ),
            ],
            conflicts: [],
            protectedChanges: [],
            guardVerdict: GuardVerdict(held: false, reason: nil, leavers: 1, inScope: 14),
            createdAt: World.now
        )
        model.withdraw(aheadOf: plan)
        // dave: his active dba-prod is gone, and his record says terminated (the auditor role he
        // still holds in the model is denied too: the identity is inactive).
        #expect(model.holding(of: "u-dave", role: "dba-prod") == nil)
        #expect(model.identities["u-dave"]?.state == .terminated)
        #expect(model.evaluate(World.assume("dave", "auditor"), now: World.now).reason == .identityInactive)
        // alice: db-read expired; no sec-admin, dba-prod still only eligible, her name unchanged.
        #expect(model.holding(of: "u-alice", role: "db-read") == nil)
        #expect(model.holding(of: "u-alice", role: "sec-admin") == nil)
        #expect(model.holding(of: "u-alice", role: "dba-prod")?.active == nil)
        #expect(model.holding(of: "u-alice", role: "dba-prod")?.eligible != nil)
        #expect(model.identities["u-alice"]?.username == "Alice")
        // Nobody else changed.
        #expect(model.holdings(of: "u-bob") == World.model.holdings(of: "u-bob"))
        #expect(model.holdings.count == World.model.holdings.count)
    }

    /// Grant, then revoke, through the index: each answer changes without a rebuild.
    @Test func grantThenRevokeChangesTheAnswer() {
        let index = AccessIndex(World.model)
        let ask = World.assume("alice", "sec-admin")
        #expect(index.evaluate(ask, now: World.now).reason == .notEligible)

        index.update { $0.upsertAssignment(World.eligible("u-alice", "sec-admin")) }
        #expect(index.evaluate(ask, now: World.now).reason == .eligibleNotActive)

        let before = index.snapshot
        index.update { $0.upsertAssignment(World.active("u-alice", "sec-admin", until: World.now + 60)) }
        #expect(index.evaluate(ask, now: World.now).allowed)
        #expect(index.evaluate(World.checkout("alice", "vault-root"), now: World.now).allowed)
        // A snapshot taken earlier keeps the state it saw.
        #expect(before.evaluate(ask, now: World.now).reason == .eligibleNotActive)

        index.update {
            $0.removeAssignment(AssignmentKey(identityID: "u-alice", role: "sec-admin", state: .active))
        }
        #expect(index.evaluate(ask, now: World.now).reason == .eligibleNotActive)
        #expect(index.evaluate(World.checkout("alice", "vault-root"), now: World.now).reason == .noRoleUnlocks)

        index.update {
            $0.removeAssignment(AssignmentKey(identityID: "u-alice", role: "sec-admin", state: .eligible))
        }
        #expect(index.evaluate(ask, now: World.now).reason == .notEligible)
        #expect(index.snapshot.holding(of: "u-alice", role: "sec-admin") == nil)
        // Removing what is not there changes nothing.
        index.update { $0.removeAssignment(AssignmentKey(identityID: "u-zed", role: "x", state: .active)) }
        #expect(
            index.snapshot
                == {
                    var model = World.model
                    model.upsertAssignment(World.eligible("u-alice", "sec-admin"))
                    model.removeAssignment(AssignmentKey(identityID: "u-alice", role: "sec-admin", state: .eligible))
                    return model
                }()
        )
    }

    @Test func upsertingAnAssignmentReplacesTheOneWithItsKey() {
        var model = World.model
        model.upsertAssignment(World.active("u-bob", "dba-prod", until: World.now + 7_200))
        #expect(model.holding(of: "u-bob", role: "dba-prod")?.active?.until == World.now + 7_200)
        #expect(model.evaluate(World.assume("bob", "dba-prod"), now: World.now + 3_600).allowed)
    }

    @Test func renamingAnIdentityMovesItsUsername() {
        var model = World.model
        var alice = World.identities[0]
        alice.username = "alicia"
        model.upsertIdentity(alice)
        #expect(model.evaluate(World.assume("alice", "db-read"), now: World.now).reason == .unknownSubject)
        #expect(model.evaluate(World.assume("Alicia", "db-read"), now: World.now).allowed)
        #expect(model.idsByUsername["alice"] == nil)
        // Only the case changes: still found.
        alice.username = "ALICIA"
        model.upsertIdentity(alice)
        #expect(model.evaluate(World.assume("alicia", "db-read"), now: World.now).allowed)
    }

    @Test func identityStateChangesApply() {
        var model = World.model
        var alice = World.identities[0]
        alice.state = .disabled
        model.upsertIdentity(alice)
        let decision = model.evaluate(World.assume("alice", "db-read"), now: World.now)
        #expect(decision.reason == .identityInactive)
        #expect(decision.context["state"] == "disabled")
        alice.state = .active
        model.upsertIdentity(alice)
        #expect(model.evaluate(World.assume("alice", "db-read"), now: World.now).allowed)
    }

    @Test func hrTerminationAppliesAndClears() {
        let index = AccessIndex(World.model)
        index.update { $0.setTerminated("u-alice", reason: "contract ended") }
        let decision = index.evaluate(World.checkout("alice", "pg-prod-ro"), now: World.now)
        #expect(decision.reason == .identityInactive)
        #expect(decision.reasonAdmin == "identity is terminated (by HR or an offboarding)")
        #expect(!decision.reasonAdmin.contains("contract ended"), "HR's reason is not told to the caller")
        #expect(decision.context["hrTerminated"] == true)
        index.update { $0.setTerminated("u-alice", reason: nil) }
        #expect(index.evaluate(World.checkout("alice", "pg-prod-ro"), now: World.now).allowed)
    }

    @Test func replacingMappingsChangesRolesAndCredentials() {
        var model = World.model
        var mappings = World.mappings
        mappings.roles.removeAll { $0.name == "db-read" }
        mappings.roles.append(RoleDefinition(name: "db-read-v2", tier: 2, mode: .standing, credentials: ["pg-prod-ro"]))
        model.replaceMappings(mappings)
        #expect(model.evaluate(World.assume("alice", "db-read"), now: World.now).reason == .unknownRole)
        let checkout = model.evaluate(World.checkout("alice", "pg-prod-ro"), now: World.now)
        #expect(checkout.reason == .noRoleUnlocks)
        #expect(checkout.context["roles"] == ["db-read-v2"])
        // The assignment survived: the role coming back restores the answer.
        model.replaceMappings(World.mappings)
        #expect(model.evaluate(World.assume("alice", "db-read"), now: World.now).allowed)
    }

    @Test func theFirstDefinitionOfARoleWins() {
        var mappings = World.mappings
        mappings.roles.append(RoleDefinition(name: "dba-prod", tier: 9, mode: .standing))
        let model = AccessModel(mappings: mappings, state: World.state)
        #expect(model.roles["dba-prod"]?.tier == 0)
    }
}
