import CLDAP
public import Logging

/// One authenticated connection to an LDAP server, over libldap.
///
/// The actor's executor is a private serial dispatch queue, so every libldap call — all of them
/// blocking — runs on that queue's thread, never on the cooperative pool, and the `LDAP*` handle has
/// exactly one serial owner (libldap's error state is per handle: two threads on one handle get each
/// other's result codes). Each public method performs its whole libldap sequence synchronously,
/// without suspension points, so actor re-entrancy can never interleave two operations on the handle.
///
/// Searches are complete or they fail: every page is read, a size or time limit, a referral, a
/// dropped connection between pages or a malformed answer is an `LDAPError`, and the visitor that
/// collected the partial result is dropped with it.
public actor LDAPConnection {
    private let executor: SerialQueueExecutor
    private var handle: LDAPHandle
    private let logger: Logger
    /// The server URL this connection is bound to.
    public nonisolated let url: String
    /// The options the connection was opened with.
    public nonisolated let options: LDAPConnectionOptions

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.executor.asUnownedSerialExecutor()
    }

    private init(url: String, options: LDAPConnectionOptions, logger: Logger) {
        self.executor = SerialQueueExecutor(label: "tenure.ldap.\(url)")
        self.handle = LDAPHandle(url: url)
        self.url = url
        self.options = options
        self.logger = logger
    }

    /// Opens a connection to the first configured server that answers, and binds.
    ///
    /// Servers are tried in order; the next one is tried only when a server cannot be reached
    /// (connection refused, timeout, TLS handshake failure, busy/unavailable). An authentication
    /// error stops at once: retrying a wrong password elsewhere would only lock the account.
    public static func connect(options: LDAPConnectionOptions, logger: Logger) async throws(LDAPError) -> LDAPConnection
    {
        guard !options.urls.isEmpty else {
            throw LDAPError(operation: .initialize, code: .paramError, context: "no server URL configured")
        }
        LDAPLibrary.bootstrap()
        if options.tls.insecureSkipVerify {
            logger.warning(
                "TLS certificate verification is DISABLED (insecureSkipVerify): the directory can be impersonated",
                metadata: ["ldap.urls": "\(options.urls.joined(separator: " "))"]
            )
        }
        var failures: [LDAPError] = []
        for (position, url) in options.urls.enumerated() {
            let connection = LDAPConnection(url: url, options: options, logger: logger)
            do {
                try await connection.open()
                logger.debug("connected", metadata: ["ldap.url": "\(url)", "ldap.bind": "\(options.bind)"])
                return connection
            } catch {
                guard error.code.isConnectivityFailure else { throw error }
                failures.append(error)
                if position < options.urls.count - 1 {
                    logger.warning(
                        "LDAP server unreachable, trying the next one",
                        metadata: ["ldap.url": "\(url)", "ldap.error": "\(error)"]
                    )
                }
            }
        }
        if failures.count == 1, let only = failures.first { throw only }
        var last = failures.last!
        last.context =
            "all \(failures.count) servers failed: "
            + failures.map { "\($0.server ?? "?"): \($0.code.name)\($0.diagnosticMessage.map { " (\($0))" } ?? "")" }
            .joined(separator: "; ")
        throw last
    }

    /// Initialises, configures, secures and binds the handle (isolated: runs on the connection's queue).
    private func open() throws(LDAPError) {
        self.handle = try HandleFactory.open(url: self.url, options: self.options)
    }

    /// The handle for a write operation (isolated: runs on the connection's queue).
    func liveHandle(_ operation: LDAPError.Operation) throws(LDAPError) -> OpaquePointer {
        try self.handle.live(operation)
    }

    /// The handle's last error, for an operation and DN.
    func lastError(_ operation: LDAPError.Operation, code: Int32, dn: String?) -> LDAPError {
        self.handle.lastError(operation, code: code, dn: dn)
    }

    /// The logger, for short-lived probe connections.
    var probeLogger: Logger { self.logger }

    /// Closes the connection (unbind). Further use fails with `serverDown`.
    public func close() {
        self.handle.close()
    }

    // MARK: - Search

    /// Runs a search and feeds every entry to `visitor`, page by page (RFC 2696), completing
    /// ranged attributes on the way. Returns the visitor once every page has been read.
    ///
    /// - Throws: `LDAPError` for anything the server or the network did, or whatever the visitor
    ///   throws. In both cases the outstanding search is abandoned and nothing partial is returned.
    public func search<V: LDAPSearchVisitor>(_ request: LDAPSearchRequest, visitor: V) throws -> V {
        var visitor = visitor
        try SearchRun(handle: self.handle, url: self.url, request: request, timeout: self.options.operationTimeout)
            .run(&visitor)
        return visitor
    }

    /// Reads one entry by DN (base-scope search). Nil when it does not exist.
    public func read(_ dn: String, attributes: [String] = []) throws -> LDAPEntry? {
        let request = LDAPSearchRequest(base: dn, scope: .base, attributes: attributes, pageSize: 0)
        do {
            return try self.search(request, visitor: CollectingVisitor()).entries.first
        } catch let error as LDAPError where error.code == .noSuchObject {
            return nil
        }
    }

}

