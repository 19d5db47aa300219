import TenureCore

/// A PATCH attribute path (RFC 7644 §3.5.2, ABNF in §3.10 / RFC 7644 Figure 1):
/// `[schemaURN ":"] attribute ["." subAttribute]` or `attribute "[" valueFilter "]" ["." subAttribute]`,
/// or a bare extension URN naming the whole extension object.
struct SCIMPath: Hashable, Sendable {
    /// The extension URN, nil for core attributes (with or without the core URN prefix).
    var schema: String?
    /// The attribute; nil when the path names the whole extension `schema`.
    var attribute: String?
    /// The value selection filter of a multi-valued attribute (`emails[type eq "work"]`).
    var filter: SCIMValueFilter?
    var subAttribute: String?
    /// The path as the client wrote it (for error messages).
    var text: String

    /// Parses `text`. `extensions` are the extension URNs the resource declares (its `schemas`),
    /// so a URN path splits at the right colon: `urn:…:enterprise:2.0:User:manager.displayName` is
    /// attribute `manager`, sub-attribute `displayName` of the Enterprise extension. For a URN
    /// Tenure does not know, a path ending `:User` is the whole extension and one containing
    /// `:User:` splits after it (the convention of every User extension URN seen in the wild:
    /// Entra's `urn:ietf:params:scim:schemas:extension:<name>:2.0:User`, Okta's likewise).
    static func parse(_ text: String, extensions: [String]) throws(SCIMError) -> SCIMPath {
        var rest = Substring(text)
        var schema: String?
        if hasASCIICaseInsensitivePrefix(text, "urn:") {
            let candidates = ([SCIMSchema.user] + SCIMSchema.knownExtensions + extensions)
                .sorted { $0.utf8.count > $1.utf8.count }
            var matched = false
            for candidate in candidates {
                if asciiCaseInsensitiveEqual(text, candidate) {
                    guard !asciiCaseInsensitiveEqual(candidate, SCIMSchema.user) else {
                        throw SCIMError.invalidPath(text, "the core schema URN alone names no attribute")
                    }
                    return SCIMPath(schema: candidate, attribute: nil, filter: nil, subAttribute: nil, text: text)
                }
                if hasASCIICaseInsensitivePrefix(text, candidate + ":") {
                    rest = Substring(String(text.utf8.dropFirst(candidate.utf8.count + 1))!)
                    schema = asciiCaseInsensitiveEqual(candidate, SCIMSchema.user) ? nil : candidate
                    matched = true
                    break
                }
            }
            if !matched {
                let head = text.split(separator: "[", maxSplits: 1, omittingEmptySubsequences: false)[0]
                if head.count == text.count, head.lowercased().hasSuffix(":user") {
                    return SCIMPath(schema: text, attribute: nil, filter: nil, subAttribute: nil, text: text)
                }
                // The byte offset of the colon that ends the URN.
                let bytes = Array(head.utf8).map(asciiLower)
                let marker = Array(":user:".utf8)
                let split: Int
                if let start = (0...max(0, bytes.count - marker.count)).first(where: {
                    bytes.count >= marker.count && Array(bytes[$0..<$0 + marker.count]) == marker
                }) {
                    split = start + marker.count - 1
                } else if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
                    split = colon
                } else {
                    throw SCIMError.invalidPath(text, "not an attribute path")
                }
                let utf8 = Array(text.utf8)
                schema = String(decoding: utf8[..<split], as: UTF8.self)
                rest = Substring(String(decoding: utf8[(split + 1)...], as: UTF8.self))
            }
        }
        guard let (attribute, afterAttribute) = Self.name(rest) else {
            throw SCIMError.invalidPath(text, "not an attribute path")
        }
        rest = afterAttribute
        var filter: SCIMValueFilter?
        if rest.first == "[" {
            guard let close = Self.closingBracket(rest) else {
                throw SCIMError.invalidPath(text, "a '[' is not closed")
            }
            filter = try SCIMValueFilter(parsing: String(rest[rest.index(after: rest.startIndex)..<close]), path: text)
            rest = rest[rest.index(after: close)...]
        }
        var subAttribute: String?
        if rest.first == "." {
            guard let (name, afterName) = Self.name(rest.dropFirst()), afterName.isEmpty else {
                throw SCIMError.invalidPath(text, "not an attribute path")
            }
            subAttribute = name
            rest = afterName
        }
        guard rest.isEmpty else {
            throw SCIMError.invalidPath(text, "not an attribute path")
        }
        return SCIMPath(schema: schema, attribute: attribute, filter: filter, subAttribute: subAttribute, text: text)
    }

    /// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA` (RFC 7643 §2.1),
    /// plus `$ref`.
    private static func name(_ text: Substring) -> (String, Substring)? {
        var end = text.startIndex
        while end < text.endIndex {
            let character = text[end]
            let isFirst = end == text.startIndex
            let allowed =
                character.isASCII
                && (character.isLetter || (!isFirst && (character.isNumber || character == "-" || character == "_"))
                    || (isFirst && character == "$"))
            guard allowed else { break }
            end = text.index(after: end)
        }
        guard end > text.startIndex else { return nil }
        let name = String(text[..<end])
        if name.hasPrefix("$"), name != "$ref" { return nil }
        return (name, text[end...])
    }

    /// The `]` closing the `[` that starts `text`, skipping quoted strings.
    private static func closingBracket(_ text: Substring) -> Substring.Index? {
        var inString = false
        var escaped = false
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
            } else if character == "\"" {
                inString = true
            } else if character == "]" {
                return index
            }
            index = text.index(after: index)
        }
        return nil
    }
}

