import DirectorySource
import Foundation
import LDAPClient
import SlapdFixture
import TenureConfig
import TenureCore
import Testing

/// Pulls against a real slapd: attributes, nesting, disabled rules, big groups, hostile names.
@Suite(.timeLimit(.minutes(5)))
struct PullTests {
    static let suffix = "dc=tenure,dc=test"

    @Test func usersAndGroupsArePulledWithTheirAttributes() async throws {
        let s = Self.suffix
        let data =
            LDIF.person(
                "alice",
                suffix: s,
                extra: [
                    ("mail", "alice@tenure.test"), ("displayName", "Alice Ng"), ("employeeNumber", "E100"),
                    ("departmentNumber", "Database"), ("title", "Senior DBA"), ("employeeType", "employee"),
                    ("manager", "uid=bob,ou=people,\(s)"), ("roomNumber", "4.12"),
                ]
            )
            + LDIF.person("bob", suffix: s, extra: [("title", "Head of Data")])
            + LDIF.person("carol", suffix: s)
            + LDIF.group("dba", suffix: s, members: ["uid=alice,ou=people,\(s)"])
            + LDIF.entry(
                "cn=auditors,ou=groups,\(s)",
                [
                    ("objectClass", "groupOfUniqueNames"), ("cn", "auditors"),
                    ("uniqueMember", "uid=carol,ou=people,\(s)#'0101'B"),
                    ("uniqueMember", "UID=Bob, OU=People, DC=Tenure, DC=Test"),
                ]
            )
            + LDIF.entry(
                "cn=unix-admins,ou=groups,\(s)",
                [
                    ("objectClass", "posixGroup"), ("cn", "unix-admins"), ("gidNumber", "5000"), ("memberUid", "alice"),
                    ("memberUid", "CAROL"), ("memberUid", "nobody"),
                ]
            )
        try await withSlapd(data: data) { server in
            let configuration = try testConfiguration(server, users: "  extraAttributes: [roomNumber]")
            let result = try await pull(configuration)
            let snapshot = result.snapshot
            #expect(result.server == server.url)
            #expect(snapshot.identities.count == 3)
            let alice = try #require(snapshot.identity(username: "alice"))
            #expect(alice.mail == "alice@tenure.test")
            #expect(alice.displayName == "Alice Ng")
            #expect(alice.employeeNumber == "E100")
            #expect(alice.department == "Database")
            #expect(alice.title == "Senior DBA")
            #expect(alice.employeeType == "employee")
            #expect(alice.attributes["roomnumber"] == ["4.12"])
            #expect(alice.disabled == false)
            let bob = try #require(snapshot.identity(username: "bob"))
            #expect(alice.managerID == bob.id)

            // The stable id is the server's entryUUID, canonical (lowercase).
            let connection = try await readerConnection(server)
            let entry = try #require(try await connection.read("uid=alice,ou=people,\(s)", attributes: ["entryUUID"]))
            await connection.close()
            #expect(alice.id == entry.string("entryUUID")!.lowercased())
            #expect(alice.id.count == 36)

            #expect(snapshot.usernames(try #require(snapshot.group(named: "dba")).transitiveMembers) == ["alice"])
            let auditors = try #require(snapshot.group(named: "auditors"))
            #expect(snapshot.usernames(auditors.directMembers) == ["bob", "carol"])
            let unix = try #require(snapshot.group(named: "unix-admins"))
            #expect(snapshot.usernames(unix.directMembers) == ["alice", "carol"])
            #expect(unix.unresolvedMembers == ["nobody"])
        }
    }

    @Test func nestedGroupsAndACycle() async throws {
        let s = Self.suffix
        let people = ["ann", "ben", "cat", "dan"].map { LDIF.person($0, suffix: s) }.joined()
        let member = { (uid: String) in "uid=\(uid),ou=people,\(s)" }
        let group = { (cn: String) in "cn=\(cn),ou=groups,\(s)" }
        // platform ∋ {dba, sre}; dba ∋ ann; sre ∋ ben + oncall; oncall ∋ cat + sre (cycle sre ⇄ oncall).
        let data =
            people
            + LDIF.group("dba", suffix: s, members: [member("ann")])
            + LDIF.group("sre", suffix: s, members: [member("ben")])
            + LDIF.group("oncall", suffix: s, members: [member("cat"), group("sre")])
            + LDIF.group("platform", suffix: s, members: [group("dba"), group("sre"), member("dan")])
        try await withSlapd(data: data) { server in
            try server.modify(
                """
                dn: \(group("sre"))
                changetype: modify
                add: member
                member: \(group("oncall"))

                """
            )
            let snapshot = try await pull(try testConfiguration(server)).snapshot
            let platform = try #require(snapshot.group(named: "platform"))
            #expect(snapshot.usernames(platform.transitiveMembers) == ["ann", "ben", "cat", "dan"])
            #expect(snapshot.usernames(platform.directMembers) == ["dan"])
            #expect(platform.directGroups.count == 2)
            for name in ["sre", "oncall"] {
                #expect(snapshot.usernames(snapshot.group(named: name)!.transitiveMembers) == ["ben", "cat"])
            }
            #expect(snapshot.cycles == [[group("oncall"), group("sre")]])

            // With nesting off, groups hold only their direct people.
            let flat = try await pull(try testConfiguration(server, groups: "  nested: false")).snapshot
            #expect(snapshot.usernames(flat.group(named: "platform")!.transitiveMembers) == ["dan"])
            #expect(flat.cycles.isEmpty)
        }
    }

