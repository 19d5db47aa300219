import TenureCore

/// What the HR system says about a person's employment, as the leaver planner reads it.
public enum HRStatus: Hashable, Sendable {
    case employed
    /// No longer employed: `reason` says why, for the audit log and the plan (no personal data
    /// beyond the date).
    case terminated(reason: String)

    public var isTerminated: Bool {
        if case .terminated = self { return true }
        return false
    }
}

extension SCIMUser {
    /// Terminated when `active` is false (how Okta and Entra deprovision: a PATCH setting
    /// `active` to false) or when `terminationDate` is at or before `now`; employed otherwise —
    /// including a future termination date (a notice period).
    public func hrStatus(asOf now: Double) -> HRStatus {
        if !self.active {
            return .terminated(reason: "HR: active is false")
        }
        if let date = self.terminationDate, date <= now {
            return .terminated(reason: "HR: terminationDate \(SCIMDateTime.format(date)) has passed")
        }
        return .employed
    }
}
