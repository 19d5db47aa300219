public import TenureCore

/// The machine reason of a decision (`context.reason`).
public enum ReasonCode: String, Hashable, Sendable, CaseIterable, Codable {
    // Permits.
    /// `assume`: the identity holds the role active and in force.
    case activeAssignment = "active_assignment"
    /// `checkout`: a role the identity holds active unlocks the credential.
    case roleUnlocks = "role_unlocks"

    // Denials.
    /// No identity has this stable id or username (or the username is ambiguous).
    case unknownSubject = "unknown_subject"
    /// The identity is disabled or terminated (by the directory or by HR).
    case identityInactive = "identity_inactive"
    /// No role of that name.
    case unknownRole = "unknown_role"
    /// The active assignment has expired (`until` <= now).
    case expired
    /// Eligible, not activated: the context carries how to activate.
    case eligibleNotActive = "eligible_not_active"
    /// Neither active nor eligible.
    case notEligible = "not_eligible"
    /// The identity also holds a role that excludes this one (separation of duties).
    case sodConflict = "sod_conflict"
    /// No role lists the credential.
    case unknownCredential = "unknown_credential"
    /// The identity holds none of the roles unlocking the credential.
    case noRoleUnlocks = "no_role_unlocks"
    /// A subject type, resource type or action this API does not decide.
    case unsupported
}

/// An access decision: permit or deny, the reason for machines and people, and details.
/// Nothing secret is ever put in a decision (no credential material, no attributes).
public struct Decision: Hashable, Sendable {
    public var allowed: Bool
    public var reason: ReasonCode
    /// The explanation for administrators (`context.reason_admin.en`).
    public var reasonAdmin: String
    /// Further context keys (`role`, `roles`, `activation`, `conflictsWith`, …).
    public var details: JSONObject

    public init(allowed: Bool, reason: ReasonCode, reasonAdmin: String, details: JSONObject = [:]) {
        self.allowed = allowed
        self.reason = reason
        self.reasonAdmin = reasonAdmin
        self.details = details
    }

    static func permit(_ reason: ReasonCode, _ text: String, _ details: JSONObject = [:]) -> Decision {
        Decision(allowed: true, reason: reason, reasonAdmin: text, details: details)
    }

    static func deny(_ reason: ReasonCode, _ text: String, _ details: JSONObject = [:]) -> Decision {
        Decision(allowed: false, reason: reason, reasonAdmin: text, details: details)
    }

    /// The AuthZEN `context`: the details plus `reason` (the code) and `reason_admin` (a Reason
    /// Field object, `{"en": text}`, as the spec's response example shapes it).
    public var context: Context {
        var context = self.details
        context["reason"] = .string(self.reason.rawValue)
        context["reason_admin"] = ["en": .string(self.reasonAdmin)]
        return context
    }

    /// The AuthZEN response for this decision.
    public var response: EvaluationResponse {
        EvaluationResponse(decision: self.allowed, context: self.context)
    }
}
