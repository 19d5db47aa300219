import Foundation
import Testing

@testable import TenureConfig

@Suite("Warnings")
struct WarningTests {
    @Test(
        "a password file readable by others draws a warning",
        arguments: [(0o600, nil), (0o400, nil), (0o640, "0640"), (0o644, "0644"), (0o604, "0604")] as [(Int, String?)]
    )
    func passwordFileMode(mode: Int, shown: String?) throws {
        try withTemporaryDirectory { directory in
            let passwordPath = directory + "/ldap.password"
            try writeFile(passwordPath, "s3cret\n", mode: mode)
            let configPath = directory + "/tenure.yaml"
            try writeFile(
                configPath,
                """
                ldap:
                  urls: ["ldaps://ldap.example.com"]
                  bindDN: "cn=tenure,dc=example,dc=com"
                  passwordFile: ldap.password
                users:
                  baseDNs: ["ou=people,dc=example,dc=com"]
                groups:
                  baseDNs: ["ou=groups,dc=example,dc=com"]
                """
            )
            let config = try TenureConfiguration.load(path: configPath, environment: [:])
            if let shown {
                #expect(
                    config.warnings == [
                        ConfigWarning(
                            location: .file(path: configPath, line: 4, column: 17),
                            keyPath: "ldap.passwordFile",
                            message:
                                "password file \(passwordPath) is readable by other users (mode \(shown)); chmod 600 it"
                        )
                    ]
                )
            } else {
                #expect(config.warnings == [])
            }
        }
    }

    @Test("insecureSkipVerify draws a loud warning, from the file or the environment")
    func insecureSkipVerify() throws {
        let yaml = minimalYAML.replacingOccurrences(
            of: "  urls: [\"ldaps://ldap.example.com\"]\n",
            with: "  urls: [\"ldaps://ldap.example.com\"]\n  tls:\n    insecureSkipVerify: true\n"
        )
        let message =
            "TLS certificate verification is DISABLED (ldap.tls.insecureSkipVerify) — "
            + "anyone on the network path can impersonate the directory"
        let config = try parse(yaml)
        #expect(config.ldap.tls.insecureSkipVerify)
        #expect(
            config.warnings.map(\.description) == ["tenure.yaml:4:25: ldap.tls.insecureSkipVerify: \(message)"]
        )
        let fromEnvironment = try parse(minimalYAML, environment: ["TENURE_LDAP_TLS_INSECURE_SKIP_VERIFY": "true"])
        #expect(
            fromEnvironment.warnings.map(\.description) == [
                "environment TENURE_LDAP_TLS_INSECURE_SKIP_VERIFY: ldap.tls.insecureSkipVerify: \(message)"
            ]
        )
        #expect(fromEnvironment.redactedYAML().contains("insecureSkipVerify: true  # DANGER"))
    }

    @Test("startTLS with an ldaps:// URL is ignored, with a warning")
    func startTLSWithLDAPS() throws {
        let config = try parse(
            minimalYAML,
            environment: [
                "TENURE_LDAP_START_TLS": "true", "TENURE_LDAP_URLS": "[ldap://a.example.com, ldaps://b.example.com]",
            ]
        )
        #expect(config.ldap.startTLS)
        #expect(
            config.warnings.map(\.description) == [
                "environment TENURE_LDAP_START_TLS: ldap.startTLS: startTLS is ignored for ldaps:// URLs such as "
                    + "ldaps://b.example.com (already TLS from the first byte)"
            ]
        )
    }

    @Test(
        "binding with a password over plain ldap:// to a remote host draws a warning",
        arguments: [
            ("ldap://ldap.example.com", false, true),
            ("ldap://ldap.example.com", true, false),
            ("ldaps://ldap.example.com", false, false),
            ("ldap://127.0.0.1:3890", false, false),
            ("ldap://localhost", false, false),
            ("ldap://[::1]:389", false, false),
        ]
    )
    func clearTextBind(url: String, startTLS: Bool, warns: Bool) throws {
        let config = try parse(
            minimalYAML,
            environment: [
                "TENURE_LDAP_URLS": url,
                "TENURE_LDAP_START_TLS": String(startTLS),
                "TENURE_LDAP_BIND_DN": "cn=tenure,dc=example,dc=com",
                "TENURE_LDAP_PASSWORD_ENV": "TENURE_LDAP_PASSWORD",
            ]
        )
        let clearText = config.warnings.filter { $0.message.contains("unencrypted") }
        #expect(clearText.count == (warns ? 1 : 0))
        if warns {
            #expect(clearText.first?.keyPath == "ldap.urls[0]")
            #expect(clearText.first?.location == .environment(variable: "TENURE_LDAP_URLS"))
        }
    }

    @Test("a password source without a bind DN is unused, with a warning")
    func passwordWithoutBindDN() throws {
        let config = try parse(minimalYAML, environment: ["TENURE_LDAP_PASSWORD_ENV": "TENURE_LDAP_PASSWORD"])
        #expect(config.ldap.bindDN == nil)
        #expect(
            config.warnings.map(\.description) == [
                "environment TENURE_LDAP_PASSWORD_ENV: ldap.passwordEnv: a password source is set but ldap.bindDN "
                    + "is empty: binding anonymously, the password is not used"
            ]
        )
    }
}
