public import TenureCore

// The message types of the OpenID AuthZEN Authorization API 1.0, written against the
// specification (https://openid.net/specs/authorization-api-1_0.html; the working copy read is
// openid/authzen `api/authorization-api-1_0.md`):
//
// - Information model (§5): Subject `{type, id, properties?}`, Resource `{type, id, properties?}`,
//   Action `{name, properties?}` (type, id and name REQUIRED strings; properties an OPTIONAL JSON
//   object), Context a free JSON object.
// - Access Evaluation API (§6): request `{subject, action, resource, context?}`; response
//   `{decision: bool, context?: object}`. A denial is `decision: false`, the reason in `context`
//   (the spec's example reasons use `reason_admin` / `reason_user` Reason Field objects keyed by
//   language, `{"en": "…"}`).
// - Access Evaluations API (§7): the same 4-tuple at top level as defaults for every item of
//   `evaluations` (an item's own key takes precedence, §7.1.1 "Default values"), an OPTIONAL
//   `options` object whose `evaluations_semantic` is `execute_all` (default), `deny_on_first_deny`
//   or `permit_on_first_permit` (§7.1.2 "Evaluations options" / "Evaluations semantics"); the
//   response is `{evaluations: [decision…]}` in request order, and under a short-circuiting
//   semantic it stops at the first deny / permit, so it may hold fewer items than the request
//   (the spec's own examples: 2 of 3 for deny_on_first_deny, 1 of 3 for permit_on_first_permit).
//   Without an `evaluations` array the request behaves as a single evaluation (§7.1).
//
// Cross-checked against the working group's semantics proposal (hackmd.io/@oidf-wg-authzen/
// HyjYnL1Hke) and the OpenFGA / openidauthzen bindings of `evaluations_semantic` (docs.rs).

/// The principal asking (AuthZEN §5.1). Tenure answers for `type: "user"`; `id` is a username
/// (case-insensitive) or a stable directory id.
public struct Subject: Hashable, Sendable, Codable {
    public var type: String
    public var id: String
    public var properties: JSONObject?

    public init(type: String, id: String, properties: JSONObject? = nil) {
        self.type = type
        self.id = id
        self.properties = properties
    }
}

/// The target of the request (AuthZEN §5.2): `role` or `credential` here.
public struct Resource: Hashable, Sendable, Codable {
    public var type: String
    public var id: String
    public var properties: JSONObject?

    public init(type: String, id: String, properties: JSONObject? = nil) {
        self.type = type
        self.id = id
        self.properties = properties
    }
}

/// What the subject wants to do (AuthZEN §5.3): `assume` a role, `checkout` a credential.
public struct Action: Hashable, Sendable, Codable {
    public var name: String
    public var properties: JSONObject?

    public init(name: String, properties: JSONObject? = nil) {
        self.name = name
        self.properties = properties
    }
}

/// Environmental data of a request, or the explanation of a decision (AuthZEN §5.4): any JSON object.
public typealias Context = JSONObject

/// One access evaluation (AuthZEN §6.1).
public struct EvaluationRequest: Hashable, Sendable, Codable {
    public var subject: Subject
    public var resource: Resource
    public var action: Action
    public var context: Context?

    public init(subject: Subject, resource: Resource, action: Action, context: Context? = nil) {
        self.subject = subject
        self.resource = resource
        self.action = action
        self.context = context
    }
}

/// The answer to one evaluation (AuthZEN §6.2).
public struct EvaluationResponse: Hashable, Sendable, Codable {
    public var decision: Bool
    public var context: Context?

    public init(decision: Bool, context: Context? = nil) {
        self.decision = decision
        self.context = context
    }
}

/// One item of a batch: any key left out is taken from the batch's top-level default (§7.1.1).
public struct EvaluationItem: Hashable, Sendable, Codable {
    public var subject: Subject?
    public var resource: Resource?
    public var action: Action?
    public var context: Context?

    public init(subject: Subject? = nil, resource: Resource? = nil, action: Action? = nil, context: Context? = nil) {
        self.subject = subject
        self.resource = resource
        self.action = action
        self.context = context
    }
}

