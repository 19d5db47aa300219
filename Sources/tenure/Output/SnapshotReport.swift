import DirectorySource
import Foundation
import TenureCore

/// Renders a pull for people (a summary table) and machines (the whole snapshot as JSON).
enum SnapshotReport {
    static func table(_ result: PullResult, top: Int, color: Bool) -> String {
        let snapshot = result.snapshot
        let bold = color ? "\u{1B}[1m" : ""
        let yellow = color ? "\u{1B}[33m" : ""
        let reset = color ? "\u{1B}[0m" : ""
        var out = ""
        out += "\(bold)Directory snapshot\(reset) from \(result.server) "
        out += "(\(result.entriesRead.formatted()) entries in \(String(format: "%.2f", result.seconds)) s)\n\n"
        let nestedLinks = snapshot.groups.reduce(0) { $0 + $1.directGroups.count }
        out += Table(
            columns: [],
            rows: [
                [
                    "Identities", snapshot.identities.count.formatted(),
                    "\(snapshot.disabledCount.formatted()) disabled",
                ],
                [
                    "Groups", snapshot.groups.count.formatted(),
                    "\(nestedLinks.formatted()) nested links, "
                        + (snapshot.cycles.isEmpty ? "no cycles" : "\(snapshot.cycles.count) cycle(s)"),
                ],
                ["Warnings", snapshot.warnings.count.formatted(), ""],
            ],
            rightAligned: [1]
        ).render()

        let largest = snapshot.groups
            .sorted { ($0.transitiveMembers.count, $1.name) > ($1.transitiveMembers.count, $0.name) }
            .prefix(max(0, top))
        if !largest.isEmpty {
            out += "\n\(bold)Largest groups\(reset) (by transitive members)\n"
            out += Table(
                columns: ["GROUP", "DIRECT", "NESTED", "TRANSITIVE", "DN"],
                rows: largest.map {
                    [
                        $0.name, $0.directMembers.count.formatted(), $0.directGroups.count.formatted(),
                        $0.transitiveMembers.count.formatted(), $0.dn,
                    ]
                },
                rightAligned: [1, 2, 3]
            ).render()
        }

        let disabled = snapshot.identities.filter(\.disabled)
        if !disabled.isEmpty {
            out += "\n\(bold)Disabled identities\(reset)\n"
            out += Table(
                columns: ["USERNAME", "REASON", "DN"],
                rows: disabled.prefix(50).map {
                    [$0.username ?? "-", $0.disabledReasons.joined(separator: "; "), $0.dn]
                }
            ).render()
            if disabled.count > 50 { out += "  … and \(disabled.count - 50) more (use --format json)\n" }
        }

        if !snapshot.cycles.isEmpty {
            out += "\n\(yellow)\(bold)Nested-group cycles\(reset) (members are shared by every group in a cycle)\n"
            for cycle in snapshot.cycles {
                out += "  " + cycle.joined(separator: " ⇄ ") + "\n"
            }
        }
        let otherWarnings = snapshot.warnings.filter { !$0.hasPrefix("nested groups form a cycle") }
        if !otherWarnings.isEmpty {
            out += "\n\(yellow)Warnings\(reset)\n"
            for warning in otherWarnings.prefix(20) {
                out += "  \(warning)\n"
            }
            if otherWarnings.count > 20 { out += "  … and \(otherWarnings.count - 20) more (use --format json)\n" }
        }
        return out
    }

    /// The whole snapshot as JSON on stdout, streamed (see `SnapshotJSONWriter`).
    static func writeJSON(_ result: PullResult, readAt: Date) {
        let output = FileHandle.standardOutput
        var writer = SnapshotJSONWriter { bytes in output.write(Data(bytes)) }
        writer.writeDocument(
            snapshot: result.snapshot,
            server: result.server,
            readAt: readAt.formatted(.iso8601),
            entriesRead: result.entriesRead,
            seconds: result.seconds
        )
    }
}

/// A plain text table: columns padded to the widest cell, two spaces apart.
struct Table {
    var columns: [String]
    var rows: [[String]]
    var rightAligned: Set<Int> = []

    func render() -> String {
        let width = max(self.columns.count, self.rows.map(\.count).max() ?? 0)
        var widths = (0..<width).map { $0 < self.columns.count ? self.columns[$0].count : 0 }
        for row in self.rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (index, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                let isLast = index == cells.count - 1
                parts.append(self.rightAligned.contains(index) ? pad + cell : (isLast ? cell : cell + pad))
            }
            var text = "  " + parts.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text + "\n"
        }
        var out = ""
        if self.columns.contains(where: { !$0.isEmpty }) { out += line(self.columns) }
        for row in self.rows { out += line(row) }
        return out
    }
}
