import Foundation
import LDAPClient
import Logging
import SlapdFixture
import Testing

/// LDAP writes the write-back and rotation executors build on, against a real slapd.
@Suite(.timeLimit(.minutes(5)))
struct WriteTests {
    static let suffix = "dc=tenure,dc=test"

    private func admin(_ server: SlapdServer) async throws -> LDAPConnection {
        let password = try String(contentsOfFile: server.adminPasswordFile, encoding: .utf8)
            .trimmingCharacters(in: .newlines)
        var logger = Logger(label: "tenure.tests")
        logger.logLevel = .critical
        return try await LDAPConnection.connect(
            options: LDAPConnectionOptions(
                urls: [server.url],
                bind: .simple(dn: server.adminDN, password: LDAPSecret(password))
            ),
            logger: logger
        )
    }

    @Test func groupMembershipWritesAreIdempotent() async throws {
        let s = Self.suffix
        let data =
            LDIF.person("ann", suffix: s) + LDIF.person("ben", suffix: s)
            + LDIF.group("dba-prod", suffix: s, members: ["uid=ann,ou=people,\(s)"])
        try await withSlapd(data: data) { server in
            let connection = try await self.admin(server)
            let group = "cn=dba-prod,ou=groups,\(s)"
            let ben = "uid=ben,ou=people,\(s)"
            #expect(try await connection.addValues(group, attribute: "member", [ben, "uid=ann,ou=people,\(s)"]) == 1)
            #expect(try await connection.addValues(group, attribute: "member", [ben]) == 0)  // already there
            var members = try await connection.read(group, attributes: ["member"])?.strings("member") ?? []
            #expect(Set(members) == ["uid=ann,ou=people,\(s)", ben])
            #expect(try await connection.removeValues(group, attribute: "member", [ben]) == 1)
            #expect(try await connection.removeValues(group, attribute: "member", [ben]) == 0)  // already gone
            members = try await connection.read(group, attributes: ["member"])?.strings("member") ?? []
            #expect(members == ["uid=ann,ou=people,\(s)"])

            // Other errors are errors, naming the entry.
            do {
                try await connection.modify(
                    "cn=nothere,ou=groups,\(s)",
                    [LDAPModification(.add, "member", strings: [ben])]
                )
                Issue.record("modifying a missing entry succeeded")
            } catch let error as LDAPError {
                #expect(error.code == .noSuchObject)
                #expect(error.description.contains("cn=nothere"))
            }
            await connection.close()
        }
    }

    @Test func passwordModifyChangesWhatBindsAccept() async throws {
        let s = Self.suffix
        let account = "cn=svc-db,ou=services,\(s)"
        let data = LDIF.entry(
            account,
            [
                ("objectClass", "organizationalRole"), ("objectClass", "simpleSecurityObject"), ("cn", "svc-db"),
                ("userPassword", "Initial-Passw0rd"),
            ]
        )
        try await withSlapd(data: data) { server in
            let connection = try await self.admin(server)
            let old = LDAPSecret("Initial-Passw0rd")
            let new = LDAPSecret("N3w-\(UUID().uuidString)")
            #expect(try await connection.canBind(account, password: old))
            try await connection.changePassword(of: account, to: new)
            #expect(try await connection.canBind(account, password: new))
            #expect(try await !connection.canBind(account, password: old))
            // The server stored a hash, not the password.
            let stored = try await connection.read(account, attributes: ["userPassword"])?.string("userPassword")
            #expect(stored?.hasPrefix("{") == true)
            #expect(stored?.contains("N3w-") == false)
            // A missing entry is an error naming it, never echoing the password.
            do {
                try await connection.changePassword(of: "cn=ghost,ou=services,\(s)", to: new)
                Issue.record("changing a missing entry's password succeeded")
            } catch let error as LDAPError {
                #expect(error.operation == .passwordModify)
                #expect(!error.description.contains("N3w-"))
            }
            await connection.close()
        }
    }
}
