import Foundation
import Hummingbird
import TenureAccess
import TenureConfig
import TenureCore
import TenureStore

extension Operations {
    /// Just-in-time activations:
    ///
    /// - `POST /v1/activations` (`activate`): 201 started, 202 pending approval (`Location` either way);
    /// - `POST /v1/activations/{id}/approve` and `/deny` (`approve`; never one's own): 200;
    /// - `DELETE /v1/activations/{id}` (`activate` for one's own, `approve`): 204;
    /// - `GET /v1/activations?subject=&state=` and `GET /v1/activations/{id}` (`read`, `approve`, or
    ///   `activate` for one's own).
    func addActivationRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {
        router.post("/v1/activations") { request, context in
            let token = try context.require(.activate)
            let body = try await api.decode(ActivationRequestBody.self, from: request)
            let record = try await self.requestActivation(body, token: token, context: context, api: api)
            let started = record.state == .active
            return api.json(
                self.activationJSON(record),
                status: started ? .created : .accepted,
                headers: [.location: "/v1/activations/\(record.id)"]
            )
        }

        router.post("/v1/activations/{id}/approve") { _, context in
            let token = try context.require(.approve)
            let id = try context.parameters.require("id")
            let record = try await self.approveActivation(id: id, token: token, context: context, api: api)
            return api.json(self.activationJSON(record))
        }

        router.post("/v1/activations/{id}/deny") { request, context in
            let token = try context.require(.approve)
            let id = try context.parameters.require("id")
            let data = try await request.bodyBytes(limit: api.settings.maxBodyBytes, as: Data.self)
            var reason: String?
            if !data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
                do throws(AccessRequestError) {
                    reason = try AuthZEN.decode(ActivationDecisionBody.self, from: data).reason
                } catch {
                    throw Problem(error)
                }
            }
            let record = try await self.denyActivation(id: id, reason: reason, token: token, context: context)
            return api.json(self.activationJSON(record))
        }

        router.delete("/v1/activations/{id}") { _, context in
            guard let token = context.token else { throw Problem.unauthorized("a bearer token is required") }
            let id = try context.parameters.require("id")
            guard context.has(.approve, .activate) else { throw Problem.forbidden(scope: APIScope.activate.rawValue) }
            try await self.endActivation(id: id, token: token, context: context)
            return Response(status: .noContent)
        }

