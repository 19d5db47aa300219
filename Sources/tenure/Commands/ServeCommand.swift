import ArgumentParser
import DirectorySource
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TenureAccess
import TenureConfig
import TenureCore
import TenureEngine
import TenureServer
import TenureStore
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the checking API and the daemon (scheduled sync, expiry sweeper, due offboardings).",
        discussion: """
            Serves the API on server.host:server.port (AuthZEN decisions, just-in-time activations, \
            credential check-out, SCIM 2.0 Users, offboarding, /healthz, /readyz, /metrics) and runs \
            the scheduled sync (server.schedule), the sweeper (expired activations, due offboardings, \
            vault retries). SIGTERM or SIGINT stop it gracefully: no new connections, in-flight \
            requests finish, the audit queue is written.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Listen on this port instead of server.port (0: any free port; the port is printed).")
    var port: Int?

    func run() async throws {
        let context = try StateContext(options: self.options)
        let mappings = try context.loadMappings()
        // Checkpoints run on a timer, off the request path (see Checkpointer).
        let store = try context.openStore(autoCheckpoint: false)
        var configured = try context.engine(mappings: mappings, store: store, executing: true)
        // The server's writes take turns (Coordinator): waiting long for a rotation running in
        // another process would hold up every activation and offboarding. A rotation that cannot
        // wait is recorded as failed and retried by the sweeper's maintenance.
        configured.rotator?.lockWait = .seconds(5)
        let engine = configured
        var settings = context.configuration.server ?? ServerSettings()
        if let port = self.port { settings.port = port }
        if settings.tokens.isEmpty {
            printError(
                "tenure serve: warning: server.tokens is empty: every API call but /healthz and /readyz will be "
                    + "refused (tenure token create makes one)"
            )
        }
        let masterKey = engine.rotator?.masterKey
        let logger = context.logger
        let metrics = APIMetrics()
        let index = AccessIndex(
            try await ModelLoader.load(
                store: store,
                mappings: mappings,
                now: Date().timeIntervalSince1970,
                logger: context.logger
            )
        )
        for token in settings.tokens {
            guard let subject = token.subject, index.snapshot.identities[subject] == nil else { continue }
            printError(
                "tenure serve: warning: token \(token.name)'s subject \(subject) is not a stable id: it follows "
                    + "whoever holds that username; pin it (tenure token create --subject \(subject) --config …)"
            )
        }
        let operations = Operations(
            store: store,
            mappings: mappings,
            index: index,
            engine: engine,
            coordinator: Coordinator(),
            masterKey: masterKey,
            settings: settings,
            metrics: metrics,
            logger: logger,
            syncLockWait: .milliseconds(Int64(settings.syncLockWaitSeconds * 1_000))
        )
        let api = TenureAPI(
            settings: settings,
            store: store,
            index: index,
            audit: AuditBatcher(
                store: store,
                flushSeconds: settings.auditFlushSeconds,
                logger: logger,
                depthObserver: { metrics.auditQueue($0) }
            ),
            metrics: metrics,
            logger: logger,
            operations: operations
        )
        let steps: [@Sendable () async throws -> Void] = [
            { _ = try await operations.sweepExpiredActivations() },
            { _ = try await operations.runDueOffboardings() },
            // A `tenure sync` or `tenure offboard` run beside the server changed the store.
            { try await operations.reloadIndexIfChangedElsewhere() },
            // A SCIM DELETE whose settling answered 503: settled now, not at the client's retry.
            // (After the reload: it may wait for the sync lock.)
            { _ = try await operations.settlePendingDeletions() },
        ]
        var services: [any Service] = [
            Sweeper(operations: operations, interval: settings.sweepIntervalSeconds, logger: logger, steps: steps),
            Checkpointer(store: store, logger: logger),
        ]
        if engine.rotator != nil {
            // A loop of its own: a rotation may take minutes (a program's time limit), and due
            // offboardings and expiries must not wait behind it.
            services.append(
                Sweeper(
                    operations: operations,
                    interval: settings.sweepIntervalSeconds,
                    logger: logger,
                    steps: [
                        { _ = try await operations.checkInOverdueCheckouts() },
                        { _ = try await operations.maintainVault() },
                    ]
                )
            )
        }
        if let schedule = settings.schedule {
            services.append(
                SyncScheduler(
                    schedule: schedule,
                    operations: operations,
                    lockPath: context.state.database + ".lock",
                    logger: logger,
                    pull: { try await context.pull(progress: nil, requiredGroups: engine.writeBackGroups) },
                    afterRun: {
                        do {
                            _ = try await operations.linkPendingHRUsers()
                        } catch {
                            logger.error("pending HR users could not be read", metadata: ["error": "\(error)"])
                        }
                        // The chain cannot show its newest records deleted; a head kept outside the
                        // database can (`audit verify --expect-head`). Printed after every scheduled
                        // sync, so the service's output (journald, a log shipper) keeps one.
                        if let head = try? await store.auditHead() {
                            FileHandle.standardOutput.write(
                                Data("tenure serve: audit head \(head.sequence):\(head.mac)\n".utf8)
                            )
                        }
                    }
                )
            )
        }
        let host = settings.host
        let app = api.application(services: services) { port in
            // Unbuffered: whoever started the server may be waiting for this line in a file.
            FileHandle.standardOutput.write(Data("tenure serve: listening on http://\(host):\(port)\n".utf8))
        }
        guard engine.rotator != nil else { return try await app.runService() }
        // On SIGTERM or SIGINT a running rotation program may finish for a while, then is stopped:
        // shutdown never waits for a hung one up to its time limit (which stops it sooner anyway).
        let finishWithin = Duration.milliseconds(Int64(settings.shutdownRotationWaitSeconds * 1_000))
        let group = ServiceGroup(
            configuration: .init(
                services: [StoppingRotationPrograms(application: app, finishWithin: finishWithin)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

/// Runs the application; when its graceful shutdown begins, the rotation programs are wound down
/// (`RotationProgramInterrupts.beginServerShutdown`) at once — a service of the application's own
/// would be told only after the HTTP server has drained, and a request may be waiting for one.
private struct StoppingRotationPrograms<Wrapped: Service>: Service {
    let application: Wrapped
    let finishWithin: Duration

    func run() async throws {
        // Also when the group is cancelled (a service failed) without a signal: a program would
        // otherwise be waited for up to its time limit.
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await self.application.run()
        } onCancelOrGracefulShutdown: {
            RotationProgramInterrupts.beginServerShutdown(finishWithin: self.finishWithin)
        }
    }
}
