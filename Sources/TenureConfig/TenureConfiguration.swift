public import LDAPClient
public import TenureCore

/// Tenure's configuration: where the directory is, how to bind, and where users and groups live.
///
/// Read it with ``load(path:environment:otherVariables:)``: the YAML file is parsed, `TENURE_…`
/// environment variables override single keys, and everything is validated; every error names
/// `file:line:column` (or the environment variable) and the key path.
///
/// The bind password is never part of the configuration: only where it comes from
/// (``PasswordSource``). ``resolvePassword(environment:)`` reads it when it is needed.
public struct TenureConfiguration: Sendable, Hashable {
    public var ldap: LDAPSettings
    public var users: UserSettings
    public var groups: GroupSettings
    /// `state:` — where the PIM store, the audit key and the mappings are (needed by plan and sync).
    public var state: StateSettings?
    /// `writeBack:` — the account Tenure writes write-back groups as; nil when write-back is off
    /// (planned write-back actions are then recorded as not executed).
    public var writeBack: WriteBackSettings?
    /// `server:` — `tenure serve` (the API and the daemon); nil: defaults, no tokens.
    public var server: ServerSettings?
    /// Things that are allowed but probably wrong or dangerous (disabled certificate
    /// verification, a world-readable password file, unknown `TENURE_` variables, …).
    public var warnings: [ConfigWarning]
    /// The file the configuration was read from (as given to `load`/`parse`).
    public var sourceFile: String?
    /// Where each value came from (for `redactedYAML` and located password errors).
    /// Not part of equality.
    var provenance: Provenance

    public init(
        ldap: LDAPSettings,
        users: UserSettings,
        groups: GroupSettings,
        warnings: [ConfigWarning] = [],
        sourceFile: String? = nil
    ) {
        self.ldap = ldap
        self.users = users
        self.groups = groups
        self.warnings = warnings
        self.sourceFile = sourceFile
        self.provenance = Provenance()
    }
}

/// `state:` — the files of the PIM model. Relative paths are resolved against the config file's
/// directory.
public struct StateSettings: Sendable, Hashable {
    /// The SQLite database of identities, assignments, plans and the audit log.
    public var database: String
    /// The audit HMAC key (32 bytes, mode 0600).
    public var auditKeyFile: String
    /// A mappings directory (every *.yaml in it) or a single mappings file.
    public var mappings: String
    /// The vault master key (32 bytes, mode 0600, created by `tenure vault init`); nil when the
    /// vault is not used.
    public var vaultKeyFile: String?
    /// When a commit is safe: `full` (the default) syncs the database at every commit, so a
    /// committed record — an answered decision's audit record included — survives a power loss or
    /// an OS crash; `normal` only survives a crash of Tenure itself (the last commits can be lost
    /// with the machine), for ~10 % more audited decisions per second (BENCHMARKS.md §5).
    public var durability: StoreDurability
    /// How long a `--command` credential's rotation program has to finish (seconds); one still
    /// running then is stopped and its rotation left for a person. Every command that rotates
    /// (`serve`, `sync`, `offboard`, `vault rotate`) uses it.
    public var rotationProgramTimeLimitSeconds: Double

    public static let defaultRotationProgramTimeLimitSeconds: Double = 120

    public init(
        database: String,
        auditKeyFile: String,
        mappings: String,
        vaultKeyFile: String? = nil,
        durability: StoreDurability = .full,
        rotationProgramTimeLimitSeconds: Double = StateSettings.defaultRotationProgramTimeLimitSeconds
    ) {
        self.database = database
        self.auditKeyFile = auditKeyFile
        self.mappings = mappings
        self.vaultKeyFile = vaultKeyFile
        self.durability = durability
        self.rotationProgramTimeLimitSeconds = rotationProgramTimeLimitSeconds
    }
}

/// `state.durability`: SQLite's `synchronous` level for the store (WAL mode).
public enum StoreDurability: String, Sendable, Hashable, CaseIterable {
    case full
    case normal
}

/// `writeBack:` — how Tenure writes the membership of write-back groups: over the `ldap:` servers
/// and TLS settings, bound as its own account (the reading account stays read-only).
public struct WriteBackSettings: Sendable, Hashable {
    public var bindDN: String
    /// Where the writer's password comes from (never `.none`).
    public var password: PasswordSource
    /// The attribute that lists members (`member` for groupOfNames, `uniqueMember` for
    /// groupOfUniqueNames). Values are member DNs.
    public var memberAttribute: String
    /// A DN written into a group when its last member is removed, for schemas where a group must
    /// have a member (groupOfNames); removed again when a real member is added. Never reported as
    /// drift. nil: removing the last member of such a group fails (and is reported).
    public var emptyGroupPlaceholder: String?

    public static let defaultMemberAttribute = "member"

