/// How the directory says an account is disabled. An identity is disabled when any configured
/// rule matches. Rules read plain attribute values (as the directory returns them, strings);
/// DNs are compared in their normalised form, which the caller provides.
public enum DisabledRule: Hashable, Sendable, Codable {
    /// Active Directory `userAccountControl` with bit 0x2 (ACCOUNTDISABLE) set.
    case userAccountControl
    /// Active Directory `accountExpires` (FILETIME, 100 ns since 1601-01-01 UTC) in the past.
    /// 0 and 0x7FFFFFFFFFFFFFFF mean "never".
    case accountExpires
    /// OpenLDAP ppolicy `pwdAccountLockedTime` present.
    case pwdAccountLockedTime
    /// 389-DS / Red Hat DS `nsAccountLock: true`.
    case nsAccountLock
    /// An attribute has a value equal (case-insensitively) to `value`.
    case attributeEquals(attribute: String, value: String)
    /// The entry lies at or below this normalised DN (a "disabled users" OU).
    case underDN(String)
}
