import Synchronization
import TenureCore
import TenureServer
import Testing

@Suite(.timeLimit(.minutes(3))) struct CoordinatorTests {
    final class Tally: Sendable {
        let state = Mutex<(running: Int, most: Int, done: Int)>((0, 0, 0))

        /// One body in `coordinator`, counted: how many ran at once, how many ended.
        func counted(in coordinator: Coordinator) async {
            await coordinator.exclusive {
                self.state.withLock {
                    $0.running += 1
                    $0.most = max($0.most, $0.running)
                }
                try? await Task.sleep(for: .milliseconds(1))
                self.state.withLock {
                    $0.running -= 1
                    $0.done += 1
                }
            }
        }
    }

    final class Events: Sendable {
        private let list = Mutex<[String]>([])
        func add(_ event: String) { self.list.withLock { $0.append(event) } }
        var all: [String] { self.list.withLock { $0 } }
    }

    @Test func bodiesNeverOverlap() async throws {
        let coordinator = Coordinator()
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    await tally.counted(in: coordinator)
                }
            }
        }
        let final = tally.state.withLock { $0 }
        #expect(final.done == 50)
        #expect(final.most == 1, "at most one body at a time")
    }

    /// `released` lets the lock go for its body: changes run meanwhile, and the holder gets the lock
    /// back only after them — what follows the body never overlaps another change.
    @Test func releasedLetsOthersInAndTakesTheLockBack() async throws {
        let coordinator = Coordinator()
        let events = Events()
        @Sendable func log(_ event: String) { events.add(event) }
        let inBody = AsyncStream<Void>.makeStream()
        let otherDone = AsyncStream<Void>.makeStream()
        let bodyEnding = AsyncStream<Void>.makeStream()
        let holder = Task {
            await coordinator.exclusive {
                log("holder: before")
                await coordinator.released {
                    inBody.continuation.yield()
                    // The other change gets in while the lock is let go.
                    var done = otherDone.stream.makeAsyncIterator()
                    _ = await done.next()
                    // A third change that starts while the lock is let go: the holder's body ends
                    // while it runs, and the holder waits for it to finish (it ends a moment after
                    // the body, so that a holder that did not wait would log first).
                    let third = Task {
                        await coordinator.exclusive {
                            log("third: start")
                            var ending = bodyEnding.stream.makeAsyncIterator()
                            _ = await ending.next()
                            try? await Task.sleep(for: .milliseconds(20))
                            log("third: end")
                        }
                    }
                    while !events.all.contains("third: start") { await Task.yield() }
                    log("holder: released body")
                    bodyEnding.continuation.yield()
                    _ = third
                }
                log("holder: after")
            }
        }
        var started = inBody.stream.makeAsyncIterator()
        _ = await started.next()
        await coordinator.exclusive {
            log("other")
            otherDone.continuation.yield()
        }
        await holder.value
        #expect(
            events.all == [
                "holder: before", "other", "third: start", "holder: released body", "third: end", "holder: after",
            ]
        )
    }

    /// Outside `exclusive` it only runs the body: the lock is not let go by someone not holding it.
    @Test func releasedOutsideExclusiveLetsNothingGo() async throws {
        let coordinator = Coordinator()
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index % 2 == 0 {
                        await coordinator.released { try? await Task.sleep(for: .milliseconds(1)) }
                    } else {
                        await tally.counted(in: coordinator)
                    }
                }
            }
        }
        let final = tally.state.withLock { $0 }
        #expect(final.done == 20)
        #expect(final.most == 1, "at most one body at a time")
    }
}
