public import TenureCore

extension SubjectResolution {
    /// The one rule by which a subject (an API token's subject, an AuthZEN subject, a command-line
    /// argument) names an identity, so that the checking API, `/v1/offboard`, `tenure offboard` and
    /// `tenure mfa enroll` always mean the same person:
    /// - a stable id names its identity;
    /// - otherwise a username, ignoring case, names the identity holding it; when several do (an
    ///   old account kept as terminated and its successor, say), an active one before a disabled
    ///   one before a terminated one;
    /// - several in the best state name nobody (`ambiguous`, with their ids): a guess could
    ///   offboard or enrol the wrong person.
    ///
    /// - Parameters:
    ///   - exact: the identity whose stable id is the subject, if any.
    ///   - candidates: the identities whose username equals the subject ignoring case.
    public static func resolve(exact: IdentityRecord?, sharingUsername candidates: [IdentityRecord])
        -> SubjectResolution
    {
        if let exact { return .found(exact) }
        guard let best = candidates.map(\.state.preference).min() else { return .unknown }
        let top = candidates.filter { $0.state.preference == best }
        return top.count == 1 ? .found(top[0]) : .ambiguous(top.map(\.id).sorted())
    }
}

extension PIMState {
    /// The identity a subject names in this state, by `SubjectResolution.resolve` (a scan of every
    /// identity: for the command line, not for a hot path — the access model keeps an index).
    public func resolveSubject(_ subject: String) -> SubjectResolution {
        let lowered = subject.lowercased()
        return .resolve(
            exact: self.identities[subject],
            sharingUsername: self.identities.values.filter { $0.username?.lowercased() == lowered }
        )
    }
}

extension LifecycleState {
    /// Preference when a username names several identities: active, then disabled, then terminated.
    public var preference: Int {
        switch self {
        case .active: 0
        case .disabled: 1
        case .terminated: 2
        }
    }
}
