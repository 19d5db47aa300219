import Foundation
import LDAPClient
import Testing

@testable import TenureConfig

@Suite("Environment overrides")
struct EnvironmentTests {
    @Test("a scalar override replaces the file's value and is annotated")
    func scalarOverride() throws {
        let yaml = minimalYAML.replacingOccurrences(
            of: "  urls: [\"ldaps://ldap.example.com\"]\n",
            with: "  urls: [\"ldaps://ldap.example.com\"]\n  pageSize: 200\n"
        )
        #expect(try parse(yaml).ldap.pageSize == 200)
        let config = try parse(
            yaml,
            environment: ["TENURE_LDAP_PAGE_SIZE": "1000", "TENURE_LDAP_NETWORK_TIMEOUT_SECONDS": "0.5"]
        )
        #expect(config.ldap.pageSize == 1000)
        #expect(config.ldap.networkTimeout == 0.5)
        #expect(config.warnings == [])
        let redacted = config.redactedYAML()
        #expect(redacted.contains("  pageSize: 1000  # from TENURE_LDAP_PAGE_SIZE\n"))
        #expect(redacted.contains("  networkTimeoutSeconds: 0.5  # from TENURE_LDAP_NETWORK_TIMEOUT_SECONDS\n"))
        #expect(redacted.contains("  operationTimeoutSeconds: 120\n"))
    }

    @Test(
        "list keys take a YAML list or a single value",
        arguments: [
            ("[ldap://a:389, ldap://b:389]", ["ldap://a:389", "ldap://b:389"]),
            ("ldap://a:389", ["ldap://a:389"]),
            ("[\"ldaps://a\"]", ["ldaps://a"]),
            ("  ldaps://a:636  ", ["ldaps://a:636"]),
        ]
    )
    func listOverride(value: String, expected: [String]) throws {
        let config = try parse(minimalYAML, environment: ["TENURE_LDAP_URLS": value])
        #expect(config.ldap.urls == expected)
        #expect(config.redactedYAML().contains("  urls:  # from TENURE_LDAP_URLS\n"))
    }

    @Test("a DN stays one string; a list of DNs is a list")
    func dnOverrides() throws {
        let single = try parse(minimalYAML, environment: ["TENURE_USERS_BASE_DNS": "ou=a,dc=example,dc=com"])
        #expect(single.users.baseDNs == ["ou=a,dc=example,dc=com"])
        let list = try parse(
            minimalYAML,
            environment: ["TENURE_GROUPS_BASE_DNS": "[\"ou=a,dc=x\", \"ou=b,dc=x\"]"]
        )
        #expect(list.groups.baseDNs == ["ou=a,dc=x", "ou=b,dc=x"])
        let bindDN = try parse(
            minimalYAML,
            environment: [
                "TENURE_LDAP_BIND_DN": "cn=tenure,ou=services,dc=example,dc=com",
                "TENURE_LDAP_PASSWORD_ENV": "TENURE_LDAP_PASSWORD",
            ]
        )
        #expect(bindDN.ldap.bindDN == "cn=tenure,ou=services,dc=example,dc=com")
        #expect(bindDN.ldap.password == .environment("TENURE_LDAP_PASSWORD"))
    }

    @Test("overrides reach nested keys and create missing mappings")
    func nestedOverrides() throws {
        let config = try parse(
            minimalYAML,
            environment: [
                "TENURE_USERS_ATTRIBUTES_ID": "objectGUID",
                "TENURE_USERS_ATTRIBUTES_MAIL": "null",
                "TENURE_LDAP_TLS_MIN_VERSION": "1.3",
                "TENURE_GROUPS_NESTED": "false",
                "TENURE_USERS_SCOPE": "one",
                "TENURE_USERS_FILTER": "(&(objectClass=user)(!(cn=svc-*)))",
                "TENURE_USERS_EXTRA_ATTRIBUTES": "[telephoneNumber, mobile]",
            ]
        )
        #expect(config.users.attributes.id == "objectGUID")
        #expect(config.users.attributes.mail == nil)
        #expect(config.ldap.tls.minVersion == "1.3")
        #expect(config.groups.nested == false)
        #expect(config.users.scope == .one)
        #expect(config.users.filter == "(&(objectClass=user)(!(cn=svc-*)))")
        #expect(config.users.extraAttributes == ["telephoneNumber", "mobile"])
    }

