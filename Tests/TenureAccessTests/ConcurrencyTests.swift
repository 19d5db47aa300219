import TenureCore
import Testing

@testable import TenureAccess

@Suite struct ConcurrencyTests {
    /// Many evaluations while grants and revocations run: every answer is one of the two states the
    /// model passes through, and the last one is the final state's.
    @Test func evaluationsDuringUpdates() async {
        let index = AccessIndex(World.model)
        let ask = World.assume("alice", "sec-admin")
        let steady = World.checkout("alice", "pg-prod-ro")
        let key = AssignmentKey(identityID: "u-alice", role: "sec-admin", state: .active)
        let rounds = 500
        let readers = 8
        let reads = 2_000

        let unexpected = await withTaskGroup(of: Int.self) { group in
            group.addTask {
                for round in 0..<rounds {
                    index.update {
                        $0.upsertAssignment(World.active("u-alice", "sec-admin", until: World.now + Double(round + 1)))
                    }
                    index.update { $0.removeAssignment(key) }
                    // Unrelated churn: other identities come and go.
                    index.update { $0.upsertIdentity(World.identity("u-tmp-\(round)", "tmp\(round)")) }
                }
                index.update { $0.upsertAssignment(World.active("u-alice", "sec-admin")) }
                return 0
            }
            for _ in 0..<readers {
                group.addTask {
                    var bad = 0
                    for _ in 0..<reads {
                        let decision = index.evaluate(ask, now: World.now)
                        if decision.reason != .activeAssignment && decision.reason != .notEligible { bad += 1 }
                        if !index.evaluate(steady, now: World.now).allowed { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }

        #expect(unexpected == 0)
        #expect(index.evaluate(ask, now: World.now).reason == .activeAssignment)
        #expect(index.snapshot.identities.count == World.identities.count + rounds)
        #expect(index.evaluate(World.assume("tmp499", "db-read"), now: World.now).reason == .notEligible)
    }
}
