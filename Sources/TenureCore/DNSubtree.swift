/// Subtree membership for normalised DNs (RFC 4514 string form, as the directory source produces
/// them), without parsing: `dn` is `base` or below it when it ends with `,` + `base` and that comma
/// separates RDNs. A comma escaped inside a value (`cn=evil\,ou=admins,ou=people,dc=t` is one RDN,
/// a child of `ou=people`) does not: counting the backslashes before it tells (an even run, such as
/// an escaped backslash `\\`, leaves the comma a separator).
public enum DNSubtree {
    /// Whether `dn` equals `base` or lies in the subtree below it; both normalised.
    public static func contains(_ dn: String, base: String) -> Bool {
        if dn == base { return true }
        let dnBytes = dn.utf8
        let baseCount = base.utf8.count
        guard !base.isEmpty, dnBytes.count > baseCount + 1, dn.hasSuffix("," + base) else { return false }
        // The comma sits just before `base`; count the backslashes just before the comma.
        var index = dnBytes.index(dnBytes.endIndex, offsetBy: -(baseCount + 1))
        var backslashes = 0
        while index > dnBytes.startIndex {
            index = dnBytes.index(before: index)
            guard dnBytes[index] == UInt8(ascii: "\\") else { break }
            backslashes += 1
        }
        return backslashes % 2 == 0
    }
}
