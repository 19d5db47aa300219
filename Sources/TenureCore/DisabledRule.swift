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

extension DisabledRule {
    /// FILETIME of 1970-01-01T00:00:00Z (100 ns intervals since 1601-01-01).
    static let unixEpochAsFileTime: Int64 = 116_444_736_000_000_000
    /// ppolicy's "locked by an administrator, until unlocked" value (draft-behera-ldap-password-policy).
    public static let permanentLockValue = "000001010000Z"

    /// Evaluates the rule for one entry.
    ///
    /// - Parameters:
    ///   - values: the entry's values of an attribute; the rule asks with the name lowercased.
    ///   - normalizedDN: the entry's DN in normalised form.
    ///   - now: the time of the read, in seconds since 1970 (for `accountExpires`).
    /// - Returns: a reason for people ("userAccountControl 514 has ACCOUNTDISABLE (0x2)") when the
    ///   rule says disabled, nil otherwise.
    public func reason(values: (String) -> [String], normalizedDN: String, now: Double) -> String? {
        switch self {
        case .userAccountControl:
            for value in values("useraccountcontrol") {
                guard let flags = Int64(value.trimmingSpaces) else { continue }
                if flags & 0x2 != 0 { return "userAccountControl \(value) has ACCOUNTDISABLE (0x2)" }
            }
            return nil
        case .accountExpires:
            for value in values("accountexpires") {
                guard let fileTime = Int64(value.trimmingSpaces), fileTime != 0, fileTime != Int64.max else {
                    continue
                }
                let nowFileTime = Int64(now * 10_000_000) + Self.unixEpochAsFileTime
                if fileTime <= nowFileTime { return "accountExpires \(value) is in the past" }
            }
            return nil
        case .pwdAccountLockedTime:
            // Only the administrative lock counts. A temporary lockout after failed binds is not a
            // leaver: otherwise anyone could revoke a colleague's roles by mistyping their password.
            for value in values("pwdaccountlockedtime") where value.trimmingSpaces == Self.permanentLockValue {
                return "pwdAccountLockedTime \(value) (locked by an administrator)"
            }
            return nil
        case .nsAccountLock:
            for value in values("nsaccountlock") where value.trimmingSpaces.lowercased() == "true" {
                return "nsAccountLock: \(value)"
            }
            return nil
        case .attributeEquals(let attribute, let expected):
            let wanted = expected.lowercased()
            for value in values(attribute.lowercased()) where value.lowercased() == wanted {
                return "\(attribute) is \"\(value)\""
            }
            return nil
        case .underDN(let base):
            guard !base.isEmpty else { return nil }
            if DNSubtree.contains(normalizedDN, base: base) {
                return "entry is under \"\(base)\""
            }
            return nil
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        var slice = self[...]
        while slice.first == " " { slice.removeFirst() }
        while slice.last == " " { slice.removeLast() }
        return slice
    }
}

extension Int64 {
    fileprivate init?(_ text: Substring) {
        self.init(String(text))
    }
}
