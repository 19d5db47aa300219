// RFC 4514 distinguished names: parsing, escaping and normalisation, in one place.
//
// Pure Swift (no Foundation). Everything works on the UTF-8 bytes of the input, because RFC 4514
// escapes (`\C4\8D`) address bytes, not characters.

// MARK: - DistinguishedName

/// A parsed LDAP distinguished name (RFC 4514).
///
/// A DN is a sequence of relative distinguished names (RDNs) from the leaf (first) to the root (last):
/// `uid=alice,ou=People,dc=example,dc=com` has four RDNs, `uid=alice` first. The empty string is the
/// root DN (no RDNs).
///
/// Equality and hashing use ``normalized``, the canonical comparison form, so two DNs written
/// differently by different servers compare equal when a directory would consider them the same entry:
///
/// ```swift
/// let a = try DistinguishedName(parsing: "CN=Alice, OU=People,DC=Example,DC=com")
/// let b = try DistinguishedName(parsing: "cn=alice,ou=people,dc=example,dc=com")
/// a == b  // true
/// ```
///
/// The parser is strict RFC 4514 with the legacy leniencies that real directory data needs (see
/// ``init(parsing:)``); ``description`` always produces strict RFC 4514 text.
public struct DistinguishedName: Hashable, Sendable, CustomStringConvertible {
    /// The RDNs from the leaf (first) to the root (last). Mutating them updates ``normalized``.
    public var rdns: [RelativeDistinguishedName] {
        didSet { self.normalized = Self.normalizedString(self.rdns) }
    }

    /// The canonical comparison form, used by `==` and `hash(into:)`.
    ///
    /// Per attribute: the type is lowercased and common numeric OIDs and long names are mapped to their
    /// short names (`2.5.4.3` and `commonName` → `cn`); the value is unescaped, case-folded (lowercased)
    /// and its insignificant spaces handled as `caseIgnoreMatch` does (leading and trailing whitespace
    /// removed, internal runs collapsed to one space). The components of a multi-valued RDN are sorted,
    /// so `a=1+b=2` and `b=2+a=1` normalise alike. The result is re-serialised with the canonical
    /// escaping of ``DN/escapeValue(_:)`` and no spaces around separators. Binary values (`#hex`) and
    /// values that are not valid UTF-8 normalise to lowercase `#hex`.
    ///
    /// Every value is case-folded, whatever its attribute's matching rule: this is right for the
    /// naming attributes that identity DNs use (`cn`, `uid`, `ou`, `dc`, …), which are all
    /// case-insensitive.
    public private(set) var normalized: String

    /// The root DN (the empty string).
    public static let root = DistinguishedName(rdns: [])

    /// Creates a DN from RDNs ordered from the leaf (first) to the root (last).
    public init(rdns: [RelativeDistinguishedName]) {
        self.rdns = rdns
        self.normalized = Self.normalizedString(rdns)
    }

    /// Parses a DN string (RFC 4514 §3).
    ///
    /// Accepted:
    /// - attribute types as `descr` (`cn`, `userPassword`; case-insensitive) or `numericoid` (`2.5.4.3`),
    ///   also with the legacy `OID.` prefix (`OID.2.5.4.3`, RFC 1779), which is dropped;
    /// - string values with escapes: `\` followed by one of `"+,;<>\=#` or a space, or by two hex digits
    ///   (`\C4\8D`: UTF-8 sequences split over several escapes are reassembled; bytes that are not valid
    ///   UTF-8 are kept as they are, see ``RelativeDistinguishedName/Attribute/value``);
    /// - `#` followed by an even, non-zero number of hex digits: a BER-encoded value, kept as raw bytes;
    /// - multi-valued RDNs joined with `+`;
    /// - the empty string, which is the root DN.
    ///
    /// Legacy forms accepted as RFC 2253 / RFC 1779 (LDAPv2) did, because real data uses them (389-DS
    /// writes `uid=x, ou=People, dc=example,dc=com`):
    /// - spaces around `,`, `+` and `=`, and at the start and end of the string (they are not part of
    ///   the value; an escaped space `\ ` is);
    /// - `;` as an RDN separator, like `,`;
    /// - a value in double quotes (`CN="Smith, John"`), in which `,`, `+`, `;`, `<` and `>` need no
    ///   escaping.
    ///
    /// Rejected, with the offset (counted in `Character`s from the start of `string`) and the reason:
    /// a missing `=`, an empty or invalid attribute type, attribute options (`uid;x-option=…`), an
    /// empty RDN (`a=1,,b=2`, `a=1,`), a bad escape (`\?`, `\F`, `\GG`), a trailing backslash, an
    /// unescaped `"`, `<`, `>` or NUL in a value, a bad `#` value (`#`, `#F`, `#GG`), an unterminated
    /// quoted value, and a string of spaces only.
    public init(parsing string: String) throws(DNParseError) {
        var parser = DNParser(string)
        self.init(rdns: try parser.parse())
    }

