/// The scope of an LDAP search.
public enum LDAPSearchScope: String, Sendable, Hashable, Codable, CaseIterable {
    case base
    case one
    case sub
}