/// Holds the `LDAP*`. Not Sendable: it lives inside one `LDAPConnection` and is only touched on that
/// connection's serial queue.
final class LDAPHandle {
    private(set) var raw: OpaquePointer?
    let url: String

    init(raw: OpaquePointer? = nil, url: String) {
        self.raw = raw
        self.url = url
    }

    func close() {
        if let raw {
            ldap_unbind_ext(raw, nil, nil)
            self.raw = nil
        }
    }

    /// The handle, or a `serverDown` error once closed.
    func live(_ operation: LDAPError.Operation) throws(LDAPError) -> OpaquePointer {
        guard let raw else {
            throw LDAPError(operation: operation, code: .serverDown, server: self.url, context: "connection closed")
        }
        return raw
    }

    /// The handle's last result code and diagnostic message as an error.
    func lastError(
        _ operation: LDAPError.Operation,
        code: Int32? = nil,
        dn: String? = nil,
        filter: String? = nil,
        context: String? = nil
    ) -> LDAPError {
        var rc = code ?? LDAP_OTHER
        var message: String?
        if let raw {
            if code == nil { rc = cldap_result_code(raw) }
            if let diag = cldap_diagnostic_message(raw) {
                message = String(cString: diag)
                ldap_memfree(diag)
            }
        }
        if message?.isEmpty ?? true, rc < 0 || rc == LDAP_OTHER, let text = ldap_err2string(rc) {
            message = String(cString: text)
        }
        return LDAPError(
            operation: operation,
            code: LDAPResultCode(rawValue: rc),
            diagnosticMessage: message,
            server: self.url,
            dn: dn,
            filter: filter,
            context: context
        )
    }

    deinit {
        // Safety net only: `LDAPConnection.close()` is the way to end a connection. An unbind is a
        // single write of a few bytes followed by close(2); it does not wait for the server.
        self.close()
    }
}

@available(*, unavailable)
extension LDAPHandle: Sendable {}

/// The synchronous libldap sequence that turns a URL and options into a bound handle.
private enum HandleFactory {
    /// The synchronous libldap sequence: initialize → options → TLS → StartTLS → bind.
    static func open(url: String, options: LDAPConnectionOptions) throws(LDAPError) -> LDAPHandle {
        var raw: OpaquePointer?
        let rc = ldap_initialize(&raw, url)
        guard rc == LDAP_SUCCESS, let raw else {
            throw LDAPError(
                operation: .initialize,
                code: LDAPResultCode(rawValue: rc),
                diagnosticMessage: ldap_err2string(rc).map { String(cString: $0) },
                server: url,
                context: "invalid URL?"
            )
        }
        let handle = LDAPHandle(raw: raw, url: url)
        func check(_ rc: Int32, _ what: String) throws(LDAPError) {
            guard rc == LDAP_OPT_SUCCESS else {
                throw LDAPError(operation: .setOption, code: .paramError, server: url, context: what)
            }
        }
        try check(cldap_set_int_option(raw, LDAP_OPT_PROTOCOL_VERSION, LDAP_VERSION3), "protocol version 3")
        // Referrals are never chased: a referral aborts the read (see SearchRun).
        try check(cldap_set_bool_option(raw, LDAP_OPT_REFERRALS, 0), "referrals off")
        let network = split(options.networkTimeout)
        try check(cldap_set_timeout_option(raw, LDAP_OPT_NETWORK_TIMEOUT, network.0, network.1), "network timeout")
        let operation = split(options.operationTimeout)
        try check(cldap_set_timeout_option(raw, LDAP_OPT_TIMEOUT, operation.0, operation.1), "operation timeout")

        let isLDAPS = url.lowercased().hasPrefix("ldaps://")
        if isLDAPS || options.startTLS {
            try Self.configureTLS(raw, options.tls, url: url)
        }
        if options.startTLS && !isLDAPS {
            let rc = ldap_start_tls_s(raw, nil, nil)
            guard rc == LDAP_SUCCESS else {
                var error = handle.lastError(.startTLS, code: rc)
                error.context = Self.tlsHint(options.tls)
                throw error
            }
        }
        try Self.bind(handle, raw, options.bind, isTLS: isLDAPS || options.startTLS, tls: options.tls)
        return handle
    }

