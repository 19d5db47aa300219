import Foundation
public import Hummingbird
public import Logging
public import TenureAccess
public import TenureConfig
import TenureCore
public import TenureStore

/// The checking API: its dependencies and its routes. `tenure serve` builds one and runs its
/// router in a Hummingbird application beside the daemon's services.
public struct TenureAPI: Sendable {
    public let settings: ServerSettings
    public let store: SQLiteStore
    public let index: AccessIndex
    public let audit: AuditBatcher
    public let metrics: APIMetrics
    public let logger: Logger
    public let now: @Sendable () -> Double
    /// Everything that changes who holds what (activations, offboarding, check-outs), with the
    /// index kept in step; nil in tests of the read-only routes.
    public let operations: Operations?

    public init(
        settings: ServerSettings,
        store: SQLiteStore,
        index: AccessIndex,
        audit: AuditBatcher,
        metrics: APIMetrics,
        logger: Logger,
        operations: Operations? = nil,
        now: (@Sendable () -> Double)? = nil
    ) {
        self.settings = settings
        self.store = store
        self.index = index
        self.audit = audit
        self.metrics = metrics
        self.logger = logger
        self.operations = operations
        self.now = now ?? { Date().timeIntervalSince1970 }
    }

    /// Paths that need no token.
    public static let openPaths: Set<String> = [
        "/healthz", "/readyz", "/.well-known/authzen-configuration", "/openapi.json",
    ]

    /// The routes and their middleware. The plain case of `POST /access/v1/evaluation` never
    /// reaches them: `DecisionFastPath` answers it on the event loop and does what the request-id
    /// and authentication middleware do itself — a middleware added here must be reflected there
    /// (or make the fast path hand every request on).
    public func router() -> Router<TenureRequestContext> {
        let router = Router(context: TenureRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: self.authentication())
        self.addOperationsRoutes(to: router)
        self.addOpenAPIRoute(to: router)
        self.addDecisionRoutes(to: router)
        self.operations?.addRoutes(to: router, api: self)
        return router
    }

    /// Bearer-token authentication with the configured tokens.
    func authentication() -> AuthenticationMiddleware {
        AuthenticationMiddleware(tokens: self.settings.tokens, openPaths: Self.openPaths)
    }

    /// Reads the body (413 past the limit) and decodes JSON, naming the path of a bad field (400).
    func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let data = try await request.bodyBytes(limit: self.settings.maxBodyBytes, as: Data.self)
        do {
            return try AuthZEN.decode(T.self, from: data)
        } catch {
            throw Problem(error)
        }
    }

    /// A JSON response (sorted keys) with a status.
    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(
            status: status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: AuthZEN.encode(value)))
        )
    }

    /// A 200 JSON response from bytes already encoded.
    func jsonBytes(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    /// Audits (batched, waiting for the commit) or fails closed with 503.
    func audited(_ events: [AuditEvent]) async throws {
        do {
            try await self.audit.record(events)
        } catch is AuditEventRefused {
            throw Problem.badRequest("the request contains characters that cannot be recorded (NUL)")
        } catch {
            throw Problem.auditUnavailable()
        }
    }
}

extension Problem {
    /// 400 naming the JSON path of the bad field.
    init(_ error: AccessRequestError) {
        self = .badRequest(error.message, jsonPath: error.path.isEmpty ? nil : error.path)
    }
}
