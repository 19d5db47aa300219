public import TenureCore

/// How a username shared by several identities is settled.
public enum SubjectRule: Sendable {
    /// For decisions and check-outs: an active identity before a disabled one before a terminated
    /// one (a disabled or terminated account can do nothing, so preferring the active one never
    /// grants it anything).
    case preferActive
    /// For commands that change a person (offboarding, MFA enrolment): a terminated account is
    /// passed over for one that is not (its successor), but two that are not terminated — active or
    /// disabled — name nobody: offboarding or enrolling the wrong one of them cannot be undone.
    case change
}

extension SubjectResolution {
    /// The one rule by which a subject (an API token's subject, an AuthZEN subject, a command-line
    /// argument) names an identity, so that the checking API, `/v1/offboard`, `tenure offboard` and
    /// `tenure mfa enroll` always mean the same person:
    /// - a stable id names its identity;
    /// - otherwise a username, ignoring case, names the identity holding it; when several do, `rule`
    ///   settles it (`SubjectRule`);
    /// - several left name nobody (`ambiguous`, with their ids): a guess could offboard or enrol
    ///   the wrong person.
    ///
    /// - Parameters:
    ///   - exact: the identity whose stable id is the subject, if any.
    ///   - candidates: the identities whose username equals the subject ignoring case.
    public static func resolve(
        exact: IdentityRecord?,
        sharingUsername candidates: [IdentityRecord],
        rule: SubjectRule = .preferActive
    ) -> SubjectResolution {
        if let exact { return .found(exact) }
        let top: [IdentityRecord]
        switch rule {
        case .preferActive:
            guard let best = candidates.map(\.state.preference).min() else { return .unknown }
            top = candidates.filter { $0.state.preference == best }
        case .change:
            let live = candidates.filter { $0.state != .terminated }
            top = live.isEmpty ? candidates : live
        }
        switch top.count {
        case 0: return .unknown
        case 1: return .found(top[0])
        default: return .ambiguous(top.map(\.id).sorted())
        }
    }
}

extension PIMState {
    /// The identity a subject names in this state, by `SubjectResolution.resolve` (a scan of every
    /// identity: for the command line, not for a hot path — the access model keeps an index).
    public func resolveSubject(_ subject: String, rule: SubjectRule = .preferActive) -> SubjectResolution {
        let lowered = subject.lowercased()
        return .resolve(
            exact: self.identities[subject],
            sharingUsername: self.identities.values.filter { $0.username?.lowercased() == lowered },
            rule: rule
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