    @Test("an empty value means unset: the default, or an empty list")
    func emptyValues() throws {
        let config = try parse(
            minimalYAML,
            environment: ["TENURE_LDAP_PAGE_SIZE": "", "TENURE_USERS_EXTRA_ATTRIBUTES": ""]
        )
        #expect(config.ldap.pageSize == 500)
        #expect(config.users.extraAttributes == [])
        let error = try #require(parseError(minimalYAML, environment: ["TENURE_LDAP_URLS": ""]))
        #expect(error.description == "environment TENURE_LDAP_URLS: ldap.urls: at least one URL is required")
    }

    @Test(
        "a bad value names the variable",
        arguments: [
            (
                "TENURE_LDAP_PAGE_SIZE", "0",
                "environment TENURE_LDAP_PAGE_SIZE: ldap.pageSize: must be between 1 and 100000"
            ),
            (
                "TENURE_LDAP_PAGE_SIZE", "abc",
                "environment TENURE_LDAP_PAGE_SIZE: ldap.pageSize: expected an integer, found the string \"abc\""
            ),
            (
                "TENURE_LDAP_URLS", "[ldap://a:389, ftp://b]",
                "environment TENURE_LDAP_URLS: ldap.urls[1]: unsupported URL scheme \"ftp://\" in \"ftp://b\"; "
                    + "use ldap:// or ldaps://"
            ),
            (
                "TENURE_GROUPS_NESTED", "sometimes",
                "environment TENURE_GROUPS_NESTED: groups.nested: expected true or false, found the string \"sometimes\""
            ),
            (
                "TENURE_LDAP_BIND_DN", "*admin",
                "environment TENURE_LDAP_BIND_DN: ldap.bindDN: the value is not valid YAML "
                    + "(found undefined alias); quote it if it is a string that starts with a YAML "
                    + "indicator such as * & ! [ {"
            ),
            (
                "TENURE_USERS_SCOPE", "[sub]",
                "environment TENURE_USERS_SCOPE: users.scope: expected a string, found a list"
            ),
            (
                "TENURE_USERS_BASE_DNS", "[ou=a,dc=x",
                "environment TENURE_USERS_BASE_DNS: users.baseDNs: the value is not valid YAML "
                    + "(did not find expected ',' or ']'); quote it if it is a string that starts with a YAML "
                    + "indicator such as * & ! [ {"
            ),
        ]
    )
    func badValue(variable: String, value: String, description: String) throws {
        let error = try #require(parseError(minimalYAML, environment: [variable: value]))
        #expect(error.environmentVariable == variable)
        #expect(error.location == .environment(variable: variable))
        #expect(error.line == nil)
        #expect(error.file == "tenure.yaml")
        #expect(error.description == description)
    }

    @Test("unknown TENURE_ variables are one warning; the password variables are never reported")
    func unknownVariables() throws {
        let config = try parse(
            minimalYAML,
            environment: [
                "TENURE_LDAP_PAGESIZE": "5",
                "TENURE_FROBNICATE": "1",
                "TENURE_USERS_DISABLED": "[]",
                "TENURE_LDAP_PASSWORD": "do-not-print-me",
                "TENURE_CONFIG": "/etc/tenure/tenure.yaml",
                "TENURE_TRACE_FILE": "/tmp/trace",
                "HOME": "/root",
            ],
            otherVariables: ["TENURE_TRACE_FILE"]
        )
        try #require(config.warnings.count == 1)
        let warning = config.warnings[0]
        #expect(warning.location == nil)
        #expect(
            warning.description
                == "ignoring environment variables that name no configuration key: TENURE_FROBNICATE, "
                + "TENURE_LDAP_PAGESIZE (did you mean TENURE_LDAP_PAGE_SIZE?), "
                + "TENURE_USERS_DISABLED (users.disabled can be set only in the configuration file)"
        )
        #expect(!warning.description.contains("TENURE_LDAP_PASSWORD"))
        #expect(!warning.description.contains("do-not-print-me"))

        // A custom passwordEnv is not reported either.
        let custom = try parse(
            minimalYAML.replacingOccurrences(
                of: "  urls: [\"ldaps://ldap.example.com\"]\n",
                with: "  urls: [\"ldaps://ldap.example.com\"]\n  bindDN: \"cn=t,dc=example,dc=com\"\n"
                    + "  passwordEnv: TENURE_CORP_BIND_PW\n"
            ),
            environment: ["TENURE_CORP_BIND_PW": "secret-value"]
        )
        #expect(custom.warnings == [])
    }
}

/// `parse` with `otherVariables`.
private func parse(
    _ yaml: String,
    environment: [String: String],
    otherVariables: Set<String>
) throws -> TenureConfiguration {
    try TenureConfiguration.parse(
        yaml: yaml,
        file: "tenure.yaml",
        environment: environment,
        otherVariables: otherVariables
    )
}
