import Foundation
import TenureCore
import TenureEngine
import TenureStore
import Testing

@testable import TenureServer

/// A single offboarding (SCIM, `/v1/offboard`, `tenure offboard`) takes the leaver's username out of
/// `memberUid` only when no other account Tenure knows has that username, whatever its state: the
/// engine loads them by username (the one identity's state alone cannot tell).
@Suite struct OffboardUsernameTests {
    static let group = "cn=ops,ou=privileged,dc=t"
    static let mappings = Mappings(
        roles: [RoleDefinition(name: "ops", tier: 1, mode: .standing, writeBackGroup: group)]
    )

    func removalUsernames(others: [IdentityRecord]) async throws -> [String?] {
        var identities = ["id-ann": person("id-ann", "ann")]
        for other in others { identities[other.id] = other }
        let harness = try await Harness(mappings: Self.mappings, state: PIMState(identities: identities))
        try await harness.store.recordWriteBackMember(
            WriteBackMember(
                group: Self.group,
                identityID: "id-ann",
                member: "uid=ann,ou=people,dc=t",
                role: "ops",
                since: 0
            ),
            audit: []
        )
        let report = try await harness.operations.engine.offboard(identityID: "id-ann", reason: "left", now: { 1_000 })
        return report.plan.identities.flatMap(\.actions).compactMap { action -> String?? in
            if case .writeBack(_, _, false, _, _, let username) = action { return .some(username) }
            return nil
        }
    }

    @Test func theUsernameGoesOnlyWhenNoOtherAccountHasIt() async throws {
        #expect(try await self.removalUsernames(others: []) == ["ann"])
        // An old account (terminated) and a current one of another case: the value may be theirs.
        #expect(try await self.removalUsernames(others: [person("id-ann-old", "ANN", state: .terminated)]) == [nil])
        #expect(try await self.removalUsernames(others: [person("id-ann-2", "Ann")]) == [nil])
        // Another username entirely changes nothing.
        #expect(try await self.removalUsernames(others: [person("id-bob", "bob")]) == ["ann"])
    }
}
