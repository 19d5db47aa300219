public import Hummingbird
import Logging
public import ServiceLifecycle
import TenureConfig

extension TenureAPI {
    /// The HTTP application: the router on `server.host:port`, with the daemon's services (the
    /// audit batcher, and whatever else is passed: scheduler, sweeper) run beside it and shut down
    /// with it — on SIGTERM the server stops accepting, drains in-flight requests, then the
    /// batcher writes what is queued.
    public func application(
        services: [any Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: self.router(),
            configuration: ApplicationConfiguration(
                address: .hostname(self.settings.host, port: self.settings.port),
                serverName: "tenure"
            ),
            services: [self.audit as any Service] + services,
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? 0)
            },
            logger: self.logger
        )
    }
}
