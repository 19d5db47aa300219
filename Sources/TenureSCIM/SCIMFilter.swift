import Foundation
public import TenureCore

/// A search filter (RFC 7644 §3.4.2.2), the subset Tenure answers: `eq` on `id`, `userName`,
/// `externalId`, `active`, `emails.value` (or `emails`) and the Enterprise `employeeNumber`
/// (with or without its schema URN), combined with `and`, `or` and parentheses. That covers what
/// provisioning clients send: Okta looks a user up with `userName eq "…"` before creating it,
/// Microsoft Entra with `userName eq "…"` or `externalId eq "…"` (its matching attributes).
///
/// Attribute names and operators are case insensitive (RFC 7644 §3.4.2.2). Comparisons follow
/// each attribute's `caseExact` (RFC 7643 §4.1, §4.3, §8.7.1): `userName`, `emails.value` and
/// `employeeNumber` ignore (ASCII) case; `id` and `externalId` are exact. Any other operator
/// (`ne`, `co`, `sw`, `pr`, `gt` …), `not`, value filters (`emails[…]`) or another attribute is
/// `invalidFilter` — a 400 the client sees, rather than a silently wrong result.
public indirect enum SCIMFilter: Hashable, Sendable {
    case equals(Attribute, SCIMValue)
    case and(SCIMFilter, SCIMFilter)
    case or(SCIMFilter, SCIMFilter)

    /// The attributes a filter may compare.
    public enum Attribute: String, Hashable, Sendable {
        case id, userName, externalId, active
        case emailValue = "emails.value"
        case employeeNumber
    }

    /// The longest filter accepted, in UTF-8 bytes.
    public static let maximumLength = 4_096
    /// The deepest nesting of parentheses accepted.
    public static let maximumDepth = 32

    /// Parses `text` (the `filter` query parameter, already percent-decoded).
    public init(parsing text: String) throws(SCIMError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw SCIMError.invalidFilter("the filter is longer than \(Self.maximumLength) bytes")
        }
        var parser = FilterParser(tokens: try FilterLexer.tokens(text, error: SCIMError.invalidFilter))
        guard !parser.atEnd else { throw SCIMError.invalidFilter("the filter is empty") }
        self = try parser.expression(depth: 0)
        if let token = parser.peek {
            throw SCIMError.invalidFilter("unexpected \(token.description) after a complete filter")
        }
    }

    /// Whether the user (with its SCIM `id`) matches.
    public func matches(_ user: SCIMUser, id: String?) -> Bool {
        switch self {
        case .and(let left, let right):
            return left.matches(user, id: id) && right.matches(user, id: id)
        case .or(let left, let right):
            return left.matches(user, id: id) || right.matches(user, id: id)
        case .equals(let attribute, let value):
            switch (attribute, value) {
            case (.id, .string(let text)): return id == text
            case (.userName, .string(let text)): return asciiCaseInsensitiveEqual(user.userName, text)
            case (.externalId, .string(let text)): return user.externalId == text
            case (.active, .bool(let flag)): return user.active == flag
            case (.emailValue, .string(let text)):
                return user.emails.contains { $0.value.map { asciiCaseInsensitiveEqual($0, text) } ?? false }
            case (.employeeNumber, .string(let text)):
                return user.employeeNumber.map { asciiCaseInsensitiveEqual($0, text) } ?? false
            default: return false
            }
        }
    }

    /// The equalities every match must satisfy: the `eq` terms of the filter's top-level `and`
    /// chain (none under an `or`). A store can select on them first (indexes) and still evaluate
    /// the whole filter on what it finds; they never exclude a match.
    public var requiredEqualities: SCIMFilterEqualities {
        var out = SCIMFilterEqualities()
        self.collect(into: &out)
        return out
    }

    private func collect(into out: inout SCIMFilterEqualities) {
        switch self {
        case .or:
            return
        case .and(let left, let right):
            left.collect(into: &out)
            right.collect(into: &out)
        case .equals(let attribute, let value):
            switch (attribute, value) {
            case (.id, .string(let text)): out.id = out.id ?? text
            case (.userName, .string(let text)): out.userName = out.userName ?? text
            case (.externalId, .string(let text)): out.externalId = out.externalId ?? text
            case (.active, .bool(let flag)): out.active = out.active ?? flag
            case (.employeeNumber, .string(let text)): out.employeeNumber = out.employeeNumber ?? text
            default: break
            }
        }
    }

    /// The attribute a filter's attribute path names, or nil when Tenure does not filter on it.
    static func attribute(_ path: String) -> Attribute? {
        var name = path
        let corePrefix = SCIMSchema.user + ":"
        let enterprisePrefix = SCIMSchema.enterpriseUser + ":"
        if hasASCIICaseInsensitivePrefix(name, corePrefix) {
            name = String(name.utf8.dropFirst(corePrefix.utf8.count))!
        } else if hasASCIICaseInsensitivePrefix(name, enterprisePrefix) {
            let rest = String(name.utf8.dropFirst(enterprisePrefix.utf8.count))!
            return asciiCaseInsensitiveEqual(rest, "employeeNumber") ? .employeeNumber : nil
        }
        let pairs: [(String, Attribute)] = [
            ("id", .id), ("userName", .userName), ("externalId", .externalId), ("active", .active),
            ("emails.value", .emailValue), ("emails", .emailValue), ("employeeNumber", .employeeNumber),
        ]
        return pairs.first { asciiCaseInsensitiveEqual($0.0, name) }?.1
    }
}

/// The equality constraints every match of a filter satisfies (see `SCIMFilter.requiredEqualities`):
/// `userName` and `employeeNumber` compared ignoring ASCII case, the others exactly.
public struct SCIMFilterEqualities: Hashable, Sendable {
    public var id: String?
    public var userName: String?
    public var externalId: String?
    public var employeeNumber: String?
    public var active: Bool?

