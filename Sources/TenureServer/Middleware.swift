import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import Synchronization
public import TenureConfig
import TenureCrypto

extension HTTPField.Name {
    /// `X-Request-ID`: echoed as sent, made up when none was.
    public static let requestID = HTTPField.Name("X-Request-ID")!
    /// `Tenure-Request-ID`: the id logs and audit records carry, sent only when it is not the
    /// `X-Request-ID` echoed (one too long or odd to record as it is).
    public static let recordedRequestID = HTTPField.Name("Tenure-Request-ID")!
}

/// Echoes `X-Request-ID` (or makes one) and keeps the id to record in the context
/// (`TenureRequestContext.requestID`), and turns any error a route throws that is not a `Problem`
/// or an `HTTPResponseError` into a 500 problem whose body says nothing of the cause (the log
/// does).
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = TenureRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let sent = Self.sent(request.headers)
        context.requestID = Self.requestID(sent: sent)
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["error": "\(error)", "path": "\(request.uri.path)", "request.id": "\(context.requestID)"]
            )
            response = try Problem(
                .internalServerError,
                "internal",
                title: "Internal Server Error",
                detail: "the request could not be completed; see the server log for request \(context.requestID)"
            ).response(from: request, context: context)
        }
        Self.identify(&response.headers, sent: sent, recorded: context.requestID)
        return response
    }
}

extension RequestIDMiddleware {
    /// The request id recorded for a request (logs, audit records, a 500's detail): the one sent
    /// when it is sane (1–128 visible ASCII characters: no space, quote or backslash), a new one
    /// otherwise.
    static func requestID(sent: String?) -> String {
        guard let sent, !sent.isEmpty, sent.utf8.count <= 128,
            sent.utf8.allSatisfy({
                $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\")
            })
        else { return RequestIDs.next() }
        return sent
    }

    /// The `X-Request-ID` a request sent: the first, if it sent several (which no client should).
    static func sent(_ headers: HTTPFields) -> String? {
        headers[values: .requestID].first
    }

    /// The `X-Request-ID` of the response: the one sent, whatever it is (AuthZEN 1.0 §10.1.2: the
    /// PDP MUST answer with the same identifier; the HTTP parser already refused control
    /// characters, so it is a valid field value), else the one made up. When the sent one was not
    /// sane enough to record, logs and audit carry the one made up instead.
    static func echoed(sent: String?, recorded: String) -> String {
        guard let sent, !sent.isEmpty else { return recorded }
        return sent
    }

    /// Sets the response's `X-Request-ID`, and `Tenure-Request-ID` when the id recorded is another.
    static func identify(_ headers: inout HTTPFields, sent: String?, recorded: String) {
        let echoed = Self.echoed(sent: sent, recorded: recorded)
        headers[.requestID] = echoed
        if echoed != recorded { headers[.recordedRequestID] = recorded }
    }
}

/// Request ids made here: a random prefix per process and a counter (unique, and no system call per
/// request as a UUID would cost).
enum RequestIDs {
    static let prefix = String(UUID().uuidString.lowercased().prefix(8))
    static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let number = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(Self.prefix)-\(number)"
    }
}

/// Bearer tokens: the token's SHA-256 is compared, in constant time, with every configured hash
/// (the token itself is never stored). Open paths (`/healthz`, `/readyz`,
/// `/.well-known/authzen-configuration`, `/openapi.json`) need none.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = TenureRequestContext
    let tokens: [(hash: [UInt8], token: APIToken)]
    let openPaths: Set<String>

    public init(tokens: [APIToken], openPaths: Set<String>) {
        self.tokens = tokens.compactMap { token in bytes(fromHex: token.sha256).map { ($0, token) } }
        self.openPaths = openPaths
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        if self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        switch self.authenticate(request.headers[.authorization]) {
        case .success(let token):
            var context = context
            context.token = token
            return try await next(request, context)
        case .failure(let problem):
            // SCIM clients read SCIM error bodies (RFC 7644 §3.12), also for a 401.
            if SCIMMiddleware.isSCIM(request.uri.path) { return SCIMMiddleware.scimError(problem) }
            throw problem
        }
    }

    /// The token a header presents: its SHA-256 compared, in constant time, with every hash.
    func authenticate(_ header: String?) -> Result<APIToken, Problem> {
        guard let header else {
            return .failure(.unauthorized("a bearer token is required (Authorization: Bearer …)"))
        }
        guard let credentials = Self.bearerCredentials(header) else {
            return .failure(.unauthorized("only bearer tokens are accepted"))
        }
        let presented = Digest.sha256(credentials)
        var found: APIToken?
        for candidate in self.tokens where constantTimeEquals(candidate.hash, presented) {
            found = candidate.token
        }
        guard let token = found else { return .failure(.unauthorized("the bearer token is not valid")) }
        return .success(token)
    }
}

extension AuthenticationMiddleware {
    /// The credentials of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC
    /// 9110 §11.1; spaces and tabs around the token dropped), or nil for another scheme or an
    /// empty token. Works on the header's bytes: this runs on every authenticated request.
    static func bearerCredentials(_ header: String) -> ArraySlice<UInt8>? {
        var bytes = ArraySlice(header.utf8)
        let scheme = Self.bearerScheme
        guard bytes.count > scheme.count,
            zip(bytes.prefix(scheme.count), scheme).allSatisfy({ $0 | 0x20 == $1 }),
            Self.isBlank(bytes[bytes.startIndex + scheme.count])
        else { return nil }
        bytes = bytes.dropFirst(scheme.count)
        while let first = bytes.first, Self.isBlank(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, Self.isBlank(last) { bytes = bytes.dropLast() }
        return bytes.isEmpty ? nil : bytes
    }

    private static let bearerScheme: [UInt8] = Array("bearer".utf8)

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
}

extension Request {
    /// The body, up to `limit` bytes (413 beyond), copied once out of the request's buffer into
    /// the collection the caller reads it from: `[UInt8]` for the decision fast path, `Data` for
    /// `JSONDecoder`.
    func bodyBytes<Bytes: RangeReplaceableCollection<UInt8>>(limit: Int, as _: Bytes.Type) async throws -> Bytes {
        do {
            let buffer = try await self.body.collect(upTo: limit)
            return Bytes(buffer.readableBytesView)
        } catch {
            throw Problem.tooLarge(limit: limit)
        }
    }
}
