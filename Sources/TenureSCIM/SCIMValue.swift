public import Foundation

/// A JSON value as SCIM carries it: resources keep every attribute a client sent, known or not
/// (RFC 7643 §3: a resource is a JSON object whose attributes are defined by its schemas; unknown
/// extension attributes are kept, not rejected). Integers that fit `Int` stay integers, so a
/// decoded `42` encodes as `42`.
public enum SCIMValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([SCIMValue])
    case object([String: SCIMValue])
}

/// A JSON object (a resource, a complex attribute, an extension).
public typealias SCIMObject = [String: SCIMValue]

extension SCIMValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([SCIMValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode(SCIMObject.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension SCIMValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: SCIMValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, SCIMValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension SCIMValue {
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var intValue: Int? {
        switch self {
        case .integer(let value): return value
        case .number(let value): return value.rounded() == value ? Int(exactly: value) : nil
        default: return nil
        }
    }

    public var arrayValue: [SCIMValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: SCIMObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The member of an object whose name equals `key` ignoring ASCII case (RFC 7643 §2.1:
    /// attribute names are case insensitive); nil for anything else or a missing member.
    public subscript(key: String) -> SCIMValue? {
        guard let object = self.objectValue else { return nil }
        return object.scimValue(forKey: key)
    }

    /// Compact JSON with sorted keys (equal values give equal bytes) and unescaped slashes.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A `SCIMValue` always encodes (no non-conforming floats come out of JSON); the fallback
        // only guards against a value built in code with NaN or infinity.
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }

    /// `jsonData()` as text.
    public func jsonText() -> String {
        String(decoding: self.jsonData(), as: UTF8.self)
    }

    /// Parses a JSON document; a body that is not JSON is an `invalidSyntax` error (RFC 7644 §3.12).
    public static func parse(_ data: Data) throws(SCIMError) -> SCIMValue {
        do {
            return try JSONDecoder().decode(SCIMValue.self, from: data)
        } catch {
            throw SCIMError.invalidSyntax("the request body is not valid JSON")
        }
    }
}

extension Dictionary where Key == String, Value == SCIMValue {
    /// The actual key that equals `name` ignoring ASCII case (exact match first).
    func scimKey(for name: String) -> String? {
        if self[name] != nil { return name }
        return self.keys.first { asciiCaseInsensitiveEqual($0, name) }
    }

    /// The member named `name`, ignoring ASCII case.
    func scimValue(forKey name: String) -> SCIMValue? {
        self.scimKey(for: name).flatMap { self[$0] }
    }

    /// Sets the member named `name` (ignoring ASCII case: an existing key keeps its spelling).
    mutating func setSCIMValue(_ value: SCIMValue, forKey name: String) {
        self[self.scimKey(for: name) ?? name] = value
    }

    /// Removes the member named `name`, ignoring ASCII case; returns whether there was one.
    @discardableResult
    mutating func removeSCIMValue(forKey name: String) -> Bool {
        guard let key = self.scimKey(for: name) else { return false }
        self[key] = nil
        return true
    }
}

/// Equality ignoring ASCII case only: the same folding as SQLite's `NOCASE`, which the store's
/// unique index on `userName` uses, so a filter and the uniqueness rule agree on what "the same
/// userName" means (RFC 7643 §4.1.1: userName is `caseExact: false`).
func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8
    let y = b.utf8
    guard x.count == y.count else { return false }
    return zip(x, y).allSatisfy { asciiLower($0) == asciiLower($1) }
}

func asciiLower(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
}

func hasASCIICaseInsensitivePrefix(_ text: String, _ prefix: String) -> Bool {
    let t = Array(text.utf8)
    let p = Array(prefix.utf8)
    guard t.count >= p.count else { return false }
    return zip(t, p).allSatisfy { asciiLower($0) == asciiLower($1) }
}
