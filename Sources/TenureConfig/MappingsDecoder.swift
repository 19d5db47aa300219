import LDAPClient
import TenureCore

/// The keys of a mappings file (`Mappings/*.yaml`), for the unknown-key check and suggestions.
enum MappingsSchema {
    static let rootKeys = ["roles", "rules", "scope", "protected", "guard", "leaver"]
    static let roleKeys = [
        "name", "tier", "mode", "maxActivation", "requirements", "writeBackGroup", "credentials", "conflicts", "drift",
    ]
    static let ruleKeys = ["name", "when", "grant", "as", "validFrom", "validUntil"]
    /// The keys that make a condition; exactly one per condition.
    static let conditionOperators = ["memberOf", "attribute", "underDN", "all", "any", "not"]
    /// The comparisons that go with `attribute:`; exactly one.
    static let attributeOperators = ["equals", "in", "matches"]
    static let conditionKeys = conditionOperators + attributeOperators
    static let protectedKeys = ["username", "id", "dn"]
    static let guardKeys = ["maxLeavers", "maxLeaverPercent", "maxRevoked", "maxRevokedPercent"]
    static let leaverKeys = ["lookBack"]

    /// The identity fields a condition can name directly (the `users.attributes` mapping, and `dn`).
    /// Any other name is an LDAP attribute and is lowercased.
    static let mappedFields = [
        "username", "mail", "displayName", "employeeNumber", "department", "title", "manager", "employeeType", "dn",
    ]

    static let roleModes = [RoleMode.eligible.rawValue, RoleMode.standing.rawValue]
    static let driftPolicies = [DriftPolicy.alert.rawValue, DriftPolicy.revert.rawValue, DriftPolicy.adopt.rawValue]

    /// Activation length of an eligible role that does not set `maxActivation`.
    static let defaultMaxActivationSeconds = 3600

    static let conditionHint = "a condition (one of memberOf, attribute, underDN, all, any, not)"
}

/// One file's worth of mappings, with the locations the cross-file checks report.
struct MappingsFragment {
    struct LocatedRole {
        var role: RoleDefinition
        var path: String
        var name: ConfigDecoder.Located<String>
        var conflicts: [ConfigDecoder.Located<String>]
        var writeBackGroup: ConfigDecoder.Located<String>?
    }

    struct LocatedRule {
        var rule: Rule
        var path: String
        var name: ConfigDecoder.Located<String>
        var grant: ConfigDecoder.Located<String>
        /// The `as:` value, when written (otherwise the rule takes the role's mode).
        var mode: ConfigDecoder.Located<RoleMode>?
    }

    /// A group named in a `memberOf:` condition (rules and scope), for the write-back check.
    struct GroupReference {
        /// The normalised DN, or the group name as written.
        var group: String
        var isDN: Bool
        var location: ConfigLocation
        var path: String
    }

    /// A section that may be set in one file only (`scope:`, `guard:`), by where its key is.
    struct SingleSection<Value> {
        var value: Value
        var location: ConfigLocation
    }

    var file: String
    var roles: [LocatedRole] = []
    var rules: [LocatedRule] = []
    var scope: SingleSection<Condition>?
    var protected: [ProtectedIdentity] = []
    var guardSettings: SingleSection<LeaverGuard>?
    var leaver: SingleSection<LeaverPolicy>?
    var groupReferences: [GroupReference] = []
}

/// Decodes one mappings file, reusing `ConfigDecoder`'s typed readers (locations, key paths,
/// unknown keys with suggestions).
struct MappingsDecoder {
    typealias Located = ConfigDecoder.Located

    private var base: ConfigDecoder
    private var fragment: MappingsFragment

    init(file: String) {
        self.base = ConfigDecoder(file: file, baseDirectory: nil)
        self.fragment = MappingsFragment(file: file)
    }

    private func error(_ location: ConfigLocation, _ path: String, _ message: String) -> ConfigError {
        self.base.error(location, path, message)
    }

    // MARK: - The document

