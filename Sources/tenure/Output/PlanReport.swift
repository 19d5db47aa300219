import Foundation
import TenureCore

/// Renders a plan the way `terraform plan` reads: one block per identity, `+` grants, `-`
/// revocations, `~` elevations, each with its reason, then a summary line.
struct PlanReport {
    var color: Bool

    private func paint(_ text: String, _ code: String) -> String {
        self.color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    func render(_ plan: Plan, hash: String, header: String) -> String {
        var out = header + "\n\n"
        if plan.identities.isEmpty && !plan.drift.isEmpty {
            out += "No changes to apply; the drift below is reported only (the roles' drift policy is alert).\n"
        }
        if plan.identities.isEmpty && plan.drift.isEmpty {
            out += "No changes. The stored model matches the directory and the mappings.\n"
        }
        for identity in plan.identities {
            let name = identity.username ?? identity.identityID
            let kinds = identity.events.map(\.kind.rawValue)
            let (symbol, code): (String, String) =
                if kinds.contains("leaver") { ("-", "31") } else if kinds.contains("joiner") || kinds.contains("rehire")
                {
                    ("+", "32")
                } else { ("~", "33") }
            let label = kinds.isEmpty ? "update" : kinds.joined(separator: ", ")
            out += "  " + self.paint("\(symbol) \(label)", code) + "  \(self.paint(name, "1")) (\(identity.dn))"
            out += identity.isProtected ? self.paint("  [protected: access changes withheld]", "35") : ""
            out += "\n"
            for event in identity.events {
                for reason in event.reasons { out += "      \(reason)\n" }
            }
            for action in identity.actions {
                switch action {
                case .revoke(let role, let state, let reason):
                    out += "      " + self.paint("- revoke \(state.rawValue) \(role)", "31") + "  (\(reason))\n"
                case .expire(let role, let state, let reason):
                    out += "      " + self.paint("- expire \(state.rawValue) \(role)", "31") + "  (\(reason))\n"
                case .grantEligible(let role, let rule):
                    out += "      " + self.paint("+ grant eligible \(role)", "32") + "  (rule \(rule))\n"
                case .grantStanding(let role, let rule):
                    out += "      " + self.paint("+ grant standing \(role)", "32") + "  (rule \(rule))\n"
                case .elevate(let role, let rule):
                    out += "      " + self.paint("~ elevate \(role) eligible → standing", "33") + "  (rule \(rule))\n"
                case .writeBack(let group, _, let add, let member, let reason, _):
                    out +=
                        "      "
                        + self.paint(
                            add ? "+ add to write-back group \(group)" : "- remove from write-back group \(group)",
                            add ? "32" : "31"
                        )
                        + (member.map { $0 == identity.dn ? "" : "  member \($0)" } ?? "")
                        + (reason.map { "  (\($0))" } ?? "")
                        + "\n"
                case .adopt(let role, let group):
                    out +=
                        "      " + self.paint("+ adopt active \(role)", "32")
                        + "  (drift: in \(group) without holding it; drift policy adopt)\n"
                case .rotateCredential(let name, _, let reason):
                    out += "      " + self.paint("! rotate credential \(name)", "33") + "  (\(reason))\n"
                case .recordIdentity:
                    break
                }
            }
        }
        if !plan.drift.isEmpty {
            out += "\n  Drift in write-back groups:\n"
            for finding in plan.drift {
                let who = finding.username ?? (finding.member.isEmpty ? finding.group : finding.member)
                out += "  " + self.paint("! \(finding.kind.rawValue)", "35") + " \(finding.role): \(who)"
                out += " — \(finding.detail) [\(finding.resolution.rawValue)]\n"
            }
        }
        if !plan.conflicts.isEmpty {
            out += "\n"
            for conflict in plan.conflicts {
                out += "  " + self.paint("! separation of duties:", "35")
                out += " \(conflict.username ?? conflict.identityID) would get \(conflict.role) (rule \(conflict.rule))"
                out += " but holds \(conflict.conflictsWith): not granted\n"
            }
        }
        if !plan.ambiguousGroupNames.isEmpty {
            out += "\n"
            for entry in plan.ambiguousGroupNames {
                out += "  " + self.paint("! memberOf: \(entry.name) names \(entry.dns.count) groups", "35;1")
                out += " (\(entry.dns.joined(separator: "; "))): its conditions are undecided — nothing is granted"
                out += " or revoked through them until the mappings name the group by DN\n"
            }
        }
        if !plan.protectedChanges.isEmpty {
            out += "\n"
            for change in plan.protectedChanges {
                out += "  " + self.paint("! \(change)", "35;1") + "\n"
            }
        }
        let s = plan.summary
        out += "\nPlan: \(s.joiners) joiner(s), \(s.movers) mover(s), \(s.leavers) leaver(s)"
        out += s.rehires > 0 ? ", \(s.rehires) rehire(s)" : ""
        out +=
            "; \(s.grants) to grant, \(s.elevations) to elevate, \(s.revocations) to revoke, \(s.expirations) to expire"
        out += s.writeBacks > 0 ? "; \(s.writeBacks) write-back change(s)" : ""
        out += s.rotations > 0 ? "; \(s.rotations) credential rotation(s)" : ""
        out += s.adoptions > 0 ? "; \(s.adoptions) adoption(s)" : ""
        out += s.drift > 0 ? "; \(s.drift) drift finding(s)" : ""
        out += s.conflicts > 0 ? "; \(s.conflicts) SoD conflict(s) refused" : ""
        out += ".\n"
        if plan.guardVerdict.held {
            out +=
                self.paint("Plan HELD by the mass-revocation guard: \(plan.guardVerdict.reason ?? "")", "31;1") + "\n"
        }
        out += "Plan hash: sha256:\(hash)\n"
        return out
    }
}