    private static func configureTLS(_ raw: OpaquePointer, _ tls: LDAPTLSOptions, url: String) throws(LDAPError) {
        func check(_ rc: Int32, _ what: String) throws(LDAPError) {
            guard rc == LDAP_OPT_SUCCESS else {
                throw LDAPError(operation: .setOption, code: .paramError, server: url, context: "TLS: \(what)")
            }
        }
        let requireCert = tls.insecureSkipVerify ? LDAP_OPT_X_TLS_NEVER : LDAP_OPT_X_TLS_DEMAND
        try check(cldap_set_int_option(raw, LDAP_OPT_X_TLS_REQUIRE_CERT, requireCert), "require certificate")
        if let caFile = tls.caFile {
            try check(cldap_set_string_option(raw, LDAP_OPT_X_TLS_CACERTFILE, caFile), "CA file \(caFile)")
        }
        if let certFile = tls.certFile {
            try check(cldap_set_string_option(raw, LDAP_OPT_X_TLS_CERTFILE, certFile), "certificate \(certFile)")
        }
        if let keyFile = tls.keyFile {
            try check(cldap_set_string_option(raw, LDAP_OPT_X_TLS_KEYFILE, keyFile), "key \(keyFile)")
        }
        let minimum = tls.minimumVersion == "1.3" ? (3 << 8) + 4 : (3 << 8) + 3
        try check(cldap_set_int_option(raw, LDAP_OPT_X_TLS_PROTOCOL_MIN, Int32(minimum)), "minimum version")
        // Per-handle TLS options take effect only in a new context (ldap_get_option(3)).
        try check(cldap_set_int_option(raw, LDAP_OPT_X_TLS_NEWCTX, 0), "new TLS context (bad CA or key file?)")
    }

    private static func bind(
        _ handle: LDAPHandle,
        _ raw: OpaquePointer,
        _ method: LDAPBindMethod,
        isTLS: Bool,
        tls: LDAPTLSOptions
    ) throws(LDAPError) {
        let dn: String
        let password: LDAPSecret
        switch method {
        case .anonymous:
            // An explicit anonymous bind: it makes the connection (and the TLS handshake) happen
            // now, so an unreachable server is found here and the next URL can be tried.
            dn = ""
            password = LDAPSecret("")
        case .simple(let bindDN, let secret):
            dn = bindDN
            password = secret
        }
        let rc: Int32 = password.withValue { value in
            var bytes = Array(value.utf8)
            defer {
                for index in bytes.indices { bytes[index] = 0 }
            }
            return bytes.withUnsafeMutableBufferPointer { buffer in
                var credential = berval(
                    bv_len: ber_len_t(buffer.count),
                    bv_val: UnsafeMutableRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
                )
                return ldap_sasl_bind_s(raw, dn, nil, &credential, nil, nil, nil)
            }
        }
        guard rc == LDAP_SUCCESS else {
            var error = handle.lastError(.bind, code: rc, dn: dn.isEmpty ? nil : dn)
            if isTLS, error.code == .serverDown || error.code == .connectError {
                error.context = Self.tlsHint(tls)
            }
            throw error
        }
    }

    private static func tlsHint(_ tls: LDAPTLSOptions) -> String {
        "connection or TLS handshake failed; if the server is up, check that its certificate is trusted by "
            + (tls.caFile.map { "the CA file \($0)" } ?? "the system CA store (set ldap.tls.caFile)")
            + " and names this host"
    }
}

private func split(_ seconds: Double) -> (Int, Int) {
    let whole = seconds.rounded(.down)
    return (Int(whole), Int((seconds - whole) * 1_000_000))
}

/// One-time process-wide initialisation of libldap's globals, which must happen before threads
/// race to create handles (ldap_open(3): "the first call should be single-threaded").
public enum LDAPLibrary {
    private static let initialized: Bool = {
        var version: Int32 = 0
        _ = ldap_get_option(nil, LDAP_OPT_PROTOCOL_VERSION, &version)
        return true
    }()

    /// Initialises libldap. Call once early in `main`; later calls do nothing.
    public static func bootstrap() {
        _ = Self.initialized
    }
}