    mutating func decode(_ root: ConfigNode) throws(ConfigError) -> MappingsFragment {
        let document = try self.base.mapping(
            root,
            path: "",
            allowed: MappingsSchema.rootKeys,
            what: "a mapping with any of the sections roles, rules, scope, protected, guard and leaver"
        )
        // In the order written in the schema (roles before the rules that grant them).
        if let node = self.base.node(document, "roles") {
            for (index, item) in try self.list(node, path: "roles", what: "a list of roles (- name: …)").enumerated() {
                self.fragment.roles.append(try self.decodeRole(item, path: "roles[\(index)]"))
            }
        }
        if let node = self.base.node(document, "rules") {
            for (index, item) in try self.list(node, path: "rules", what: "a list of rules (- name: …)").enumerated() {
                self.fragment.rules.append(try self.decodeRule(item, path: "rules[\(index)]"))
            }
        }
        if let entry = document.entries["scope"] {
            _ = self.base.node(document, "scope")
            let condition = try self.condition(entry.value, path: "scope")
            self.fragment.scope = .init(value: condition, location: entry.keyLocation)
        }
        if let node = self.base.node(document, "protected") {
            let items = try self.list(node, path: "protected", what: "a list of accounts (- username: …)")
            for (index, item) in items.enumerated() {
                let identity = try self.decodeProtected(item, path: "protected[\(index)]")
                if !self.fragment.protected.contains(identity) { self.fragment.protected.append(identity) }
            }
        }
        if let entry = document.entries["guard"] {
            _ = self.base.node(document, "guard")
            let settings = try self.decodeGuard(entry.value)
            self.fragment.guardSettings = .init(value: settings, location: entry.keyLocation)
        }
        if let entry = document.entries["leaver"] {
            _ = self.base.node(document, "leaver")
            let settings = try self.base.mapping(entry.value, path: "leaver", allowed: MappingsSchema.leaverKeys)
            var policy = LeaverPolicy()
            if let value = try self.base.string(settings, "lookBack") {
                do {
                    policy.lookBackSeconds = Double(try parseDuration(value.value, allowZero: true))
                } catch {
                    throw self.error(value.location, value.path, error.message)
                }
            }
            self.fragment.leaver = .init(value: policy, location: entry.keyLocation)
        }
        return self.fragment
    }

    /// The items of a list; null is an empty list.
    private func list(_ node: ConfigNode, path: String, what: String) throws(ConfigError) -> [ConfigNode] {
        switch node.content {
        case .sequence(let items): return items
        case .scalar(let scalar) where scalar.kind == .null: return []
        default: throw self.error(node.location, path, "expected \(what), found \(node.kindDescription())")
        }
    }

    // MARK: - Shared readers

    /// A required, non-empty string.
    private mutating func requiredString(
        _ mapping: ConfigDecoder.Mapping,
        _ key: String,
        hint: String
    ) throws(ConfigError) -> Located<String> {
        guard let entry = mapping.entries[key] else { throw self.base.missing(mapping, key, hint) }
        guard let value = try self.base.string(mapping, key) else {
            throw self.error(entry.value.location, mapping.childPath(key), "cannot be null; \(hint)")
        }
        guard !value.value.isEmpty else { throw self.error(value.location, value.path, "cannot be empty; \(hint)") }
        return value
    }

