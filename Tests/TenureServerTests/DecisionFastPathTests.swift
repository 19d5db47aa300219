import Dispatch
import Foundation
import GRDB
import HTTPTypes
import HummingbirdCore
import HummingbirdTesting
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Synchronization
import TenureConfig
import TenureCore
import TenureStore
import Testing

@testable import TenureServer

/// The decision fast path as a channel handler, driven part by part: what it answers itself, what
/// it hands to the router unchanged, and that responses leave in the order requests came even when
/// requests are pipelined or a graceful shutdown arrives while a decision waits for its commit.
/// (The decision tests over real HTTP run with and without it: `DecisionAPITests`.)
@Suite(.timeLimit(.minutes(3)))
struct DecisionFastPathTests {
    /// Records the events that reach the end of the pipeline (where Hummingbird's handler sits).
    final class Tail: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        let quiesced = Atomic<Int>(0)
        let inputClosed = Atomic<Int>(0)

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ChannelShouldQuiesceEvent { self.quiesced.wrappingAdd(1, ordering: .relaxed) }
            if event as? ChannelEvent == .inputClosed { self.inputClosed.wrappingAdd(1, ordering: .relaxed) }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Counts the reads that pass the fast path toward the socket.
    final class ReadCounter: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = Any
        let count = Atomic<Int>(0)

