/// One entry read from the directory. Values are raw bytes (a `berval` is pointer + length, not a
/// C string): binary attributes such as `objectGUID` and values holding NUL survive intact.
/// Attribute names are lowercased; look-ups are case-insensitive.
///
/// Storage is flat — every value of the entry in one byte buffer, with offset tables — so decoding
/// an entry costs a handful of allocations instead of one per value (a pull decodes 100,000s).
public struct LDAPEntry: Sendable {
    public var dn: String
    /// Lowercased attribute descriptions, in the order received.
    public private(set) var attributeNames: [String] = []
    /// Attribute `i` has the values `valueStarts[i]..<valueStarts[i + 1]`.
    private var valueStarts: [Int32] = [0]
    /// Value `j` is `bytes[byteStarts[j]..<byteStarts[j + 1]]`.
    private var byteStarts: [Int32] = [0]
    private var bytes: [UInt8] = []

    public init(dn: String, attributes: [String: [[UInt8]]] = [:]) {
        self.dn = dn
        for name in attributes.keys.sorted() {
            self.append(attributes[name]!, to: name)
        }
    }

    /// All attributes as a dictionary (lowercased names). Allocates; for the rare paths.
    public var attributes: [String: [[UInt8]]] {
        var result: [String: [[UInt8]]] = [:]
        for (index, name) in self.attributeNames.enumerated() {
            result[name] = self.values(at: index)
        }
        return result
    }

    private func index(of attribute: String) -> Int? {
        if let index = self.attributeNames.firstIndex(of: attribute) { return index }
        let lower = attribute.lowercased()
        return lower == attribute ? nil : self.attributeNames.firstIndex(of: lower)
    }

    private func values(at index: Int) -> [[UInt8]] {
        (Int(self.valueStarts[index])..<Int(self.valueStarts[index + 1])).map { value in
            Array(self.bytes[Int(self.byteStarts[value])..<Int(self.byteStarts[value + 1])])
        }
    }

    private func string(value: Int) -> String {
        self.bytes.withUnsafeBufferPointer { buffer in
            String(
                decoding: UnsafeBufferPointer(
                    rebasing: buffer[Int(self.byteStarts[value])..<Int(self.byteStarts[value + 1])]
                ),
                as: UTF8.self
            )
        }
    }

    /// True when the attribute has at least one value.
    public func contains(_ attribute: String) -> Bool {
        self.index(of: attribute).map { self.valueStarts[$0] < self.valueStarts[$0 + 1] } ?? false
    }

    /// Raw values of an attribute (case-insensitive name); empty when absent.
    public func values(_ attribute: String) -> [[UInt8]] {
        self.index(of: attribute).map(self.values(at:)) ?? []
    }

    /// The number of values of an attribute.
    public func count(_ attribute: String) -> Int {
        self.index(of: attribute).map { Int(self.valueStarts[$0 + 1] - self.valueStarts[$0]) } ?? 0
    }

    /// Values decoded as UTF-8 (invalid sequences repaired with U+FFFD).
    public func strings(_ attribute: String) -> [String] {
        guard let index = self.index(of: attribute) else { return [] }
        return (Int(self.valueStarts[index])..<Int(self.valueStarts[index + 1])).map(self.string(value:))
    }

    /// The first value as a string.
    public func string(_ attribute: String) -> String? {
        guard let index = self.index(of: attribute), self.valueStarts[index] < self.valueStarts[index + 1] else {
            return nil
        }
        return self.string(value: Int(self.valueStarts[index]))
    }

    /// The first value's bytes.
    public func firstValue(_ attribute: String) -> [UInt8]? {
        guard let index = self.index(of: attribute), self.valueStarts[index] < self.valueStarts[index + 1] else {
            return nil
        }
        let value = Int(self.valueStarts[index])
        return Array(self.bytes[Int(self.byteStarts[value])..<Int(self.byteStarts[value + 1])])
    }

    public mutating func setValues(_ values: [[UInt8]], for attribute: String) {
        var all = self.attributes
        all[attribute.lowercased()] = values
        self = LDAPEntry(dn: self.dn, attributes: all)
    }

    public mutating func removeAttribute(_ attribute: String) {
        var all = self.attributes
        all[attribute.lowercased()] = nil
        self = LDAPEntry(dn: self.dn, attributes: all)
    }

    /// Adds values to an attribute (case-insensitive name).
    public mutating func append(_ values: [[UInt8]], to attribute: String) {
        let name = attribute.lowercased()
        guard !self.attributeNames.contains(name) else {
            var all = self.attributes
            all[name, default: []].append(contentsOf: values)
            self = LDAPEntry(dn: self.dn, attributes: all)
            return
        }
        self.beginAttribute(lowercasedName: name)
        for value in values {
            value.withUnsafeBytes { self.appendValue($0) }
        }
    }

    // MARK: - Decoder fast path

    /// Starts a new attribute (the name must be lowercased and not present yet).
    mutating func beginAttribute(lowercasedName name: String) {
        self.attributeNames.append(name)
        self.valueStarts.append(self.valueStarts[self.valueStarts.count - 1])
    }

    /// Adds a value to the attribute begun last.
    mutating func appendValue(_ value: UnsafeRawBufferPointer) {
        self.bytes.append(contentsOf: value)
        self.byteStarts.append(Int32(self.bytes.count))
        self.valueStarts[self.valueStarts.count - 1] += 1
    }

    mutating func reserveCapacity(attributes: Int, bytes: Int) {
        self.attributeNames.reserveCapacity(attributes)
        self.valueStarts.reserveCapacity(attributes + 1)
        self.byteStarts.reserveCapacity(attributes + 1)
        self.bytes.reserveCapacity(bytes)
    }
}

extension LDAPEntry: Hashable {
    public static func == (lhs: LDAPEntry, rhs: LDAPEntry) -> Bool {
        lhs.dn == rhs.dn && lhs.attributes == rhs.attributes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.dn)
        hasher.combine(self.attributes)
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
    /// Values asked for per step when completing ranged attributes (`member;range=1500-2999`);
    /// 0 asks for as many as the server will give (`member;range=1500-*`).
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
