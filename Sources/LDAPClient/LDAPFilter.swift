// RFC 4515 search filters: value escaping, building and a validity check, in one place.

/// Builds and checks LDAP search filter strings (RFC 4515).
///
/// Every value that goes into a filter must pass through ``escape(_:)`` (or ``escape(bytes:)`` for
/// binary values); ``equality(_:_:)`` does it for you:
///
/// ```swift
/// LDAPFilter.and([
///     "(objectClass=person)",
///     LDAPFilter.equality("uid", userInput),   // "(uid=a\2a)" for "a*": no wildcard injection
/// ])
/// ```
///
/// Attribute names are not escaped (there is no escaping for them): callers must check attribute names
/// that come from configuration with ``isValidAttributeDescription(_:)`` when the configuration is
/// loaded, and filters written in configuration with ``isWellFormed(_:)``.
public enum LDAPFilter {
    /// Escapes a value for a filter assertion (RFC 4515 §3): `*` → `\2a`, `(` → `\28`, `)` → `\29`,
    /// `\` → `\5c`, NUL → `\00`. Everything else, non-ASCII UTF-8 included, is kept as is.
    public static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case 0x00, UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"):
                self.appendHexEscape(byte, to: &out)
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes a binary value (an `objectGUID`, an `objectSid`, …) for a filter assertion: ASCII letters
    /// and digits are kept, every other byte becomes `\XX` in lowercase hex.
    public static func escape(bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for byte in bytes {
            if DNSyntax.isAlpha(byte) || DNSyntax.isDigit(byte) {
                out.append(byte)
            } else {
                self.appendHexEscape(byte, to: &out)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `(attribute=value)` with `value` escaped by ``escape(_:)``.
    ///
    /// `attribute` is used as is: it must be a valid attribute description (check configured names with
    /// ``isValidAttributeDescription(_:)`` when the configuration is loaded).
    public static func equality(_ attribute: String, _ value: String) -> String {
        "(" + attribute + "=" + self.escape(value) + ")"
    }

    /// `(&f1f2…)`. A single filter is returned unchanged; no filters give `(&)`, the RFC 4526 absolute
    /// true filter, which matches every entry (and which some servers reject).
    ///
    /// The elements must be complete, parenthesised filters.
    public static func and(_ filters: [String]) -> String {
        self.combine("&", filters)
    }

    /// `(|f1f2…)`. A single filter is returned unchanged; no filters give `(|)`, the RFC 4526 absolute
    /// false filter, which matches nothing (and which some servers reject).
    ///
    /// The elements must be complete, parenthesised filters.
    public static func or(_ filters: [String]) -> String {
        self.combine("|", filters)
    }

    /// A validity check for filters written in configuration (RFC 4515 §3 grammar).
    ///
    /// Checks that the string is one parenthesised filter with nothing before or after it; balanced
    /// parentheses; `&`, `|` and `!` compositions (empty `(&)` and `(|)` are allowed, RFC 4526); items
    /// with a valid attribute description and one of `=`, `~=`, `>=`, `<=` or the extensible form
    /// `attr:dn:rule:=value`; values without raw NUL, `(` or `)`, whose escapes are `\` + two hex digits,
    /// and with `*` only in `=` assertions (present and substring), never two in a row. Spaces between
    /// the filters of a composition are tolerated (common client libraries skip them); spaces before or
    /// after the whole filter are not. Nesting deeper than 100 levels is rejected. It does not know the
    /// schema: unknown attributes and matching rules pass.
    public static func isWellFormed(_ filter: String) -> Bool {
        var validator = FilterValidator(filter)
        return validator.validate()
    }

    /// True for a valid attribute description (RFC 4512 §2.5): an attribute type (a `descr` such as `cn`,
    /// or a `numericoid` such as `2.5.4.3`) followed by zero or more options (`;lang-en`, `;binary`).
    ///
    /// Callers validate configured attribute names with this when the configuration is loaded, before
    /// passing them to ``equality(_:_:)``.
    public static func isValidAttributeDescription(_ description: String) -> Bool {
        self.isValidAttributeDescription(description.utf8)
    }

    static func isValidAttributeDescription(_ bytes: some Collection<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
        guard let type = parts.first, DNSyntax.isDescr(type) || DNSyntax.isNumericOID(type) else { return false }
        return parts.dropFirst().allSatisfy { option in !option.isEmpty && option.allSatisfy(DNSyntax.isKeychar) }
    }

    private static func combine(_ operator: Character, _ filters: [String]) -> String {
        if filters.count == 1 {
            return filters[0]
        }
        return "(" + String(`operator`) + filters.joined() + ")"
    }

    private static func appendHexEscape(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(DNSyntax.hexDigits[Int(byte >> 4)])
        out.append(DNSyntax.hexDigits[Int(byte & 0x0F)])
    }
}

/// A recursive-descent recogniser for the RFC 4515 filter grammar (no tree is built).
private struct FilterValidator {
    static let maxDepth = 100

    let bytes: [UInt8]
    var position = 0

    init(_ filter: String) {
        self.bytes = Array(filter.utf8)
    }

    mutating func validate() -> Bool {
        self.parseFilter(depth: 0) && self.position == self.bytes.count
    }

    /// `filter = "(" filtercomp ")"`
    private mutating func parseFilter(depth: Int) -> Bool {
        guard depth < Self.maxDepth, self.consume("("), let first = self.peek() else { return false }
        switch first {
        case UInt8(ascii: "&"), UInt8(ascii: "|"):
            self.position += 1
            while true {
                self.skipSpaces()
                guard let next = self.peek() else { return false }
                if next == UInt8(ascii: ")") {
                    break
                }
                guard self.parseFilter(depth: depth + 1) else { return false }
            }
        case UInt8(ascii: "!"):
            self.position += 1
            self.skipSpaces()
            guard self.parseFilter(depth: depth + 1) else { return false }
            self.skipSpaces()
        default:
            guard self.parseItem() else { return false }
        }
        return self.consume(")")
    }

    /// `item = simple / present / substring / extensible`
    private mutating func parseItem() -> Bool {
        let start = self.position
        while let byte = self.peek(),
            DNSyntax.isKeychar(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ";")
        {
            self.position += 1
        }
        let attribute = self.bytes[start..<self.position]
        if !attribute.isEmpty && !LDAPFilter.isValidAttributeDescription(attribute) {
            return false
        }
        guard let operatorByte = self.peek() else { return false }
        switch operatorByte {
        case UInt8(ascii: "="):
            self.position += 1
            return !attribute.isEmpty && self.parseValue(allowingAsterisks: true)
        case UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "<"):
            self.position += 1
            return !attribute.isEmpty && self.consume("=") && self.parseValue(allowingAsterisks: false)
        case UInt8(ascii: ":"):
            return self.parseExtensible(hasAttribute: !attribute.isEmpty)
        default:
            return false
        }
    }

    /// `extensible = ( attr [":dn"] [":" matchingrule] ":=" value ) / ( [":dn"] ":" matchingrule ":=" value )`
    private mutating func parseExtensible(hasAttribute: Bool) -> Bool {
        if self.bytes.count >= self.position + 4,
            self.bytes[self.position + 1] | 0x20 == UInt8(ascii: "d"),
            self.bytes[self.position + 2] | 0x20 == UInt8(ascii: "n"),
            self.bytes[self.position + 3] == UInt8(ascii: ":")
        {
            self.position += 3
        }
        var hasRule = false
        if self.peek() == UInt8(ascii: ":"), self.peek(offset: 1) != UInt8(ascii: "=") {
            self.position += 1
            let start = self.position
            while let byte = self.peek(), DNSyntax.isKeychar(byte) || byte == UInt8(ascii: ".") {
                self.position += 1
            }
            let rule = self.bytes[start..<self.position]
            guard DNSyntax.isDescr(rule) || DNSyntax.isNumericOID(rule) else { return false }
            hasRule = true
        }
        guard self.consume(":"), self.consume("="), hasAttribute || hasRule else { return false }
        return self.parseValue(allowingAsterisks: false)
    }

    /// An assertion value up to (not including) the closing `)`: no raw NUL or `(`, escapes are `\XX`,
    /// and `*` (when allowed) never doubled.
    private mutating func parseValue(allowingAsterisks: Bool) -> Bool {
        var previousWasAsterisk = false
        while let byte = self.peek() {
            switch byte {
            case UInt8(ascii: ")"):
                return true
            case 0x00, UInt8(ascii: "("):
                return false
            case UInt8(ascii: "*"):
                guard allowingAsterisks, !previousWasAsterisk else { return false }
                previousWasAsterisk = true
                self.position += 1
                continue
            case UInt8(ascii: "\\"):
                guard let high = self.peek(offset: 1), DNSyntax.hexValue(of: high) != nil,
                    let low = self.peek(offset: 2), DNSyntax.hexValue(of: low) != nil
                else { return false }
                self.position += 3
            default:
                self.position += 1
            }
            previousWasAsterisk = false
        }
        return false
    }

    private func peek(offset: Int = 0) -> UInt8? {
        self.position + offset < self.bytes.count ? self.bytes[self.position + offset] : nil
    }

    private mutating func consume(_ expected: Unicode.Scalar) -> Bool {
        guard self.peek() == UInt8(ascii: expected) else { return false }
        self.position += 1
        return true
    }

    private mutating func skipSpaces() {
        while self.peek() == UInt8(ascii: " ") {
            self.position += 1
        }
    }
}
