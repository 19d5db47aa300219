import ArgumentParser
import Foundation
import TenureCore

/// Times the planner on a synthetic directory: N identities, groups, rules, a stored model that
/// matches yesterday's snapshot, and today's snapshot with a share of churn (joiners, movers by
/// attribute and by group, leavers).
struct PlanBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan N identities with a share of churn; print the planning time as JSON."
    )

    @Option(help: "Identities in the snapshot.") var identities = 100_000
    @Option(help: "Share of identities that change (0.01 = 1%).") var churn = 0.01
    @Option(help: "Groups.") var groups = 2_000
    @Option(help: "Timed repetitions (the median is reported).") var runs = 5

    func run() throws {
        let mappings = Mappings(
            roles: (0..<20).map {
                RoleDefinition(name: "role-\($0)", tier: $0 % 3, mode: $0 % 2 == 0 ? .eligible : .standing)
            },
            rules: (0..<20).map { index in
                Rule(
                    name: "rule-\(index)",
                    when: index % 2 == 0
                        ? .memberOf("grp-\(index * 7)")
                        : .all([
                            .attributeEquals(attribute: "department", value: "dept-\(index % 10)"),
                            .not(.attributeEquals(attribute: "employeeType", value: "contractor")),
                        ]),
                    grant: "role-\(index)",
                    mode: index % 4 == 0 ? .eligible : .standing
                )
            },
            scope: .not(.attributeEquals(attribute: "employeeType", value: "service"))
        )
        let planner = Planner(mappings: mappings, normalizeDN: { $0.lowercased() })
        let yesterday = Self.snapshot(identities: self.identities, groups: self.groups, churn: 0, seed: 1)
        let today = Self.snapshot(identities: self.identities, groups: self.groups, churn: self.churn, seed: 1)

        // The stored model: yesterday's snapshot, planned and applied.
        var state = PIMState()
        for plan in planner.plan(state: state, snapshot: yesterday, now: 1_000).identities {
            for action in plan.actions {
                switch action {
                case .recordIdentity(let record): state.identities[record.id] = record
                case .grantEligible(let role, let rule):
                    state.assignments.append(
                        Assignment(
                            identityID: plan.identityID,
                            role: role,
                            state: .eligible,
                            source: "rule:\(rule)",
                            since: 1_000
                        )
                    )
                case .grantStanding(let role, let rule):
                    state.assignments.append(
                        Assignment(
                            identityID: plan.identityID,
                            role: role,
                            state: .active,
                            source: "rule:\(rule)",
                            since: 1_000
                        )
                    )
                default: break
                }
            }
        }

        var times: [Double] = []
        var last: Plan?
        for _ in 0..<self.runs {
            let start = ContinuousClock.now
            last = planner.plan(state: state, snapshot: today, now: 2_000)
            let elapsed = ContinuousClock.now - start
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        times.sort()
        let summary = last!.summary
        print(
            """
            {"benchmark":"plan","identities":\(self.identities),"churn":\(self.churn),"assignments":\(state.assignments.count),\
            "changedIdentities":\(last!.identities.count),"joiners":\(summary.joiners),"movers":\(summary.movers),\
            "leavers":\(summary.leavers),"medianSeconds":\(times[times.count / 2]),"minSeconds":\(times[0])}
            """
        )
    }

    /// A deterministic snapshot; with churn, a share of identities changes department, changes
    /// group, leaves (disabled) or is new.
    static func snapshot(identities count: Int, groups groupCount: Int, churn: Double, seed: UInt64)
        -> DirectorySnapshot
    {
        var random = SplitMix(seed: seed)
        var identities: [Identity] = []
        identities.reserveCapacity(count)
        var membership = [[String]](repeating: [], count: groupCount)
        let changed = Int(Double(count) * churn)
        for index in 0..<count {
            let id = String(format: "%08x-0000-4000-8000-%012x", index, index)
            var identity = Identity(
                id: id,
                dn: "uid=u\(index),ou=people,dc=bench,dc=test",
                username: "u\(index)",
                mail: "u\(index)@bench.test",
                department: "dept-\(random.next() % 10)",
                title: "title-\(random.next() % 50)",
                employeeType: random.next() % 20 == 0 ? "contractor" : "employee"
            )
            var groupsOfIdentity = [Int(random.next() % UInt64(groupCount)), Int(random.next() % UInt64(groupCount))]
            // Churn: the first `changed` identities, in four kinds.
            if index < changed {
                switch index % 4 {
                case 0: identity.department = "dept-moved"
                case 1: groupsOfIdentity[0] = (groupsOfIdentity[0] + 1) % groupCount
                case 2:
                    identity.disabled = true
                    identity.disabledReasons = ["nsAccountLock: true"]
                default:
                    identity.id = "new-" + id
                }
            }
            for group in groupsOfIdentity { membership[group].append(identity.id) }
            identities.append(identity)
        }
        identities.sort { $0.id < $1.id }
        let groups = (0..<groupCount).map { index in
            let members = membership[index].sorted()
            return Group(
                id: String(format: "g%07d", index),
                dn: "cn=grp-\(index),ou=groups,dc=bench,dc=test",
                name: "grp-\(index)",
                directMembers: members,
                transitiveMembers: members
            )
        }
        return DirectorySnapshot(identities: identities, groups: groups)
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
