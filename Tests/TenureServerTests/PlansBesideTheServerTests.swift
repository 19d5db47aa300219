import Foundation
import GRDB
import TenureAccess
import TenureCore
import TenureEngine
import TenureServer
import TenureStore
import Testing

/// A plan applied by another process (`tenure sync` or `tenure offboard` beside `tenure serve`):
/// the server's index denies what it takes away as soon as the sweeper sees it saved, and follows
/// it to its end — not only its first entries.
@Suite struct PlansBesideTheServerTests {
    @Test func theIndexWithdrawsAnOpenPlanAheadAndFollowsItToTheEnd() async throws {
        let harness = try await Harness(
            mappings: Mappings(roles: [RoleDefinition(name: "app-admin", tier: 1, mode: .standing)]),
            state: PIMState(
                identities: ["id-ann": person("id-ann", "ann"), "id-carl": person("id-carl", "carl")],
                assignments: [
                    Assignment(identityID: "id-ann", role: "app-admin", state: .active, source: "manual", since: 0)
                ]
            )
        )
        let operations = harness.operations
        let store = harness.store
        func permits(_ subject: String) -> Bool {
            let request = EvaluationRequest(
                subject: Subject(type: "user", id: subject),
                resource: Resource(type: "role", id: "app-admin"),
                action: Action(name: "assume")
            )
            return operations.index.evaluate(request, now: Date().timeIntervalSince1970).allowed
        }
        try await operations.reloadIndexIfChangedElsewhere()
        #expect(permits("ann") && !permits("carl"))

        // Another process saves a plan: ann leaves, carl joins.
        let leaver = person("id-ann", "ann", state: .terminated)
        let carls = Assignment(identityID: "id-carl", role: "app-admin", state: .active, source: "rule:r", since: 1)
        let plan = Plan(
            identities: [
                leaving(
                    leaver,
                    [.revoke(role: "app-admin", state: .active, reason: "leaver"), .recordIdentity(leaver)]
                ),
                IdentityPlan(
                    identityID: "id-carl",
                    username: "carl",
                    dn: person("id-carl", "carl").dn,
                    events: [LifecycleEvent(kind: .joiner, reasons: ["rule r"])],
                    actions: [.grantStanding(role: "app-admin", rule: "r")]
                ),
            ],
            conflicts: [],
            protectedChanges: [],
            guardVerdict: GuardVerdict(held: false, reason: nil, leavers: 1, inScope: 2),
            createdAt: 1
        )
        let journal = SyncEngine.journal(for: plan)
        let planID = try await store.savePlan(plan, hash: "h", actor: "cli:test", journal: journal)
        let ids = try await store.journalEntryIDs(planID: planID)
        #expect(journal.map(\.action.phase) == [0, 1, 3])

        // Saved, nothing applied yet: ann is denied already, carl not granted yet.
        try await operations.reloadIndexIfChangedElsewhere()
        #expect(!permits("ann"), "the open plan's revocation was not withdrawn ahead")
        #expect(!permits("carl"))

        // Its revocation and grant applied, the plan still open: carl is followed.
        let revoked = AssignmentKey(identityID: "id-ann", role: "app-admin", state: .active)
        _ = try await store.applyJournalEntries(
            planID: planID,
            [
                JournalApplication(entryID: ids[0], change: .deleteAssignment(revoked), audit: []),
                JournalApplication(entryID: ids[1], change: .upsertAssignment(carls), audit: []),
            ]
        )
        try await operations.reloadIndexIfChangedElsewhere()
        #expect(permits("carl"), "entries applied after the first reload were not followed")
        #expect(!permits("ann"))

        // Finished.
        _ = try await store.applyJournalEntries(
            planID: planID,
            [JournalApplication(entryID: ids[2], change: .upsertIdentity(leaver), audit: [])]
        )
        try await store.finishPlan(planID, status: .applied, audit: [])
        try await operations.reloadIndexIfChangedElsewhere()
        #expect(permits("carl") && !permits("ann"))
        #expect(operations.index.snapshot.identities["id-ann"]?.state == .terminated)
    }

