import CLDAP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Message types (ldap.h: LDAP_RES_SEARCH_ENTRY etc. are casts Swift does not import).
private let resultSearchEntry: Int32 = 0x64
private let resultSearchReference: Int32 = 0x73
private let resultSearchResult: Int32 = 0x65
private let messageOne: Int32 = 0x00  // LDAP_MSG_ONE

/// One complete search over a handle: every page of an RFC 2696 paged search, each message read
/// with `ldap_result` as it arrives (so the client decodes while the server is still sending) and
/// freed at once. All of it runs synchronously on the connection's queue.
struct SearchRun {
    let handle: LDAPHandle
    let url: String
    let request: LDAPSearchRequest
    let timeout: Double

    func run<V: LDAPSearchVisitor>(_ visitor: inout V) throws {
        let raw = try self.handle.live(.search)
        var cookie: [UInt8] = []
        var pageNumber = 0
        var total = 0
        repeat {
            pageNumber += 1
            var ranged: [LDAPEntry] = []
            let page = try self.readPage(raw, cookie: cookie, pageNumber: pageNumber) { entry in
                if entry.attributeNames.contains(where: hasRangeOption) {
                    ranged.append(entry)
                } else {
                    try visitor.visit(entry)
                }
            }
            // Ranged attributes are completed after the page is in, with base-scope reads.
            for var entry in ranged {
                try RangedAttributes.complete(&entry, step: self.request.rangeSize) { dn, description in
                    try self.readOne(raw, dn: dn, attribute: description)
                }
                try visitor.visit(entry)
            }
            total += page.entries
            cookie = page.cookie
            try visitor.pageCompleted(pageNumber: pageNumber, entriesSoFar: total)
        } while self.request.pageSize > 0 && !cookie.isEmpty
    }

    /// Reads one attribute description of one entry (for range retrieval).
    private func readOne(_ raw: OpaquePointer, dn: String, attribute: String) throws -> LDAPEntry {
        let single = SearchRun(
            handle: self.handle,
            url: self.url,
            request: LDAPSearchRequest(base: dn, scope: .base, attributes: [attribute], pageSize: 0),
            timeout: self.timeout
        )
        var collector = CollectingVisitor()
        _ = try single.readPage(raw, cookie: [], pageNumber: 1) { try collector.visit($0) }
        guard let entry = collector.entries.first else {
            throw LDAPError(
                operation: .search,
                code: .noSuchObject,
                server: self.url,
                dn: dn,
                context: "entry vanished during range retrieval of \(attribute)"
            )
        }
        return entry
    }

    private struct Page {
        var entries: Int
        var cookie: [UInt8]
    }

    private func error(_ code: Int32? = nil, context: String? = nil) -> LDAPError {
        self.handle.lastError(.search, code: code, dn: self.request.base, filter: self.request.filter, context: context)
    }

