public import TenureCore

/// The persistent PIM model: identities, assignments, plans with their apply journal, and the
/// tamper-evident audit log.
///
/// Implementations keep their storage types (SQL, drivers) out of this protocol so another backend
/// (PostgreSQL) can be added behind it. Every method that changes something does it in one
/// transaction: it either happens entirely or not at all.
public protocol PIMStore: Sendable {
    /// Every identity and assignment, as last recorded.
    func loadState() async throws -> PIMState

    /// Saves a plan (its JSON, content hash, actor, status `pending`) and its journal — one row per
    /// action in the order given: (identityID, actionIndex, action JSON) — in one transaction.
    /// Returns the plan's id. The entries' `id` and `done` are ignored: the store assigns ids and a new
    /// journal has nothing done.
    func savePlan(_ plan: Plan, hash: String, actor: String, journal: [JournalEntry]) async throws -> Int64

    /// What a leaver may still know from before: assignments that ended at or after `since` (from
    /// the audit log's `role.revoked` / `role.expired` records), and vault check-outs made at or
    /// after `since` or still open.
    /// `identityID`: only that identity's (an offboarding reads one person's history, through the
    /// audit log's subject index and the check-outs' identity index); nil for everyone's (a sync).
    func leaverHistory(since: Double, identityID: String?) async throws
        -> (ended: [EndedHolding], checkouts: [CheckoutRecord])

    /// The part of the model about one identity: its record, assignments and write-back memberships
    /// (an offboarding plans from this, without loading everyone).
    func loadState(identityID: String) async throws -> PIMState
    /// The identity records with this username (ignoring case), whatever their state (index
    /// `identity_username`).
    func identityRecords(username: String) async throws -> [IdentityRecord]

    /// Identities HR or an operator terminated (id → why); see `SQLiteStore.hrTerminations`.
    func hrTerminations(now: Double) async throws -> [String: String]

    /// Stores a scheduled offboarding with its audit records.
    func addOffboarding(_ offboarding: Offboarding, audit: [AuditEvent]) async throws

    /// Marks a scheduled offboarding done, with the plan that carried it out.
    func completeOffboarding(_ id: String, planID: Int64?, at time: Double, audit: [AuditEvent]) async throws

    /// Offboardings in a state, due by a time, oldest first.
    func offboardings(state: Offboarding.State?, dueBy: Double?) async throws -> [Offboarding]

    /// Every offboarding of one identity (any state, whoever asked for it), oldest first, read
    /// without reading the others'.
    func offboardings(identityID: String) async throws -> [Offboarding]

    /// One offboarding by its id (its primary key), or nil.
    func offboarding(id: String) async throws -> Offboarding?

    /// The drift findings as last recorded, with when each was first seen.
    func driftFindings() async throws -> [RecordedDrift]

    /// Replaces the recorded drift with `current` in one transaction: a finding not recorded before
    /// is audited as `drift.detected`, a recorded one no longer found as `drift.resolved` (each once,
    /// not on every run). Returns the new and the resolved findings.
    func recordDrift(_ current: [DriftFinding], time: Double, actor: String) async throws
        -> (detected: [DriftFinding], resolved: [DriftFinding])

    /// The oldest plan whose status is `pending` or `applying`, with its journal (done flags), in
    /// journal order.
    func unfinishedPlan() async throws -> StoredPlan?

    /// The ids of a plan's journal entries, in journal order (cheap: no plan or action decoding).
    func journalEntryIDs(planID: Int64) async throws -> [Int64]

    /// Applies several journal entries in ONE transaction, each exactly as `applyJournalEntry` does
    /// (its change, its done-mark and its audit records together; entries already done are
    /// skipped). A crash loses the whole batch or none of it, so resume stays exact; batching only
    /// saves commits. Returns how many entries were applied.
    func applyJournalEntries(planID: Int64, _ entries: [JournalApplication]) async throws -> Int

