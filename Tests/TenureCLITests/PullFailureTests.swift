import Foundation
import SlapdFixture
import Testing

/// A pull that cannot read the whole directory exits 1 with a clear message and prints no snapshot.
@Suite(.timeLimit(.minutes(3)))
struct PullFailureTests {
    enum Failure: String, CaseIterable, Sendable {
        case wrongPassword
        case unreachableServer
        case missingUserBase
        case missingGroupBase
    }

    static let missingBase = "ou=nobody,dc=tenure,dc=test"
    static let unreachable = "ldap://127.0.0.1:1"

    /// Every failure, in both formats: exit 1, the reason on stderr, nothing on stdout (in
    /// particular no partial JSON document).
    @Test(arguments: Failure.allCases)
    func aFailedPullPrintsNoSnapshot(_ failure: Failure) async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let secret = "S3cr3t-\(UUID().uuidString)"
            let config: String
            var mentions: [String]
            switch failure {
            case .wrongPassword:
                let file = try server.writePrivateFile("wrong.password", secret)
                config = try server.writeConfiguration(password: .file(file))
                mentions = ["invalidCredentials", server.readerDN, server.url]
            case .unreachableServer:
                config = try server.writeConfiguration(url: Self.unreachable)
                mentions = [Self.unreachable]
            case .missingUserBase:
                config = try server.writeConfiguration(userBase: Self.missingBase)
                mentions = ["noSuchObject", Self.missingBase]
            case .missingGroupBase:
                config = try server.writeConfiguration(groupBase: Self.missingBase)
                mentions = ["noSuchObject", Self.missingBase]
            }
            for format in ["json", "table"] {
                let result = try tenure(["pull", "--config", config, "--format", format])
                #expect(result.status == 1, "\(result)")
                #expect(result.stdout.isEmpty, "a failed pull prints no (partial) snapshot: \(result)")
                #expect(result.stderr.contains("no snapshot was produced."), "\(result)")
                #expect(result.stderr.hasSuffix("\n"), "\(result)")
                for text in mentions {
                    #expect(result.stderr.contains(text), "\(text) not in: \(result)")
                }
                #expect(!result.allOutput.contains(secret), "\(result)")
            }
        }
    }

    /// With a wrong password in a file, nothing printed — at any log level, by any command —
    /// contains it.
    @Test func aWrongPasswordFromAFileIsNeverPrinted() async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let secret = "S3cr3t-\(UUID().uuidString)"
            let file = try server.writePrivateFile("wrong.password", secret + "\n")
            let config = try server.writeConfiguration(password: .file(file))
            var runs: [CLIRun] = []
            for level in ["warning", "trace"] {
                for format in ["table", "json"] {
                    let pull = try tenure(["pull", "--config", config, "--format", format, "--log-level", level])
                    #expect(pull.status == 1, "\(pull)")
                    #expect(pull.stderr.contains("invalidCredentials"), "\(pull)")
                    #expect(pull.stderr.contains("no snapshot"), "\(pull)")
                    runs.append(pull)
                }
            }
            for arguments in [
                ["config", "check", "--config", config], ["config", "check", "--config", config, "--password"],
            ] {
                let check = try tenure(arguments + ["--log-level", "trace"])
                #expect(check.status == 0, "\(check)")
                #expect(check.stdout.contains("<redacted>"), "\(check)")
                runs.append(check)
            }
            for run in runs {
                #expect(!run.allOutput.contains(secret), "the password was printed: \(run)")
                #expect(!run.allOutput.contains("S3cr3t"), "part of the password was printed: \(run)")
            }
        }
    }

    /// The same with the password in an environment variable (passwordEnv), under the conventional
    /// name, another TENURE_ name and a name of the user's choosing.
    @Test(arguments: ["TENURE_LDAP_PASSWORD", "TENURE_BIND_SECRET", "DIRECTORY_BIND_SECRET"])
    func aWrongPasswordFromTheEnvironmentIsNeverPrinted(variable: String) async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let secret = "S3cr3t-\(UUID().uuidString)"
            let config = try server.writeConfiguration(password: .environment(variable))
            let environment = [variable: secret]
            var runs: [CLIRun] = []
            for format in ["table", "json"] {
                let pull = try tenure(
                    ["pull", "--config", config, "--format", format, "--log-level", "trace"],
                    environment: environment
                )
                #expect(pull.status == 1, "\(pull)")
                #expect(pull.stderr.contains("invalidCredentials"), "\(pull)")
                #expect(pull.stdout.isEmpty, "\(pull)")
                runs.append(pull)
            }
            let check = try tenure(
                ["config", "check", "--config", config, "--password", "--log-level", "trace"],
                environment: environment
            )
            #expect(check.status == 0, "\(check)")
            #expect(check.stdout.contains("passwordEnv: \"\(variable)\""), "\(check)")
            #expect(check.stdout.contains("<redacted>"), "\(check)")
            #expect(check.stderr.isEmpty, "the password variable is not an unknown TENURE_ variable: \(check)")
            runs.append(check)
            for run in runs {
                #expect(!run.allOutput.contains(secret), "the password was printed: \(run)")
                #expect(!run.allOutput.contains("S3cr3t"), "part of the password was printed: \(run)")
            }
        }
    }

    /// A successful pull at trace level logs (the connection, the bind DN) but never the password.
    @Test(arguments: ["file", "environment"])
    func theRightPasswordIsNotLoggedAtTraceLevel(source: String) async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let password = server.readerPassword
            try #require(password.count >= 16, "the fixture's password is too short to search for")
            let config: String
            var environment: [String: String] = [:]
            if source == "file" {
                config = try server.writeConfiguration()
            } else {
                config = try server.writeConfiguration(password: .environment("TENURE_LDAP_PASSWORD"))
                environment["TENURE_LDAP_PASSWORD"] = password
            }
            let pull = try tenure(
                ["pull", "--config", config, "--format", "json", "--log-level", "trace"],
                environment: environment
            )
            try checkSampleSnapshot(pull, server: server.url)
            #expect(!pull.stderr.isEmpty, "trace level logs something: \(pull)")
            #expect(pull.stderr.contains(server.readerDN), "the bind is logged (by DN): \(pull)")
            #expect(!pull.allOutput.contains(password), "the password was printed: \(pull)")
        }
    }

    /// A password written into the configuration file is rejected — without repeating it.
    @Test(
        arguments: [
            "  password: S3cr3t-inline-1",
            "  bindPassword: \"S3cr3t-inline-2\"",
            "  password: \"S3cr3t-inline-3",
            "  password: [S3cr3t-inline-4",
        ]
    )
    func aPasswordInTheFileIsRejectedWithoutEchoingIt(line: String) throws {
        try withTemporaryDirectory { directory in
            let yaml = """
                ldap:
                  urls: ["ldap://127.0.0.1:3890"]
                  bindDN: "cn=tenure-reader,ou=services,\(Sample.suffix)"
                \(line)
                users:
                  baseDNs: ["\(Sample.people)"]
                groups:
                  baseDNs: ["\(Sample.groups)"]

                """
            let path = try write(yaml, to: "inline.yaml", in: directory)
            for arguments in [["config", "check", "--config", path], ["pull", "--config", path]] {
                let result = try tenure(arguments)
                #expect(result.status == 78, "\(result)")
                #expect(result.stderr.hasPrefix("configuration error: \(path):"), "\(result)")
                #expect(!result.allOutput.contains("S3cr3t"), "the password was printed: \(result)")
            }
        }
    }
}
