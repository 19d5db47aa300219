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
    /// missed. One that cannot be read is logged and left out (the model is then what the store
    /// committed, as before withdrawing; the sync that would resume it fails on it, loudly): the
    /// server still starts and reloads.
    public static func load(
        store: SQLiteStore,
        mappings: Mappings,
        now: Double,
        logger: Logger? = nil
    ) async throws -> AccessModel {
        let (plans, unreadable) = try await store.openPlans()
        for error in unreadable {
            logger?.error(
                "an unfinished plan cannot be read: what it revokes is not withdrawn ahead",
                metadata: ["error": "\(error)"]
            )
        }
        let open = plans.filter { !$0.guardVerdict.held }
        let state = try await store.loadState()
        let terminated = try await store.hrTerminations(now: now)
        let mfa = try await store.credentialsRequiringMFA()
        var model = AccessModel(mappings: mappings, state: state, hrTerminated: terminated, mfaCredentials: mfa)
        for plan in open { model.withdraw(aheadOf: plan) }
        return model
    }
}
