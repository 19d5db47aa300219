import TenureCore
import Testing

/// Subtree membership compares whole RDNs: an escaped comma inside a value is not a separator.
@Suite struct DNSubtreeTests {
    @Test(
        arguments: [
            ("ou=admins,ou=people,dc=t", "ou=admins,ou=people,dc=t", true),
            ("uid=x,ou=admins,ou=people,dc=t", "ou=admins,ou=people,dc=t", true),
            ("uid=x,ou=a,ou=admins,ou=people,dc=t", "ou=admins,ou=people,dc=t", true),
            // One RDN whose value is "evil,ou=admins": a child of ou=people, not of ou=admins.
            (#"cn=evil\,ou=admins,ou=people,dc=t"#, "ou=admins,ou=people,dc=t", false),
            (#"cn=evil\\\,ou=admins,ou=people,dc=t"#, "ou=admins,ou=people,dc=t", false),
            // An escaped backslash ends the value "a\": the comma after it is a separator.
            (#"cn=a\\,ou=admins,ou=people,dc=t"#, "ou=admins,ou=people,dc=t", true),
            ("uid=x,ou=notadmins,ou=people,dc=t", "ou=admins,ou=people,dc=t", false),
            ("cn=a+ou=admins,ou=people,dc=t", "ou=admins,ou=people,dc=t", false),
            ("ou=people,dc=t", "ou=admins,ou=people,dc=t", false),
            (",ou=admins,ou=people,dc=t", "ou=admins,ou=people,dc=t", false),
            ("uid=x,dc=t", "", false),
        ]
    )
    func contains(_ dn: String, _ base: String, _ expected: Bool) {
        #expect(DNSubtree.contains(dn, base: base) == expected)
    }

    @Test func aDisabledRuleUnderADNComparesWholeRDNs() {
        let rule = DisabledRule.underDN("ou=disabled,dc=t")
        #expect(rule.reason(values: { _ in [] }, normalizedDN: "uid=x,ou=disabled,dc=t", now: 0) != nil)
        #expect(rule.reason(values: { _ in [] }, normalizedDN: #"cn=x\,ou=disabled,dc=t"#, now: 0) == nil)
    }
}