    public init(
        id: String? = nil,
        userName: String? = nil,
        externalId: String? = nil,
        employeeNumber: String? = nil,
        active: Bool? = nil
    ) {
        self.id = id
        self.userName = userName
        self.externalId = externalId
        self.employeeNumber = employeeNumber
        self.active = active
    }
}

// MARK: - Lexer (shared with PATCH value filters)

enum FilterToken: Hashable, CustomStringConvertible {
    case word(String)
    case string(String)
    case open, close, openBracket, closeBracket

    var description: String {
        switch self {
        case .word(let word): return "'\(word)'"
        case .string: return "a string"
        case .open: return "'('"
        case .close: return "')'"
        case .openBracket: return "'['"
        case .closeBracket: return "']'"
        }
    }

    func isKeyword(_ keyword: String) -> Bool {
        if case .word(let word) = self { return asciiCaseInsensitiveEqual(word, keyword) }
        return false
    }
}

enum FilterLexer {
    static func tokens(_ text: String, error: (String) -> SCIMError) throws(SCIMError) -> [FilterToken] {
        let bytes = Array(text.utf8)
        var tokens: [FilterToken] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "("):
                tokens.append(.open)
                index += 1
            case UInt8(ascii: ")"):
                tokens.append(.close)
                index += 1
            case UInt8(ascii: "["):
                tokens.append(.openBracket)
                index += 1
            case UInt8(ascii: "]"):
                tokens.append(.closeBracket)
                index += 1
            case UInt8(ascii: "\""):
                // A JSON string (RFC 7644 §3.4.2.2: string values are JSON strings).
                var end = index + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard end < bytes.count,
                    let literal = try? JSONDecoder().decode(String.self, from: Data(bytes[index...end]))
                else {
                    throw error("a string literal is not terminated or has a bad escape")
                }
                tokens.append(.string(literal))
                index = end + 1
            default:
                var end = index
                while end < bytes.count,
                    ![
                        UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
                        UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"),
                        UInt8(ascii: "\""),
                    ].contains(bytes[end])
                {
                    end += 1
                }
                tokens.append(.word(String(decoding: bytes[index..<end], as: UTF8.self)))
                index = end
            }
        }
        return tokens
    }
}

private let unsupportedOperators = ["ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]

private struct FilterParser {
    let tokens: [FilterToken]
    var index = 0

    var atEnd: Bool { self.index == self.tokens.count }
    var peek: FilterToken? { self.atEnd ? nil : self.tokens[self.index] }

    mutating func next() -> FilterToken? {
        defer { if !self.atEnd { self.index += 1 } }
        return self.peek
    }

    mutating func expression(depth: Int) throws(SCIMError) -> SCIMFilter {
        var left = try self.conjunction(depth: depth)
        while self.peek?.isKeyword("or") == true {
            self.index += 1
            left = .or(left, try self.conjunction(depth: depth))
        }
        return left
    }

    mutating func conjunction(depth: Int) throws(SCIMError) -> SCIMFilter {
        var left = try self.factor(depth: depth)
        while self.peek?.isKeyword("and") == true {
            self.index += 1
            left = .and(left, try self.factor(depth: depth))
        }
        return left
    }

    mutating func factor(depth: Int) throws(SCIMError) -> SCIMFilter {
        guard let token = self.next() else {
            throw SCIMError.invalidFilter("the filter ends where a comparison should be")
        }
        switch token {
        case .open:
            guard depth < SCIMFilter.maximumDepth else {
                throw SCIMError.invalidFilter("parentheses nest deeper than \(SCIMFilter.maximumDepth)")
            }
            let inner = try self.expression(depth: depth + 1)
            guard self.next() == .close else { throw SCIMError.invalidFilter("a '(' is not closed") }
            return inner
        case .word(let word) where asciiCaseInsensitiveEqual(word, "not"):
            throw SCIMError.invalidFilter("'not' is not supported")
        case .word(let path):
            return try self.comparison(path)
        default:
            throw SCIMError.invalidFilter("expected an attribute, found \(token.description)")
        }
    }

    mutating func comparison(_ path: String) throws(SCIMError) -> SCIMFilter {
        if self.peek == .openBracket {
            throw SCIMError.invalidFilter("value filters ('\(path)[…]') are not supported")
        }
        guard case .word(let op)? = self.next() else {
            throw SCIMError.invalidFilter("expected an operator after '\(path)'")
        }
        guard asciiCaseInsensitiveEqual(op, "eq") else {
            if unsupportedOperators.contains(where: { asciiCaseInsensitiveEqual($0, op) }) {
                throw SCIMError.invalidFilter("operator '\(op)' is not supported (only eq)")
            }
            throw SCIMError.invalidFilter("'\(op)' is not a filter operator")
        }
        guard let attribute = SCIMFilter.attribute(path) else {
            throw SCIMError.invalidFilter("filtering on '\(path)' is not supported")
        }
        let value: SCIMValue
        switch self.next() {
        case .string(let text)?:
            value = .string(text)
        case .word(let word)? where asciiCaseInsensitiveEqual(word, "true"):
            value = .bool(true)
        case .word(let word)? where asciiCaseInsensitiveEqual(word, "false"):
            value = .bool(false)
        case nil:
            throw SCIMError.invalidFilter("'\(path) eq' needs a value")
        case let other?:
            throw SCIMError.invalidFilter("\(other.description) is not a value '\(path)' can equal")
        }
        let isBoolean = attribute == .active
        guard isBoolean == (value.boolValue != nil) else {
            throw SCIMError.invalidFilter("'\(path)' compares with a \(isBoolean ? "boolean" : "string")")
        }
        return .equals(attribute, value)
    }
}
