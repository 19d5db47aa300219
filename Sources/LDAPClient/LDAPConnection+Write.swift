import CLDAP

#if canImport(Glibc)
import Glibc
#endif

/// One change of an LDAP modify (RFC 4511 §4.6).
public struct LDAPModification: Sendable, Hashable {
    public enum Operation: Int32, Sendable, Hashable {
        case add = 0  // LDAP_MOD_ADD
        case delete = 1  // LDAP_MOD_DELETE
        case replace = 2  // LDAP_MOD_REPLACE
    }

    public var operation: Operation
    public var attribute: String
    /// Raw values (binary-safe). An empty list with `delete` removes the whole attribute.
    public var values: [[UInt8]]

    public init(_ operation: Operation, _ attribute: String, values: [[UInt8]]) {
        self.operation = operation
        self.attribute = attribute
        self.values = values
    }

    public init(_ operation: Operation, _ attribute: String, strings: [String]) {
        self.init(operation, attribute, values: strings.map { Array($0.utf8) })
    }
}

extension LDAPConnection {
    /// Modifies an entry (ldap_modify_ext_s). All changes apply or none (the server's rule).
    public func modify(_ dn: String, _ changes: [LDAPModification]) throws(LDAPError) {
        let raw = try self.liveHandle(.modify)
        let rc = withModifications(changes) { mods in ldap_modify_ext_s(raw, dn, mods, nil, nil) }
        guard rc == LDAP_SUCCESS else {
            throw self.lastError(.modify, code: rc, dn: dn)
        }
    }

    /// Adds values to a multi-valued attribute, idempotently: a value that is already there is
    /// success ("attributeOrValueExists"). Values are added one at a time so one present value
    /// does not make the server refuse the others. Returns how many were actually added.
    @discardableResult
    public func addValues(_ dn: String, attribute: String, _ values: [String]) throws(LDAPError) -> Int {
        var added = 0
        for value in values {
            do {
                try self.modify(dn, [LDAPModification(.add, attribute, strings: [value])])
                added += 1
            } catch  where error.code == .attributeOrValueExists {
                continue
            }
        }
        return added
    }

    /// Removes values, idempotently: a value that is not there is success ("noSuchAttribute").
    /// Returns how many were actually removed.
    @discardableResult
    public func removeValues(_ dn: String, attribute: String, _ values: [String]) throws(LDAPError) -> Int {
        var removed = 0
        for value in values {
            do {
                try self.modify(dn, [LDAPModification(.delete, attribute, strings: [value])])
                removed += 1
            } catch  where error.code == .noSuchAttribute {
                continue
            }
        }
        return removed
    }

    /// Sets a user's password with the Password Modify extended operation (RFC 3062), so the
    /// server hashes it by its own policy. `dn` nil changes the bound user's own password.
    public func changePassword(of dn: String?, to newPassword: LDAPSecret, old oldPassword: LDAPSecret? = nil)
        throws(LDAPError)
    {
        let raw = try self.liveHandle(.passwordModify)
        var generated = berval()
        defer { if let value = generated.bv_val { ber_memfree(value) } }
        let rc: Int32 = newPassword.withValue { new in
            withBerval(dn) { user in
                withBerval(new) { newValue in
                    oldPassword.map { old in
                        old.withValue { oldText in
                            withBerval(oldText) { oldValue in
                                ldap_passwd_s(raw, user, oldValue, newValue, &generated, nil, nil)
                            }
                        }
                    } ?? ldap_passwd_s(raw, user, nil, newValue, &generated, nil, nil)
                }
            }
        }
        guard rc == LDAP_SUCCESS else {
            throw self.lastError(.passwordModify, code: rc, dn: dn)
        }
    }

    /// Whether `dn` can bind with `password` on this connection's server (a separate, short-lived
    /// connection; this one is not disturbed). Wrong credentials are `false`; anything else throws.
    public func canBind(_ dn: String, password: LDAPSecret) async throws(LDAPError) -> Bool {
        var options = self.options
        options.urls = [self.url]
        options.bind = .simple(dn: dn, password: password)
        do {
            let probe = try await LDAPConnection.connect(options: options, logger: self.probeLogger)
            await probe.close()
            return true
        } catch  where error.code == .invalidCredentials {
            return false
        }
    }
}

/// Calls `body` with a NULL-terminated `LDAPMod **` for the changes (binary values).
private func withModifications<R>(
    _ changes: [LDAPModification],
    _ body: (UnsafeMutablePointer<UnsafeMutablePointer<LDAPMod>?>) -> R
) -> R {
    var allocations: [UnsafeMutableRawPointer] = []
    defer { for pointer in allocations { free(pointer) } }
    var mods: [UnsafeMutablePointer<LDAPMod>?] = []
    for change in changes {
        let mod = UnsafeMutablePointer<LDAPMod>.allocate(capacity: 1)
        allocations.append(UnsafeMutableRawPointer(mod))
        let type = strdup(change.attribute)!
        allocations.append(UnsafeMutableRawPointer(type))
        let values = UnsafeMutablePointer<UnsafeMutablePointer<berval>?>.allocate(capacity: change.values.count + 1)
        allocations.append(UnsafeMutableRawPointer(values))
        for (index, value) in change.values.enumerated() {
            let bytes = malloc(max(1, value.count))!
            allocations.append(bytes)
            value.withUnsafeBytes { source in
                if let base = source.baseAddress { memcpy(bytes, base, value.count) }
            }
            let entry = UnsafeMutablePointer<berval>.allocate(capacity: 1)
            allocations.append(UnsafeMutableRawPointer(entry))
            entry.initialize(
                to: berval(bv_len: ber_len_t(value.count), bv_val: bytes.assumingMemoryBound(to: CChar.self))
            )
            values[index] = entry
        }
        values[change.values.count] = nil
        var item = LDAPMod()
        item.mod_op = change.operation.rawValue | 0x80  // LDAP_MOD_BVALUES
        item.mod_type = type
        item.mod_vals.modv_bvals = values
        mod.initialize(to: item)
        mods.append(mod)
    }
    mods.append(nil)
    return mods.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// Calls `body` with a `struct berval *` over the UTF-8 of `text` (nil for nil).
private func withBerval<R>(_ text: String?, _ body: (UnsafeMutablePointer<berval>?) -> R) -> R {
    guard let text else { return body(nil) }
    var bytes = Array(text.utf8)
    defer {
        for index in bytes.indices { bytes[index] = 0 }
    }
    return bytes.withUnsafeMutableBufferPointer { buffer in
        var value = berval(
            bv_len: ber_len_t(buffer.count),
            bv_val: UnsafeMutableRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
        )
        return withUnsafeMutablePointer(to: &value) { body($0) }
    }
}
