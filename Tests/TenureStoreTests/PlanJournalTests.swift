import GRDB
import TenureCore
import TenureStore
import Testing

/// A small plan: one leaver losing a role, one joiner gaining one and being recorded.
func samplePlan(createdAt: Double = 1_764_230_000) -> (Plan, [JournalEntry]) {
    let joiner = IdentityRecord(
        id: "id-ada",
        state: .active,
        dn: "uid=ada,ou=people,dc=example,dc=org",
        username: "ada",
        attributes: ["department": "Database", "mail": "ada@example.org"],
        groups: ["cn=dba,ou=groups,dc=example,dc=org"],
        firstSeen: createdAt,
        lastSeen: createdAt
    )
    let plans = [
        IdentityPlan(
            identityID: "id-ada",
            username: "ada",
            dn: joiner.dn,
            events: [LifecycleEvent(kind: .joiner, reasons: ["new in the directory"])],
            actions: [.grantStanding(role: "db-admin", rule: "dba-team"), .recordIdentity(joiner)]
        ),
        IdentityPlan(
            identityID: "id-bob",
            username: "bob",
            dn: "uid=bob,ou=people,dc=example,dc=org",
            events: [LifecycleEvent(kind: .leaver, reasons: ["gone from the directory"])],
            actions: [.revoke(role: "db-admin", state: .active, reason: "leaver")]
        ),
    ]
    let plan = Plan(
        identities: plans,
        conflicts: [],
        protectedChanges: [],
        guardVerdict: GuardVerdict(held: false, reason: nil, leavers: 1, inScope: 2),
        createdAt: createdAt
    )
    let journal = plans.flatMap { identity in
        identity.actions.enumerated().map { JournalEntry(identityID: identity.identityID, index: $0, action: $1) }
    }
    return (plan, journal)
}

@Suite("Plans, the journal and state changes")
struct PlanJournalTests {
    @Test func savedPlanComesBackAsUnfinishedWithItsJournalInOrder() async throws {
        try await withStore { store, _ throws in
            #expect(try await store.unfinishedPlan() == nil)
            let (plan, journal) = samplePlan()
            let id = try await store.savePlan(plan, hash: "sha256:abc", actor: "cli:alice", journal: journal)
            let stored = try #require(try await store.unfinishedPlan())
            #expect(stored.id == id)
            #expect(stored.hash == "sha256:abc")
            #expect(stored.actor == "cli:alice")
            #expect(stored.status == .pending)
            #expect(stored.plan == plan)
            #expect(stored.journal.map(\.identityID) == ["id-ada", "id-ada", "id-bob"])
            #expect(stored.journal.map(\.index) == [0, 1, 0])
            #expect(stored.journal.map(\.action) == journal.map(\.action))
            #expect(stored.journal.allSatisfy { !$0.done && $0.id > 0 })
            #expect(Set(stored.journal.map(\.id)).count == 3)
        }
    }

    @Test func applyingEntriesChangesStateOnceAndAuditsInTheSameTransaction() async throws {
        try await withStore { store, _ throws in
            let (plan, journal) = samplePlan()
            let planID = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            let entries = try #require(try await store.unfinishedPlan()).journal
            let grant = Assignment(
                identityID: "id-ada",
                role: "db-admin",
                state: .active,
                source: "rule:dba-team",
                since: 1_764_230_000
            )
            let audit = AuditEvent(
                time: 1_764_230_001,
                actor: "sync",
                type: "role.granted",
                subject: "id-ada",
                object: "db-admin"
            )

            #expect(
                try await store.applyJournalEntry(
                    planID: planID,
                    entryID: entries[0].id,
                    change: .upsertAssignment(grant),
                    audit: [audit]
                )
            )
            // A second apply of the same entry (a resumed run) changes nothing and audits nothing.
            #expect(
                !(try await store.applyJournalEntry(
                    planID: planID,
                    entryID: entries[0].id,
                    change: .deleteAssignment(grant.key),
                    audit: [audit]
                ))
            )
            #expect(try await store.loadState().assignments == [grant])
            #expect(try await store.auditRecords(AuditQuery()).map(\.event) == [audit])

