import ArgumentParser
import Foundation
import TenureAccess
import TenureConfig
import TenureCore
import TenureCrypto
import TenureStore
import TenureVault

struct MFACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mfa",
        abstract: "TOTP enrolment for activations of roles that require MFA.",
        discussion: """
            The seed is sealed under the vault master key (state.vaultKeyFile) before it is stored; it \
            is shown once, as an otpauth:// URI for an authenticator app, and never logged or audited.
            """,
        subcommands: [Enroll.self]
    )

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol a person for TOTP (replacing an earlier enrolment); prints the otpauth:// URI once."
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The person's username (or the identity's stable id).") var user: String

        func run() async throws {
            let context = try StateContext(options: self.options)
            guard let keyFile = context.state.vaultKeyFile else {
                printError("configuration error: state.vaultKeyFile is not set; TOTP seeds are sealed by the vault")
                throw ExitCode(78)
            }
            let key = try StateContext.masterKey(keyFile)
            let store = try context.openStore()
            let identity = try await StateContext.identity(self.user, in: store, command: "tenure mfa enroll")
            let previous = try await store.mfaEnrollment(identityID: identity.id)
            var seed = try TOTP.generateSecret()
            defer { secureZero(&seed) }
            let sealedText: String
            do {
                let sealed = try Envelope.seal(seed, credential: "mfa:\(identity.id)", version: 1, masterKey: key)
                sealedText = String(decoding: try JSONEncoder().encode(sealed), as: UTF8.self)
            } catch {
                printError("tenure mfa enroll: the seed could not be sealed: \(error)")
                throw ExitCode.failure
            }
            let time = Date().timeIntervalSince1970
            let event = AuditEvent(
                time: time,
                actor: StateContext.actor,
                type: "mfa.enrolled",
                subject: identity.id,
                details: [
                    "username": identity.username ?? "", "method": "totp",
                    "replaced": previous == nil ? "false" : "true",
                ]
            )
            do {
                try await store.enrollMFA(identityID: identity.id, sealedSeed: sealedText, at: time, audit: [event])
            } catch {
                printError("tenure mfa enroll: \(error)")
                throw ExitCode.failure
            }
            let issuer = context.configuration.server?.totpIssuer ?? "Tenure"
            print(TOTP.otpauthURI(secret: seed, account: identity.username ?? identity.id, issuer: issuer))
            print(
                "Enrolled \(identity.username ?? identity.id) for TOTP\(previous == nil ? "" : " (the earlier enrolment is replaced)")."
                    + " This URI is shown once: import it into an authenticator app now (as text or a QR code),"
                    + " then clear it from the terminal."
            )
        }
    }
}
