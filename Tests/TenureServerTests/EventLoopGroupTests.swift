import NIOCore
import NIOPosix
import Testing

@testable import TenureServer

/// `server.eventLoops`: the API's network threads come from one group per count, kept for the life
/// of the process like NIO's own singleton.
@Suite struct EventLoopGroupTests {
    @Test func aCountGetsItsOwnGroupOnce() {
        let three = TenureAPI.eventLoopGroup(threads: 3)
        #expect(TenureAPI.eventLoopGroup(threads: 3) === three)
        #expect(Array(three.makeIterator()).count == 3)
        let one = TenureAPI.eventLoopGroup(threads: 1)
        #expect(one !== three)
        #expect(Array(one.makeIterator()).count == 1)
    }
}
