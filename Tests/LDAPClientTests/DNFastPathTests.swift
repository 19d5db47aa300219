import Testing

@testable import LDAPClient

/// The byte-level fast path for plain DNs must agree with the full RFC 4514 parser everywhere it
/// answers, and step aside (nil) for anything it does not handle.
@Suite struct DNFastPathTests {
    static let plain = [
        "uid=alice,ou=people,dc=tenure,dc=test",
        "UID=Alice, OU=People, DC=Tenure, DC=Test",
        "uid=x , ou=People ,dc=example,dc=com",
        "cn=Directory   Administrators, ou=Groups, dc=example,dc=com",
        "2.5.4.3=Bob,0.9.2342.19200300.100.1.25=example",
        "commonName=Bob,domainComponent=example",
        "cn=a-b.c_d(e)f*g!h,o=SGI,c=US",
        "cn=trailing ,dc=t",
    ]

    static let notPlain = [
        "", " ", "cn=\\2C,dc=t", "cn=a+sn=b,dc=t", "cn=#04024869,dc=t", "cn=\"q\",dc=t", "cn=é,dc=t",
        "cn=,dc=t", "=x,dc=t", "cn=a;dc=t", "OID.2.5.4.3=x,dc=t", "c n=x,dc=t", "cn=a\tb,dc=t", "cn=a,,dc=t",
        "cn=a,dc=t,", "cn=x=y,dc=t", "1..1=x", "01.1=x", "1.1.=x",
    ]

    @Test(arguments: plain)
    func agreesWithTheParser(_ dn: String) throws {
        let full = try DistinguishedName(parsing: dn).normalized
        let fast = try #require(DistinguishedName.normalizePlainASCII(dn), "fast path declined \(dn)")
        #expect(fast == full)
    }

    @Test(arguments: notPlain)
    func declinesWhatItDoesNotHandle(_ dn: String) throws {
        let fast = DistinguishedName.normalizePlainASCII(dn)
        if let fast {
            // Allowed only if the full parser agrees exactly.
            #expect(fast == (try DistinguishedName(parsing: dn).normalized), "\(dn.debugDescription)")
        }
    }

    /// Every DN-valued line of the public LDIF data: wherever the fast path answers, it agrees.
    @Test(arguments: [
        "389ds-Example.ldif", "openldap-test-dn.ldif", "openldap-test-ordered.ldif", "openldap-nis_sample.ldif",
    ])
    func agreesOnPublicData(_ file: String) throws {
        let lines = try LDIFReader.load(file)
        var answered = 0
        for line in lines where ["dn", "member", "uniquemember", "manager", "seealso"].contains(line.name) {
            guard let fast = DistinguishedName.normalizePlainASCII(line.value) else { continue }
            answered += 1
            let full: String? = try? DistinguishedName(parsing: line.value).normalized
            #expect(fast == full, "\(file):\(line.lineNumber): \(line.value.debugDescription)")
        }
        #expect(answered > 10)
    }
}
