public import Foundation
import TenureCore

/// A request body the API cannot evaluate: what a 400 problem-details answer reports. `path` is
/// the JSON path of the offending field (`evaluations[2].subject.id`; empty for the whole body).
public struct AccessRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The body is not JSON.
        case malformedJSON = "malformed_json"
        /// A required field is absent.
        case missing
        /// A field has the wrong JSON type (or is null where a value is required).
        case wrongType = "wrong_type"
        /// A field has a value outside what is allowed (an unknown `evaluations_semantic`).
        case invalidValue = "invalid_value"
    }

    public var kind: Kind
    public var path: String
    public var message: String

    public init(kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { self.path.isEmpty ? self.message : "\(self.path): \(self.message)" }

    static func missing(_ path: String, batchDefault: Bool) -> AccessRequestError {
        AccessRequestError(
            kind: .missing,
            path: path,
            message: batchDefault
                ? "required field is missing (and there is no top-level default)" : "required field is missing"
        )
    }
}

/// Decoding and encoding AuthZEN bodies.
public enum AuthZEN {
    /// Decodes a single-evaluation body (`POST /access/v1/evaluation`).
    public static func decodeEvaluation(_ body: Data) throws(AccessRequestError) -> EvaluationRequest {
        try self.decode(EvaluationRequest.self, from: body)
    }

    /// Decodes a batch body (`POST /access/v1/evaluations`) and checks that every item is complete
    /// once the top-level defaults are applied, so `EvaluationsRequest.resolved()` cannot fail.
    public static func decodeEvaluations(_ body: Data) throws(AccessRequestError) -> EvaluationsRequest {
        let request = try self.decode(EvaluationsRequest.self, from: body)
        _ = try request.resolved()
        return request
    }

    /// Decodes any AuthZEN type, turning a decoding failure into an `AccessRequestError` with the
    /// JSON path of the bad field.
    public static func decode<T: Decodable>(_ type: T.Type, from body: Data) throws(AccessRequestError) -> T {
        if let path = body.withUnsafeBytes({ FastJSON.duplicateKeyPath(in: $0) }) {
            throw AccessRequestError(kind: .invalidValue, path: path, message: "the key is given more than once")
        }
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch let error as DecodingError {
            throw AccessRequestError(error)
        } catch {
            throw AccessRequestError(kind: .malformedJSON, path: "", message: "the body is not valid JSON")
        }
    }

    /// Encodes a response (or request) as JSON, keys sorted (stable output for logs and tests).
    public static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A non-finite number (only a caller's own JSONValue can hold one) becomes a string, so
        // encoding the AuthZEN types cannot fail.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity",
            negativeInfinity: "-Infinity",
            nan: "NaN"
        )
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// The JSON path of a coding path: `evaluations[2].subject.id`; keys that are not plain
    /// identifiers are bracketed and quoted (`properties["a.b"]`).
    public static func path(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue, key.stringValue == "Index \(index)" {
                path += "[\(index)]"
            } else {
                path = Self.path(appending: key.stringValue, to: path)
            }
        }
        return path
    }

    /// `path` followed by an object's `key`: `.key`, or `["key"]` when it is not an identifier.
    static func path(appending key: String, to path: String) -> String {
        if Self.isIdentifier(key) { return path.isEmpty ? key : path + "." + key }
        let escaped = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return path + "[\"\(escaped)\"]"
    }

    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return key.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0)
        }
    }
}

extension AccessRequestError {
    /// An error naming the field a `DecodingError` is about.
    public init(_ error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(
                kind: .missing,
                path: AuthZEN.path(context.codingPath + [key]),
                message: "required field is missing"
            )
        case .typeMismatch(let type, let context):
            self.init(
                kind: .wrongType,
                path: AuthZEN.path(context.codingPath),
                message: "expected \(Self.jsonType(type))"
            )
        case .valueNotFound(let type, let context):
            self.init(
                kind: .wrongType,
                path: AuthZEN.path(context.codingPath),
                message: "expected \(Self.jsonType(type)), found null"
            )
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self.init(kind: .malformedJSON, path: "", message: "the body is not valid JSON")
            } else {
                self.init(
                    kind: .invalidValue,
                    path: AuthZEN.path(context.codingPath),
                    message: context.debugDescription
                )
            }
        @unknown default:
            self.init(kind: .malformedJSON, path: "", message: "the body could not be read")
        }
    }

    private static func jsonType(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type: "a number"
        case is JSONValue.Type: "a JSON value"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
