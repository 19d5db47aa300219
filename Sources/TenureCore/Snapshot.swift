/// One person (or service account) as the directory shows it, keyed by the directory's stable id.
///
/// The DN, username and other attributes can change over time (a rename or an OU move is a mover,
/// never a leaver + joiner); `id` does not.
public struct Identity: Sendable, Hashable, Codable {
    /// Stable id: canonical lowercase UUID for entryUUID / objectGUID, else the raw value.
    public var id: String
    public var dn: String
    public var username: String?
    public var mail: String?
    public var displayName: String?
    public var employeeNumber: String?
    public var department: String?
    public var title: String?
    /// The manager's DN as the directory holds it.
    public var manager: String?
    /// The manager's stable id, when the manager is an identity of this snapshot.
    public var managerID: String?
    public var employeeType: String?
    /// Extra attributes requested in the configuration (lowercased names).
    public var attributes: [String: [String]]
    /// True when at least one configured disabled rule matched.
    public var disabled: Bool
    /// Which rules matched, for people reading a plan (`pwdAccountLockedTime present`, …).
    public var disabledReasons: [String]

    public init(
        id: String,
        dn: String,
        username: String? = nil,
        mail: String? = nil,
        displayName: String? = nil,
        employeeNumber: String? = nil,
        department: String? = nil,
        title: String? = nil,
        manager: String? = nil,
        managerID: String? = nil,
        employeeType: String? = nil,
        attributes: [String: [String]] = [:],
        disabled: Bool = false,
        disabledReasons: [String] = []
    ) {
        self.id = id
        self.dn = dn
        self.username = username
        self.mail = mail
        self.displayName = displayName
        self.employeeNumber = employeeNumber
        self.department = department
        self.title = title
        self.manager = manager
        self.managerID = managerID
        self.employeeType = employeeType
        self.attributes = attributes
        self.disabled = disabled
        self.disabledReasons = disabledReasons
    }
}

/// A group with its direct members and, resolved through nesting, its transitive members.
public struct Group: Sendable, Hashable, Codable {
    public var id: String
    public var dn: String
    public var name: String
    /// Ids of identities listed directly in the group, sorted.
    public var directMembers: [String]
    /// Ids of groups listed directly in the group, sorted.
    public var directGroups: [String]
    /// Ids of every identity in the group or in any group nested in it (cycles included), sorted.
    public var transitiveMembers: [String]
    /// Member values that matched no identity or group of the snapshot (out of scope, dangling
    /// references, or values that are not DNs).
    public var unresolvedMembers: [String]

    public init(
        id: String,
        dn: String,
        name: String,
        directMembers: [String] = [],
        directGroups: [String] = [],
        transitiveMembers: [String] = [],
        unresolvedMembers: [String] = []
    ) {
        self.id = id
        self.dn = dn
        self.name = name
        self.directMembers = directMembers
        self.directGroups = directGroups
        self.transitiveMembers = transitiveMembers
        self.unresolvedMembers = unresolvedMembers
    }
}

/// A complete, consistent read of the directory. There is no "partial" snapshot: the reader either
/// produces all of it or fails, so a missing identity here always means "not in the directory".
public struct DirectorySnapshot: Sendable, Hashable, Codable {
    /// Identities sorted by id.
    public var identities: [Identity]
    /// Groups sorted by id.
    public var groups: [Group]
    /// Nested-group cycles: each is a list of group DNs that contain each other (sorted).
    public var cycles: [[String]]
    /// Data problems that did not stop the read (unresolvable member values, missing usernames).
    public var warnings: [String]

    public init(identities: [Identity], groups: [Group], cycles: [[String]] = [], warnings: [String] = []) {
        self.identities = identities
        self.groups = groups
        self.cycles = cycles
        self.warnings = warnings
    }

    public var disabledCount: Int {
        self.identities.lazy.filter(\.disabled).count
    }
}
