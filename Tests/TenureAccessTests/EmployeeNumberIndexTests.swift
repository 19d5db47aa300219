import TenureCore
import Testing

@testable import TenureAccess

/// `AccessModel.idsByEmployeeNumber` follows every identity change, so HR matching never has to
/// rebuild it: after each step it equals the map built from scratch over the identities.
@Suite struct EmployeeNumberIndexTests {
    static func person(
        _ id: String,
        _ number: String?,
        _ state: LifecycleState = .active,
        key: String = "employeeNumber"
    ) -> IdentityRecord {
        var identity = World.identity(id, String(id.dropFirst(2)), state)
        if let number { identity.attributes = [key: number, "mail": "\(id)@corp.example"] }
        return identity
    }

    /// The map as HR matching built it per request before: every active identity with a
    /// non-empty employee number (`employeeNumber`, else that name in another case), lowercased.
    static func rebuilt(_ model: AccessModel) -> [String: Set<String>] {
        var index: [String: Set<String>] = [:]
        for identity in model.identities.values where identity.state == .active {
            let number =
                identity.attributes["employeeNumber"]
                ?? identity.attributes.first { $0.key.lowercased() == "employeenumber" }?.value
            guard let number, !number.isEmpty else { continue }
            index[number.lowercased(), default: []].insert(identity.id)
        }
        return index
    }

    @Test func loadedModelIndexesActiveIdentitiesByLowercasedNumber() {
        let state = PIMState(
            identities: Dictionary(
                uniqueKeysWithValues: [
                    Self.person("u-ann", "E100"),
                    Self.person("u-bob", "e200", key: "EMPLOYEENUMBER"),
                    Self.person("u-cat", "E300", .disabled),
                    Self.person("u-dan", "E400", .terminated),
                    Self.person("u-eve", ""),
                    Self.person("u-fay", nil),
                    Self.person("u-gus", "E500"),
                    Self.person("u-hal", "e500"),
                ].map { ($0.id, $0) }
            )
        )
        let model = AccessModel(state: state)
        #expect(
            model.idsByEmployeeNumber == ["e100": ["u-ann"], "e200": ["u-bob"], "e500": ["u-gus", "u-hal"]]
        )
        #expect(model.idsByEmployeeNumber == Self.rebuilt(model))
    }

    @Test func followsAddedChangedDisabledAndRemovedIdentities() {
        let index = AccessIndex(AccessModel(state: PIMState(identities: ["u-ann": Self.person("u-ann", "E100")])))
        func check(_ expected: [String: Set<String>], _ comment: Comment) {
            let model = index.snapshot
            #expect(model.idsByEmployeeNumber == expected, comment)
            #expect(model.idsByEmployeeNumber == Self.rebuilt(model), comment)
        }
        check(["e100": ["u-ann"]], "loaded")

        index.update { $0.upsertIdentity(Self.person("u-bob", "E200")) }
        check(["e100": ["u-ann"], "e200": ["u-bob"]], "added")

        index.update { $0.upsertIdentity(Self.person("u-bob", "E201")) }
        check(["e100": ["u-ann"], "e201": ["u-bob"]], "number changed: the old one has no entry left")

        index.update { $0.upsertIdentity(Self.person("u-bob", "e100")) }
        check(["e100": ["u-ann", "u-bob"]], "number changed to another's (case ignored)")

        index.update { $0.upsertIdentity(Self.person("u-ann", "E100", .disabled)) }
        check(["e100": ["u-bob"]], "disabled")

        index.update { $0.upsertIdentity(Self.person("u-ann", "E100")) }
        check(["e100": ["u-ann", "u-bob"]], "enabled again")

        index.update { $0.upsertIdentity(Self.person("u-bob", "E100", .terminated)) }
        check(["e100": ["u-ann"]], "gone from the directory (terminated)")

        index.update { $0.upsertIdentity(Self.person("u-ann", nil)) }
        check([:], "number removed")

        index.update { $0.upsertIdentity(Self.person("u-ann", "E100")) }
        index.update { $0.upsertIdentity(Self.person("u-bob", "E200")) }
        check(["e100": ["u-ann"], "e200": ["u-bob"]], "both back")

        // A reload replaces the model: an identity no longer in the store is no longer indexed.
        let reloaded = AccessModel(state: PIMState(identities: ["u-bob": Self.person("u-bob", "E200")]))
        index.update { $0 = reloaded }
        check(["e200": ["u-bob"]], "removed by a reload")
    }
}