        func read(context: ChannelHandlerContext) {
            self.count.wrappingAdd(1, ordering: .relaxed)
            context.read()
        }
    }

    final class Fixture {
        let harness: Harness
        let channel: NIOAsyncTestingChannel
        let tail: Tail
        let reads: ReadCounter
        let writer: Task<Void, any Error>
        private var inbound: [HTTPRequestPart] = []
        private var outbound: [HTTPResponsePart] = []

        /// - Parameter stateHandlerInFront: Hummingbird's connection-state handler ahead of the
        ///   fast path, as the front path adds it on hand-over (it keeps `channelInactive` to itself).
        init(stateHandlerInFront: Bool = false) async throws {
            let harness = try await Harness(
                mappings: DecisionAPITests.mappings,
                state: DecisionAPITests.state,
                now: { DecisionAPITests.now }
            )
            let lane = DecisionFastLane(api: harness.api, authentication: harness.api.authentication())
            let tail = Tail()
            let reads = ReadCounter()
            let logger = harness.api.logger
            self.channel = try await NIOAsyncTestingChannel { channel in
                try channel.pipeline.syncOperations.addHandler(reads)
                if stateHandlerInFront {
                    try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
                }
                try channel.pipeline.syncOperations.addHandler(DecisionFastPath(lane: lane))
                try channel.pipeline.syncOperations.addHandler(tail)
            }
            let audit = harness.api.audit
            self.writer = Task { try await audit.run() }
            self.harness = harness
            self.tail = tail
            self.reads = reads
        }

        func send(_ parts: [HTTPRequestPart]) async throws {
            for part in parts { try await self.channel.writeInbound(part) }
        }

        /// Runs what is queued on the (testing) event loop and collects what came out of the handler.
        private func drain() async throws {
            await self.channel.testingEventLoop.run()
            while let part = try await self.channel.readInbound(as: HTTPRequestPart.self) { self.inbound.append(part) }
            while let part = try await self.channel.readOutbound(as: HTTPResponsePart.self) {
                self.outbound.append(part)
            }
        }

        /// What reached the router (the end of the pipeline) since the last call, in order.
        func routed() async throws -> [HTTPRequestPart] {
            try await self.drain()
            defer { self.inbound = [] }
            return self.inbound
        }

        /// What the handler wrote itself since the last call, in order.
        func answered() async throws -> [HTTPResponsePart] {
            try await self.drain()
            defer { self.outbound = [] }
            return self.outbound
        }

        /// Waits until `count` decisions are committed and the handler has acted on the commit (the
        /// audit thread queues the completion on the loop, which runs it when told to).
        func commit(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                try await self.drain()
                let committed = try await self.harness.auditRecords(type: "access.decision").count
                if committed >= count, !(self.inbound.isEmpty && self.outbound.isEmpty) { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await self.harness.auditRecords(type: "access.decision").count == count)
        }

        func holdCommits() throws -> @Sendable () -> Void {
            try DecisionFastPathTests.holdCommits(self.harness)
        }

        func finish() async throws {
            _ = try await self.channel.finish(acceptAlreadyClosed: true)
            self.writer.cancel()
            try await self.writer.value
            try? FileManager.default.removeItem(atPath: self.harness.directory)
        }
    }

    /// Holds the database's write lock from another connection: no audit commit happens until
    /// the returned function is called (the store waits up to 10 s for the lock). Throws when the
    /// lock cannot be taken (waited for up to 10 s, as the store does); let go after 60 s if the
    /// test never calls the function (it failed on the way): nothing here waits forever.
    static func holdCommits(_ harness: Harness) throws -> @Sendable () -> Void {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: harness.directory + "/t.sqlite", configuration: configuration)
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        Thread {
            do {
                try queue.inTransaction(.immediate) { _ in
                    held.signal()
                    _ = release.wait(timeout: .now() + 60)
                    return .rollback
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
                held.signal()
            }
        }.start()
        guard held.wait(timeout: .now() + 30) == .success else {
            throw RawHTTP.Failure(description: "the write lock was not taken within 30 s")
        }
        if let failure = failure.withLock({ $0 }) {
            throw RawHTTP.Failure(description: "cannot hold the write lock: \(failure)")
        }
        return { release.signal() }
    }

    static func evaluation(token: String? = "gateway", requestID: String? = nil) -> [HTTPRequestPart] {
        var fields = HTTPFields()
        if let token { fields[.authorization] = "Bearer \(Harness.token(token))" }
        fields[.contentType] = "application/json"
        if let requestID { fields[.requestID] = requestID }
        let head = HTTPRequest(
            method: .post,
            scheme: nil,
            authority: "localhost",
            path: "/access/v1/evaluation",
            headerFields: fields
        )
        let body = DecisionAPITests.evaluation("ann", "role", "db-read", "assume")
        return [.head(head), .body(ByteBuffer(string: body)), .end(nil)]
    }

    static func get(_ path: String) -> [HTTPRequestPart] {
        [.head(HTTPRequest(method: .get, scheme: nil, authority: "localhost", path: path)), .end(nil)]
    }

    static func heads(_ parts: [HTTPRequestPart]) -> [String] {
        parts.compactMap { if case .head(let head) = $0 { head.path } else { nil } }
    }

    @Test func aValidEvaluationIsAnsweredHereAfterItsAuditCommit() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "fast-1"))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.routed().isEmpty, "the router never sees it")
        #expect(try await fixture.answered().isEmpty, "no answer before the commit")
        release()
        try await fixture.commit(1)
        let answer = try await fixture.answered()
        try #require(answer.count == 3)
        guard case .head(let head) = answer[0], case .body(let body) = answer[1], case .end = answer[2] else {
            Issue.record("expected head, body, end: \(answer)")
            return
        }
        #expect(head.status == .ok)
        #expect(head.headerFields[.requestID] == "fast-1")
        #expect(head.headerFields[.contentType] == "application/json")
        #expect(head.headerFields[.contentLength] == String(body.readableBytes))
        #expect(String(buffer: body).hasSuffix(#""decision":true}"#))
        let record = try #require(try await fixture.harness.auditRecords(type: "access.decision").first)
        #expect(record.event.details["request"] == "fast-1")
        #expect(record.event.actor == "token:gateway")
        try await fixture.finish()
    }

    @Test func anythingElseGoesToTheRouterUnchanged() async throws {
        let fixture = try await Fixture()
        // No token, a wrong one, a token without `check`, a body that does not decode.
        var cases: [[HTTPRequestPart]] = [Self.evaluation(token: nil), Self.evaluation(token: "hr")]
        var wrong = Self.evaluation()
        if case .head(var head) = wrong[0] {
            head.headerFields[.authorization] = "Bearer nope"
            wrong[0] = .head(head)
        }
        cases.append(wrong)
        var garbled = Self.evaluation()
        garbled[1] = .body(ByteBuffer(string: "{not json"))
        cases.append(garbled)
        for parts in cases {
            try await fixture.send(parts)
            #expect(try await fixture.routed() == parts)
            #expect(try await fixture.answered().isEmpty)
            // The router's answer ends the request.
            try await fixture.channel.writeAndFlush(HTTPResponsePart.end(nil))
            _ = try await fixture.answered()
        }
        #expect(try await fixture.harness.auditRecords(type: "access.decision").isEmpty)
        try await fixture.finish()
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let fixture = try await Fixture()
        // A decision waiting for its commit holds what comes after it.
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "first"))
        try await fixture.send(Self.get("/healthz"))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.routed().isEmpty, "held until the decision is answered")
        release()
        try await fixture.commit(1)
        let first = try await fixture.answered()
        #expect(first.count == 3)
        #expect(Self.heads(try await fixture.routed()) == ["/healthz"])
        // While the router has not answered /healthz, a decision goes to the router too.
        try await fixture.send(Self.evaluation(requestID: "second"))
        #expect(Self.heads(try await fixture.routed()) == ["/access/v1/evaluation"])
        // The router answers both; the next decision takes the fast path again.
        for _ in 0..<2 {
            try await fixture.channel.writeAndFlush(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            try await fixture.channel.writeAndFlush(HTTPResponsePart.end(nil))
        }
        _ = try await fixture.answered()
        try await fixture.send(Self.evaluation(requestID: "third"))
        #expect(try await fixture.routed().isEmpty)
        try await fixture.commit(2)
        guard case .head(let head) = try await fixture.answered().first else {
            Issue.record("no answer for the third request")
            return
        }
        #expect(head.headerFields[.requestID] == "third")
        try await fixture.finish()
    }

    @Test func aFloodOfPipelinedRequestsStopsReadingUntilTheAnswer() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "slow"))
        // A few parts behind the decision are held and reading goes on (the usual case costs no
        // epoll change); past the limit, reading stops until the answer is out.
        let before = fixture.reads.count.load(ordering: .relaxed)
        fixture.channel.read()
        await fixture.channel.testingEventLoop.run()
        #expect(fixture.reads.count.load(ordering: .relaxed) == before + 1)
        for _ in 0..<(DecisionFastPath.heldLimit / 2) { try await fixture.send(Self.get("/healthz")) }
        fixture.channel.read()
        await fixture.channel.testingEventLoop.run()
        #expect(fixture.reads.count.load(ordering: .relaxed) == before + 1, "no read while the flood is held")
        #expect(try await fixture.routed().isEmpty)
        release()
        try await fixture.commit(1)
        #expect(fixture.reads.count.load(ordering: .relaxed) == before + 2, "the held read, after the answer")
        #expect(Self.heads(try await fixture.routed()).count == DecisionFastPath.heldLimit / 2)
        try await fixture.finish()
    }

    @Test func aGracefulShutdownWaitsForTheDecisionInFlight() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "in-flight"))
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.answered().isEmpty)
        #expect(fixture.tail.quiesced.load(ordering: .relaxed) == 0, "not before the answer")
        release()
        try await fixture.commit(1)
        #expect(try await fixture.answered().count == 3)
        #expect(fixture.tail.quiesced.load(ordering: .relaxed) == 1)
        try await fixture.finish()
    }

    /// Behind a handler that keeps the channel's end to itself, a commit that comes after the
    /// client has gone answers nothing and counts nothing.
    @Test func aCommitAfterTheChannelClosedCountsNothing() async throws {
        let fixture = try await Fixture(stateHandlerInFront: true)
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "gone"))
        try await Task.sleep(for: .milliseconds(50))
        try await fixture.channel.close()
        release()
        let deadline = ContinuousClock.now + .seconds(20)
        while try await fixture.harness.auditRecords(type: "access.decision").isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(50))
        await fixture.channel.testingEventLoop.run()
        let metrics = fixture.harness.api.metrics.text()
        #expect(metrics.contains(#"tenure_decisions_total{outcome="permit"} 0"#), "\(metrics)")
        #expect(metrics.contains(#"tenure_decisions_total{outcome="deny"} 0"#), "\(metrics)")
        try await fixture.finish()
    }

    @Test func aHalfCloseWaitsForTheDecisionInFlight() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "before-fin"))
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try await Task.sleep(for: .milliseconds(50))
        #expect(fixture.tail.inputClosed.load(ordering: .relaxed) == 0, "not before the answer")
        release()
        try await fixture.commit(1)
        #expect(try await fixture.answered().count == 3)
        #expect(fixture.tail.inputClosed.load(ordering: .relaxed) == 1)
        try await fixture.finish()
    }

    /// The token is checked when the head arrives: a request the route refuses goes to the router
    /// at once, before its body.
    @Test func aRefusedTokenGoesToTheRouterWithItsHead() async throws {
        let fixture = try await Fixture()
        let parts = Self.evaluation(token: "hr")
        try await fixture.send([parts[0]])
        #expect(try await fixture.routed() == [parts[0]])
        try await fixture.finish()
    }

    @Test func anAuditThatCannotBeWrittenLeavesTheAnswerToTheRoute() async throws {
        let fixture = try await Fixture()
        // A stopped batcher takes nothing: the decision is not answered here but handed, whole, to
        // the router, whose route tries the audit itself and answers 503.
        fixture.writer.cancel()
        try await fixture.writer.value
        let parts = Self.evaluation(requestID: "unrecorded")
        try await fixture.send(parts)
        await fixture.channel.testingEventLoop.run()
        #expect(try await fixture.routed() == parts)
        #expect(try await fixture.answered().isEmpty)
        #expect(try await fixture.harness.auditRecords(type: "access.decision").isEmpty)
        _ = try await fixture.channel.finish(acceptAlreadyClosed: true)
        try? FileManager.default.removeItem(atPath: fixture.harness.directory)
    }
}

