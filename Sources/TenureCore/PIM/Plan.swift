/// A lifecycle event of one identity, with the reasons a person reading the plan needs.
public struct LifecycleEvent: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        case joiner
        case mover
        case leaver
        case rehire
    }

    public var kind: Kind
    /// e.g. `department changed from "Database" to "Security"`, `left group cn=dba,…`,
    /// `disabled: pwdAccountLockedTime …`, `gone from the directory`.
    public var reasons: [String]

    public init(kind: Kind, reasons: [String]) {
        self.kind = kind
        self.reasons = reasons
    }
}

/// One step of a plan. Revocations come before grants; every action is idempotent when applied.
public enum PlanAction: Hashable, Sendable, Codable {
    /// Remove an assignment (leaver, rule no longer matches, SoD).
    case revoke(role: String, state: AssignmentState, reason: String)
    /// Remove an assignment whose time has passed.
    case expire(role: String, state: AssignmentState, reason: String)
    /// Grant an eligible assignment.
    case grantEligible(role: String, rule: String)
    /// Grant a standing (active) assignment.
    case grantStanding(role: String, rule: String)
    /// Turn an eligible assignment into a standing one (the rule now grants it standing).
    case elevate(role: String, rule: String)
    /// Keep the role's LDAP write-back group equal to its active holders: add or remove `member`
    /// (the identity's DN, or for a member that is no managed identity the value the group holds)
    /// in `group` (executed by the write-back executor). `reason` says why, for people and the audit.
    /// `username`, on a removal: the identity's username, to take out of username-valued membership
    /// attributes (`memberUid`) too — set only when the identity leaves the group (not for an old DN
    /// of a renamed holder) and when no other identity of the directory has that username (the
    /// value would be theirs). Not encoded when nil.
    case writeBack(
        group: String,
        role: String,
        add: Bool,
        member: String? = nil,
        reason: String? = nil,
        username: String? = nil
    )
    /// Drift, adopted: the identity was put in the role's write-back group outside Tenure and the
    /// role's drift policy is `adopt`, so it now holds the role (active, source `drift:adopt`).
    case adopt(role: String, group: String)
    /// Rotate a vault credential the identity could know (a leaver held a role that unlocks it;
    /// executed by the vault).
    case rotateCredential(name: String, role: String, reason: String)
    /// Record the identity as now seen (state, DN, tracked attributes, groups).
    case recordIdentity(IdentityRecord)

    /// Order of a plan: revocations (and write-back removals) first, then grants (and write-back
    /// additions), then credential rotations, then identity records.
    public var phase: Int {
        switch self {
        case .revoke, .expire: 0
        case .writeBack(_, _, let add, _, _, _): add ? 1 : 0
        case .elevate, .grantStanding, .grantEligible, .adopt: 1
        case .rotateCredential: 2
        case .recordIdentity: 3
        }
    }

    /// The last phase (for walking a plan phase by phase).
    public static let lastPhase = 3

    /// True for actions that change who holds what (everything but `recordIdentity`).
    public var changesAccess: Bool {
        if case .recordIdentity = self { return false }
        return true
    }

    /// True for actions that give someone a role or more of one (a grant, an elevation, adopted
    /// drift).
    public var grantsAccess: Bool {
        switch self {
        case .grantEligible, .grantStanding, .elevate, .adopt: true
        default: false
        }
    }
}

/// Everything the plan does for one identity.
public struct IdentityPlan: Hashable, Sendable, Codable {
    public var identityID: String
    public var username: String?
    public var dn: String
    public var events: [LifecycleEvent]
    public var actions: [PlanAction]
    /// A protected identity: its access actions are withheld and reported.
    public var isProtected: Bool

    public init(
        identityID: String,
        username: String?,
        dn: String,
        events: [LifecycleEvent],
        actions: [PlanAction],
        isProtected: Bool = false
    ) {
        self.identityID = identityID
        self.username = username
        self.dn = dn
        self.events = events
        self.actions = actions
        self.isProtected = isProtected
    }
}

/// A separation-of-duties conflict: the identity would hold roles that exclude each other. The
/// conflicting grant is not made.
public struct SoDConflict: Hashable, Sendable, Codable {
    public var identityID: String
    public var username: String?
    /// The role not granted.
    public var role: String
    /// The role already held (or granted first) that excludes it.
    public var conflictsWith: String
    public var rule: String

