/// One entry read from the directory. Values are raw bytes (a `berval` is pointer + length, not a
/// C string): binary attributes such as `objectGUID` and values holding NUL survive intact.
/// Attribute names are kept as the server returned them; look-ups are case-insensitive.
public struct LDAPEntry: Sendable, Hashable {
    public var dn: String
    /// Attribute descriptions (lowercased) → values.
    public internal(set) var attributes: [String: [[UInt8]]]

    public init(dn: String, attributes: [String: [[UInt8]]] = [:]) {
        self.dn = dn
        self.attributes = [:]
        for (name, values) in attributes {
            self.attributes[name.lowercased(), default: []].append(contentsOf: values)
        }
    }

    /// Raw values of an attribute (case-insensitive name); empty when absent.
    public func values(_ attribute: String) -> [[UInt8]] {
        self.attributes[attribute] ?? self.attributes[attribute.lowercased()] ?? []
    }

    /// Values decoded as UTF-8 (invalid sequences repaired with U+FFFD).
    public func strings(_ attribute: String) -> [String] {
        self.values(attribute).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first value as a string.
    public func string(_ attribute: String) -> String? {
        self.values(attribute).first.map { String(decoding: $0, as: UTF8.self) }
    }

    public mutating func setValues(_ values: [[UInt8]], for attribute: String) {
        self.attributes[attribute.lowercased()] = values
    }

    public mutating func removeAttribute(_ attribute: String) {
        self.attributes[attribute.lowercased()] = nil
    }

    /// Adds values to an attribute (case-insensitive name).
    public mutating func append(_ values: [[UInt8]], to attribute: String) {
        self.attributes[attribute.lowercased(), default: []].append(contentsOf: values)
    }
}

/// A search request. Results always come complete (every page) or as an error.
public struct LDAPSearchRequest: Sendable, Hashable {
    public var base: String
    public var scope: LDAPSearchScope
    public var filter: String
    /// Attributes to return; empty means all user attributes.
    public var attributes: [String]
    /// RFC 2696 page size; 0 disables paging (for base-scope reads).
    public var pageSize: Int
    /// Values per step when completing ranged attributes (`member;range=0-1499`).
    public var rangeSize: Int

    public init(
        base: String,
        scope: LDAPSearchScope = .sub,
        filter: String = "(objectClass=*)",
        attributes: [String] = [],
        pageSize: Int = 500,
        rangeSize: Int = 1500
    ) {
        self.base = base
        self.scope = scope
        self.filter = filter
        self.attributes = attributes
        self.pageSize = pageSize
        self.rangeSize = rangeSize
    }
}

/// Receives the entries of a search, one at a time, on the connection's own serial queue.
///
/// A visitor is a value: the connection takes it in, calls it for every entry and page, and hands
/// it back when the search is complete. If the search fails, the visitor is dropped with the error,
/// so a partial result never escapes.
public protocol LDAPSearchVisitor: Sendable {
    /// Called for each complete entry (ranged attributes already completed).
    mutating func visit(_ entry: LDAPEntry) throws
    /// Called after each page with the running total of entries.
    mutating func pageCompleted(pageNumber: Int, entriesSoFar: Int) throws
}

extension LDAPSearchVisitor {
    public mutating func pageCompleted(pageNumber: Int, entriesSoFar: Int) throws {}
}

/// A visitor that collects every entry in memory (tests and small reads).
public struct CollectingVisitor: LDAPSearchVisitor {
    public var entries: [LDAPEntry] = []
    public init() {}
    public mutating func visit(_ entry: LDAPEntry) throws {
        self.entries.append(entry)
    }
}
