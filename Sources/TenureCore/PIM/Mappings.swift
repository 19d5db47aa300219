/// The privileged-access model Tenure enforces: roles, the rules that grant them, which identities
/// are managed, which are protected, and the guard against mass revocation. Loaded from
/// `Mappings/*.yaml` (see `TenureConfig.MappingsLoader`); pure values here.
public struct Mappings: Hashable, Sendable {
    public var roles: [RoleDefinition]
    public var rules: [Rule]
    /// Which identities Tenure manages. Identities outside it are never granted anything, and an
    /// identity that leaves the scope is a leaver.
    public var scope: Condition
    /// Break-glass accounts: never changed by a plan; any change to them is reported loudly.
    public var protected: [ProtectedIdentity]
    public var guardSettings: LeaverGuard
    /// What a leaver's credential rotation covers.
    public var leaver: LeaverPolicy

    public init(
        roles: [RoleDefinition] = [],
        rules: [Rule] = [],
        scope: Condition = .always,
        protected: [ProtectedIdentity] = [],
        guardSettings: LeaverGuard = LeaverGuard(),
        leaver: LeaverPolicy = LeaverPolicy()
    ) {
        self.roles = roles
        self.rules = rules
        self.scope = scope
        self.protected = protected
        self.guardSettings = guardSettings
        self.leaver = leaver
    }

    public func role(named name: String) -> RoleDefinition? {
        self.roles.first { $0.name == name }
    }
}

/// How a role is held.
public enum RoleMode: String, Hashable, Sendable, Codable {
    /// Held permanently while the rules say so.
    case standing
    /// Held as eligible; activated just in time (the API issue), for at most `maxActivation`.
    case eligible
}

/// What activating an eligible role requires.
public enum ActivationRequirement: String, Hashable, Sendable, Codable, CaseIterable {
    case approval
    case mfa
    case justification
    case ticket
}

/// What happens to members of a write-back group that Tenure did not put there.
public enum DriftPolicy: String, Hashable, Sendable, Codable {
    case alert
    case revert
    case adopt
}

/// A privileged role.
public struct RoleDefinition: Hashable, Sendable, Codable {
    public var name: String
    /// 0 is the most privileged tier.
    public var tier: Int
    public var mode: RoleMode
    /// Longest activation of an eligible role, in seconds.
    public var maxActivationSeconds: Int?
    public var requirements: [ActivationRequirement]
    /// The LDAP group whose membership mirrors the role's active holders (the write-back issue).
    public var writeBackGroup: String?
    /// Vault credentials the role unlocks.
    public var credentials: [String]
    /// Roles that must not be held together with this one (separation of duties).
    public var conflicts: [String]
    public var drift: DriftPolicy

    public init(
        name: String,
        tier: Int,
        mode: RoleMode,
        maxActivationSeconds: Int? = nil,
        requirements: [ActivationRequirement] = [],
        writeBackGroup: String? = nil,
        credentials: [String] = [],
        conflicts: [String] = [],
        drift: DriftPolicy = .alert
    ) {
        self.name = name
        self.tier = tier
        self.mode = mode
        self.maxActivationSeconds = maxActivationSeconds
        self.requirements = requirements
        self.writeBackGroup = writeBackGroup
        self.credentials = credentials
        self.conflicts = conflicts
        self.drift = drift
    }
}

/// A condition on an identity of the snapshot.
public indirect enum Condition: Hashable, Sendable {
    /// Always true (the default scope).
    case always
    /// Transitive membership of a group, named by its normalised DN or by its name (`cn`).
    case memberOf(String)
    /// An attribute has this value (case-insensitive). Attributes are the mapped fields
    /// (`username`, `mail`, `department`, …) or extra attributes by their lowercased LDAP name.
    case attributeEquals(attribute: String, value: String)
    /// An attribute has one of these values (case-insensitive).
    case attributeIn(attribute: String, values: [String])
    /// An attribute has a value matching this regular expression (whole value).
    case attributeMatches(attribute: String, pattern: String)
    /// The identity's DN is at or below this normalised DN.
    case underDN(String)
    case all([Condition])
    case any([Condition])
    case not(Condition)
}

