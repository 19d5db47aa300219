import Foundation
import LDAPClient
import Testing

/// Values that break naive DN and filter building: every character with a meaning in RFC 4514 or
/// RFC 4515, edge spaces, control characters and non-ASCII text. Shared by the DN and filter tests.
enum HostileValues {
    static let all: [String] = [
        "", "*", "(", ")", "\\", "\u{0}", ",", "+", "=", "\"", ";", "<", ">", "#", "# ", " #",
        "#start", "#04024869", " leading", "trailing ", "  both  ", " ", "  ", "a  b",
        "a\\", "\\ ", "\\2c", "\\\\",
        "Smith, John", "a+b=c", "James \"Jim\" Smith, III", "cn=x,dc=y", "x*)(uid=*", "*)(objectClass=*", "))((",
        "line\nbreak", "tab\there", "\r\n", "nul\u{0}inside", "\u{7F}", "é", "été", "日本", "日本語 テキスト",
        "👩‍💻 emoji", "😀", "e\u{301}", "ünïcödé", "\u{200B}zero width", "Lu\u{10D}i\u{107}", "<script>",
        "a;b;c", "=leading equals", "\u{00A0}nbsp\u{00A0}",
    ]
}

/// Reads attribute lines of an LDIF file (RFC 2849): comments dropped, folded lines joined, `name::`
/// base64 values decoded. Enough for the public data sets; `name:<` URL values are not supported.
enum LDIFReader {
    struct Line: Equatable {
        /// The attribute name, lowercased (LDIF names are case-insensitive: 389-DS writes `uniquemember`).
        var name: String
        var value: String
        /// 1-based line number where the (possibly folded) line starts.
        var lineNumber: Int
    }

    struct UnsupportedLine: Error, CustomStringConvertible {
        var lineNumber: Int
        var text: String
        var description: String { "unsupported LDIF line \(self.lineNumber): \(self.text)" }
    }

    /// The data sets under /work/shared, found from this file's path (/work/main/Tests/LDAPClientTests/…).
    static func publicDataURL(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // LDAPClientTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // the repository (/work/main)
            .appendingPathComponent("../shared/data/public-ldif/\(name)")
            .standardizedFileURL
    }

    /// Loads a public data set; throws (failing the test) when the file is missing.
    static func load(_ name: String) throws -> [Line] {
        try self.parse(String(contentsOf: self.publicDataURL(name), encoding: .utf8))
    }

    static func parse(_ text: String) throws -> [Line] {
        // Unfold: a line starting with one space continues the previous line (RFC 2849 §2).
        var physical: [(number: Int, text: String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if line.hasSuffix("\r") {
                line.removeLast()
            }
            if line.hasPrefix(" "), let last = physical.indices.last, !physical[last].text.isEmpty {
                physical[last].text += line.dropFirst()
            } else {
                physical.append((index + 1, line))
            }
        }
        var lines: [Line] = []
        for (number, line) in physical where !line.isEmpty && !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else {
                throw UnsupportedLine(lineNumber: number, text: line)
            }
            let name = line[..<colon].lowercased()
            var rest = line[line.index(after: colon)...]
            if rest.hasPrefix(":") {
                let encoded = rest.dropFirst().drop(while: { $0 == " " })
                guard let data = Data(base64Encoded: String(encoded)),
                    let value = String(data: data, encoding: .utf8)
                else { throw UnsupportedLine(lineNumber: number, text: line) }
                lines.append(Line(name: name, value: value, lineNumber: number))
            } else if rest.hasPrefix("<") {
                throw UnsupportedLine(lineNumber: number, text: line)
            } else {
                rest = rest.drop(while: { $0 == " " })
                lines.append(Line(name: name, value: String(rest), lineNumber: number))
            }
        }
        return lines
    }
}

@Suite struct DistinguishedNameTests {
    // MARK: - RFC 4514 §4 examples

    struct Example: Sendable, CustomTestStringConvertible {
        var input: String
        /// Per RDN, per attribute: type, raw value bytes, binary flag.
        var rdns: [[(type: String, value: [UInt8], isBinary: Bool)]]
        var description: String
        var normalized: String
        var testDescription: String { self.input }
    }