    /// The RFC 4514 string form, with minimal escaping (see ``DN/escapeValue(_:)``) and attribute types
    /// as they were written (without any `OID.` prefix). Binary values, and values that are not valid
    /// UTF-8, are written as `#` followed by the lowercase hex of their bytes.
    public var description: String {
        self.rdns.map(\.description).joined(separator: ",")
    }

    /// True for the root DN (no RDNs).
    public var isEmpty: Bool { self.rdns.isEmpty }

    /// The DN of the entry immediately above this one; the root DN for a one-RDN DN, and `nil` only
    /// for the root DN itself.
    public var parent: DistinguishedName? {
        guard !self.rdns.isEmpty else { return nil }
        return DistinguishedName(rdns: Array(self.rdns.dropFirst()))
    }

    /// The DN of `child` directly below this DN (`child` becomes the new leaf RDN).
    public func appending(child: RelativeDistinguishedName) -> DistinguishedName {
        DistinguishedName(rdns: [child] + self.rdns)
    }

    /// True when `self` is `ancestor` or lies anywhere below it, comparing normalised RDNs.
    ///
    /// Every DN is a descendant of the root DN: callers that take a subtree DN from configuration
    /// should refuse an empty one if "everything" is not what they mean.
    public func isDescendant(of ancestor: DistinguishedName) -> Bool {
        guard ancestor.rdns.count <= self.rdns.count else { return false }
        return zip(self.rdns.suffix(ancestor.rdns.count), ancestor.rdns).allSatisfy { $0.normalized == $1.normalized }
    }

    /// Parses `string` and returns its ``normalized`` form.
    public static func normalize(_ string: String) throws(DNParseError) -> String {
        if let fast = Self.normalizePlainASCII(string) { return fast }
        return try DistinguishedName(parsing: string).normalized
    }

