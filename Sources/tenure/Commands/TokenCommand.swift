import ArgumentParser
import Foundation
import TenureConfig
import TenureCore
import TenureCrypto
import TenureStore

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Make API bearer tokens.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print a new random bearer token and the server.tokens entry (its SHA-256) for the configuration.",
            discussion: """
                The token is printed once, on standard output; only its SHA-256 goes into the \
                configuration. Give the token to the caller, keep the entry.
                """
        )

        @OptionGroup var options: GlobalOptions
        @Argument(help: "A name for the token (logs and audit say token:<name>).") var name: String
        @Option(help: "Comma-separated scopes: check, activate, approve, hr, admin, read.") var scopes: String
        @Option(
            help: """
                The person the token belongs to (a username or stable id), for approvals and own \
                activations. With a configuration (--config, $TENURE_CONFIG or /etc/tenure/tenure.yaml), \
                it is looked up in the store and the entry names the identity's stable id, so the token \
                never passes to someone who later gets the username.
                """
        )
        var subject: String?

        func run() async throws {
            var chosen: [String] = []
            for scope in self.scopes.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard APIScope(rawValue: scope) != nil else {
                    throw ValidationError(
                        "unknown scope \(scope); choose from "
                            + APIScope.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                }
                chosen.append(scope)
            }
            let subjectLine = try await self.subjectLine()
            let token = "tnr_" + hex(try SecureRandom.bytes(32))
            let hash = hex(Digest.sha256(Array(token.utf8)))
            print("token: \(token)")
            print("")
            print("# server.tokens entry:")
            // Quoted: a name or subject with ": ", "#" or a quote must paste as itself.
            print("    - name: \(yamlString(self.name))")
            print("      sha256: \"\(hash)\"")
            print("      scopes: [\(chosen.joined(separator: ", "))]")
            if let subjectLine { print(subjectLine) }
        }

        /// The entry's `subject:` line: the stable id of the identity the store knows by that name,
        /// with its username and DN in a comment; the name as given, with a warning, when there is
        /// no configuration to look it up in.
        private func subjectLine() async throws -> String? {
            guard let subject = self.subject else { return nil }
            // Only when no configuration was named: a --config or $TENURE_CONFIG that does not exist
            // is an error (StateContext says so), not a reason to leave the subject unpinned.
            let named = self.options.config != nil || ProcessInfo.processInfo.environment["TENURE_CONFIG"] != nil
            guard named || FileManager.default.fileExists(atPath: self.options.configPath) else {
                printError(
                    "tenure token create: warning: no configuration at \(self.options.configPath), so the subject "
                        + "is kept as written: a username follows whoever holds it; give --config to pin it to "
                        + "the identity's stable id"
                )
                return "      subject: \(yamlString(subject))"
            }
            let context = try StateContext(options: self.options)
            let identity = try await StateContext.identity(
                subject,
                in: try context.openStoreForReading(),
                command: "tenure token create"
            )
            // A comment holds anything but a line break.
            let who = "\(identity.username ?? "?") (\(identity.dn))".filter { !$0.isNewline }
            return "      subject: \(yamlString(identity.id))  # \(who)"
        }
    }
}