    /// A role or rule name: letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    private mutating func name(_ mapping: ConfigDecoder.Mapping, what: String) throws(ConfigError) -> Located<String> {
        let value = try self.requiredString(mapping, "name", hint: "give the \(what) a name, e.g. name: dba-prod")
        try self.base.check(value) { (name) throws(ValidationFailure) in try validateMappingsName(name, what: what) }
        return value
    }

    /// A list of non-empty strings without duplicates (kept in the order first written).
    private mutating func names(_ mapping: ConfigDecoder.Mapping, _ key: String) throws(ConfigError) -> [Located<
        String
    >] {
        var result: [Located<String>] = []
        for value in try self.base.stringList(mapping, key) ?? [] {
            guard !value.value.isEmpty else { throw self.error(value.location, value.path, "cannot be empty") }
            if !result.contains(where: { $0.value == value.value }) { result.append(value) }
        }
        return result
    }

    private func mode(_ value: Located<String>) throws(ConfigError) -> RoleMode {
        RoleMode(rawValue: try self.base.choice(value, among: MappingsSchema.roleModes)) ?? .eligible
    }

    // MARK: - roles

    private mutating func decodeRole(_ node: ConfigNode, path: String) throws(ConfigError)
        -> MappingsFragment.LocatedRole
    {
        let role = try self.base.mapping(node, path: path, allowed: MappingsSchema.roleKeys, what: "a role (- name: …)")
        let name = try self.name(role, what: "role")

        guard let tierEntry = role.entries["tier"] else {
            throw self.base.missing(role, "tier", "set the role's tier, e.g. tier: 0 (0 is the most privileged)")
        }
        _ = self.base.node(role, "tier")
        let tierNode = tierEntry.value
        guard case .scalar(let tierScalar) = tierNode.content, tierScalar.kind == .int || tierScalar.kind == .string,
            let tier = parseInteger(tierScalar.text)
        else {
            throw self.error(
                tierNode.location,
                role.childPath("tier"),
                "expected an integer >= 0 (0 is the most privileged tier), found \(tierNode.kindDescription())"
            )
        }
        guard tier >= 0 else {
            throw self.error(
                tierNode.location,
                role.childPath("tier"),
                "must be 0 or more (0 is the most privileged tier), found \(tier)"
            )
        }

        let mode = try self.mode(
            self.requiredString(role, "mode", hint: "set mode: eligible (activated just in time) or mode: standing")
        )

        var maxActivationSeconds: Int?
        if let value = try self.base.string(role, "maxActivation") {
            guard mode == .eligible else {
                throw self.error(
                    value.location,
                    value.path,
                    "maxActivation applies only to eligible roles; this role is standing"
                )
            }
            do {
                maxActivationSeconds = try parseDuration(value.value)
            } catch {
                throw self.error(value.location, value.path, error.message)
            }
        } else if mode == .eligible {
            maxActivationSeconds = MappingsSchema.defaultMaxActivationSeconds
        }

        var requirements: [ActivationRequirement] = []
        for value in try self.names(role, "requirements") {
            let choices = ActivationRequirement.allCases.map(\.rawValue)
            if let requirement = ActivationRequirement(rawValue: try self.base.choice(value, among: choices)) {
                requirements.append(requirement)
            }
        }
        if !requirements.isEmpty, mode == .standing {
            let location = role.entries["requirements"]?.value.location ?? role.location
            throw self.error(
                location,
                role.childPath("requirements"),
                "requirements apply to activating an eligible role; this role is standing"
            )
        }

        var writeBackGroup: Located<String>?
        if let value = try self.base.string(role, "writeBackGroup"), !value.value.isEmpty {
            writeBackGroup = Located(value: try self.base.dn(value), location: value.location, path: value.path)
        }

        let credentials = try self.names(role, "credentials").map(\.value)
        let conflicts = try self.names(role, "conflicts")

        var drift = DriftPolicy.alert
        if let value = try self.base.string(role, "drift") {
            drift = DriftPolicy(rawValue: try self.base.choice(value, among: MappingsSchema.driftPolicies)) ?? .alert
            guard writeBackGroup != nil else {
                throw self.error(
                    value.location,
                    value.path,
                    "drift applies to the role's write-back group; set writeBackGroup or remove drift"
                )
            }
        }

        return MappingsFragment.LocatedRole(
            role: RoleDefinition(
                name: name.value,
                tier: tier,
                mode: mode,
                maxActivationSeconds: maxActivationSeconds,
                requirements: requirements,
                writeBackGroup: writeBackGroup?.value,
                credentials: credentials,
                conflicts: conflicts.map(\.value),
                drift: drift
            ),
            path: path,
            name: name,
            conflicts: conflicts,
            writeBackGroup: writeBackGroup
        )
    }

    // MARK: - rules

    private mutating func decodeRule(_ node: ConfigNode, path: String) throws(ConfigError)
        -> MappingsFragment.LocatedRule
    {
        let rule = try self.base.mapping(node, path: path, allowed: MappingsSchema.ruleKeys, what: "a rule (- name: …)")
        let name = try self.name(rule, what: "rule")
        guard let whenNode = self.base.node(rule, "when") else {
            throw self.base.missing(rule, "when", "say who the rule applies to, e.g. when: {memberOf: dba}")
        }
        let condition = try self.condition(whenNode, path: rule.childPath("when"))
        let grant = try self.requiredString(rule, "grant", hint: "name the role the rule grants, e.g. grant: dba-prod")

        var mode: Located<RoleMode>?
        if let value = try self.base.string(rule, "as") {
            mode = Located(value: try self.mode(value), location: value.location, path: value.path)
        }

        let validFrom = try self.timestamp(rule, "validFrom")
        let validUntil = try self.timestamp(rule, "validUntil")
        if let validFrom, let validUntil, validFrom.value >= validUntil.value {
            throw self.error(
                validUntil.location,
                validUntil.path,
                "validUntil must be after validFrom (\(validFrom.location)); the rule would never apply"
            )
        }

        return MappingsFragment.LocatedRule(
            rule: Rule(
                name: name.value,
                when: condition,
                grant: grant.value,
                // The role's own mode when `as:` is absent; settled once every file is read.
                mode: mode?.value ?? .eligible,
                validFrom: validFrom?.value,
                validUntil: validUntil?.value
            ),
            path: path,
            name: name,
            grant: grant,
            mode: mode
        )
    }

    private mutating func timestamp(_ mapping: ConfigDecoder.Mapping, _ key: String) throws(ConfigError) -> Located<
        Double
    >? {
        guard let value = try self.base.string(mapping, key) else { return nil }
        do {
            return Located(value: try parseTimestamp(value.value), location: value.location, path: value.path)
        } catch {
            throw self.error(value.location, value.path, error.message)
        }
    }

    // MARK: - Conditions

    mutating func condition(_ node: ConfigNode, path: String) throws(ConfigError) -> Condition {
        guard case .mapping(let entries) = node.content, !entries.isEmpty else {
            throw self.error(
                node.location,
                path,
                "expected \(MappingsSchema.conditionHint), found \(node.kindDescription())"
            )
        }
        let mapping = try self.base.mapping(node, path: path, allowed: MappingsSchema.conditionKeys)
        let operators = entries.filter { MappingsSchema.conditionOperators.contains($0.key) }
        let comparisons = entries.filter { MappingsSchema.attributeOperators.contains($0.key) }
        guard let first = operators.first else {
            let comparison = comparisons[0]  // the mapping is not empty and has no unknown key
            throw self.error(
                comparison.keyLocation,
                joinPath(path, comparison.key),
                "\(comparison.key) compares an attribute; add attribute: (the attribute to compare)"
            )
        }
        if operators.count > 1 {
            let second = operators[1]
            throw self.error(
                second.keyLocation,
                joinPath(path, second.key),
                "a condition has exactly one of memberOf, attribute, underDN, all, any, not; this one already has "
                    + "\(first.key) (combine several with all: or any:)"
            )
        }
        if first.key != "attribute", let comparison = comparisons.first {
            throw self.error(
                comparison.keyLocation,
                joinPath(path, comparison.key),
                "\(comparison.key) goes with attribute:, not with \(first.key):"
            )
        }
        _ = self.base.node(mapping, first.key)
        let childPath = joinPath(path, first.key)
        switch first.key {
        case "memberOf":
            let value = try self.requiredString(mapping, "memberOf", hint: "name a group by DN or by name")
            if value.value.contains("=") {
                let dn = try self.base.dn(value)
                self.fragment.groupReferences.append(
                    .init(group: dn, isDN: true, location: value.location, path: value.path)
                )
                return .memberOf(dn)
            }
            self.fragment.groupReferences.append(
                .init(group: value.value, isDN: false, location: value.location, path: value.path)
            )
            return .memberOf(value.value)
        case "attribute":
            return try self.attributeCondition(mapping, first, comparisons, path: path)
        case "underDN":
            let value = try self.requiredString(mapping, "underDN", hint: "name a subtree by its DN")
            return .underDN(try self.base.dn(value))
        case "all", "any":
            let what = "a list of conditions"
            let items = try self.list(first.value, path: childPath, what: what)
            guard !items.isEmpty else {
                throw self.error(
                    first.value.isNull ? first.keyLocation : first.value.location,
                    childPath,
                    "\(first.key) needs at least one condition (an empty \(first.key) has no clear meaning)"
                )
            }
            var conditions: [Condition] = []
            for (index, item) in items.enumerated() {
                conditions.append(try self.condition(item, path: "\(childPath)[\(index)]"))
            }
            return first.key == "all" ? .all(conditions) : .any(conditions)
        default:  // not
            return .not(try self.condition(first.value, path: childPath))
        }
    }

    private mutating func attributeCondition(
        _ mapping: ConfigDecoder.Mapping,
        _ attributeEntry: ConfigEntry,
        _ comparisons: [ConfigEntry],
        path: String
    ) throws(ConfigError) -> Condition {
        let written = try self.requiredString(
            mapping,
            "attribute",
            hint: "name a field (username, mail, department, …) or an LDAP attribute"
        )
        let attribute: String
        if let field = MappingsSchema.mappedFields.first(where: { $0.lowercased() == written.value.lowercased() }) {
            attribute = field
        } else {
            try self.base.check(written, validateAttribute)
            attribute = written.value.lowercased()
        }
        guard let comparison = comparisons.first else {
            throw self.error(
                attributeEntry.keyLocation,
                joinPath(path, "attribute"),
                "attribute needs exactly one of equals, in, matches"
            )
        }
        if comparisons.count > 1 {
            let second = comparisons[1]
            throw self.error(
                second.keyLocation,
                joinPath(path, second.key),
                "attribute takes exactly one of equals, in, matches; this condition already has \(comparison.key)"
            )
        }
        switch comparison.key {
        case "equals":
            let value = try self.requiredString(mapping, "equals", hint: "give the value to compare with")
            return .attributeEquals(attribute: attribute, value: value.value)
        case "in":
            let values = try self.names(mapping, "in")
            guard !values.isEmpty else {
                throw self.error(comparison.value.location, joinPath(path, "in"), "in needs at least one value")
            }
            return .attributeIn(attribute: attribute, values: values.map(\.value))
        default:  // matches
            guard let pattern = try self.base.string(mapping, "matches") else {
                throw self.error(
                    comparison.value.location,
                    joinPath(path, "matches"),
                    "cannot be null; give a regular expression"
                )
            }
            try self.base.check(pattern, validateRegex)
            return .attributeMatches(attribute: attribute, pattern: pattern.value)
        }
    }

    // MARK: - protected, guard

    private mutating func decodeProtected(_ node: ConfigNode, path: String) throws(ConfigError) -> ProtectedIdentity {
        let what = "an account (- username: …, - id: … or - dn: …)"
        let account = try self.base.mapping(node, path: path, allowed: MappingsSchema.protectedKeys, what: what)
        guard case .mapping(let entries) = node.content, let first = entries.first else {
            throw self.error(node.location, path, "expected \(what), found \(node.kindDescription())")
        }
        if entries.count > 1 {
            throw self.error(
                entries[1].keyLocation,
                joinPath(path, entries[1].key),
                "name the account with exactly one of username, id, dn; this one already has \(first.key)"
            )
        }
        let value = try self.requiredString(account, first.key, hint: "name the protected account")
        switch first.key {
        case "username": return .username(value.value)
        case "id": return .id(canonicalStableID(value.value))
        default: return .dn(try self.base.dn(value))
        }
    }

    private mutating func decodeGuard(_ node: ConfigNode) throws(ConfigError) -> LeaverGuard {
        let settings = try self.base.mapping(node, path: "guard", allowed: MappingsSchema.guardKeys)
        var result = LeaverGuard()
        if let value = try self.guardCount(settings, "maxLeavers", zero: "0 holds any plan with a leaver") {
            result.maxLeavers = value
        }
        if let value = try self.guardPercent(settings, "maxLeaverPercent") { result.maxLeaverPercent = value }
        if let value = try self.guardCount(
            settings,
            "maxRevoked",
            zero: "0 holds any plan that takes a role from someone who stays"
        ) {
            result.maxRevoked = value
        }
        if let value = try self.guardPercent(settings, "maxRevokedPercent") { result.maxRevokedPercent = value }
        return result
    }

    /// A `guard` count: an integer >= 0, or nil when absent.
    private mutating func guardCount(_ settings: ConfigDecoder.Mapping, _ key: String, zero: String) throws(ConfigError)
        -> Int?
    {
        guard let node = self.base.node(settings, key), !node.isNull else { return nil }
        let path = settings.childPath(key)
        guard case .scalar(let scalar) = node.content, scalar.kind == .int || scalar.kind == .string,
            let value = parseInteger(scalar.text)
        else {
            throw self.error(node.location, path, "expected an integer >= 0, found \(node.kindDescription())")
        }
        guard value >= 0 else { throw self.error(node.location, path, "must be 0 or more (\(zero))") }
        return value
    }

    /// A `guard` percentage: a number from 0 to 100, or nil when absent.
    private mutating func guardPercent(_ settings: ConfigDecoder.Mapping, _ key: String) throws(ConfigError) -> Double?
    {
        guard let node = self.base.node(settings, key), !node.isNull else { return nil }
        let path = settings.childPath(key)
        let text: String?
        if case .scalar(let scalar) = node.content, scalar.kind == .int || scalar.kind == .float {
            text = scalar.text.filter { $0 != "_" }
        } else {
            text = nil
        }
        guard let text, let value = Double(text) ?? parseInteger(text).map(Double.init) else {
            throw self.error(
                node.location,
                path,
                "expected a percentage between 0 and 100, found \(node.kindDescription())"
            )
        }
        guard value.isFinite, (0...100).contains(value) else {
            throw self.error(node.location, path, "must be between 0 and 100 (a percentage), found \(text)")
        }
        return value
    }
}

/// A stable id as the snapshot stores it: UUIDs in lowercase, anything else as written.
func canonicalStableID(_ value: String) -> String {
    let utf8 = Array(value.utf8)
    guard utf8.count == 36 else { return value }
    for (index, byte) in utf8.enumerated() {
        if index == 8 || index == 13 || index == 18 || index == 23 {
            guard byte == UInt8(ascii: "-") else { return value }
        } else {
            guard (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66) else {
                return value
            }
        }
    }
    return value.lowercased()
}