/// Pipelining over a real socket: requests written back to back in one packet — decisions the
/// fast path answers, a route's request, a decision the route must refuse — come back in order.
@Suite(.timeLimit(.minutes(3)))
struct DecisionPipeliningTests {
    @Test(arguments: [true, false]) func pipelinedRequestsComeBackInOrder(fastPath: Bool) async throws {
        let harness = try await Harness(
            mappings: DecisionAPITests.mappings,
            state: DecisionAPITests.state,
            now: { DecisionAPITests.now }
        )
        try await harness.run(fastPath: fastPath) { client in
            let port = try #require(client.port)
            let body = DecisionAPITests.evaluation("ann", "role", "db-read", "assume")
            func evaluation(_ id: String, token: String) -> String {
                "POST /access/v1/evaluation HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n"
                    + "X-Request-ID: \(id)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                    + body
            }
            let gateway = Harness.token("gateway")
            let requests = [
                evaluation("r1", token: gateway),
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: r2\r\n\r\n",
                evaluation("r3", token: "wrong"),
                evaluation("r4", token: gateway),
                evaluation("r5", token: gateway),
            ]
            let responses = try await RawHTTP.exchangeOnThread(port: port, Array(requests.joined().utf8), responses: 5)
            #expect(responses.map(\.requestID) == ["r1", "r2", "r3", "r4", "r5"])
            #expect(responses.map(\.status) == [200, 200, 401, 200, 200])
        }
        // r1 at the front; the connection is the HTTP stack's from /healthz on.
        #expect(harness.api.metrics.text().contains("tenure_decisions_front_path_total \(fastPath ? 1 : 0)\n"))
        #expect(try await harness.auditRecords(type: "access.decision").count == 3)
    }