    /// The normalised form of a "plain" DN — ASCII, no escapes, quotes, multi-valued RDNs or
    /// characters that need escaping — computed on bytes without building RDN values. This is
    /// almost every DN a directory returns, and a pull normalises one per entry. Nil for anything
    /// else, which then takes the full parser. Must equal `DistinguishedName(parsing:).normalized`
    /// whenever it returns a value (tested over a table and the public LDIF data).
    static func normalizePlainASCII(_ string: String) -> String? {
        var string = string
        return string.withUTF8 { bytes -> String? in
            guard !bytes.isEmpty else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var start = 0
            while start <= bytes.count {
                // One RDN: bytes[start..<end].
                var end = start
                var equals = -1
                while end < bytes.count && bytes[end] != UInt8(ascii: ",") {
                    let byte = bytes[end]
                    switch byte {
                    case UInt8(ascii: "="):
                        guard equals == -1 else { return nil }
                        equals = end
                    case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "+"), UInt8(ascii: "#"),
                        UInt8(ascii: ";"), UInt8(ascii: "<"), UInt8(ascii: ">"):
                        return nil
                    default:
                        guard byte >= 0x20 && byte < 0x7F else { return nil }
                    }
                    end += 1
                }
                guard equals > start else { return nil }
                // Type: trimmed, letters/digits/hyphen (descr) or digits and dots (numericoid).
                var typeStart = start
                var typeEnd = equals
                while typeStart < typeEnd && bytes[typeStart] == 0x20 { typeStart += 1 }
                while typeEnd > typeStart && bytes[typeEnd - 1] == 0x20 { typeEnd -= 1 }
                guard typeStart < typeEnd else { return nil }
                var type: [UInt8] = []
                type.reserveCapacity(typeEnd - typeStart)
                for index in typeStart..<typeEnd {
                    let byte = bytes[index]
                    let isAlnum =
                        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                        || (byte >= 0x61 && byte <= 0x7A)
                    guard isAlnum || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") else { return nil }
                    type.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                }
                // Value: insignificant spaces removed, internal runs collapsed, lowercased.
                var valueStart = equals + 1
                var valueEnd = end
                while valueStart < valueEnd && bytes[valueStart] == 0x20 { valueStart += 1 }
                while valueEnd > valueStart && bytes[valueEnd - 1] == 0x20 { valueEnd -= 1 }
                guard valueStart < valueEnd else { return nil }
                if start > 0 { out.append(UInt8(ascii: ",")) }
                let typeString = String(decoding: type, as: UTF8.self)
                if typeString.hasPrefix("oid.") { return nil }
                if let alias = DNSyntax.typeAliases[typeString] {
                    out.append(contentsOf: alias.utf8)
                } else {
                    // A descr starts with a letter and has no dots; numeric OIDs other than the
                    // known aliases take the full parser, which validates them.
                    guard let first = type.first, first >= 0x61 && first <= 0x7A, !type.contains(0x2E) else {
                        return nil
                    }
                    out.append(contentsOf: type)
                }
                out.append(UInt8(ascii: "="))
                var previousSpace = false
                for index in valueStart..<valueEnd {
                    let byte = bytes[index]
                    if byte == 0x20 {
                        previousSpace = true
                        continue
                    }
                    if previousSpace {
                        out.append(0x20)
                        previousSpace = false
                    }
                    out.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                }
                start = end + 1
                if end == bytes.count { break }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    public static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        lhs.normalized == rhs.normalized
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.normalized)
    }

    private static func normalizedString(_ rdns: [RelativeDistinguishedName]) -> String {
        rdns.map(\.normalized).joined(separator: ",")
    }
}

// MARK: - RelativeDistinguishedName

/// One RDN of a distinguished name: one or more `type=value` attributes (`cn=Alice`, or the
/// multi-valued `ou=Sales+cn=J. Smith`).
///
/// Like ``DistinguishedName``, equality and hashing use the ``normalized`` form; ``Attribute`` compares
/// its fields exactly as stored.
public struct RelativeDistinguishedName: Hashable, Sendable, CustomStringConvertible {
    /// One `type=value` assertion of an RDN.
    public struct Attribute: Hashable, Sendable {
        /// The attribute type as written: a `descr` (`cn`) or a `numericoid` (`2.5.4.3`), without any
        /// legacy `OID.` prefix. Types built in code must be valid (see ``DN/isValidAttributeType(_:)``)
        /// for ``DistinguishedName/description`` to parse back.
        public var type: String

        /// The raw, unescaped value bytes: UTF-8 for string values (possibly invalid UTF-8 when it came
        /// from `\XX` escapes that do not form valid UTF-8), or the BER bytes of a `#hex` value.
        public var value: [UInt8]

        /// True when the value was written as `#` followed by hex (a BER encoding). Such a value is kept
        /// as raw bytes, never case-folded, and always written back as `#hex`.
        public var isBinary: Bool

        /// The value as a string, or `nil` for a binary value or one that is not valid UTF-8.
        public var stringValue: String? {
            guard !self.isBinary else { return nil }
            return String(validating: self.value, as: UTF8.self)
        }