    /// In ONE transaction: applies the state change, marks journal entry `entryID` done, appends the
    /// audit events (chained, MACed), and sets the plan's status to `applying`. If the entry is
    /// already done it does nothing and returns false (idempotent resume).
    ///
    /// Throws when the plan or the entry does not exist, or the plan is already finished.
    func applyJournalEntry(planID: Int64, entryID: Int64, change: StateChange, audit: [AuditEvent]) async throws
        -> Bool

    /// Marks the plan `applied` (or `held`, `failed`) and appends audit events, in one transaction.
    func finishPlan(_ planID: Int64, status: PlanStatus, audit: [AuditEvent]) async throws

    /// Appends events to the audit log in one transaction; returns the sequence range written (nil for
    /// no events).
    func appendAudit(_ events: [AuditEvent]) async throws -> ClosedRange<Int64>?

    /// Audit records matching `query`, in sequence order (newest first when asked).
    func auditRecords(_ query: AuditQuery) async throws -> [AuditRecord]

    /// Re-computes the audit chain and reports the first record that does not verify.
    func verifyAudit() async throws -> AuditVerification
}

/// A drift finding with when it was first and last seen.
public struct RecordedDrift: Sendable, Hashable {
    public var finding: DriftFinding
    public var firstSeen: Double
    public var lastSeen: Double

    public init(finding: DriftFinding, firstSeen: Double, lastSeen: Double) {
        self.finding = finding
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}

/// One action of a plan, as the apply journal records it.
public struct JournalEntry: Sendable, Hashable {
    /// Assigned by the store; 0 before the plan is saved.
    public var id: Int64
    public var identityID: String
    /// The action's index within its identity's plan.
    public var index: Int
    public var action: PlanAction
    /// True once the action's state change has been committed.
    public var done: Bool

    public init(id: Int64 = 0, identityID: String, index: Int, action: PlanAction, done: Bool = false) {
        self.id = id
        self.identityID = identityID
        self.index = index
        self.action = action
        self.done = done
    }
}

/// A saved plan and its journal.
public struct StoredPlan: Sendable, Hashable {
    public var id: Int64
    /// The plan's content hash, as given to `savePlan`.
    public var hash: String
    public var plan: Plan
    public var status: PlanStatus
    /// Who saved it.
    public var actor: String
    public var journal: [JournalEntry]

    public init(id: Int64, hash: String, plan: Plan, status: PlanStatus, actor: String, journal: [JournalEntry]) {
        self.id = id
        self.hash = hash
        self.plan = plan
        self.status = status
        self.actor = actor
        self.journal = journal
    }
}

/// An open plan whose stored plan cannot be read, and the journal entries of it that can (each
/// entry is stored on its own, so a plan from an incompatible version or a hand-edited one may
/// still say what it takes away).
public struct UnreadablePlan: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var identityID: String
        public var action: PlanAction

        public init(identityID: String, action: PlanAction) {
            self.identityID = identityID
            self.action = action
        }
    }

    public var id: Int64
    /// Why the plan cannot be read (the decoding error; a plan holds no secrets).
    public var reason: String
    /// Its entries not yet done (what is done is in the state already) that could be read, in
    /// journal order.
    public var entries: [Entry]
    /// How many entries not yet done could not be read either.
    public var unreadableEntries: Int
    /// The identities of those entries (whatever they would do to them is unknown), when the
    /// identity could be read.
    public var unreadableEntryIdentities: Set<String>

    public init(
        id: Int64,
        reason: String,
        entries: [Entry],
        unreadableEntries: Int = 0,
        unreadableEntryIdentities: Set<String> = []
    ) {
        self.id = id
        self.reason = reason
        self.entries = entries
        self.unreadableEntries = unreadableEntries
        self.unreadableEntryIdentities = unreadableEntryIdentities
    }
}

