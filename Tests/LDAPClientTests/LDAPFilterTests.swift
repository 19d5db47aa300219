import LDAPClient
import Testing

@Suite struct LDAPFilterTests {
    // MARK: - Escaping

    static let escapeCases: [(String, String)] = [
        ("", ""),
        ("plain", "plain"),
        ("a*b", #"a\2ab"#),
        ("*", #"\2a"#),
        ("(", #"\28"#),
        (")", #"\29"#),
        (#"\"#, #"\5c"#),
        ("\u{0}", #"\00"#),
        ("*)(uid=*))(|(uid=*", #"\2a\29\28uid=\2a\29\29\28|\28uid=\2a"#),
        (#"CN=Smith\, John,DC=example"#, #"CN=Smith\5c, John,DC=example"#),
        (##"a,b+c=d;<>"#"##, ##"a,b+c=d;<>"#"##),  // DN specials mean nothing in a filter value
        ("é日本😀", "é日本😀"),
        ("line\nbreak", "line\nbreak"),
    ]

    @Test(arguments: escapeCases)
    func escape(_ input: String, _ expected: String) {
        #expect(LDAPFilter.escape(input) == expected)
    }

    static let byteCases: [([UInt8], String)] = [
        ([], ""),
        (Array("Az09".utf8), "Az09"),
        ([0x01, 0xAB, 0x41, 0x7A, 0x30, 0x2A, 0x00, 0xFF], #"\01\abAz0\2a\00\ff"#),
        (Array("a-b c".utf8), #"a\2db\20c"#),
        // objectGUID {c0b5ba5c-7e0a-4d52-9b2c-1d7a0b9a8f3e} as stored (little-endian first three fields).
        (
            [0x5C, 0xBA, 0xB5, 0xC0, 0x0A, 0x7E, 0x52, 0x4D, 0x9B, 0x2C, 0x1D, 0x7A, 0x0B, 0x9A, 0x8F, 0x3E],
            #"\5c\ba\b5\c0\0a\7eRM\9b\2c\1dz\0b\9a\8f\3e"#
        ),
    ]

    @Test(arguments: byteCases)
    func escapeBytes(_ bytes: [UInt8], _ expected: String) {
        #expect(LDAPFilter.escape(bytes: bytes) == expected)
        #expect(Self.unescape(expected) == bytes)
        #expect(LDAPFilter.isWellFormed("(objectGUID=\(expected))"))
    }

    /// Property: every hostile value escapes to a well-formed filter value that unescapes to the value,
    /// with no raw filter metacharacter left.
    @Test(arguments: HostileValues.all)
    func hostileValue(_ value: String) throws {
        let escaped = LDAPFilter.escape(value)
        #expect(Self.unescape(escaped) == Array(value.utf8))
        let metacharacters: [UInt8] = [0x00, UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")")]
        #expect(!escaped.utf8.contains { metacharacters.contains($0) })
        let filter = LDAPFilter.equality("uid", value)
        #expect(filter == "(uid=\(escaped))")
        #expect(LDAPFilter.isWellFormed(filter))
        #expect(LDAPFilter.isWellFormed(LDAPFilter.and(["(objectClass=person)", filter])))

        let bytesEscaped = LDAPFilter.escape(bytes: Array(value.utf8))
        #expect(Self.unescape(bytesEscaped) == Array(value.utf8))
        #expect(bytesEscaped.utf8.allSatisfy { $0 < 0x80 })
        #expect(LDAPFilter.isWellFormed("(cn=\(bytesEscaped))"))

        // A DN built from the hostile value, then put in a filter, survives both layers of escaping.
        let dn = DistinguishedName(rdns: [RelativeDistinguishedName(type: "cn", value: value)])
        let memberFilter = LDAPFilter.equality("member", dn.description)
        #expect(LDAPFilter.isWellFormed(memberFilter))
        let inner = String(decoding: Self.unescape(String(memberFilter.dropFirst(8).dropLast())), as: UTF8.self)
        #expect(try DistinguishedName(parsing: inner) == dn)
    }

    // MARK: - Building

    @Test func equality() {
        #expect(LDAPFilter.equality("uid", "jsmith") == "(uid=jsmith)")
        #expect(LDAPFilter.equality("cn", "a*") == #"(cn=a\2a)"#)
        #expect(LDAPFilter.equality("cn;lang-fr", "été") == "(cn;lang-fr=été)")
        #expect(LDAPFilter.equality("member", #"CN=Smith\, John,DC=x"#) == #"(member=CN=Smith\5c, John,DC=x)"#)
    }

    static let combineCases: [([String], String, String)] = [
        ([], "(&)", "(|)"),
        (["(a=1)"], "(a=1)", "(a=1)"),
        (["(a=1)", "(b=2)"], "(&(a=1)(b=2))", "(|(a=1)(b=2))"),
        (["(a=1)", "(!(b=2))", "(|(c=3)(d=4))"], "(&(a=1)(!(b=2))(|(c=3)(d=4)))", "(|(a=1)(!(b=2))(|(c=3)(d=4)))"),
    ]

    @Test(arguments: combineCases)
    func andOr(_ filters: [String], _ and: String, _ or: String) {
        #expect(LDAPFilter.and(filters) == and)
        #expect(LDAPFilter.or(filters) == or)
        #expect(LDAPFilter.isWellFormed(LDAPFilter.and(filters)))
        #expect(LDAPFilter.isWellFormed(LDAPFilter.or(filters)))
    }

    // MARK: - Validation

    static let wellFormed: [String] = [
        "(cn=a)", "(cn=)", "(cn=*)", "(cn=a*)", "(cn=*a)", "(cn=*a*b*)", "(cn=a*b)", "(cn=a b )",
        "(!(cn=a))", "(! (cn=a) )", "(&(objectClass=person)(uid=a))", "(|(a=1)(b=2)(c=3))", "(& (a=1) (b=2) )",
        "(&)", "(|)", "(&(|)(!(&)))",
        "(cn~=smith)", "(age>=30)", "(age<=30)",
        "(cn:caseExactMatch:=Fred)", "(cn:dn:2.4.6.8.10:=Dino)", "(:dn:2.4.6.8.10:=Dino)", "(o:dn:=Ace)",
        "(o:DN:=Ace)", "(:1.2.3:=x)", "(cn:=x)",
        #"(cn=a\2a\28\29\5c\00)"#, #"(cn=\C3\A9)"#, "(2.5.4.3=a)", "(cn;lang-en=a)",
        #"(userCertificate;binary=\30\82)"#,
        "(cn=日本)", "(memberOf=cn=admins,ou=groups,dc=example,dc=com)", #"(objectGUID=\01\ab)"#,
        "(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
        "(cn=a=b)", "(cn=a&b|c!d)", "(cn=~)", "(cn=<>)",
        String(repeating: "(!", count: 50) + "(a=1)" + String(repeating: ")", count: 50),
    ]

    @Test(arguments: wellFormed)
    func isWellFormed(_ filter: String) {
        #expect(LDAPFilter.isWellFormed(filter))
    }

    static let malformed: [String] = [
        "", " ", "(", ")", "()", "(cn=a", "cn=a)", "cn=a", #"(cn=a\zz)"#, #"(cn=a\2)"#, #"(cn=a\)"#, #"(cn=\g0)"#,
        "(cn=a)(cn=b)", "((cn=a))", "(cn=a))", "(=a)", "(c n=a)", "(cn)", "(cn=a(b)", "(cn=a\u{0})",
        "(cn~a)", "(cn>a)", "(cn<a)", "(cn=**)", "(cn=a**b)", "(cn>=a*)", "(cn~=*)", "(cn<=*)",
        "(:=a)", "(cn:=a*)", "(:dn:=a)", "(cn:dn:x y:=a)", "(cn:rule=a)", "(cn:=a", "(cn:1.ff:=a)",
        " (cn=a)", "(cn=a) ", "(cn=a)\n", "(&(cn=a)", "(&(cn=a)))", "(&cn=a)", "(!(a=1)(b=2))", "(!)", "(!a=1)",
        "(_x=a)", "(1.ff=a)", "(01.1=a)", "(cn;=a)", "(cn;x_y=a)", "(-cn=a)", "(é=a)",
        "(uid=*)(objectClass=*", "(|(uid=x)(uid=*)(", "(cn=a)\u{0}",
        String(repeating: "(!", count: 150) + "(a=1)" + String(repeating: ")", count: 150),
        String(repeating: "(", count: 10_000),
    ]

    @Test(arguments: malformed)
    func isMalformed(_ filter: String) {
        #expect(!LDAPFilter.isWellFormed(filter))
    }

    static let attributeDescriptions: [(String, Bool)] = [
        ("cn", true), ("objectGUID", true), ("userCertificate;binary", true), ("2.5.4.3", true),
        ("cn;lang-en;x-foo", true), ("x-attr", true), ("memberOf", true), ("sAMAccountName", true),
        ("1.2.840.113556.1.4.221", true), ("c", true),
        ("", false), ("1cn", false), ("-cn", false), ("cn;", false), (";x", false), ("cn;;x", false),
        ("cn name", false), ("cn=", false), (" cn", false), ("cn ", false), ("1.ff", false), ("01.2", false),
        ("1", false), ("1.", false), (".1", false), ("OID.2.5.4.3", false), ("cn*", false), ("cn(", false),
        ("cn)", false), ("é", false), ("cn;x_y", false), ("cn\u{0}", false), ("cn,sn", false),
    ]

    @Test(arguments: attributeDescriptions)
    func isValidAttributeDescription(_ description: String, _ expected: Bool) {
        #expect(LDAPFilter.isValidAttributeDescription(description) == expected)
        if expected {
            #expect(LDAPFilter.isWellFormed(LDAPFilter.equality(description, "x")))
        }
    }

    @Test func attributeTypesOfDNs() {
        #expect(DN.isValidAttributeType("cn"))
        #expect(DN.isValidAttributeType("2.5.4.3"))
        #expect(!DN.isValidAttributeType("cn;binary"))
        #expect(!DN.isValidAttributeType(""))
    }

    /// Decodes `\XX` escapes (the inverse of the escaping above), for the round-trip checks.
    static func unescape(_ escaped: String) -> [UInt8] {
        let bytes = Array(escaped.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 2 < bytes.count,
                let value = UInt8(String(decoding: bytes[index + 1...index + 2], as: UTF8.self), radix: 16)
            {
                out.append(value)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }
}
