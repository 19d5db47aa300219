import ArgumentParser
import Foundation
import LDAPClient
import Logging
import TenureConfig

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file (default: $TENURE_CONFIG, else /etc/tenure/tenure.yaml).",
            valueName: "file"
        )
    )
    var config: String?

    @Option(name: .long, help: "Log level on stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevel = .warning

    var configPath: String {
        self.config ?? ProcessInfo.processInfo.environment["TENURE_CONFIG"] ?? "/etc/tenure/tenure.yaml"
    }

    /// Sets up libldap and logging to stderr, once per process.
    func makeLogger() -> Logger {
        // libldap's globals must be initialised before threads race to create handles.
        LDAPLibrary.bootstrap()
        let level = self.logLevel.level
        LoggingSetup.once(level: level)
        var logger = Logger(label: "tenure")
        logger.logLevel = level
        return logger
    }

    /// Loads the configuration, printing its warnings; a configuration error exits 78.
    func loadConfiguration(logger: Logger) throws -> TenureConfiguration {
        do {
            let configuration = try TenureConfiguration.load(
                path: self.configPath,
                environment: ProcessInfo.processInfo.environment
            )
            for warning in configuration.warnings {
                logger.warning("\(warning)")
            }
            return configuration
        } catch {
            printError("configuration error: \(error)")
            throw ExitCode(78)
        }
    }
}

/// `--log-level` values (swift-log's levels).
enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: self.rawValue) ?? .warning }
}

enum LoggingSetup {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var done = false

    static func once(level: Logger.Level) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.done else { return }
        self.done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes a line to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// True when the stream is a terminal (for progress and colour).
func isTerminal(_ descriptor: Int32) -> Bool {
    isatty(descriptor) == 1
}