    /// Two decisions back to back, then the client half-closes: both are answered (the half-close
    /// waits for the decision in flight at the front, then behind the codec), then the
    /// connection closes.
    @Test(arguments: [true, false]) func pipelinedDecisionsBeforeAHalfCloseAreAnswered(fastPath: Bool) async throws {
        let harness = try await Harness(
            mappings: DecisionAPITests.mappings,
            state: DecisionAPITests.state,
            now: { DecisionAPITests.now }
        )
        try await harness.run(fastPath: fastPath) { client in
            let port = try #require(client.port)
            let body = DecisionAPITests.evaluation("ann", "role", "db-read", "assume")
            let token = Harness.token("gateway")
            let requests = ["h1", "h2"].map { id in
                "POST /access/v1/evaluation HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(token)\r\n"
                    + "X-Request-ID: \(id)\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
            }
            let responses = try await RawHTTP.exchangeOnThread(
                port: port,
                Array(requests.joined().utf8),
                responses: 2,
                halfClose: true
            )
            #expect(responses.map(\.requestID) == ["h1", "h2"])
            #expect(responses.map(\.status) == [200, 200])
        }
        #expect(try await harness.auditRecords(type: "access.decision").count == 2)
    }
}

/// A blocking HTTP/1.1 exchange on a loopback socket (only for the pipelining test: no client
/// library writes several requests before reading).
enum RawHTTP {
    struct Response {
        var status: Int
        var requestID: String?
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// On a thread of its own: a blocking read on a Swift concurrency thread could starve the
    /// server's own tasks.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    static func exchangeOnThread(
        port: Int,
        _ request: [UInt8],
        responses count: Int,
        halfClose: Bool = false,
        readTimeout: Int = 10
    ) async throws -> [Response] {
        try await Self.onThread {
            try Self.exchange(port: port, request, responses: count, halfClose: halfClose, readTimeout: readTimeout)
        }
    }

