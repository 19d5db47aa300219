import Foundation
import SlapdFixture
import TenureCore
import TenureStore
import Testing

/// `tenure token create --subject`: with a configuration the entry names the identity's stable id,
/// so the token never passes to whoever later gets the username; `tenure serve` warns of a token
/// whose subject is still a username.
@Suite(.timeLimit(.minutes(5)))
struct TokenCommandTests {
    /// The `server.tokens` entry lines a `token create` printed.
    static func entry(_ made: CLIRun) -> [Substring] {
        Array(made.stdout.split(separator: "\n").drop { !$0.hasPrefix("# server.tokens entry") }.dropFirst())
    }

    @Test func aSubjectIsPinnedToItsStableIdAndServeWarnsOfAUsername() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                let sync = try world.tenure(["sync"])
                try #require(sync.status == 0, "\(sync)")
                let state = try await world.store().loadState()
                let kmueller = try #require(state.identities.values.first { $0.username == "kmueller" })

                let pinned = try world.tenure([
                    "token", "create", "ops", "--scopes", "approve", "--subject", "KMueller",
                ])
                #expect(pinned.status == 0, "\(pinned)")
                #expect(
                    Self.entry(pinned).last == "      subject: \"\(kmueller.id)\"  # kmueller (\(kmueller.dn))",
                    "\(pinned)"
                )

                let unknown = try world.tenure(["token", "create", "x", "--scopes", "approve", "--subject", "nobody"])
                #expect(unknown.status == 1)
                #expect(unknown.stderr.contains("no identity known as nobody"), "\(unknown)")
                #expect(!unknown.stdout.contains("token:"), "no token is printed for a refused entry")

                // A configuration named but missing is an error, not an unpinned subject.
                let missing = try tenure(
                    ["token", "create", "x", "--scopes", "approve", "--subject", "kmueller"],
                    environment: ["TENURE_CONFIG": directory + "/missing.yaml"]
                )
                #expect(missing.status == 78, "\(missing)")
                #expect(!missing.stdout.contains("token:"), "\(missing)")

                // Without any configuration (none named, none at /etc/tenure): kept as written, with a
                // warning.
                try #require(!FileManager.default.fileExists(atPath: "/etc/tenure/tenure.yaml"))
                let loose = try tenure(["token", "create", "loose", "--scopes", "approve", "--subject", "kmueller"])
                #expect(loose.status == 0, "\(loose)")
                #expect(Self.entry(loose).last == "      subject: \"kmueller\"", "\(loose)")
                #expect(loose.stderr.contains("the subject is kept as written"), "\(loose)")

                let served = try SyncTests.World(
                    server: server,
                    directory: directory,
                    extra: "server:\n  tokens:\n" + (Self.entry(pinned) + Self.entry(loose)).joined(separator: "\n")
                        + "\n"
                )
                let log = directory + "/serve.log"
                let (pid, _) = try await ServeCommandTests.serve(served, log: log)
                kill(pid, SIGTERM)
                let text = try String(contentsOfFile: log, encoding: .utf8)
                #expect(text.contains("token loose's subject kmueller is not a stable id"), "\(text)")
                #expect(!text.contains("token ops's subject"), "\(text)")
            }
        }
    }
}
