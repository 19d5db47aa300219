import Foundation
import SlapdFixture
import Testing

/// `tenure config check`: the effective configuration, redacted; located errors with exit 78.
@Suite(.timeLimit(.minutes(3)))
struct ConfigCheckTests {
    @Test func theSampleConfigurationIsValidAndPrintedRedacted() throws {
        let result = try tenure(["config", "check", "--config", Sample.configFile])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // YAML with the three sections, every value spelled out.
        for section in ["ldap:", "users:", "groups:"] {
            #expect(lines.contains(section), "no \(section) line: \(result)")
        }
        #expect(lines.contains("  pageSize: 500"), "\(result)")
        #expect(lines.contains("    - \"ldap://127.0.0.1:3890\""), "\(result)")
        #expect(result.stdout.contains("<redacted>"), "\(result)")
        // The relative passwordFile is resolved against the file's directory.
        let passwordLine = try #require(lines.first { $0.hasPrefix("  passwordFile:") }, "\(result)")
        #expect(passwordLine.contains(repositoryRoot.appendingPathComponent(".tenure").standardizedFileURL.path))
        #expect(passwordLine.contains("<redacted>"))
        #expect(!result.stdout.contains("# from TENURE_"), "nothing came from the environment: \(result)")
        #expect(result.stdout.hasSuffix("\n"), "\(result)")
    }

