import ArgumentParser
import DirectorySource
import Foundation
import LDAPClient
import Synchronization
import TenureConfig
import TenureCore

struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a complete snapshot of the directory and print it.",
        discussion: """
            Reads every configured user and group base with paged searches, resolves nested groups \
            and prints a summary (table) or the whole snapshot (json). The read is complete or it \
            fails: a size or time limit, a referral, a dropped connection or an entry without a \
            stable id ends it with exit status 1 and no snapshot. Progress goes to stderr when it is \
            a terminal.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
    }

    @OptionGroup var options: GlobalOptions

    @Option(help: "Output format: table (a summary for people) or json (the full snapshot).")
    var format: Format = .table

    @Option(help: "Rows in the largest-groups table.")
    var top: Int = 10

    func run() async throws {
        let logger = self.options.makeLogger()
        let configuration = try self.options.loadConfiguration(logger: logger)
        let password: LDAPSecret?
        do {
            password = try configuration.resolvePassword(environment: ProcessInfo.processInfo.environment)
                .map(LDAPSecret.init)
        } catch {
            printError("configuration error: \(error)")
            throw ExitCode(78)
        }
        let reader = DirectoryReader(configuration: configuration, password: password, logger: logger)
        let progress = isTerminal(STDERR_FILENO) ? ProgressPrinter() : nil
        let readAt = Date()
        let result: PullResult
        do {
            result = try await reader.pull(observer: progress, now: readAt.timeIntervalSince1970)
        } catch {
            progress?.finish()
            printError("tenure pull: \(error)")
            printError("no snapshot was produced.")
            throw ExitCode.failure
        }
        progress?.finish()
        switch self.format {
        case .table:
            print(SnapshotReport.table(result, top: self.top, color: isTerminal(STDOUT_FILENO)), terminator: "")
        case .json:
            SnapshotReport.writeJSON(result, readAt: readAt)
        }
    }
}

/// Prints "users: 12,000 entries (8,400/s)" on stderr, rewriting one line.
final class ProgressPrinter: PullObserver {
    private struct State {
        /// When the current base's search started: the printer's creation (just before the pull)
        /// for the first, the previous base's last page for the next ones.
        var started = ContinuousClock.now
        var lastPage = ContinuousClock.now
        var current: String?
        var printed = false
    }

    private let state = Mutex(State())

    func pageRead(_ phase: PullPhase, base: String, page: Int, entriesInBase: Int) {
        self.state.withLock { state in
            let now = ContinuousClock.now
            if state.current != "\(phase.rawValue) \(base)" {
                if state.printed { FileHandle.standardError.write(Data("\n".utf8)) }
                state.current = "\(phase.rawValue) \(base)"
                state.started = state.lastPage
            }
            state.lastPage = now
            let elapsed = now - state.started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = seconds > 0 ? Int(Double(entriesInBase) / seconds) : 0
            let line =
                "\r\(phase.rawValue) under \(base): \(entriesInBase.formatted()) entries (\(rate.formatted())/s)   "
            FileHandle.standardError.write(Data(line.utf8))
            state.printed = true
        }
    }

    func finish() {
        self.state.withLock { state in
            if state.printed { FileHandle.standardError.write(Data("\n".utf8)) }
            state.printed = false
        }
    }
}
