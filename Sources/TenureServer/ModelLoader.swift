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
    /// missed.
    public static func load(store: SQLiteStore, mappings: Mappings, now: Double) async throws -> AccessModel {
        let open = try await store.openPlans().filter { !$0.guardVerdict.held }
        let state = try await store.loadState()
        let terminated = try await store.hrTerminations(now: now)
        let mfa = try await store.credentialsRequiringMFA()
        var model = AccessModel(mappings: mappings, state: state, hrTerminated: terminated, mfaCredentials: mfa)
        for plan in open { model.withdraw(aheadOf: plan) }
        return model
    }
}
