import Testing

@testable import TenureConfig

/// One invalid configuration and the exact error it must produce.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var lines: [String]
    var line: Int
    var column: Int
    var keyPath: String
    /// A part of the message that must appear.
    var message: String

    var testDescription: String { self.name }
    var yaml: String { self.lines.joined(separator: "\n") + "\n" }
}

private let ldapOK = ["ldap:", "  urls: [\"ldaps://ldap.example.com\"]"]
private let usersOK = ["users:", "  baseDNs: [\"ou=people,dc=example,dc=com\"]"]
private let groupsOK = ["groups:", "  baseDNs: [\"ou=groups,dc=example,dc=com\"]"]

private let errorCases: [ErrorCase] = [
    ErrorCase(
        name: "unknown key with a suggestion",
        lines: ldapOK + ["  pagesize: 10"] + usersOK + groupsOK,
        line: 3,
        column: 3,
        keyPath: "ldap.pagesize",
        message: "unknown key \"pagesize\" (did you mean \"pageSize\"?)"
    ),
    ErrorCase(
        name: "unknown key without a near miss lists the valid keys",
        lines: ldapOK + usersOK + groupsOK + ["logging: {}"],
        line: 7,
        column: 1,
        keyPath: "logging",
        message: "unknown key \"logging\"; valid keys here: ldap, users, groups"
    ),
    ErrorCase(
        name: "unknown key in a nested mapping",
        lines: ldapOK + ["  tls:", "    caFiel: /etc/ssl/ca.pem"] + usersOK + groupsOK,
        line: 4,
        column: 5,
        keyPath: "ldap.tls.caFiel",
        message: "did you mean \"caFile\"?"
    ),
    ErrorCase(
        name: "duplicate key points at the second occurrence",
        lines: ldapOK + ["  pageSize: 10", "  pageSize: 20"] + usersOK + groupsOK,
        line: 4,
        column: 3,
        keyPath: "ldap.pageSize",
        message: "duplicate key \"pageSize\" (first defined at line 3, column 3)"
    ),
    ErrorCase(
        name: "duplicate key inside a list item",
        lines: ldapOK + usersOK
            + ["  disabled:", "    - rule: underDN", "      dn: \"ou=a,dc=x\"", "      dn: \"ou=b,dc=x\""] + groupsOK,
        line: 8,
        column: 7,
        keyPath: "users.disabled[0].dn",
        message: "duplicate key \"dn\""
    ),
    ErrorCase(
        name: "wrong type: integer",
        lines: ldapOK + ["  pageSize: abc"] + usersOK + groupsOK,
        line: 3,
        column: 13,
        keyPath: "ldap.pageSize",
        message: "expected an integer, found the string \"abc\""
    ),
    ErrorCase(
        name: "wrong type: boolean",
        lines: ldapOK + ["  startTLS: maybe"] + usersOK + groupsOK,
        line: 3,
        column: 13,
        keyPath: "ldap.startTLS",
        message: "expected true or false, found the string \"maybe\""
    ),
    ErrorCase(
        name: "wrong type: list expected",
        lines: ["ldap:", "  urls: {primary: ldap1}"] + usersOK + groupsOK,
        line: 2,
        column: 9,
        keyPath: "ldap.urls",
        message: "expected a list of strings, found a mapping"
    ),
    ErrorCase(
        name: "wrong type: section is a scalar",
        lines: ldapOK + ["users: everyone"] + groupsOK,
        line: 3,
        column: 8,
        keyPath: "users",
        message: "expected a mapping, found the string \"everyone\""
    ),
    ErrorCase(
        name: "the document is not a mapping",
        lines: ["- ldap", "- users"],
        line: 1,
        column: 1,
        keyPath: "",
        message: "expected a mapping with the sections ldap, users and groups, found a list"
    ),
    ErrorCase(
        name: "invalid DN in a disabled rule",
        lines: ldapOK + usersOK
            + [
                "  disabled:",
                "    - rule: userAccountControl",
                "    - rule: accountExpires",
                "    - rule: underDN",
                "      dn: \"ou=disabled,,dc=example,dc=com\"",
            ] + groupsOK,
        line: 9,
        column: 11,
        keyPath: "users.disabled[2].dn",
        message: "invalid DN \"ou=disabled,,dc=example,dc=com\" (offset 12: "
    ),
    ErrorCase(
        name: "the root DN is refused as a disabled subtree",
        lines: ldapOK + usersOK + ["  disabled:", "    - rule: underDN", "      dn: \"\""] + groupsOK,
        line: 7,
        column: 11,
        keyPath: "users.disabled[0].dn",
        message: "the empty (root) DN is not allowed here"
    ),
    ErrorCase(
        name: "invalid bind DN",
        lines: ldapOK + ["  bindDN: \"cn=tenure,dc\"", "  passwordEnv: TENURE_LDAP_PASSWORD"] + usersOK + groupsOK,
        line: 3,
        column: 11,
        keyPath: "ldap.bindDN",
        message: "invalid DN \"cn=tenure,dc\" (offset"
    ),
    ErrorCase(
        name: "invalid base DN in a list",
        lines: ldapOK + ["users:", "  baseDNs: [\"ou=people,dc=example,dc=com\", \"people\"]"] + groupsOK,
        line: 4,
        column: 44,
        keyPath: "users.baseDNs[1]",
        message: "invalid DN \"people\""
    ),
    ErrorCase(
        name: "malformed filter",
        lines: ldapOK + usersOK + ["  filter: \"(objectClass=person\""] + groupsOK,
        line: 5,
        column: 11,
        keyPath: "users.filter",
        message: "malformed LDAP filter \"(objectClass=person\""
    ),
    ErrorCase(
        name: "malformed group filter",
        lines: ldapOK + usersOK + groupsOK + ["  filter: objectClass=group"],
        line: 7,
        column: 11,
        keyPath: "groups.filter",
        message: "malformed LDAP filter"
    ),
    ErrorCase(
        name: "URL with an unsupported scheme",
        lines: ["ldap:", "  urls: [\"ldaps://ok.example.com\", \"http://ldap.example.com\"]"] + usersOK + groupsOK,
        line: 2,
        column: 36,
        keyPath: "ldap.urls[1]",
        message: "unsupported URL scheme \"http://\" in \"http://ldap.example.com\"; use ldap:// or ldaps://"
    ),
    ErrorCase(
        name: "URL with a search base",
        lines: ["ldap:", "  urls:", "    - ldap://ldap.example.com/dc=example,dc=com"] + usersOK + groupsOK,
        line: 3,
        column: 7,
        keyPath: "ldap.urls[0]",
        message: "only ldap[s]://host[:port] is allowed"
    ),
    ErrorCase(
        name: "URL with a bad port",
        lines: ["ldap:", "  urls: [\"ldap://ldap.example.com:99999\"]"] + usersOK + groupsOK,
        line: 2,
        column: 10,
        keyPath: "ldap.urls[0]",
        message: "port must be a number between 1 and 65535"
    ),
    ErrorCase(
        name: "no URL at all",
        lines: ["ldap:", "  urls: []"] + usersOK + groupsOK,
        line: 2,
        column: 9,
        keyPath: "ldap.urls",
        message: "at least one URL is required"
    ),
    ErrorCase(
        name: "invalid attribute name",
        lines: ldapOK + usersOK + ["  attributes:", "    mail: \"e mail\""] + groupsOK,
        line: 6,
        column: 11,
        keyPath: "users.attributes.mail",
        message: "invalid attribute description \"e mail\""
    ),
    ErrorCase(
        name: "invalid extra attribute",
        lines: ldapOK + usersOK + ["  extraAttributes: [telephoneNumber, \"-x\"]"] + groupsOK,
        line: 5,
        column: 38,
        keyPath: "users.extraAttributes[1]",
        message: "invalid attribute description \"-x\""
    ),
    ErrorCase(
        name: "required attribute set to null",
        lines: ldapOK + usersOK + ["  attributes:", "    id: null"] + groupsOK,
        line: 6,
        column: 9,
        keyPath: "users.attributes.id",
        message: "cannot be empty or null"
    ),
    ErrorCase(
        name: "invalid membership attribute",
        lines: ldapOK + usersOK + groupsOK + ["  members:", "    - attribute: \"mem ber\""],
        line: 8,
        column: 18,
        keyPath: "groups.members[0].attribute",
        message: "invalid attribute description \"mem ber\""
    ),
    ErrorCase(
        name: "membership value kind with a suggestion",
        lines: ldapOK + usersOK + groupsOK + ["  members:", "    - attribute: memberUid", "      valueIs: usernames"],
        line: 9,
        column: 16,
        keyPath: "groups.members[0].valueIs",
        message: "unknown value \"usernames\" (did you mean \"username\"?); expected one of: dn, username"
    ),
    ErrorCase(
        name: "inline password is rejected",
        lines: ldapOK + ["  bindDN: \"cn=tenure,dc=example,dc=com\"", "  password: hunter2"] + usersOK + groupsOK,
        line: 4,
        column: 3,
        keyPath: "ldap.password",
        message: "put the password in a file (passwordFile) or an environment variable (passwordEnv)"
    ),
    ErrorCase(
        name: "both passwordFile and passwordEnv",
        lines: ldapOK
            + [
                "  bindDN: \"cn=tenure,dc=example,dc=com\"",
                "  passwordFile: /etc/tenure/ldap.password",
                "  passwordEnv: TENURE_LDAP_PASSWORD",
            ] + usersOK + groupsOK,
        line: 5,
        column: 16,
        keyPath: "ldap.passwordEnv",
        message: "set at most one of ldap.passwordFile and ldap.passwordEnv, not both"
    ),
    ErrorCase(
        name: "bindDN without a password source",
        lines: ldapOK + ["  bindDN: \"cn=tenure,dc=example,dc=com\""] + usersOK + groupsOK,
        line: 3,
        column: 11,
        keyPath: "ldap.bindDN",
        message: "a bind DN needs a password: set ldap.passwordFile or ldap.passwordEnv"
    ),
    ErrorCase(
        name: "passwordEnv naming a configuration variable",
        lines: ldapOK + ["  bindDN: \"cn=tenure,dc=example,dc=com\"", "  passwordEnv: TENURE_LDAP_BIND_DN"] + usersOK
            + groupsOK,
        line: 4,
        column: 16,
        keyPath: "ldap.passwordEnv",
        message: "TENURE_LDAP_BIND_DN is a configuration override variable"
    ),
    ErrorCase(
        name: "pageSize too small",
        lines: ldapOK + ["  pageSize: 0"] + usersOK + groupsOK,
        line: 3,
        column: 13,
        keyPath: "ldap.pageSize",
        message: "must be between 1 and 100000"
    ),
    ErrorCase(
        name: "pageSize too large",
        lines: ldapOK + ["  pageSize: 100001"] + usersOK + groupsOK,
        line: 3,
        column: 13,
        keyPath: "ldap.pageSize",
        message: "must be between 1 and 100000"
    ),
    ErrorCase(
        name: "timeout not positive",
        lines: ldapOK + ["  networkTimeoutSeconds: 0"] + usersOK + groupsOK,
        line: 3,
        column: 26,
        keyPath: "ldap.networkTimeoutSeconds",
        message: "must be greater than 0 (seconds)"
    ),
    ErrorCase(
        name: "unsupported TLS version",
        lines: ldapOK + ["  tls:", "    minVersion: \"1.1\""] + usersOK + groupsOK,
        line: 4,
        column: 17,
        keyPath: "ldap.tls.minVersion",
        message: "unknown value \"1.1\" (did you mean \"1.2\"?); expected one of: 1.2, 1.3"
    ),
    ErrorCase(
        name: "client certificate without its key",
        lines: ldapOK + ["  tls:", "    certFile: /etc/tenure/client.pem"] + usersOK + groupsOK,
        line: 4,
        column: 15,
        keyPath: "ldap.tls.certFile",
        message: "ldap.tls.certFile and ldap.tls.keyFile go together"
    ),
    ErrorCase(
        name: "CA file that does not exist",
        lines: ldapOK + ["  tls:", "    caFile: /nonexistent/tenure/ca.pem"] + usersOK + groupsOK,
        line: 4,
        column: 13,
        keyPath: "ldap.tls.caFile",
        message: "file not found: /nonexistent/tenure/ca.pem"
    ),
    ErrorCase(
        name: "required key missing",
        lines: ldapOK + ["users:", "  scope: sub"] + groupsOK,
        line: 4,
        column: 3,
        keyPath: "users.baseDNs",
        message: "required key is missing"
    ),
    ErrorCase(
        name: "required section missing",
        lines: ldapOK + usersOK,
        line: 1,
        column: 1,
        keyPath: "groups",
        message: "required key is missing; add a groups: section"
    ),
    ErrorCase(
        name: "scope with a suggestion",
        lines: ldapOK + usersOK + ["  scope: Sub"] + groupsOK,
        line: 5,
        column: 10,
        keyPath: "users.scope",
        message: "unknown value \"Sub\" (did you mean \"sub\"?); expected one of: base, one, sub"
    ),
    ErrorCase(
        name: "unknown disabled rule with a suggestion",
        lines: ldapOK + usersOK + ["  disabled:", "    - rule: userAccountControll"] + groupsOK,
        line: 6,
        column: 13,
        keyPath: "users.disabled[0].rule",
        message: "did you mean \"userAccountControl\"?"
    ),
    ErrorCase(
        name: "disabled rule missing its parameter",
        lines: ldapOK + usersOK + ["  disabled:", "    - rule: underDN"] + groupsOK,
        line: 6,
        column: 7,
        keyPath: "users.disabled[0].dn",
        message: "rule underDN needs dn:"
    ),
    ErrorCase(
        name: "disabled rule with a parameter of another rule",
        lines: ldapOK + usersOK
            + [
                "  disabled:", "    - rule: attributeEquals", "      attribute: employeeType", "      value: gone",
                "      dn: \"ou=x,dc=y\"",
            ] + groupsOK,
        line: 9,
        column: 7,
        keyPath: "users.disabled[0].dn",
        message: "unknown key \"dn\"; valid keys here: rule, attribute, value"
    ),
    ErrorCase(
        name: "YAML syntax error",
        lines: ldapOK + ["  pageSize: 5", " bad: 1"] + usersOK + groupsOK,
        line: 4,
        column: 2,
        keyPath: "",
        message: "YAML syntax error"
    ),
    ErrorCase(
        // The quoted scalar runs on to the next quote (line 4), where the flow list breaks.
        name: "YAML syntax error: unterminated quote",
        lines: ["ldap:", "  urls: [\"ldaps://ldap.example.com]"] + usersOK + groupsOK,
        line: 4,
        column: 14,
        keyPath: "",
        message:
            "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 9)"
    ),
    ErrorCase(
        name: "YAML syntax error: tab indentation",
        lines: ldapOK + ["\tpageSize: 5"] + usersOK + groupsOK,
        line: 3,
        column: 1,
        keyPath: "",
        message: "YAML syntax error: found character that cannot start any token"
    ),
]

