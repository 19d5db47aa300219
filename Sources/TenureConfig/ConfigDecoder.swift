import Foundation
import LDAPClient
import TenureCore

/// Walks the `ConfigNode` tree, knowing each node's key path and location: type checks,
/// unknown keys (with suggestions), defaults and validation, all reported where they happen.
struct ConfigDecoder {
    /// The configuration file, for errors about values from the environment.
    let file: String
    /// Directory against which relative paths written in the file are resolved; nil = as written.
    let baseDirectory: String?
    private(set) var provenance = Provenance()
    private(set) var warnings: [ConfigWarning] = []

    init(file: String, baseDirectory: String?) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    // MARK: - Plumbing

    struct Mapping {
        var path: String
        var location: ConfigLocation
        var entries: [String: ConfigEntry]

        func childPath(_ key: String) -> String { joinPath(self.path, key) }
    }

    /// A value read from the tree, with where it came from.
    struct Located<Value> {
        var value: Value
        var location: ConfigLocation
        var path: String
    }

    func error(_ location: ConfigLocation, _ path: String, _ message: String) -> ConfigError {
        ConfigError(location, keyPath: path, message: message, file: self.file)
    }

    mutating func warn(_ location: ConfigLocation?, _ path: String?, _ message: String) {
        self.warnings.append(ConfigWarning(location: location, keyPath: path, message: message))
    }

    /// Opens a mapping, rejecting unknown keys (with a "did you mean"). Null is an empty mapping.
    func mapping(
        _ node: ConfigNode,
        path: String,
        allowed: [String],
        what: String = "a mapping"
    ) throws(ConfigError) -> Mapping {
        if node.isNull { return Mapping(path: path, location: node.location, entries: [:]) }
        guard case .mapping(let entries) = node.content else {
            throw self.error(node.location, path, "expected \(what), found \(node.kindDescription())")
        }
        var result: [String: ConfigEntry] = [:]
        for entry in entries {
            let keyPath = joinPath(path, entry.key)
            if path == "ldap", ConfigSchema.inlinePasswordKeys.contains(entry.key) {
                throw self.error(entry.keyLocation, keyPath, ConfigSchema.inlinePasswordMessage)
            }
            guard allowed.contains(entry.key) else {
                var message = "unknown key \(quoted(entry.key))"
                if let near = suggestion(for: entry.key, among: allowed) {
                    message += " (did you mean \(quoted(near))?)"
                }
                message += "; valid keys here: " + allowed.joined(separator: ", ")
                throw self.error(entry.keyLocation, keyPath, message)
            }
            result[entry.key] = entry
        }
        return Mapping(path: path, location: node.location, entries: result)
    }

    /// The node at `key`, or nil when absent. Records where it came from.
    mutating func node(_ mapping: Mapping, _ key: String) -> ConfigNode? {
        guard let entry = mapping.entries[key] else { return nil }
        self.provenance.locations[mapping.childPath(key)] = entry.value.location
        return entry.value
    }

    func missing(_ mapping: Mapping, _ key: String, _ hint: String) -> ConfigError {
        self.error(mapping.location, mapping.childPath(key), "required key is missing; \(hint)")
    }

    /// A string; nil when absent or null. Numbers and booleans are taken as written.
    mutating func string(
        _ mapping: Mapping,
        _ key: String
    ) throws(ConfigError) -> Located<String>? {
        guard let node = self.node(mapping, key), !node.isNull else { return nil }
        return Located(
            value: try self.scalarText(node, path: mapping.childPath(key), expected: "a string"),
            location: node.location,
            path: mapping.childPath(key)
        )
    }