/// A rule: when the condition holds, the identity should hold the role.
public struct Rule: Hashable, Sendable {
    public var name: String
    public var when: Condition
    public var grant: String
    /// `.eligible` grants an eligible assignment; `.standing` a standing (active) one.
    public var mode: RoleMode
    /// The rule applies only within this window (seconds since 1970), when set.
    public var validFrom: Double?
    public var validUntil: Double?

    public init(
        name: String,
        when: Condition,
        grant: String,
        mode: RoleMode,
        validFrom: Double? = nil,
        validUntil: Double? = nil
    ) {
        self.name = name
        self.when = when
        self.grant = grant
        self.mode = mode
        self.validFrom = validFrom
        self.validUntil = validUntil
    }
}

/// A protected (break-glass) identity, matched by stable id, username or normalised DN.
public enum ProtectedIdentity: Hashable, Sendable {
    case id(String)
    case username(String)
    case dn(String)
}

/// Which credentials a leaver's plan rotates: those unlocked by every role the leaver holds (active
/// or eligible), by every role they held that ended within `lookBackSeconds` before leaving, and
/// those they checked out within it (or still have checked out).
public struct LeaverPolicy: Hashable, Sendable {
    /// default: 30 days. 0: only what is held when leaving (and open check-outs).
    public var lookBackSeconds: Double

    public static let defaultLookBackSeconds: Double = 30 * 86_400

    public init(lookBackSeconds: Double = LeaverPolicy.defaultLookBackSeconds) {
        self.lookBackSeconds = lookBackSeconds
    }
}

/// Holds a plan that takes too much away at once — too many leavers (a wrong base DN, an empty or
/// truncated directory), or too many people losing a role while staying (a group read back empty
/// because an ACL hides its members, a rule's attribute gone) — until a person confirms it with
/// `--allow-mass-revoke`.
public struct LeaverGuard: Hashable, Sendable {
    /// More leavers than this holds the plan.
    public var maxLeavers: Int
    /// More leavers than this percentage of the in-scope identities holds the plan.
    public var maxLeaverPercent: Double
    /// More identities that stay but lose at least one role than this holds the plan.
    public var maxRevoked: Int
    /// More such identities than this percentage of the active identities holds the plan, once
    /// they are at least 10. Higher than the leavers' share by default: ordinary movers in a small
    /// directory are a large share.
    public var maxRevokedPercent: Double

    public init(
        maxLeavers: Int = 500,
        maxLeaverPercent: Double = 10,
        maxRevoked: Int = 500,
        maxRevokedPercent: Double = 25
    ) {
        self.maxLeavers = maxLeavers
        self.maxLeaverPercent = maxLeaverPercent
        self.maxRevoked = maxRevoked
        self.maxRevokedPercent = maxRevokedPercent
    }
}

extension Condition {
    /// Every attribute name the condition reads (mapped fields and LDAP attribute names).
    public var attributes: Set<String> {
        switch self {
        case .always, .memberOf, .underDN: []
        case .attributeEquals(let attribute, _), .attributeIn(let attribute, _), .attributeMatches(let attribute, _):
            [attribute]
        case .all(let parts), .any(let parts): parts.reduce(into: Set<String>()) { $0.formUnion($1.attributes) }
        case .not(let inner): inner.attributes
        }
    }
}

/// A `memberOf:` group name that more than one group of the snapshot has.
public struct AmbiguousGroupName: Hashable, Sendable, Codable {
    /// The name as the mappings write it.
    public var name: String
    /// The DNs of the groups with that name, sorted.
    public var dns: [String]

    public init(name: String, dns: [String]) {
        self.name = name
        self.dns = dns
    }
}

extension Mappings {
    /// Attributes the scope and rules read that are neither mapped identity fields (`username`,
    /// `mail`, …, `dn`) nor in `extraAttributes` (lowercased): such a condition could never match,
    /// because the attribute is never read from the directory.
    public func unreadAttributes(extraAttributes: [String]) -> [String] {
        let mapped = Set(Planner.trackedFields + ["dn"])
        let extra = Set(extraAttributes.map { $0.lowercased() })
        var used = self.scope.attributes
        for rule in self.rules { used.formUnion(rule.when.attributes) }
        return used.filter { !mapped.contains($0) && !extra.contains($0.lowercased()) }.sorted()
    }
}
