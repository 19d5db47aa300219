import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes
import Synchronization
import TenureAccess
import TenureConfig
import TenureCore

/// The hot path of the checking API, `POST /access/v1/evaluation`, answered on the NIO event loop
/// without a Swift task: a gateway asks it before every privileged action, so it is the one route
/// whose cost per request matters (BENCHMARKS.md §5: the same work behind Hummingbird's router cost
/// four task hops per request and reached 0.19× nginx; here it is none).
///
/// It takes only the plain case — a well-formed evaluation with a valid `check` token — and does
/// exactly what the route does: authenticate, decode, evaluate against the in-memory index, audit
/// through the batcher (the answer waits for the commit), count, answer with `X-Request-ID`. Any
/// other case — no or a bad token, a missing scope, a body that does not decode, a NUL, a body past
/// the limit, an audit that cannot be written — is handed, unchanged, to the router, whose route
/// answers it (401, 403, 400 with the JSON path, 413, 503). The error answers exist once.
struct DecisionFastLane: Sendable {
    let api: TenureAPI
    let authentication: AuthenticationMiddleware

    static let path = "/access/v1/evaluation"

    /// What a request that took the lane will answer once its audit record is committed.
    struct Prepared: Sendable {
        var event: AuditEvent
        var body: [UInt8]
        var allowed: Bool
        /// The id recorded in the audit (the response's `Tenure-Request-ID` when not `echoedID`).
        var requestID: String
        /// The response's `X-Request-ID` (`RequestIDMiddleware.echoed`).
        var echoedID: String
    }

    /// Whether a request may take the lane: the decision route, with a token, kept alive (a
    /// `Connection` header or `Expect: 100-continue` is left to the server's own handling).
    static func accepts(_ head: HTTPRequest) -> Bool {
        head.method == .post && head.path == Self.path && head.headerFields[.authorization] != nil
            && head.headerFields[.connection] == nil && head.headerFields[.expect] == nil
    }

    /// The token of an `Authorization` header that may ask for decisions (`check` or `admin`), or
    /// nil when the router must answer (401, 403).
    func authorized(_ authorization: String?) -> APIToken? {
        guard case .success(let token) = self.authentication.authenticate(authorization),
            token.scopes.contains(.check) || token.scopes.contains(.admin)
        else { return nil }
        return token
    }

    /// The decision for an authorized request's body, or nil when the router must answer it (400).
    func prepare(token: APIToken, requestID sent: String?, body bytes: [UInt8]) -> Prepared? {
        guard let evaluation = try? AuthZEN.decodeEvaluationFast(bytes),
            (try? TenureAPI.refuseNUL(evaluation, path: "")) != nil
        else { return nil }
        let requestID = RequestIDMiddleware.requestID(sent: sent)
        let now = self.api.now()
        let decision = self.api.index.evaluate(evaluation, now: now)
        let event = self.api.decisionEvent(
            evaluation,
            decision,
            actor: TenureRequestContext.actor(token),
            requestID: requestID,
            time: now
        )
        return Prepared(
            event: event,
            body: AuthZEN.encodeFast(decision),
            allowed: decision.allowed,
            requestID: requestID,
            echoedID: RequestIDMiddleware.echoed(sent: sent, recorded: requestID)
        )
    }

    /// The response head, with the headers the router's answer carries.
    func responseHead(_ prepared: Prepared) -> HTTPResponse {
        var fields = HTTPFields()
        fields.reserveCapacity(6)
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(prepared.body.count)
        RequestIDMiddleware.identify(&fields, sent: prepared.echoedID, recorded: prepared.requestID)
        fields[.date] = HTTPDate.now()
        fields[.server] = TenureAPI.serverName
        return HTTPResponse(status: .ok, headerFields: fields)
    }
}

/// A connection handler that answers decisions of the lane once their audit record is committed.
protocol DecisionCommitting: AnyObject, SendableMetatype {
    var lane: DecisionFastLane { get }
    /// On the channel's event loop, after the commit (or its failure).
    func committed(
        _ prepared: DecisionFastLane.Prepared,
        _ result: Result<Void, any Error>,
        context: ChannelHandlerContext
    )
}

extension DecisionCommitting {
    /// Hands the decision's audit record to the batcher; `committed` runs on this event loop when it
    /// is written (or cannot be).
    func awaitCommit(_ prepared: DecisionFastLane.Prepared, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        self.lane.api.audit.enqueue([prepared.event], on: loop) { result in
            let (handler, context) = bound.value
            handler.committed(prepared, result, context: context)
        }
    }
}