    /// Every open plan is withdrawn at a reload — not only the oldest (an older one a failed run
    /// left open would otherwise hide the one being applied) — except one the guard held, which
    /// was never approved and will be closed as held.
    @Test func everyOpenPlanIsWithdrawnButNotOneTheGuardHeld() async throws {
        let people = ["ann", "carl", "dave", "erin"]
        let harness = try await Harness(
            mappings: Mappings(roles: [RoleDefinition(name: "app-admin", tier: 1, mode: .standing)]),
            state: PIMState(
                identities: Dictionary(uniqueKeysWithValues: people.map { ("id-\($0)", person("id-\($0)", $0)) }),
                assignments: people.map {
                    Assignment(identityID: "id-\($0)", role: "app-admin", state: .active, source: "manual", since: 0)
                }
            )
        )
        func revoking(_ name: String, held: Bool) -> Plan {
            Plan(
                identities: [
                    IdentityPlan(
                        identityID: "id-\(name)",
                        username: name,
                        dn: person("id-\(name)", name).dn,
                        events: [LifecycleEvent(kind: .mover, reasons: ["left the group"])],
                        actions: [.revoke(role: "app-admin", state: .active, reason: "rule no longer matches")]
                    )
                ],
                conflicts: [],
                protectedChanges: [],
                guardVerdict: GuardVerdict(held: held, reason: held ? "too many" : nil, leavers: 0, inScope: 3),
                createdAt: 1
            )
        }
        for (name, held) in [("carl", false), ("ann", false), ("dave", true)] {
            let plan = revoking(name, held: held)
            _ = try await harness.store.savePlan(
                plan,
                hash: name,
                actor: "cli:test",
                journal: SyncEngine.journal(for: plan)
            )
        }
        try await harness.operations.reloadIndexIfChangedElsewhere()
        let index = harness.operations.index
        func permits(_ subject: String) -> Bool {
            index.evaluate(
                EvaluationRequest(
                    subject: Subject(type: "user", id: subject),
                    resource: Resource(type: "role", id: "app-admin"),
                    action: Action(name: "assume")
                ),
                now: Date().timeIntervalSince1970
            ).allowed
        }
        #expect(!permits("carl"))
        #expect(!permits("ann"), "the newer open plan was not withdrawn")
        #expect(permits("dave"), "a plan the guard held was withdrawn")

        // A plan that cannot be read (hand-edited, or saved by an incompatible version) is withdrawn
        // from its journal, whose entries are stored one by one: held or not, since that cannot be
        // told any more (it can only deny more). The server still loads its model (at start too)
        // rather than failing on it.
        func edit(_ sql: String) async throws {
            let database = try DatabaseQueue(path: harness.store.path)
            try await database.write { db in try db.execute(sql: sql) }
            try database.close()
        }
        try await edit("UPDATE plan SET planJSON = '{broken' WHERE hash IN ('carl', 'dave')")
        try await harness.operations.reloadIndex()
        #expect(!permits("carl"), "the unreadable plan's journal was not withdrawn")
        #expect(!permits("dave"), "the unreadable held plan's journal was not withdrawn")
        #expect(!permits("ann"))
        let model = try await ModelLoader.load(store: harness.store, mappings: harness.mappings, now: 0)
        #expect(model.holding(of: "id-ann", role: "app-admin") == nil)
        #expect(model.holding(of: "id-carl", role: "app-admin") == nil)

        // An entry already done is in the state: it is not withdrawn again. Of an entry that cannot
        // be read either, only the identity is known: it holds nothing until the plan is dealt
        // with. The rest of the journal still counts (erin's entry, readable, in carl's plan).
        #expect(permits("erin"))
        try await edit(
            """
            UPDATE plan_journal SET done = 1 WHERE planID = (SELECT id FROM plan WHERE hash = 'dave');
            INSERT INTO plan_journal (planID, identityID, actionIndex, actionJSON)
                SELECT planID, 'id-erin', 1, actionJSON FROM plan_journal
                WHERE planID = (SELECT id FROM plan WHERE hash = 'carl');
            UPDATE plan_journal SET actionJSON = '{broken' WHERE identityID = 'id-carl';
            """
        )
        let (_, unreadable) = try await harness.store.openPlans()
        #expect(unreadable.map(\.entries.count) == [1, 0])
        #expect(unreadable.first?.entries.first?.identityID == "id-erin")
        #expect(unreadable.map(\.unreadableEntries) == [1, 0])
        #expect(unreadable.map(\.unreadableEntryIdentities) == [["id-carl"], []])
        #expect(unreadable.allSatisfy { $0.reason.contains("does not decode") })
        try await harness.operations.reloadIndex()
        #expect(!permits("carl"), "an identity with an unreadable entry still holds its role")
        #expect(!permits("erin"), "the readable entry beside an unreadable one was not withdrawn")
        #expect(permits("dave"), "an entry already done was withdrawn")
        #expect(!permits("ann"))
    }
}
