import Foundation
import SlapdFixture
import Testing

/// Help, version and usage errors (exit status 64).
@Suite(.timeLimit(.minutes(3)))
struct UsageTests {
    @Test func helpListsTheSubcommandsAndExitStatuses() throws {
        let help = try tenure(["--help"])
        #expect(help.status == 0, "\(help)")
        #expect(help.stdout.contains("pull"), "\(help)")
        #expect(help.stdout.contains("config"), "\(help)")
        #expect(help.stdout.contains("USAGE"), "\(help)")
        #expect(help.stdout.contains("78"), "the help documents the exit statuses: \(help)")
        #expect(help.stderr.isEmpty, "\(help)")
    }

    @Test(
        arguments: [
            (["pull", "--help"], ["--config", "--format", "--top", "--log-level"]),
            (["help", "pull"], ["--config", "--format", "--top"]),
            (["config", "check", "--help"], ["--config", "--password"]),
            (["config", "--help"], ["check"]),
        ]
    )
    func subcommandHelp(arguments: [String], mentions: [String]) throws {
        let help = try tenure(arguments)
        #expect(help.status == 0, "\(help)")
        for word in mentions {
            #expect(help.stdout.contains(word), "\(word) not in: \(help)")
        }
    }

    @Test func versionPrintsAVersionNumber() throws {
        let version = try tenure(["--version"])
        #expect(version.status == 0, "\(version)")
        let text = version.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(text.wholeMatch(of: #/\d+\.\d+\.\d+([-+.][0-9A-Za-z.-]+)?/#) != nil, "\(version)")
        #expect(version.stdout.hasSuffix("\n"), "\(version)")
    }

    @Test(
        arguments: [
            ["bogus"],
            ["--bogus"],
            ["pull", "--bogus"],
            ["pull", "--format", "xml"],
            ["pull", "--top", "many"],
            ["pull", "--log-level", "loud"],
            ["pull", "extra-argument"],
            ["config", "frobnicate"],
            ["config", "check", "--config"],
        ]
    )
    func badUsageExits64(arguments: [String]) throws {
        let result = try tenure(arguments)
        #expect(result.status == 64, "\(result)")
        #expect(result.stdout.isEmpty, "usage errors go to stderr: \(result)")
        #expect(result.stderr.contains("Error:"), "\(result)")
        #expect(result.stderr.contains("Usage:") || result.stderr.contains("Help:"), "\(result)")
    }

    /// Without --config and without TENURE_CONFIG the default /etc/tenure/tenure.yaml is used.
    @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/etc/tenure/tenure.yaml")))
    func theDefaultConfigurationFileIsNamedWhenMissing() throws {
        let result = try tenure(["config", "check"])
        #expect(result.status == 78, "\(result)")
        #expect(result.stderr.hasPrefix("configuration error:"), "\(result)")
        #expect(result.stderr.contains("/etc/tenure/tenure.yaml"), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
    }

    @Test func tenureConfigNamesTheFile() throws {
        let result = try tenure(["config", "check"], environment: ["TENURE_CONFIG": Sample.configFile])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains(Sample.configFile), "\(result)")
        #expect(result.stderr.isEmpty, "TENURE_CONFIG is not reported as an unknown variable: \(result)")
    }
}
