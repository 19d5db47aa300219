/// The keys of `tenure.yaml`, for the unknown-key check, suggestions and environment overrides.
enum ConfigSchema {
    static let rootKeys = ["ldap", "users", "groups", "state", "writeBack", "server"]
    static let stateKeys = [
        "database", "auditKeyFile", "mappings", "vaultKeyFile", "durability", "rotationProgramTimeLimitSeconds",
    ]
    static let ldapKeys = [
        "urls", "bindDN", "passwordFile", "passwordEnv", "startTLS", "tls", "pageSize", "networkTimeoutSeconds",
        "operationTimeoutSeconds", "rangeSize",
    ]
    static let writeBackKeys = ["bindDN", "passwordFile", "passwordEnv", "memberAttribute", "emptyGroupPlaceholder"]
    static let serverKeys = [
        "host", "port", "maxBodyBytes", "tokens", "schedule", "sweepIntervalSeconds", "totpIssuer", "auditFlushSeconds",
        "idleTimeoutSeconds", "syncLockWaitSeconds", "shutdownRotationWaitSeconds", "eventLoops", "publicURL",
    ]
    static let tokenKeys = ["name", "sha256", "scopes", "subject"]
    static let scheduleKeys = ["interval", "cron", "jitter"]
    static let tlsKeys = ["caFile", "certFile", "keyFile", "insecureSkipVerify", "minVersion"]
    static let userKeys = ["baseDNs", "scope", "filter", "attributes", "extraAttributes", "disabled"]
    static let userAttributeKeys = [
        "id", "username", "mail", "displayName", "employeeNumber", "department", "title", "manager", "employeeType",
    ]
    static let groupKeys = ["baseDNs", "scope", "filter", "id", "name", "members", "nested"]
    static let memberKeys = ["attribute", "valueIs"]

    /// Keys that look like a place for the bind password; rejected with a pointer to the right way.
    static let inlinePasswordKeys = ["password", "bindPassword"]
    static let inlinePasswordMessage =
        "put the password in a file (passwordFile) or an environment variable (passwordEnv)"

    /// Disabled rules and the parameters each takes.
    static let disabledRules: [(name: String, parameters: [String])] = [
        ("userAccountControl", []),
        ("accountExpires", []),
        ("pwdAccountLockedTime", []),
        ("nsAccountLock", []),
        ("attributeEquals", ["attribute", "value"]),
        ("underDN", ["dn"]),
    ]

    /// A key that can be overridden from the environment.
    struct EnvironmentKey: Sendable {
        var path: [String]
        var isList: Bool
        var keyPath: String { self.path.joined(separator: ".") }
        var variable: String { environmentVariableName(for: self.path) }
    }

    /// Every scalar or list-of-scalars key. `users.disabled` and `groups.members` (lists of
    /// mappings) can be set only in the file.
    static let environmentKeys: [EnvironmentKey] = {
        var keys: [EnvironmentKey] = []
        func add(_ path: String, list: Bool = false) {
            keys.append(EnvironmentKey(path: path.split(separator: ".").map(String.init), isList: list))
        }
        add("ldap.urls", list: true)
        for key in ["bindDN", "passwordFile", "passwordEnv", "startTLS"] { add("ldap.\(key)") }
        for key in tlsKeys { add("ldap.tls.\(key)") }
        for key in ["pageSize", "networkTimeoutSeconds", "operationTimeoutSeconds", "rangeSize"] { add("ldap.\(key)") }
        add("users.baseDNs", list: true)
        add("users.scope")
        add("users.filter")
        for key in userAttributeKeys { add("users.attributes.\(key)") }
        add("users.extraAttributes", list: true)
        add("groups.baseDNs", list: true)
        for key in ["scope", "filter", "id", "name", "nested"] { add("groups.\(key)") }
        for key in stateKeys { add("state.\(key)") }
        for key in writeBackKeys { add("writeBack.\(key)") }
        for key in [
            "host", "port", "maxBodyBytes", "sweepIntervalSeconds", "totpIssuer", "auditFlushSeconds",
            "idleTimeoutSeconds", "syncLockWaitSeconds", "shutdownRotationWaitSeconds", "eventLoops", "publicURL",
        ] {
            add("server.\(key)")
        }
        for key in scheduleKeys { add("server.schedule.\(key)") }
        return keys
    }()

    static let environmentVariables: Set<String> = Set(environmentKeys.map(\.variable))

    /// Keys that exist but cannot come from the environment, by the variable one might try.
    static let fileOnlyVariables: [String: String] = [
        environmentVariableName(for: ["users", "disabled"]): "users.disabled",
        environmentVariableName(for: ["groups", "members"]): "groups.members",
    ]

    /// The conventional variable for the bind password (`passwordEnv: TENURE_LDAP_PASSWORD`).
    static let conventionalPasswordVariable = "TENURE_LDAP_PASSWORD"
    /// The same for the write-back account (`writeBack.passwordEnv: TENURE_WRITE_BACK_PASSWORD`).
    static let conventionalWriteBackPasswordVariable = "TENURE_WRITE_BACK_PASSWORD"
}

/// `TENURE_` + the key path in UPPER_SNAKE_CASE: `ldap.tls.caFile` → `TENURE_LDAP_TLS_CA_FILE`,
/// `users.baseDNs` → `TENURE_USERS_BASE_DNS`, `ldap.bindDN` → `TENURE_LDAP_BIND_DN`.
func environmentVariableName(for path: [String]) -> String {
    var name = "TENURE"
    for segment in path {
        name += "_"
        var previous: Character?
        for character in segment {
            if character.isUppercase, let previous, previous.isLowercase || previous.isNumber {
                name += "_"
            }
            name += character.uppercased()
            previous = character
        }
    }
    return name
}
