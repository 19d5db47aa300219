import DirectorySource
import Foundation
import LDAPClient
import SlapdFixture
import TenureConfig
import TenureCore
import Testing

/// Directory data nobody on this project wrote (../shared/data/public-ldif, see its SOURCES.md),
/// loaded into slapd and pulled. Expected values are computed from the LDIF itself, independently
/// of the code under test.
@Suite(.timeLimit(.minutes(5)))
struct PublicLDIFTests {
    private func load(_ name: String) throws -> [(dn: String, attributes: [(String, String)])] {
        let url = publicLDIFDirectory.appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        return LDIF.parse(text)
    }

    /// Drops the entries the test server creates itself and the attributes OpenLDAP lacks, keeps the
    /// first of repeated DNs, and writes the rest back as LDIF.
    private func prepare(
        _ records: [(dn: String, attributes: [(String, String)])],
        suffix: String,
        dropAttributes: Set<String> = [],
        fix: ((inout [(String, String)]) -> Void)? = nil
    ) throws -> (ldif: String, kept: [(dn: String, attributes: [(String, String)])]) {
        let created = try Set(
            [suffix, "ou=people,\(suffix)", "ou=groups,\(suffix)", "ou=services,\(suffix)", "ou=policies,\(suffix)"]
                .map { try DistinguishedName(parsing: $0) }
        )
        var seen = Set<DistinguishedName>()
        var kept: [(dn: String, attributes: [(String, String)])] = []
        var ldif = ""
        for record in records {
            let dn = try DistinguishedName(parsing: record.dn)
            guard !created.contains(dn), seen.insert(dn).inserted else { continue }
            // Empty values (`userPassword: ` in the NIS sample) are not valid for their syntaxes.
            // Repeated values (`cn` twice in the NIS sample) are rejected by slapd: keep the first.
            var seenValues = Set<String>()
            var attributes = record.attributes.filter {
                !dropAttributes.contains($0.0.lowercased()) && !$0.1.isEmpty
                    && seenValues.insert("\($0.0.lowercased())\u{0}\($0.1.lowercased())").inserted
            }
            fix?(&attributes)
            kept.append((record.dn, attributes))
            ldif += LDIF.entry(record.dn, attributes)
        }
        return (ldif, kept)
    }

    private func values(_ record: (dn: String, attributes: [(String, String)]), _ name: String) -> [String] {
        record.attributes.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    private func isA(_ record: (dn: String, attributes: [(String, String)]), _ objectClass: String) -> Bool {
        self.values(record, "objectClass").contains { $0.lowercased() == objectClass.lowercased() }
    }

    /// 389-DS's classic example: DNs written with spaces after commas, groupOfUniqueNames, managers.
    @Test func the389DSExampleDirectory() async throws {
        let suffix = "dc=example,dc=com"
        let records = try self.load("389ds-Example.ldif")
        let (ldif, kept) = try self.prepare(
            records,
            suffix: suffix,
            dropAttributes: ["aci", "nssizelimit", "nstimelimit", "nslookthroughlimit", "nsidletimeout"]
        )
        let people = kept.filter { self.isA($0, "inetOrgPerson") }
        let groups = kept.filter { self.isA($0, "groupOfUniqueNames") }
        try #require(people.count == 150)
        try await withSlapd(data: ldif, suffix: suffix) { server in
            let configuration = try testConfiguration(
                server,
                userBaseDNs: [suffix],
                groupBaseDNs: [suffix],
                users: "  filter: \"(objectClass=inetOrgPerson)\""
            )
            let snapshot = try await pull(configuration).snapshot
            #expect(snapshot.identities.count == people.count)
            #expect(snapshot.groups.count == groups.count)
            for record in groups {
                let name = try #require(self.values(record, "cn").first)
                let group = try #require(snapshot.group(named: name), "group \(name) missing")
                let expected = self.values(record, "uniqueMember").compactMap { member in
                    people.first {
                        (try? DistinguishedName(parsing: $0.dn)) == (try? DistinguishedName(parsing: member))
                    }
                    .flatMap { self.values($0, "uid").first }
                }
                #expect(snapshot.usernames(group.transitiveMembers) == expected.sorted(), "\(name)")
                #expect(group.unresolvedMembers.isEmpty, "\(name): \(group.unresolvedMembers)")
            }
            // Manager chains: every manager value that names a person resolves to their id.
            let withManager = people.filter { !self.values($0, "manager").isEmpty }
            #expect(!withManager.isEmpty)
            for record in withManager {
                let uid = try #require(self.values(record, "uid").first)
                let identity = try #require(snapshot.identity(username: uid))
                #expect(identity.managerID != nil, "\(uid)'s manager did not resolve")
            }
        }
    }

    /// OpenLDAP's NIS sample: posixAccount / posixGroup with memberUid, repeated DNs, accounts
    /// without cn, and more than a thousand entries of other kinds around them.
    @Test func theOpenLDAPNISSample() async throws {
        let suffix = "o=SGI,c=US"
        let records = try self.load("openldap-nis_sample.ldif")
        // Loaded as SOURCES.md says: slapadd without schema checks (accounts without cn, protocols
        // without description), repeated DNs kept once.
        let (ldif, kept) = try self.prepare(records, suffix: suffix)
        let accounts = kept.filter { self.isA($0, "posixAccount") }
        let groups = kept.filter { self.isA($0, "posixGroup") }
        let uids = Set(accounts.compactMap { self.values($0, "uid").first })
        try #require(accounts.count > 20 && groups.count > 10)
        try await withSlapd(bulkUnchecked: ldif, suffix: suffix) { server in
            let configuration = try testConfiguration(
                server,
                userBaseDNs: [suffix],
                groupBaseDNs: [suffix],
                users: "  filter: \"(objectClass=posixAccount)\"",
                groups: "  filter: \"(objectClass=posixGroup)\""
            )
            let snapshot = try await pull(configuration).snapshot
            #expect(snapshot.identities.count == accounts.count)
            #expect(snapshot.groups.count == groups.count)
            for record in groups {
                let name = try #require(self.values(record, "cn").first)
                let group = try #require(snapshot.group(named: name))
                let members = self.values(record, "memberUid")
                #expect(
                    snapshot.usernames(group.directMembers) == Set(members.filter(uids.contains)).sorted(),
                    "\(name)"
                )
                #expect(group.unresolvedMembers.sorted() == members.filter { !uids.contains($0) }.sorted(), "\(name)")
            }
        }
    }
}
