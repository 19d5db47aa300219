import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import TenureConfig
import TenureCore
import Testing

@testable import TenureServer

/// What `DecisionFrontPath` reads itself: the narrow form, byte for byte; everything else is the
/// HTTP stack's (`.other`), and a request cut anywhere is `.incomplete`.
@Suite struct FrontRequestParsingTests {
    static let body = DecisionAPITests.evaluation("ann", "role", "db-read", "assume")

    static func request(
        line: String = "POST /access/v1/evaluation HTTP/1.1",
        headers: [String]? = nil,
        body: String = Self.body
    ) -> String {
        let fields =
            headers ?? [
                "Host: localhost", "Authorization: Bearer secret-token", "Content-Type: application/json",
                "Content-Length: \(body.utf8.count)",
            ]
        return line + "\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n" + body
    }

    static func parse(_ text: String, maxBody: Int = 65_536) -> FrontRequest.Parsed {
        FrontRequest.parseHead(ByteBuffer(string: text).readableBytesView, maxHead: 8_192, maxBody: maxBody)
    }

    @Test func aPlainEvaluationHeadIsRead() throws {
        let text = Self.request(headers: [
            "Host: localhost", "authorization:Bearer secret-token  ", "X-Request-ID: \t r-1",
            "CONTENT-LENGTH: \(Self.body.utf8.count)", "Connection: Keep-Alive", "User-Agent: gateway/1.0",
        ])
        guard case .head(let head) = Self.parse(text + "GET /next") else {
            Issue.record("not read: \(Self.parse(text))")
            return
        }
        #expect(head.length + head.contentLength == text.utf8.count, "the next request's bytes are not taken")
        #expect(head.contentLength == Self.body.utf8.count)
        #expect(head.authorization == "Bearer secret-token")
        #expect(head.requestID == "r-1")
    }

    /// A field name is RFC 9110 tchars only: every other byte in one hands the request to the stack.
    @Test func aFieldNameIsTokenCharactersOnly() {
        let tchar = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~".utf8)
        for byte in UInt8(0)...UInt8(255) where byte != UInt8(ascii: ":") && byte != 13 && byte != 10 {
            var text = Array("POST /access/v1/evaluation HTTP/1.1\r\nX-A".utf8)
            text.append(byte)
            text += Array("b: 1\r\nAuthorization: Bearer t\r\nContent-Length: 2\r\n\r\n{}".utf8)
            var buffer = ByteBuffer()
            buffer.writeBytes(text)
            let parsed = FrontRequest.parseHead(buffer.readableBytesView, maxHead: 8_192, maxBody: 65_536)
            if tchar.contains(byte) {
                guard case .head = parsed else {
                    Issue.record("a name with \(byte) refused: \(parsed)")
                    continue
                }
            } else {
                #expect(parsed == .other, "a name with byte \(byte)")
            }
        }
    }

    @Test func aHeadCutAnywhereIsIncomplete() throws {
        let bytes = Array(Self.request().utf8)
        let headLength = bytes.count - Self.body.utf8.count
        for cut in 0..<bytes.count {
            let parsed = Self.parse(String(decoding: bytes[0..<cut], as: UTF8.self))
            if cut < headLength {
                #expect(parsed == .incomplete, "cut at \(cut)")
            } else if case .head(let head) = parsed {
                #expect(head.length == headLength, "cut at \(cut)")
            } else {
                Issue.record("cut at \(cut): \(parsed)")
            }
        }
    }

