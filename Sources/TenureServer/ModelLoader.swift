public import TenureAccess
public import TenureCore
public import TenureStore

/// Builds the access model from the store (off the hot path: at start, and after a sync or an
/// offboarding replaced many assignments at once).
public enum ModelLoader {
    public static func load(store: SQLiteStore, mappings: Mappings) async throws -> AccessModel {
        let state = try await store.loadState()
        let terminated = try await store.hrTerminations()
        let mfa = try await store.credentialsRequiringMFA()
        return AccessModel(mappings: mappings, state: state, hrTerminated: terminated, mfaCredentials: mfa)
    }
}
