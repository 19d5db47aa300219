public import Prometheus

/// What `/metrics` exposes (Prometheus text format), in a registry of its own (several servers
/// may run in one process, as in the tests).
public struct APIMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    public init() {}

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

    func decision(allowed: Bool) {
        self.counter("decisions", [("outcome", allowed ? "permit" : "deny")], "Access decisions answered, by outcome.")
            .increment()
    }

    func activation(_ event: String) {
        self.counter(
            "activations",
            [("event", event)],
            "Just-in-time activations: requested, approved, denied, started, ended, expired."
        ).increment()
    }

    func rotation(success: Bool) {
        self.counter(
            "rotations",
            [("outcome", success ? "success" : "failure")],
            "Credential rotations (leavers, check-ins, max age, retries), by outcome."
        ).increment()
    }

    func syncRun(_ outcome: String, actions: Int, leavers: Int) {
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

    func auditQueue(_ depth: Int) {
        self.gauge("audit_queue_depth", "Audit records waiting to be committed.")
            .set(Double(depth))
    }

    /// The newest audit sequence: kept outside the log, it lets anyone notice the newest records
    /// being deleted (which the chain alone cannot show).
    func auditSequence(_ sequence: Int64) {
        self.gauge("audit_last_sequence", "The newest audit record's sequence number.")
            .set(Double(sequence))
    }

    func offboarding(_ outcome: String) {
        self.counter("offboardings", [("outcome", outcome)], "Offboardings: immediate, scheduled, carried out, failed.")
            .increment()
    }

    public func text() -> String {
        var buffer: [UInt8] = []
        self.registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
