public import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
import TenureConfig

extension TenureAPI {
    /// The HTTP application: the router on `server.host:port`, with the daemon's services (the
    /// audit batcher, and whatever else is passed: scheduler, sweeper) run beside it and shut down
    /// with it — on SIGTERM the server stops accepting, drains in-flight requests, then the
    /// batcher writes what is queued.
    ///
    /// `POST /access/v1/evaluation` is answered ahead of the HTTP codec (`DecisionFrontPath`); on
    /// a connection it handed to the HTTP stack (after another request, or a form it leaves to the
    /// codec), after the codec (`DecisionFastPath`). Neither when `decisionFastPath` is false (tests
    /// run the decision tests both ways).
    public func application(
        services: [any Service] = [],
        decisionFastPath: Bool = true,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let lane = DecisionFastLane(api: self, authentication: self.authentication())
        return Application(
            router: self.router(),
            server: HTTPServerBuilder { responder in
                TenureHTTP1Channel(
                    inner: HTTP1Channel(
                        responder: responder,
                        configuration: .init(
                            additionalChannelHandlers: decisionFastPath ? [DecisionFastPath(lane: lane)] : [],
                            // With the front path, it applies the idle limit, and hands it to the
                            // HTTP stack with the connection.
                            idleTimeout: decisionFastPath ? nil : self.idleTimeout
                        )
                    ),
                    lane: decisionFastPath ? lane : nil
                )
            },
            configuration: ApplicationConfiguration(
                address: .hostname(self.settings.host, port: self.settings.port),
                serverName: Self.serverName
            ),
            services: [self.audit as any Service] + services,
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? 0)
            },
            eventLoopGroupProvider: .shared(
                Self.eventLoopGroup(threads: self.settings.resolvedEventLoops(cores: System.coreCount))
            ),
            logger: self.logger
        )
    }

    /// One group per thread count for the life of the process, as NIO's own singleton is (servers
    /// started in turn, as the tests start them, share its threads instead of leaving theirs).
    static func eventLoopGroup(threads: Int) -> MultiThreadedEventLoopGroup {
        Self.eventLoopGroups.withLock { groups in
            if let group = groups[threads] { return group }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            groups[threads] = group
            return group
        }
    }

    private static let eventLoopGroups = Mutex<[Int: MultiThreadedEventLoopGroup]>([:])

    /// The `Server` header of every response.
    static let serverName = "tenure"

    /// `server.idleTimeoutSeconds`, nil for none.
    var idleTimeout: TimeAmount? {
        self.settings.idleTimeoutSeconds > 0 ? .nanoseconds(Int64(self.settings.idleTimeoutSeconds * 1e9)) : nil
    }
}
