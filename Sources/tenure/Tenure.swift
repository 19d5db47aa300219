import ArgumentParser

@main
struct Tenure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenure",
        abstract: "Privileged identity lifecycle: keep privileged roles in step with an LDAP directory.",
        discussion: """
            Exit status: 0 success, 1 failure (directory, data or I/O error), 2 changes \
            (plan --detailed-exitcode), 3 plan held by the mass-revocation guard (sync), 64 bad usage, \
            75 another sync holds the lock, 78 configuration error.
            """,
        version: "0.1.0",
        subcommands: [
            Pull.self, PlanCommand.self, SyncCommand.self, DriftCommand.self, ServeCommand.self, OffboardCommand.self,
            AuditCommand.self, VaultCommand.self, MFACommand.self, TokenCommand.self, ConfigCommand.self,
        ]
    )
}
