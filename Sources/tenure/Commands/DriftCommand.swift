import ArgumentParser
import DirectorySource
import Foundation
import TenureCore
import TenureEngine
import TenureStore

struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Show role drift: write-back groups that differ from what Tenure granted (table, JSON, CSV, HTML).",
        discussion: """
            Pulls the directory and compares every role's write-back group with the role's active \
            holders and with what Tenure wrote: members added outside Tenure (out-of-band), members \
            that are not managed identities (unmanaged) or no identity at all (orphan), nested groups, \
            holders removed by hand (missing), protected identities touched, and eligible-only roles \
            held standing. RESOLUTION is what the next sync does, by the role's drift policy: \
            reported (alert), removed (revert), adopted (adopt) or re-added. SINCE is when a sync first \
            recorded the finding. Nothing is written. With --detailed-exitcode the exit status is 0 \
            for no drift, 2 for drift, 1 for an error.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table
        case json
        case csv
        case html
    }

    @OptionGroup var options: GlobalOptions

    @Option(help: "Output format: table (for people), json, csv, or html (one self-contained page).")
    var format: Format = .table

    @Flag(help: "Exit 0 when there is no drift, 2 when there is, 1 on error.")
    var detailedExitcode = false

    func run() async throws {
        let preview = try await StateContext(options: self.options).previewPlan(command: "tenure drift")
        let (plan, pulled, mappings) = (preview.plan, preview.pulled, preview.mappings)
        let recorded = try await preview.store.driftFindings()
        let since = Dictionary(
            recorded.map { (DriftKey($0.finding), $0.firstSeen) },
            uniquingKeysWith: { first, _ in first }
        )
        let rows = plan.drift.map { DriftRow(finding: $0, firstSeen: since[DriftKey($0)]) }
        switch self.format {
        case .table:
            print(Self.table(rows, roles: mappings.roles.filter { $0.writeBackGroup != nil }.count), terminator: "")
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(DriftDocument(server: pulled.server, drift: rows)))
            print()
        case .csv:
            var out = CSV.line([
                "role", "group", "kind", "member", "username", "identityID", "resolution", "since", "detail",
            ])
            for row in rows {
                let finding = row.finding
                out += CSV.line([
                    finding.role, finding.group, finding.kind.rawValue, finding.member, finding.username ?? "",
                    finding.identityID ?? "", finding.resolution.rawValue, row.firstSeen.map(isoDate) ?? "",
                    finding.detail,
                ])
            }
            FileHandle.standardOutput.write(Data(out))
        case .html:
            print(Self.html(rows, server: pulled.server, at: Date().timeIntervalSince1970), terminator: "")
        }
        if self.detailedExitcode && !rows.isEmpty {
            throw ExitCode(2)
        }
    }

    /// One self-contained page (inline style, no script, no external resource), every value escaped.
    static func html(_ rows: [DriftRow], server: String, at time: Double) -> String {
        func escape(_ text: String) -> String {
            var out = ""
            for character in text {
                switch character {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&#39;"
                default: out.append(character)
                }
            }
            return out
        }
        var body = ""
        for row in rows {
            let finding = row.finding
            let member =
                finding.username.map { "\(escape($0))<br><small>\(escape(finding.member))</small>" }
                ?? escape(finding.member.isEmpty ? finding.group : finding.member)
            body += "<tr class=\"\(escape(finding.resolution.rawValue))\"><td>\(escape(finding.role))</td>"
            body += "<td>\(escape(finding.kind.rawValue))</td><td>\(member)</td>"
            body +=
                "<td>\(escape(finding.resolution.rawValue))</td><td>\(escape(row.firstSeen.map(isoDate) ?? "new"))</td>"
            body += "<td>\(escape(finding.detail))</td><td><small>\(escape(finding.group))</small></td></tr>\n"
        }
        let empty =
            rows.isEmpty ? "<p>No drift: every write-back group holds exactly its role's active holders.</p>" : ""
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>Tenure drift report</title>
            <style>
            body{font:14px system-ui,sans-serif;margin:2em;color:#222}
            table{border-collapse:collapse;width:100%}
            th,td{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}
            th{background:#f4f4f4} small{color:#666}
            tr.removed td:nth-child(4){color:#b00} tr.adopted td:nth-child(4){color:#06c}
            tr.reported td:nth-child(4){color:#a60} tr.readded td:nth-child(4){color:#080}
            </style></head><body>
            <h1>Tenure drift report</h1>
            <p>\(escape(server)) at \(escape(isoDate(time))): \(rows.count) finding(s). RESOLUTION is what the next sync does.</p>
            \(empty)<table><thead><tr><th>Role</th><th>Kind</th><th>Member</th><th>Resolution</th><th>Since</th><th>Detail</th><th>Group</th></tr></thead>
            <tbody>
            \(body)</tbody></table></body></html>

            """
    }

    static func table(_ rows: [DriftRow], roles: Int) -> String {
        guard !rows.isEmpty else {
            return "No drift: the \(roles) write-back group(s) hold exactly the roles' active holders.\n"
        }
        let table = Table(
            columns: ["ROLE", "KIND", "MEMBER", "RESOLUTION", "SINCE", "DETAIL"],
            rows: rows.map { row in
                let finding = row.finding
                return [
                    finding.role, finding.kind.rawValue,
                    finding.username ?? (finding.member.isEmpty ? finding.group : finding.member),
                    finding.resolution.rawValue, row.firstSeen.map(isoDate) ?? "new", finding.detail,
                ]
            }
        )
        var counts: [String: Int] = [:]
        for row in rows { counts[row.finding.resolution.rawValue, default: 0] += 1 }
        let summary = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        return table.render() + "\n\(rows.count) finding(s): \(summary) (by the next sync).\n"
    }
}

/// A finding with when a sync first recorded it.
struct DriftRow: Encodable {
    var finding: DriftFinding
    var firstSeen: Double?

    private enum CodingKeys: String, CodingKey {
        case role, group, kind, member, username, identityID, resolution, detail, since
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.finding.role, forKey: .role)
        try container.encode(self.finding.group, forKey: .group)
        try container.encode(self.finding.kind.rawValue, forKey: .kind)
        try container.encode(self.finding.member, forKey: .member)
        try container.encodeIfPresent(self.finding.username, forKey: .username)
        try container.encodeIfPresent(self.finding.identityID, forKey: .identityID)
        try container.encode(self.finding.resolution.rawValue, forKey: .resolution)
        try container.encode(self.finding.detail, forKey: .detail)
        try container.encodeIfPresent(self.firstSeen.map(isoDate), forKey: .since)
    }
}

private struct DriftDocument: Encodable {
    var server: String
    var drift: [DriftRow]
}

private struct DriftKey: Hashable {
    var role: String
    var member: String
    var kind: DriftFinding.Kind

    init(_ finding: DriftFinding) {
        self.role = finding.role
        self.member = finding.member
        self.kind = finding.kind
    }
}