            let resumed = try #require(try await store.unfinishedPlan())
            #expect(resumed.status == .applying)
            #expect(resumed.journal.map(\.done) == [true, false, false])

            guard case .recordIdentity(let record) = entries[1].action else {
                Issue.record("entry 1 should record the identity")
                return
            }
            #expect(
                try await store.applyJournalEntry(
                    planID: planID,
                    entryID: entries[1].id,
                    change: .upsertIdentity(record),
                    audit: []
                )
            )
            #expect(try await store.applyJournalEntry(planID: planID, entryID: entries[2].id, change: .none, audit: []))
            let state = try await store.loadState()
            #expect(state.identities == ["id-ada": record])

            let done = AuditEvent(time: 1_764_230_002, actor: "sync", type: "plan.applied", object: "plan \(planID)")
            try await store.finishPlan(planID, status: .applied, audit: [done])
            #expect(try await store.unfinishedPlan() == nil)
            #expect(try await store.auditRecords(AuditQuery()).map(\.event) == [audit, done])
            #expect(try await store.verifyAudit() == AuditVerification(records: 2))

            // A finished plan takes no more entries or finishes; done entries still answer false.
            let finished = await #expect(throws: StoreError.self) {
                try await store.finishPlan(planID, status: .failed, audit: [])
            }
            #expect(finished?.code == .planFinished)
            #expect(
                !(try await store.applyJournalEntry(planID: planID, entryID: entries[2].id, change: .none, audit: []))
            )
        }
    }

    @Test func aFailingChangeRollsBackTheWholeEntry() async throws {
        try await withStore { store, _ throws in
            let (plan, journal) = samplePlan()
            let planID = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            let entry = try #require(try await store.unfinishedPlan()).journal[0]
            let bad = AuditEvent(time: .nan, actor: "sync", type: "role.granted")
            let grant = Assignment(identityID: "id-ada", role: "db-admin", state: .active, source: "rule:x", since: 1)
            await #expect(throws: StoreError.self) {
                try await store.applyJournalEntry(
                    planID: planID,
                    entryID: entry.id,
                    change: .upsertAssignment(grant),
                    audit: [bad]
                )
            }
            #expect(try await store.loadState().assignments.isEmpty)
            let stored = try #require(try await store.unfinishedPlan())
            #expect(stored.status == .pending)
            #expect(!stored.journal[0].done)
        }
    }

    @Test func unknownPlansEntriesAndOpenStatusesAreRefused() async throws {
        try await withStore { store, _ throws in
            let (plan, journal) = samplePlan()
            let planID = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            let otherID = try await store.savePlan(plan, hash: "h2", actor: "sync", journal: journal)
            let otherEntry = try await self.journalIDs(store, planID: otherID)[0]

            let unknownPlan = await #expect(throws: StoreError.self) {
                try await store.applyJournalEntry(planID: 999, entryID: 1, change: .none, audit: [])
            }
            #expect(unknownPlan?.code == .unknownPlan)
            // An entry of another plan is not an entry of this one.
            let wrongEntry = await #expect(throws: StoreError.self) {
                try await store.applyJournalEntry(planID: planID, entryID: otherEntry, change: .none, audit: [])
            }
            #expect(wrongEntry?.code == .unknownJournalEntry)
            let openStatus = await #expect(throws: StoreError.self) {
                try await store.finishPlan(planID, status: .applying, audit: [])
            }
            #expect(openStatus?.code == .invalidStatus)
            let missing = await #expect(throws: StoreError.self) {
                try await store.finishPlan(12_345, status: .failed, audit: [])
            }
            #expect(missing?.code == .unknownPlan)
        }
    }

    @Test func unfinishedPlanIsTheOldestOpenOne() async throws {
        try await withStore { store, _ throws in
            let (plan, journal) = samplePlan()
            let first = try await store.savePlan(plan, hash: "1", actor: "sync", journal: journal)
            let second = try await store.savePlan(plan, hash: "2", actor: "sync", journal: [])
            let third = try await store.savePlan(plan, hash: "3", actor: "sync", journal: journal)
            #expect(try await store.unfinishedPlan()?.id == first)
            try await store.finishPlan(first, status: .held, audit: [])
            let next = try #require(try await store.unfinishedPlan())
            #expect(next.id == second)
            #expect(next.journal.isEmpty)
            try await store.finishPlan(second, status: .failed, audit: [])
            #expect(try await store.unfinishedPlan()?.id == third)
        }
    }

    @Test func assignmentsUpsertDeleteAndReplaceByKey() async throws {
        try await withStore { store, _ throws in
            let (plan, _) = samplePlan()
            let eligible = Assignment(identityID: "i", role: "r", state: .eligible, source: "rule:a", since: 1)
            let active = Assignment(
                identityID: "i",
                role: "r",
                state: .active,
                source: "activation:7",
                since: 2,
                until: 3
            )
            let replaced = Assignment(
                identityID: "i",
                role: "r",
                state: .eligible,
                source: "rule:b",
                since: 4,
                until: 9
            )
            let elevated = Assignment(identityID: "i", role: "r", state: .active, source: "rule:b", since: 10)
            let other = Assignment(identityID: "j", role: "r", state: .eligible, source: "rule:c", since: 11)
            let changes: [StateChange] = [
                .upsertAssignment(eligible), .upsertAssignment(active), .upsertAssignment(replaced),
                .deleteAssignment(active.key),
                .deleteAssignment(AssignmentKey(identityID: "nobody", role: "r", state: .active)),
                .upsertAssignment(other),
                // An elevation: the eligible assignment becomes an active one in the same transaction.
                .replaceAssignment(remove: replaced.key, add: elevated),
            ]
            let journal = changes.indices.map {
                JournalEntry(identityID: "i", index: $0, action: .expire(role: "r", state: .active, reason: "x"))
            }
            let planID = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            let ids = try await self.journalIDs(store, planID: planID)
            for (id, change) in zip(ids, changes) {
                #expect(try await store.applyJournalEntry(planID: planID, entryID: id, change: change, audit: []))
            }
            #expect(try await store.loadState().assignments == [elevated, other])
        }
    }

    @Test func identityHistoryGrowsOnlyWhenSomethingTrackedChanges() async throws {
        try await withStore { store, directory throws in
            var record = IdentityRecord(
                id: "id-1",
                state: .active,
                dn: "uid=a,dc=x",
                username: "a",
                attributes: ["title": "DBA"],
                groups: ["cn=g1"],
                firstSeen: 100,
                lastSeen: 100
            )
            var versions = [record]
            record.lastSeen = 200  // seen again, nothing else: no history row
            versions.append(record)
            record.attributes["title"] = "Lead DBA"
            record.lastSeen = 300
            versions.append(record)
            record.groups.append("cn=g2")
            record.lastSeen = 400
            versions.append(record)
            record.state = .terminated
            record.terminatedAt = 500
            record.lastSeen = 500
            versions.append(record)
            record.lastSeen = 600
            versions.append(record)

            let (plan, _) = samplePlan()
            let journal = versions.indices.map {
                JournalEntry(identityID: "id-1", index: $0, action: .recordIdentity(versions[$0]))
            }
            let planID = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            for (id, version) in zip(try await self.journalIDs(store, planID: planID), versions) {
                _ = try await store.applyJournalEntry(
                    planID: planID,
                    entryID: id,
                    change: .upsertIdentity(version),
                    audit: []
                )
            }
            #expect(try await store.loadState().identities == ["id-1": versions.last!])

            let history = try withRawDatabase(directory.file("tenure.sqlite")) { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT sequence, time, state, attributes, groups FROM identity_history ORDER BY sequence"
                )
            }
            #expect(history.map { $0["sequence"] as Int64 } == [1, 2, 3, 4])
            #expect(history.map { $0["time"] as Double } == [100, 300, 400, 500])
            #expect(history.map { $0["state"] as String } == ["active", "active", "active", "terminated"])
            #expect(history[1]["attributes"] as String == #"{"title":"Lead DBA"}"#)
            #expect(history[2]["groups"] as String == #"["cn=g1","cn=g2"]"#)
        }
    }

    @Test func loadStateReadsEveryIdentityAndAssignment() async throws {
        try await withStore { store, _ throws in
            let (plan, _) = samplePlan()
            let records = (0..<50).map { (index: Int) -> IdentityRecord in
                let groups: [String] = (0..<(index % 4)).map { "cn=g\($0)" }
                let terminatedAt: Double? = index % 9 == 0 ? Double(index) : nil
                return IdentityRecord(
                    id: "id-\(index)",
                    state: index % 7 == 0 ? .disabled : .active,
                    dn: "uid=u\(index),dc=x",
                    username: index % 5 == 0 ? nil : "u\(index)",
                    attributes: ["n": "\(index)", "quote": "\"\(index)\""],
                    groups: groups,
                    firstSeen: Double(index),
                    lastSeen: Double(index) + 0.5,
                    terminatedAt: terminatedAt
                )
            }
            let assignments = records.prefix(10).map {
                Assignment(identityID: $0.id, role: "role", state: .eligible, source: "rule:r", since: $0.firstSeen)
            }
            let changes = records.map(StateChange.upsertIdentity) + assignments.map(StateChange.upsertAssignment)
            let journal = changes.indices.map {
                JournalEntry(identityID: "x", index: $0, action: .grantEligible(role: "r", rule: "r"))
            }
            let planID = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            for (id, change) in zip(try await self.journalIDs(store, planID: planID), changes) {
                _ = try await store.applyJournalEntry(planID: planID, entryID: id, change: change, audit: [])
            }
            let state = try await store.loadState()
            #expect(state.identities == Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) }))
            #expect(state.assignments == assignments.sorted { $0.key < $1.key })
        }
    }

    private func journalIDs(_ store: SQLiteStore, planID: Int64) async throws -> [Int64] {
        try withRawDatabase(store.path) { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM plan_journal WHERE planID = ? ORDER BY id", arguments: [planID])
        }
    }
}

