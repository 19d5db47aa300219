import ArgumentParser
import DirectorySource
import Foundation
import LDAPClient
import TenureConfig
import TenureCore
import TenureEngine
import TenureStore
import TenureVault

struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Privileged credentials: encrypted at rest, rotated without ever losing a password.",
        discussion: """
            Secrets are never printed. Rotation is two-phase: the new secret is stored (encrypted, \
            pending) before the target changes, verified by a bind, then promoted; `reconcile` \
            settles a rotation that was interrupted.
            """,
        subcommands: [Init.self, Add.self, List.self, Show.self, Rotate.self, Reconcile.self]
    )

    /// The vault's pieces from the configuration.
    struct Context {
        var state: StateContext
        var store: SQLiteStore
        var rotator: CredentialRotator

        init(options: GlobalOptions) throws {
            self.state = try StateContext(options: options)
            guard let keyFile = self.state.state.vaultKeyFile else {
                printError("configuration error: state.vaultKeyFile is not set; add it (see Config/tenure.yaml)")
                throw ExitCode(78)
            }
            self.store = try self.state.openStore()
            self.rotator = try self.state.rotator(store: self.store, keyFile: keyFile)
            RotationProgramInterrupts.install()  // a rotation program stops with the command
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the vault master key (32 random bytes, mode 0600) at state.vaultKeyFile."
        )
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let context = try StateContext(options: self.options)
            guard let path = context.state.vaultKeyFile else {
                printError("configuration error: state.vaultKeyFile is not set")
                throw ExitCode(78)
            }
            do {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                _ = try MasterKey.generate(at: path)
            } catch {
                printError("tenure vault init: \(error)")
                throw ExitCode.failure
            }
            print("Created the vault master key \(path) (mode 0600). Back it up: without it no secret can be read.")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a credential with its current secret (read from a file or stdin, never argv)."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The credential's name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "An LDAP service account, rotated with Password Modify.") var ldapAccount: String?
        @Option(help: "A rotation program that receives the new secret on stdin and exits 0.") var command: String?
        @Option(help: "A file holding the current secret.") var secretFile: String?
        @Flag(help: "Read the current secret from stdin.") var secretStdin = false
        @Option(help: "Length of generated secrets.") var length = 32
        @Flag(help: "Generated secrets without symbols.") var noSymbols = false
        @Option(help: "Rotate when older than this many days.") var maxAgeDays: Double?
        @Flag(help: "Rotate after every check-in.") var oneTime = false
        @Flag(help: "A check-out needs a TOTP code (tenure mfa enroll).") var requireMfa = false
        @Flag(help: "One check-out at a time.") var exclusive = false

        func validate() throws {
            guard (self.ldapAccount == nil) != (self.command == nil) else {
                throw ValidationError("give exactly one of --ldap-account DN and --command PATH")
            }
            guard (self.secretFile == nil) != !self.secretStdin else {
                throw ValidationError("give exactly one of --secret-file FILE and --secret-stdin")
            }
        }

        func run() async throws {
            let context = try Context(options: self.options)
            let secret: String
            if let file = self.secretFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    printError("tenure vault add: cannot read \(file)")
                    throw ExitCode.failure
                }
                secret = text.hasSuffix("\n") ? String(text.dropLast()) : text
            } else {
                secret = readLine(strippingNewline: true) ?? ""
            }
            guard !secret.isEmpty else {
                printError("tenure vault add: the current secret is empty")
                throw ExitCode.failure
            }
            var policy = PasswordPolicy()
            policy.length = self.length
            policy.symbols = !self.noSymbols
            let kind: CredentialKind =
                if let dn = self.ldapAccount { .ldapAccount(dn: dn) } else { .command(path: self.command!) }
            do {
                try await context.rotator.enroll(
                    name: self.name,
                    kind: kind,
                    currentSecret: secret,
                    policy: policy,
                    maxAgeSeconds: self.maxAgeDays.map { $0 * 86_400 },
                    oneTime: self.oneTime,
                    requiresMFA: self.requireMfa,
                    exclusiveCheckout: self.exclusive
                )
            } catch {
                printError("tenure vault add: \(error)")
                throw ExitCode.failure
            }
            print("Added credential \(self.name) (version 1).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List credentials: versions, failures, next attempt.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let context = try Context(options: self.options)
            let statuses = try await context.store.credentialStatuses()
            let rows = statuses.map { status -> [String] in
                let current = status.current.map { "v\($0.version)" } ?? "-"
                let pending = status.pending.map { "v\($0.version) PENDING" } ?? ""
                let next: String = status.failures > 0 ? (status.nextAttemptAt.map(isoDate) ?? "") : ""
                return [
                    status.record.name, describe(status.record.kind), current, pending, String(status.failures), next,
                    status.lastError ?? "",
                ]
            }
            print(
                Table(
                    columns: ["NAME", "TARGET", "CURRENT", "PENDING", "FAILURES", "NEXT TRY", "LAST ERROR"],
                    rows: rows
                ).render(),
                terminator: ""
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a credential's metadata and versions (never the secret)."
        )
        @OptionGroup var options: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let context = try Context(options: self.options)
            guard let status = try await context.store.credentialStatus(named: self.name) else {
                printError("tenure vault show: no credential named \(self.name)")
                throw ExitCode.failure
            }
            print("Credential \(status.record.name)")
            print("  target:     \(describe(status.record.kind))")
            print("  created:    \(isoDate(status.record.createdAt))")
            print("  max age:    \(status.record.maxAgeSeconds.map { "\(Int($0 / 86_400)) days" } ?? "none")")
            print("  one-time:   \(status.record.oneTime)")
            print(
                "  check-out:  \(status.record.exclusiveCheckout ? "exclusive" : "shared")\(status.record.requiresMFA ? ", needs a TOTP code" : "")"
            )
            print("  failures:   \(status.failures)\(status.lastError.map { " (last: \($0))" } ?? "")")
            print("  versions:")
            for version in try await context.store.versions(of: self.name) {
                let settled = version.settledAt.map { ", settled \(isoDate($0))" } ?? ""
                print(
                    "    v\(version.version)  \(version.state.rawValue)  created \(isoDate(version.createdAt))\(settled)"
                )
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rotate a credential now.")
        @OptionGroup var options: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let context = try Context(options: self.options)
            let outcome: CredentialRotator.Outcome
            do {
                outcome = try await context.rotator.rotate(self.name, reason: "requested by \(StateContext.actor)")
            } catch {
                printError("tenure vault rotate: \(error)")
                throw ExitCode.failure
            }
            try report(self.name, outcome)
        }
    }

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Settle interrupted rotations by trying the pending and the current secret."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "One credential (default: every credential with a pending version).") var name: String?

        func run() async throws {
            let context = try Context(options: self.options)
            let names =
                if let name = self.name { [name] } else {
                    try await context.store.credentialStatuses().filter { $0.pending != nil }.map(\.record.name)
                }
            if names.isEmpty { print("Nothing to reconcile: no credential has a pending version.") }
            var failed = false
            for name in names {
                do {
                    try report(name, try await context.rotator.reconcile(name))
                } catch let exit as ExitCode {
                    _ = exit
                    failed = true
                } catch {
                    printError("tenure vault reconcile \(name): \(error)")
                    failed = true
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}

private func describe(_ kind: CredentialKind) -> String {
    switch kind {
    case .ldapAccount(let dn): "ldap \(dn)"
    case .command(let path): "command \(path)"
    }
}

/// Prints an outcome; throws exit 1 unless it rotated or there was nothing to do.
private func report(_ name: String, _ outcome: CredentialRotator.Outcome) throws {
    switch outcome {
    case .rotated(let version):
        print("\(name): rotated to version \(version) (verified, promoted).")
    case .nothingPending:
        print("\(name): nothing pending.")
    case .unchanged(let reason):
        print("\(name): NOT rotated — \(reason); the current secret stays valid.")
        throw ExitCode.failure
    case .needsAttention(let reason):
        print("\(name): NEEDS ATTENTION — \(reason); both versions are kept.")
        throw ExitCode.failure
    }
}