        /// Creates a string-valued attribute.
        public init(type: String, value: String) {
            self.init(type: type, value: Array(value.utf8), isBinary: false)
        }

        /// Creates an attribute from raw bytes; `isBinary` marks a BER-encoded (`#hex`) value.
        public init(type: String, value: [UInt8], isBinary: Bool = false) {
            self.type = type
            self.value = value
            self.isBinary = isBinary
        }

        /// `type=value` in RFC 4514 form.
        var rfc4514: String {
            if let string = self.stringValue {
                return self.type + "=" + DN.escapeValue(string)
            }
            return self.type + "=" + DNSyntax.hexValue(self.value)
        }

        /// `type=value` in canonical form (see ``DistinguishedName/normalized``).
        var canonical: String {
            let type = DNSyntax.canonicalType(self.type)
            guard let string = self.stringValue else {
                return type + "=" + DNSyntax.hexValue(self.value)
            }
            return type + "=" + DN.escapeValue(DNSyntax.foldCase(string))
        }
    }

    /// The attributes of this RDN, in the order written; more than one for a multi-valued RDN.
    /// An RDN must have at least one attribute for its DN to be written back parseably.
    public var attributes: [Attribute] {
        didSet { self.normalized = Self.normalizedString(self.attributes) }
    }

    /// The canonical comparison form of this RDN, with multi-valued components sorted (see
    /// ``DistinguishedName/normalized``).
    public private(set) var normalized: String

    /// Creates a single-valued RDN with a string value, e.g. `RelativeDistinguishedName(type: "uid",
    /// value: "alice")`. The value is stored raw and escaped when the DN is written.
    public init(type: String, value: String) {
        self.init(attributes: [Attribute(type: type, value: value)])
    }

    /// Creates an RDN from its attributes (several for a multi-valued RDN).
    public init(attributes: [Attribute]) {
        self.attributes = attributes
        self.normalized = Self.normalizedString(attributes)
    }

    /// The RFC 4514 form, e.g. `ou=Sales+cn=J. Smith`.
    public var description: String {
        self.attributes.map(\.rfc4514).joined(separator: "+")
    }

    public static func == (lhs: RelativeDistinguishedName, rhs: RelativeDistinguishedName) -> Bool {
        lhs.normalized == rhs.normalized
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.normalized)
    }

    private static func normalizedString(_ attributes: [Attribute]) -> String {
        attributes.map(\.canonical)
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            .joined(separator: "+")
    }
}

// MARK: - Errors

/// Why a string is not a valid DN, and where.
public struct DNParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The string that failed to parse.
    public var input: String
    /// Where the problem is, in `Character`s from the start of ``input``.
    public var offset: Int
    /// What is wrong, e.g. `expected '=' after attribute type "smith"`.
    public var reason: String

    public init(input: String, offset: Int, reason: String) {
        self.input = input
        self.offset = offset
        self.reason = reason
    }

    /// `invalid DN "<input>" at offset N: reason`; control characters in the input are shown as
    /// `\u{…}` so that the message stays on one line.
    public var description: String {
        var shown = ""
        for scalar in self.input.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                shown += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return "invalid DN \"\(shown)\" at offset \(self.offset): \(self.reason)"
    }
}

// MARK: - DN helpers

