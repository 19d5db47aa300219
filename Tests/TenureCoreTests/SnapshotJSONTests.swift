import Foundation
import Testing

@testable import TenureCore

@Suite struct SnapshotJSONTests {
    struct Document: Decodable, Equatable {
        struct Summary: Decodable, Equatable {
            var identities: Int
            var disabled: Int
            var groups: Int
            var cycles: Int
            var warnings: Int
            var entriesRead: Int
        }
        var server: String
        var readAt: String
        var summary: Summary
        var identities: [Identity]
        var groups: [Group]
        var cycles: [[String]]
        var warnings: [String]
    }

    static let hostile = "quote\" back\\slash /slash\nnew\tline \u{0}nul \u{1F}unit é 日本 🔐"

    static let snapshot = DirectorySnapshot(
        identities: [
            Identity(
                id: "a",
                dn: "uid=a,dc=t",
                username: "a",
                mail: hostile,
                department: "DB",
                manager: "uid=b,dc=t",
                managerID: "b",
                attributes: ["roomnumber": ["1", hostile]],
                disabled: true,
                disabledReasons: ["nsAccountLock: true"]
            ),
            Identity(id: "b", dn: "uid=b,dc=t"),
        ],
        groups: [
            Group(
                id: "g",
                dn: "cn=g,dc=t",
                name: hostile,
                directMembers: ["a"],
                directGroups: ["h"],
                transitiveMembers: ["a", "b"],
                unresolvedMembers: ["x"]
            )
        ],
        cycles: [["cn=g,dc=t", "cn=h,dc=t"]],
        warnings: [hostile]
    )

    private func render() -> Data {
        nonisolated(unsafe) var bytes: [UInt8] = []
        var writer = SnapshotJSONWriter { bytes += $0 }
        writer.writeDocument(
            snapshot: Self.snapshot,
            server: "ldap://127.0.0.1:1",
            readAt: "2026-01-01T00:00:00Z",
            entriesRead: 3,
            seconds: 0.5
        )
        return Data(bytes)
    }

    @Test func roundTripsThroughJSONDecoderWithHostileStrings() throws {
        let data = self.render()
        let document = try JSONDecoder().decode(Document.self, from: data)
        #expect(document.identities == Self.snapshot.identities)
        #expect(document.groups == Self.snapshot.groups)
        #expect(document.cycles == Self.snapshot.cycles)
        #expect(document.warnings == Self.snapshot.warnings)
        #expect(document.server == "ldap://127.0.0.1:1")
        #expect(
            document.summary == .init(identities: 2, disabled: 1, groups: 1, cycles: 1, warnings: 1, entriesRead: 3)
        )
    }

    @Test func matchesJSONEncoderWithSortedKeys() throws {
        // Same bytes as JSONEncoder for the Codable values (sorted keys, slashes unescaped).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for identity in Self.snapshot.identities {
            nonisolated(unsafe) var out: [UInt8] = []
            var writer = SnapshotJSONWriter { out += $0 }
            writer.identity(identity)
            writer.flush()
            let expected = try JSONSerialization.jsonObject(with: encoder.encode(identity)) as! NSDictionary
            let actual = try JSONSerialization.jsonObject(with: Data(out)) as! NSDictionary
            #expect(actual == expected)
        }
    }

    @Test func largeSnapshotsStreamInChunks() throws {
        let identities = (0..<30_000).map {
            Identity(id: String(format: "%08d", $0), dn: "uid=u\($0),ou=people,dc=tenure,dc=test", username: "u\($0)")
        }
        nonisolated(unsafe) var chunks: [Int] = []
        nonisolated(unsafe) var all: [UInt8] = []
        var writer = SnapshotJSONWriter {
            chunks.append($0.count); all += $0
        }
        writer.writeDocument(
            snapshot: DirectorySnapshot(identities: identities, groups: []),
            server: "s",
            readAt: "t",
            entriesRead: 0,
            seconds: 0
        )
        #expect(chunks.count > 1)
        #expect(chunks.allSatisfy { $0 <= (1 << 20) + 4096 })
        let document = try JSONDecoder().decode(Document.self, from: Data(all))
        #expect(document.identities == identities)
    }
}