    /// Sends one search request (one page) and consumes its answer message by message.
    private func readPage(
        _ raw: OpaquePointer,
        cookie: [UInt8],
        pageNumber: Int,
        onEntry: (LDAPEntry) throws -> Void
    ) throws -> Page {
        let where_ = "page \(pageNumber)"
        var control: UnsafeMutablePointer<LDAPControl>?
        defer { if let control { ldap_control_free(control) } }
        if self.request.pageSize > 0 {
            var cookieCopy = cookie
            let rc = cookieCopy.withUnsafeMutableBytes { bytes -> Int32 in
                var value = berval(
                    bv_len: ber_len_t(bytes.count),
                    bv_val: bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
                )
                return withUnsafeMutablePointer(to: &value) { pointer in
                    ldap_create_page_control(
                        raw,
                        ber_int_t(self.request.pageSize),
                        bytes.isEmpty ? nil : pointer,
                        1,  // critical: a server that cannot page must fail, not truncate
                        &control
                    )
                }
            }
            guard rc == LDAP_SUCCESS else { throw self.error(rc, context: "\(where_): paged results control") }
        }

        var messageID: Int32 = 0
        let rc = withCStringArray(self.request.attributes) { attributes -> Int32 in
            var controls: [UnsafeMutablePointer<LDAPControl>?] = [control, nil]
            return controls.withUnsafeMutableBufferPointer { controlsBuffer in
                ldap_search_ext(
                    raw,
                    self.request.base,
                    self.request.scope.ldapValue,
                    self.request.filter,
                    attributes,
                    0,
                    control == nil ? nil : controlsBuffer.baseAddress,
                    nil,
                    nil,
                    0,
                    &messageID
                )
            }
        }
        guard rc == LDAP_SUCCESS else { throw self.error(rc, context: where_) }

        var count = 0
        let seconds = self.timeout.rounded(.down)
        while true {
            var message: OpaquePointer?
            var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((self.timeout - seconds) * 1_000_000))
            let type = ldap_result(raw, messageID, messageOne, &timeout, &message)
            defer { if let message { ldap_msgfree(message) } }
            if type == 0 {
                ldap_abandon_ext(raw, messageID, nil, nil)
                throw LDAPError(
                    operation: .search,
                    code: .timeout,
                    server: self.url,
                    dn: self.request.base,
                    filter: self.request.filter,
                    context: "\(where_): no answer within \(self.timeout) s"
                )
            }
            guard type > 0, let message else {
                throw self.error(context: "\(where_) after \(count) entries")
            }
            switch type {
            case resultSearchEntry:
                let entry = try self.decodeEntry(raw, message)
                count += 1
                do {
                    try onEntry(entry)
                } catch {
                    ldap_abandon_ext(raw, messageID, nil, nil)
                    throw error
                }
            case resultSearchReference:
                let targets = self.referrals(raw, message)
                ldap_abandon_ext(raw, messageID, nil, nil)
                throw LDAPError(
                    operation: .search,
                    code: .referral,
                    server: self.url,
                    dn: self.request.base,
                    filter: self.request.filter,
                    context: "\(where_): the server sent a search continuation reference to "
                        + "\(targets.joined(separator: " ")), which Tenure does not follow: "
                        + "the result would be incomplete"
                )
            case resultSearchResult:
                return Page(entries: count, cookie: try self.finish(raw, message, where_))
            default:
                throw LDAPError(
                    operation: .search,
                    code: .decodingError,
                    server: self.url,
                    dn: self.request.base,
                    context: "\(where_): unexpected message type \(type)"
                )
            }
        }
    }

    /// Checks the final result of a page and extracts the next paging cookie.
    private func finish(_ raw: OpaquePointer, _ message: OpaquePointer, _ where_: String) throws -> [UInt8] {
        var code: Int32 = 0
        var matched: UnsafeMutablePointer<CChar>?
        var diagnostic: UnsafeMutablePointer<CChar>?
        var referrals: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var controls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        let rc = ldap_parse_result(raw, message, &code, &matched, &diagnostic, &referrals, &controls, 0)
        defer {
            if let matched { ldap_memfree(matched) }
            if let diagnostic { ldap_memfree(diagnostic) }
            if let referrals {
                ldap_memvfree(UnsafeMutableRawPointer(referrals).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
            }
            if let controls { ldap_controls_free(controls) }
        }
        guard rc == LDAP_SUCCESS else { throw self.error(rc, context: "\(where_): cannot parse the result") }
        guard code == LDAP_SUCCESS else {
            var context = where_
            if code == LDAPResultCode.referral.rawValue {
                context += ": referral to \(stringArray(referrals).joined(separator: " ")) not followed"
            }
            throw LDAPError(
                operation: .search,
                code: LDAPResultCode(rawValue: code),
                diagnosticMessage: diagnostic.map { String(cString: $0) },
                server: self.url,
                dn: self.request.base,
                filter: self.request.filter,
                matchedDN: matched.map { String(cString: $0) },
                context: context
            )
        }
        guard self.request.pageSize > 0 else { return [] }
        guard let controls, let response = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls, nil) else {
            // RFC 2696: a server that honours the critical control must answer with it.
            throw LDAPError(
                operation: .search,
                code: .controlNotFound,
                server: self.url,
                dn: self.request.base,
                filter: self.request.filter,
                context: "\(where_): no paged-results response control; cannot tell whether more pages follow"
            )
        }
        var estimate: ber_int_t = 0
        var next = berval()
        let parsed = ldap_parse_pageresponse_control(raw, response, &estimate, &next)
        defer { if let value = next.bv_val { ber_memfree(value) } }
        guard parsed == LDAP_SUCCESS else { throw self.error(parsed, context: "\(where_): bad paged-results cookie") }
        return copyBytes(next)
    }

    /// Copies a search entry out of libldap's buffers (ldap_get_dn_ber / ldap_get_attribute_ber:
    /// names and values point into the BER buffer, so only the value arrays are allocated).
    private func decodeEntry(_ raw: OpaquePointer, _ message: OpaquePointer) throws -> LDAPEntry {
        var ber: OpaquePointer?
        defer { cldap_ber_free(ber) }
        var dnValue = berval()
        guard ldap_get_dn_ber(raw, message, &ber, &dnValue) == LDAP_SUCCESS else {
            throw self.error(LDAPResultCode.decodingError.rawValue, context: "cannot decode an entry's DN")
        }
        var entry = LDAPEntry(dn: String(decoding: bufferOf(dnValue), as: UTF8.self))
        entry.reserveCapacity(attributes: max(self.request.attributes.count, 8), bytes: 512)
        while true {
            var name = berval()
            var values: UnsafeMutablePointer<berval>?
            let rc = ldap_get_attribute_ber(raw, message, ber, &name, &values)
            guard rc == LDAP_SUCCESS else {
                throw self.error(rc, context: "cannot decode the attributes of \"\(entry.dn)\"")
            }
            guard name.bv_val != nil else { break }
            defer { if let values { ber_memfree(values) } }
            let key = lowercasedASCII(bufferOf(name))
            if entry.attributeNames.contains(key) {
                // The same description twice in one entry (unusual): merge through the slow path.
                var copied: [[UInt8]] = []
                if var cursor = values {
                    while cursor.pointee.bv_val != nil {
                        copied.append(copyBytes(cursor.pointee))
                        cursor += 1
                    }
                }
                entry.append(copied, to: key)
                continue
            }
            entry.beginAttribute(lowercasedName: key)
            if var cursor = values {
                while cursor.pointee.bv_val != nil {
                    entry.appendValue(bufferOf(cursor.pointee))
                    cursor += 1
                }
            }
        }
        return entry
    }

    private func referrals(_ raw: OpaquePointer, _ message: OpaquePointer) -> [String] {
        var refs: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        guard ldap_parse_reference(raw, message, &refs, nil, 0) == LDAP_SUCCESS else { return ["?"] }
        defer {
            if let refs {
                ldap_memvfree(UnsafeMutableRawPointer(refs).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
            }
        }
        return stringArray(refs)
    }
}