    @Test func anEnvironmentOverrideIsShownWithItsVariable() throws {
        let result = try tenure(
            ["config", "check", "--config", Sample.configFile],
            environment: ["TENURE_LDAP_PAGE_SIZE": "42"]
        )
        #expect(result.status == 0, "\(result)")
        let line = try #require(
            result.stdout.split(separator: "\n").first { $0.contains("pageSize:") },
            "\(result)"
        )
        #expect(line.contains("pageSize: 42"), "\(result)")
        #expect(line.contains("TENURE_LDAP_PAGE_SIZE"), "\(result)")
        #expect(!result.stdout.contains("pageSize: 500"), "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
    }

    /// The printed configuration loads back as a configuration with the same settings.
    @Test func thePrintedConfigurationLoadsBack() throws {
        let first = try tenure(
            ["config", "check", "--config", Sample.configFile],
            environment: ["TENURE_LDAP_PAGE_SIZE": "42", "TENURE_USERS_SCOPE": "one"]
        )
        try #require(first.status == 0, "\(first)")
        try withTemporaryDirectory { directory in
            let path = try write(first.stdout, to: "effective.yaml", in: directory)
            let second = try tenure(["config", "check", "--config", path])
            #expect(second.status == 0, "\(second)")
            func settings(_ text: String) -> [String] {
                text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map {
                    String($0.replacing(#/  # from TENURE_\w+$/#, with: ""))
                }
            }
            #expect(settings(first.stdout) == settings(second.stdout))
            #expect(second.stdout.contains("pageSize: 42"))
            #expect(second.stdout.contains("scope: one"))
        }
    }

    struct BrokenFile: Sendable, CustomTestStringConvertible {
        var name: String
        var ldapLine: String
        /// `:line:column:` expected after the file name.
        var position: String
        var mentions: [String]
        var testDescription: String { self.name }
    }

    @Test(
        arguments: [
            BrokenFile(
                name: "a number that is not",
                ldapLine: "  pageSize: abc",
                position: ":3:13:",
                mentions: ["ldap.pageSize", "abc"]
            ),
            BrokenFile(
                name: "an unknown key",
                ldapLine: "  pagesize: 500",
                position: ":3:3:",
                mentions: ["pagesize", "did you mean \"pageSize\""]
            ),
            BrokenFile(
                name: "a page size out of range",
                ldapLine: "  pageSize: 0",
                position: ":3:13:",
                mentions: ["ldap.pageSize"]
            ),
        ]
    )
    func aBrokenFileExits78WithItsLocation(_ broken: BrokenFile) throws {
        try withTemporaryDirectory { directory in
            let yaml = """
                ldap:
                  urls: ["ldap://127.0.0.1:3890"]
                \(broken.ldapLine)
                users:
                  baseDNs: ["\(Sample.people)"]
                groups:
                  baseDNs: ["\(Sample.groups)"]

                """
            let path = try write(yaml, to: "broken.yaml", in: directory)
            for arguments in [["config", "check", "--config", path], ["pull", "--config", path, "--format", "json"]] {
                let result = try tenure(arguments)
                #expect(result.status == 78, "\(result)")
                #expect(result.stdout.isEmpty, "\(result)")
                #expect(result.stderr.hasPrefix("configuration error: \(path)\(broken.position)"), "\(result)")
                for text in broken.mentions {
                    #expect(result.stderr.contains(text), "\(text) not in: \(result)")
                }
                #expect(result.stderr.hasSuffix("\n"), "\(result)")
            }
        }
    }

    @Test func aBadEnvironmentValueExits78NamingTheVariable() throws {
        let result = try tenure(
            ["config", "check", "--config", Sample.configFile],
            environment: ["TENURE_LDAP_PAGE_SIZE": "abc"]
        )
        #expect(result.status == 78, "\(result)")
        #expect(result.stderr.hasPrefix("configuration error:"), "\(result)")
        #expect(result.stderr.contains("TENURE_LDAP_PAGE_SIZE"), "\(result)")
        #expect(result.stderr.contains("ldap.pageSize"), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test func aMissingConfigurationFileExits78() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID()).yaml").path
        let result = try tenure(["config", "check", "--config", path])
        #expect(result.status == 78, "\(result)")
        #expect(result.stderr.hasPrefix("configuration error:"), "\(result)")
        #expect(result.stderr.contains(path), "\(result)")
    }

    @Test func aMissingPasswordFileIsAConfigurationError() throws {
        try withTemporaryDirectory { directory in
            let missing = directory + "/no-such.password"
            let path = try write(
                sampleConfiguration(
                    url: "ldap://127.0.0.1:3890",
                    bindDN: "cn=tenure-reader,ou=services,\(Sample.suffix)",
                    password: .file(missing)
                ),
                to: "tenure.yaml",
                in: directory
            )
            // Loading does not read the password file…
            let check = try tenure(["config", "check", "--config", path])
            #expect(check.status == 0, "\(check)")
            // …--password does, and so does pull (before any connection).
            for arguments in [["config", "check", "--config", path, "--password"], ["pull", "--config", path]] {
                let result = try tenure(arguments)
                #expect(result.status == 78, "\(result)")
                #expect(result.stderr.hasPrefix("configuration error: \(path):4:"), "\(result)")
                #expect(result.stderr.contains(missing), "\(result)")
                #expect(result.stderr.contains("does not exist"), "\(result)")
                #expect(result.stdout.isEmpty, "\(result)")
            }
        }
    }

    /// `tenure token create` prints a `server.tokens` entry that pastes into a configuration as
    /// itself, whatever the name and subject hold (": ", "#", quotes, a backslash).
    @Test func aTokenEntryPastesIntoTheConfigurationAsItself() throws {
        let name = #"night ops: "pager" #2 \ on call"#
        let subject = "o'brien # not a comment"
        let made = try tenure(["token", "create", name, "--scopes", "check,approve", "--subject", subject])
        try #require(made.status == 0, "\(made)")
        let entry = made.stdout.split(separator: "\n").drop { !$0.hasPrefix("# server.tokens entry") }.dropFirst()
        #expect(entry.count == 4, "\(made)")
        let base = try String(contentsOfFile: Sample.configFile, encoding: .utf8)
        try #require(!base.contains("\nserver:"), "the sample has no server section to replace")
        try withTemporaryDirectory { directory in
            let path = try write(
                base + "\nserver:\n  tokens:\n" + entry.joined(separator: "\n") + "\n",
                to: "with-token.yaml",
                in: directory
            )
            let checked = try tenure(["config", "check", "--config", path])
            #expect(checked.status == 0, "\(checked)")
            let lines = checked.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(lines.contains(#"- name: "night ops: \"pager\" #2 \\ on call""#), "\(checked)")
            #expect(lines.contains(#"subject: "o'brien # not a comment""#), "\(checked)")
            #expect(lines.contains("scopes: [approve, check]"), "\(checked)")
        }
    }
}
