import ArgumentParser

@main
struct Tenure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenure",
        abstract: "Privileged identity lifecycle: keep privileged roles in step with an LDAP directory.",
        discussion: """
            Exit status: 0 success, 1 failure (directory, data or I/O error), 64 bad usage, \
            78 configuration error.
            """,
        version: "0.1.0",
        subcommands: [Pull.self, ConfigCommand.self]
    )
}
