import Foundation
import HummingbirdTesting
import SlapdFixture
import TenureConfig
import TenureCore
import TenureServer
import TenureStore
import Testing

/// SCIM conformance checked by an external tool: scripts/scim-conformance.sh runs scim2-tester
/// (python-scim) against the real server, in process on a loopback port, and must pass every check
/// it runs. The venv is installed by `scripts/scim-conformance.sh --install` (CI does it); without
/// it this test fails and says so — it never skips.
@Suite(.timeLimit(.minutes(5)))
struct SCIMConformanceTests {
    static let script = repositoryRoot.appendingPathComponent("scripts/scim-conformance.sh").path

    static var venv: String {
        ProcessInfo.processInfo.environment["TENURE_SCIM_VENV"]
            ?? repositoryRoot.appendingPathComponent(".tenure/scim-venv").path
    }

    @Test func scim2TesterPassesEveryCheckItRuns() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.venv + "/bin/python") else {
            Issue.record(
                """
                the scim2-tester venv is not installed in \(Self.venv): run \
                `scripts/scim-conformance.sh --install` (scripts/scim-conformance.sh runs this check)
                """
            )
            return
        }
        let harness = try await Harness(
            mappings: Mappings(roles: [RoleDefinition(name: "db-read", tier: 2, mode: .standing)]),
            state: PIMState(identities: ["id-ann": person("id-ann", "ann")])
        )
        try await harness.run { client in
            let port = try #require(client.port)
            let output = try await Self.runOffThread(
                Self.script,
                ["--no-install", "http://127.0.0.1:\(port)/scim/v2", Harness.token("hr")]
            )
            // The tester's report (one line per check, then a summary) goes to the test log.
            print(output.stdout)
            #expect(
                output.status == 0,
                "scripts/scim-conformance.sh exited \(output.status):\n\(output.stdout)\n\(output.stderr)"
            )
            #expect(output.stdout.contains("PASS: every check that ran passed"), "\(output.stdout)")
        }
        // The tester cleans up after itself, and nothing it did touched an identity.
        #expect(try await harness.store.offboardings().isEmpty)
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    /// `run` blocks on waitpid: keep it off the cooperative pool, which serves the server.
    static func runOffThread(_ executable: String, _ arguments: [String]) async throws -> ProcessOutput {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try run(executable, arguments) })
            }
        }
    }
}