    public init(
        bindDN: String,
        password: PasswordSource,
        memberAttribute: String = WriteBackSettings.defaultMemberAttribute,
        emptyGroupPlaceholder: String? = nil
    ) {
        self.bindDN = bindDN
        self.password = password
        self.memberAttribute = memberAttribute
        self.emptyGroupPlaceholder = emptyGroupPlaceholder
    }
}

/// `ldap:` — connection and bind.
public struct LDAPSettings: Sendable, Hashable {
    /// `ldap://` or `ldaps://` URLs, tried in order (failover).
    public var urls: [String]
    /// The bind DN, as written; nil = anonymous bind.
    public var bindDN: String?
    /// Where the bind password comes from. Relative file paths are already resolved.
    public var password: PasswordSource
    /// Upgrade `ldap://` connections with StartTLS (ignored for `ldaps://`).
    public var startTLS: Bool
    public var tls: TLSSettings
    /// Entries per page of the paged-results control.
    public var pageSize: Int
    /// Connect timeout per server, in seconds.
    public var networkTimeout: Double
    /// Timeout for each operation, in seconds.
    public var operationTimeout: Double
    /// Values per step of ranged retrieval (`member;range=0-1499`) of big multi-valued attributes.
    public var rangeSize: Int

    public static let defaultPageSize = 500
    public static let defaultNetworkTimeout: Double = 10
    public static let defaultOperationTimeout: Double = 120
    public static let defaultRangeSize = 1500
    public static let pageSizeRange = 1...100_000
    public static let rangeSizeRange = 1...100_000

    public init(
        urls: [String],
        bindDN: String? = nil,
        password: PasswordSource = .none,
        startTLS: Bool = false,
        tls: TLSSettings = TLSSettings(),
        pageSize: Int = LDAPSettings.defaultPageSize,
        networkTimeout: Double = LDAPSettings.defaultNetworkTimeout,
        operationTimeout: Double = LDAPSettings.defaultOperationTimeout,
        rangeSize: Int = LDAPSettings.defaultRangeSize
    ) {
        self.urls = urls
        self.bindDN = bindDN
        self.password = password
        self.startTLS = startTLS
        self.tls = tls
        self.pageSize = pageSize
        self.networkTimeout = networkTimeout
        self.operationTimeout = operationTimeout
        self.rangeSize = rangeSize
    }
}

/// Where the bind password is read from. The password itself is never stored in the configuration.
public enum PasswordSource: Sendable, Hashable {
    /// No password (anonymous bind).
    case none
    /// A file holding the password (one trailing newline is stripped).
    case file(String)
    /// An environment variable holding the password.
    case environment(String)
}

/// `ldap.tls:` — certificates and protocol versions for `ldaps://` and StartTLS.
public struct TLSSettings: Sendable, Hashable {
    /// PEM file of CA certificates to trust; nil = the system's.
    public var caFile: String?
    /// Client certificate and key (both or neither).
    public var certFile: String?
    public var keyFile: String?
    /// Skip server certificate verification (a loud warning is issued).
    public var insecureSkipVerify: Bool
    /// Minimum TLS version: "1.2" or "1.3".
    public var minVersion: String

    public static let supportedMinVersions = ["1.2", "1.3"]

    public init(
        caFile: String? = nil,
        certFile: String? = nil,
        keyFile: String? = nil,
        insecureSkipVerify: Bool = false,
        minVersion: String = "1.2"
    ) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
        self.minVersion = minVersion
    }
}

/// `users:` — where identities live and how to read them.
public struct UserSettings: Sendable, Hashable {
    /// Search bases (valid DNs, as written).
    public var baseDNs: [String]
    public var scope: LDAPSearchScope
    public var filter: String
    public var attributes: UserAttributeMap
    /// More attributes to read and keep on each identity.
    public var extraAttributes: [String]
    /// An identity is disabled when any rule matches. `underDN` values are normalised DNs.
    public var disabled: [DisabledRule]

    public static let defaultFilter = "(objectClass=inetOrgPerson)"

    public init(
        baseDNs: [String],
        scope: LDAPSearchScope = .sub,
        filter: String = UserSettings.defaultFilter,
        attributes: UserAttributeMap = UserAttributeMap(),
        extraAttributes: [String] = [],
        disabled: [DisabledRule] = []
    ) {
        self.baseDNs = baseDNs
        self.scope = scope
        self.filter = filter
        self.attributes = attributes
        self.extraAttributes = extraAttributes
        self.disabled = disabled
    }

    /// Every attribute a user search must request: the mapped ones, `extraAttributes`, and the
    /// attributes the disabled rules read — deduplicated (case-insensitively), in that order.
    public var requestedAttributes: [String] {
        var names = self.attributes.allAttributes + self.extraAttributes
        for rule in self.disabled {
            switch rule {
            case .userAccountControl: names.append("userAccountControl")
            case .accountExpires: names.append("accountExpires")
            case .pwdAccountLockedTime: names.append("pwdAccountLockedTime")
            case .nsAccountLock: names.append("nsAccountLock")
            case .attributeEquals(let attribute, _): names.append(attribute)
            case .underDN: break
            }
        }
        return deduplicatedAttributes(names)
    }
}

