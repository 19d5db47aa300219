public import TenureCore

/// What an activation that passed the policy may grant.
public struct ActivationGrant: Hashable, Sendable {
    public var identityID: String
    public var role: String
    /// The duration granted, in seconds (the request, or the role's maximum when none was asked
    /// or more was asked).
    public var seconds: Int
    public var since: Double
    public var until: Double
    /// The role's maximum activation, in seconds.
    public var maxActivationSeconds: Int
    /// True when the request asked for more than it got: cut to the role's maximum, or to the end
    /// of the eligibility.
    public var capApplied: Bool
    /// The role requires approval: the activation waits for an approver before it is granted.
    public var needsApproval: Bool
    /// The role's requirements, all met (approval pending when `needsApproval`).
    public var requirements: [ActivationRequirement]

    public init(
        identityID: String,
        role: String,
        seconds: Int,
        since: Double,
        until: Double,
        maxActivationSeconds: Int,
        capApplied: Bool,
        needsApproval: Bool,
        requirements: [ActivationRequirement]
    ) {
        self.identityID = identityID
        self.role = role
        self.seconds = seconds
        self.since = since
        self.until = until
        self.maxActivationSeconds = maxActivationSeconds
        self.capApplied = capApplied
        self.needsApproval = needsApproval
        self.requirements = requirements
    }

    /// The active assignment the grant stands for (`source`: `activation:<id>`).
    public func assignment(source: String) -> Assignment {
        Assignment(
            identityID: self.identityID,
            role: self.role,
            state: .active,
            source: source,
            since: self.since,
            until: self.until
        )
    }
}

/// Why an activation is refused. `code` is stable for machines, `message` is for people, and
/// `suggestedStatus` is the HTTP status the API answers with (403 not allowed, 409 conflicts with
/// what is held, 422 the request itself is unusable).
public enum ActivationRefusal: Error, Hashable, Sendable {
    case unknownIdentity(String)
    case identityInactive(Inactivity)
    case unknownRole(String)
    /// The role is standing: it is granted by rules, never activated.
    case roleNotActivatable(String)
    /// The role sets no maximum activation (the mappings loader always sets one).
    case noActivationLimit(String)
    /// No eligible assignment of the role in force.
    case notEligible(String)
    /// The role is already held active and in force (until, when it expires).
    case alreadyActive(role: String, until: Double?)
    /// The identity holds, active, a role that excludes this one.
    case sodConflict(role: String, conflictsWith: String)
    /// Zero or negative seconds asked.
    case invalidDuration(Int)
    case justificationRequired
    case ticketRequired
    case mfaRequired

    public var code: String {
        switch self {
        case .unknownIdentity: "unknown_identity"
        case .identityInactive: "identity_inactive"
        case .unknownRole: "unknown_role"
        case .roleNotActivatable: "role_not_activatable"
        case .noActivationLimit: "no_activation_limit"
        case .notEligible: "not_eligible"
        case .alreadyActive: "already_active"
        case .sodConflict: "sod_conflict"
        case .invalidDuration: "invalid_duration"
        case .justificationRequired: "justification_required"
        case .ticketRequired: "ticket_required"
        case .mfaRequired: "mfa_required"
        }
    }

    public var message: String {
        switch self {
        case .unknownIdentity: "no such identity"
        case .identityInactive(let inactivity): inactivity.description
        case .unknownRole(let role): "no role named \"\(role)\""
        case .roleNotActivatable(let role): "\"\(role)\" is a standing role; it is not activated just in time"
        case .noActivationLimit(let role): "\"\(role)\" sets no maximum activation"
        case .notEligible(let role): "not eligible for \"\(role)\""
        case .alreadyActive(let role, let until):
            until.map { "\"\(role)\" is already active until \(isoTimestamp($0, milliseconds: false))" }
                ?? "\"\(role)\" is already active"
        case .sodConflict(let role, let other):
            "\"\(role)\" must not be held together with \"\(other)\", which is active"
        case .invalidDuration(let seconds): "the duration must be positive (got \(seconds) seconds)"
        case .justificationRequired: "this role requires a justification"
        case .ticketRequired: "this role requires a ticket reference"
        case .mfaRequired: "this role requires a verified MFA"
        }
    }

    public var suggestedStatus: Int {
        switch self {
        case .unknownIdentity, .identityInactive, .notEligible, .mfaRequired: 403
        case .alreadyActive, .sodConflict: 409
        case .unknownRole, .roleNotActivatable, .noActivationLimit, .invalidDuration, .justificationRequired,
            .ticketRequired:
            422
        }
    }
}

/// The just-in-time activation rules (pure): who may activate what, for how long, with what.
public enum ActivationPolicy {
    /// Checks an activation request against the model at `now`. In order: the identity exists and
    /// is active (and not terminated by HR); the role exists, is eligible-mode and has a maximum;
    /// the identity holds an eligible assignment of it in force and not already an active one; no
    /// role it holds active conflicts with it; the duration (default and cap: the role's maximum);
    /// then each requirement (justification and ticket non-blank, MFA verified). Approval does not
    /// refuse: the grant says `needsApproval`.
    public static func check(
        identityID: String,
        role name: String,
        requestedSeconds: Int?,
        justification: String?,
        ticket: String?,
        mfaVerified: Bool,
        model: AccessModel,
        now: Double
    ) -> Result<ActivationGrant, ActivationRefusal> {
        guard let identity = model.identities[identityID] else { return .failure(.unknownIdentity(identityID)) }
        if let inactivity = model.inactivity(of: identity) { return .failure(.identityInactive(inactivity)) }
        guard let role = model.roles[name] else { return .failure(.unknownRole(name)) }
        guard role.mode == .eligible else { return .failure(.roleNotActivatable(name)) }
        guard let max = role.maxActivationSeconds, max > 0 else { return .failure(.noActivationLimit(name)) }
        let holding = model.holding(of: identityID, role: name) ?? RoleHolding()
        guard let eligible = holding.eligibleAssignment(at: now) else { return .failure(.notEligible(name)) }
        if let active = holding.activeAssignment(at: now) {
            return .failure(.alreadyActive(role: name, until: active.until))
        }
        if let other = model.activeConflicts(of: identityID, with: name, at: now).first {
            return .failure(.sodConflict(role: name, conflictsWith: other))
        }
        let requested = requestedSeconds ?? max
        guard requested > 0 else { return .failure(.invalidDuration(requested)) }
        // Never past the role's maximum, nor past the end of the eligibility it comes from (an
        // activation outliving its eligibility would hold a role its holder no longer may have).
        var seconds = min(requested, max)
        if let end = eligible.until {
            seconds = min(seconds, Int((end - now).rounded(.down)))
            guard seconds > 0 else { return .failure(.notEligible(name)) }
        }
        for requirement in ActivationRequirement.allCases where role.requirements.contains(requirement) {
            switch requirement {
            case .justification where isBlank(justification): return .failure(.justificationRequired)
            case .ticket where isBlank(ticket): return .failure(.ticketRequired)
            case .mfa where !mfaVerified: return .failure(.mfaRequired)
            default: continue
            }
        }
        return .success(
            ActivationGrant(
                identityID: identityID,
                role: name,
                seconds: seconds,
                since: now,
                until: now + Double(seconds),
                maxActivationSeconds: max,
                capApplied: requested > seconds,
                needsApproval: role.requirements.contains(.approval),
                requirements: role.requirements
            )
        )
    }

    private static func isBlank(_ text: String?) -> Bool {
        text?.allSatisfy(\.isWhitespace) ?? true
    }
}
