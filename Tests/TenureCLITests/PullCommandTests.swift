import Foundation
import SlapdFixture
import Testing

/// `tenure pull` against the bundled sample directory.
@Suite(.timeLimit(.minutes(3)))
struct PullCommandTests {
    @Test func tableSummarisesTheSampleDirectory() async throws {
        try await withSlapd(data: try Sample.ldif) { server in try Self.checkTable(server) }
    }

    // A synchronous function rather than the closure's body: Swift 6.3.1's SendNonSendable pass
    // crashes (std::out_of_range, map::at) compiling this body inside withSlapd's async closure.
    private static func checkTable(_ server: SlapdServer) throws {
        let config = try server.writeConfiguration()
        let result = try tenure(["pull", "--config", config, "--format", "table"])
        try #require(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(!result.stdout.contains("\u{1B}"), "no colour when stdout is not a terminal: \(result)")
        #expect(result.stdout.contains(server.url), "\(result)")
        let lines = result.stdout.split(separator: "\n").map(String.init)

        let identities = try #require(lines.first { $0.contains("Identities") }, "\(result)")
        #expect(identities.split(separator: " ").contains("26"), "\(identities)")
        #expect(identities.contains("2 disabled"), "\(identities)")
        let groups = try #require(lines.first { $0.contains("Groups") }, "\(result)")
        #expect(groups.split(separator: " ").contains("14"), "\(groups)")

        // Largest groups: platform-admins first, with its 10 transitive members.
        let largest = try #require(lines.firstIndex { $0.hasPrefix("Largest groups") }, "\(result)")
        let disabled = try #require(lines.firstIndex { $0.hasPrefix("Disabled identities") }, "\(result)")
        #expect(largest < disabled)
        let groupRows = lines[(largest + 1)..<disabled].filter { $0.contains(",ou=groups,") }
        #expect(groupRows.count == 10, "the top 10 of 14: \(result)")
        let platform = try #require(groupRows.first, "\(result)")
        #expect(platform.contains("platform-admins"), "\(result)")
        #expect(platform.hasSuffix("cn=platform-admins,ou=groups,dc=tenure,dc=test"), "\(platform)")
        #expect(platform.split(separator: " ").contains("10"), "\(platform)")

        // Disabled identities: fdubois (ppolicy lock) and rklein (under ou=disabled), with reasons.
        let disabledRows = lines[(disabled + 1)...].filter { $0.contains(",ou=people,") }
        #expect(disabledRows.count == 2, "\(result)")
        let fdubois = try #require(disabledRows.first { $0.contains("fdubois") }, "\(result)")
        #expect(fdubois.contains("pwdAccountLockedTime"), "\(fdubois)")
        #expect(fdubois.contains("uid=fdubois,ou=people,dc=tenure,dc=test"), "\(fdubois)")
        let rklein = try #require(disabledRows.first { $0.contains("rklein") }, "\(result)")
        #expect(rklein.contains(Sample.disabledOU), "\(rklein)")
        #expect(result.stdout.hasSuffix("\n"), "\(result)")

        // --top limits the largest-groups table.
        let top = try tenure(["pull", "--config", config, "--top", "1"])
        try #require(top.status == 0, "\(top)")
        #expect(top.stdout.contains("cn=platform-admins,ou=groups,dc=tenure,dc=test"), "\(top)")
        #expect(!top.stdout.contains("cn=dba,ou=groups,dc=tenure,dc=test"), "\(top)")
        #expect(top.stdout.contains("fdubois"), "\(top)")
    }

    @Test func jsonIsTheWholeSnapshot() async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let config = try server.writeConfiguration()
            let result = try tenure(["pull", "--config", config, "--format", "json"])
            try checkSampleSnapshot(result, server: server.url)
            #expect(result.stderr.isEmpty, "\(result)")
            #expect(result.stdout.hasSuffix("}\n"), "one document and a newline")
            // A page size below the number of entries gives the same snapshot (paged reads).
            let paged = try tenure(
                ["pull", "--config", config, "--format", "json"],
                environment: ["TENURE_LDAP_PAGE_SIZE": "3"]
            )
            try checkSampleSnapshot(paged, server: server.url)
            let first = try JSONDecoder().decode(PullDocument.self, from: Data(result.stdout.utf8))
            let second = try JSONDecoder().decode(PullDocument.self, from: Data(paged.stdout.utf8))
            #expect(first.identities.map(\.id).sorted() == second.identities.map(\.id).sorted())
            #expect(Set(first.groups.map(\.id)) == Set(second.groups.map(\.id)))
        }
    }

    /// Config/tenure.yaml works against Config/sample-directory.ldif with only the server's URL and
    /// password file from the environment.
    @Test func theSampleConfigurationReadsTheSampleDirectory() async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let environment = [
                "TENURE_LDAP_URLS": server.url,
                "TENURE_LDAP_PASSWORD_FILE": server.readerPasswordFile,
            ]
            let json = try tenure(
                ["pull", "--config", Sample.configFile, "--format", "json"],
                environment: environment
            )
            try checkSampleSnapshot(json, server: server.url)
            #expect(json.stderr.isEmpty, "\(json)")

            let table = try tenure(["pull", "--config", Sample.configFile], environment: environment)
            #expect(table.status == 0, "\(table)")
            #expect(table.stdout.contains("platform-admins"), "\(table)")
            #expect(table.stdout.contains("fdubois") && table.stdout.contains("rklein"), "\(table)")
        }
    }

    /// Progress goes to stderr only when it is a terminal: redirected, a successful pull prints
    /// nothing there.
    @Test(arguments: ["table", "json"])
    func noProgressWhenStderrIsNotATerminal(format: String) async throws {
        try await withSlapd(data: try Sample.ldif) { server in
            let result = try tenure(
                ["pull", "--config", try server.writeConfiguration(), "--format", format],
                environment: ["TENURE_LDAP_PAGE_SIZE": "5"]
            )
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.isEmpty, "\(result)")
            #expect(!result.stdout.contains("entries ("), "no progress on stdout either: \(result)")
        }
    }

    /// Under a pseudo-terminal (script(1)), the pull shows its progress.
    @Test func progressUnderAPseudoTerminal() async throws {
        let script = try #require(
            findProgram("script"),
            "script(1) is needed for this test (Debian: bsdutils / util-linux)"
        )
        let executable = try TenureBinary.require()
        try await withSlapd(data: try Sample.ldif) { server in
            let config = try server.writeConfiguration()
            let command = [executable, "pull", "--config", config].map(shellQuoted).joined(separator: " ")
            let output = try run(
                script,
                ["-qec", command, "/dev/null"],
                environment: cliEnvironment(["TENURE_LDAP_PAGE_SIZE": "5", "SHELL": "/bin/sh"])
            )
            let printed = output.stdout + output.stderr
            #expect(output.status == 0, "\(printed)")
            #expect(printed.contains("entries"), "no progress under a terminal:\n\(printed)")
            // Progress lines (rewritten with \r) name the base being read.
            let progress = printed.split(whereSeparator: { $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
                .filter { $0.contains("entries") }
            #expect(progress.contains { $0.contains(Sample.people) }, "\(printed)")
            #expect(progress.contains { $0.contains(Sample.groups) }, "\(printed)")
            // The report still follows.
            #expect(printed.contains("platform-admins"), "\(printed)")
        }
    }
}
