/// An error from an LDAP operation. It names everything an operator needs to act on it: the
/// operation, the server, the DN or filter involved, the result code and its name, and the server's
/// diagnostic message. It never carries a password: binds record the bind DN only.
public struct LDAPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being done.
    public enum Operation: String, Sendable, Hashable {
        case initialize
        case setOption = "set option"
        case startTLS = "StartTLS"
        case bind
        case search
        case modify
        case passwordModify = "password modify"
        case unbind
    }

    public var operation: Operation
    public var code: LDAPResultCode
    /// The server's diagnostic message (or libldap's, for client-side codes), when there is one.
    public var diagnosticMessage: String?
    /// The server URL the operation was sent to.
    public var server: String?
    /// The DN involved: the bind DN, or a search base.
    public var dn: String?
    /// The search filter involved.
    public var filter: String?
    /// The matched DN returned by the server (for noSuchObject), if any.
    public var matchedDN: String?
    /// Extra context added by the caller ("page 3 of the users search", "referral to …").
    public var context: String?

    public init(
        operation: Operation,
        code: LDAPResultCode,
        diagnosticMessage: String? = nil,
        server: String? = nil,
        dn: String? = nil,
        filter: String? = nil,
        matchedDN: String? = nil,
        context: String? = nil
    ) {
        self.operation = operation
        self.code = code
        self.diagnosticMessage = diagnosticMessage.flatMap { $0.isEmpty ? nil : $0 }
        self.server = server
        self.dn = dn
        self.filter = filter
        self.matchedDN = matchedDN.flatMap { $0.isEmpty ? nil : $0 }
        self.context = context
    }

    public var description: String {
        var text = "LDAP \(self.operation.rawValue) failed: \(self.code.name) (\(self.code.rawValue))"
        if let diagnosticMessage { text += ": \(diagnosticMessage)" }
        var details: [String] = []
        if let server { details.append("server \(server)") }
        if let dn { details.append("\(self.operation == .bind ? "bind DN" : "DN") \"\(dn)\"") }
        if let filter { details.append("filter \(filter)") }
        if let matchedDN { details.append("matched DN \"\(matchedDN)\"") }
        if let context { details.append(context) }
        if !details.isEmpty { text += " [" + details.joined(separator: ", ") + "]" }
        if let hint { text += " — \(hint)" }
        return text
    }

    /// A short suggestion for the most common operator mistakes.
    public var hint: String? {
        switch self.code {
        case .invalidCredentials:
            return "check the bind DN and the password file or environment variable"
        case .sizeLimitExceeded:
            return "the server limited the result size; raise the limit for the bind DN (paged results)"
        case .timeLimitExceeded, .timeout:
            return "the server or the network is too slow; raise ldap.operationTimeoutSeconds or check the server"
        case .noSuchObject where self.operation == .search:
            return "the search base does not exist; check the configured base DN"
        case .confidentialityRequired, .strongerAuthRequired:
            return "the server requires TLS: use an ldaps:// URL or startTLS"
        case .serverDown where self.operation == .bind, .connectError where self.operation == .bind:
            return "is the server running and reachable at this URL? check ldap.urls"
        case .insufficientAccessRights:
            return "the bind DN may not read this part of the directory"
        default:
            return nil
        }
    }
}
