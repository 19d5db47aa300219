import Foundation
import SlapdFixture
import TenureCore
import TenureStore
import TenureVault
import Testing

/// HR deprovisioning end to end, through the real binary against slapd: an Entra-style SCIM PATCH
/// (`active` = the string "False") deactivating a DBA's HR user offboards the linked identity
/// before the 200 is sent — role revoked, write-back removed, the DBA service account's password
/// rotated, all audited — and the identity stays a leaver for later syncs and for decisions while
/// the directory still shows the account enabled.
@Suite(.timeLimit(.minutes(5)))
struct SCIMDeprovisioningTests {
    /// One HTTP exchange: the status code and the body.
    struct HTTPExchange: CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "HTTP \(self.status): \(self.body)" }
    }

    /// curl with a bearer token; the body (if any) as JSON of `contentType`.
    static func request(
        _ method: String,
        _ url: String,
        token: String,
        body: String? = nil,
        contentType: String = "application/scim+json"
    ) throws -> HTTPExchange {
        var arguments = ["-X", method, "-H", "Authorization: Bearer \(token)", "-w", "\n%{http_code}"]
        if let body { arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", body] }
        let output = try ServeCommandTests.curl(arguments + [url])
        #expect(output.status == 0, "curl \(method) \(url) exited \(output.status)")
        var lines = output.body.split(separator: "\n", omittingEmptySubsequences: false)
        let code = Int(lines.popLast() ?? "") ?? 0
        return HTTPExchange(status: code, body: lines.joined(separator: "\n"))
    }

    static func json(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    /// Creates a token with `scopes`; returns the token and its SHA-256 for `server.tokens`.
    static func token(_ name: String, scopes: String) throws -> (token: String, sha256: String, run: CLIRun) {
        let made = try tenure(["token", "create", name, "--scopes", scopes])
        try #require(made.status == 0, "\(made)")
        let token = try #require(
            made.stdout.split(separator: "\n").first { $0.hasPrefix("token: ") }?.dropFirst("token: ".count)
        )
        let hash = try #require(
            made.stdout.split(separator: "\n").first { $0.contains("sha256:") }?.split(separator: "\"").dropFirst()
                .first
        )
        return (String(token), String(hash), made)
    }

    /// The identity `username` in the output of `tenure pull --format json`.
    static func pulledIdentity(_ username: String, from pulled: CLIRun) throws -> PullDocument.Identity {
        try #require(pulled.status == 0, "\(pulled)")
        let snapshot = try JSONDecoder().decode(PullDocument.self, from: Data(pulled.stdout.utf8))
        return try #require(snapshot.identities.first { $0.username == username })
    }

    static let evaluation =
        #"{"subject":{"type":"user","id":"kmueller"},"resource":{"type":"role","id":"dba-prod"},"action":{"name":"assume"}}"#

    /// A SCIM DELETE that waited `server.syncLockWaitSeconds` for a command-line sync answers 503
    /// with the user deleted; once the sync is over, the daemon's sweep settles the termination
    /// without the client's retry.
    @Test func aDeletionThatWaitedForACommandLineSyncIsSettledByTheSweep() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let hr = try Self.token("hr-system", scopes: "hr")
                let world = try SyncTests.World(
                    server: server,
                    directory: directory,
                    extra: """
                        server:
                          sweepIntervalSeconds: 1
                          syncLockWaitSeconds: 1
                          tokens:
                            - name: hr-system
                              sha256: "\(hr.sha256)"
                              scopes: [hr]

                        """
                )
                let first = try world.tenure(["sync"])
                try #require(first.status == 0, "\(first)")
                let rpatel = try Self.pulledIdentity("rpatel", from: try world.tenure(["pull", "--format", "json"]))

                let log = directory + "/serve.log"
                let (pid, port) = try await ServeCommandTests.serve(world, log: log)
                var running = true
                defer { if running { kill(pid, SIGKILL) } }
                let base = "http://127.0.0.1:\(port)/scim/v2/Users"
                let created = try Self.request(
                    "POST",
                    base,
                    token: hr.token,
                    body:
                        #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"rpatel","externalId":"\#(rpatel.id)"}"#
                )
                try #require(created.status == 201, "\(created)")
                let id = try #require(Self.json(created.body)?["id"] as? String)

                // A command-line sync holds the lock: flock(1) on the file `tenure sync` locks.
                let lock = world.database + ".lock"
                let holder = try spawn("/usr/bin/flock", ["-o", lock, "sleep", "60"])
                var holding = true
                defer { if holding { kill(-holder, SIGKILL) } }
                for _ in 0..<100 where try run("/usr/bin/flock", ["-n", lock, "true"]).status == 0 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let refused = try Self.request("DELETE", "\(base)/\(id)", token: hr.token)
                #expect(refused.status == 503, "\(refused)")
                kill(-holder, SIGKILL)
                _ = waitForExit(holder, within: .seconds(10))
                holding = false

                // No retry: the sweep (every second) settles it.
                var audit = ""
                for _ in 0..<100 {
                    audit = try world.tenure(["audit", "export", "--format", "jsonl"]).stdout
                    if audit.contains("offboarding.completed") { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let records = audit.split(separator: "\n").compactMap { Self.json(String($0)) }
                let terminations = records.filter { $0["type"] as? String == "hr.termination" }
                #expect(terminations.count == 1, "\(audit)")
                #expect(terminations.first?["actor"] as? String == "tenure:hr-settle")
                #expect(records.contains { $0["type"] as? String == "offboarding.completed" }, "\(audit)")

                kill(pid, SIGTERM)
                let status = waitForExit(pid, within: .seconds(60))
                running = false
                #expect(status == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
        }
    }

    @Test func anEntraPatchDeactivatingADBAOffboardsBeforeTheResponse() async throws {
        let initial = "Initial-\(UUID().uuidString)"
        let service = """
            dn: \(WriteBackCommandTests.account)
            objectClass: organizationalRole
            objectClass: simpleSecurityObject
            cn: db-prod-root
            userPassword: \(initial)

            """
        try await withSlapd(data: Sample.ldif + "\n\n" + service) { server in
            try await withTemporaryDirectoryAsync { directory in
                let hr = try Self.token("hr-system", scopes: "hr")
                let gateway = try Self.token("gateway", scopes: "check")
                let world = try SyncTests.World(
                    server: server,
                    directory: directory,
                    mappings: WriteBackCommandTests.mappings,
                    vault: true,
                    writeBack: true,
                    extra: """
                        server:
                          tokens:
                            - name: hr-system
                              sha256: "\(hr.sha256)"
                              scopes: [hr]
                            - name: gateway
                              sha256: "\(gateway.sha256)"
                              scopes: [check]

                        """
                )
                var outputs: [CLIRun] = [hr.run, gateway.run]
                var bodies: [String] = []
                func tenure(_ arguments: [String]) throws -> CLIRun {
                    let result = try world.tenure(arguments)
                    outputs.append(result)
                    return result
                }
                func request(_ method: String, _ url: String, token: String, body: String? = nil) throws
                    -> HTTPExchange
                {
                    let exchange = try Self.request(method, url, token: token, body: body)
                    bodies.append(exchange.body)
                    return exchange
                }

                #expect(try tenure(["vault", "init"]).status == 0)
                let secretFile = try write(initial + "\n", to: "initial.secret", in: directory)
                chmod(secretFile, 0o600)
                let added = try tenure([
                    "vault", "add", "db-prod-root", "--ldap-account", WriteBackCommandTests.account, "--secret-file",
                    secretFile,
                ])
                #expect(added.status == 0, "\(added)")

                // One sync: kmueller, a DBA, holds dba-prod standing and is written into its group.
                let first = try tenure(["sync"])
                try #require(first.status == 0, "\(first)")
                #expect(try WriteBackCommandTests.members(server, WriteBackCommandTests.dbaGroup).contains("kmueller"))
                let kmueller = try Self.pulledIdentity("kmueller", from: try tenure(["pull", "--format", "json"]))

                let log = directory + "/serve.log"
                var (pid, port) = try await ServeCommandTests.serve(world, log: log)
                var running = true
                defer { if running { kill(pid, SIGKILL) } }
                let base = "http://127.0.0.1:\(port)"

                // Before: the DBA may assume dba-prod.
                let allowed = try request(
                    "POST",
                    "\(base)/access/v1/evaluation",
                    token: gateway.token,
                    body: Self.evaluation
                )
                #expect(allowed.status == 200 && allowed.body.contains("\"decision\":true"), "\(allowed)")

                // HR creates the user, linked by externalId = the entryUUID: nothing is offboarded.
                let created = try request(
                    "POST",
                    "\(base)/scim/v2/Users",
                    token: hr.token,
                    body: """
                        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"kmueller",\
                        "externalId":"\(kmueller.id)","active":true,"name":{"givenName":"Katrin","familyName":"Müller"}}
                        """
                )
                try #require(created.status == 201, "\(created)")
                let hrID = try #require(Self.json(created.body)?["id"] as? String, "\(created)")
                #expect(try WriteBackCommandTests.members(server, WriteBackCommandTests.dbaGroup).contains("kmueller"))
                #expect(try WriteBackCommandTests.binds(server, initial, in: directory))

                // Entra deactivates her (the boolean as the string "False"). When the 200 arrives,
                // everything is done: no waiting, no polling.
                let patched = try request(
                    "PATCH",
                    "\(base)/scim/v2/Users/\(hrID)",
                    token: hr.token,
                    body: """
                        {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],\
                        "Operations":[{"op":"Replace","path":"active","value":"False"}]}
                        """
                )
                #expect(patched.status == 200, "\(patched)")
                #expect(Self.json(patched.body)?["active"] as? Bool == false, "\(patched)")
                #expect(try !WriteBackCommandTests.members(server, WriteBackCommandTests.dbaGroup).contains("kmueller"))
                #expect(try !WriteBackCommandTests.binds(server, initial, in: directory))
                let shown = try tenure(["vault", "show", "db-prod-root"])
                #expect(shown.status == 0, "\(shown)")
                #expect(shown.stdout.contains("v2  current"), "\(shown.stdout)")
                #expect(shown.stdout.contains("v1  retired"), "\(shown.stdout)")
                let store = try world.store()
                let versions = try await store.versions(of: "db-prod-root")
                let current = try #require(versions.first { $0.state == .current })
                #expect(current.version == 2)
                let key = try MasterKey.load(path: directory + "/vault.key")
                let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(current.sealed.utf8))
                let rotated = String(decoding: try Envelope.open(sealed, masterKey: key), as: UTF8.self)
                #expect(try WriteBackCommandTests.binds(server, rotated, in: directory))

                // The decision now: denied, the identity inactive.
                let denied = try request(
                    "POST",
                    "\(base)/access/v1/evaluation",
                    token: gateway.token,
                    body: Self.evaluation
                )
                #expect(denied.status == 200, "\(denied)")
                #expect(denied.body.contains("\"decision\":false"), "\(denied)")
                #expect(denied.body.contains("identity_inactive"), "\(denied)")

                // SIGTERM: a clean stop with the audit written.
                func stop() {
                    kill(pid, SIGTERM)
                    let status = waitForExit(pid, within: .seconds(60))
                    running = false
                    #expect(
                        status == 0,
                        """
                        exit status \(status.map(String.init) ?? "none: it did not stop within 60 s and was killed"): \
                        \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
                        """
                    )
                }
                stop()
                let audit = try tenure(["audit", "export", "--format", "jsonl"])
                #expect(audit.status == 0, "\(audit)")
                let records = audit.stdout.split(separator: "\n").compactMap { Self.json(String($0)) }
                func has(_ type: String, _ outcome: String? = nil, object: String? = nil) -> Bool {
                    records.contains {
                        $0["type"] as? String == type && $0["subject"] as? String == kmueller.id
                            && (outcome == nil || $0["outcome"] as? String == outcome)
                            && (object == nil || $0["object"] as? String == object)
                    }
                }
                #expect(has("hr.termination", object: hrID))
                #expect(has("offboarding.completed", "success"))
                #expect(has("role.revoked", "success", object: "dba-prod"))
                #expect(has("writeback.remove", "success", object: "dba-prod"))
                #expect(has("credential.rotate", "success", object: "db-prod-root"))
                let failures = records.filter { $0["outcome"] as? String == "failure" }
                #expect(failures.isEmpty, "\(failures)")
                let verified = try tenure(["audit", "verify"])
                #expect(verified.status == 0, "\(verified)")

                // The directory still shows her enabled; a sync keeps her a leaver and grants nothing.
                let again = try tenure(["pull", "--format", "json"])
                let still = try JSONDecoder().decode(PullDocument.self, from: Data(again.stdout.utf8))
                #expect(still.identities.first { $0.id == kmueller.id }?.disabled == false)
                let later = try tenure(["sync"])
                #expect(later.status == 0, "\(later)")
                #expect(!later.stdout.contains("joiner  kmueller"), "\(later.stdout)")
                #expect(!later.stdout.contains("+ add to write-back group"), "\(later.stdout)")
                let state = try await store.loadState()
                #expect(
                    state.identities[kmueller.id]?.state != .active,
                    "\(String(describing: state.identities[kmueller.id]))"
                )
                #expect(!state.assignments.contains { $0.identityID == kmueller.id })
                #expect(try !WriteBackCommandTests.members(server, WriteBackCommandTests.dbaGroup).contains("kmueller"))
                #expect(try (await store.versions(of: "db-prod-root")).count == 2, "no second rotation")

                // A restarted server (its index rebuilt from the store) still denies.
                (pid, port) = try await ServeCommandTests.serve(world, log: log + ".2")
                running = true
                let deniedAgain = try request(
                    "POST",
                    "http://127.0.0.1:\(port)/access/v1/evaluation",
                    token: gateway.token,
                    body: Self.evaluation
                )
                #expect(deniedAgain.body.contains("\"decision\":false"), "\(deniedAgain)")
                #expect(deniedAgain.body.contains("identity_inactive"), "\(deniedAgain)")
                stop()
                #expect(try tenure(["audit", "verify"]).status == 0)

                // No secret and no token in any output, log, response or the audit.
                let logs = try [log, log + ".2"].map { try String(contentsOfFile: $0, encoding: .utf8) }
                let writer = try String(contentsOfFile: server.writerPasswordFile, encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let texts = outputs.dropFirst(2).map(\.allOutput) + bodies + logs
                for secret in [initial, rotated, writer, server.readerPassword, hr.token, gateway.token] {
                    #expect(!secret.isEmpty)
                    for (index, text) in texts.enumerated() {
                        #expect(!text.contains(secret), "a secret leaked by output #\(index)")
                    }
                }
            }
        }
    }
}
