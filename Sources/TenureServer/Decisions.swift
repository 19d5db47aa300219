import Foundation
import Hummingbird
import TenureAccess
import TenureConfig
import TenureCore

extension TenureAPI {
    func addDecisionRoutes(to router: Router<TenureRequestContext>) {
        router.get("/.well-known/authzen-configuration") { request, _ in
            let base = self.settings.publicURL ?? Self.baseURL(of: request)
            return self.json(
                [
                    "policy_decision_point": base,
                    "access_evaluation_endpoint": base + "/access/v1/evaluation",
                    "access_evaluations_endpoint": base + "/access/v1/evaluations",
                ]
            )
        }

        router.post("/access/v1/evaluation") { request, context in
            try context.require(.check)
            let bytes = try await request.bodyBytes(limit: self.settings.maxBodyBytes, as: [UInt8].self)
            let evaluation: EvaluationRequest
            do {
                evaluation = try AuthZEN.decodeEvaluationFast(bytes)
            } catch let error as AccessRequestError {
                throw Problem(error)
            }
            try Self.refuseNUL(evaluation, path: "")
            let now = self.now()
            let decision = self.index.evaluate(evaluation, now: now)
            try await self.audited([
                self.decisionEvent(
                    evaluation,
                    decision,
                    actor: context.actor,
                    requestID: context.requestID,
                    time: now
                )
            ])
            self.metrics.decision(allowed: decision.allowed)
            return self.jsonBytes(AuthZEN.encodeFast(decision))
        }

        router.post("/access/v1/evaluations") { request, context in
            try context.require(.check)
            let data = try await request.bodyBytes(limit: self.settings.maxBodyBytes, as: Data.self)
            let batch: EvaluationsRequest
            let requests: [EvaluationRequest]
            do {
                batch = try AuthZEN.decodeEvaluations(data)
                requests = try batch.resolved()
            } catch let error as AccessRequestError {
                throw Problem(error)
            }
            for (index, request) in requests.enumerated() {
                try Self.refuseNUL(request, path: batch.isSingle ? "" : "evaluations[\(index)].")
            }
            let now = self.now()
            let decisions = self.index.evaluate(requests, semantic: batch.semantic, now: now)
            try await self.audited(
                zip(requests, decisions).map {
                    self.decisionEvent($0, $1, actor: context.actor, requestID: context.requestID, time: now)
                }
            )
            for decision in decisions { self.metrics.decision(allowed: decision.allowed) }
            if batch.isSingle, let decision = decisions.first {
                return self.jsonBytes(AuthZEN.encodeFast(decision))
            }
            return self.jsonBytes(AuthZEN.encodeFast(decisions))
        }
    }

    /// A NUL in a name is no identity, role or credential, and cannot be recorded: 400 naming it.
    static func refuseNUL(_ request: EvaluationRequest, path: String) throws {
        func check(_ name: StaticString, _ value: String) throws {
            guard value.utf8.contains(0) else { return }
            throw Problem.badRequest("\(name) contains a NUL character", jsonPath: path + "\(name)")
        }
        try check("subject.type", request.subject.type)
        try check("subject.id", request.subject.id)
        try check("resource.type", request.resource.type)
        try check("resource.id", request.resource.id)
        try check("action.name", request.action.name)
    }

    func decisionEvent(
        _ request: EvaluationRequest,
        _ decision: Decision,
        actor: String,
        requestID: String,
        time: Double
    ) -> AuditEvent {
        AuditEvent(
            time: time,
            actor: actor,
            type: "access.decision",
            subject: request.subject.id,
            object: "\(request.resource.type):\(request.resource.id)",
            outcome: decision.allowed ? "permit" : "deny",
            details: [
                "action": request.action.name, "reason": decision.reason.rawValue, "request": requestID,
                "subjectType": request.subject.type,
            ]
        )
    }

    /// `http://host[:port]` as the client addressed us (for discovery documents, when
    /// `server.publicURL` is not set).
    static func baseURL(of request: Request) -> String {
        let host = request.head.authority ?? "localhost"
        let safe = host.utf8.allSatisfy {
            $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\"")
        }
        return "http://" + (safe ? host : "localhost")
    }
}
