import Foundation
import Testing

@testable import TenureCore

/// Small directory fixtures: people p1…pN under ou=people, groups under ou=groups.
private func person(_ id: String, username: String? = nil) -> IdentityEntry {
    IdentityEntry(
        identity: Identity(id: id, dn: "uid=\(id),ou=people,dc=t", username: username ?? id),
        normalizedDN: "uid=\(id),ou=people,dc=t"
    )
}

private func group(_ id: String, people: [String] = [], groups: [String] = [], uids: [String] = []) -> GroupEntry {
    GroupEntry(
        id: id,
        dn: "cn=\(id),ou=groups,dc=t",
        normalizedDN: "cn=\(id),ou=groups,dc=t",
        name: id,
        memberDNs: people.map { "uid=\($0),ou=people,dc=t" } + groups.map { "cn=\($0),ou=groups,dc=t" },
        memberUsernames: uids
    )
}

@Suite struct SnapshotBuilderTests {
    private func build(_ people: [IdentityEntry], _ groups: [GroupEntry], nested: Bool = true) async throws
        -> DirectorySnapshot
    {
        // A stand-in for DN normalisation: lowercase, no spaces after commas; "not a dn" is not one.
        try await SnapshotBuilder.build(identities: people, groups: groups, nested: nested) { written in
            written.contains("=") ? written.lowercased().replacingOccurrences(of: ", ", with: ",") : nil
        }
    }

    private func members(_ snapshot: DirectorySnapshot, _ id: String) -> [String] {
        snapshot.groups.first { $0.id == id }!.transitiveMembers
    }

    @Test func directMembersResolveByDNAndUsername() async throws {
        let snapshot = try await self.build(
            [person("p1"), person("p2"), person("p3", username: "Carol")],
            [group("g1", people: ["p1"], uids: ["carol", "ghost"])]
        )
        let g1 = try #require(snapshot.groups.first)
        #expect(g1.directMembers == ["p1", "p3"])
        #expect(g1.transitiveMembers == ["p1", "p3"])
        #expect(g1.unresolvedMembers == ["ghost"])
    }

    @Test func nestedGroupsAreTransitive() async throws {
        // top ∋ mid ∋ leaf; top also has p1 directly.
        let snapshot = try await self.build(
            [person("p1"), person("p2"), person("p3")],
            [
                group("top", people: ["p1"], groups: ["mid"]),
                group("mid", people: ["p2"], groups: ["leaf"]),
                group("leaf", people: ["p3"]),
            ]
        )
        #expect(self.members(snapshot, "top") == ["p1", "p2", "p3"])
        #expect(self.members(snapshot, "mid") == ["p2", "p3"])
        #expect(self.members(snapshot, "leaf") == ["p3"])
        #expect(snapshot.groups.first { $0.id == "top" }!.directGroups == ["mid"])
        #expect(snapshot.cycles.isEmpty)
    }

    @Test func nestingOffKeepsGroupsFlat() async throws {
        let snapshot = try await self.build(
            [person("p1"), person("p2")],
            [group("top", people: ["p1"], groups: ["leaf"]), group("leaf", people: ["p2"])],
            nested: false
        )
        #expect(self.members(snapshot, "top") == ["p1"])
        #expect(snapshot.groups.first { $0.id == "top" }!.directGroups.isEmpty)
    }

    @Test func cyclesAreSafeReportedAndShareMembers() async throws {
        // a ∋ b ∋ c ∋ a, and d ∋ a; plus a self-loop e ∋ e.
        let snapshot = try await self.build(
            [person("p1"), person("p2"), person("p3"), person("p4")],
            [
                group("a", people: ["p1"], groups: ["b"]),
                group("b", people: ["p2"], groups: ["c"]),
                group("c", people: ["p3"], groups: ["a"]),
                group("d", people: ["p4"], groups: ["a"]),
                group("e", groups: ["e"]),
            ]
        )
        for id in ["a", "b", "c"] {
            #expect(self.members(snapshot, id) == ["p1", "p2", "p3"])
        }
        #expect(self.members(snapshot, "d") == ["p1", "p2", "p3", "p4"])
        #expect(self.members(snapshot, "e").isEmpty)
        #expect(
            snapshot.cycles == [
                ["cn=a,ou=groups,dc=t", "cn=b,ou=groups,dc=t", "cn=c,ou=groups,dc=t"],
                ["cn=e,ou=groups,dc=t"],
            ]
        )
        #expect(snapshot.warnings.contains { $0.contains("cycle") })
    }

    @Test func deepNestingDoesNotOverflowTheStack() async throws {
        // A chain of 20,000 groups: recursion would overflow; the iterative walk must not.
        let depth = 20_000
        var groups: [GroupEntry] = []
        for index in 0..<depth {
            groups.append(
                group(
                    "g\(index)",
                    people: index == depth - 1 ? ["p1"] : [],
                    groups: index < depth - 1 ? ["g\(index + 1)"] : []
                )
            )
        }
        let snapshot = try await self.build([person("p1")], groups)
        #expect(snapshot.groups.allSatisfy { $0.transitiveMembers == ["p1"] })
    }

    @Test func duplicateStableIDIsAnError() async {
        var twin = person("p1")
        twin.normalizedDN = "uid=other,ou=people,dc=t"
        twin.identity.dn = "uid=other,ou=people,dc=t"
        await #expect(throws: SnapshotError.self) {
            try await self.build([person("p1"), twin], [])
        }
    }

    @Test func sameEntryFromOverlappingBasesIsCountedOnce() async throws {
        let snapshot = try await self.build([person("p1"), person("p1")], [])
        #expect(snapshot.identities.map(\.id) == ["p1"])
    }

    @Test func unparseableMemberValuesAreUnresolvedNotDropped() async throws {
        var g = group("g", people: ["p1"])
        g.memberDNs.append("not a dn")
        g.memberDNs.append("UID=P1, ou=people, dc=t")  // written differently: still p1, once
        let snapshot = try await self.build([person("p1")], [g])
        #expect(snapshot.groups[0].unresolvedMembers == ["not a dn"])
        #expect(snapshot.groups[0].transitiveMembers == ["p1"])
    }

    @Test func managerIsResolvedToItsStableID() async throws {
        var report = person("p2")
        report.identity.manager = "UID=p1, ou=people,dc=t"
        let snapshot = try await self.build([person("p1"), report], [])
        #expect(snapshot.identities.first { $0.id == "p2" }?.managerID == "p1")
    }

    @Test func outputIsDeterministic() async throws {
        let people = (0..<50).map { person("p\($0)") }
        let groups = (0..<20).map {
            group("g\($0)", people: ["p\($0)", "p\(($0 * 7) % 50)"], groups: ["g\(($0 + 3) % 20)"])
        }
        let first = try await self.build(people, groups)
        let second = try await self.build(people.reversed(), groups.reversed())
        #expect(first == second)
    }
}
