import ArgumentParser
import Foundation
import TenureConfig

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective settings, secrets redacted.",
            discussion: """
                Reads the file, applies TENURE_* environment overrides, validates every value and \
                prints the result as YAML. Secrets are shown as <redacted>. Exit status 0 when valid, \
                78 with the file:line:column of the first problem when not.
                """
        )

        @OptionGroup var options: GlobalOptions

        @Flag(help: "Also check that the bind password can be read (file or environment variable).")
        var password = false

        func run() async throws {
            let logger = self.options.makeLogger()
            let configuration = try self.options.loadConfiguration(logger: logger)
            if self.password {
                do {
                    _ = try configuration.resolvePassword(environment: ProcessInfo.processInfo.environment)
                } catch {
                    printError("configuration error: \(error)")
                    throw ExitCode(78)
                }
            }
            // Warnings went to stderr while loading; stdout is the YAML alone.
            print("# effective configuration of \(self.options.configPath)")
            print(configuration.redactedYAML(), terminator: "")
        }
    }
}
