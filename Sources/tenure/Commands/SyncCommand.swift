import ArgumentParser
import DirectorySource
import Foundation
import TenureConfig
import TenureCore
import TenureEngine

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Pull, plan and apply: bring the stored model in step with the directory.",
        discussion: """
            Takes the sync lock (a second sync says who holds it), finishes a plan an earlier run left \
            unfinished, pulls, plans and applies every action in its own transaction with its audit \
            records. A plan with more leavers than the guard allows is held (exit 3) unless \
            --allow-mass-revoke is given. Exit status: 0 applied or nothing to do, 1 error, \
            3 held, 75 another sync holds the lock.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Apply a plan even when the mass-revocation guard holds it (read its reason first).")
    var allowMassRevoke = false

    func run() async throws {
        RotationProgramInterrupts.install()  // a leaver's rotation program stops with the sync
        let context = try StateContext(options: self.options)
        let mappings = try context.loadMappings()
        let lock: SyncLock
        do {
            lock = try SyncLock.acquire(path: context.state.database + ".lock", purpose: "tenure sync")
        } catch {
            printError("tenure sync: \(error)")
            throw ExitCode(75)
        }
        defer { withExtendedLifetime(lock) {} }
        let store = try context.openStore()
        // With a vault, a leaver's credentials are rotated as part of the plan; with a writeBack:
        // account, write-back groups are written.
        let engine = try context.engine(mappings: mappings, store: store, executing: true)
        let progress = isTerminal(STDERR_FILENO) ? ProgressPrinter() : nil
        let report: SyncEngine.Report
        do {
            report = try await engine.sync(
                allowMassRevoke: self.allowMassRevoke,
                now: { Date().timeIntervalSince1970 },
                pull: { try await context.pull(progress: progress, requiredGroups: engine.writeBackGroups) }
            )
        } catch let exit as ExitCode {
            throw exit
        } catch {
            progress?.finish()
            printError("tenure sync: \(error)")
            printError("nothing was applied from this run.")
            throw ExitCode.failure
        }
        progress?.finish()
        if let resumed = report.resumed {
            print(
                "Resumed plan \(resumed.planID) left unfinished by an earlier run: \(resumed.entries) action(s) applied."
            )
        }
        let header =
            report.held
            ? "Tenure sync: plan \(report.planID.map(String.init) ?? "-") was NOT applied."
            : "Tenure sync: applied plan \(report.planID.map(String.init) ?? "-") (\(report.applied) action(s))."
        print(
            PlanReport(color: isTerminal(STDOUT_FILENO)).render(report.plan, hash: report.hash, header: header),
            terminator: ""
        )
        for result in report.maintenance {
            let why =
                switch result.trigger {
                case .reconcile: "settling a rotation left unfinished"
                case .retry: "retrying a failed rotation"
                case .maxAge: "older than its max age"
                }
            let outcome =
                switch result.outcome {
                case .rotated(let version): "rotated to version \(version)"
                case .unchanged(let reason): "unchanged: \(reason)"
                case .nothingPending: "nothing to do"
                case .needsAttention(let reason): "NEEDS ATTENTION: \(reason)"
                }
            print("Vault: \(result.name) (\(why)): \(outcome)")
        }
        if let range = report.auditRange {
            print("Audit records \(range.lowerBound)–\(range.upperBound) written.")
        }
        if report.held {
            printError("tenure sync: the plan is held by the mass-revocation guard; nothing was applied.")
            printError("rerun with --allow-mass-revoke once you have checked that these leavers are real.")
            throw ExitCode(3)
        }
    }
}
