import ArgumentParser
import Foundation
import TenureConfig
import TenureCrypto

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

        @Argument(help: "A name for the token (logs and audit say token:<name>).") var name: String
        @Option(help: "Comma-separated scopes: check, activate, approve, hr, admin, read.") var scopes: String
        @Option(help: "The person the token belongs to (a username), for approvals.") var subject: String?

        func run() throws {
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
            let token = "tnr_" + hex(try SecureRandom.bytes(32))
            let hash = hex(Digest.sha256(Array(token.utf8)))
            print("token: \(token)")
            print("")
            print("# server.tokens entry:")
            // Quoted: a name or subject with ": ", "#" or a quote must paste as itself.
            print("    - name: \(yamlString(self.name))")
            print("      sha256: \"\(hash)\"")
            print("      scopes: [\(chosen.joined(separator: ", "))]")
            if let subject = self.subject { print("      subject: \(yamlString(subject))") }
        }
    }
}
