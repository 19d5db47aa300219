public import TenureAccess
public import TenureCore
public import TenureStore

/// Builds the access model from the store (off the hot path: at start, and after a sync or an
/// offboarding replaced many assignments at once).
public enum ModelLoader {
    /// `now` decides which HR termination dates have passed (the API's clock, as everywhere else).
    public static func load(store: SQLiteStore, mappings: Mappings, now: Double) async throws -> AccessModel {
        let state = try await store.loadState()
        let terminated = try await store.hrTerminations(now: now)
        let mfa = try await store.credentialsRequiringMFA()
        return AccessModel(mappings: mappings, state: state, hrTerminated: terminated, mfaCredentials: mfa)
    }
}