/// `users.attributes:` — which directory attribute holds each identity field.
/// `nil` means the optional field is not read.
public struct UserAttributeMap: Sendable, Hashable {
    /// Stable identity key: `entryUUID` (OpenLDAP, 389-DS) or `objectGUID` (Active Directory).
    public var id: String
    /// Login name: `uid`, or `sAMAccountName` for Active Directory.
    public var username: String
    public var mail: String?
    public var displayName: String?
    public var employeeNumber: String?
    public var department: String?
    public var title: String?
    public var manager: String?
    public var employeeType: String?

    public init(
        id: String = "entryUUID",
        username: String = "uid",
        mail: String? = "mail",
        displayName: String? = "displayName",
        employeeNumber: String? = "employeeNumber",
        department: String? = "departmentNumber",
        title: String? = "title",
        manager: String? = "manager",
        employeeType: String? = "employeeType"
    ) {
        self.id = id
        self.username = username
        self.mail = mail
        self.displayName = displayName
        self.employeeNumber = employeeNumber
        self.department = department
        self.title = title
        self.manager = manager
        self.employeeType = employeeType
    }

    /// The mapped attributes (id, username, then the optional ones that are set), deduplicated
    /// case-insensitively, in that order. Does not include `extraAttributes`
    /// (see ``UserSettings/requestedAttributes``).
    public var allAttributes: [String] {
        let optional = [
            self.mail, self.displayName, self.employeeNumber, self.department, self.title, self.manager,
            self.employeeType,
        ]
        return deduplicatedAttributes([self.id, self.username] + optional.compactMap { $0 })
    }
}

/// `groups:` — where groups live and how membership is expressed.
public struct GroupSettings: Sendable, Hashable {
    public var baseDNs: [String]
    public var scope: LDAPSearchScope
    public var filter: String
    /// Stable group key attribute.
    public var id: String
    /// Group name attribute.
    public var name: String
    /// Attributes that list members, and what their values are.
    public var members: [MemberAttribute]
    /// Resolve group-in-group membership transitively.
    public var nested: Bool

    public static let defaultFilter =
        "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
    public static let defaultMembers: [MemberAttribute] = [
        MemberAttribute(attribute: "member"),
        MemberAttribute(attribute: "uniqueMember"),
        MemberAttribute(attribute: "memberUid", valueIs: .username),
    ]

    public init(
        baseDNs: [String],
        scope: LDAPSearchScope = .sub,
        filter: String = GroupSettings.defaultFilter,
        id: String = "entryUUID",
        name: String = "cn",
        members: [MemberAttribute] = GroupSettings.defaultMembers,
        nested: Bool = true
    ) {
        self.baseDNs = baseDNs
        self.scope = scope
        self.filter = filter
        self.id = id
        self.name = name
        self.members = members
        self.nested = nested
    }

    /// Every attribute a group search must request (id, name, membership attributes), deduplicated.
    public var requestedAttributes: [String] {
        deduplicatedAttributes([self.id, self.name] + self.members.map(\.attribute))
    }
}

/// A membership attribute of a group entry.
public struct MemberAttribute: Sendable, Hashable {
    public var attribute: String
    public var valueIs: MemberValueKind

    public init(attribute: String, valueIs: MemberValueKind = .dn) {
        self.attribute = attribute
        self.valueIs = valueIs
    }
}

/// What the values of a membership attribute are.
public enum MemberValueKind: String, Sendable, Hashable, CaseIterable {
    /// Member DNs (`member`, `uniqueMember`).
    case dn
    /// Usernames (`memberUid` of posixGroup).
    case username
}

/// Removes later duplicates, comparing attribute names case-insensitively.
func deduplicatedAttributes(_ names: [String]) -> [String] {
    var seen: Set<String> = []
    var result: [String] = []
    for name in names where seen.insert(name.lowercased()).inserted {
        result.append(name)
    }
    return result
}

/// Where each value of a loaded configuration came from. Compares equal to every other
/// provenance, so that it does not take part in the configuration's equality.
struct Provenance: Sendable, Hashable {
    /// Key path (`ldap.pageSize`) → location of its value.
    var locations: [String: ConfigLocation] = [:]

    static func == (lhs: Provenance, rhs: Provenance) -> Bool { true }
    func hash(into hasher: inout Hasher) {}

    /// The environment variable a key's value came from, if it did.
    func environmentVariable(for keyPath: String) -> String? {
        if case .environment(let name) = self.locations[keyPath] { return name }
        return nil
    }
}
