public import TenureCore

/// A SCIM error response (RFC 7644 §3.12): the HTTP status, the `scimType` for 400s and 409s, and
/// a human-readable detail. Details name attributes and positions, never attribute values (a value
/// may be personal data, and a misplaced `password` must not echo back).
public struct SCIMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// RFC 7644 §3.12, Table 9.
    public enum ScimType: String, Hashable, Sendable {
        case invalidFilter, tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget, invalidValue
        case invalidVers, sensitive
    }

    /// The HTTP status code.
    public var status: Int
    public var scimType: ScimType?
    public var detail: String
    /// The attribute path the error is about, when there is one (`active`, `name.givenName`).
    public var attribute: String?

    public init(status: Int, scimType: ScimType? = nil, detail: String, attribute: String? = nil) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
        self.attribute = attribute
    }

    public var description: String {
        "SCIM \(self.status)\(self.scimType.map { " \($0.rawValue)" } ?? ""): \(self.detail)"
    }

    /// The response body: `schemas`, `status` as a string (RFC 7644 §3.12: "The HTTP status code
    /// ... expressed as a JSON string"), `scimType` when set, `detail`.
    public var body: SCIMValue {
        var object: SCIMObject = [
            "schemas": [.string(SCIMSchema.error)],
            "status": .string(String(self.status)),
            "detail": .string(self.detail),
        ]
        if let scimType = self.scimType { object["scimType"] = .string(scimType.rawValue) }
        return .object(object)
    }

    // MARK: - The errors Tenure raises

    /// 400 `invalidValue`: an attribute of the wrong type or a required one missing.
    public static func invalidValue(_ attribute: String, _ detail: String) -> SCIMError {
        SCIMError(status: 400, scimType: .invalidValue, detail: "\(attribute): \(detail)", attribute: attribute)
    }

    /// 400 `invalidSyntax`: a body that is not the JSON structure the request needs.
    public static func invalidSyntax(_ detail: String) -> SCIMError {
        SCIMError(status: 400, scimType: .invalidSyntax, detail: detail)
    }

    /// 400 `invalidFilter`: a filter that does not parse or uses what Tenure does not support.
    public static func invalidFilter(_ detail: String) -> SCIMError {
        SCIMError(status: 400, scimType: .invalidFilter, detail: detail)
    }

    /// 400 `invalidPath`: a PATCH path that does not parse.
    public static func invalidPath(_ path: String, _ detail: String) -> SCIMError {
        SCIMError(status: 400, scimType: .invalidPath, detail: "path \(path): \(detail)", attribute: path)
    }

    /// 400 `noTarget`: a PATCH path (or its value filter) that selects nothing.
    public static func noTarget(_ path: String?, _ detail: String) -> SCIMError {
        SCIMError(
            status: 400,
            scimType: .noTarget,
            detail: path.map { "path \($0): \(detail)" } ?? detail,
            attribute: path
        )
    }

    /// 400 `mutability`: a change to a read-only attribute (`id`, `meta`) or removal of a required one.
    public static func mutability(_ attribute: String, _ detail: String) -> SCIMError {
        SCIMError(status: 400, scimType: .mutability, detail: "\(attribute): \(detail)", attribute: attribute)
    }

    /// 409 `uniqueness`: another user already has this userName or externalId.
    public static func uniqueness(_ attribute: String) -> SCIMError {
        SCIMError(
            status: 409,
            scimType: .uniqueness,
            detail: "\(attribute): another User already has this value",
            attribute: attribute
        )
    }

    /// 404: no such resource.
    public static func notFound(_ detail: String) -> SCIMError {
        SCIMError(status: 404, detail: detail)
    }

    /// 412: the If-Match version is not the current one (RFC 7644 §3.14).
    public static func preconditionFailed(_ detail: String) -> SCIMError {
        SCIMError(status: 412, detail: detail)
    }
}
