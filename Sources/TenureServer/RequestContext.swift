public import Hummingbird
import Logging
public import TenureConfig

/// The context of one API request: who is calling (the bearer token) and the request id.
public struct TenureRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthenticationMiddleware` for every route but the open ones.
    public var token: APIToken?
    /// `X-Request-ID` as sent (when it is sane), else generated: the id in logs and audit records.
    /// The response echoes the sent one whatever it is (`RequestIDMiddleware.echoed`).
    public var requestID: String = ""

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.token = nil
    }

    /// Who the audit names: `token:<name>`.
    public var actor: String { Self.actor(self.token) }

    /// Who the audit names for a token: `token:<name>` (`anonymous` without one).
    static func actor(_ token: APIToken?) -> String { token.map { "token:\($0.name)" } ?? "anonymous" }

    /// The token, which must have `scope` (or `admin`); otherwise 403 (401 without a token).
    @discardableResult
    public func require(_ scope: APIScope) throws -> APIToken {
        guard let token = self.token else { throw Problem.unauthorized("a bearer token is required") }
        guard token.scopes.contains(scope) || token.scopes.contains(.admin) else {
            throw Problem.forbidden(scope: scope.rawValue)
        }
        return token
    }

    /// Whether the token has any of the scopes (or `admin`).
    public func has(_ scopes: APIScope...) -> Bool {
        guard let token = self.token else { return false }
        return token.scopes.contains(.admin) || scopes.contains { token.scopes.contains($0) }
    }
}
