/// A secret string (a bind password). It prints as `<redacted>` everywhere — in `description`,
/// `debugDescription`, string interpolation and `dump` — so it cannot reach a log by accident.
public struct LDAPSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    fileprivate let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// The secret itself, for the one place that sends it to the server.
    public func withValue<R>(_ body: (String) throws -> R) rethrows -> R {
        try body(self.value)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// How to authenticate after connecting.
public enum LDAPBindMethod: Sendable, Hashable, CustomStringConvertible {
    /// No bind: the server treats the connection as anonymous.
    case anonymous
    /// Simple bind (RFC 4513 §5.1.3) with a DN and password.
    case simple(dn: String, password: LDAPSecret)

    public var description: String {
        switch self {
        case .anonymous: "anonymous"
        case .simple(let dn, _): "simple bind as \"\(dn)\""
        }
    }
}

/// TLS settings for ldaps:// and StartTLS. Certificate verification is on unless
/// `insecureSkipVerify` is set explicitly; the connection logs a warning every time it is.
public struct LDAPTLSOptions: Sendable, Hashable {
    /// PEM file of CA certificates to trust; nil uses the system's (ldap.conf TLS_CACERT).
    public var caFile: String?
    /// Client certificate and key (PEM), for servers that require one.
    public var certFile: String?
    public var keyFile: String?
    /// Skip server certificate verification. Dangerous; for lab use only.
    public var insecureSkipVerify: Bool
    /// Minimum protocol version: "1.2" or "1.3".
    public var minimumVersion: String

    public init(
        caFile: String? = nil,
        certFile: String? = nil,
        keyFile: String? = nil,
        insecureSkipVerify: Bool = false,
        minimumVersion: String = "1.2"
    ) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
        self.minimumVersion = minimumVersion
    }
}

/// Everything needed to open and authenticate a connection.
public struct LDAPConnectionOptions: Sendable, Hashable {
    /// Server URLs, tried in order until one accepts the connection (failover).
    public var urls: [String]
    public var bind: LDAPBindMethod
    /// Upgrade ldap:// connections with StartTLS (required then: a failure is an error).
    public var startTLS: Bool
    public var tls: LDAPTLSOptions
    /// Connect timeout per server, in seconds.
    public var networkTimeout: Double
    /// Timeout for each operation (bind, each search page), in seconds.
    public var operationTimeout: Double

    public init(
        urls: [String],
        bind: LDAPBindMethod = .anonymous,
        startTLS: Bool = false,
        tls: LDAPTLSOptions = .init(),
        networkTimeout: Double = 10,
        operationTimeout: Double = 120
    ) {
        self.urls = urls
        self.bind = bind
        self.startTLS = startTLS
        self.tls = tls
        self.networkTimeout = networkTimeout
        self.operationTimeout = operationTimeout
    }
}