    public init(identityID: String, username: String?, role: String, conflictsWith: String, rule: String) {
        self.identityID = identityID
        self.username = username
        self.role = role
        self.conflictsWith = conflictsWith
        self.rule = rule
    }
}

/// Why a plan is held back from apply.
public struct GuardVerdict: Hashable, Sendable, Codable {
    public var held: Bool
    public var reason: String?
    public var leavers: Int
    public var inScope: Int
    /// Identities that stay but lose at least one role in this plan.
    public var revoked: Int

    public init(held: Bool, reason: String?, leavers: Int, inScope: Int, revoked: Int = 0) {
        self.held = held
        self.reason = reason
        self.leavers = leavers
        self.inScope = inScope
        self.revoked = revoked
    }

    private enum CodingKeys: String, CodingKey {
        case held, reason, leavers, inScope, revoked
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.held = try container.decode(Bool.self, forKey: .held)
        self.reason = try container.decodeIfPresent(String.self, forKey: .reason)
        self.leavers = try container.decode(Int.self, forKey: .leavers)
        self.inScope = try container.decode(Int.self, forKey: .inScope)
        self.revoked = try container.decodeIfPresent(Int.self, forKey: .revoked) ?? 0
    }

    /// `revoked` is written only when not 0, so a plan stored before it was counted encodes (and
    /// hashes) as it did.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.held, forKey: .held)
        try container.encodeIfPresent(self.reason, forKey: .reason)
        try container.encode(self.leavers, forKey: .leavers)
        try container.encode(self.inScope, forKey: .inScope)
        if self.revoked != 0 { try container.encode(self.revoked, forKey: .revoked) }
    }
}

/// The difference between the stored model and what the directory and mappings say, as events
/// and ordered actions. Deterministic: the same inputs give the same plan (and content hash).
public struct Plan: Hashable, Sendable, Codable {
    /// Identities with events or actions, sorted by id.
    public var identities: [IdentityPlan]
    public var conflicts: [SoDConflict]
    /// Changes to protected identities that were withheld (reported loudly).
    public var protectedChanges: [String]
    public var guardVerdict: GuardVerdict
    /// When the plan was made, seconds since 1970.
    public var createdAt: Double
    /// Write-back groups that differ from what Tenure put there, and what the plan does about it
    /// (sorted by role, member, kind).
    public var drift: [DriftFinding]
    /// `memberOf:` names that more than one group of the directory has (sorted by name). A condition
    /// on one is undecided: nobody joins the scope or is granted a role through it, and nobody leaves
    /// the scope or loses a role because of it, until the mappings name the group by DN. Everything
    /// else (leavers by HR or a disabled account, expiries, other rules) is planned as usual.
    public var ambiguousGroupNames: [AmbiguousGroupName]

    public init(
        identities: [IdentityPlan],
        conflicts: [SoDConflict],
        protectedChanges: [String],
        guardVerdict: GuardVerdict,
        createdAt: Double,
        drift: [DriftFinding] = [],
        ambiguousGroupNames: [AmbiguousGroupName] = []
    ) {
        self.identities = identities
        self.conflicts = conflicts
        self.protectedChanges = protectedChanges
        self.guardVerdict = guardVerdict
        self.createdAt = createdAt
        self.drift = drift
        self.ambiguousGroupNames = ambiguousGroupNames
    }

    private enum CodingKeys: String, CodingKey {
        case identities, conflicts, protectedChanges, guardVerdict, createdAt, drift, ambiguousGroupNames
    }

