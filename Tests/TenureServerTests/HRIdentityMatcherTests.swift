import TenureAccess
import TenureCore
import TenureStore
import Testing

@testable import TenureServer

/// `HRIdentityMatcher`'s rules (externalId, else the one active identity with the employee
/// number, else — when no number matched — the one active identity with the userName), read from
/// the model's maintained indexes: a matcher made after an identity change sees the change.
@Suite struct HRIdentityMatcherTests {
    static func identity(_ id: String, _ username: String, number: String?, _ state: LifecycleState = .active)
        -> IdentityRecord
    {
        IdentityRecord(
            id: id,
            state: state,
            dn: "uid=\(username),ou=people,dc=t",
            username: username,
            attributes: number.map { ["employeeNumber": $0] } ?? [:],
            groups: [],
            firstSeen: 0,
            lastSeen: 0
        )
    }

    static func hrUser(_ userName: String, externalId: String? = nil, employeeNumber: String? = nil) -> HRUserRecord {
        HRUserRecord(
            id: "hr-\(userName)",
            userName: userName,
            externalId: externalId,
            employeeNumber: employeeNumber,
            active: true,
            resourceJSON: "{}",
            version: 1,
            created: 0,
            lastModified: 0
        )
    }

    @Test func matchesByExternalIdThenEmployeeNumberThenUserName() {
        let index = AccessIndex(
            AccessModel(
                state: PIMState(
                    identities: Dictionary(
                        uniqueKeysWithValues: [
                            Self.identity("id-ann", "ann", number: "E100"),
                            Self.identity("id-bob", "bob", number: "E200"),
                            Self.identity("id-bo2", "bob2", number: "e200"),
                            Self.identity("id-cat", "cat", number: "E300", .disabled),
                            Self.identity("id-dan", "dan", number: nil),
                        ].map { ($0.id, $0) }
                    )
                )
            )
        )
        func match(_ record: HRUserRecord) -> String? {
            HRIdentityMatcher(index.snapshot).identityID(for: record, now: 1_000)
        }

        #expect(match(Self.hrUser("x", externalId: "id-cat", employeeNumber: "E100")) == "id-cat")
        #expect(match(Self.hrUser("x", employeeNumber: "e100")) == "id-ann")
        // Two active identities carry E200: no match, and no falling back to the userName.
        #expect(match(Self.hrUser("bob", employeeNumber: "E200")) == nil)
        // Only a disabled identity carries E300: the record has a number, so its userName is not
        // tried (dan's account could be another person's) — it waits, as a pre-hire.
        #expect(match(Self.hrUser("dan", employeeNumber: "E300")) == nil)
        #expect(match(Self.hrUser("CAT", employeeNumber: "E300")) == nil)
        #expect(match(Self.hrUser("Dan")) == "id-dan")
        #expect(match(Self.hrUser("dan", employeeNumber: "")) == "id-dan")

        // The directory changes: bob2 gets another number, ann is disabled, dan gets E100.
        index.update {
            $0.upsertIdentity(Self.identity("id-bo2", "bob2", number: "E201"))
            $0.upsertIdentity(Self.identity("id-ann", "ann", number: "E100", .disabled))
            $0.upsertIdentity(Self.identity("id-dan", "dan", number: "E100"))
        }
        #expect(match(Self.hrUser("x", employeeNumber: "E200")) == "id-bob")
        #expect(match(Self.hrUser("x", employeeNumber: "E201")) == "id-bo2")
        #expect(match(Self.hrUser("ann", employeeNumber: "E100")) == "id-dan")
        // E100's only active holder is dan now; with dan gone too, ann's number matches no one.
        index.update { $0.upsertIdentity(Self.identity("id-dan", "dan", number: "E100", .terminated)) }
        #expect(match(Self.hrUser("ann", employeeNumber: "E100")) == nil)
        // bob2's account carries E201: an HR record for E100 named bob2 is someone else.
        #expect(match(Self.hrUser("bob2", employeeNumber: "E100")) == nil)
        #expect(match(Self.hrUser("bob2")) == "id-bo2")

        // A record HR already terminated is never matched by name (the account may be someone
        // who got the username since); by number it is; linked after the fact (strongOnly), by
        // externalId alone.
        var gone = Self.hrUser("bob2")
        gone.active = false
        #expect(match(gone) == nil)
        var leaving = Self.hrUser("bob2")
        leaving.terminationDate = 999
        #expect(match(leaving) == nil)
        leaving.terminationDate = 1_001  // still employed, leaving tomorrow
        #expect(match(leaving) == "id-bo2")
        gone.employeeNumber = "E201"
        #expect(match(gone) == "id-bo2")
        let matcher = HRIdentityMatcher(index.snapshot)
        #expect(matcher.identityID(for: gone, now: 1_000, strongOnly: true) == nil)
        gone.externalId = "id-bo2"
        #expect(matcher.identityID(for: gone, now: 1_000, strongOnly: true) == "id-bo2")
    }
}
