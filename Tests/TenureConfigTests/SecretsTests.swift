import Foundation
import Testing

@testable import TenureConfig

private let fileCanary = "Canary-FromFile-7f3a9c"
private let envCanary = "Canary-FromEnv-41d2e8"

/// A configuration whose ldap section binds with the given password lines (from line 3 on:
/// `bindDN` on line 3, the password source on line 4).
private func bindingYAML(_ passwordLine: String, urls: String = "[\"ldaps://ldap.example.com\"]") -> String {
    """
    ldap:
      urls: \(urls)
      bindDN: "cn=tenure,ou=services,dc=example,dc=com"
      \(passwordLine)
    users:
      baseDNs: ["ou=people,dc=example,dc=com"]
    groups:
      baseDNs: ["ou=groups,dc=example,dc=com"]

    """
}

@Suite("Passwords and redaction")
struct SecretsTests {
    @Test(
        "a password file loses exactly one trailing newline",
        arguments: [
            ("s3cret\n", "s3cret"),
            ("s3cret", "s3cret"),
            ("s3cret\n\n", "s3cret\n"),
            ("s3cret\r\n", "s3cret"),
            (" spaced pass phrase \n", " spaced pass phrase "),
        ]
    )
    func passwordFromFile(contents: String, expected: String) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/ldap.password"
            try writeFile(path, contents)
            let config = try parse(bindingYAML("passwordFile: \(path)"))
            #expect(config.ldap.password == .file(path))
            #expect(try config.resolvePassword(environment: [:]) == expected)
        }
    }

    @Test("a password from the environment; none for an anonymous bind")
    func passwordFromEnvironment() throws {
        let config = try parse(bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD"))
        #expect(config.ldap.password == .environment("TENURE_LDAP_PASSWORD"))
        #expect(try config.resolvePassword(environment: ["TENURE_LDAP_PASSWORD": envCanary]) == envCanary)
        #expect(try parse(minimalYAML).resolvePassword(environment: ["TENURE_LDAP_PASSWORD": envCanary]) == nil)
    }

    @Test("a missing password file is an error at passwordFile, found only when the password is read")
    func missingPasswordFile() throws {
        let config = try parse(bindingYAML("passwordFile: /nonexistent/tenure/ldap.password"))
        let error = #expect(throws: ConfigError.self) { try config.resolvePassword(environment: [:]) }
        #expect(
            error?.description
                == "tenure.yaml:4:17: ldap.passwordFile: password file /nonexistent/tenure/ldap.password does not exist"
        )
    }

    @Test("an unset or empty password variable is an error at passwordEnv")
    func missingPasswordVariable() throws {
        let config = try parse(bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD"))
        let unset = #expect(throws: ConfigError.self) { try config.resolvePassword(environment: [:]) }
        #expect(
            unset?.description
                == "tenure.yaml:4:16: ldap.passwordEnv: environment variable TENURE_LDAP_PASSWORD "
                + "(ldap.passwordEnv) is not set"
        )
        let empty = #expect(throws: ConfigError.self) {
            try config.resolvePassword(environment: ["TENURE_LDAP_PASSWORD": ""])
        }
        #expect(empty?.message.contains("is empty") == true)
    }

    @Test("an empty password file is an error")
    func emptyPasswordFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/empty.password"
            try writeFile(path, "\n")
            let config = try parse(bindingYAML("passwordFile: \(path)"))
            let error = #expect(throws: ConfigError.self) { try config.resolvePassword(environment: [:]) }
            #expect(error?.keyPath == "ldap.passwordFile")
            #expect(error?.message.hasPrefix("password file \(path) is empty") == true)
        }
    }

    @Test("a configuration built in code reports password errors without a position")
    func programmaticConfiguration() throws {
        let config = TenureConfiguration(
            ldap: LDAPSettings(
                urls: ["ldaps://ldap.example.com"],
                bindDN: "cn=x,dc=example,dc=com",
                password: .environment("SOME_VARIABLE")
            ),
            users: UserSettings(baseDNs: ["ou=people,dc=example,dc=com"]),
            groups: GroupSettings(baseDNs: ["ou=groups,dc=example,dc=com"])
        )
        let error = #expect(throws: ConfigError.self) { try config.resolvePassword(environment: [:]) }
        #expect(
            error?.description
                == "<configuration>: ldap.passwordEnv: environment variable SOME_VARIABLE (ldap.passwordEnv) is not set"
        )
        #expect(try config.resolvePassword(environment: ["SOME_VARIABLE": "x"]) == "x")
    }

    @Test("the password never appears in redactedYAML, warnings or errors")
    func secretsNeverPrinted() throws {
        try withTemporaryDirectory { directory in
            let passwordPath = directory + "/ldap.password"
            try writeFile(passwordPath, fileCanary + "\n", mode: 0o644)
            let environment = ["TENURE_LDAP_PASSWORD": envCanary]

            let fromFile = try parse(bindingYAML("passwordFile: \(passwordPath)"), environment: environment)
            let fromEnvironment = try parse(bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD"), environment: environment)
            // The secrets are reachable …
            #expect(try fromFile.resolvePassword(environment: environment) == fileCanary)
            #expect(try fromEnvironment.resolvePassword(environment: environment) == envCanary)

            // … but never printed.
            var printed: [String] = []
            for config in [fromFile, fromEnvironment] {
                let redacted = config.redactedYAML()
                #expect(redacted.contains("<redacted>"))
                printed.append(redacted)
                printed += config.warnings.map(\.description)
                printed.append(String(describing: config))
                printed.append(String(reflecting: config))
            }
            #expect(
                fromFile.redactedYAML().contains("  passwordFile: \"\(passwordPath)\"  # password: <redacted>\n")
            )
            #expect(
                fromEnvironment.redactedYAML().contains(
                    "  passwordEnv: \"TENURE_LDAP_PASSWORD\"  # password: <redacted>\n"
                )
            )
            #expect(fromFile.warnings.count == 1)  // the mode warning

            // Errors of every kind, with the secrets in the environment and on disk.
            let failing: [(String, [String: String])] = [
                (
                    bindingYAML("passwordFile: \(passwordPath)").replacingOccurrences(of: "ldaps://", with: "http://"),
                    environment
                ),
                (bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD\n  pageSize: abc"), environment),
                (bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD\n  password: \(envCanary)"), environment),
                (bindingYAML("password: \(fileCanary)"), environment),
                (
                    bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD", urls: "[\"ldap://tenure:\(envCanary)@ldap\"]"),
                    environment
                ),
                (
                    bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD"),
                    environment.merging(["TENURE_LDAP_PAGE_SIZE": "-1"]) { $1 }
                ),
                (bindingYAML("passwordEnv: TENURE_LDAP_PASSWORD\n  passwordFile: \(passwordPath)"), environment),
                (bindingYAML("passwordEnv: \"\(envCanary)\""), environment),
            ]
            for (yaml, environment) in failing {
                let error = try #require(parseError(yaml, environment: environment))
                printed.append(error.description)
            }
            for config in [fromFile, fromEnvironment] {
                for environment in [[:], ["TENURE_LDAP_PASSWORD": ""]] {
                    var broken = config
                    if case .file = broken.ldap.password { broken.ldap.password = .file(passwordPath + ".missing") }
                    let error = #expect(throws: ConfigError.self) {
                        try broken.resolvePassword(environment: environment)
                    }
                    printed.append(error?.description ?? "")
                }
            }
            #expect(printed.count == 19)  // nothing skipped
            for text in printed {
                #expect(!text.contains(fileCanary), "leaked: \(text)")
                #expect(!text.contains(envCanary), "leaked: \(text)")
            }
        }
    }

    @Test("redactedYAML is the effective configuration and loads back to the same one")
    func redactedYAMLRoundTrip() throws {
        let yaml = """
            ldap:
              urls: ["ldaps://ldap.example.com"]
              bindDN: "cn=Smith\\\\, John,ou=services,dc=example,dc=com"
              passwordEnv: TENURE_LDAP_PASSWORD
              networkTimeoutSeconds: 2.5
            users:
              baseDNs: ["ou=people,dc=example,dc=com"]
              attributes:
                title: null
              extraAttributes: ["userCertificate;binary"]
              disabled:
                - rule: underDN
                  dn: "OU=Disabled, DC=Example,DC=com"
                - rule: attributeEquals
                  attribute: employeeType
                  value: "quoted \\"gone\\""
                - nsAccountLock
            groups:
              baseDNs: ["ou=groups,dc=example,dc=com"]
              members:
                - attribute: memberUid
                  valueIs: username
            """
        let config = try parse(yaml, environment: ["TENURE_LDAP_PAGE_SIZE": "250", "TENURE_GROUPS_NESTED": "off"])
        let redacted = config.redactedYAML()
        #expect(redacted.contains("  bindDN: \"cn=Smith\\\\, John,ou=services,dc=example,dc=com\"\n"))
        #expect(redacted.contains("    - rule: underDN\n      dn: \"ou=disabled,dc=example,dc=com\"\n"))
        #expect(redacted.contains("    title: null\n"))
        #expect(redacted.contains("  nested: false  # from TENURE_GROUPS_NESTED\n"))
        #expect(redacted.contains("  pageSize: 250  # from TENURE_LDAP_PAGE_SIZE\n"))
        let reloaded = try parse(redacted)
        #expect(reloaded == config)
        #expect(reloaded.ldap.pageSize == 250)
        #expect(reloaded.users.attributes.title == nil)
    }
}