/// One per connection, between the HTTP codec and Hummingbird's handler. Responses leave in the
/// order requests came: a request for the lane is taken only when no request handed to the router
/// is still unanswered, and while its audit commit is awaited whatever arrives is held and handled
/// after the answer (past `heldLimit` parts the socket is no longer read until then). A
/// graceful-shutdown request waits for the answer too, so an accepted decision is never cut off.
final class DecisionFastPath: ChannelDuplexHandler, RemovableChannelHandler, DecisionCommitting {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// A request for the lane (its token may ask for decisions), being received.
        case buffering(HTTPRequest, ByteBuffer?, APIToken)
        /// A request handed to the router, being received.
        case forwarding
        /// A complete request for the lane, waiting for its audit commit.
        case deciding(HTTPRequest, ByteBuffer?, HTTPFields?)
    }

    let lane: DecisionFastLane
    private var state = State.idle
    /// Requests handed to the router whose response has not ended yet.
    private var routed = 0
    /// Request parts that arrived while deciding.
    private var held = CircularBuffer<HTTPRequestPart>()
    private var readHeld = false
    /// Events that wait for the decision in flight: a graceful shutdown, the client's half-close.
    private var eventsHeld: [Any] = []
    private var open = true

    /// Parts held while deciding before the socket stops being read. Reading on costs nothing in
    /// the usual case (the client waits for the answer: nothing arrives); stopping and starting
    /// reads would cost two epoll changes per decision.
    static let heldLimit = 16

    init(lane: DecisionFastLane) {
        self.lane = lane
    }

    private var isDeciding: Bool {
        if case .deciding = self.state { return true }
        return false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.isDeciding {
            self.held.append(part)
        } else {
            self.handle(part, context: context)
        }
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (self.state, part) {
        case (.idle, .head(let head)) where self.routed == 0 && DecisionFastLane.accepts(head):
            // The token is checked before the body is waited for: a request the route refuses
            // (401, 403) is the route's at once, its body not buffered here.
            guard let token = self.lane.authorized(head.headerFields[.authorization]) else {
                self.routed += 1
                self.state = .forwarding
                return context.fireChannelRead(self.wrapInboundOut(part))
            }
            self.state = .buffering(head, nil, token)
        case (.idle, .head):
            self.routed += 1
            self.state = .forwarding
            context.fireChannelRead(self.wrapInboundOut(part))
        case (.buffering(let head, let received, let token), .body(var chunk)):
            self.state = .idle  // the buffer is appended to without a copy
            var body = received ?? context.channel.allocator.buffer(capacity: chunk.readableBytes)
            body.writeBuffer(&chunk)
            if body.readableBytes > self.lane.api.settings.maxBodyBytes {
                self.route(head, body, context: context)  // the route answers 413
            } else {
                self.state = .buffering(head, body, token)
            }
        case (.buffering(let head, let body, let token), .end(let trailers)):
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            guard
                let prepared = self.lane.prepare(
                    token: token,
                    requestID: RequestIDMiddleware.sent(head.headerFields),
                    body: bytes
                )
            else {
                self.route(head, body, context: context)
                self.handle(.end(trailers), context: context)
                return
            }
            self.state = .deciding(head, body, trailers)
            self.awaitCommit(prepared, context: context)
        case (.forwarding, .end):
            self.state = .idle
            context.fireChannelRead(self.wrapInboundOut(part))
        case (.forwarding, _), (.idle, _), (.buffering, .head):
            // A part out of order is the router's to refuse, as it would be without the lane.
            context.fireChannelRead(self.wrapInboundOut(part))
        case (.deciding, _):
            self.held.append(part)
        }
    }

    /// Hands a request received so far to the router.
    private func route(_ head: HTTPRequest, _ body: ByteBuffer?, context: ChannelHandlerContext) {
        self.routed += 1
        self.state = .forwarding
        context.fireChannelRead(self.wrapInboundOut(.head(head)))
        if let body { context.fireChannelRead(self.wrapInboundOut(.body(body))) }
    }

    func committed(
        _ prepared: DecisionFastLane.Prepared,
        _ result: Result<Void, any Error>,
        context: ChannelHandlerContext
    ) {
        guard self.open, case .deciding(let head, let body, let trailers) = self.state else { return }
        switch result {
        case .success:
            self.state = .idle
            self.lane.api.metrics.decision(allowed: prepared.allowed)
            context.write(self.wrapOutboundOut(.head(self.lane.responseHead(prepared))), promise: nil)
            context.write(
                self.wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: prepared.body))),
                promise: nil
            )
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        case .failure:
            // Refused (NUL) or not written: the route says so (400, 503) — it tries the audit again,
            // and answers only what it could record.
            self.route(head, body, context: context)
            self.handle(.end(trailers), context: context)
        }
        while !self.isDeciding, let part = self.held.popFirst() {
            self.handle(part, context: context)
        }
        context.fireChannelReadComplete()
        guard !self.isDeciding else { return }
        let events = self.eventsHeld
        self.eventsHeld = []
        for event in events { self.release(event, context: context) }
        if self.readHeld {
            self.readHeld = false
            context.read()
        }
    }

    /// A graceful shutdown or the client's half-close, once no decision is in flight: a request for
    /// the lane still being received goes to the router (which answers it before closing); then
    /// the event, and the connection handler closes when idle.
    private func release(_ event: Any, context: ChannelHandlerContext) {
        if case .buffering(let head, let body, _) = self.state { self.route(head, body, context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    /// Both wait for the decision in flight: Hummingbird ends the connection when its inbound
    /// stream ends, and the answer would be cut off.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent || event as? ChannelEvent == .inputClosed else {
            return context.fireUserInboundEventTriggered(event)
        }
        if self.isDeciding {
            self.eventsHeld.append(event)
        } else {
            self.release(event, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.isDeciding && self.held.count >= Self.heldLimit {
            self.readHeld = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data), self.routed > 0 { self.routed -= 1 }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed()
        context.fireChannelInactive()
    }

    /// Also when the channel closes behind a handler that keeps `channelInactive` to itself (the
    /// idle limit's `HTTPConnectionStateHandler`, added ahead of this one on hand-over): a commit
    /// that comes after that answers nothing and counts nothing.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.closed()
    }

    private func closed() {
        self.open = false
        self.held.removeAll()
        self.eventsHeld = []
    }
}

/// The `Date` header (RFC 9110 §6.6.1, IMF-fixdate), formatted once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        return Self.cache.withLock { cache in
            if cache.second != second {
                cache = (second, Self.format(second))
            }
            return cache.text
        }
    }

    static func format(_ second: Int) -> String {
        var clock = time_t(second)
        var parts = tm()
        gmtime_r(&clock, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
