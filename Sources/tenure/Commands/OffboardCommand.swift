import ArgumentParser
import Foundation
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureServer
import TenureStore

struct OffboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offboard",
        abstract: "Terminate one identity now (or at a time): revoke, write back, rotate, audit.",
        discussion: """
            Now: runs the identity's leaver plan at once, without reading the directory — every role \
            revoked, Tenure's write-back memberships removed, every credential they could know \
            rotated, all journaled and audited — and records the offboarding, so later syncs keep the \
            identity a leaver even while the directory still shows it. With --at, stores it and it is \
            carried out when due (by tenure serve, or by the next sync). Takes the sync lock.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The username or stable id.") var user: String
    @Option(help: "Why (recorded in the audit).") var reason: String
    @Option(help: "When, ISO 8601 (e.g. 2026-12-31T17:00:00Z); default now.") var at: String?

    func run() async throws {
        RotationProgramInterrupts.install()  // a rotation program stops with the offboarding
        let context = try StateContext(options: self.options)
        let mappings = try context.loadMappings()
        let lock: SyncLock
        do {
            lock = try SyncLock.acquire(path: context.state.database + ".lock", purpose: "tenure offboard")
        } catch {
            printError("tenure offboard: \(error)")
            throw ExitCode(75)
        }
        defer { withExtendedLifetime(lock) {} }
        let store = try context.openStore()
        let identity = try await StateContext.identity(self.user, in: store, command: "tenure offboard")
        // Which account, in full: a name can be shared, and this cannot be undone.
        print("Identity: \(identity.username ?? "-") (id \(identity.id), \(identity.dn), \(identity.state.rawValue))")
        let now = Date().timeIntervalSince1970
        if let at = self.at {
            guard let date = parseISO8601Time(at).map(Date.init(timeIntervalSince1970:)) else {
                throw ValidationError("--at \(at): not an ISO 8601 time like 2026-12-31T17:00:00Z")
            }
            if date.timeIntervalSince1970 > now {
                let id = "off-\(UUID().uuidString.lowercased())"
                try await store.addOffboarding(
                    Offboarding(
                        id: id,
                        identityID: identity.id,
                        effectiveAt: date.timeIntervalSince1970,
                        reason: self.reason,
                        requestedBy: StateContext.actor,
                        requestedAt: now
                    ),
                    audit: [
                        AuditEvent(
                            time: now,
                            actor: StateContext.actor,
                            type: "offboarding.scheduled",
                            subject: identity.id,
                            object: "offboarding:\(id)",
                            details: ["reason": self.reason, "effectiveAt": isoDate(date.timeIntervalSince1970)]
                        )
                    ]
                )
                print(
                    "Offboarding of \(identity.username ?? identity.id) scheduled for \(isoDate(date.timeIntervalSince1970)) (\(id))."
                )
                return
            }
        }
        let engine = try context.engine(mappings: mappings, store: store, executing: true)
        let report = try await engine.offboard(
            identityID: identity.id,
            reason: self.reason,
            requestedBy: StateContext.actor,
            now: { Date().timeIntervalSince1970 }
        )
        let header =
            report.withheld
            ? "Tenure offboard: \(identity.username ?? identity.id) is protected; access changes were withheld."
            : "Tenure offboard: \(identity.username ?? identity.id) terminated (plan \(report.planID), \(report.applied) action(s))."
        print(
            PlanReport(color: isTerminal(STDOUT_FILENO)).render(report.plan, hash: "-", header: header),
            terminator: ""
        )
        if report.withheld { throw ExitCode(3) }
    }
}