    static let rfc4514Examples: [Example] = [
        Example(
            input: "UID=jsmith,DC=example,DC=net",
            rdns: [
                [("UID", Array("jsmith".utf8), false)], [("DC", Array("example".utf8), false)],
                [("DC", Array("net".utf8), false)],
            ],
            description: "UID=jsmith,DC=example,DC=net",
            normalized: "uid=jsmith,dc=example,dc=net"
        ),
        Example(
            input: "OU=Sales+CN=J.  Smith,DC=example,DC=net",
            rdns: [
                [("OU", Array("Sales".utf8), false), ("CN", Array("J.  Smith".utf8), false)],
                [("DC", Array("example".utf8), false)], [("DC", Array("net".utf8), false)],
            ],
            description: "OU=Sales+CN=J.  Smith,DC=example,DC=net",
            normalized: "cn=j. smith+ou=sales,dc=example,dc=net"
        ),
        Example(
            input: #"CN=James \"Jim\" Smith\, III,DC=example,DC=net"#,
            rdns: [
                [("CN", Array(#"James "Jim" Smith, III"#.utf8), false)],
                [("DC", Array("example".utf8), false)], [("DC", Array("net".utf8), false)],
            ],
            description: #"CN=James \"Jim\" Smith\, III,DC=example,DC=net"#,
            normalized: #"cn=james \"jim\" smith\, iii,dc=example,dc=net"#
        ),
        Example(
            // CR is whitespace for caseIgnoreMatch (RFC 4518 §2.2 maps it to SPACE).
            input: #"CN=Before\0dAfter,DC=example,DC=net"#,
            rdns: [
                [("CN", Array("Before\rAfter".utf8), false)],
                [("DC", Array("example".utf8), false)], [("DC", Array("net".utf8), false)],
            ],
            description: #"CN=Before\0dAfter,DC=example,DC=net"#,
            normalized: "cn=before after,dc=example,dc=net"
        ),
        Example(
            input: "1.3.6.1.4.1.1466.0=#04024869,DC=example,DC=com",
            rdns: [
                [("1.3.6.1.4.1.1466.0", [0x04, 0x02, 0x48, 0x69], true)],
                [("DC", Array("example".utf8), false)], [("DC", Array("com".utf8), false)],
            ],
            description: "1.3.6.1.4.1.1466.0=#04024869,DC=example,DC=com",
            normalized: "1.3.6.1.4.1.1466.0=#04024869,dc=example,dc=com"
        ),
        Example(
            input: #"CN=Lu\C4\8Di\C4\87"#,
            rdns: [[("CN", [0x4C, 0x75, 0xC4, 0x8D, 0x69, 0xC4, 0x87], false)]],
            description: "CN=Lu\u{10D}i\u{107}",
            normalized: "cn=lu\u{10D}i\u{107}"
        ),
    ]

    @Test(arguments: rfc4514Examples)
    func rfc4514Example(_ example: Example) throws {
        let dn = try DistinguishedName(parsing: example.input)
        #expect(dn.rdns.count == example.rdns.count)
        for (rdn, expected) in zip(dn.rdns, example.rdns) {
            #expect(rdn.attributes.map(\.type) == expected.map(\.type))
            #expect(rdn.attributes.map(\.value) == expected.map(\.value))
            #expect(rdn.attributes.map(\.isBinary) == expected.map(\.isBinary))
        }
        #expect(dn.description == example.description)
        #expect(dn.normalized == example.normalized)
        #expect(try DistinguishedName(parsing: dn.description) == dn)
    }

    @Test func rfc4514ExampleValuesAsStrings() throws {
        let lucic = try DistinguishedName(parsing: #"CN=Lu\C4\8Di\C4\87"#)
        #expect(lucic.rdns[0].attributes[0].stringValue == "Lu\u{10D}i\u{107}")
        let binary = try DistinguishedName(parsing: "1.3.6.1.4.1.1466.0=#04024869")
        #expect(binary.rdns[0].attributes[0].stringValue == nil)
    }

    // MARK: - Escaping

    static let escapeCases: [(String, String)] = [
        ("", ""),
        ("plain", "plain"),
        ("Smith, John", #"Smith\, John"#),
        (#""Jim""#, #"\"Jim\""#),
        ("a+b", #"a\+b"#),
        ("a;b", #"a\;b"#),
        ("<a>", #"\<a\>"#),
        (#"back\slash"#, #"back\\slash"#),
        ("#x", ##"\#x"##),
        ("x#", "x#"),
        (" x", #"\ x"#),
        ("x ", #"x\ "#),
        (" ", #"\ "#),
        ("  ", #"\ \ "#),
        ("a  b", "a  b"),
        ("a=b", "a=b"),
        ("\u{0}", #"\00"#),
        ("Before\rAfter", #"Before\0dAfter"#),
        ("a\nb\u{7F}", #"a\0ab\7f"#),
        ("é日本👍", "é日本👍"),
        ("*()", "*()"),
    ]

    @Test(arguments: escapeCases)
    func escapeValue(_ input: String, _ expected: String) {
        #expect(DN.escapeValue(input) == expected)
    }

    /// Property: for every hostile value, escape → parse gives the exact bytes back, and the DN built in
    /// code writes and re-reads to an equal DN.
    @Test(arguments: HostileValues.all)
    func hostileValueRoundTrips(_ value: String) throws {
        let text = "cn=" + DN.escapeValue(value) + ",dc=example"
        let parsed = try DistinguishedName(parsing: text)
        #expect(parsed.rdns.count == 2)
        #expect(parsed.rdns[0].attributes.count == 1)
        #expect(parsed.rdns[0].attributes[0].value == Array(value.utf8))
        #expect(parsed.rdns[0].attributes[0].stringValue.map { Array($0.utf8) } == Array(value.utf8))
        #expect(parsed.description == text)

        let built = DistinguishedName(rdns: [
            RelativeDistinguishedName(type: "cn", value: value),
            RelativeDistinguishedName(type: "dc", value: "example"),
        ])
        #expect(built.description == text)
        let reparsed = try DistinguishedName(parsing: built.description)
        #expect(reparsed == built)
        #expect(reparsed.rdns.map(\.attributes) == built.rdns.map(\.attributes))

        // The normalised form is a DN too, and normalising is idempotent.
        #expect(try DistinguishedName.normalize(parsed.normalized) == parsed.normalized)
        // A hostile value in a multi-valued RDN stays inside its RDN.
        let multi = try DistinguishedName(parsing: "uid=x+cn=" + DN.escapeValue(value))
        #expect(multi.rdns.count == 1)
        #expect(multi.rdns[0].attributes.map(\.value) == [Array("x".utf8), Array(value.utf8)])
    }

    // MARK: - UTF-8 and binary values

    static let byteCases: [(String, [UInt8], String?)] = [
        (#"cn=\e6\97\a5\e6\9c\ac"#, Array("日本".utf8), "日本"),
        (#"cn=\C3\A9t\C3\a9"#, Array("été".utf8), "été"),
        (#"cn=\F0\9F\98\80!"#, Array("😀!".utf8), "😀!"),
        (#"cn=\c3"#, [0xC3], nil),  // a lone lead byte: kept raw
        (#"cn=\ff\fe"#, [0xFF, 0xFE], nil),
        (#"cn=\ed\a0\80"#, [0xED, 0xA0, 0x80], nil),  // an encoded surrogate is not valid UTF-8
        (#"cn=\00"#, [0x00], "\u{0}"),
        ("cn=日本", Array("日本".utf8), "日本"),
    ]

    @Test(arguments: byteCases)
    func escapedBytes(_ input: String, _ bytes: [UInt8], _ string: String?) throws {
        let attribute = try #require(DistinguishedName(parsing: input).rdns.first?.attributes.first)
        #expect(attribute.value == bytes)
        #expect(attribute.isBinary == false)
        #expect(attribute.stringValue == string)
    }

    @Test func invalidUTF8IsWrittenAsHex() throws {
        let dn = try DistinguishedName(parsing: #"CN=\ff\FE,dc=example"#)
        #expect(dn.description == "CN=#fffe,dc=example")
        #expect(dn.normalized == "cn=#fffe,dc=example")
        // Written back as hex, it reads as the same bytes (binary), and compares equal.
        let reparsed = try DistinguishedName(parsing: dn.description)
        #expect(reparsed.rdns[0].attributes[0].value == [0xFF, 0xFE])
        #expect(reparsed == dn)
    }

    @Test func binaryValuesKeepTheirBytesAndCase() throws {
        let dn = try DistinguishedName(parsing: "cn=#0A0b4869 ")
        let attribute = dn.rdns[0].attributes[0]
        #expect(attribute.value == [0x0A, 0x0B, 0x48, 0x69])
        #expect(attribute.isBinary)
        #expect(dn.description == "cn=#0a0b4869")
        #expect(dn.normalized == "cn=#0a0b4869")
    }

    // MARK: - Normalisation

    static let equalPairs: [(String, String)] = [
        ("CN=Alice, OU=People,DC=Example,DC=com", "cn=alice,ou=people,dc=example,dc=com"),
        ("uid=x, ou=People, dc=example,dc=com", "uid=x,ou=people,dc=example,dc=com"),
        ("  uid = x ,ou= People  ", "uid=x,ou=people"),
        ("2.5.4.3=Alice,0.9.2342.19200300.100.1.25=example", "cn=alice,dc=example"),
        ("0.9.2342.19200300.100.1.1=a,2.5.4.11=b,2.5.4.10=c,2.5.4.6=d", "uid=a,ou=b,o=c,c=d"),
        ("2.5.4.7=a,2.5.4.8=b,2.5.4.9=c,2.5.4.4=d", "l=a,st=b,street=c,sn=d"),
        ("OID.2.5.4.3=Alice", "cn=alice"),
        ("oid.2.5.4.3=Alice", "CN=ALICE"),
        ("commonName=Alice,domainComponent=com", "cn=alice,dc=com"),
        ("a=1+b=2,dc=x", "b=2+a=1,dc=x"),
        ("OU=Sales+CN=J.  Smith", "cn=j. smith+ou=sales"),
        ("cn=John  Smith", "cn=john smith"),
        ("cn=\\ John\\ ", "cn=john"),
        ("cn=John\tSmith", "cn=john smith"),
        (#"cn=John Smith\2C III"#, #"cn=John Smith\, III"#),
        (##"CN=\#John Smith\ ,DC=example,DC=net"##, #"CN=\23John Smith\20,DC=example,DC=net"#),
        (#"OU=Sales\; Data\+Algorithms"#, #"OU=Sales\3B Data\2BAlgorithms"#),
        ("UID=jsmith;O=example;C=US", "uid=jsmith,o=example,c=us"),
        (#"cn="Smith, John""#, #"cn=Smith\, John"#),
        ("cn=#0A0B", "cn=#0a0b"),
        ("cn=ÉTÉ", "cn=été"),
        ("cn=e\u{301}", "cn=\u{E9}"),  // canonically equivalent: equal as Swift strings
        ("cn=\\ \\ ", "cn=\\ "),
        ("", ""),
    ]

    @Test(arguments: equalPairs)
    func normalizesEqual(_ lhs: String, _ rhs: String) throws {
        let left = try DistinguishedName(parsing: lhs)
        let right = try DistinguishedName(parsing: rhs)
        #expect(left == right)
        #expect(left.hashValue == right.hashValue)
        #expect(Set([left, right]).count == 1)
        #expect(try DistinguishedName.normalize(lhs) == DistinguishedName.normalize(rhs))
    }

    static let differentPairs: [(String, String)] = [
        ("cn=alice", "cn=alicia"),
        ("cn=alice,dc=a", "cn=alice,dc=b"),
        ("cn=a+sn=b", "cn=a,sn=b"),
        ("cn=#4869", "cn=Hi"),  // a BER value is not the string with the same bytes
        ("cn=a", "sn=a"),
        ("cn=", "cn=\\ "),  // empty vs one space
        ("cn=a b", "cn=ab"),
        ("cn=a,dc=com", "dc=com"),
        ("", "dc=com"),
        ("cn=a\\,dc=b", "cn=a,dc=b"),
    ]

    @Test(arguments: differentPairs)
    func normalizesDifferent(_ lhs: String, _ rhs: String) throws {
        #expect(try DistinguishedName(parsing: lhs) != DistinguishedName(parsing: rhs))
        #expect(try DistinguishedName.normalize(lhs) != DistinguishedName.normalize(rhs))
    }

    static let normalizedForms: [(String, String)] = [
        (#"CN=James \"Jim\" Smith\, III,DC=example,DC=net"#, #"cn=james \"jim\" smith\, iii,dc=example,dc=net"#),
        ("OU=Sales+CN=J.  Smith,DC=example,DC=net", "cn=j. smith+ou=sales,dc=example,dc=net"),
        (" cn = a , dc = b ", "cn=a,dc=b"),
        (#"cn=\ \ a\ \ "#, "cn=a"),
        (#"cn=\ "#, #"cn=\ "#),
        (##"cn=\#x"##, ##"cn=\#x"##),
        (#"cn=\ff"#, "cn=#ff"),
        ("cn=#ABCD", "cn=#abcd"),
        ("OID.0.9.2342.19200300.100.1.1=jsmith", "uid=jsmith"),
        ("1.2.840.113556.1.4.1=X", "1.2.840.113556.1.4.1=x"),
        ("cn=a\u{3000}b", "cn=a b"),  // ideographic space is whitespace
        ("cn=A=B", "cn=a=b"),
        ("cn=Smith;o=Example", "cn=smith,o=example"),
        ("", ""),
    ]

    @Test(arguments: normalizedForms)
    func normalizedForm(_ input: String, _ expected: String) throws {
        #expect(try DistinguishedName.normalize(input) == expected)
        #expect(try DistinguishedName.normalize(expected) == expected)
    }

    @Test func mutatingRDNsUpdatesTheNormalizedForm() throws {
        var dn = try DistinguishedName(parsing: "cn=Alice,dc=example")
        dn.rdns[0].attributes[0].value = Array("Bob".utf8)
        #expect(dn.normalized == "cn=bob,dc=example")
        #expect(dn == (try DistinguishedName(parsing: "CN=BOB,DC=EXAMPLE")))
        dn.rdns.removeFirst()
        #expect(dn.normalized == "dc=example")
    }

    // MARK: - Tree operations

    static let descendantCases: [(String, String, Bool)] = [
        ("uid=a,ou=People,dc=example,dc=com", "dc=example,dc=com", true),
        ("uid=a,ou=People,dc=example,dc=com", "ou=people, DC=Example,dc=com", true),
        ("uid=a,ou=People,dc=example,dc=com", "uid=a,ou=People,dc=example,dc=com", true),
        ("uid=a,ou=People,dc=example,dc=com", "UID=A,OU=PEOPLE,DC=EXAMPLE,DC=COM", true),
        ("dc=example,dc=com", "uid=a,ou=People,dc=example,dc=com", false),
        ("uid=a,ou=People,dc=example,dc=com", "ou=Groups,dc=example,dc=com", false),
        ("uid=a,dc=example,dc=com", "", true),
        ("", "", true),
        ("", "dc=com", false),
        ("cn=x,dc=notexample,dc=com", "dc=example,dc=com", false),
        (#"cn=evil\,dc=example,dc=com"#, "dc=example,dc=com", false),  // not a string suffix test
        ("cn=a,ou=X+l=Y,dc=com", "l=y+ou=x,dc=com", true),
        ("cn=a,ou=X+l=Y,dc=com", "ou=x,dc=com", false),
        ("2.5.4.3=a,0.9.2342.19200300.100.1.25=example", "dc=Example", true),
    ]

    @Test(arguments: descendantCases)
    func isDescendant(_ dn: String, _ ancestor: String, _ expected: Bool) throws {
        let child = try DistinguishedName(parsing: dn)
        #expect(child.isDescendant(of: try DistinguishedName(parsing: ancestor)) == expected)
    }

    @Test func parentAppendingAndIsEmpty() throws {
        let dn = try DistinguishedName(parsing: "uid=a,ou=People,dc=example")
        #expect(dn.isEmpty == false)
        #expect(dn.parent == (try DistinguishedName(parsing: "ou=People,dc=example")))
        #expect(dn.parent?.parent?.parent == DistinguishedName.root)
        #expect(dn.parent?.parent?.parent?.isEmpty == true)
        #expect(dn.parent?.parent?.parent?.parent == nil)
        #expect(DistinguishedName.root.description == "")
        #expect(try DistinguishedName(parsing: "") == DistinguishedName(rdns: []))

        let people = try DistinguishedName(parsing: "ou=People,dc=example")
        let child = people.appending(child: RelativeDistinguishedName(type: "uid", value: "Smith, John"))
        #expect(child.description == #"uid=Smith\, John,ou=People,dc=example"#)
        #expect(child.parent == people)
        #expect(child.isDescendant(of: people))
        #expect(people.isDescendant(of: child) == false)
        #expect(
            DistinguishedName.root.appending(child: RelativeDistinguishedName(type: "dc", value: "com"))
                == (try DistinguishedName(parsing: "dc=com"))
        )
    }

    @Test func relativeDistinguishedNameAPI() throws {
        // Only a leading '#' is escaped: after an escaped leading space, '#' is an ordinary character.
        let rdn = RelativeDistinguishedName(type: "cn", value: " #Smith, John ")
        #expect(rdn.description == #"cn=\ #Smith\, John\ "#)
        #expect(rdn.normalized == ##"cn=\#smith\, john"##)
        let multi = RelativeDistinguishedName(attributes: [
            .init(type: "ou", value: "Sales"), .init(type: "CN", value: "J. Smith"),
        ])
        #expect(multi.description == "ou=Sales+CN=J. Smith")
        #expect(multi.normalized == "cn=j. smith+ou=sales")
        #expect(multi == (try DistinguishedName(parsing: "cn=J. Smith+ou=sales")).rdns[0])
        let binary = RelativeDistinguishedName.Attribute(type: "x", value: [0x48, 0x69], isBinary: true)
        #expect(binary.stringValue == nil)
        #expect(RelativeDistinguishedName(attributes: [binary]).description == "x=#4869")
    }

    // MARK: - Legacy forms (RFC 2253 / RFC 1779)

    static let legacyCases: [(String, [[String]])] = [
        ("UID=jsmith, O=example, C=US", [["UID=jsmith"], ["O=example"], ["C=US"]]),
        ("UID=jsmith;O=example;C=US", [["UID=jsmith"], ["O=example"], ["C=US"]]),
        ("uid = jsmith + cn = J ,o=x", [["uid=jsmith", "cn=J"], ["o=x"]]),
        ("OID.0.9.2342.19200300.100.1.1=jsmith", [["0.9.2342.19200300.100.1.1=jsmith"]]),
        (#"CN="John Smith",O=example,C=US"#, [["CN=John Smith"], ["O=example"], ["C=US"]]),
        (#"CN = "Smith, John; <x> + y" , O=e"#, [[#"CN=Smith\, John\; \<x\> \+ y"#], ["O=e"]]),
        (#"CN="say \"hi\"""#, [[#"CN=say \"hi\""#]]),
        ("cn=A*x=b is a linear algebra problem", [["cn=A*x=b is a linear algebra problem"]]),
        ("dc=example,dc=com#'1000'B", [["dc=example"], ["dc=com#'1000'B"]]),
        ("dc=example,dc=com '0'B", [["dc=example"], ["dc=com '0'B"]]),
        ("1.1.1=", [["1.1.1="]]),
        ("cn=,dc=x", [["cn="], ["dc=x"]]),
        ("cn=  ", [["cn="]]),
        ("cn=a\\  ", [["cn=a\\ "]]),
    ]

    @Test(arguments: legacyCases)
    func legacyForms(_ input: String, _ expected: [[String]]) throws {
        let dn = try DistinguishedName(parsing: input)
        #expect(
            dn.rdns.map { $0.attributes.map { RelativeDistinguishedName(attributes: [$0]).description } }
                == expected
        )
        // Written back as strict RFC 4514 and stable from there on.
        #expect(try DistinguishedName(parsing: dn.description) == dn)
        #expect(try DistinguishedName(parsing: dn.description).description == dn.description)
    }

    // MARK: - Errors

    static let errorCases: [(String, Int, String)] = [
        ("cn", 2, #"expected '=' after attribute type "cn""#),
        ("=a", 0, "expected an attribute type, found '='"),
        ("cn=a,", 5, "expected an attribute type after ',' (empty RDN)"),
        ("cn=a;", 5, "expected an attribute type after ';' (empty RDN)"),
        (",cn=a", 0, "expected an attribute type (empty RDN)"),
        ("cn=a+", 5, "expected an attribute type after '+' (empty RDN)"),
        ("cn=a,,dc=b", 5, "expected an attribute type after ',' (empty RDN)"),
        ("cn=a, ,dc=b", 6, "expected an attribute type after ',' (empty RDN)"),
        ("cn=a\\", 4, "trailing backslash"),
        ("cn=a\\zz", 4, "invalid escape: '\\' followed by 'z'"),
        ("cn=a\\*", 4, "invalid escape: '\\' followed by '*'"),
        ("cn=a\\4", 4, "invalid hex escape"),
        ("cn=a\\4x", 4, "invalid hex escape"),
        ("cn=a\"b", 4, #"unescaped '"' in value (write \")"#),
        ("cn=\"", 3, "unterminated quoted value"),
        ("cn=a<b", 4, #"unescaped '<' in value (write \<)"#),
        ("cn=a>", 4, #"unescaped '>' in value (write \>)"#),
        ("cn=a\u{0}b", 4, #"unescaped NUL in value (write \00)"#),
        ("cn=\"abc", 3, "unterminated quoted value"),
        ("cn=\"abc\"x", 8, "unexpected 'x' after quoted value"),
        ("cn=#0102x", 8, "invalid character 'x' in '#' hex value"),
        ("cn=#01 02", 7, "unexpected '0' after '#' hex value"),
        ("cn=#", 3, "'#' must be followed by hex digits"),
        ("cn=#abc", 3, "odd number of hex digits"),
        ("c n=a", 2, #"expected '=' after attribute type "c", found 'n'"#),
        ("cn;lang-en=a", 2, "attribute options (';…') are not allowed"),
        ("c_n=a", 1, "invalid character '_' in attribute type"),
        ("cn:a", 2, "invalid character ':' in attribute type"),
        ("   ", 0, "a DN of spaces only"),
        ("é=a", 0, "expected an attribute type, found U+00E9 'é'"),
        ("cn=é\\zz", 4, "invalid escape"),  // offsets count Characters, not UTF-8 bytes
        ("cn=日本\\", 5, "trailing backslash"),
        ("cn=👩‍💻<", 4, "unescaped '<'"),
        ("OID.cn=x", 0, "invalid numeric OID after the 'OID.' prefix"),
        ("OID.=x", 0, #"invalid attribute type "OID.""#),
        ("1=x", 0, #"invalid numeric OID "1""#),
        ("cn=a,dc", 7, #"expected '=' after attribute type "dc""#),
        ("<cn=a>", 0, "expected an attribute type, found '<'"),
    ]

    @Test(arguments: errorCases)
    func parseError(_ input: String, _ offset: Int, _ reason: String) throws {
        let error = try #require(throws: DNParseError.self) { try DistinguishedName(parsing: input) }
        #expect(error.input == input)
        #expect(error.offset == offset)
        #expect(error.reason.contains(reason), "reason: \(error.reason)")
        #expect(throws: DNParseError.self) { try DistinguishedName.normalize(input) }
    }

    @Test func errorDescription() throws {
        let error = try #require(throws: DNParseError.self) { try DistinguishedName(parsing: "uid=john,smith") }
        #expect(
            error.description
                == #"invalid DN "uid=john,smith" at offset 14: expected '=' after attribute type "smith""#
        )
        let control = DNParseError(input: "cn=a\nb", offset: 4, reason: "r")
        #expect(control.description == #"invalid DN "cn=a\u{a}b" at offset 4: r"#)
    }

    // MARK: - Public LDIF data sets

    /// Attributes holding DNs in the data sets.
    static let dnValuedAttributes: Set<String> = ["dn", "member", "uniquemember", "seealso", "manager", "owner"]

    @Test func ldifReaderUnfoldsAndDecodes() throws {
        let text = """
            # a comment
            dn: cn=Barbara Jensen,ou=Information Technology Division,ou=People,dc=example,
             dc=com
            #EMBEDDED COMMENT
             that continues
            dn:: Y249w4l0w6k=
            member:  
            """
        #expect(
            try LDIFReader.parse(text) == [
                .init(
                    name: "dn",
                    value: "cn=Barbara Jensen,ou=Information Technology Division,ou=People,dc=example,dc=com",
                    lineNumber: 2
                ),
                .init(name: "dn", value: "cn=Été", lineNumber: 6),
                .init(name: "member", value: "", lineNumber: 7),
            ]
        )
    }

    @Test func the389DSExampleParsesAndResolves() throws {
        let lines = try LDIFReader.load("389ds-Example.ldif")
        let dnLines = lines.filter { Self.dnValuedAttributes.contains($0.name) }
        var entries: Set<DistinguishedName> = []
        for line in dnLines where line.name == "dn" {
            let dn = try DistinguishedName(parsing: line.value)
            #expect(entries.insert(dn).inserted, "duplicate entry at line \(line.lineNumber)")
        }
        #expect(entries.count == 160)  // the count the file's header announces

        let suffix = try DistinguishedName(parsing: "dc=example,dc=com")
        for entry in entries {
            #expect(entry.isDescendant(of: suffix))
            // Every entry but the suffix has its parent in the file.
            if entry != suffix, let parent = entry.parent {
                #expect(entries.contains(parent), "no parent for \(entry)")
            }
            let reparsed = try DistinguishedName(parsing: entry.description)
            #expect(reparsed == entry && reparsed.description == entry.description)
        }

        // "uid=x, ou=People, dc=example,dc=com" member values resolve to entries written the same way or not.
        var references = 0
        for line in dnLines where line.name != "dn" {
            let target = try DistinguishedName(parsing: line.value)
            #expect(entries.contains(target), "\(line.name) at line \(line.lineNumber) points nowhere")
            references += 1
        }
        #expect(references == 11 + 149)  // uniquemember + manager values
    }

    @Test func openLDAPTestOrderedParsesAndResolves() throws {
        // Folded DN lines and comments inside entries.
        let lines = try LDIFReader.load("openldap-test-ordered.ldif")
        let entries = try Set(lines.filter { $0.name == "dn" }.map { try DistinguishedName(parsing: $0.value) })
        #expect(
            entries.contains(
                try DistinguishedName(
                    parsing: "cn=Barbara Jensen,ou=Information Technology Division,ou=People,dc=example,dc=com"
                )
            )
        )
        let members = lines.filter { $0.name == "member" }
        #expect(members.isEmpty == false)
        for line in members {
            #expect(entries.contains(try DistinguishedName(parsing: line.value)), "line \(line.lineNumber)")
        }
    }

    /// The values of openldap-test-dn.ldif that this parser rejects, with where and why: OpenLDAP's own
    /// "Must Fail" and "Should Fail" values, the RFC 1779 `<…>` form, and nameAndOptionalUID values that
    /// are not DNs at all.
    static let openLDAPRejected: [(String, Int, String)] = [
        ("uid;x-option=jsmith", 3, "attribute options"),
        ("at_tr=jsmith", 2, "invalid character '_' in attribute type"),
        ("-attr=jsmith", 0, #"invalid attribute type "-attr""#),
        ("1..1=jsmith", 0, "invalid numeric OID"),
        ("1.1.=jsmith", 0, "invalid numeric OID"),
        ("01.1=jsmith", 0, "invalid numeric OID"),
        ("1.ff=jsmith", 0, "invalid numeric OID"),
        ("1.1.1=#GG", 7, "invalid character 'G' in '#' hex value"),
        ("1.1.1=#000", 6, "odd number of hex digits"),
        ("1.1.1=#F", 6, "odd number of hex digits"),
        ("1.1.1=#", 6, "'#' must be followed by hex digits"),
        ("UID=jsmith,,DC=example,DC=net", 11, "expected an attribute type after ','"),
        ("UID=john,smith", 14, #"expected '=' after attribute type "smith""#),
        ("UID=john+smith", 14, #"expected '=' after attribute type "smith""#),
        (#"UID=john\?smith"#, 8, "invalid escape"),
        (#"UID=john\Fsmith"#, 8, "invalid hex escape"),
        (#"UID=john\GGsmith"#, 8, "invalid escape"),
        ("<UID=jsmith,O=example,C=US>", 0, "expected an attribute type, found '<'"),
        ("#'1'B", 0, "expected an attribute type, found '#'"),
        ("#'0010'B", 0, "expected an attribute type, found '#'"),
        ("#'1234'B", 0, "expected an attribute type, found '#'"),
        ("#'12ABCD'B", 0, "expected an attribute type, found '#'"),
    ]

    /// Accepted values of openldap-test-dn.ldif whose parse is worth pinning down.
    static let openLDAPAccepted: [(String, String)] = [
        ("", ""),
        ("OU=Sales+CN=J. Smith,DC=example,DC=net", "cn=j. smith+ou=sales,dc=example,dc=net"),
        (#"CN=\23John Smith\20,DC=example,DC=net"#, ##"cn=\#john smith,dc=example,dc=net"##),
        (
            "testUUID=597ae2f6-16a6-1027-98f4-abcdefABCDEF,DC=Example",
            "testuuid=597ae2f6-16a6-1027-98f4-abcdefabcdef,dc=example"
        ),
        ("1.1.1=", "1.1.1="),
        ("OID.0.9.2342.19200300.100.1.1=jsmith", "uid=jsmith"),
        ("UID=jsmith, O=example, C=US", "uid=jsmith,o=example,c=us"),
        ("UID=jsmith;O=example;C=US", "uid=jsmith,o=example,c=us"),
        (#"CN="John Smith",O=example,C=US"#, "cn=john smith,o=example,c=us"),
        ("dc=example,dc=com#'1000'B", "dc=example,dc=com#'1000'b"),
    ]

    @Test func openLDAPTestDN() throws {
        let lines = try LDIFReader.load("openldap-test-dn.ldif")
        let values = lines.filter { ["dn", "member", "uniquemember", "seealso"].contains($0.name) }
        #expect(values.count > 60)

        var rejected: [String: DNParseError] = [:]
        var accepted: [String: DistinguishedName] = [:]
        for line in values {
            do {
                let dn = try DistinguishedName(parsing: line.value)
                accepted[line.value] = dn
                // Every accepted DN round-trips and its normalised form is stable.
                let reparsed = try DistinguishedName(parsing: dn.description)
                #expect(reparsed == dn, "line \(line.lineNumber)")
                #expect(reparsed.description == dn.description, "line \(line.lineNumber)")
                #expect(try DistinguishedName.normalize(dn.normalized) == dn.normalized, "line \(line.lineNumber)")
            } catch {
                #expect(line.name != "dn", "entry DN rejected at line \(line.lineNumber): \(error)")
                rejected[line.value] = error
            }
        }

        // Exactly the expected values are rejected, each at the expected offset for the expected reason.
        #expect(Set(rejected.keys) == Set(Self.openLDAPRejected.map(\.0)))
        for (value, offset, reason) in Self.openLDAPRejected {
            let error = try #require(rejected[value], "expected \(value) to be rejected")
            #expect(error.offset == offset, "\(value)")
            #expect(error.reason.contains(reason), "\(value): \(error.reason)")
        }
        for (value, normalized) in Self.openLDAPAccepted {
            #expect(try #require(accepted[value], "expected \(value) to be accepted").normalized == normalized)
        }

        // seeAlso repeats member DNs "in a different string representation": each equals some member.
        let members = Set(values.filter { $0.name == "member" }.compactMap { accepted[$0.value] })
        let seeAlso = values.filter { $0.name == "seealso" }
        #expect(seeAlso.count == 3)
        for line in seeAlso {
            let dn = try #require(accepted[line.value])
            #expect(members.contains(dn), "seeAlso at line \(line.lineNumber) matches no member")
        }
    }
}
