import Synchronization
import TenureCore
import TenureServer
import Testing

@Suite struct CoordinatorTests {
    final class Tally: Sendable {
        let state = Mutex<(running: Int, most: Int, done: Int)>((0, 0, 0))
    }

    @Test func bodiesNeverOverlap() async throws {
        let coordinator = Coordinator()
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    await coordinator.exclusive {
                        tally.state.withLock {
                            $0.running += 1
                            $0.most = max($0.most, $0.running)
                        }
                        try? await Task.sleep(for: .milliseconds(1))
                        tally.state.withLock {
                            $0.running -= 1
                            $0.done += 1
                        }
                    }
                }
            }
        }
        let final = tally.state.withLock { $0 }
        #expect(final.done == 50)
        #expect(final.most == 1, "at most one body at a time")
    }
}
