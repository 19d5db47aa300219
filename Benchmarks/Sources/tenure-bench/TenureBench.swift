import ArgumentParser

/// Benchmarks driven by `Benchmarks/*.sh`. Each benchmark is a subcommand in its own file that prints
/// one JSON object per measurement on stdout; add a benchmark by listing its command below.
@main
struct TenureBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenure-bench",
        abstract: "Tenure micro-benchmarks (JSON lines on stdout).",
        subcommands: [
            AuditBenchmark.self,
            PlanBenchmark.self,
        ]
    )
}