@Suite("Batched journal application")
struct JournalBatchTests {
    @Test func aBatchAppliesEveryEntrySkipsDoneOnesAndIsAtomic() async throws {
        try await withStore { store, _ throws in
            let (plan, journal) = samplePlan()
            let id = try await store.savePlan(plan, hash: "h", actor: "sync", journal: journal)
            let entries = try #require(try await store.unfinishedPlan()).journal
            let grant = Assignment(
                identityID: "id-ada",
                role: "db-admin",
                state: .active,
                source: "rule:dba-team",
                since: 1
            )
            func application(_ index: Int, _ change: StateChange) -> JournalApplication {
                JournalApplication(entryID: entries[index].id, change: change, audit: [event(index)])
            }

            // A batch with an unknown entry fails whole: nothing of it is applied or audited.
            let bad = [
                application(0, .upsertAssignment(grant)),
                JournalApplication(entryID: 999_999, change: .none, audit: []),
            ]
            await #expect(throws: StoreError.self) { try await store.applyJournalEntries(planID: id, bad) }
            #expect(try await store.loadState().assignments.isEmpty)
            #expect(try await store.unfinishedPlan()?.journal.allSatisfy { !$0.done } == true)
            #expect(try await store.verifyAudit().records == 0)

            // The first entry alone, then a batch of all three: the done one is skipped.
            #expect(try await store.applyJournalEntries(planID: id, [application(0, .upsertAssignment(grant))]) == 1)
            let all = [
                application(0, .upsertAssignment(grant)), application(1, .none),
                application(
                    2,
                    .deleteAssignment(AssignmentKey(identityID: "id-bob", role: "db-admin", state: .active))
                ),
            ]
            #expect(try await store.applyJournalEntries(planID: id, all) == 2)
            #expect(try await store.unfinishedPlan()?.journal.allSatisfy(\.done) == true)
            #expect(try await store.loadState().assignments == [grant])
            #expect(try await store.verifyAudit().records == 3)  // one audit event per applied entry
        }
    }

