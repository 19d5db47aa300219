import Foundation
import SlapdFixture
import TenureCore
import TenureStore
import TenureVault
import Testing

/// Write-back, drift and leaver rotation through the binary, against slapd: Tenure writes the
/// privileged groups as its writer account, never mistakes its own writes for drift or movers,
/// handles drift by each role's policy, and a DBA who leaves loses the group and the DBA service
/// account's password.
@Suite(.timeLimit(.minutes(5)))
struct WriteBackCommandTests {
    static let dbaGroup = "cn=dba-prod,ou=privileged,ou=groups,dc=tenure,dc=test"
    static let auditorGroup = "cn=auditor,ou=privileged,ou=groups,dc=tenure,dc=test"
    static let paymentsGroup = "cn=payments-operator,ou=privileged,ou=groups,dc=tenure,dc=test"
    static let account = "cn=db-prod-root,ou=services,dc=tenure,dc=test"
    static let placeholder = "cn=nobody,dc=tenure,dc=test"

    static let mappings = """
        roles:
          - name: dba-prod
            tier: 0
            mode: standing
            writeBackGroup: "\(dbaGroup)"
            credentials: [db-prod-root]
            drift: revert
          - name: auditor
            tier: 2
            mode: standing
            writeBackGroup: "\(auditorGroup)"
            drift: alert
          - name: payments-operator
            tier: 2
            mode: standing
            writeBackGroup: "\(paymentsGroup)"
            drift: adopt
        rules:
          - name: dbas
            when: {memberOf: dba}
            grant: dba-prod
          - name: analysts
            when: {attribute: title, equals: Security Analyst}
            grant: auditor
          - name: payroll
            when: {attribute: title, matches: "Payroll.*"}
            grant: payments-operator
        guard:
          maxLeavers: 500
          maxLeaverPercent: 50

        """

