import Testing

@testable import LDAPClient

/// Emulates Active Directory's ranged retrieval (MaxValRange) for one entry.
private struct FakeActiveDirectory {
    var values: [[UInt8]]
    var maxValRange: Int

    /// The answer AD gives to a request for `member;range=low-high` (or `low-*`): at most
    /// MaxValRange values, and `*` as the upper bound once the last value is included.
    func answer(_ description: String) -> LDAPEntry {
        let range = RangedAttributes.parse(description)!
        let wanted = range.high.map { $0 - range.low + 1 } ?? Int.max
        let high = min(range.low + min(self.maxValRange, wanted), self.values.count) - 1
        let last = high >= self.values.count - 1
        let name = "\(range.attribute);range=\(range.low)-\(last ? "*" : String(high))"
        let slice = range.low <= high ? Array(self.values[range.low...high]) : []
        return LDAPEntry(dn: "cn=big", attributes: [name: slice])
    }
}

@Suite struct RangedAttributesTests {
    @Test(arguments: [
        ("member;range=0-1499", RangedAttributes.Range(attribute: "member", low: 0, high: 1499)),
        ("member;Range=1500-*", RangedAttributes.Range(attribute: "member", low: 1500, high: nil)),
        ("member;binary;range=0-9", RangedAttributes.Range(attribute: "member;binary", low: 0, high: 9)),
    ])
    func parse(_ text: String, _ expected: RangedAttributes.Range) {
        #expect(RangedAttributes.parse(text) == expected)
    }

    @Test(arguments: ["member", "member;range=5-1", "member;range=a-b", "member;range=0"])
    func notRanged(_ text: String) {
        #expect(RangedAttributes.parse(text) == nil)
    }

    @Test func twentyThousandMembersAreReadWhole() throws {
        let all = (0..<20_000).map { Array("uid=u\($0),ou=people,dc=t".utf8) }
        let server = FakeActiveDirectory(values: all, maxValRange: 1500)
        var entry = server.answer("member;range=0-*")
        entry.append([Array("cn=big".utf8)], to: "cn")
        var requests: [String] = []
        try RangedAttributes.complete(&entry) { _, description in
            requests.append(description)
            return server.answer(description)
        }
        #expect(entry.values("member") == all)
        #expect(entry.attributes.keys.sorted() == ["cn", "member"])
        #expect(requests.count == 13)  // 20,000 / 1,500 → 14 ranges, the first came with the entry
        #expect(requests.first == "member;range=1500-*")
    }

    @Test(arguments: [
        (0, 13, "member;range=1500-*"), (1000, 19, "member;range=1500-2499"), (5000, 13, "member;range=1500-6499"),
    ])
    func stepsFollowTheConfiguredSizeAndTheServersLimit(step: Int, requests expected: Int, first: String) throws {
        let all = (0..<20_000).map { Array("uid=u\($0),ou=people,dc=t".utf8) }
        let server = FakeActiveDirectory(values: all, maxValRange: 1500)
        var entry = server.answer("member;range=0-*")
        var requests: [String] = []
        try RangedAttributes.complete(&entry, step: step) { _, description in
            requests.append(description)
            return server.answer(description)
        }
        #expect(entry.values("member") == all)
        #expect(requests.count == expected)
        #expect(requests.first == first)
    }

    @Test func aServerThatSkipsARangeIsAnError() {
        var entry = LDAPEntry(dn: "cn=big", attributes: ["member;range=0-1": [[1], [2]]])
        #expect(throws: LDAPError.self) {
            try RangedAttributes.complete(&entry) { _, _ in
                LDAPEntry(dn: "cn=big", attributes: ["member;range=5-*": [[3]]])
            }
        }
    }

    @Test func aServerThatStopsSendingRangesIsAnError() {
        var entry = LDAPEntry(dn: "cn=big", attributes: ["member;range=0-1": [[1], [2]]])
        #expect(throws: LDAPError.self) {
            try RangedAttributes.complete(&entry) { _, _ in LDAPEntry(dn: "cn=big") }
        }
    }
}