/// Helpers for building DN strings.
public enum DN {
    /// Escapes a value for use as an RDN attribute value (RFC 4514 §2.4).
    ///
    /// `"`, `+`, `,`, `;`, `<`, `>` and `\` get a backslash; a leading `#` or space and a trailing space
    /// become `\#` and `\ `; NUL and the other ASCII control characters become `\00`…`\1f` and `\7f`
    /// (RFC 4514 requires this only for NUL; the others are escaped so that DNs never carry raw line
    /// breaks into logs). `=` and non-ASCII characters are kept as they are.
    ///
    /// ```swift
    /// "cn=" + DN.escapeValue("Smith, John")  // cn=Smith\, John
    /// ```
    public static func escapeValue(_ value: String) -> String {
        let bytes = Array(value.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 4)
        for (index, byte) in bytes.enumerated() {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
                UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0x00...0x1F, 0x7F:
                out.append(UInt8(ascii: "\\"))
                out.append(DNSyntax.hexDigits[Int(byte >> 4)])
                out.append(DNSyntax.hexDigits[Int(byte & 0x0F)])
            case UInt8(ascii: " ") where index == 0 || index == bytes.count - 1:
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: "#") where index == 0:
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True for a valid attribute type: a `descr` (a letter, then letters, digits and hyphens) or a
    /// `numericoid` (`2.5.4.3`: at least two dot-separated numbers without leading zeros). RFC 4512 §1.4.
    public static func isValidAttributeType(_ type: String) -> Bool {
        DNSyntax.isDescr(type.utf8) || DNSyntax.isNumericOID(type.utf8)
    }
}

// MARK: - Internals shared with LDAPFilter

/// Lexical rules of RFC 4512 / RFC 4514 shared by the DN parser and `LDAPFilter`.
enum DNSyntax {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Maps numeric OIDs and long names of the common naming attributes to their short names.
    static let typeAliases: [String: String] = [
        "2.5.4.3": "cn", "commonname": "cn",
        "2.5.4.11": "ou", "organizationalunitname": "ou",
        "2.5.4.10": "o", "organizationname": "o",
        "0.9.2342.19200300.100.1.25": "dc", "domaincomponent": "dc",
        "0.9.2342.19200300.100.1.1": "uid", "userid": "uid",
        "2.5.4.6": "c", "countryname": "c",
        "2.5.4.7": "l", "localityname": "l",
        "2.5.4.8": "st", "stateorprovincename": "st",
        "2.5.4.9": "street", "streetaddress": "street",
        "2.5.4.4": "sn", "surname": "sn",
    ]

