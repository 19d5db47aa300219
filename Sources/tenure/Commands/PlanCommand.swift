import ArgumentParser
import DirectorySource
import Foundation
import TenureCore
import TenureEngine

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a sync would change: joiners, movers, leavers, their role actions and drift.",
        discussion: """
            Pulls the directory, diffs it against the stored model with the mappings, and prints the \
            plan like `terraform plan`. Nothing is written. With --detailed-exitcode the exit status \
            is 0 for no changes, 2 for changes, 1 for an error (drift that is only reported is no \
            change: see tenure drift --detailed-exitcode).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text
        case json
    }

    @OptionGroup var options: GlobalOptions

    @Option(help: "Output format: text (for people) or json.")
    var format: Format = .text

    @Flag(help: "Exit 0 when there are no changes, 2 when there are, 1 on error.")
    var detailedExitcode = false

    func run() async throws {
        let preview = try await StateContext(options: self.options)
            .previewPlan(command: "tenure plan", afterFailure: "no plan was made.")
        let (plan, hash, pulled) = (preview.plan, preview.hash, preview.pulled)
        switch self.format {
        case .text:
            let header =
                "Tenure plan from \(pulled.server): \(pulled.snapshot.identities.count) identities, "
                + "\(pulled.snapshot.groups.count) groups read."
            print(PlanReport(color: isTerminal(STDOUT_FILENO)).render(plan, hash: hash, header: header), terminator: "")
        case .json:
            struct Document: Encodable {
                var hash: String
                var summary: PlanSummary
                var plan: Plan
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(Document(hash: hash, summary: plan.summary, plan: plan)))
            print()
        }
        if self.detailedExitcode && !plan.identities.isEmpty {
            throw ExitCode(2)
        }
    }
}