    /// The group's member values (lowercased uids or DNs), read with ldapsearch as the reader.
    static func members(_ server: SlapdServer, _ group: String) throws -> [String] {
        let output = try run(
            "/usr/bin/ldapsearch",
            [
                "-x", "-H", server.url, "-D", server.readerDN, "-y", server.readerPasswordFile, "-b", group, "-s",
                "base",
                "-LLL", "-o", "ldif-wrap=no", "member",
            ]
        )
        #expect(output.status == 0, "\(output)")
        return output.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("member: ") else { return nil }
            let dn = line.dropFirst("member: ".count).lowercased()
            return dn.hasPrefix("uid=") ? String(dn.dropFirst(4).prefix { $0 != "," }) : String(dn)
        }.sorted()
    }

    static func binds(_ server: SlapdServer, _ password: String, in directory: String) throws -> Bool {
        let file = try write(password, to: "probe-\(UUID().uuidString.prefix(6))", in: directory)
        chmod(file, 0o600)
        defer { unlink(file) }
        return try run("/usr/bin/ldapwhoami", ["-x", "-H", server.url, "-D", Self.account, "-y", file]).status == 0
    }

    @Test func aDBALeavesAndDriftIsHandledByPolicy() async throws {
        let initial = "Initial-\(UUID().uuidString)"
        let service = """
            dn: \(Self.account)
            objectClass: organizationalRole
            objectClass: simpleSecurityObject
            cn: db-prod-root
            userPassword: \(initial)

            """
        try await withSlapd(data: Sample.ldif + "\n\n" + service) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(
                    server: server,
                    directory: directory,
                    mappings: Self.mappings,
                    vault: true,
                    writeBack: true
                )
                var outputs: [CLIRun] = []
                func tenure(_ arguments: [String]) throws -> CLIRun {
                    let result = try world.tenure(arguments)
                    outputs.append(result)
                    return result
                }
                #expect(try tenure(["vault", "init"]).status == 0)
                let secretFile = try write(initial + "\n", to: "initial.secret", in: directory)
                let added = try tenure([
                    "vault", "add", "db-prod-root", "--ldap-account", Self.account, "--secret-file", secretFile,
                ])
                #expect(added.status == 0, "\(added)")

                // Before anything is applied, drift shows the hand-made members of the sample.
                let before = try tenure(["drift", "--format", "json"])
                #expect(before.status == 0, "\(before)")
                let document = try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any]
                let findings = try #require(document?["drift"] as? [[String: Any]])
                let summary = findings.map { "\($0["role"]!)/\($0["username"] ?? $0["member"]!)/\($0["resolution"]!)" }
                #expect(summary.sorted() == ["auditor/mchen/reported", "dba-prod/jokafor/removed"], "\(summary)")

                // First sync: holders written, the placeholder gone, revert removes jokafor, alert keeps mchen.
                let first = try tenure(["sync"])
                #expect(first.status == 0, "\(first)")
                #expect(first.stdout.contains("+ add to write-back group \(Self.dbaGroup)"))
                #expect(try Self.members(server, Self.dbaGroup) == ["hsato", "kmueller", "oadeyemi"])
                #expect(try Self.members(server, Self.auditorGroup) == ["mchen", "ykim"])
                #expect(try Self.members(server, Self.paymentsGroup) == ["aivanova"])

                // Tenure's own writes come back as neither movers nor drift; the alert stays reported.
                let quiet = try tenure(["plan", "--detailed-exitcode"])
                #expect(quiet.status == 0, "\(quiet)")
                #expect(quiet.stdout.contains("Plan: 0 joiner(s), 0 mover(s), 0 leaver(s)"), "\(quiet.stdout)")
                let drift = try tenure(["drift", "--detailed-exitcode"])
                #expect(drift.status == 2, "\(drift)")
                #expect(drift.stdout.contains("auditor  out-of-band  mchen"), "\(drift.stdout)")
                #expect(!drift.stdout.contains("new"), "recorded by the first sync: \(drift.stdout)")
                let csv = try tenure(["drift", "--format", "csv"])
                #expect(csv.stdout.hasPrefix("role,group,kind,member,username,identityID,resolution,since,detail\r\n"))
                #expect(
                    csv.stdout.contains("auditor,\"\(Self.auditorGroup)\",out-of-band,\"uid=mchen,"),
                    "\(csv.stdout)"
                )

                // Adopt: someone adds lwu to payments-operator by hand; the next sync gives him the role.
                try server.modify(
                    """
                    dn: \(Self.paymentsGroup)
                    changetype: modify
                    add: member
                    member: uid=lwu,ou=people,dc=tenure,dc=test

                    """
                )
                let adopted = try tenure(["sync"])
                #expect(adopted.status == 0, "\(adopted)")
                #expect(adopted.stdout.contains("+ adopt active payments-operator"))
                let store = try world.store()
                let state = try await store.loadState()
                let lwu = try #require(state.identities.values.first { $0.username == "lwu" })
                #expect(state.assignments.contains { $0.identityID == lwu.id && $0.source == "drift:adopt" })
                #expect(try Self.members(server, Self.paymentsGroup) == ["aivanova", "lwu"])

                // A DBA leaves: removed from the write-back group, the DBA account's password rotated.
                try server.modify(
                    """
                    dn: uid=kmueller,ou=people,dc=tenure,dc=test
                    changetype: modify
                    add: pwdAccountLockedTime
                    pwdAccountLockedTime: 000001010000Z

                    """
                )
                let planned = try tenure(["plan", "--format", "json", "--log-level", "debug"])
                #expect(planned.stdout.contains("\"rotateCredential\""), "\(planned)")
                let left = try tenure(["sync", "--log-level", "debug"])
                #expect(left.status == 0, "\(left)")
                #expect(left.stdout.contains("- leaver  kmueller"))
                #expect(left.stdout.contains("- remove from write-back group \(Self.dbaGroup)"))
                #expect(left.stdout.contains("! rotate credential db-prod-root"))
                #expect(try Self.members(server, Self.dbaGroup) == ["hsato", "oadeyemi"])
                #expect(try !Self.binds(server, initial, in: directory))
                let versions = try await store.versions(of: "db-prod-root")
                let current = try #require(versions.first { $0.state == .current })
                #expect(current.version == 2)
                let key = try MasterKey.load(path: directory + "/vault.key")
                let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(current.sealed.utf8))
                let rotated = String(decoding: try Envelope.open(sealed, masterKey: key), as: UTF8.self)
                #expect(try Self.binds(server, rotated, in: directory))

                // The last DBAs leave: the placeholder takes the last member's place.
                try server.modify(
                    """
                    dn: uid=oadeyemi,ou=people,dc=tenure,dc=test
                    changetype: modify
                    add: pwdAccountLockedTime
                    pwdAccountLockedTime: 000001010000Z

                    dn: uid=hsato,ou=people,dc=tenure,dc=test
                    changetype: modify
                    add: pwdAccountLockedTime
                    pwdAccountLockedTime: 000001010000Z

                    """
                )
                let emptied = try tenure(["sync"])
                #expect(emptied.status == 0, "\(emptied)")
                #expect(try Self.members(server, Self.dbaGroup) == [Self.placeholder])
                #expect(try tenure(["drift", "--format", "csv"]).stdout.contains(Self.placeholder) == false)

                // Everything audited, the chain intact.
                #expect(try tenure(["audit", "verify"]).status == 0)
                let audit = try tenure(["audit", "export", "--format", "jsonl"])
                let types = try audit.stdout.split(separator: "\n").map { line -> (String, String) in
                    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    return (object?["type"] as? String ?? "", object?["outcome"] as? String ?? "")
                }
                #expect(types.contains { $0 == ("writeback.add", "success") })
                #expect(types.contains { $0 == ("writeback.remove", "success") })
                #expect(types.contains { $0 == ("role.adopted", "success") })
                #expect(types.contains { $0 == ("drift.detected", "reported") })
                #expect(types.contains { $0 == ("drift.resolved", "resolved") })
                #expect(types.contains { $0 == ("credential.rotate", "success") })
                #expect(!types.contains { $0.1 == "failure" }, "\(types.filter { $0.1 == "failure" })")
                // Drift is audited when it appears (and when it goes), not on every run: mchen once
                // (reported by four syncs), lwu once (adopted), jokafor once (removed, then resolved).
                #expect(types.filter { $0 == ("drift.detected", "reported") }.count == 1)
                #expect(types.filter { $0 == ("drift.detected", "adopted") }.count == 1)
                #expect(types.filter { $0 == ("drift.detected", "removed") }.count == 1)

                // No secret in any output: the vault's old and new secret, the writer's and reader's passwords.
                let writer = try String(contentsOfFile: server.writerPasswordFile, encoding: .utf8)
                for secret in [initial, rotated, writer, server.readerPassword] {
                    for output in outputs {
                        #expect(
                            !output.allOutput.contains(secret),
                            "leaked by: tenure \(output.arguments.joined(separator: " "))"
                        )
                    }
                }
            }
        }
    }
}
