public import Logging
public import TenureAccess
public import TenureCore
public import TenureStore

/// Builds the access model from the store (off the hot path: at start, and after a sync or an
/// offboarding replaced many assignments at once).
public enum ModelLoader {
    /// `now` decides which HR termination dates have passed (the API's clock, as everywhere else).
    ///
    /// A plan saved and not yet finished — applied at this moment by this server (its rotations run
    /// with the coordinator let go), by a `tenure sync` or `tenure offboard` beside it, or left by a
    /// crash for the next sync to resume — will be carried through: what it takes away is taken
    /// away now (`withdraw(aheadOf:)`), not once its last rotation is done. Every open plan, except
    /// one the guard held (never approved: it is closed as held, not applied). They are read before
    /// the state, so that a plan finishing between the two reads is at worst withdrawn again, never
    /// missed. One whose stored plan cannot be read (hand-edited, or saved by an incompatible
    /// version) is withdrawn from its journal entries, each stored on its own — held or not, since
    /// that cannot be told, so it can only deny more until the plan is dealt with (fail closed).
    /// An identity with an entry that cannot be read either loses everything it holds. The plan is
    /// logged as an error, with the counts. The server still starts and reloads; the sync that would
    /// resume the plan fails on it, loudly.
    public static func load(
        store: SQLiteStore,
        mappings: Mappings,
        now: Double,
        logger: Logger? = nil
    ) async throws -> AccessModel {
        let (plans, unreadable) = try await store.openPlans()
        for plan in unreadable {
            logger?.error(
                plan.unreadableEntries == 0
                    ? "an unfinished plan cannot be read: what its journal takes away is withdrawn ahead"
                    : "an unfinished plan cannot be read: what its journal takes away is withdrawn ahead, and identities with journal entries that cannot be read either hold nothing",
                metadata: [
                    "plan": "\(plan.id)", "error": "\(plan.reason)",
                    "journal.read": "\(plan.entries.count)", "journal.unreadable": "\(plan.unreadableEntries)",
                    "journal.unreadable.identities": "\(plan.unreadableEntryIdentities.count)",
                ]
            )
        }
        let open = plans.filter { !$0.guardVerdict.held }
        let state = try await store.loadState()
        let terminated = try await store.hrTerminations(now: now)
        let mfa = try await store.credentialsRequiringMFA()
        var model = AccessModel(mappings: mappings, state: state, hrTerminated: terminated, mfaCredentials: mfa)
        for plan in open { model.withdraw(aheadOf: plan) }
        for plan in unreadable {
            for entry in plan.entries { model.withdraw(aheadOf: entry.action, of: entry.identityID) }
            for identityID in plan.unreadableEntryIdentities { model.withdrawEverything(of: identityID) }
        }
        return model
    }
}
