import TenureCore

/// The vocabulary the decision core answers for.
public enum AccessVocabulary {
    /// `subject.type` of people (the only subject type decided).
    public static let user = "user"
    /// `resource.type` of a role; its `id` is the role name; the action is `assume`.
    public static let role = "role"
    public static let assume = "assume"
    /// `resource.type` of a vault credential; its `id` is the credential name; the action is `checkout`.
    public static let credential = "credential"
    public static let checkout = "checkout"
}

extension AccessModel {
    /// Decides one request at `now` (seconds since 1970). Never fails: anything the core cannot
    /// decide is a deny with its reason.
    public func evaluate(_ request: EvaluationRequest, now: Double) -> Decision {
        let resourceType = request.resource.type
        let actionName = request.action.name
        guard request.subject.type == AccessVocabulary.user else {
            return .deny(
                .unsupported,
                "subject type \"\(request.subject.type)\" is not supported (only \"user\")",
                ["subjectType": .string(request.subject.type)]
            )
        }
        let expected: String? =
            switch resourceType {
            case AccessVocabulary.role: AccessVocabulary.assume
            case AccessVocabulary.credential: AccessVocabulary.checkout
            default: nil
            }
        guard let expected else {
            return .deny(
                .unsupported,
                "resource type \"\(resourceType)\" is not supported (\"role\" or \"credential\")",
                ["resourceType": .string(resourceType)]
            )
        }
        guard actionName == expected else {
            return .deny(
                .unsupported,
                "action \"\(actionName)\" is not supported on a \(resourceType) (only \"\(expected)\")",
                ["resourceType": .string(resourceType), "action": .string(actionName)]
            )
        }

        let identity: IdentityRecord
        switch self.resolveSubject(request.subject.id) {
        case .found(let found):
            identity = found
        case .unknown:
            return .deny(.unknownSubject, "no identity has this id or username")
        case .ambiguous(let ids):
            return .deny(.unknownSubject, "the username is carried by \(ids.count) identities; use the stable id")
        }
        if let inactivity = self.inactivity(of: identity) {
            var details: JSONObject = ["state": .string(inactivity.state.rawValue)]
            if inactivity.hrReason != nil { details["hrTerminated"] = true }
            return .deny(.identityInactive, inactivity.description, details)
        }

        if resourceType == AccessVocabulary.role {
            return self.assume(identity: identity, role: request.resource.id, now: now)
        }
        return self.checkout(identity: identity, credential: request.resource.id, now: now)
    }

    /// Decides a batch against this one model: items in order, stopping after the first deny
    /// (`deny_on_first_deny`) or permit (`permit_on_first_permit`), so the result may be shorter
    /// than the request.
    public func evaluate(
        _ requests: [EvaluationRequest],
        semantic: EvaluationsSemantic,
        now: Double
    ) -> [Decision] {
        var decisions: [Decision] = []
        decisions.reserveCapacity(requests.count)
        for request in requests {
            let decision = self.evaluate(request, now: now)
            decisions.append(decision)
            switch semantic {
            case .executeAll: continue
            case .denyOnFirstDeny: if !decision.allowed { return decisions }
            case .permitOnFirstPermit: if decision.allowed { return decisions }
            }
        }
        return decisions
    }

    /// Decides an AuthZEN batch (defaults applied, semantic honoured).
    public func evaluate(_ batch: EvaluationsRequest, now: Double) throws(AccessRequestError) -> EvaluationsResponse {
        let decisions = self.evaluate(try batch.resolved(), semantic: batch.semantic, now: now)
        return EvaluationsResponse(evaluations: decisions.map(\.response))
    }

    // MARK: - Roles