        router.get("/v1/activations") { request, context in
            let token = try self.requireViewer(context)
            let model = self.index.snapshot
            var identityID: String?
            if let subject = request.uri.queryParameters.get("subject"), !subject.isEmpty {
                identityID = try self.identityID(query: subject, model: model)
            }
            var state: ActivationRecord.State?
            if let text = request.uri.queryParameters.get("state"), !text.isEmpty {
                guard let parsed = ActivationRecord.State(rawValue: text) else {
                    throw Problem.badRequest(
                        "state must be one of \(ActivationRecord.State.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                state = parsed
            }
            if !context.has(.read, .approve) {
                // `activate` alone: one's own activations only.
                guard let own = Self.personID(of: token, in: model) else { throw Self.notOwn() }
                if let identityID, identityID != own { throw Self.notOwn() }
                identityID = own
            }
            let records = try await self.store.activations(identityID: identityID, state: state)
            return api.json(ActivationListJSON(activations: records.map { self.activationJSON($0, model: model) }))
        }

        router.get("/v1/activations/{id}") { _, context in
            let token = try self.requireViewer(context)
            let id = try context.parameters.require("id")
            guard let record = try await self.store.activation(id: id) else {
                throw Problem.notFound("there is no activation \(id)")
            }
            let model = self.index.snapshot
            if !context.has(.read, .approve), !Self.isOwn(record.identityID, token: token, model: model) {
                throw Self.notOwn()
            }
            return api.json(self.activationJSON(record, model: model))
        }
    }

    // MARK: - Who may do what

    /// Listing and reading: `read`, `approve`, `activate` (own only) or `admin`.
    private func requireViewer(_ context: TenureRequestContext) throws -> APIToken {
        guard let token = context.token else { throw Problem.unauthorized("a bearer token is required") }
        guard context.has(.read, .approve, .activate) else { throw Problem.forbidden(scope: APIScope.read.rawValue) }
        return token
    }

    /// The identity a token's person is in the model; nil for a token without a person, or one the
    /// model does not know.
    static func personID(of token: APIToken, in model: AccessModel) -> String? {
        guard let subject = token.subject, case .found(let identity) = model.resolveSubject(subject) else {
            return nil
        }
        return identity.id
    }

    /// Whether the identity is the token's own person (see `AccessModel.subject(_:isIdentity:)`:
    /// an ambiguous subject owns nothing).
    static func isOwn(_ identityID: String, token: APIToken, model: AccessModel) -> Bool {
        guard let subject = token.subject else { return false }
        return model.subject(subject, isIdentity: identityID)
    }

    static func notOwn() -> Problem {
        Problem(
            .forbidden,
            "not-own-activation",
            title: "Forbidden",
            detail: "this token may only see and change its own person's activations"
        )
    }

    /// The identity id a `subject` query names: a resolved identity, else the text as given (an id
    /// the model no longer holds).
    private func identityID(query subject: String, model: AccessModel) throws -> String {
        switch model.resolveSubject(subject) {
        case .found(let identity): return identity.id
        case .unknown: return subject
        case .ambiguous(let ids): throw Self.ambiguous(subject, ids)
        }
    }

    static func ambiguous(_ subject: String, _ ids: [String]) -> Problem {
        Problem(
            .conflict,
            "ambiguous-subject",
            title: "Conflict",
            detail: "\"\(subject)\" names several identities; use a stable id",
            extra: ["identities": ids.joined(separator: ",")]
        )
    }

    // MARK: - JSON

    func activationJSON(_ record: ActivationRecord, model: AccessModel? = nil) -> ActivationJSON {
        let model = model ?? self.index.snapshot
        return ActivationJSON(record, username: model.identities[record.identityID]?.username)
    }
}

/// `POST /v1/activations`. The TOTP code is never printed (not even by `description`).
struct ActivationRequestBody: Decodable, Sendable, CustomStringConvertible {
    /// A stable id or a username; defaults to the token's own person.
    var subject: String?
    var role: String
    /// Seconds; defaults to (and is capped at) the role's maximum and the end of the eligibility.
    var duration: Double?
    var justification: String?
    var ticket: String?
    var totp: String?

    var description: String {
        "ActivationRequestBody(subject: \(self.subject ?? "-"), role: \(self.role), totp: \(self.totp == nil ? "-" : "<redacted>"))"
    }
}

/// `POST /v1/activations/{id}/deny` (optional body).
struct ActivationDecisionBody: Decodable, Sendable {
    var reason: String?
}

/// An activation as the API shows it: times as ISO 8601 (UTC, milliseconds), the duration in
/// whole seconds. Absent values are left out.
struct ActivationJSON: Encodable, Sendable {
    var id: String
    /// The identity's stable id.
    var subject: String
    var username: String?
    var role: String
    var state: String
    var requestedBy: String
    var requestedAt: String
    var duration: Int
    var justification: String?
    var ticket: String?
    var mfa: Bool
    var decidedBy: String?
    var decidedAt: String?
    var decisionReason: String?
    var startsAt: String?
    var endsAt: String?
    var endedAt: String?
    var endReason: String?

    init(_ record: ActivationRecord, username: String?) {
        func time(_ value: Double?) -> String? { value.map { isoTimestamp($0, milliseconds: true) } }
        self.id = record.id
        self.subject = record.identityID
        self.username = username
        self.role = record.role
        self.state = record.state.rawValue
        self.requestedBy = record.requestedBy
        self.requestedAt = isoTimestamp(record.requestedAt, milliseconds: true)
        self.duration = Int(record.durationSeconds.rounded())
        self.justification = record.justification
        self.ticket = record.ticket
        self.mfa = record.mfa
        self.decidedBy = record.decidedBy
        self.decidedAt = time(record.decidedAt)
        self.decisionReason = record.decisionReason
        self.startsAt = time(record.startsAt)
        self.endsAt = time(record.endsAt)
        self.endedAt = time(record.endedAt)
        self.endReason = record.endReason
    }
}

struct ActivationListJSON: Encodable, Sendable {
    var activations: [ActivationJSON]
}