    /// What a check-out asks: whether an open plan still has to rotate the credential, whoever
    /// saved it — not a held or finished plan, nor an entry already done; the oldest such plan.
    @Test func aCredentialIsStillToRotateWhileAnOpenPlansEntryForItIsNotDone() async throws {
        try await withStore { store, _ throws in
            func leaver(_ credentials: [String], held: Bool = false) -> (Plan, [JournalEntry]) {
                let actions: [PlanAction] =
                    [.revoke(role: "db-admin", state: .active, reason: "leaver")]
                    + credentials.map { .rotateCredential(name: $0, role: "db-admin", reason: "leaver bob") }
                let plan = Plan(
                    identities: [
                        IdentityPlan(
                            identityID: "id-bob",
                            username: "bob",
                            dn: "uid=bob,ou=people,dc=example,dc=org",
                            events: [LifecycleEvent(kind: .leaver, reasons: ["gone"])],
                            actions: actions
                        )
                    ],
                    conflicts: [],
                    protectedChanges: [],
                    guardVerdict: GuardVerdict(held: held, reason: held ? "too many" : nil, leavers: 1, inScope: 1),
                    createdAt: 1
                )
                return (plan, actions.enumerated().map { JournalEntry(identityID: "id-bob", index: $0, action: $1) })
            }
            func stillToRotate() async throws -> [String: Int64] {
                var plans: [String: Int64] = [:]
                for name in ["db-root", "db-backup", "db-held", "db-admin", "leaver bob"] {
                    plans[name] = try await store.planStillToRotate(credential: name)
                }
                return plans
            }
            #expect(try await stillToRotate().isEmpty)
            let (plan, journal) = leaver(["db-root", "db-backup"])
            let planID = try await store.savePlan(plan, hash: "h", actor: "cli:offboard", journal: journal)
            let (heldPlan, heldJournal) = leaver(["db-held"], held: true)
            let heldID = try await store.savePlan(heldPlan, hash: "held", actor: "sync", journal: heldJournal)
            try await store.finishPlan(heldID, status: .held, audit: [])
            // A later open plan rotating the same credential: the oldest is named.
            let (later, laterJournal) = leaver(["db-root"])
            let laterID = try await store.savePlan(later, hash: "later", actor: "sync", journal: laterJournal)
            #expect(try await stillToRotate() == ["db-root": planID, "db-backup": planID])
            try await store.finishPlan(laterID, status: .failed, audit: [])

            // The revocation and one rotation done: the other is still to come.
            let ids = try #require(try await store.unfinishedPlan()).journal.map(\.id)
            _ = try await store.applyJournalEntries(
                planID: planID,
                [
                    JournalApplication(
                        entryID: ids[0],
                        change: .deleteAssignment(
                            AssignmentKey(identityID: "id-bob", role: "db-admin", state: .active)
                        ),
                        audit: []
                    ),
                    JournalApplication(entryID: ids[1], change: .none, audit: []),
                ]
            )
            #expect(try await stillToRotate() == ["db-backup": planID])

            // A plan that ends (failed, say) without doing the rest holds nothing back.
            try await store.finishPlan(planID, status: .failed, audit: [])
            #expect(try await stillToRotate().isEmpty)
        }
    }
}
