import Foundation
import TenureAccess
import TenureCore

/// The OpenAPI document as the tests read it: operations, `$ref` resolution, and the documented
/// statuses and media types of each operation.
struct OpenAPIDocument {
    /// One documented operation.
    struct Operation {
        var path: String
        /// Lowercased, as the document spells it (`get`, `post`, …).
        var method: String
        var value: JSONValue

        var id: String { self.value["operationId"]?.stringValue ?? "\(self.method.uppercased()) \(self.path)" }
        var responses: [String: JSONValue] { self.value["responses"]?.objectValue ?? [:] }
        var statuses: Set<Int> { Set(self.responses.keys.compactMap { Int($0) }) }
        var parameters: [JSONValue] { self.value["parameters"]?.arrayValue ?? [] }
        /// `[]` for the open paths; nil when the operation does not say.
        var security: [JSONValue]? { self.value["security"]?.arrayValue }
    }

    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    let root: JSONValue

    init(data: Data) throws {
        self.root = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    var version: String? { self.root["openapi"]?.stringValue }

    var operations: [Operation] {
        var operations: [Operation] = []
        for (path, item) in self.root["paths"]?.objectValue ?? [:] {
            for (method, value) in item.objectValue ?? [:] where Self.methods.contains(method) {
                operations.append(Operation(path: path, method: method, value: value))
            }
        }
        return operations.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    /// Follows `$ref` (local references only: `#/components/…`) until the value is not one.
    func resolve(_ value: JSONValue) -> JSONValue {
        var value = value
        var seen: Set<String> = []
        while let reference = value["$ref"]?.stringValue {
            guard !seen.contains(reference), let target = self.pointer(reference) else { return .null }
            seen.insert(reference)
            value = target
        }
        return value
    }

    /// The value at a local JSON pointer (`#/components/schemas/Problem`).
    func pointer(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var value = self.root
        for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = value[key] else { return nil }
            value = next
        }
        return value
    }

    /// The documented response of an operation for a status (resolved), nil when undocumented.
    func response(_ operation: Operation, status: Int) -> JSONValue? {
        operation.responses[String(status)].map(self.resolve)
    }

    /// The media types (lowercased, no parameters) documented for a response, and their schemas.
    func content(of response: JSONValue) -> [String: JSONValue] {
        var content: [String: JSONValue] = [:]
        for (media, value) in response["content"]?.objectValue ?? [:] {
            content[mediaType(media)] = self.resolve(value)["schema"] ?? .object([:])
        }
        return content
    }

    /// Every local `$ref` in the document, with where it is.
    func references() -> [(reference: String, at: String)] {
        var found: [(String, String)] = []
        func walk(_ value: JSONValue, _ at: String) {
            switch value {
            case .object(let object):
                if let reference = object["$ref"]?.stringValue { found.append((reference, at)) }
                for (key, member) in object { walk(member, at + "/" + key) }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(at)/\(index)") }
            default:
                break
            }
        }
        walk(self.root, "#")
        return found
    }
}

/// `application/problem+json; charset=utf-8` → `application/problem+json`.
func mediaType(_ contentType: String) -> String {
    String(contentType.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces)
        .lowercased()
}

/// A JSON Schema validator for the subset the document uses: `type` (a name or a list), `enum`,
/// `required`, `properties`, `additionalProperties` (a boolean or a schema), `items`, `allOf` and
/// `$ref` to the document's components. Annotations and the constraints it does not check
/// (`format`, `minimum`, `pattern`, …) are listed in `ignored`; any other keyword is an error, so
/// the document cannot quietly use something this validator would skip (schemathesis checks the
/// whole dialect).
struct SchemaValidator {
    static let checked: Set<String> = [
        "type", "enum", "required", "properties", "additionalProperties", "items", "allOf", "$ref",
    ]
    static let ignored: Set<String> = [
        "description", "format", "minimum", "maximum", "minItems", "minLength", "pattern", "title", "examples",
    ]

    let document: OpenAPIDocument

