public import TenureCore

/// `server:` — `tenure serve`: the checking API and the daemon's schedules.
public struct ServerSettings: Sendable, Hashable {
    /// The address to listen on. default: 127.0.0.1 (put a TLS-terminating proxy in front for
    /// anything else).
    public var host: String
    /// default: 8080; 0 picks a free port (tests).
    public var port: Int
    /// Requests with a larger body are refused with 413. default: 1 MiB.
    public var maxBodyBytes: Int
    /// Bearer tokens, by their SHA-256 (never the token itself).
    public var tokens: [APIToken]
    /// The scheduled sync; nil: no scheduled sync (the API still answers).
    public var schedule: ScheduleSettings?
    /// How often expired activations are recorded and due offboardings carried out. default: 15 s.
    public var sweepIntervalSeconds: Double
    /// The issuer shown by authenticator apps for `tenure mfa enroll`. default: Tenure.
    public var totpIssuer: String
    /// How long the audit batcher waits, once woken, before writing, to gather more decisions into
    /// one transaction. Records that arrive while a batch is written form the next batch (group
    /// commit) in any case, and a decision answered on an event loop wakes the writer only at the
    /// end of the loop's round of reads, so a batch already holds every request read in it. A wait
    /// adds its length to every decision's latency; it can help only when many loops each bring a
    /// few records. default: 0 (no wait; it was 100 µs, which cost more than it gathered once
    /// the writer was woken per round: BENCHMARKS.md §5).
    public var auditFlushSeconds: Double
    /// How long a connection may wait with nothing to do — between requests, or while a request
    /// arrives — before it is closed; a request being answered is never cut. Keeps a client from
    /// holding connections (and descriptors) open for nothing, or a head trickling in. 0: no
    /// limit. default: 60.
    public var idleTimeoutSeconds: Double
    /// How long a change the API makes under the sync lock (an offboarding, HR's terminations,
    /// cancellations and moves) waits for a command-line sync holding it, before answering 503
    /// with `Retry-After` and changing nothing. 0: not at all. default: 30.
    public var syncLockWaitSeconds: Double
    /// On SIGTERM or SIGINT, how long a rotation program still running may go on before it is
    /// stopped (its rotation then needs `tenure vault reconcile` or a person); no new one starts.
    /// At most the program's own time limit. Keep the service manager's stop timeout above it.
    /// default: 60.
    public var shutdownRotationWaitSeconds: Double
    /// How many event loops (network threads) serve the API. 0: one fewer than the machine has
    /// cores, at least one — the audit writer, which every decision waits for, keeps a core of its
    /// own, and each loop's round of reads ends in a commit, so fewer loops also mean fuller
    /// batches. On 2 cores (BENCHMARKS.md §5): with `state.durability: normal` one loop used 22 µs of
    /// CPU per decision against 27–30 with two; with `full` both did the same. default: 0.
    public var eventLoops: Int
    /// The API's address as clients reach it — `https://…` behind a TLS-terminating proxy, with a
    /// path prefix if the proxy adds one; no trailing slash, query or fragment. The AuthZEN
    /// discovery document names it (`policy_decision_point`, which a client must find identical to
    /// the address it asked, and the endpoints under it). nil: `http://` and the `Host` the request
    /// named (right only for clients that reach the server directly).
    public var publicURL: String?

    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 8080
    public static let defaultMaxBodyBytes = 1 << 20
    public static let defaultSweepIntervalSeconds: Double = 15
    public static let defaultAuditFlushSeconds: Double = 0
    public static let defaultIdleTimeoutSeconds: Double = 60
    /// `idleTimeoutSeconds` other than 0: a second to a day.
    public static let idleTimeoutRange: ClosedRange<Double> = 1...86_400
    public static let defaultSyncLockWaitSeconds: Double = 30
    /// `syncLockWaitSeconds`: up to 5 minutes (a client's request waits that long).
    public static let syncLockWaitRange: ClosedRange<Double> = 0...300
    public static let defaultShutdownRotationWaitSeconds: Double = 60
    /// `shutdownRotationWaitSeconds`: up to an hour, as a program's time limit.
    public static let shutdownRotationWaitRange: ClosedRange<Double> = 0...3_600
    public static let defaultEventLoops = 0
    public static let eventLoopsRange: ClosedRange<Int> = 0...256

    /// The number of event loops on a machine with `cores` cores.
    public func resolvedEventLoops(cores: Int) -> Int {
        self.eventLoops > 0 ? self.eventLoops : max(1, cores - 1)
    }

    public init(
        host: String = ServerSettings.defaultHost,
        port: Int = ServerSettings.defaultPort,
        maxBodyBytes: Int = ServerSettings.defaultMaxBodyBytes,
        tokens: [APIToken] = [],
        schedule: ScheduleSettings? = nil,
        sweepIntervalSeconds: Double = ServerSettings.defaultSweepIntervalSeconds,
        totpIssuer: String = "Tenure",
        auditFlushSeconds: Double = ServerSettings.defaultAuditFlushSeconds,
        idleTimeoutSeconds: Double = ServerSettings.defaultIdleTimeoutSeconds,
        syncLockWaitSeconds: Double = ServerSettings.defaultSyncLockWaitSeconds,
        shutdownRotationWaitSeconds: Double = ServerSettings.defaultShutdownRotationWaitSeconds,
        eventLoops: Int = ServerSettings.defaultEventLoops
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.tokens = tokens
        self.schedule = schedule
        self.sweepIntervalSeconds = sweepIntervalSeconds
        self.totpIssuer = totpIssuer
        self.auditFlushSeconds = auditFlushSeconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.syncLockWaitSeconds = syncLockWaitSeconds
        self.shutdownRotationWaitSeconds = shutdownRotationWaitSeconds
        self.eventLoops = eventLoops
    }
}

/// What a bearer token may do.
public enum APIScope: String, Sendable, Hashable, CaseIterable, Codable {
    /// Ask for decisions (AuthZEN evaluation).
    case check
    /// Request, list and end just-in-time activations; check out and in credentials.
    case activate
    /// Approve or deny activations (never one's own).
    case approve
    /// HR: SCIM Users and offboarding.
    case hr
    /// Everything.
    case admin
    /// Read-only views (activations, drift, metrics).
    case read
}

/// A bearer token the API accepts, stored as the SHA-256 of the token.
public struct APIToken: Sendable, Hashable {
    /// A name for logs and the audit (`token:<name>`).
    public var name: String
    /// Lowercase hex SHA-256 of the token (64 characters).
    public var sha256: String
    public var scopes: Set<APIScope>
    /// The person the token belongs to (a username), for approvals: nobody approves their own
    /// request. nil for a system (a gateway, the HR connector).
    public var subject: String?

    public init(name: String, sha256: String, scopes: Set<APIScope>, subject: String? = nil) {
        self.name = name
        self.sha256 = sha256
        self.scopes = scopes
        self.subject = subject
    }
}

/// When the daemon syncs: a fixed interval or a cron expression, each with random jitter.
public struct ScheduleSettings: Sendable, Hashable {
    public enum When: Sendable, Hashable {
        case interval(seconds: Double)
        case cron(CronSchedule)
    }

    public var when: When
    /// A random delay of up to this many seconds before each run (spreads replicas). default: 0.
    public var jitterSeconds: Double

    public init(when: When, jitterSeconds: Double = 0) {
        self.when = when
        self.jitterSeconds = jitterSeconds
    }
}