    @Test func disabledByEveryRuleOpenLDAPCanExpress() async throws {
        let s = Self.suffix
        let now = Date().timeIntervalSince1970
        let past = String(Int64((now - 86_400) * 10_000_000) + 116_444_736_000_000_000)
        let future = String(Int64((now + 86_400 * 30) * 10_000_000) + 116_444_736_000_000_000)
        let aux = ("objectClass", "tenureTestAccount")
        let data =
            LDIF.entry("ou=disabled,ou=people,\(s)", [("objectClass", "organizationalUnit"), ("ou", "disabled")])
            + LDIF.person(
                "active",
                suffix: s,
                extra: [aux, ("userAccountControl", "512"), ("accountExpires", future), ("nsAccountLock", "false")]
            )
            + LDIF.person("uac", suffix: s, extra: [aux, ("userAccountControl", "514")])
            + LDIF.person("expired", suffix: s, extra: [aux, ("accountExpires", past)])
            + LDIF.person("nslocked", suffix: s, extra: [aux, ("nsAccountLock", "TRUE")])
            + LDIF.person("terminated", suffix: s, extra: [("employeeType", "terminated")])
            + LDIF.person("moved", suffix: s, ou: "ou=disabled,ou=people")
            + LDIF.person("ppolicy", suffix: s)
            + LDIF.person("tempLocked", suffix: s)
        try await withSlapd(data: data) { server in
            // pwdAccountLockedTime is operational: only the administrator with Relax may set it.
            try server.modify(
                """
                dn: uid=ppolicy,ou=people,\(s)
                changetype: modify
                add: pwdAccountLockedTime
                pwdAccountLockedTime: 000001010000Z

                dn: uid=tempLocked,ou=people,\(s)
                changetype: modify
                add: pwdAccountLockedTime
                pwdAccountLockedTime: 20260101120000Z

                """
            )
            let configuration = try testConfiguration(
                server,
                users: """
                      disabled:
                        - rule: userAccountControl
                        - rule: accountExpires
                        - rule: pwdAccountLockedTime
                        - rule: nsAccountLock
                        - rule: attributeEquals
                          attribute: employeeType
                          value: Terminated
                        - rule: underDN
                          dn: "OU=Disabled, ou=People,\(s)"
                    """
            )
            let snapshot = try await pull(configuration).snapshot
            let expected: [String: String] = [
                "uac": "userAccountControl", "expired": "accountExpires", "nslocked": "nsAccountLock",
                "terminated": "employeeType", "moved": "under", "ppolicy": "pwdAccountLockedTime",
            ]
            #expect(snapshot.identities.count == 8)
            for identity in snapshot.identities {
                let username = try #require(identity.username)
                if let reason = expected[username] {
                    #expect(identity.disabled, "\(username) should be disabled")
                    #expect(identity.disabledReasons.count == 1)
                    #expect(
                        identity.disabledReasons.first?.contains(reason) == true,
                        "\(username): \(identity.disabledReasons)"
                    )
                } else {
                    #expect(!identity.disabled, "\(username) should be active: \(identity.disabledReasons)")
                }
            }
            #expect(snapshot.disabledCount == 6)
        }
    }

    @Test func aGroupOfTwentyThousandMembersIsReadWhole() async throws {
        let s = Self.suffix
        let count = 20_000
        var bulk = ""
        bulk.reserveCapacity(count * 200)
        for index in 0..<count {
            bulk +=
                "dn: uid=u\(index),ou=people,\(s)\nobjectClass: inetOrgPerson\nuid: u\(index)\ncn: U\(index)\nsn: u\(index)\n\n"
        }
        bulk += "dn: cn=everyone,ou=groups,\(s)\nobjectClass: groupOfNames\ncn: everyone\n"
        for index in 0..<count {
            bulk += "member: uid=u\(index),ou=people,\(s)\n"
        }
        bulk += "\n"
        try await withSlapd(bulk: bulk) { server in
            let result = try await pull(try testConfiguration(server, pageSize: 500))
            let everyone = try #require(result.snapshot.group(named: "everyone"))
            #expect(result.snapshot.identities.count == count)
            #expect(everyone.directMembers.count == count)
            #expect(everyone.transitiveMembers.count == count)
            #expect(everyone.unresolvedMembers.isEmpty)
        }
    }

    /// Entry names made of the characters RFC 4514 and RFC 4515 treat specially, and non-ASCII.
    static let hostileNames = [
        "star*", "(paren", "paren)", "back\\slash", "comma, Jr.", "plus+sign", "equals=sign", "#hash",
        " leading space", "trailing space ", "quote\"d", "semi;colon", "less<more>", "Łukasz Żółć", "日本語", "🔐 vault",
        "*",
    ]

    @Test func hostileNamesAreEscapedInDNsAndFilters() async throws {
        let s = Self.suffix
        var data = ""
        var dns: [String] = []
        for name in Self.hostileNames {
            let dn = "cn=\(DN.escapeValue(name)),ou=people,\(s)"
            dns.append(dn)
            data += LDIF.entry(
                dn,
                [("objectClass", "inetOrgPerson"), ("cn", name), ("sn", "x"), ("uid", "h\(dns.count)")]
            )
        }
        data += LDIF.group("hostile", suffix: s, members: dns)
        try await withSlapd(data: data) { server in
            let connection = try await readerConnection(server)
            for (name, dn) in zip(Self.hostileNames, dns) {
                // Read back by the escaped DN.
                let entry = try #require(try await connection.read(dn, attributes: ["cn"]), "no entry at \(dn)")
                #expect(entry.strings("cn") == [name])
                // Find by an escaped filter: exactly this entry, never a wildcard match.
                let request = LDAPSearchRequest(
                    base: "ou=people,\(s)",
                    filter: LDAPFilter.equality("cn", name),
                    attributes: ["cn"]
                )
                let found = try await connection.search(request, visitor: CollectingVisitor()).entries
                #expect(found.count == 1, "filter for \(name.debugDescription) matched \(found.count)")
                #expect(
                    try found.first.map { try DistinguishedName(parsing: $0.dn) }
                        == (try DistinguishedName(parsing: dn))
                )
            }
            // A NUL in an assertion value is escaped, not a truncated (or wildcard) filter.
            let nul = LDAPSearchRequest(base: "ou=people,\(s)", filter: LDAPFilter.equality("cn", "star\u{0}*"))
            #expect(try await connection.search(nul, visitor: CollectingVisitor()).entries.isEmpty)
            await connection.close()

            // The server's DNs and the group's member values (written differently) meet.
            let snapshot = try await pull(try testConfiguration(server)).snapshot
            let group = try #require(snapshot.group(named: "hostile"))
            #expect(group.directMembers.count == Self.hostileNames.count)
            #expect(group.unresolvedMembers.isEmpty)
        }
    }

    @Test func binaryObjectGUIDIsTheStableIDAndFiltersWithNULWork() async throws {
        let s = Self.suffix
        // {3F2504E0-4F89-11D3-9A0C-0305E82C3301} as AD stores it, and a GUID full of NUL bytes.
        let guid: [UInt8] = [
            0xE0, 0x04, 0x25, 0x3F, 0x89, 0x4F, 0xD3, 0x11, 0x9A, 0x0C, 0x03, 0x05, 0xE8, 0x2C, 0x33, 0x01,
        ]
        let zeros: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2A, 0x28, 0x29, 0x5C]
        let data =
            LDIF.entry(
                "uid=ad1,ou=people,\(s)",
                [
                    ("objectClass", "inetOrgPerson"), ("objectClass", "tenureTestAccount"), ("uid", "ad1"),
                    ("cn", "AD One"), ("sn", "one"),
                ],
                binary: [("objectGUID", guid)]
            )
            + LDIF.entry(
                "uid=ad2,ou=people,\(s)",
                [
                    ("objectClass", "inetOrgPerson"), ("objectClass", "tenureTestAccount"), ("uid", "ad2"),
                    ("cn", "AD Two"), ("sn", "two"),
                ],
                binary: [("objectGUID", zeros)]
            )
        try await withSlapd(data: data) { server in
            let configuration = try testConfiguration(
                server,
                users: """
                      filter: "(objectClass=tenureTestAccount)"
                      attributes:
                        id: objectGUID
                    """
            )
            let snapshot = try await pull(configuration).snapshot
            #expect(snapshot.identity(username: "ad1")?.id == "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
            #expect(snapshot.identity(username: "ad2")?.id == "00000000-0000-0000-0000-00002a28295c")

            let connection = try await readerConnection(server)
            let request = LDAPSearchRequest(
                base: "ou=people,\(s)",
                filter: "(objectGUID=\(LDAPFilter.escape(bytes: zeros)))",
                attributes: ["uid"]
            )
            let found = try await connection.search(request, visitor: CollectingVisitor()).entries
            await connection.close()
            #expect(found.map { $0.string("uid") } == ["ad2"])
        }
    }
}
