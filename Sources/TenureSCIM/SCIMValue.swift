public import Foundation
public import TenureCore

/// A JSON value as SCIM carries it: resources keep every attribute a client sent, known or not
/// (RFC 7643 §3: a resource is a JSON object whose attributes are defined by its schemas; unknown
/// extension attributes are kept, not rejected). Integers that fit `Int` stay integers, so a
/// decoded `42` encodes as `42`.
public typealias SCIMValue = JSONValue

/// A JSON object (a resource, a complex attribute, an extension).
public typealias SCIMObject = JSONObject

extension SCIMValue {
    /// The member of an object whose name equals `key` ignoring ASCII case (RFC 7643 §2.1:
    /// attribute names are case insensitive); nil for anything else or a missing member.
    public subscript(scim key: String) -> SCIMValue? {
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
