public import HTTPTypes
public import Hummingbird
import TenureCore

/// An RFC 9457 problem-details answer (`application/problem+json`). Every error the API returns is
/// one: 400 names the JSON path of the bad field, 401/403 say what is missing, 413 the limit.
public struct Problem: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A short, stable slug: the `type` is `https://tenure.dev/problems/<slug>`.
    public var slug: String
    public var title: String
    public var detail: String
    /// Extra members (e.g. `jsonPath`, `requiredScope`, `reason`).
    public var extra: [String: String]
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status,
        _ slug: String,
        title: String,
        detail: String,
        extra: [String: String] = [:],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers = headers
    }

    public var description: String { "\(self.status.code) \(self.slug): \(self.detail)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var object: [String: String] = self.extra
        object["type"] = "https://tenure.dev/problems/\(self.slug)"
        object["title"] = self.title
        object["detail"] = self.detail
        object["instance"] = request.uri.path
        var body: [UInt8] = [UInt8(ascii: "{")]
        for key in object.keys.sorted() {
            JSONString.write(key, into: &body)
            body.append(UInt8(ascii: ":"))
            JSONString.write(object[key] ?? "", into: &body)
            body.append(UInt8(ascii: ","))
        }
        body.append(contentsOf: "\"status\":\(self.status.code)}".utf8)
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: - The ones every route uses

    static func unauthorized(_ detail: String) -> Problem {
        Problem(
            .unauthorized,
            "unauthorized",
            title: "Unauthorized",
            detail: detail,
            headers: [.wwwAuthenticate: "Bearer realm=\"tenure\""]
        )
    }

    static func forbidden(scope: String) -> Problem {
        Problem(
            .forbidden,
            "insufficient-scope",
            title: "Forbidden",
            detail: "this token lacks the \(scope) scope",
            extra: ["requiredScope": scope],
            headers: [.wwwAuthenticate: "Bearer realm=\"tenure\", error=\"insufficient_scope\", scope=\"\(scope)\""]
        )
    }

    static func badRequest(_ detail: String, jsonPath: String? = nil) -> Problem {
        Problem(
            .badRequest,
            "invalid-request",
            title: "Bad Request",
            detail: detail,
            extra: jsonPath.map { ["jsonPath": $0] } ?? [:]
        )
    }

    static func tooLarge(limit: Int) -> Problem {
        Problem(
            .contentTooLarge,
            "body-too-large",
            title: "Content Too Large",
            detail: "the request body is larger than the limit of \(limit) bytes",
            extra: ["limit": String(limit)]
        )
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, "not-found", title: "Not Found", detail: detail)
    }

    static func conflict(_ slug: String, _ detail: String) -> Problem {
        Problem(.conflict, slug, title: "Conflict", detail: detail)
    }

    /// Fail closed: the audit could not be written, so nothing was decided or changed.
    static func auditUnavailable() -> Problem {
        Problem(
            .serviceUnavailable,
            "audit-unavailable",
            title: "Service Unavailable",
            detail: "the audit log cannot be written; nothing was decided or changed",
            headers: [.retryAfter: "5"]
        )
    }
}