/// How a batch is executed (AuthZEN §7.1.2).
public enum EvaluationsSemantic: String, Hashable, Sendable, CaseIterable {
    /// Every item is evaluated and answered, in order (the default).
    case executeAll = "execute_all"
    /// Stop after the first deny (like `&&`); the response ends with that deny.
    case denyOnFirstDeny = "deny_on_first_deny"
    /// Stop after the first permit (like `||`); the response ends with that permit.
    case permitOnFirstPermit = "permit_on_first_permit"
}

extension EvaluationsSemantic: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = EvaluationsSemantic(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "expected one of "
                    + EvaluationsSemantic.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }
}

/// The `options` of a batch (AuthZEN §7.1.2). Other keys are allowed by the spec and ignored.
public struct EvaluationsOptions: Hashable, Sendable, Codable {
    public var evaluationsSemantic: EvaluationsSemantic?

    public init(evaluationsSemantic: EvaluationsSemantic? = nil) {
        self.evaluationsSemantic = evaluationsSemantic
    }

    enum CodingKeys: String, CodingKey {
        case evaluationsSemantic = "evaluations_semantic"
    }
}

/// A batch of evaluations (AuthZEN §7.1), with optional top-level defaults.
public struct EvaluationsRequest: Hashable, Sendable, Codable {
    public var subject: Subject?
    public var resource: Resource?
    public var action: Action?
    public var context: Context?
    /// Absent: the top-level 4-tuple is evaluated as a single request (§7.1).
    public var evaluations: [EvaluationItem]?
    public var options: EvaluationsOptions?

    public init(
        subject: Subject? = nil,
        resource: Resource? = nil,
        action: Action? = nil,
        context: Context? = nil,
        evaluations: [EvaluationItem]? = nil,
        options: EvaluationsOptions? = nil
    ) {
        self.subject = subject
        self.resource = resource
        self.action = action
        self.context = context
        self.evaluations = evaluations
        self.options = options
    }

    /// Without `evaluations` (or with an empty array) the request is a single evaluation of the
    /// top-level 4-tuple, answered as one (§7.1: backwards compatible with the evaluation API).
    public var isSingle: Bool { self.evaluations?.isEmpty ?? true }

    /// The semantic asked for; `execute_all` when none.
    public var semantic: EvaluationsSemantic { self.options?.evaluationsSemantic ?? .executeAll }

    /// Every item completed from the defaults (an item's own key wins; a `context` replaces the
    /// default context whole). Without `evaluations` (or with an empty array), the top-level
    /// 4-tuple is the single request. A subject, resource or action found neither on an item nor
    /// at top level is an error naming the item's path (`evaluations[2].subject`).
    public func resolved() throws(AccessRequestError) -> [EvaluationRequest] {
        guard let items = self.evaluations, !items.isEmpty else {
            guard let subject = self.subject else { throw .missing("subject", batchDefault: false) }
            guard let resource = self.resource else { throw .missing("resource", batchDefault: false) }
            guard let action = self.action else { throw .missing("action", batchDefault: false) }
            return [EvaluationRequest(subject: subject, resource: resource, action: action, context: self.context)]
        }
        var requests: [EvaluationRequest] = []
        requests.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let path = "evaluations[\(index)]"
            guard let subject = item.subject ?? self.subject else {
                throw .missing("\(path).subject", batchDefault: true)
            }
            guard let resource = item.resource ?? self.resource else {
                throw .missing("\(path).resource", batchDefault: true)
            }
            guard let action = item.action ?? self.action else {
                throw .missing("\(path).action", batchDefault: true)
            }
            requests.append(
                EvaluationRequest(
                    subject: subject,
                    resource: resource,
                    action: action,
                    context: item.context ?? self.context
                )
            )
        }
        return requests
    }
}

/// The answer to a batch (AuthZEN §7.2): one response per evaluated item, in request order.
public struct EvaluationsResponse: Hashable, Sendable, Codable {
    public var evaluations: [EvaluationResponse]

    public init(evaluations: [EvaluationResponse]) {
        self.evaluations = evaluations
    }
}