@Suite("Located errors")
struct ErrorTests {
    @Test("every error names file:line:column and the key path", arguments: errorCases)
    func locatedError(_ testCase: ErrorCase) throws {
        let error = try #require(parseError(testCase.yaml))
        #expect(error.file == "tenure.yaml")
        #expect(error.line == testCase.line)
        #expect(error.column == testCase.column)
        #expect(error.keyPath == testCase.keyPath)
        #expect(error.environmentVariable == nil)
        #expect(error.message.contains(testCase.message), "message: \(error.message)")
        let prefix =
            "tenure.yaml:\(testCase.line):\(testCase.column): "
            + (testCase.keyPath.isEmpty ? "" : testCase.keyPath + ": ")
        #expect(error.description == prefix + error.message)
    }

    @Test("the description reads like a compiler diagnostic")
    func descriptionFormat() throws {
        let error = try #require(parseError(ldapOK.joined(separator: "\n") + "\n  pageSize: abc\n"))
        #expect(error.description == "tenure.yaml:3:13: ldap.pageSize: expected an integer, found the string \"abc\"")
    }

    @Test("secrets in rejected values are not repeated")
    func rejectedSecretsNotEchoed() throws {
        let inline = try #require(
            parseError(
                (ldapOK + ["  bindDN: \"cn=tenure,dc=example,dc=com\"", "  password: hunter2"] + usersOK + groupsOK)
                    .joined(separator: "\n")
            )
        )
        #expect(!inline.description.contains("hunter2"))
        let credentials = try #require(
            parseError(
                (["ldap:", "  urls: [\"ldap://admin:s3cr3t@ldap.example.com\"]"] + usersOK + groupsOK)
                    .joined(separator: "\n")
            )
        )
        #expect(credentials.keyPath == "ldap.urls[0]")
        #expect(credentials.message.contains("must not contain credentials"))
        #expect(!credentials.description.contains("s3cr3t"))
    }
}
