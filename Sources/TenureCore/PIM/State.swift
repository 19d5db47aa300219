/// Where an identity is in its lifecycle, as Tenure last recorded it.
public enum LifecycleState: String, Hashable, Sendable, Codable {
    case active
    case disabled
    /// Gone from the directory, out of scope, or terminated by HR.
    case terminated
}

/// What Tenure knows of an identity between runs: enough to tell a joiner, a mover and a leaver
/// apart and to explain why.
public struct IdentityRecord: Hashable, Sendable, Codable {
    /// The directory's stable id (entryUUID / objectGUID).
    public var id: String
    public var state: LifecycleState
    public var dn: String
    public var username: String?
    /// The tracked attributes (mapped fields: mail, department, title, …) as last seen.
    public var attributes: [String: String]
    /// Normalised DNs of the groups the identity was in (transitively), sorted.
    public var groups: [String]
    /// When Tenure first saw the identity, seconds since 1970.
    public var firstSeen: Double
    /// When the record last changed (not every run: a run that changes nothing writes nothing).
    public var lastSeen: Double
    /// When the identity last became terminated (for rehire reporting).
    public var terminatedAt: Double?

    public init(
        id: String,
        state: LifecycleState,
        dn: String,
        username: String?,
        attributes: [String: String],
        groups: [String],
        firstSeen: Double,
        lastSeen: Double,
        terminatedAt: Double? = nil
    ) {
        self.id = id
        self.state = state
        self.dn = dn
        self.username = username
        self.attributes = attributes
        self.groups = groups
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.terminatedAt = terminatedAt
    }
}

/// How an assignment is held.
public enum AssignmentState: String, Hashable, Sendable, Codable {
    /// May be activated just in time.
    case eligible
    /// Held now (standing, or an activation).
    case active
}

/// An identity's hold on a role.
public struct Assignment: Hashable, Sendable, Codable {
    public var identityID: String
    public var role: String
    public var state: AssignmentState
    /// Why it exists: `rule:<name>`, `activation:<id>`, `manual:<actor>`.
    public var source: String
    /// Seconds since 1970.
    public var since: Double
    /// Expiry (activations, windowed rules), seconds since 1970.
    public var until: Double?

    public init(
        identityID: String,
        role: String,
        state: AssignmentState,
        source: String,
        since: Double,
        until: Double? = nil
    ) {
        self.identityID = identityID
        self.role = role
        self.state = state
        self.source = source
        self.since = since
        self.until = until
    }

    /// Assignments are keyed by identity, role and state: one eligible and one active at most.
    public var key: AssignmentKey { AssignmentKey(identityID: self.identityID, role: self.role, state: self.state) }
}

public struct AssignmentKey: Hashable, Sendable, Codable, Comparable {
    public var identityID: String
    public var role: String
    public var state: AssignmentState

    public init(identityID: String, role: String, state: AssignmentState) {
        self.identityID = identityID
        self.role = role
        self.state = state
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.identityID, lhs.role, lhs.state.rawValue) < (rhs.identityID, rhs.role, rhs.state.rawValue)
    }
}

/// A member Tenure itself wrote into a write-back group. Tenure removes what it wrote when the
/// holding ends, whatever the role's drift policy; anything else in the group is drift.
public struct WriteBackMember: Hashable, Sendable, Codable {
    /// The write-back group (normalised DN).
    public var group: String
    public var identityID: String
    /// The DN written (the identity's DN at the time).
    public var member: String
    public var role: String
    /// When it was written, seconds since 1970.
    public var since: Double

    public init(group: String, identityID: String, member: String, role: String, since: Double) {
        self.group = group
        self.identityID = identityID
        self.member = member
        self.role = role
        self.since = since
    }
}

/// A role an identity held until recently (an assignment that ended within the leaver look-back).
public struct EndedHolding: Hashable, Sendable, Codable {
    public var identityID: String
    public var role: String
    public var state: AssignmentState
    /// When it ended, seconds since 1970.
    public var endedAt: Double

    public init(identityID: String, role: String, state: AssignmentState, endedAt: Double) {
        self.identityID = identityID
        self.role = role
        self.state = state
        self.endedAt = endedAt
    }
}

/// A vault credential an identity checked out (for a leaver's rotation).
public struct CheckoutRecord: Hashable, Sendable, Codable {
    public var identityID: String
    public var credential: String
    public var checkedOutAt: Double
    /// Not checked in yet: rotated for a leaver however long ago it was checked out.
    public var isOpen: Bool

    public init(identityID: String, credential: String, checkedOutAt: Double, isOpen: Bool = false) {
        self.identityID = identityID
        self.credential = credential
        self.checkedOutAt = checkedOutAt
        self.isOpen = isOpen
    }
}

/// The stored PIM model the planner diffs against.
public struct PIMState: Hashable, Sendable {
    public var identities: [String: IdentityRecord]
    public var assignments: [Assignment]
    /// Members Tenure wrote into write-back groups.
    public var writeBackMembers: [WriteBackMember]
    /// Assignments that ended within the leaver look-back window (loaded only when one is set).
    public var endedHoldings: [EndedHolding]
    /// Vault check-outs within the leaver look-back window, and any still open.
    public var checkouts: [CheckoutRecord]
    /// Identities terminated by HR or an operator's offboarding (id → why): leavers whatever the
    /// directory says, until HR takes it back.
    public var hrTerminated: [String: String]

    public init(
        identities: [String: IdentityRecord] = [:],
        assignments: [Assignment] = [],
        writeBackMembers: [WriteBackMember] = [],
        endedHoldings: [EndedHolding] = [],
        checkouts: [CheckoutRecord] = [],
        hrTerminated: [String: String] = [:]
    ) {
        self.identities = identities
        self.assignments = assignments
        self.writeBackMembers = writeBackMembers
        self.endedHoldings = endedHoldings
        self.checkouts = checkouts
        self.hrTerminated = hrTerminated
    }
}