    /// - Parameters:
    ///   - halfClose: shut the sending side down after the requests (as `curl` or a gateway
    ///     may), then read the answers.
    ///   - readTimeout: seconds a read may wait for the server (a request the test holds up on
    ///     purpose needs more than the default).
    static func exchange(
        port: Int,
        _ request: [UInt8],
        responses count: Int,
        halfClose: Bool = false,
        readTimeout: Int = 10
    ) throws -> [Response] {
        let connection = try Connection(port: port, readTimeout: readTimeout)
        try connection.send(request)
        if halfClose { shutdown(connection.fd, Int32(SHUT_WR)) }
        return try connection.receive(responses: count)
    }

    /// A blocking client connection to 127.0.0.1 (reads wait at most `readTimeout` seconds).
    final class Connection {
        let fd: Int32
        private var received: [UInt8] = []

        init(port: Int, readTimeout: Int = 10) throws {
            self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard self.fd >= 0 else { throw Failure(description: "socket: \(errno)") }
            var timeout = timeval(tv_sec: readTimeout, tv_usec: 0)
            setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(self.fd)
                throw Failure(description: "connect: \(errno)")
            }
        }

        deinit { close(self.fd) }

        func send(_ bytes: [UInt8]) throws {
            let sent = bytes.withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == bytes.count else { throw Failure(description: "send: \(sent)") }
        }

        func receive(responses count: Int) throws -> [Response] {
            var parsed: [Response] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while parsed.count < count {
                while let (response, length) = RawHTTP.parse(self.received) {
                    parsed.append(response)
                    self.received.removeFirst(length)
                    if parsed.count == count { return parsed }
                }
                let read = chunk.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
                guard read > 0 else { throw Failure(description: "recv: \(read) after \(parsed.count) responses") }
                self.received += chunk[0..<read]
            }
            return parsed
        }

        /// Seconds until the server closed the connection (reading nothing more); nil when it
        /// had not after 10 s, or sent something.
        func secondsUntilClosed() -> Double? {
            let start = ContinuousClock.now
            var byte: UInt8 = 0
            guard recv(self.fd, &byte, 1, 0) == 0 else { return nil }
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    /// One complete response at the start of `bytes` (Content-Length bodies only), and its length.
    static func parse(_ bytes: [UInt8]) -> (Response, Int)? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let total = end + separator.count + length
        guard bytes.count >= total else { return nil }
        return (Response(status: status, requestID: headers["x-request-id"]), total)
    }
}
