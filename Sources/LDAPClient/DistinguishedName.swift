// STUB — to be replaced by the DN helper (RFC 4514 parsing, escaping, normalisation).

/// A parsed LDAP distinguished name (RFC 4514).
public struct DistinguishedName: Hashable, Sendable, CustomStringConvertible {
    /// RDNs from the leaf (first) to the root (last).
    public var rdns: [RelativeDistinguishedName]

    /// Parses an RFC 4514 string. Throws `DNParseError` naming the offset and the problem.
    public init(parsing string: String) throws(DNParseError) {
        self.rdns = []
        fatalError("stub")
    }

    /// Canonical form for comparison: attribute types lowercased (known OIDs → short names),
    /// values unescaped, case-folded, insignificant spaces removed, then re-escaped canonically.
    public var normalized: String { fatalError("stub") }

    /// The RFC 4514 string form with minimal escaping.
    public var description: String { fatalError("stub") }

    /// True when `self` is `ancestor` or lies below it.
    public func isDescendant(of ancestor: DistinguishedName) -> Bool { fatalError("stub") }
}

public struct RelativeDistinguishedName: Hashable, Sendable {
    public var attributes: [(type: String, value: String)] {
        fatalError("stub")
    }
}

public struct DNParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var input: String
    public var offset: Int
    public var reason: String
    public var description: String { "invalid DN at offset \(self.offset): \(self.reason)" }
}

public enum DN {
    /// Escapes a value for use as an RDN attribute value (RFC 4514 §2.4).
    public static func escapeValue(_ value: String) -> String { fatalError("stub") }
}
