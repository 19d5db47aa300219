import Foundation
import HummingbirdTesting
import TenureConfig
import Testing

@testable import TenureServer

/// `server.idleTimeoutSeconds` over real HTTP on loopback (2 s here; the margins allow for a slow,
/// loaded machine): a connection with nothing to
/// do is closed — one the front path reads, one it handed to the HTTP stack, one whose head
/// trickles in — and one in use is not, whichever path answers it.
@Suite(.timeLimit(.minutes(3)))
struct IdleConnectionTests {
    /// Runs `client` (blocking socket calls, on a thread of its own) against the server; what it
    /// returns is what went wrong, checked here.
    static func check(fastPath: Bool = true, _ client: @escaping @Sendable (Int) throws -> [String]) async throws {
        let harness = try await Harness(
            mappings: DecisionAPITests.mappings,
            state: DecisionAPITests.state,
            settings: ServerSettings(port: 0, idleTimeoutSeconds: 2),
            now: { DecisionAPITests.now }
        )
        try await harness.run(fastPath: fastPath) { testClient in
            let port = try #require(testClient.port)
            let problems = try await RawHTTP.onThread { try client(port) }
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    static let evaluation = Array(DecisionFrontPathTests.evaluation(requestID: "idle").utf8)
    static let healthz = Array(DecisionFrontPathTests.healthz.utf8)

    /// Nothing when the server closes the connection after the limit (and not much more).
    static func closedAfterTheLimit(_ connection: RawHTTP.Connection, _ what: String) -> [String] {
        guard let seconds = connection.secondsUntilClosed() else { return ["\(what): still open 10 s later"] }
        return (1..<6).contains(seconds) ? [] : ["\(what): closed \(seconds) s later (the limit is 2 s)"]
    }

    static func statuses(_ connection: RawHTTP.Connection, _ what: String) throws -> [String] {
        let statuses = try connection.receive(responses: 1).map(\.status)
        return statuses == [200] ? [] : ["\(what): \(statuses)"]
    }

    @Test func anAnsweredConnectionOfTheFrontPathIsClosedWhenIdle() async throws {
        try await Self.check { port in
            let connection = try RawHTTP.Connection(port: port)
            try connection.send(Self.evaluation)
            return try Self.statuses(connection, "the decision")
                + Self.closedAfterTheLimit(connection, "after a decision")
        }
    }

    /// On a connection the front path handed over (a GET first), the codec-side fast path answers
    /// the decisions: requests every 0.5 s keep it open for well past the limit, whichever handler
    /// answers them; then it is closed.
    @Test(arguments: [true, false])
    func aConnectionInUseStaysOpenWhicheverPathAnswers(fastPath: Bool) async throws {
        try await Self.check(fastPath: fastPath) { port in
            let connection = try RawHTTP.Connection(port: port)
            try connection.send(Self.healthz)
            var problems = try Self.statuses(connection, "healthz")
            for round in 0..<8 {
                Thread.sleep(forTimeInterval: 0.5)
                try connection.send(Self.evaluation)
                problems += try Self.statuses(connection, "decision \(round)")
            }
            return problems + Self.closedAfterTheLimit(connection, "after the last request")
        }
    }

    /// A head that never completes is closed about a limit after it began, however often a byte
    /// comes: one the front path reads (its request line is the decision's), and one it handed to
    /// the HTTP stack at once.
    @Test(arguments: [
        "POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nX-Slow: ", "GET /healthz HTTP/1.1\r\nX-Slow: ",
    ])
    func aTrickledHeadIsClosed(_ start: String) async throws {
        try await Self.check { port in
            let connection = try RawHTTP.Connection(port: port)
            try connection.send(Array(start.utf8))
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .seconds(10) {
                Thread.sleep(forTimeInterval: 0.3)
                // A send fails once the server has closed (the first one after may still go).
                if (try? connection.send(Array("a".utf8))) == nil {
                    let elapsed = ContinuousClock.now - started
                    return elapsed >= .seconds(1) && elapsed < .seconds(7) ? [] : ["closed after \(elapsed)"]
                }
            }
            return ["still open after 10 s of a trickled head"]
        }
    }

    @Test func aConnectionThatSendsNothingIsClosed() async throws {
        try await Self.check { port in
            Self.closedAfterTheLimit(try RawHTTP.Connection(port: port), "a silent connection")
        }
    }
}