    func scalarText(
        _ node: ConfigNode,
        path: String,
        expected: String
    ) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node.content, scalar.kind != .null else {
            throw self.error(
                node.location,
                path,
                "expected \(expected), found \(node.kindDescription())"
            )
        }
        return scalar.text
    }

    mutating func int(
        _ mapping: Mapping,
        _ key: String,
        default defaultValue: Int,
        range: ClosedRange<Int>
    ) throws(ConfigError) -> Int {
        guard let node = self.node(mapping, key), !node.isNull else { return defaultValue }
        let path = mapping.childPath(key)
        let typeError = self.error(node.location, path, "expected an integer, found \(node.kindDescription())")
        guard case .scalar(let scalar) = node.content else { throw typeError }
        guard let value = parseInteger(scalar.text) else { throw typeError }
        guard range.contains(value) else {
            throw self.error(node.location, path, "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// A number of seconds: more than 0 (or 0 with `allowZero`, meaning "none"), and within `range`
    /// when one is given (0 still allowed with `allowZero`).
    mutating func positiveDouble(
        _ mapping: Mapping,
        _ key: String,
        default defaultValue: Double,
        allowZero: Bool = false,
        range: ClosedRange<Double>? = nil
    ) throws(ConfigError) -> Double {
        guard let node = self.node(mapping, key), !node.isNull else { return defaultValue }
        let path = mapping.childPath(key)
        let typeError = self.error(
            node.location,
            path,
            "expected a number of seconds, found \(node.kindDescription())"
        )
        guard case .scalar(let scalar) = node.content, scalar.kind != .bool else { throw typeError }
        let text = scalar.text.replacingOccurrences(of: "_", with: "")
        guard let value = Double(text), text.allSatisfy({ "0123456789.eE+-".contains($0) }) else {
            throw typeError
        }
        guard value > 0 || (allowZero && value == 0), value.isFinite else {
            throw self.error(
                node.location,
                path,
                allowZero ? "must be 0 or more (seconds)" : "must be greater than 0 (seconds)"
            )
        }
        if let range, !range.contains(value), !(allowZero && value == 0) {
            let zero = allowZero && range.lowerBound > 0 ? "0 (none) or " : ""
            throw self.error(
                node.location,
                path,
                "must be \(zero)between \(yamlNumber(range.lowerBound)) and \(yamlNumber(range.upperBound)) (seconds)"
            )
        }
        return value
    }

    mutating func bool(_ mapping: Mapping, _ key: String, default defaultValue: Bool) throws(ConfigError) -> Bool {
        guard let node = self.node(mapping, key), !node.isNull else { return defaultValue }
        if case .scalar(let scalar) = node.content {
            switch scalar.text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        throw self.error(
            node.location,
            mapping.childPath(key),
            "expected true or false, found \(node.kindDescription())"
        )
    }

    /// A list of strings; a single scalar is a one-element list; null is empty. Nil when absent.
    mutating func stringList(_ mapping: Mapping, _ key: String) throws(ConfigError) -> [Located<String>]? {
        guard let node = self.node(mapping, key) else { return nil }
        let path = mapping.childPath(key)
        switch node.content {
        case .scalar(let scalar):
            if scalar.kind == .null { return [] }
            return [Located(value: scalar.text, location: node.location, path: path + "[0]")]
        case .mapping:
            throw self.error(node.location, path, "expected a list of strings, found a mapping")
        case .sequence(let items):
            var result: [Located<String>] = []
            for (index, item) in items.enumerated() {
                let itemPath = "\(path)[\(index)]"
                let text = try self.scalarText(item, path: itemPath, expected: "a string")
                result.append(Located(value: text, location: item.location, path: itemPath))
            }
            return result
        }
    }

    /// One of `choices`, with a suggestion for near misses.
    func choice(_ value: Located<String>, among choices: [String]) throws(ConfigError) -> String {
        if choices.contains(value.value) { return value.value }
        var message = "unknown value \(quoted(value.value))"
        if let near = suggestion(for: value.value, among: choices) { message += " (did you mean \(quoted(near))?)" }
        message += "; expected one of: " + choices.joined(separator: ", ")
        throw self.error(value.location, value.path, message)
    }

    func check(_ value: Located<String>, _ validate: (String) throws(ValidationFailure) -> Void) throws(ConfigError) {
        do {
            try validate(value.value)
        } catch {
            throw self.error(value.location, value.path, error.message)
        }
    }

    func dn(_ value: Located<String>) throws(ConfigError) -> String {
        do {
            return try validateDN(value.value)
        } catch {
            throw self.error(value.location, value.path, error.message)
        }
    }

    /// Paths written in the file are relative to the file's directory; paths from the
    /// environment are relative to the working directory.
    func resolvedPath(_ value: Located<String>) -> String {
        guard !value.value.hasPrefix("/"), case .file = value.location, let baseDirectory, !baseDirectory.isEmpty
        else { return value.value }
        return lexicallyNormalized(baseDirectory + "/" + value.value)
    }

    /// A file that must exist now (TLS certificates and keys).
    func existingFile(_ value: Located<String>) throws(ConfigError) -> String {
        let path = self.resolvedPath(value)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw self.error(value.location, value.path, "file not found: \(path)")
        }
        guard !isDirectory.boolValue else {
            throw self.error(value.location, value.path, "\(path) is a directory, not a file")
        }
        return path
    }

    // MARK: - The document

    mutating func decode(_ root: ConfigNode) throws(ConfigError) -> TenureConfiguration {
        let document = try self.mapping(
            root,
            path: "",
            allowed: ConfigSchema.rootKeys,
            what: "a mapping with the sections ldap, users and groups"
        )
        // One section at a time (ldap, users, groups): a file with only `ldap:` written so far
        // reports the problems in it before complaining that `users:` is missing.
        guard let ldapNode = self.node(document, "ldap") else {
            throw self.missing(document, "ldap", "add an ldap: section with at least urls:")
        }
        let ldap = try self.decodeLDAP(ldapNode)
        guard let usersNode = self.node(document, "users") else {
            throw self.missing(document, "users", "add a users: section with at least baseDNs:")
        }
        let users = try self.decodeUsers(usersNode)
        guard let groupsNode = self.node(document, "groups") else {
            throw self.missing(document, "groups", "add a groups: section with at least baseDNs:")
        }
        let groups = try self.decodeGroups(groupsNode)
        let state = try self.node(document, "state").map { (node) throws(ConfigError) in try self.decodeState(node) }
        let writeBack = try self.node(document, "writeBack").map { (node) throws(ConfigError) in
            try self.decodeWriteBack(node, groups: groups)
        }
        let server = try self.node(document, "server").map { (node) throws(ConfigError) in
            try self.decodeServer(node)
        }
        var configuration = TenureConfiguration(ldap: ldap, users: users, groups: groups, warnings: self.warnings)
        configuration.state = state
        configuration.writeBack = writeBack
        configuration.server = server
        configuration.provenance = self.provenance
        return configuration
    }

    // MARK: state

    mutating func decodeState(_ node: ConfigNode) throws(ConfigError) -> StateSettings {
        let state = try self.mapping(node, path: "state", allowed: ConfigSchema.stateKeys)
        func path(_ decoder: inout ConfigDecoder, _ key: String, _ hint: String) throws(ConfigError) -> String {
            guard let value = try decoder.string(state, key), !value.value.isEmpty else {
                throw decoder.missing(state, key, hint)
            }
            return decoder.resolvedPath(value)
        }
        return StateSettings(
            database: try path(&self, "database", "name the SQLite file, e.g. database: /var/lib/tenure/tenure.sqlite"),
            auditKeyFile: try path(&self, "auditKeyFile", "name the audit key file (tenure audit init-key creates it)"),
            mappings: try path(&self, "mappings", "name the mappings directory or file, e.g. mappings: ../Mappings"),
            vaultKeyFile: try self.string(state, "vaultKeyFile").flatMap {
                $0.value.isEmpty ? nil : self.resolvedPath($0)
            },
            durability: try self.string(state, "durability").map { (value) throws(ConfigError) in
                StoreDurability(rawValue: try self.choice(value, among: StoreDurability.allCases.map(\.rawValue)))
                    ?? .full
            } ?? .full,
            rotationProgramTimeLimitSeconds: try self.positiveDouble(
                state,
                "rotationProgramTimeLimitSeconds",
                default: StateSettings.defaultRotationProgramTimeLimitSeconds,
                range: 1...3_600
            )
        )
    }

    // MARK: writeBack

    mutating func decodeWriteBack(_ node: ConfigNode, groups: GroupSettings) throws(ConfigError) -> WriteBackSettings {
        let section = try self.mapping(node, path: "writeBack", allowed: ConfigSchema.writeBackKeys)
        guard let bindDN = try self.string(section, "bindDN"), !bindDN.value.isEmpty else {
            throw self.missing(
                section,
                "bindDN",
                "name the account Tenure writes write-back groups as, e.g. bindDN: cn=tenure-writer,ou=services,…"
            )
        }
        _ = try self.dn(bindDN)
        let password = try self.passwordSource(section, section: "writeBack", bindDN: bindDN, anonymousAllowed: false)
        var memberAttribute = WriteBackSettings.defaultMemberAttribute
        let readAsDNs = groups.members.filter { $0.valueIs == .dn }.map(\.attribute)
        if let value = try self.string(section, "memberAttribute"), !value.value.isEmpty {
            try self.check(value, validateAttribute)
            memberAttribute = value.value
        }
        // What Tenure writes must be what it reads back, or its own writes would look missing and be
        // written again on every run (and removals would miss what the reader sees).
        guard readAsDNs.contains(where: { $0.caseInsensitiveCompare(memberAttribute) == .orderedSame }) else {
            let location = section.entries["memberAttribute"]?.value.location ?? section.location
            throw self.error(
                location,
                "writeBack.memberAttribute",
                "\(quoted(memberAttribute)) is not one of the DN-valued groups.members attributes ("
                    + (readAsDNs.isEmpty ? "none" : readAsDNs.joined(separator: ", "))
                    + "): Tenure must read back what it writes"
            )
        }
        var placeholder: String?
        if let value = try self.string(section, "emptyGroupPlaceholder"), !value.value.isEmpty {
            placeholder = try self.dn(value)
        }
        return WriteBackSettings(
            bindDN: bindDN.value,
            password: password,
            memberAttribute: memberAttribute,
            emptyGroupPlaceholder: placeholder
        )
    }

    // MARK: ldap

    mutating func decodeLDAP(_ node: ConfigNode) throws(ConfigError) -> LDAPSettings {
        let ldap = try self.mapping(node, path: "ldap", allowed: ConfigSchema.ldapKeys)

        guard let urlValues = try self.stringList(ldap, "urls") else {
            throw self.missing(ldap, "urls", "list the directory servers, e.g. urls: [\"ldaps://ldap.example.com\"]")
        }
        guard !urlValues.isEmpty else {
            let location = ldap.entries["urls"]?.value.location ?? ldap.location
            throw self.error(location, "ldap.urls", "at least one URL is required")
        }
        var parsedURLs: [(url: Located<String>, parsed: ParsedLDAPURL)] = []
        for url in urlValues {
            do {
                parsedURLs.append((url, try validateLDAPURL(url.value)))
            } catch {
                throw self.error(url.location, url.path, error.message)
            }
        }

        var bindDN = try self.string(ldap, "bindDN")
        if let value = bindDN, value.value.isEmpty { bindDN = nil }
        if let bindDN { _ = try self.dn(bindDN) }

        let password = try self.passwordSource(ldap, section: "ldap", bindDN: bindDN, anonymousAllowed: true)

        let startTLS = try self.bool(ldap, "startTLS", default: false)
        let tls = try self.decodeTLS(self.node(ldap, "tls") ?? .emptyMapping(at: ldap.location))

        let pageSize = try self.int(
            ldap,
            "pageSize",
            default: LDAPSettings.defaultPageSize,
            range: LDAPSettings.pageSizeRange
        )
        let networkTimeout = try self.positiveDouble(
            ldap,
            "networkTimeoutSeconds",
            default: LDAPSettings.defaultNetworkTimeout
        )
        let operationTimeout = try self.positiveDouble(
            ldap,
            "operationTimeoutSeconds",
            default: LDAPSettings.defaultOperationTimeout
        )
        let rangeSize = try self.int(
            ldap,
            "rangeSize",
            default: LDAPSettings.defaultRangeSize,
            range: LDAPSettings.rangeSizeRange
        )

        // Transport warnings.
        if startTLS, let ldaps = parsedURLs.first(where: { $0.parsed.isLDAPS }) {
            self.warn(
                ldap.entries["startTLS"]?.value.location ?? ldap.location,
                "ldap.startTLS",
                "startTLS is ignored for ldaps:// URLs such as \(ldaps.url.value) (already TLS from the first byte)"
            )
        }
        if !startTLS, bindDN != nil,
            let clear = parsedURLs.first(where: { !$0.parsed.isLDAPS && !isLoopbackHost($0.parsed.host) })
        {
            self.warn(
                clear.url.location,
                clear.url.path,
                "the bind password would cross the network unencrypted to \(clear.url.value); "
                    + "use ldaps:// or set ldap.startTLS: true"
            )
        }

        return LDAPSettings(
            urls: parsedURLs.map(\.url.value),
            bindDN: bindDN?.value,
            password: password,
            startTLS: startTLS,
            tls: tls,
            pageSize: pageSize,
            networkTimeout: networkTimeout,
            operationTimeout: operationTimeout,
            rangeSize: rangeSize
        )
    }

    /// `passwordFile` / `passwordEnv` of a section with a bind DN (`ldap`, `writeBack`): exactly one
    /// of them when a bind DN is set; neither (an anonymous bind) only where `anonymousAllowed`.
    mutating func passwordSource(
        _ section: Mapping,
        section name: String,
        bindDN: Located<String>?,
        anonymousAllowed: Bool
    ) throws(ConfigError) -> PasswordSource {
        var passwordFile = try self.string(section, "passwordFile")
        if passwordFile?.value.isEmpty == true { passwordFile = nil }
        var passwordEnv = try self.string(section, "passwordEnv")
        if passwordEnv?.value.isEmpty == true { passwordEnv = nil }

        var password = PasswordSource.none
        if passwordFile != nil, let passwordEnv {
            throw self.error(
                passwordEnv.location,
                passwordEnv.path,
                "set at most one of \(name).passwordFile and \(name).passwordEnv, not both"
            )
        } else if let passwordFile {
            let path = self.resolvedPath(passwordFile)
            password = .file(path)
            self.checkPasswordFilePermissions(path, passwordFile)
        } else if let passwordEnv {
            let variable = passwordEnv.value
            let isValidName =
                variable.first.map { $0 == "_" || ($0.isASCII && $0.isLetter) } == true
                && variable.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
            guard isValidName else {
                throw self.error(
                    passwordEnv.location,
                    passwordEnv.path,
                    "must be the name of an environment variable (letters, digits and _), not the password itself"
                )
            }
            guard !ConfigSchema.environmentVariables.contains(variable) else {
                throw self.error(
                    passwordEnv.location,
                    passwordEnv.path,
                    "\(variable) is a configuration override variable; use another name, e.g. "
                        + ConfigSchema.conventionalPasswordVariable
                )
            }
            password = .environment(variable)
        }
        if let bindDN, password == .none {
            throw self.error(
                bindDN.location,
                bindDN.path,
                "a bind DN needs a password: set \(name).passwordFile or \(name).passwordEnv"
                    + (anonymousAllowed ? " (or remove bindDN to bind anonymously)" : "")
            )
        }
        if bindDN == nil, let source = passwordFile ?? passwordEnv {
            self.warn(
                source.location,
                source.path,
                "a password source is set but \(name).bindDN is empty: binding anonymously, the password is not used"
            )
        }
        return password
    }

    /// Warns when the password file exists and group or others have any access to it.
    /// (Existence itself is checked when the password is read.)
    mutating func checkPasswordFilePermissions(_ path: String, _ value: Located<String>) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue
        else { return }
        if mode & 0o077 != 0 {
            let octal = String(mode & 0o7777, radix: 8).leftPadded(to: 4)
            self.warn(
                value.location,
                value.path,
                "password file \(path) is readable by other users (mode \(octal)); chmod 600 it"
            )
        }
    }

    mutating func decodeTLS(_ node: ConfigNode) throws(ConfigError) -> TLSSettings {
        let tls = try self.mapping(node, path: "ldap.tls", allowed: ConfigSchema.tlsKeys)
        func file(_ decoder: inout ConfigDecoder, _ key: String) throws(ConfigError) -> Located<String>? {
            guard let value = try decoder.string(tls, key), !value.value.isEmpty else { return nil }
            return value
        }
        let caFile = try file(&self, "caFile")
        let certFile = try file(&self, "certFile")
        let keyFile = try file(&self, "keyFile")
        if (certFile == nil) != (keyFile == nil), let given = certFile ?? keyFile {
            throw self.error(
                given.location,
                given.path,
                "ldap.tls.certFile and ldap.tls.keyFile go together: set both (a client certificate) or neither"
            )
        }
        let insecureSkipVerify = try self.bool(tls, "insecureSkipVerify", default: false)
        if insecureSkipVerify {
            self.warn(
                tls.entries["insecureSkipVerify"]?.value.location,
                "ldap.tls.insecureSkipVerify",
                "TLS certificate verification is DISABLED (ldap.tls.insecureSkipVerify) — "
                    + "anyone on the network path can impersonate the directory"
            )
        }
        var minVersion = "1.2"
        if let value = try self.string(tls, "minVersion") {
            minVersion = try self.choice(value, among: TLSSettings.supportedMinVersions)
        }
        return TLSSettings(
            caFile: try caFile.map { (value) throws(ConfigError) in try self.existingFile(value) },
            certFile: try certFile.map { (value) throws(ConfigError) in try self.existingFile(value) },
            keyFile: try keyFile.map { (value) throws(ConfigError) in try self.existingFile(value) },
            insecureSkipVerify: insecureSkipVerify,
            minVersion: minVersion
        )
    }

    // MARK: users

    mutating func baseDNs(_ mapping: Mapping) throws(ConfigError) -> [String] {
        guard let values = try self.stringList(mapping, "baseDNs") else {
            throw self.missing(
                mapping,
                "baseDNs",
                "list the search bases, e.g. baseDNs: [\"ou=people,dc=example,dc=com\"]"
            )
        }
        guard !values.isEmpty else {
            let location = mapping.entries["baseDNs"]?.value.location ?? mapping.location
            throw self.error(location, mapping.childPath("baseDNs"), "at least one base DN is required")
        }
        for value in values { _ = try self.dn(value) }
        return values.map(\.value)
    }

    mutating func scope(_ mapping: Mapping) throws(ConfigError) -> LDAPSearchScope {
        guard let value = try self.string(mapping, "scope") else { return .sub }
        let name = try self.choice(value, among: LDAPSearchScope.allCases.map(\.rawValue))
        return LDAPSearchScope(rawValue: name) ?? .sub
    }

    mutating func filter(_ mapping: Mapping, default defaultValue: String) throws(ConfigError) -> String {
        guard let value = try self.string(mapping, "filter") else { return defaultValue }
        try self.check(value, validateFilter)
        return value.value
    }

    /// An attribute name that must be present (defaulted when absent, an error when null or empty).
    mutating func requiredAttribute(_ mapping: Mapping, _ key: String, default defaultValue: String) throws(ConfigError)
        -> String
    {
        guard let node = mapping.entries[key]?.value else { return defaultValue }
        guard let value = try self.string(mapping, key), !value.value.isEmpty else {
            throw self.error(node.location, mapping.childPath(key), "cannot be empty or null; it is required")
        }
        try self.check(value, validateAttribute)
        return value.value
    }

    mutating func decodeUsers(_ node: ConfigNode) throws(ConfigError) -> UserSettings {
        let users = try self.mapping(node, path: "users", allowed: ConfigSchema.userKeys)
        let baseDNs = try self.baseDNs(users)
        let scope = try self.scope(users)
        let filter = try self.filter(users, default: UserSettings.defaultFilter)

        let attributes = try self.mapping(
            self.node(users, "attributes") ?? .emptyMapping(at: users.location),
            path: "users.attributes",
            allowed: ConfigSchema.userAttributeKeys
        )
        let defaults = UserAttributeMap()
        func optional(_ decoder: inout ConfigDecoder, _ key: String, _ defaultValue: String?) throws(ConfigError)
            -> String?
        {
            guard attributes.entries[key] != nil else { return defaultValue }
            guard let value = try decoder.string(attributes, key), !value.value.isEmpty else { return nil }
            try decoder.check(value, validateAttribute)
            return value.value
        }
        let map = UserAttributeMap(
            id: try self.requiredAttribute(attributes, "id", default: defaults.id),
            username: try self.requiredAttribute(attributes, "username", default: defaults.username),
            mail: try optional(&self, "mail", defaults.mail),
            displayName: try optional(&self, "displayName", defaults.displayName),
            employeeNumber: try optional(&self, "employeeNumber", defaults.employeeNumber),
            department: try optional(&self, "department", defaults.department),
            title: try optional(&self, "title", defaults.title),
            manager: try optional(&self, "manager", defaults.manager),
            employeeType: try optional(&self, "employeeType", defaults.employeeType)
        )

        var extraAttributes: [String] = []
        for value in try self.stringList(users, "extraAttributes") ?? [] {
            try self.check(value, validateAttribute)
            extraAttributes.append(value.value)
        }

        var disabled: [DisabledRule] = []
        if let rulesNode = self.node(users, "disabled"), !rulesNode.isNull {
            guard case .sequence(let items) = rulesNode.content else {
                throw self.error(
                    rulesNode.location,
                    "users.disabled",
                    "expected a list of rules (- rule: …), found \(rulesNode.kindDescription())"
                )
            }
            for (index, item) in items.enumerated() {
                disabled.append(try self.decodeRule(item, path: "users.disabled[\(index)]"))
            }
        }

        return UserSettings(
            baseDNs: baseDNs,
            scope: scope,
            filter: filter,
            attributes: map,
            extraAttributes: deduplicatedAttributes(extraAttributes),
            disabled: disabled
        )
    }

    mutating func decodeRule(_ node: ConfigNode, path: String) throws(ConfigError) -> DisabledRule {
        let names = ConfigSchema.disabledRules.map(\.name)
        // `- pwdAccountLockedTime` is shorthand for `- rule: pwdAccountLockedTime`.
        let ruleValue: Located<String>
        var parameters: Mapping?
        if case .scalar(let scalar) = node.content, scalar.kind != .null {
            ruleValue = Located(value: scalar.text, location: node.location, path: path)
        } else {
            guard case .mapping(let entries) = node.content,
                let ruleEntry = entries.first(where: { $0.key == "rule" })
            else {
                throw self.error(
                    node.location,
                    path,
                    "expected a rule (- rule: userAccountControl | accountExpires | pwdAccountLockedTime | "
                        + "nsAccountLock | attributeEquals | underDN), found \(node.kindDescription())"
                )
            }
            ruleValue = Located(
                value: try self.scalarText(ruleEntry.value, path: path + ".rule", expected: "a rule name"),
                location: ruleEntry.value.location,
                path: path + ".rule"
            )
        }
        let name = try self.choice(ruleValue, among: names)
        let allowedParameters = ConfigSchema.disabledRules.first(where: { $0.name == name })?.parameters ?? []
        if case .mapping = node.content {
            parameters = try self.mapping(node, path: path, allowed: ["rule"] + allowedParameters)
        }
        func required(_ decoder: inout ConfigDecoder, _ key: String) throws(ConfigError) -> Located<String> {
            guard let parameters else {
                throw decoder.error(
                    node.location,
                    path,
                    "rule \(name) needs \(allowedParameters.joined(separator: " and ")); "
                        + "write it as - rule: \(name) with "
                        + allowedParameters.map { "\($0): …" }.joined(separator: ", ")
                )
            }
            guard let value = try decoder.string(parameters, key) else {
                throw decoder.error(
                    parameters.entries[key]?.value.location ?? parameters.location,
                    parameters.childPath(key),
                    "rule \(name) needs \(key):"
                )
            }
            return value
        }
        switch name {
        case "userAccountControl": return .userAccountControl
        case "accountExpires": return .accountExpires
        case "pwdAccountLockedTime": return .pwdAccountLockedTime
        case "nsAccountLock": return .nsAccountLock
        case "attributeEquals":
            let attribute = try required(&self, "attribute")
            try self.check(attribute, validateAttribute)
            let value = try required(&self, "value")
            return .attributeEquals(attribute: attribute.value, value: value.value)
        default:  // underDN
            let dn = try required(&self, "dn")
            return .underDN(try self.dn(dn))
        }
    }

    // MARK: groups

    mutating func decodeGroups(_ node: ConfigNode) throws(ConfigError) -> GroupSettings {
        let groups = try self.mapping(node, path: "groups", allowed: ConfigSchema.groupKeys)
        let baseDNs = try self.baseDNs(groups)
        let scope = try self.scope(groups)
        let filter = try self.filter(groups, default: GroupSettings.defaultFilter)
        let id = try self.requiredAttribute(groups, "id", default: "entryUUID")
        let name = try self.requiredAttribute(groups, "name", default: "cn")

        var members = GroupSettings.defaultMembers
        if let membersNode = self.node(groups, "members") {
            let items: [ConfigNode]
            switch membersNode.content {
            case .sequence(let list): items = list
            case .scalar(let scalar) where scalar.kind == .null: items = []
            default:
                throw self.error(
                    membersNode.location,
                    "groups.members",
                    "expected a list of membership attributes (- attribute: member), found "
                        + membersNode.kindDescription()
                )
            }
            guard !items.isEmpty else {
                throw self.error(
                    membersNode.location,
                    "groups.members",
                    "at least one membership attribute is required"
                )
            }
            members = []
            for (index, item) in items.enumerated() {
                members.append(try self.decodeMember(item, path: "groups.members[\(index)]"))
            }
        }
        let nested = try self.bool(groups, "nested", default: true)
        return GroupSettings(
            baseDNs: baseDNs,
            scope: scope,
            filter: filter,
            id: id,
            name: name,
            members: members,
            nested: nested
        )
    }

    mutating func decodeMember(_ node: ConfigNode, path: String) throws(ConfigError) -> MemberAttribute {
        // `- member` is shorthand for `- attribute: member` (values are DNs).
        if case .scalar(let scalar) = node.content, scalar.kind != .null {
            let value = Located(value: scalar.text, location: node.location, path: path)
            try self.check(value, validateAttribute)
            return MemberAttribute(attribute: scalar.text)
        }
        let member = try self.mapping(
            node,
            path: path,
            allowed: ConfigSchema.memberKeys,
            what: "a membership attribute (- attribute: member)"
        )
        guard let attribute = try self.string(member, "attribute") else {
            throw self.missing(member, "attribute", "name the attribute, e.g. attribute: member")
        }
        try self.check(attribute, validateAttribute)
        var kind = MemberValueKind.dn
        if let value = try self.string(member, "valueIs") {
            kind =
                MemberValueKind(rawValue: try self.choice(value, among: MemberValueKind.allCases.map(\.rawValue)))
                ?? .dn
        }
        return MemberAttribute(attribute: attribute.value, valueIs: kind)
    }
}

/// Decimal (with optional sign and `_` separators), `0x` hexadecimal or `0o` octal.
func parseInteger(_ text: String) -> Int? {
    var digits = text.replacingOccurrences(of: "_", with: "")
    var sign = 1
    if digits.hasPrefix("-") {
        sign = -1
        digits.removeFirst()
    } else if digits.hasPrefix("+") {
        digits.removeFirst()
    }
    guard !digits.isEmpty, !digits.hasPrefix("-"), !digits.hasPrefix("+") else { return nil }
    let value: Int?
    if digits.hasPrefix("0x") {
        value = Int(digits.dropFirst(2), radix: 16)
    } else if digits.hasPrefix("0o") {
        value = Int(digits.dropFirst(2), radix: 8)
    } else {
        value = Int(digits, radix: 10)
    }
    return value.map { $0 * sign }
}

/// Collapses `.` and `dir/..` components without touching the file system.
func lexicallyNormalized(_ path: String) -> String {
    let isAbsolute = path.hasPrefix("/")
    var components: [Substring] = []
    for component in path.split(separator: "/") {
        switch component {
        case ".": continue
        case "..":
            if let last = components.last, last != ".." {
                components.removeLast()
            } else if !isAbsolute {
                components.append(component)
            }
        default: components.append(component)
        }
    }
    let joined = components.joined(separator: "/")
    return isAbsolute ? "/" + joined : (joined.isEmpty ? "." : joined)
}