    static func isAlpha(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    static func hexValue(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `keychar` of RFC 4512: a letter, digit or hyphen.
    static func isKeychar(_ byte: UInt8) -> Bool {
        isAlpha(byte) || isDigit(byte) || byte == UInt8(ascii: "-")
    }

    /// `descr = keystring = leadkeychar *keychar` (RFC 4512 §1.4).
    static func isDescr(_ bytes: some Collection<UInt8>) -> Bool {
        guard let first = bytes.first, isAlpha(first) else { return false }
        return bytes.allSatisfy(isKeychar)
    }

    /// `numericoid = number 1*( DOT number )`, `number = DIGIT / ( LDIGIT 1*DIGIT )` (RFC 4512 §1.4).
    static func isNumericOID(_ bytes: some Collection<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.first, part.allSatisfy(isDigit) else { return false }
            return first != UInt8(ascii: "0") || part.count == 1
        }
    }

    /// `#` followed by the lowercase hex of `bytes`.
    static func hexValue(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = [UInt8(ascii: "#")]
        out.reserveCapacity(1 + bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The attribute type lowercased, without an `OID.` prefix, with known OIDs and long names mapped
    /// to short names.
    static func canonicalType(_ type: String) -> String {
        var lower = type.lowercased()
        if lower.hasPrefix("oid.") {
            lower.removeFirst(4)
        }
        return self.typeAliases[lower] ?? lower
    }

    /// Case folding and insignificant-space handling of `caseIgnoreMatch` (RFC 4518 §2.3, §2.6.1),
    /// simplified: lowercase; every whitespace character counts as a space; leading and trailing spaces
    /// removed and internal runs collapsed to one. A value of spaces only becomes one space, so that it
    /// stays distinct from the empty value.
    static func foldCase(_ value: String) -> String {
        if let ascii = Self.foldCaseASCII(value) { return ascii }
        var result = String.UnicodeScalarView()
        var pendingSpace = false
        var sawSpace = false
        for scalar in value.lowercased().unicodeScalars {
            if scalar.properties.isWhitespace {
                sawSpace = true
                pendingSpace = !result.isEmpty
                continue
            }
            if pendingSpace {
                result.append(" ")
                pendingSpace = false
            }
            result.append(scalar)
        }
        if result.isEmpty && sawSpace {
            return " "
        }
        return String(result)
    }

    /// `foldCase` for pure-ASCII values (almost every DN), on bytes: same rules, no Unicode tables.
    /// Nil when the value has a non-ASCII byte.
    private static func foldCaseASCII(_ value: String) -> String? {
        var value = value
        return value.withUTF8 { bytes -> String? in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var pendingSpace = false
            var sawSpace = false
            for byte in bytes {
                guard byte < 0x80 else { return nil }
                // ASCII White_Space: TAB, LF, VT, FF, CR, SPACE.
                if byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                    sawSpace = true
                    pendingSpace = !out.isEmpty
                    continue
                }
                if pendingSpace {
                    out.append(0x20)
                    pendingSpace = false
                }
                out.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
            }
            if out.isEmpty && sawSpace { return " " }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

// MARK: - Parser

/// A one-pass RFC 4514 parser over the UTF-8 bytes of the input.
private struct DNParser {
    let input: String
    let bytes: [UInt8]
    var position = 0

    init(_ input: String) {
        self.input = input
        self.bytes = Array(input.utf8)
    }

    mutating func parse() throws(DNParseError) -> [RelativeDistinguishedName] {
        if self.bytes.isEmpty {
            return []
        }
        if self.bytes.allSatisfy({ $0 == UInt8(ascii: " ") }) {
            throw self.error("a DN of spaces only (the root DN is the empty string)", at: 0)
        }
        var rdns: [RelativeDistinguishedName] = []
        var attributes: [RelativeDistinguishedName.Attribute] = []
        var separator: UInt8?
        while true {
            attributes.append(try self.parseAttributeTypeAndValue(after: separator))
            guard self.position < self.bytes.count else { break }
            // parseAttributeTypeAndValue stops only at the end or at a separator.
            separator = self.bytes[self.position]
            self.position += 1
            if separator != UInt8(ascii: "+") {
                rdns.append(RelativeDistinguishedName(attributes: attributes))
                attributes = []
            }
        }
        rdns.append(RelativeDistinguishedName(attributes: attributes))
        return rdns
    }

    // MARK: attributeTypeAndValue

    private mutating func parseAttributeTypeAndValue(
        after separator: UInt8?
    ) throws(DNParseError) -> RelativeDistinguishedName.Attribute {
        self.skipSpaces()
        let type = try self.parseType(after: separator)
        let (value, isBinary) = try self.parseValue()
        return RelativeDistinguishedName.Attribute(type: type, value: value, isBinary: isBinary)
    }

    private mutating func parseType(after separator: UInt8?) throws(DNParseError) -> String {
        let start = self.position
        while self.position < self.bytes.count, Self.isTypeByte(self.bytes[self.position]) {
            self.position += 1
        }
        let raw = self.bytes[start..<self.position]
        if raw.isEmpty {
            let context = separator.map { " after '\(Character(Unicode.Scalar($0)))'" } ?? ""
            if self.position == self.bytes.count || Self.isSeparator(self.bytes[self.position]) {
                throw self.error("expected an attribute type\(context) (empty RDN)", at: start)
            }
            throw self.error("expected an attribute type\(context), found \(self.describe(at: start))", at: start)
        }
        let typeText = String(decoding: raw, as: UTF8.self)
        var type = raw[...]
        if raw.count > 4, String(decoding: raw.prefix(4), as: UTF8.self).lowercased() == "oid." {
            type = raw.dropFirst(4)
            guard DNSyntax.isNumericOID(type) else {
                throw self.error("invalid numeric OID after the 'OID.' prefix in \"\(typeText)\"", at: start)
            }
        } else if let first = raw.first, DNSyntax.isDigit(first) {
            guard DNSyntax.isNumericOID(raw) else {
                throw self.error("invalid numeric OID \"\(typeText)\" as attribute type", at: start)
            }
        } else if !DNSyntax.isDescr(raw) {
            throw self.error(
                "invalid attribute type \"\(typeText)\" (a letter, then letters, digits or '-')",
                at: start
            )
        }
        let typeEnd = self.position
        self.skipSpaces()
        guard self.position < self.bytes.count else {
            throw self.error("expected '=' after attribute type \"\(typeText)\"", at: self.position)
        }
        switch self.bytes[self.position] {
        case UInt8(ascii: "="):
            self.position += 1
        case UInt8(ascii: ";") where typeEnd == self.position:
            throw self.error("attribute options (';…') are not allowed in a DN attribute type", at: self.position)
        case let byte where typeEnd == self.position && !Self.isSeparator(byte):
            throw self.error(
                "invalid character \(self.describe(at: self.position)) in attribute type",
                at: self.position
            )
        default:
            throw self.error(
                "expected '=' after attribute type \"\(typeText)\", found \(self.describe(at: self.position))",
                at: self.position
            )
        }
        return String(decoding: type, as: UTF8.self)
    }

    // MARK: values

    private mutating func parseValue() throws(DNParseError) -> (value: [UInt8], isBinary: Bool) {
        self.skipSpaces()
        guard self.position < self.bytes.count else { return ([], false) }
        switch self.bytes[self.position] {
        case UInt8(ascii: "#"):
            return (try self.parseHexValue(), true)
        case UInt8(ascii: "\""):
            return (try self.parseQuotedValue(), false)
        default:
            return (try self.parseStringValue(), false)
        }
    }

    /// `string` of RFC 4514 §3, up to the next unescaped separator; unescaped trailing spaces dropped.
    private mutating func parseStringValue() throws(DNParseError) -> [UInt8] {
        var out: [UInt8] = []
        var significantEnd = 0
        while self.position < self.bytes.count {
            let byte = self.bytes[self.position]
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "+"):
                out.removeSubrange(significantEnd...)
                return out
            case UInt8(ascii: "\\"):
                out.append(try self.parseEscape())
                significantEnd = out.count
            case 0x00, UInt8(ascii: "\""), UInt8(ascii: "<"), UInt8(ascii: ">"):
                let escaped = byte == 0 ? "\\00" : "\\\(Character(Unicode.Scalar(byte)))"
                throw self.error(
                    "unescaped \(self.describe(at: self.position)) in value (write \(escaped))",
                    at: self.position
                )
            case UInt8(ascii: " "):
                out.append(byte)
                self.position += 1
            default:
                out.append(byte)
                self.position += 1
                significantEnd = out.count
            }
        }
        out.removeSubrange(significantEnd...)
        return out
    }

    /// `\` + special character or `\` + two hex digits; returns the byte and moves past the escape.
    private mutating func parseEscape() throws(DNParseError) -> UInt8 {
        let start = self.position
        self.position += 1
        guard self.position < self.bytes.count else {
            throw self.error("trailing backslash: '\\' must be followed by a character to escape", at: start)
        }
        let next = self.bytes[self.position]
        if let high = DNSyntax.hexValue(of: next) {
            guard self.position + 1 < self.bytes.count,
                let low = DNSyntax.hexValue(of: self.bytes[self.position + 1])
            else {
                throw self.error("invalid hex escape: '\\' followed by one hex digit needs a second", at: start)
            }
            self.position += 2
            return high << 4 | low
        }
        switch next {
        case UInt8(ascii: "\""), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "<"),
            UInt8(ascii: ">"), UInt8(ascii: "\\"), UInt8(ascii: "="), UInt8(ascii: "#"), UInt8(ascii: " "):
            self.position += 1
            return next
        default:
            throw self.error(
                "invalid escape: '\\' followed by \(self.describe(at: self.position))"
                    + " (only \"+,;<>\\=#, space or two hex digits may follow)",
                at: start
            )
        }
    }

    /// `#` followed by hex pairs (a BER encoding, RFC 4514 §2.4), then optional spaces.
    private mutating func parseHexValue() throws(DNParseError) -> [UInt8] {
        let start = self.position
        self.position += 1
        let digitsStart = self.position
        while self.position < self.bytes.count, DNSyntax.hexValue(of: self.bytes[self.position]) != nil {
            self.position += 1
        }
        let digits = self.bytes[digitsStart..<self.position]
        if self.position < self.bytes.count {
            let byte = self.bytes[self.position]
            if byte != UInt8(ascii: " ") && !Self.isSeparator(byte) {
                throw self.error(
                    "invalid character \(self.describe(at: self.position)) in '#' hex value",
                    at: self.position
                )
            }
        }
        if digits.isEmpty {
            throw self.error("'#' must be followed by hex digits (a BER-encoded value)", at: start)
        }
        if digits.count % 2 != 0 {
            throw self.error("odd number of hex digits in '#' value", at: start)
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            // Both digits are known to be hex.
            let high = DNSyntax.hexValue(of: digits[index]) ?? 0
            let low = DNSyntax.hexValue(of: digits[index + 1]) ?? 0
            out.append(high << 4 | low)
            index += 2
        }
        try self.expectEndOfValue(after: "'#' hex value")
        return out
    }

    /// Legacy (RFC 1779 / RFC 2253) quoted value: `"…"` with `\` escapes, specials allowed inside.
    private mutating func parseQuotedValue() throws(DNParseError) -> [UInt8] {
        let start = self.position
        self.position += 1
        var out: [UInt8] = []
        while true {
            guard self.position < self.bytes.count else {
                throw self.error("unterminated quoted value: no closing '\"'", at: start)
            }
            let byte = self.bytes[self.position]
            switch byte {
            case UInt8(ascii: "\""):
                self.position += 1
                try self.expectEndOfValue(after: "quoted value")
                return out
            case UInt8(ascii: "\\"):
                out.append(try self.parseEscape())
            case 0x00:
                throw self.error("unescaped NUL in value (write \\00)", at: self.position)
            default:
                out.append(byte)
                self.position += 1
            }
        }
    }

    /// Skips spaces and requires the end of the input or a separator.
    private mutating func expectEndOfValue(after what: String) throws(DNParseError) {
        self.skipSpaces()
        if self.position < self.bytes.count && !Self.isSeparator(self.bytes[self.position]) {
            throw self.error(
                "unexpected \(self.describe(at: self.position)) after \(what) (expected ',', '+' or the end)",
                at: self.position
            )
        }
    }

    // MARK: lexical helpers

    private static func isTypeByte(_ byte: UInt8) -> Bool {
        DNSyntax.isKeychar(byte) || byte == UInt8(ascii: ".")
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";") || byte == UInt8(ascii: "+")
    }

    private mutating func skipSpaces() {
        while self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: " ") {
            self.position += 1
        }
    }

    /// A readable name for the character starting at byte `offset`: `'x'`, `NUL`, `U+00E9 'é'`.
    private func describe(at offset: Int) -> String {
        var decoder = UTF8()
        var iterator = self.bytes[offset...].makeIterator()
        guard case .scalarValue(let scalar) = decoder.decode(&iterator) else { return "an invalid byte" }
        switch scalar.value {
        case 0: return "NUL"
        case 0x20: return "a space"
        case 0x21...0x7E: return "'\(Character(scalar))'"
        default:
            let hex = String(scalar.value, radix: 16, uppercase: true)
            let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            return scalar.properties.generalCategory == .control ? code : "\(code) '\(Character(scalar))'"
        }
    }

    /// An error at byte `offset`, reported as a `Character` offset.
    private func error(_ reason: String, at offset: Int) -> DNParseError {
        let utf8 = self.input.utf8
        let index = utf8.index(utf8.startIndex, offsetBy: min(offset, utf8.count))
        return DNParseError(
            input: self.input,
            offset: self.input.distance(from: self.input.startIndex, to: index),
            reason: reason
        )
    }
}