extension LDAPSearchScope {
    var ldapValue: Int32 {
        switch self {
        case .base: 0
        case .one: 1
        case .sub: 2
        }
    }
}

/// True for `name;range=…` (keys are lowercased). A byte scan: `String.contains(_:)` builds a
/// substring searcher per call, which cost a quarter of a 100,000-entry pull.
private func hasRangeOption(_ key: String) -> Bool {
    let pattern: [UInt8] = Array(";range=".utf8)
    let bytes = key.utf8
    guard bytes.count > pattern.count else { return false }
    var iterator = bytes.makeIterator()
    var matched = 0
    while let byte = iterator.next() {
        if byte == pattern[matched] {
            matched += 1
            if matched == pattern.count { return true }
        } else {
            matched = byte == pattern[0] ? 1 : 0
        }
    }
    return false
}

/// An attribute description as a lowercased string, in one pass (descriptions are ASCII by
/// RFC 4512; anything else is folded by the standard library).
private func lowercasedASCII(_ bytes: UnsafeRawBufferPointer) -> String {
    guard bytes.allSatisfy({ $0 < 0x80 }) else {
        return String(decoding: bytes, as: UTF8.self).lowercased()
    }
    return String(unsafeUninitializedCapacity: bytes.count) { buffer in
        for (index, byte) in bytes.enumerated() {
            buffer[index] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
        }
        return bytes.count
    }
}

private func bufferOf(_ value: berval) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: value.bv_val, count: Int(value.bv_len))
}

private func copyBytes(_ value: berval) -> [UInt8] {
    guard value.bv_len > 0, let start = value.bv_val else { return [] }
    return Array(UnsafeRawBufferPointer(start: start, count: Int(value.bv_len)))
}

private func stringArray(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard var cursor = array else { return [] }
    var result: [String] = []
    while let item = cursor.pointee {
        result.append(String(cString: item))
        cursor += 1
    }
    return result
}

/// Calls `body` with a NULL-terminated `char **` of the strings (NULL itself for an empty list,
/// which libldap reads as "all user attributes").
private func withCStringArray<R>(
    _ strings: [String],
    _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> R
) -> R {
    guard !strings.isEmpty else { return body(nil) }
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}