    /// Every violation, each naming the JSON path of the value (`$.context.reason`).
    func validate(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(let keywords) = schema else {
            if case .bool(false) = schema { return ["\(path): no value is allowed here"] }
            return []
        }
        var errors: [String] = []
        for key in keywords.keys where !Self.checked.contains(key) && !Self.ignored.contains(key) {
            errors.append("\(path): the schema uses `\(key)`, which this validator does not know")
        }
        if let reference = keywords["$ref"]?.stringValue {
            guard let target = self.document.pointer(reference) else {
                return errors + ["\(path): unresolved $ref \(reference)"]
            }
            errors += self.validate(value, target, at: path)
        }
        for part in keywords["allOf"]?.arrayValue ?? [] {
            errors += self.validate(value, part, at: path)
        }
        if let type = keywords["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            if !names.contains(where: { Self.matches(value, type: $0) }) {
                return errors + ["\(path): expected \(names.joined(separator: " or ")), found \(Self.typeName(value))"]
            }
        }
        if let options = keywords["enum"]?.arrayValue, !options.contains(value) {
            errors.append("\(path): \(Self.describe(value)) is not one of \(options.map(Self.describe))")
        }
        if case .object(let object) = value {
            for name in keywords["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                errors.append("\(path): the required property `\(name)` is missing")
            }
            let properties = keywords["properties"]?.objectValue ?? [:]
            for (name, member) in object {
                if let property = properties[name] {
                    errors += self.validate(member, property, at: "\(path).\(name)")
                } else if let additional = keywords["additionalProperties"] {
                    errors += self.validate(member, additional, at: "\(path).\(name)")
                }
            }
        }
        if case .array(let items) = value, let schema = keywords["items"] {
            for (index, item) in items.enumerated() {
                errors += self.validate(item, schema, at: "\(path)[\(index)]")
            }
        }
        return errors
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
            ("integer", .integer), ("number", .integer), ("number", .number):
            return true
        case ("integer", .number(let number)):
            return number.rounded() == number
        default:
            return false
        }
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .integer: "integer"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    static func describe(_ value: JSONValue) -> String {
        String(decoding: AuthZEN.encode(value), as: UTF8.self)
    }

    /// Every schema keyword the document uses that the validator neither checks nor ignores (found
    /// by walking every schema in it), so a new keyword is noticed even where no response uses it.
    func unknownKeywords() -> [String] {
        var found: [String] = []
        func walkSchema(_ schema: JSONValue, _ at: String) {
            guard case .object(let keywords) = schema else { return }
            for key in keywords.keys where !Self.checked.contains(key) && !Self.ignored.contains(key) {
                found.append("\(at): \(key)")
            }
            for (name, property) in keywords["properties"]?.objectValue ?? [:] {
                walkSchema(property, "\(at)/properties/\(name)")
            }
            if let items = keywords["items"] { walkSchema(items, "\(at)/items") }
            if let additional = keywords["additionalProperties"] {
                walkSchema(additional, "\(at)/additionalProperties")
            }
            for (index, part) in (keywords["allOf"]?.arrayValue ?? []).enumerated() {
                walkSchema(part, "\(at)/allOf/\(index)")
            }
        }
        for (name, schema) in self.document.root["components"]?["schemas"]?.objectValue ?? [:] {
            walkSchema(schema, "#/components/schemas/\(name)")
        }
        for operation in self.document.operations {
            let at = "\(operation.method.uppercased()) \(operation.path)"
            for (status, response) in operation.responses {
                for (media, schema) in self.document.content(of: self.document.resolve(response)) {
                    walkSchema(schema, "\(at) \(status) \(media)")
                }
            }
            if let request = operation.value["requestBody"] {
                for (media, schema) in self.document.content(of: self.document.resolve(request)) {
                    walkSchema(schema, "\(at) request \(media)")
                }
            }
        }
        return found.sorted()
    }
}

extension JSONValue {
    /// An object's member by exact name (OpenAPI documents are case-sensitive).
    subscript(key: String) -> JSONValue? { self.member(key) }
}
