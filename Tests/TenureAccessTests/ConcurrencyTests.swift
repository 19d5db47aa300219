import Dispatch
import Foundation
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

    /// Updates from many tasks at once: each one's change is kept (writers take turns).
    @Test func concurrentUpdatesAreNotLost() async {
        let index = AccessIndex(World.model)
        let writers = 8
        let each = 200
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for n in 0..<each {
                        index.update { $0.upsertIdentity(World.identity("u-w\(writer)-\(n)", "w\(writer)n\(n)")) }
                    }
                }
            }
        }
        #expect(index.snapshot.identities.count == World.identities.count + writers * each)
    }

    /// A reader is answered while an update is still being computed: the update works on its own
    /// copy and takes the readers' lock only to swap it in. (With the update under the readers'
    /// lock the reader would wait for the update, and the update here waits for the reader.)
    @Test func aReaderDoesNotWaitForAnUpdateInProgress() async throws {
        let index = AccessIndex(World.model)
        let inUpdate = DispatchSemaphore(value: 0)
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread {
            inUpdate.wait()
            _ = index.evaluate(World.assume("alice", "sec-admin"), now: World.now)
            readerDone.signal()
        }
        reader.start()
        var readerFinishedDuringUpdate = false
        index.update { model in
            model.upsertIdentity(World.identity("u-new", "new"))
            inUpdate.signal()
            readerFinishedDuringUpdate = readerDone.wait(timeout: .now() + 10) == .success
        }
        if !readerFinishedDuringUpdate { _ = readerDone.wait(timeout: .now() + 30) }
        #expect(readerFinishedDuringUpdate)
        #expect(index.snapshot.identities["u-new"] != nil)
    }
}
