// STUB — to be replaced by the filter helper (RFC 4515 escaping).

public enum LDAPFilter {
    /// Escapes a value for an RFC 4515 filter assertion: `*`, `(`, `)`, `\`, NUL → `\2a` …
    public static func escape(_ value: String) -> String { fatalError("stub") }

    /// `(attribute=value)` with the value escaped.
    public static func equality(_ attribute: String, _ value: String) -> String { fatalError("stub") }
}
