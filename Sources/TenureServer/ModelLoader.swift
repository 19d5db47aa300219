public import TenureAccess
public import TenureCore
public import TenureStore

/// Builds the access model from the store (off the hot path: at start, and after a sync or an
/// offboarding replaced many assignments at once).
public enum ModelLoader {
    /// `now` decides which HR termination dates have passed (the API's clock, as everywhere else).
    ///
    /// A plan saved and not yet finished — applied at this moment by a `tenure sync` or
    /// `tenure offboard` beside the server, or left by a crash for the next sync to resume — will
    /// be carried through: what it takes away is taken away now (`withdraw(aheadOf:)`), not once
    /// its last rotation is done. It is read before the state, so that a plan finishing between
    /// the two reads is at worst withdrawn again, never missed.
    public static func load(store: SQLiteStore, mappings: Mappings, now: Double) async throws -> AccessModel {
        let unfinished = try await store.unfinishedPlan()
        let state = try await store.loadState()
        let terminated = try await store.hrTerminations(now: now)
        let mfa = try await store.credentialsRequiringMFA()
        var model = AccessModel(mappings: mappings, state: state, hrTerminated: terminated, mfaCredentials: mfa)
        if let unfinished { model.withdraw(aheadOf: unfinished.plan) }
        return model
    }
}
