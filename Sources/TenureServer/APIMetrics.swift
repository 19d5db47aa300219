public import Prometheus
public import TenureEngine

/// What `/metrics` exposes (Prometheus text format), in a registry of its own (several servers
/// may run in one process, as in the tests).
public struct APIMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The hot path's counters, made once (a registry look-up takes a lock and builds the name).
    private let permits: Counter
    private let denies: Counter
    private let auditQueueDepth: Gauge
    private let frontPath: Counter

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func decisions(_ outcome: String) -> Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "tenure",
                    metricName: "decisions",
                    unitName: "total",
                    helpText: "Access decisions answered, by outcome."
                ),
                labels: [("outcome", outcome)]
            )
        }
        self.permits = decisions("permit")
        self.denies = decisions("deny")
        self.frontPath = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "tenure",
                metricName: "decisions_front_path",
                unitName: "total",
                helpText:
                    "Decisions answered ahead of the HTTP stack (DecisionFrontPath); the others went through it."
            )
        )
        self.auditQueueDepth = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "tenure",
                metricName: "audit_queue_depth",
                unitName: "",
                helpText: "Audit records waiting to be committed."
            )
        )
    }

    private func counter(_ name: String, _ labels: [(String, String)], _ help: String) -> Counter {
        self.registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "tenure", metricName: name, unitName: "total", helpText: help),
            labels: labels
        )
    }

    private func gauge(_ name: String, _ help: String) -> Gauge {
        self.registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "tenure", metricName: name, unitName: "", helpText: help)
        )
    }

    public func decision(allowed: Bool) {
        (allowed ? self.permits : self.denies).increment()
    }

    /// A decision answered by `DecisionFrontPath` (counted in `decision(allowed:)` too).
    func frontPathDecision() {
        self.frontPath.increment()
    }

    public func activation(_ event: String) {
        self.counter(
            "activations",
            [("event", event)],
            "Just-in-time activations: requested, approved, denied, started, ended, expired."
        ).increment()
    }

    public func rotation(success: Bool) {
        self.counter(
            "rotations",
            [("outcome", success ? "success" : "failure")],
            "Credential rotations (leavers, check-ins, max age, retries), by outcome."
        ).increment()
    }

    public func syncRun(_ outcome: String, actions: Int, leavers: Int) {
        self.counter(
            "sync_runs",
            [("outcome", outcome)],
            "Scheduled and triggered sync runs, by outcome: applied, no_change, held, failed, skipped."
        ).increment()
        self.gauge("last_plan_actions", "Actions in the last plan.")
            .set(Double(actions))
        self.gauge("last_plan_leavers", "Leavers in the last plan.")
            .set(Double(leavers))
    }

    public func auditQueue(_ depth: Int) {
        self.auditQueueDepth.set(Double(depth))
    }

    /// The newest audit sequence: kept outside the log, it lets anyone notice the newest records
    /// being deleted (which the chain alone cannot show).
    public func auditSequence(_ sequence: Int64) {
        self.gauge("audit_last_sequence", "The newest audit record's sequence number.")
            .set(Double(sequence))
    }

    public func offboarding(_ outcome: String) {
        self.counter("offboardings", [("outcome", outcome)], "Offboardings: immediate, scheduled, carried out, failed.")
            .increment()
    }

    public func text() -> String {
        var buffer: [UInt8] = []
        self.registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

extension APIMetrics {
    /// A rotation's outcome, counted once for every path that rotates (sync, sweeper, check-in):
    /// rotated is a success, abandoned or needing attention a failure, nothing pending nothing.
    public func rotation(_ outcome: CredentialRotator.Outcome) {
        switch outcome {
        case .rotated: self.rotation(success: true)
        case .unchanged, .needsAttention: self.rotation(success: false)
        case .nothingPending: break
        }
    }
}
