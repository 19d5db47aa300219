import ArgumentParser
import Foundation
import TenureCore
import TenureStore

/// `tenure-bench audit`: appends N realistic audit events to a fresh SQLite store in batches, then
/// verifies the whole chain, and prints one JSON line per phase.
struct AuditBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Time audit appends (batched transactions) and a full verifyAudit()."
    )

    @Option(help: "Events to append.")
    var records: Int = 200_000

    @Option(help: "Events per appendAudit call (one transaction each).")
    var batch: Int = 1_000

    @Option(help: "The database file to create (must not exist; its directory must).")
    var db: String

    func validate() throws {
        guard self.records > 0 else { throw ValidationError("--records must be at least 1") }
        guard self.batch > 0 else { throw ValidationError("--batch must be at least 1") }
        guard !FileManager.default.fileExists(atPath: self.db) else {
            throw ValidationError("\(self.db) exists: the benchmark needs a fresh database")
        }
    }

    func run() async throws {
        let store = try SQLiteStore(path: self.db, auditKey: try AuditKey.random())
        let events = Self.makeEvents(count: self.records)
        let clock = ContinuousClock()

        let appendStart = clock.now
        var index = 0
        var lastSequence: Int64 = 0
        while index < events.count {
            let end = min(index + self.batch, events.count)
            if let range = try await store.appendAudit(Array(events[index..<end])) {
                lastSequence = range.upperBound
            }
            index = end
        }
        let appendSeconds = Self.seconds(clock.now - appendStart)
        guard lastSequence == Int64(self.records) else {
            throw ValidationError("appended \(lastSequence) records, expected \(self.records)")
        }
        Self.report("audit.append", records: self.records, seconds: appendSeconds)

        let verifyStart = clock.now
        let verification = try await store.verifyAudit()
        let verifySeconds = Self.seconds(clock.now - verifyStart)
        guard verification.isIntact, verification.records == Int64(self.records) else {
            throw ValidationError(
                "verifyAudit: \(verification.records) records, problem: \(verification.problem ?? "none")"
            )
        }
        Self.report("audit.verify", records: self.records, seconds: verifySeconds)
        try store.close()
    }

    /// Events like a sync run writes: role grants to identities (UUID subjects), 2–3 details.
    static func makeEvents(count: Int) -> [AuditEvent] {
        let roles = [
            "db-admin", "prod-deploy", "k8s-cluster-admin", "vault-operator", "network-admin", "backup-restore",
        ]
        let rules = ["dba-team", "sre-oncall", "platform-leads", "security-ops"]
        let start = Date().timeIntervalSince1970
        return (0..<count).map { index in
            var details = [
                "rule": rules[index % rules.count],
                "reason": "member of cn=\(rules[index % rules.count]),ou=groups,dc=example,dc=org",
            ]
            if index % 3 == 0 {
                details["ticket"] = "CHG-\(100_000 + index)"
            }
            return AuditEvent(
                time: start + Double(index) / 1_000,
                actor: "sync",
                type: "role.granted",
                subject: UUID().uuidString.lowercased(),
                object: roles[index % roles.count],
                outcome: "success",
                details: details
            )
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func report(_ name: String, records: Int, seconds: Double) {
        let rate = seconds > 0 ? Double(records) / seconds : 0
        print(
            #"{"benchmark":"\#(name)","records":\#(records),"seconds":\#(Self.format(seconds, 4)),"#
                + #""perSecond":\#(Self.format(rate, 0))}"#
        )
    }

    private static func format(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