    /// `ambiguousGroupNames` only when there are some: plans without them encode (and hash) as before.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.identities, forKey: .identities)
        try container.encode(self.conflicts, forKey: .conflicts)
        try container.encode(self.protectedChanges, forKey: .protectedChanges)
        try container.encode(self.guardVerdict, forKey: .guardVerdict)
        try container.encode(self.createdAt, forKey: .createdAt)
        try container.encode(self.drift, forKey: .drift)
        if !self.ambiguousGroupNames.isEmpty {
            try container.encode(self.ambiguousGroupNames, forKey: .ambiguousGroupNames)
        }
    }

    /// Plans stored before drift existed decode with no drift.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.identities = try container.decode([IdentityPlan].self, forKey: .identities)
        self.conflicts = try container.decode([SoDConflict].self, forKey: .conflicts)
        self.protectedChanges = try container.decode([String].self, forKey: .protectedChanges)
        self.guardVerdict = try container.decode(GuardVerdict.self, forKey: .guardVerdict)
        self.createdAt = try container.decode(Double.self, forKey: .createdAt)
        self.drift = try container.decodeIfPresent([DriftFinding].self, forKey: .drift) ?? []
        self.ambiguousGroupNames =
            try container.decodeIfPresent([AmbiguousGroupName].self, forKey: .ambiguousGroupNames) ?? []
    }

    /// Counts for the summary line.
    public var summary: PlanSummary {
        var summary = PlanSummary()
        for plan in self.identities {
            for event in plan.events {
                switch event.kind {
                case .joiner: summary.joiners += 1
                case .mover: summary.movers += 1
                case .leaver: summary.leavers += 1
                case .rehire: summary.rehires += 1
                }
            }
            for action in plan.actions {
                switch action {
                case .revoke: summary.revocations += 1
                case .expire: summary.expirations += 1
                case .grantEligible, .grantStanding: summary.grants += 1
                case .elevate: summary.elevations += 1
                case .writeBack: summary.writeBacks += 1
                case .adopt: summary.adoptions += 1
                case .rotateCredential: summary.rotations += 1
                case .recordIdentity: break
                }
            }
        }
        summary.conflicts = self.conflicts.count
        summary.drift = self.drift.count
        return summary
    }

    /// True when applying would change who holds what.
    public var hasAccessChanges: Bool {
        self.identities.contains { $0.actions.contains(where: \.changesAccess) }
    }
}

public struct PlanSummary: Hashable, Sendable, Codable {
    public var joiners = 0
    public var movers = 0
    public var leavers = 0
    public var rehires = 0
    public var grants = 0
    public var elevations = 0
    public var revocations = 0
    public var expirations = 0
    public var conflicts = 0
    public var writeBacks = 0
    public var rotations = 0
    public var adoptions = 0
    /// Drift findings (reported, removed, adopted or re-added).
    public var drift = 0

    public init() {}
}

/// A difference between a role's write-back group and what Tenure put there.
public struct DriftFinding: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// A managed, active identity in the group without holding the role.
        case outOfBand = "out-of-band"
        /// An identity of the directory that Tenure does not manage (out of scope, disabled) in the group.
        case unmanaged
        /// A member value that is no identity of the snapshot (deleted entry, outside the user bases).
        case orphan
        /// A group nested in the write-back group (its members get the role's access unseen).
        case nestedGroup = "nested-group"
        /// A holder Tenure had put in the group was removed outside Tenure.
        case missing
        /// A protected identity is in the group without the role, or out of it with the role
        /// (never changed by Tenure; reported).
        case protectedMember = "protected"
        /// An eligible-only role held as standing (not through an activation).
        case standingEligible = "standing-eligible"
        /// The write-back group does not exist (or does not match the group filter).
        case missingGroup = "missing-group"
    }

    public enum Resolution: String, Hashable, Sendable, Codable {
        /// Reported and audited only (drift policy `alert`, or nothing Tenure may do).
        case reported
        /// Removed from the group (drift policy `revert`).
        case removed
        /// Given an assignment (drift policy `adopt`).
        case adopted
        /// Put back in the group (a holder removed outside Tenure).
        case readded
    }

    public var role: String
    /// The write-back group (normalised DN).
    public var group: String
    /// The member as the group holds it (normalised DN, or the raw value); empty for `missingGroup`.
    public var member: String
    public var identityID: String?
    public var username: String?
    public var kind: Kind
    public var resolution: Resolution
    public var detail: String

    public init(
        role: String,
        group: String,
        member: String,
        identityID: String? = nil,
        username: String? = nil,
        kind: Kind,
        resolution: Resolution,
        detail: String
    ) {
        self.role = role
        self.group = group
        self.member = member
        self.identityID = identityID
        self.username = username
        self.kind = kind
        self.resolution = resolution
        self.detail = detail
    }
}