/// Where a saved plan is in its life.
public enum PlanStatus: String, Sendable, Hashable, CaseIterable {
    /// Saved, nothing applied yet.
    case pending
    /// At least one journal entry applied; not finished.
    case applying
    /// Every action applied.
    case applied
    /// Withheld (mass-revocation guard, or a person said no).
    case held
    /// Given up.
    case failed

    /// True for `pending` and `applying`: the plan still has work to do.
    public var isOpen: Bool { self == .pending || self == .applying }
}

/// The change one journal entry makes to the stored model.
public enum StateChange: Sendable, Hashable {
    /// Insert or replace the assignment with the same key.
    case upsertAssignment(Assignment)
    /// Remove the assignment (nothing happens when it does not exist).
    case deleteAssignment(AssignmentKey)
    /// Remove one assignment and insert (or replace) another, atomically: an elevation turns the
    /// eligible assignment into an active one.
    case replaceAssignment(remove: AssignmentKey, add: Assignment)
    /// Insert or replace the identity; appends a history row when its state, DN, username,
    /// attributes or groups changed (or it is new).
    case upsertIdentity(IdentityRecord)
    /// Record a member Tenure wrote into a write-back group (replacing the row of the same group
    /// and identity).
    case addWriteBackMember(WriteBackMember)
    /// Forget a member Tenure wrote (nothing happens when there is none).
    case removeWriteBackMember(group: String, identityID: String)
    /// Several changes, in order, in the same transaction.
    case all([StateChange])
    /// Nothing to change (an action withheld or already in effect), but the entry is marked done.
    case none
}

/// Which audit records to read. Every condition set must hold.
public struct AuditQuery: Sendable, Hashable {
    /// Only records with a greater sequence number.
    public var afterSequence: Int64?
    /// Only records with a smaller sequence number.
    public var beforeSequence: Int64?
    /// Only records at or after this time (seconds since 1970).
    public var since: Double?
    /// Only records before this time (seconds since 1970, exclusive).
    public var until: Double?
    /// Only records about this subject.
    public var subject: String?
    /// At most this many records.
    public var limit: Int?
    /// Newest (highest sequence) first.
    public var newestFirst: Bool

    public init(
        afterSequence: Int64? = nil,
        beforeSequence: Int64? = nil,
        since: Double? = nil,
        until: Double? = nil,
        subject: String? = nil,
        limit: Int? = nil,
        newestFirst: Bool = false
    ) {
        self.afterSequence = afterSequence
        self.beforeSequence = beforeSequence
        self.since = since
        self.until = until
        self.subject = subject
        self.limit = limit
        self.newestFirst = newestFirst
    }
}

/// The result of re-computing the audit chain.
///
/// The chain detects a modified, inserted, deleted or moved record anywhere but at the very end:
/// removing the newest records leaves a shorter chain that still verifies. Keep `records` (or the
/// newest MAC) somewhere else — a ticket, a log shipper, the next run's output — to detect that.
public struct AuditVerification: Sendable, Hashable {
    /// How many records verified (all of them when the log is intact; those before the first bad
    /// one otherwise).
    public var records: Int64
    /// The first sequence number that does not verify (a missing record's number, for a gap).
    public var firstBadSequence: Int64?
    /// What is wrong there, for people.
    public var problem: String?

    public init(records: Int64, firstBadSequence: Int64? = nil, problem: String? = nil) {
        self.records = records
        self.firstBadSequence = firstBadSequence
        self.problem = problem
    }

    public var isIntact: Bool { self.firstBadSequence == nil && self.problem == nil }
}

/// One journal entry to apply: the model change and its audit records.
public struct JournalApplication: Sendable, Hashable {
    public var entryID: Int64
    public var change: StateChange
    public var audit: [AuditEvent]

    public init(entryID: Int64, change: StateChange, audit: [AuditEvent]) {
        self.entryID = entryID
        self.change = change
        self.audit = audit
    }
}
