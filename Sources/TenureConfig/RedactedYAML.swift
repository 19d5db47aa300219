import LDAPClient
import TenureCore

extension TenureConfiguration {
    /// The effective configuration as YAML (defaults filled in, overrides applied, relative paths
    /// resolved, `underDN` normalised). Secrets show as `<redacted>`; values that came from the
    /// environment carry a `# from TENURE_…` comment. The output loads back as a configuration.
    public func redactedYAML() -> String {
        var out = YAMLWriter(provenance: self.provenance)
        out.comment("Effective tenure configuration" + (self.sourceFile.map { " (from \($0))" } ?? "") + ".")
        out.comment("Secrets are shown as <redacted>.")

        out.section("ldap")
        out.list("ldap.urls", self.ldap.urls.map(yamlString))
        out.value("ldap.bindDN", self.ldap.bindDN.map(yamlString) ?? "null")
        out.password("ldap", self.ldap.password)
        out.value("ldap.startTLS", String(self.ldap.startTLS))
        out.section("ldap.tls")
        out.value("ldap.tls.caFile", self.ldap.tls.caFile.map(yamlString) ?? "null")
        out.value("ldap.tls.certFile", self.ldap.tls.certFile.map(yamlString) ?? "null")
        out.value("ldap.tls.keyFile", self.ldap.tls.keyFile.map(yamlString) ?? "null")
        out.value(
            "ldap.tls.insecureSkipVerify",
            String(self.ldap.tls.insecureSkipVerify),
            note: self.ldap.tls.insecureSkipVerify ? "DANGER: certificate verification is disabled" : nil
        )
        out.value("ldap.tls.minVersion", yamlString(self.ldap.tls.minVersion))
        out.value("ldap.pageSize", String(self.ldap.pageSize))
        out.value("ldap.networkTimeoutSeconds", yamlNumber(self.ldap.networkTimeout))
        out.value("ldap.operationTimeoutSeconds", yamlNumber(self.ldap.operationTimeout))
        out.value("ldap.rangeSize", String(self.ldap.rangeSize))

        out.section("users")
        out.list("users.baseDNs", self.users.baseDNs.map(yamlString))
        out.value("users.scope", self.users.scope.rawValue)
        out.value("users.filter", yamlString(self.users.filter))
        out.section("users.attributes")
        let attributes = self.users.attributes
        out.value("users.attributes.id", yamlString(attributes.id))
        out.value("users.attributes.username", yamlString(attributes.username))
        let optional: [(String, String?)] = [
            ("mail", attributes.mail), ("displayName", attributes.displayName),
            ("employeeNumber", attributes.employeeNumber), ("department", attributes.department),
            ("title", attributes.title), ("manager", attributes.manager), ("employeeType", attributes.employeeType),
        ]
        for (key, value) in optional {
            out.value("users.attributes.\(key)", value.map(yamlString) ?? "null")
        }
        out.list("users.extraAttributes", self.users.extraAttributes.map(yamlString))
        out.items(
            "users.disabled",
            self.users.disabled.map { rule -> [(String, String)] in
                switch rule {
                case .userAccountControl: [("rule", "userAccountControl")]
                case .accountExpires: [("rule", "accountExpires")]
                case .pwdAccountLockedTime: [("rule", "pwdAccountLockedTime")]
                case .nsAccountLock: [("rule", "nsAccountLock")]
                case .attributeEquals(let attribute, let value):
                    [("rule", "attributeEquals"), ("attribute", yamlString(attribute)), ("value", yamlString(value))]
                case .underDN(let dn): [("rule", "underDN"), ("dn", yamlString(dn))]
                }
            }
        )

        out.section("groups")
        out.list("groups.baseDNs", self.groups.baseDNs.map(yamlString))
        out.value("groups.scope", self.groups.scope.rawValue)
        out.value("groups.filter", yamlString(self.groups.filter))
        out.value("groups.id", yamlString(self.groups.id))
        out.value("groups.name", yamlString(self.groups.name))
        out.items(
            "groups.members",
            self.groups.members.map { [("attribute", yamlString($0.attribute)), ("valueIs", $0.valueIs.rawValue)] }
        )
        out.value("groups.nested", String(self.groups.nested))
        if let state = self.state {
            out.section("state")
            out.value("state.database", yamlString(state.database))
            out.value("state.auditKeyFile", yamlString(state.auditKeyFile), note: "key: <redacted>")
            out.value("state.mappings", yamlString(state.mappings))
            out.value("state.vaultKeyFile", state.vaultKeyFile.map(yamlString) ?? "null", note: "key: <redacted>")
            out.value("state.durability", state.durability.rawValue)
            out.value("state.rotationProgramTimeLimitSeconds", yamlNumber(state.rotationProgramTimeLimitSeconds))
        }
        if let writeBack = self.writeBack {
            out.section("writeBack")
            out.value("writeBack.bindDN", yamlString(writeBack.bindDN))
            out.password("writeBack", writeBack.password)
            out.value("writeBack.memberAttribute", yamlString(writeBack.memberAttribute))
            out.value("writeBack.emptyGroupPlaceholder", writeBack.emptyGroupPlaceholder.map(yamlString) ?? "null")
        }
        if let server = self.server {
            out.section("server")
            out.value("server.host", yamlString(server.host))
            out.value("server.port", String(server.port))
            out.value("server.maxBodyBytes", String(server.maxBodyBytes))
            // Hashes of tokens, not tokens: nothing to redact.
            out.items(
                "server.tokens",
                server.tokens.map { token in
                    var item = [
                        ("name", yamlString(token.name)), ("sha256", yamlString(token.sha256)),
                        ("scopes", "[" + token.scopes.map(\.rawValue).sorted().joined(separator: ", ") + "]"),
                    ]
                    if let subject = token.subject { item.append(("subject", yamlString(subject))) }
                    return item
                }
            )
            if let schedule = server.schedule {
                out.section("server.schedule")
                switch schedule.when {
                case .interval(let seconds): out.value("server.schedule.interval", "\(Int(seconds))s")
                case .cron(let cron): out.value("server.schedule.cron", yamlString(cron.expression))
                }
                out.value("server.schedule.jitter", "\(Int(schedule.jitterSeconds))s")
            }
            out.value("server.sweepIntervalSeconds", yamlNumber(server.sweepIntervalSeconds))
            out.value("server.totpIssuer", yamlString(server.totpIssuer))
            out.value("server.auditFlushSeconds", yamlNumber(server.auditFlushSeconds))
            out.value("server.idleTimeoutSeconds", yamlNumber(server.idleTimeoutSeconds))
            out.value("server.syncLockWaitSeconds", yamlNumber(server.syncLockWaitSeconds))
            out.value("server.shutdownRotationWaitSeconds", yamlNumber(server.shutdownRotationWaitSeconds))
            out.value("server.eventLoops", "\(server.eventLoops)")
            if let url = server.publicURL { out.value("server.publicURL", yamlString(url)) }
        }
        return out.text
    }
}