    private func assume(identity: IdentityRecord, role name: String, now: Double) -> Decision {
        guard let role = self.roles[name] else {
            return .deny(.unknownRole, "no role named \"\(name)\"", ["role": .string(name)])
        }
        let holding = self.holding(of: identity.id, role: name) ?? RoleHolding()
        if let active = holding.activeAssignment(at: now) {
            if let other = self.activeConflicts(of: identity.id, with: name, at: now).first {
                return .deny(
                    .sodConflict,
                    "\"\(name)\" must not be held together with \"\(other)\", which the identity also holds",
                    ["role": .string(name), "conflictsWith": .string(other)]
                )
            }
            var details: JSONObject = ["role": .string(name)]
            if let until = active.until { details["until"] = .seconds(until) }
            let text = active.until.map { "holds \"\(name)\" active until \(isoTimestamp($0, milliseconds: false))" }
            return .permit(.activeAssignment, text ?? "holds \"\(name)\" active", details)
        }
        let eligible = holding.eligibleAssignment(at: now)
        if let active = holding.active, let until = active.until {
            var details: JSONObject = ["role": .string(name), "expiredAt": .seconds(until)]
            if eligible != nil { details["activation"] = role.activationHint }
            return .deny(
                .expired,
                "the active assignment of \"\(name)\" ended at \(isoTimestamp(until, milliseconds: false))",
                details
            )
        }
        if eligible != nil {
            return .deny(
                .eligibleNotActive,
                "eligible for \"\(name)\" but not activated",
                ["role": .string(name), "activation": role.activationHint]
            )
        }
        let text =
            holding.eligible != nil
            ? "the eligibility for \"\(name)\" has ended" : "neither holds nor is eligible for \"\(name)\""
        return .deny(.notEligible, text, ["role": .string(name)])
    }

    // MARK: - Credentials

    private func checkout(identity: IdentityRecord, credential: String, now: Double) -> Decision {
        guard let unlocking = self.rolesByCredential[credential], !unlocking.isEmpty else {
            return .deny(
                .unknownCredential,
                "no role unlocks a credential named \"\(credential)\"",
                ["credential": .string(credential)]
            )
        }
        let byRole = self.holdings(of: identity.id)
        var blocked: (role: String, conflictsWith: String)?
        for role in unlocking {
            guard let active = byRole[role]?.activeAssignment(at: now) else { continue }
            // Defence in depth: a role held against separation of duties unlocks nothing.
            if let other = self.activeConflicts(of: identity.id, with: role, at: now).first {
                if blocked == nil { blocked = (role, other) }
                continue
            }
            var details: JSONObject = ["credential": .string(credential), "role": .string(role)]
            if let until = active.until { details["until"] = .seconds(until) }
            if let mfa = self.mfaCredentials { details["requiresMFA"] = .bool(mfa.contains(credential)) }
            return .permit(.roleUnlocks, "\"\(role)\", held active, unlocks \"\(credential)\"", details)
        }
        if let blocked {
            return .deny(
                .sodConflict,
                "\"\(blocked.role)\" unlocks \"\(credential)\" but must not be held together with "
                    + "\"\(blocked.conflictsWith)\", which the identity also holds",
                [
                    "credential": .string(credential), "role": .string(blocked.role),
                    "conflictsWith": .string(blocked.conflictsWith),
                ]
            )
        }
        let eligible = unlocking.filter { byRole[$0]?.eligibleAssignment(at: now) != nil }
        var details: JSONObject = [
            "credential": .string(credential), "roles": .array(unlocking.map { .string($0) }),
        ]
        if !eligible.isEmpty { details["eligibleRoles"] = .array(eligible.map { .string($0) }) }
        return .deny(
            .noRoleUnlocks,
            "no role held active unlocks \"\(credential)\" (unlocked by: \(unlocking.joined(separator: ", ")))",
            details
        )
    }
}

extension RoleDefinition {
    /// How to activate the role: `{"maxActivationSeconds": …, "requirements": […]}`.
    var activationHint: JSONValue {
        var hint: JSONObject = ["requirements": .array(self.requirements.map { .string($0.rawValue) })]
        if let max = self.maxActivationSeconds { hint["maxActivationSeconds"] = .integer(max) }
        return .object(hint)
    }
}

extension JSONValue {
    /// A time in seconds: an integer when whole.
    static func seconds(_ value: Double) -> JSONValue {
        if let whole = Int(exactly: value) { return .integer(whole) }
        return .number(value)
    }
}
