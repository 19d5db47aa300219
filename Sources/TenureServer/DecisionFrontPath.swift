import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import TenureConfig

/// The hot path of the checking API, ahead of NIO's HTTP/1 decoder: the bytes of a plain
/// `POST /access/v1/evaluation` are read here and answered here (`DecisionFastLane`), without the
/// HTTP codec, the HTTP/1 → HTTPTypes conversion or a Swift task (BENCHMARKS.md §5: that stack alone
/// held the audited path under 0.5× nginx).
///
/// It reads only a narrow, unambiguous form and hands everything else, unchanged, to the HTTP
/// stack behind it, which answers it as it would without this handler:
/// - the request line exactly `POST /access/v1/evaluation HTTP/1.1`;
/// - header lines `name: value` ending in CRLF, names of token characters, values of visible ASCII,
///   spaces and tabs, the whole head at most `maxHead` bytes;
/// - exactly one `Content-Length` (digits, at most `maxBodyBytes`), one `Authorization`, at most
///   one `X-Request-ID`; `Connection` only as `keep-alive`; no `Transfer-Encoding`, `Expect` or
///   `Upgrade`;
/// - a valid `check` (or `admin`) token and a body that decodes (`DecisionFastLane.prepare`).
///
/// Once it hands a request over, the connection stays with the HTTP stack: nothing of it is read
/// here again, so the decoder behind sees a stream that starts at a request boundary and responses
/// leave in the order requests came (answers of this handler are all written before it hands over,
/// and it handles one request at a time: while a decision waits for its audit commit, what arrives
/// is kept, and past `maxHeld` bytes the socket is no longer read).
final class DecisionFrontPath: ChannelDuplexHandler, RemovableChannelHandler, DecisionCommitting {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        /// Reading requests here.
        case front
        /// The first `length` unread bytes are a request waiting for its audit commit (handed over,
        /// still unread, if the audit fails, so the route answers 503).
        case deciding(length: Int)
        /// Everything goes to the HTTP stack.
        case handedOver
    }

    let lane: DecisionFastLane
    private var mode = Mode.front
    /// Bytes received and not yet answered or handed over; what was answered is dropped as it goes
    /// (a slice of it is never kept, so appending does not copy it again and again).
    private var received: ByteBuffer?
    /// How far `received` was searched for the end of the head (CRLF CRLF) without finding it: a
    /// head arriving in small pieces is searched once, not from its start on every read.
    private var searched = 0
    /// The head of the request being received, once complete and its token checked: the body is
    /// then awaited without reading the head again.
    private var head: (FrontRequest.Head, APIToken)?
    private var readHeld = false
    /// Events that wait for the decision in flight: a graceful shutdown, the client's half-close.
    private var eventsHeld: [Any] = []
    private var open = true
    /// Since when the connection has waited for a request (opened, or its last answer written).
    private var waitingSince = NIODeadline.uptimeNanoseconds(0)
    /// When the first byte of the request being received came; nil between requests.
    private var requestSince: NIODeadline?
    private var idleCheck: Scheduled<Void>?

    /// The longest request head read here; a longer one is the HTTP stack's.
    static let maxHead = 8 * 1024
    /// The largest body read here (an evaluation is a few hundred bytes); a larger one is the HTTP
    /// stack's, which applies `server.maxBodyBytes` (413).
    static let maxBody = 16 * 1024

    private var maxBody: Int { min(Self.maxBody, self.lane.api.settings.maxBodyBytes) }
    /// Bytes kept while a decision waits (or the client does not read its answers) before the
    /// socket stops being read. (What the reads already under way bring still comes: at most one
    /// read cycle, a few times NIO's receive buffer, past it.)
    static let maxHeld = 64 * 1024

    init(lane: DecisionFastLane) {
        self.lane = lane
    }

    // MARK: - Idle connections

    /// `server.idleTimeoutSeconds`, nil for none. A connection read here is closed when it has
    /// waited that long for a request (since it was opened, or since its last answer), or when a
    /// request has taken that long to arrive whole (from its first byte: a head or body trickled
    /// in); never while its decision waits for the audit. Once handed over, the HTTP stack applies
    /// the same limit (an `HTTPConnectionStateHandler` added then, ahead of the codec-side fast
    /// path so that it sees its traffic too).
    private var idleTimeout: TimeAmount? { self.lane.api.idleTimeout }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.startIdleCheck(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startIdleCheck(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleCheck?.cancel()
        self.idleCheck = nil
    }

    private func startIdleCheck(context: ChannelHandlerContext) {
        guard let timeout = self.idleTimeout, self.idleCheck == nil else { return }
        self.waitingSince = context.eventLoop.now
        self.scheduleIdleCheck(at: self.waitingSince + timeout, context: context)
    }

    private func scheduleIdleCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.idleCheck = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.idleCheck = nil
            handler.checkIdle(context: context)
        }
    }

    private func checkIdle(context: ChannelHandlerContext) {
        guard self.open, let timeout = self.idleTimeout else { return }
        let now = context.eventLoop.now
        switch self.mode {
        case .handedOver:
            return
        case .deciding:
            // The audit's wait is not the client's: looked at again after the answer.
            self.scheduleIdleCheck(at: now + timeout, context: context)
        case .front:
            let deadline = (self.requestSince ?? self.waitingSince) + timeout
            guard now >= deadline else { return self.scheduleIdleCheck(at: deadline, context: context) }
            self.lane.api.logger.debug(
                "closing an idle connection",
                metadata: [
                    "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "-")",
                    "waiting": "\(self.requestSince == nil ? "for a request" : "for the rest of a request")",
                ]
            )
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        switch self.mode {
        case .handedOver:
            context.fireChannelRead(data)
        case .deciding:
            self.keep(&bytes, at: context.eventLoop.now)
        case .front:
            self.keep(&bytes, at: context.eventLoop.now)
            self.serve(context: context)
        }
    }

    private func keep(_ bytes: inout ByteBuffer, at now: NIODeadline) {
        if self.received == nil || self.received!.readableBytes == 0 {
            if self.requestSince == nil { self.requestSince = now }
            self.received = bytes
        } else {
            self.received!.writeBuffer(&bytes)
        }
    }

    /// Answers the complete requests received, one at a time, until one waits for its commit, is
    /// incomplete, or is handed over — or the client stops reading its answers (it resumes when
    /// the channel is writable again).
    private func serve(context: ChannelHandlerContext) {
        // Not while an event waits to be handed over with what follows (a write's writability
        // change can call in here from `committed`).
        while case .front = self.mode, self.eventsHeld.isEmpty, let buffer = self.received, buffer.readableBytes > 0,
            context.channel.isWritable
        {
            let bytes = buffer.readableBytesView
            let head: (FrontRequest.Head, APIToken)
            if let known = self.head {
                head = known
            } else {
                guard self.headArrived(bytes) else {
                    // Still arriving: only the request line is looked at (another one is the
                    // HTTP stack's at once).
                    if FrontRequest.isOtherRequestLine(bytes) { return self.handOver(context: context) }
                    return
                }
                self.searched = 0
                switch FrontRequest.parseHead(bytes, maxHead: Self.maxHead, maxBody: self.maxBody) {
                case .incomplete:
                    return
                case .other:
                    return self.handOver(context: context)
                case .head(let parsed):
                    // The token before the body is waited for: a request the router would refuse
                    // is not buffered here.
                    guard let token = self.lane.authorized(parsed.authorization) else {
                        return self.handOver(context: context)
                    }
                    head = (parsed, token)
                }
            }
            let (request, token) = head
            guard bytes.count >= request.length + request.contentLength else {
                self.head = head
                return
            }
            self.head = nil
            let body = Array(bytes.dropFirst(request.length).prefix(request.contentLength))
            guard let prepared = self.lane.prepare(token: token, requestID: request.requestID, body: body) else {
                return self.handOver(context: context)
            }
            self.mode = .deciding(length: request.length + request.contentLength)
            self.awaitCommit(prepared, context: context)
        }
    }

    /// Whether the head has arrived (or is longer than a head read here, which `parseHead` hands
    /// over): searches only the bytes that came since the last search.
    private func headArrived(_ bytes: ByteBufferView) -> Bool {
        let from = max(bytes.startIndex, bytes.startIndex + self.searched - 3)
        var index = from
        while index + 3 < bytes.endIndex {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                return true
            }
            index += 1
        }
        self.searched = bytes.count
        return bytes.count > Self.maxHead
    }

    /// From here on the connection is the HTTP stack's, starting with what is unread, then the
    /// events that waited.
    private func handOver(context: ChannelHandlerContext) {
        self.mode = .handedOver
        self.head = nil
        self.searched = 0
        self.idleCheck?.cancel()
        self.idleCheck = nil
        if let timeout = self.idleTimeout {
            self.handIdleLimitOver(timeout, context: context)
        }
        if let rest = self.received, rest.readableBytes > 0 {
            context.fireChannelRead(self.wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        self.received = nil
        let events = self.eventsHeld
        self.eventsHeld = []
        for event in events { context.fireUserInboundEventTriggered(event) }
        self.resumeReading(context: context)
    }

    /// The idle limit, to the HTTP stack: Hummingbird's state handler, right behind the codec —
    /// ahead of the codec-side fast path, which answers decisions without the handlers behind it
    /// seeing them.
    private func handIdleLimitOver(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        let state = HTTPConnectionStateHandler(
            idleTimeout: .nanoseconds(timeout.nanoseconds),
            logger: self.lane.api.logger
        )
        do {
            try pipeline.addHandler(state, position: .after(try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
        } catch {
            // Not this pipeline's shape: the connection is closed rather than left without a limit.
            self.lane.api.logger.error(
                "cannot hand the idle limit to the HTTP stack; closing the connection",
                metadata: ["error": "\(error)"]
            )
            context.close(promise: nil)
        }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        if self.readHeld {
            self.readHeld = false
            context.read()
        }
    }

    func committed(
        _ prepared: DecisionFastLane.Prepared,
        _ result: Result<Void, any Error>,
        context: ChannelHandlerContext
    ) {
        guard self.open, case .deciding(let length) = self.mode else { return }
        guard case .success = result else {
            // Refused (NUL) or not written: the route says so (400, 503) — it tries the audit again,
            // and answers only what it could record. The request is still unread.
            return self.handOver(context: context)
        }
        self.mode = .front
        self.waitingSince = context.eventLoop.now
        self.received!.moveReaderIndex(forwardBy: length)
        // The next request's clock starts now if part of it came meanwhile (pipelined).
        self.requestSince = self.received!.readableBytes > 0 ? self.waitingSince : nil
        // What was answered is dropped: all of it when nothing follows, else once it outweighs
        // what follows (the copy then costs no more than what was read since the last one).
        if self.received!.readableBytes == 0 {
            self.received = nil  // NIO's receive buffer goes back to its pool
        } else if self.received!.readerIndex >= 1024, self.received!.readerIndex >= self.received!.readableBytes {
            self.received!.discardReadBytes()
        }
        self.lane.api.metrics.decision(allowed: prepared.allowed)
        self.lane.api.metrics.frontPathDecision()
        context.writeAndFlush(self.wrapOutboundOut(self.response(prepared, context: context)), promise: nil)
        guard self.eventsHeld.isEmpty else {
            // A graceful shutdown or the client's half-close: the answer is out; the HTTP stack
            // answers what came after it, if anything, and closes the connection.
            return self.handOver(context: context)
        }
        self.serve(context: context)
        if !self.holdsReads(context) { self.resumeReading(context: context) }
    }

    /// The answer, as the router's would be: status, headers, JSON body.
    private func response(_ prepared: DecisionFastLane.Prepared, context: ChannelHandlerContext) -> ByteBuffer {
        var out = context.channel.allocator.buffer(capacity: 192 + prepared.body.count)
        out.writeStaticString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ")
        out.writeString(String(prepared.body.count))
        // The parser admitted only visible ASCII, spaces and tabs in the value, trimmed.
        out.writeStaticString("\r\nX-Request-ID: ")
        out.writeString(prepared.echoedID)
        if prepared.echoedID != prepared.requestID {
            out.writeStaticString("\r\nTenure-Request-ID: ")
            out.writeString(prepared.requestID)
        }
        out.writeStaticString("\r\nDate: ")
        out.writeString(HTTPDate.now())
        out.writeStaticString("\r\nServer: ")
        out.writeString(TenureAPI.serverName)
        out.writeStaticString("\r\n\r\n")
        out.writeBytes(prepared.body)
        return out
    }

    /// A graceful shutdown, or the client's half-close (Hummingbird allows it: the requests sent
    /// before it are still answered). While a decision waits, the event waits for its answer;
    /// otherwise what was received goes to the HTTP stack with the event.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent || event as? ChannelEvent == .inputClosed else {
            return context.fireUserInboundEventTriggered(event)
        }
        switch self.mode {
        case .deciding:
            self.eventsHeld.append(event)
        case .front:
            self.eventsHeld.append(event)
            self.handOver(context: context)
        case .handedOver:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// A client that does not read its answers: no more are made (nor the socket read) until the
    /// channel is writable again.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
        guard case .front = self.mode, context.channel.isWritable else { return }
        self.serve(context: context)
        if !self.holdsReads(context) { self.resumeReading(context: context) }
    }

    /// Whether the socket is not read now: `maxHeld` bytes wait behind a decision, or behind
    /// answers the client does not read.
    private func holdsReads(_ context: ChannelHandlerContext) -> Bool {
        let waiting = self.received?.readableBytes ?? 0
        switch self.mode {
        case .handedOver: return false
        case .deciding: return waiting >= Self.maxHeld
        case .front: return !context.channel.isWritable && waiting >= Self.maxHeld
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.holdsReads(context) {
            self.readHeld = true
        } else {
            context.read()
        }
    }

    /// The storage kept for bytes not yet answered (for tests: it must not grow with the connection).
    var receivedCapacity: Int { self.received?.capacity ?? 0 }

    func channelInactive(context: ChannelHandlerContext) {
        self.open = false
        self.received = nil
        self.eventsHeld = []
        self.idleCheck?.cancel()
        self.idleCheck = nil
        context.fireChannelInactive()
    }
}

/// How `DecisionFrontPath` reads a request head.
enum FrontRequest {
    /// A complete head in the narrow form.
    struct Head: Equatable {
        /// Its bytes, up to and with the empty line; the body follows.
        var length: Int
        var contentLength: Int
        var authorization: String
        var requestID: String?
    }

    enum Parsed: Equatable {
        /// More bytes are needed.
        case incomplete
        /// Not the narrow form: the HTTP stack's.
        case other
        case head(Head)
    }

    private static let requestLine = Array("POST /access/v1/evaluation HTTP/1.1\r\n".utf8)

    /// Whether the bytes so far already show another request line than the decision's.
    static func isOtherRequestLine(_ bytes: ByteBufferView) -> Bool {
        zip(bytes, Self.requestLine).contains { $0 != $1 }
    }

    /// Header lines read at most; more are the HTTP stack's (which allows up to 1,000).
    static let maxFields = 64

    /// Reads the head of the request at the start of `bytes`.
    static func parseHead(_ bytes: ByteBufferView, maxHead: Int, maxBody: Int) -> Parsed {
        let start = bytes.startIndex
        let end = bytes.endIndex
        // The request line, compared as far as it has arrived.
        let lineCount = Self.requestLine.count
        for offset in 0..<min(lineCount, end - start) where bytes[start + offset] != Self.requestLine[offset] {
            return .other
        }
        guard end - start >= lineCount else { return .incomplete }
        var index = start + lineCount
        var fields = 0
        var contentLength: Int?
        var authorization: String?
        var requestID: String?
        while true {
            guard index - start <= maxHead, fields <= Self.maxFields else { return .other }
            guard index < end else { return .incomplete }
            // The empty line ends the head.
            if bytes[index] == 13 {
                guard index + 1 < end else { return .incomplete }
                guard bytes[index + 1] == 10 else { return .other }
                index += 2
                break
            }
            // name ":" OWS value OWS CRLF
            fields += 1
            let nameStart = index
            while index < end, Self.isTokenByte(bytes[index]) { index += 1 }
            guard index < end else { return index - start > maxHead ? .other : .incomplete }
            guard bytes[index] == UInt8(ascii: ":"), index > nameStart else { return .other }
            let nameEnd = index
            index += 1
            let valueStart = index
            while index < end, bytes[index] != 13 {
                let byte = bytes[index]
                guard byte == 9 || (byte >= 0x20 && byte < 0x7F) else { return .other }
                index += 1
            }
            guard index + 1 < end else { return index - start > maxHead ? .other : .incomplete }
            guard bytes[index + 1] == 10 else { return .other }
            let valueEnd = index
            index += 2
            switch Self.known(bytes, nameStart, nameEnd) {
            case .contentLength:
                guard contentLength == nil, let value = Self.digits(bytes, valueStart, valueEnd), value <= maxBody
                else { return .other }
                contentLength = value
            case .authorization:
                guard authorization == nil else { return .other }
                authorization = Self.trimmed(bytes, valueStart, valueEnd)
            case .requestID:
                guard requestID == nil else { return .other }
                requestID = Self.trimmed(bytes, valueStart, valueEnd)
            case .connection:
                // Keep-alive is HTTP/1.1's default; anything else (close, upgrade) is the stack's.
                guard Self.equalsIgnoringCase(bytes, valueStart, valueEnd, Self.keepAlive) else { return .other }
            case .refused:
                return .other
            case .other:
                continue
            }
        }
        guard let contentLength, let authorization else { return .other }
        return .head(
            Head(
                length: index - start,
                contentLength: contentLength,
                authorization: authorization,
                requestID: requestID
            )
        )
    }

    private enum Known {
        case contentLength, authorization, requestID, connection, refused, other
    }

    private static let names: [(name: [UInt8], known: Known)] = [
        (Array("content-length".utf8), .contentLength),
        (Array("authorization".utf8), .authorization),
        (Array("x-request-id".utf8), .requestID),
        (Array("transfer-encoding".utf8), .refused),
        (Array("connection".utf8), .connection),
        (Array("expect".utf8), .refused),
        (Array("upgrade".utf8), .refused),
        // Not HTTP/1.1, but llhttp reads it as `Connection`.
        (Array("proxy-connection".utf8), .refused),
    ]

    private static let keepAlive = Array("keep-alive".utf8)

    private static func known(_ bytes: ByteBufferView, _ start: Int, _ end: Int) -> Known {
        Self.names.first { Self.equalsIgnoringCase(bytes, start, end, $0.name) }?.known ?? .other
    }

    /// Whether `bytes[start..<end]`, without surrounding spaces and tabs, is `lowercase` ignoring
    /// ASCII case (`lowercase` holds lowercase letters, digits and `-` only).
    private static func equalsIgnoringCase(_ bytes: ByteBufferView, _ start: Int, _ end: Int, _ lowercase: [UInt8])
        -> Bool
    {
        let (from, to) = Self.trimming(bytes, start, end)
        guard to - from == lowercase.count else { return false }
        for offset in 0..<lowercase.count where bytes[from + offset] | 0x20 != lowercase[offset] { return false }
        return true
    }

    /// `start..<end` without leading and trailing spaces and tabs.
    private static func trimming(_ bytes: ByteBufferView, _ start: Int, _ end: Int) -> (Int, Int) {
        var from = start
        var to = end
        while from < to, bytes[from] == 32 || bytes[from] == 9 { from += 1 }
        while to > from, bytes[to - 1] == 32 || bytes[to - 1] == 9 { to -= 1 }
        return (from, to)
    }

    /// A field value without its leading and trailing spaces and tabs.
    private static func trimmed(_ bytes: ByteBufferView, _ start: Int, _ end: Int) -> String {
        let (from, to) = Self.trimming(bytes, start, end)
        return String(decoding: bytes[from..<to], as: UTF8.self)
    }

    /// Only digits (after trimming), at most 9 of them.
    private static func digits(_ bytes: ByteBufferView, _ start: Int, _ end: Int) -> Int? {
        let (from, to) = Self.trimming(bytes, start, end)
        guard to > from, to - from <= 9 else { return nil }
        var value = 0
        for index in from..<to {
            let byte = bytes[index]
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    /// RFC 9110 §5.6.2 tchar.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        byte < 0x80 && (byte < 0x40 ? Self.tokenLow : Self.tokenHigh) & (1 << UInt64(byte & 0x3F)) != 0
    }

    /// tchar as two bit sets, bytes 0x00–0x3F and 0x40–0x7F (a byte of every header name is tested).
    private static let (tokenLow, tokenHigh): (UInt64, UInt64) = {
        var sets: (UInt64, UInt64) = (0, 0)
        let alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
        for byte in alphabet.utf8 {
            if byte < 0x40 { sets.0 |= 1 << UInt64(byte) } else { sets.1 |= 1 << UInt64(byte - 0x40) }
        }
        return sets
    }()
}

/// HTTP/1 for Tenure: Hummingbird's `HTTP1Channel`, with `DecisionFrontPath` at the front of each
/// connection's pipeline.
struct TenureHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let lane: DecisionFastLane?

    var responder: HTTPChannelHandler.Responder { self.inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        self.inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            if let lane = self.lane {
                try channel.pipeline.syncOperations.addHandler(DecisionFrontPath(lane: lane), position: .first)
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.inner.handle(value: value, logger: logger)
    }
}