/// The filter inside a PATCH path's brackets: `sub eq value` terms joined by `and`
/// (`emails[type eq "work"]`, `emails[type eq "work" and primary eq true]`). Strings compare
/// ignoring ASCII case (the sub-attributes filtered on — `type`, `value`, `display` — are
/// `caseExact: false` in RFC 7643 §4.1.2).
struct SCIMValueFilter: Hashable, Sendable {
    struct Term: Hashable, Sendable {
        var name: String
        var value: SCIMValue
    }

    var terms: [Term]

    init(parsing text: String, path: String) throws(SCIMError) {
        let tokens = try FilterLexer.tokens(text) { detail in SCIMError.invalidPath(path, detail) }
        var terms: [Term] = []
        var index = 0
        func invalid(_ detail: String) -> SCIMError { SCIMError.invalidPath(path, detail) }
        while true {
            guard index + 2 < tokens.count, case .word(let name) = tokens[index], tokens[index + 1].isKeyword("eq")
            else {
                throw invalid("a value filter is 'sub-attribute eq value' terms joined by 'and'")
            }
            let value: SCIMValue
            switch tokens[index + 2] {
            case .string(let text): value = .string(text)
            case .word(let word) where asciiCaseInsensitiveEqual(word, "true"): value = .bool(true)
            case .word(let word) where asciiCaseInsensitiveEqual(word, "false"): value = .bool(false)
            case .word(let word) where Int(word) != nil: value = .integer(Int(word)!)
            default: throw invalid("a value filter compares with a string, a boolean or an integer")
            }
            terms.append(Term(name: name, value: value))
            index += 3
            if index == tokens.count { break }
            guard tokens[index].isKeyword("and"), index + 1 < tokens.count else {
                throw invalid("a value filter is 'sub-attribute eq value' terms joined by 'and'")
            }
            index += 1
        }
        self.terms = terms
    }

    func matches(_ element: SCIMObject) -> Bool {
        self.terms.allSatisfy { term in
            guard let actual = element.scimValue(forKey: term.name) else { return false }
            switch (actual, term.value) {
            case (.string(let a), .string(let b)): return asciiCaseInsensitiveEqual(a, b)
            case (.integer(let a), .integer(let b)): return a == b
            case (.bool(let a), .bool(let b)): return a == b
            // Entra's pre-2020 "True"/"False" strings in stored-before-normalization data.
            case (.string(let a), .bool(let b)): return asciiCaseInsensitiveEqual(a, b ? "true" : "false")
            default: return false
            }
        }
    }

    /// The value the filter describes (`{"type": "work"}`): what `add` creates when nothing matches.
    var impliedObject: SCIMObject {
        var object: SCIMObject = [:]
        for term in self.terms { object[term.name] = term.value }
        return object
    }
}