    @Test(arguments: [
        // Another request line.
        request(line: "GET /access/v1/evaluation HTTP/1.1"),
        request(line: "post /access/v1/evaluation HTTP/1.1"),
        request(line: "POST /access/v1/evaluations HTTP/1.1"),
        request(line: "POST /access/v1/evaluation?x=1 HTTP/1.1"),
        request(line: "POST /access/v1/evaluation HTTP/1.0"),
        request(line: "POST  /access/v1/evaluation HTTP/1.1"),
        // Framing that is not one plain Content-Length.
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Content-Length: 10"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: +10"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 1 0"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 0x10"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 1234567890"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Transfer-Encoding: chunked"]),
        request(headers: ["Authorization: Bearer t", "Transfer-Encoding: chunked"]),
        request(headers: ["Authorization: Bearer t"]),
        // What the HTTP stack must decide on.
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Connection: close"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Connection: keep-alive, Upgrade"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Expect: 100-continue"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Upgrade: h2c"]),
        request(headers: ["Content-Length: 10"]),
        request(headers: ["Authorization: Bearer t", "Authorization: Bearer u", "Content-Length: 10"]),
        request(headers: ["Authorization: Bearer t", "X-Request-ID: a", "X-Request-ID: b", "Content-Length: 10"]),
        // Malformed lines: space before the colon, folding, no colon, bare LF, control and
        // non-ASCII bytes, an empty name.
        request(headers: ["Authorization: Bearer t", "Content-Length : 10"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", " folded"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "NoColon"]),
        request(headers: ["Authorization: Bearer t\nContent-Length: 10"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "X-A: a\u{0}b"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "X-A: caf\u{e9}"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", ": empty"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10", "Proxy-Connection: close"]),
        request(headers: ["Authorization: Bearer t", "Content-Length: 10"] + (1...64).map { "X-\($0): a" }),
        "POST /access/v1/evaluation HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 10\r\n\r\r\n0123456789",
    ])
    func anythingElseIsTheHTTPStacks(_ text: String) {
        #expect(Self.parse(text) == .other)
    }

    @Test func sixtyFourFieldsAreRead() {
        let fields = ["Authorization: Bearer t", "Content-Length: 10"] + (1...62).map { "X-\($0): a" }
        guard case .head = Self.parse(Self.request(headers: fields)) else {
            Issue.record("64 fields were not read")
            return
        }
    }

    @Test func aBodyPastTheLimitOrAHeadPastItsIsTheHTTPStacks() {
        #expect(Self.parse(Self.request(), maxBody: Self.body.utf8.count - 1) == .other)
        let long = Self.request(headers: [
            "Authorization: Bearer t", "Content-Length: 10", "X-Padding: " + String(repeating: "a", count: 9_000),
        ])
        #expect(Self.parse(long) == .other)
        // Without its end yet, too.
        #expect(Self.parse(String(long.prefix(8_500))) == .other)
    }
}

