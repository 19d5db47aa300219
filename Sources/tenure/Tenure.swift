import ArgumentParser

@main
struct Tenure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenure",
        abstract: "Privileged identity lifecycle: keep privileged roles in step with an LDAP directory."
    )
}