/// Writes block YAML, indenting by key path depth and annotating environment values.
private struct YAMLWriter {
    let provenance: Provenance
    var text = ""

    /// `passwordFile` and `passwordEnv` of a section: where the password is, never the password.
    mutating func password(_ section: String, _ source: PasswordSource) {
        switch source {
        case .none:
            self.value("\(section).passwordFile", "null")
            self.value("\(section).passwordEnv", "null")
        case .file(let path):
            self.value("\(section).passwordFile", yamlString(path), note: "password: <redacted>")
            self.value("\(section).passwordEnv", "null")
        case .environment(let name):
            self.value("\(section).passwordFile", "null")
            self.value("\(section).passwordEnv", yamlString(name), note: "password: <redacted>")
        }
    }

    private func indent(_ keyPath: String) -> String {
        String(repeating: "  ", count: keyPath.count(where: { $0 == "." }))
    }

    private func key(_ keyPath: String) -> Substring {
        keyPath.split(separator: ".").last ?? Substring(keyPath)
    }

    private func annotation(_ keyPath: String, note: String?) -> String {
        var notes: [String] = []
        if let note { notes.append(note) }
        if let variable = self.provenance.environmentVariable(for: keyPath) { notes.append("from \(variable)") }
        return notes.isEmpty ? "" : "  # " + notes.joined(separator: "; ")
    }

    mutating func comment(_ line: String) {
        self.text += "# \(line)\n"
    }

    mutating func section(_ keyPath: String) {
        self.text += "\(self.indent(keyPath))\(self.key(keyPath)):\n"
    }

    mutating func value(_ keyPath: String, _ value: String, note: String? = nil) {
        self.text += "\(self.indent(keyPath))\(self.key(keyPath)): \(value)\(self.annotation(keyPath, note: note))\n"
    }

    mutating func list(_ keyPath: String, _ values: [String]) {
        let prefix = "\(self.indent(keyPath))\(self.key(keyPath)):"
        guard !values.isEmpty else {
            self.text += "\(prefix) []\(self.annotation(keyPath, note: nil))\n"
            return
        }
        self.text += "\(prefix)\(self.annotation(keyPath, note: nil))\n"
        for value in values {
            self.text += "\(self.indent(keyPath))  - \(value)\n"
        }
    }

    /// A list of small mappings (`- rule: underDN` / `  dn: "…"`).
    mutating func items(_ keyPath: String, _ items: [[(String, String)]]) {
        let prefix = "\(self.indent(keyPath))\(self.key(keyPath)):"
        guard !items.isEmpty else {
            self.text += "\(prefix) []\n"
            return
        }
        self.text += "\(prefix)\n"
        for item in items {
            for (index, (key, value)) in item.enumerated() {
                self.text += "\(self.indent(keyPath))\(index == 0 ? "  - " : "    ")\(key): \(value)\n"
            }
        }
    }
}

/// A double-quoted YAML scalar (any text, safe to paste into a configuration file).
public func yamlString(_ value: String) -> String {
    var result = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                result += "\\x" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

/// `10`, `2.5` — integral values without a fraction.
func yamlNumber(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return String(value)
}