/// The front path as a channel handler, driven byte by byte: what it answers, what it hands to
/// the HTTP stack (unchanged, from a request boundary, and for good), and that answers leave in
/// request order across a pipelined hand-over, a flood, a graceful shutdown and an audit failure.
@Suite(.timeLimit(.minutes(3)))
struct DecisionFrontPathTests {
    /// Records the bytes and events that reach the HTTP stack behind the front path.
    final class Stack: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        let quiesced = Atomic<Int>(0)
        let inputClosed = Atomic<Int>(0)

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ChannelShouldQuiesceEvent { self.quiesced.wrappingAdd(1, ordering: .relaxed) }
            if event as? ChannelEvent == .inputClosed { self.inputClosed.wrappingAdd(1, ordering: .relaxed) }
            context.fireUserInboundEventTriggered(event)
        }
    }

    final class Fixture {
        let harness: Harness
        let channel: NIOAsyncTestingChannel
        let stack: Stack
        let reads: DecisionFastPathTests.ReadCounter
        let writer: Task<Void, any Error>
        private var inbound = ""
        private var outbound = ""

        /// - Parameter idleTimeout: `server.idleTimeoutSeconds`; none by default (this pipeline has
        ///   no HTTP codec to hand the limit to: a hand-over would close the connection).
        init(idleTimeout: Double = 0) async throws {
            let harness = try await Harness(
                mappings: DecisionAPITests.mappings,
                state: DecisionAPITests.state,
                settings: ServerSettings(port: 0, idleTimeoutSeconds: idleTimeout),
                now: { DecisionAPITests.now }
            )
            let lane = DecisionFastLane(api: harness.api, authentication: harness.api.authentication())
            let stack = Stack()
            let reads = DecisionFastPathTests.ReadCounter()
            self.channel = try await NIOAsyncTestingChannel { channel in
                try channel.pipeline.syncOperations.addHandler(reads)
                try channel.pipeline.syncOperations.addHandler(DecisionFrontPath(lane: lane))
                try channel.pipeline.syncOperations.addHandler(stack)
            }
            let audit = harness.api.audit
            self.writer = Task { try await audit.run() }
            self.harness = harness
            self.stack = stack
            self.reads = reads
        }

        func send(_ text: String) async throws {
            try await self.channel.writeInbound(ByteBuffer(string: text))
        }

        private func drain() async throws {
            await self.channel.testingEventLoop.run()
            while let bytes = try await self.channel.readInbound(as: ByteBuffer.self) {
                self.inbound += String(buffer: bytes)
            }
            while let bytes = try await self.channel.readOutbound(as: ByteBuffer.self) {
                self.outbound += String(buffer: bytes)
            }
        }

        /// The bytes handed to the HTTP stack since the last call.
        func handedOver() async throws -> String {
            try await self.drain()
            defer { self.inbound = "" }
            return self.inbound
        }

        /// The bytes the front path wrote since the last call.
        func answered() async throws -> String {
            try await self.drain()
            defer { self.outbound = "" }
            return self.outbound
        }

        /// Waits until `count` decisions are committed and the handler has acted on the commit.
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

    static func evaluation(token: String = "gateway", requestID: String? = nil, subject: String = "ann") -> String {
        let body = DecisionAPITests.evaluation(subject, "role", "db-read", "assume")
        var headers = ["Host: localhost", "Authorization: Bearer \(Harness.token(token))"]
        if let requestID { headers.append("X-Request-ID: \(requestID)") }
        headers += ["Content-Type: application/json", "Content-Length: \(body.utf8.count)"]
        return FrontRequestParsingTests.request(headers: headers, body: body)
    }

    static let healthz = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"

    /// Status, headers (lowercased names) and body of each response in `text`.
    static func responses(_ text: String) -> [(status: Int, headers: [String: String], body: String)] {
        var result: [(Int, [String: String], String)] = []
        var bytes = Array(text.utf8)
        while let (response, length) = RawHTTP.parse(bytes) {
            let head = String(decoding: bytes[0..<length], as: UTF8.self).components(separatedBy: "\r\n\r\n")
            var headers: [String: String] = [:]
            for line in head[0].components(separatedBy: "\r\n").dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
            }
            result.append((response.status, headers, head.dropFirst().joined(separator: "\r\n\r\n")))
            bytes.removeFirst(length)
        }
        return result
    }

    @Test func aValidEvaluationIsAnsweredHereAfterItsAuditCommit() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        // Byte by byte: the request is read however it arrives.
        for byte in Self.evaluation(requestID: "front-1").utf8 {
            try await fixture.channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.handedOver().isEmpty, "the HTTP stack never sees it")
        #expect(try await fixture.answered().isEmpty, "no answer before the commit")
        release()
        try await fixture.commit(1)
        let answers = Self.responses(try await fixture.answered())
        try #require(answers.count == 1)
        #expect(answers[0].status == 200)
        #expect(answers[0].headers["x-request-id"] == "front-1")
        #expect(answers[0].headers["content-type"] == "application/json")
        #expect(answers[0].headers["server"] == "tenure")
        #expect(answers[0].headers["date"]?.hasSuffix(" GMT") == true)
        #expect(answers[0].headers["content-length"] == String(answers[0].body.utf8.count))
        #expect(answers[0].body.hasSuffix(#""decision":true}"#))
        let record = try #require(try await fixture.harness.auditRecords(type: "access.decision").first)
        #expect(record.event.details["request"] == "front-1")
        #expect(record.event.actor == "token:gateway")
        let metrics = fixture.harness.api.metrics.text()
        #expect(metrics.contains("tenure_decisions_front_path_total 1"))

        // Keep-alive: the next one on the connection too.
        try await fixture.send(Self.evaluation(requestID: "front-2", subject: "bob"))
        try await fixture.commit(2)
        #expect(Self.responses(try await fixture.answered()).map { $0.headers["x-request-id"] } == ["front-2"])
        try await fixture.finish()
    }

    @Test(arguments: [
        evaluation(token: "hr"),  // a token without `check`: the route answers 403
        evaluation().replacingOccurrences(of: Harness.token("gateway"), with: "nope"),
        evaluation().replacingOccurrences(of: "Content-Type", with: "Connection: close\r\nContent-Type"),
        healthz,
    ])
    func anythingElseIsHandedOverUnchangedAndForGood(_ first: String) async throws {
        let fixture = try await Fixture()
        try await fixture.send(first)
        #expect(try await fixture.handedOver() == first)
        #expect(try await fixture.answered().isEmpty)
        // The connection is the HTTP stack's now: a plain evaluation after it goes there too.
        let next = Self.evaluation(requestID: "after")
        try await fixture.send(next)
        #expect(try await fixture.handedOver() == next)
        #expect(try await fixture.harness.auditRecords(type: "access.decision").isEmpty)
        try await fixture.finish()
    }

    /// The token is checked once the head is complete: a request the router would refuse (401,
    /// 403) is handed over before its body is waited for; so is a body larger than an evaluation.
    @Test func aRefusedTokenOrABigBodyIsHandedOverBeforeTheBody() async throws {
        let cases = [
            ("nope", 200), (Harness.token("hr"), 200), (Harness.token("gateway"), DecisionFrontPath.maxBody + 1),
        ]
        for (token, length) in cases {
            let fixture = try await Fixture()
            let head =
                "POST /access/v1/evaluation HTTP/1.1\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Length: \(length)\r\n\r\n"
            try await fixture.send(head + "{")
            #expect(try await fixture.handedOver() == head + "{", "\(length) bytes")
            try await fixture.finish()
        }
    }

    @Test func pipelinedRequestsAreHandedOverAfterTheAnswer() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        // One packet: a decision, then a request for the HTTP stack and another decision.
        let rest = Self.healthz + Self.evaluation(requestID: "third")
        try await fixture.send(Self.evaluation(requestID: "first") + rest)
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.handedOver().isEmpty, "held until the decision is answered")
        release()
        try await fixture.commit(1)
        #expect(Self.responses(try await fixture.answered()).map { $0.headers["x-request-id"] } == ["first"])
        #expect(try await fixture.handedOver() == rest)
        try await fixture.finish()
    }

    @Test func aFloodBehindADecisionStopsReadingUntilTheAnswer() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "slow"))
        let before = fixture.reads.count.load(ordering: .relaxed)
        fixture.channel.read()
        await fixture.channel.testingEventLoop.run()
        #expect(fixture.reads.count.load(ordering: .relaxed) == before + 1, "a little behind it: reading goes on")
        let flood = String(repeating: Self.healthz, count: DecisionFrontPath.maxHeld / Self.healthz.utf8.count + 1)
        try await fixture.send(flood)
        fixture.channel.read()
        await fixture.channel.testingEventLoop.run()
        #expect(fixture.reads.count.load(ordering: .relaxed) == before + 1, "no read while the flood is held")
        release()
        try await fixture.commit(1)
        #expect(fixture.reads.count.load(ordering: .relaxed) == before + 2, "the held read, after the answer")
        #expect(try await fixture.handedOver() == flood)
        try await fixture.finish()
    }

    @Test func aGracefulShutdownWaitsForTheDecisionInFlight() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "in-flight"))
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.answered().isEmpty)
        #expect(fixture.stack.quiesced.load(ordering: .relaxed) == 0, "not before the answer")
        release()
        try await fixture.commit(1)
        #expect(Self.responses(try await fixture.answered()).count == 1)
        #expect(fixture.stack.quiesced.load(ordering: .relaxed) == 1)
        // What comes after is the HTTP stack's (which closes the connection once it is answered).
        try await fixture.send(Self.evaluation(requestID: "late"))
        #expect(try await fixture.handedOver().contains("X-Request-ID: late"))
        try await fixture.finish()
    }

    /// A client that sends its requests and half-closes: the decision in flight is answered, and
    /// the HTTP stack gets what came after it, then the half-close (and closes once it answered).
    @Test func aHalfCloseWaitsForTheDecisionInFlight() async throws {
        let fixture = try await Fixture()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "before-fin") + Self.healthz)
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await fixture.handedOver().isEmpty)
        #expect(fixture.stack.inputClosed.load(ordering: .relaxed) == 0)
        release()
        try await fixture.commit(1)
        #expect(Self.responses(try await fixture.answered()).map { $0.headers["x-request-id"] } == ["before-fin"])
        #expect(try await fixture.handedOver() == Self.healthz)
        #expect(fixture.stack.inputClosed.load(ordering: .relaxed) == 1)
        try await fixture.finish()
    }

    /// A client that pipelines and does not read its answers: once the channel is not writable, no
    /// more requests are answered and, past `maxHeld` bytes, the socket is not read; both resume
    /// when it is writable again.
    @Test func aClientThatDoesNotReadItsAnswersIsNotReadEither() async throws {
        let fixture = try await Fixture()
        fixture.channel.isWritable = false
        let flood = String(
            repeating: Self.evaluation(),
            count: DecisionFrontPath.maxHeld / Self.evaluation().utf8.count + 1
        )
        try await fixture.send(flood)
        let before = fixture.reads.count.load(ordering: .relaxed)
        fixture.channel.read()
        await fixture.channel.testingEventLoop.run()
        #expect(fixture.reads.count.load(ordering: .relaxed) == before, "not read while unwritable and full")
        #expect(try await fixture.answered().isEmpty)
        #expect(try await fixture.harness.auditRecords(type: "access.decision").isEmpty)

        fixture.channel.isWritable = true
        fixture.channel.pipeline.fireChannelWritabilityChanged()
        let deadline = ContinuousClock.now + .seconds(20)
        while try await fixture.answered().isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await fixture.harness.auditRecords(type: "access.decision").count >= 1, "answering resumes")
        #expect(fixture.reads.count.load(ordering: .relaxed) >= before + 1, "reading resumes")
        try await fixture.finish()
    }

    /// Many decisions on one connection, each arriving split across reads: what was read is
    /// dropped as it goes (the buffer does not keep the connection's whole history).
    @Test func theBufferDoesNotGrowWithTheConnection() async throws {
        let fixture = try await Fixture()
        let request = Self.evaluation()
        let half = request.utf8.count / 2
        let rounds = 200
        for round in 0..<rounds {
            let bytes = Array(request.utf8)
            // The second half of this request and the first of the next in one read.
            if round == 0 { try await fixture.channel.writeInbound(ByteBuffer(bytes: bytes[0..<half])) }
            try await fixture.channel.writeInbound(
                ByteBuffer(bytes: Array(bytes[half...]) + (round < rounds - 1 ? Array(bytes[0..<half]) : []))
            )
            try await fixture.commit(round + 1)
        }
        #expect(Self.responses(try await fixture.answered()).count >= 1)
        let capacity = try await fixture.channel.pipeline.handler(type: DecisionFrontPath.self).map {
            $0.receivedCapacity
        }.get()
        // 200 requests of ~300 bytes went through it; a few requests' worth stays.
        #expect(capacity <= 4_096, "\(capacity) bytes kept")
        try await fixture.finish()
    }

    /// Another request line is the HTTP stack's as soon as it shows, before its head is complete.
    @Test func anotherRequestIsHandedOverBeforeItsHeadIsComplete() async throws {
        let fixture = try await Fixture()
        try await fixture.send("GET /hea")
        #expect(try await fixture.handedOver() == "GET /hea")
        try await fixture.send("lthz HTTP/1.1\r\n\r\n")
        #expect(try await fixture.handedOver() == "lthz HTTP/1.1\r\n\r\n")
        try await fixture.finish()
    }

    @Test func aGracefulShutdownBetweenRequestsHandsOverWhatWasReceived() async throws {
        let fixture = try await Fixture()
        let partial = String(Self.evaluation(requestID: "partial").prefix(40))
        try await fixture.send(partial)
        fixture.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(try await fixture.handedOver() == partial)
        #expect(fixture.stack.quiesced.load(ordering: .relaxed) == 1)
        try await fixture.finish()
    }

    // MARK: - Idle connections (server.idleTimeoutSeconds, 60 s here; the loop's clock is virtual)

    /// The fixture's channel with a 60 s limit, connected: the limit runs from now.
    static func connected() async throws -> Fixture {
        let fixture = try await Fixture(idleTimeout: 60)
        try await fixture.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).get()
        return fixture
    }

    /// Still open after `open` more seconds, closed `closes` seconds after that.
    static func expect(
        _ fixture: Fixture,
        openFor open: Int64,
        thenClosedWithin closes: Int64,
        _ comment: Comment? = nil
    ) async {
        await fixture.channel.testingEventLoop.advanceTime(by: .seconds(open))
        #expect(fixture.channel.isActive, comment)
        await fixture.channel.testingEventLoop.advanceTime(by: .seconds(closes))
        #expect(!fixture.channel.isActive, comment)
    }

    @Test func aConnectionThatSendsNothingIsClosedAfterTheLimit() async throws {
        let fixture = try await Self.connected()
        await Self.expect(fixture, openFor: 59, thenClosedWithin: 2)
        try await fixture.finish()
    }

    @Test func anAnswerStartsTheLimitAgain() async throws {
        let fixture = try await Self.connected()
        await fixture.channel.testingEventLoop.advanceTime(by: .seconds(50))
        try await fixture.send(Self.evaluation(requestID: "in-time"))
        try await fixture.commit(1)
        #expect(Self.responses(try await fixture.answered()).map(\.status) == [200])
        await Self.expect(
            fixture,
            openFor: 50,
            thenClosedWithin: 11,
            "open 100 s after it opened, 50 s after its answer"
        )
        try await fixture.finish()
    }

    /// A head trickled in a few bytes at a time is closed a limit after its first byte (not after
    /// the connection opened, nor after its last byte), however often more comes.
    @Test func aRequestThatTakesLongerThanTheLimitToArriveIsClosed() async throws {
        let fixture = try await Self.connected()
        await fixture.channel.testingEventLoop.advanceTime(by: .seconds(30))
        let request = Self.evaluation(requestID: "trickled")
        // Bytes at 30, 55 and 80 s: open at 80 s (50 s after the first), closed at 91 s.
        for (index, piece) in [request.prefix(10), request.dropFirst(10).prefix(10), request.dropFirst(20).prefix(10)]
            .enumerated()
        {
            if index > 0 { await fixture.channel.testingEventLoop.advanceTime(by: .seconds(25)) }
            try await fixture.send(String(piece))
            #expect(fixture.channel.isActive, "piece \(index)")
        }
        await fixture.channel.testingEventLoop.advanceTime(by: .seconds(11))
        #expect(!fixture.channel.isActive, "61 s after its first byte")
        #expect(try await fixture.harness.auditRecords(type: "access.decision").isEmpty)
        try await fixture.finish()
    }

    /// The wait for the audit is not the client's: a decision is answered however long its commit
    /// takes, and the limit starts again from the answer.
    @Test func aDecisionWaitingForItsCommitIsNotCut() async throws {
        let fixture = try await Self.connected()
        let release = try fixture.holdCommits()
        try await fixture.send(Self.evaluation(requestID: "slow-commit"))
        await fixture.channel.testingEventLoop.advanceTime(by: .seconds(120))
        #expect(fixture.channel.isActive)
        release()
        try await fixture.commit(1)
        #expect(Self.responses(try await fixture.answered()).map { $0.headers["x-request-id"] } == ["slow-commit"])
        await Self.expect(fixture, openFor: 59, thenClosedWithin: 2, "the limit counts from the answer")
        try await fixture.finish()
    }

    /// Handed over, the limit is the HTTP stack's (over real HTTP: IdleConnectionTests); a
    /// pipeline without the HTTP codec to hand it to closes the connection rather than leave it
    /// without one.
    @Test func aHandOverWithoutTheHTTPCodecClosesTheConnection() async throws {
        let fixture = try await Self.connected()
        try await fixture.send(Self.healthz)
        #expect(!fixture.channel.isActive)
        try await fixture.finish()
    }

    @Test func anAuditThatCannotBeWrittenLeavesTheAnswerToTheRoute() async throws {
        let fixture = try await Fixture()
        // A stopped batcher takes nothing: the request is handed, whole, to the HTTP stack, whose
        // route tries the audit itself and answers 503.
        fixture.writer.cancel()
        try await fixture.writer.value
        let request = Self.evaluation(requestID: "unrecorded")
        try await fixture.send(request + Self.healthz)
        await fixture.channel.testingEventLoop.run()
        #expect(try await fixture.handedOver() == request + Self.healthz)
        #expect(try await fixture.answered().isEmpty)
        #expect(try await fixture.harness.auditRecords(type: "access.decision").isEmpty)
        _ = try await fixture.channel.finish(acceptAlreadyClosed: true)
        try? FileManager.default.removeItem(atPath: fixture.harness.directory)
    }
}
