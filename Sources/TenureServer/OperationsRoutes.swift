import Foundation
import Hummingbird
import Logging
import TenureConfig
import TenureStore

extension TenureAPI {
    func addOperationsRoutes(to router: Router<TenureRequestContext>) {
        router.get("/healthz") { _, _ in
            self.json(["status": "ok"])
        }

        /// Ready when the store takes a write transaction (the audit log is in the same database) and
        /// the audit log's newest record can be read. A record the store refuses on its own shows in
        /// that decision's answer (503), not here.
        router.get("/readyz") { _, _ in
            do {
                try await self.store.checkWritable()
                self.metrics.auditSequence(try await self.store.newestAuditSequence())
            } catch {
                self.logger.warning("not ready", metadata: ["error": "\(error)"])
                return self.json(
                    ["status": "unavailable", "detail": "the store or the audit log cannot be written"],
                    status: .serviceUnavailable
                )
            }
            return self.json(["status": "ready"])
        }

        router.get("/metrics") { _, context in
            guard context.has(.read) else { throw Problem.forbidden(scope: "read") }
            if let sequence = try? await self.store.newestAuditSequence() { self.metrics.auditSequence(sequence) }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.text()))
            )
        }
    }
}
