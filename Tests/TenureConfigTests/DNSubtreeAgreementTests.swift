import LDAPClient
import TenureCore
import Testing

/// `DNSubtree` (strings, used by rules, scope and disabled rules) agrees with the DN parser's
/// `isDescendant(of:)` on DNs as the directory source normalises them — escaped commas, escaped
/// backslashes, multi-valued RDNs, hex escapes and quoted values included.
@Suite struct DNSubtreeAgreementTests {
    static let dns = [
        "ou=admins,ou=people,dc=t",
        "uid=x,ou=admins,ou=people,dc=t",
        #"cn=evil\,ou=admins,ou=people,dc=t"#,
        #"cn=evil\2Cou=admins,ou=people,dc=t"#,
        #"cn="evil,ou=admins",ou=people,dc=t"#,
        #"cn=a\\,ou=admins,ou=people,dc=t"#,
        #"cn=a\\\,ou=admins,ou=people,dc=t"#,
        "cn=a+uid=b,ou=admins,ou=people,dc=t",
        "cn=a+ou=admins,ou=people,dc=t",
        "UID=X,OU=Admins,OU=People,DC=T",
        "uid=x,ou=notadmins,ou=people,dc=t",
        "ou=people,dc=t",
    ]

    @Test(arguments: DNSubtreeAgreementTests.dns)
    func agreesWithTheParser(_ text: String) throws {
        let base = try DistinguishedName(parsing: "ou=admins,ou=people,dc=t")
        let dn = try DistinguishedName(parsing: text)
        let normalized = try DistinguishedName.normalize(text)
        #expect(
            DNSubtree.contains(normalized, base: base.normalized) == dn.isDescendant(of: base),
            "\(text) → \(normalized)"
        )
    }
}
