public import TenureCore

/// An identity's hold on one role: its eligible and its active assignment, either or both.
public struct RoleHolding: Hashable, Sendable {
    public var eligible: Assignment?
    public var active: Assignment?

    public init(eligible: Assignment? = nil, active: Assignment? = nil) {
        self.eligible = eligible
        self.active = active
    }

    public var isEmpty: Bool { self.eligible == nil && self.active == nil }

    /// The active assignment when it is still in force at `now` (`until` nil or later than now).
    public func activeAssignment(at now: Double) -> Assignment? {
        guard let active = self.active, active.isInForce(at: now) else { return nil }
        return active
    }

    /// The eligible assignment when it is still in force at `now`.
    public func eligibleAssignment(at now: Double) -> Assignment? {
        guard let eligible = self.eligible, eligible.isInForce(at: now) else { return nil }
        return eligible
    }
}

extension Assignment {
    /// In force at `now`: no expiry, or an expiry strictly later than now (an assignment whose
    /// `until` equals now has ended).
    public func isInForce(at now: Double) -> Bool {
        guard let until = self.until else { return true }
        return until > now
    }
}

/// Everything an access decision reads, indexed for the hot path: identities by stable id and by
/// lowercased username, assignments by identity then role, roles by name, the roles unlocking
/// each credential, the (symmetric) separation-of-duties map, and the identities HR terminated.
/// A value type: `AccessIndex` shares it between readers by copy-on-write.
///
/// Lookups are O(1) or O(roles of one identity); the mutations keep the indexes in step so the
/// server applies each change as it happens instead of rebuilding.
public struct AccessModel: Hashable, Sendable {
    public private(set) var identities: [String: IdentityRecord] = [:]
    /// Lowercased username → the ids carrying it (more than one only for a rehire or a clash).
    public private(set) var idsByUsername: [String: Set<String>] = [:]
    /// Lowercased employee number (the `employeeNumber` attribute, its name matched ignoring case;
    /// never empty) → the ids of the active identities carrying it, so HR matching reads one entry
    /// instead of every identity. No entry is an empty set.
    public private(set) var idsByEmployeeNumber: [String: Set<String>] = [:]
    /// Identity id → role → holding.
    public private(set) var holdings: [String: [String: RoleHolding]] = [:]
    public private(set) var roles: [String: RoleDefinition] = [:]
    /// Credential → the roles that unlock it, sorted.
    public private(set) var rolesByCredential: [String: [String]] = [:]
    /// Role → the roles it must not be held with, both directions of every declared conflict.
    public private(set) var conflicts: [String: Set<String>] = [:]
    /// Identities terminated by HR (id → reason), whatever the directory still says.
    public private(set) var hrTerminated: [String: String] = [:]
    /// Credentials whose check-out needs MFA (known to the server from credential metadata).
    /// nil: not known, and permits do not say; set: every credential permit carries `requiresMFA`.
    public var mfaCredentials: Set<String>?

    public init(
        mappings: Mappings = Mappings(),
        state: PIMState = PIMState(),
        hrTerminated: [String: String] = [:],
        mfaCredentials: Set<String>? = nil
    ) {
        self.replaceMappings(mappings)
        for identity in state.identities.values { self.upsertIdentity(identity) }
        for assignment in state.assignments { self.upsertAssignment(assignment) }
        self.hrTerminated = hrTerminated
        self.mfaCredentials = mfaCredentials
    }

    // MARK: - Mutations

    /// Adds or replaces the assignment with the same key (identity, role, state).
    public mutating func upsertAssignment(_ assignment: Assignment) {
        switch assignment.state {
        case .eligible:
            self.holdings[assignment.identityID, default: [:]][assignment.role, default: RoleHolding()].eligible =
                assignment
        case .active:
            self.holdings[assignment.identityID, default: [:]][assignment.role, default: RoleHolding()].active =
                assignment
        }
    }

    /// Removes the assignment with this key (nothing when there is none).
    public mutating func removeAssignment(_ key: AssignmentKey) {
        guard var byRole = self.holdings[key.identityID], var holding = byRole[key.role] else { return }
        switch key.state {
        case .eligible: holding.eligible = nil
        case .active: holding.active = nil
        }
        byRole[key.role] = holding.isEmpty ? nil : holding
        self.holdings[key.identityID] = byRole.isEmpty ? nil : byRole
    }

    /// Adds or replaces an identity, moving it in the username index when its username changed,
    /// and in the employee-number index when its number or whether it is active changed.
    public mutating func upsertIdentity(_ identity: IdentityRecord) {
        if let old = self.identities[identity.id]?.username?.lowercased(), old != identity.username?.lowercased() {
            self.idsByUsername[old]?.remove(identity.id)
            if self.idsByUsername[old]?.isEmpty == true { self.idsByUsername[old] = nil }
        }
        if let old = self.identities[identity.id].flatMap(Self.activeEmployeeNumber),
            old != Self.activeEmployeeNumber(identity)
        {
            self.idsByEmployeeNumber[old]?.remove(identity.id)
            if self.idsByEmployeeNumber[old]?.isEmpty == true { self.idsByEmployeeNumber[old] = nil }
        }
        self.identities[identity.id] = identity
        if let username = identity.username?.lowercased() {
            self.idsByUsername[username, default: []].insert(identity.id)
        }
        if let number = Self.activeEmployeeNumber(identity) {
            self.idsByEmployeeNumber[number, default: []].insert(identity.id)
        }
    }

    /// The identity's `idsByEmployeeNumber` key: its employee number lowercased, when it is active
    /// and has a non-empty one. The attribute is `employeeNumber`, else the first of another case.
    private static func activeEmployeeNumber(_ identity: IdentityRecord) -> String? {
        guard identity.state == .active else { return nil }
        let number =
            identity.attributes["employeeNumber"]
            ?? identity.attributes.first { $0.key.lowercased() == "employeenumber" }?.value
        guard let number, !number.isEmpty else { return nil }
        return number.lowercased()
    }

    /// Takes away now what `plan` takes away when it is applied: its revocations and expiries, and
    /// the records of the identities it finds no longer active (leavers, disabled accounts,
    /// offboardings). Its grants, elevations and active records wait for their commit. For a server
    /// about to apply the plan: decisions made while it runs — its rotations and write-back may take
    /// minutes — already deny what it removes (fail closed). If the plan then fails, the caller
    /// rebuilds the model from the store.
    public mutating func withdraw(aheadOf plan: Plan) {
        for identity in plan.identities {
            for action in identity.actions { self.withdraw(aheadOf: action, of: identity.identityID) }
        }
    }

    /// What one action of a plan takes away from `identityID`, taken away now (the rest of the
    /// action is left to the plan).
    public mutating func withdraw(aheadOf action: PlanAction, of identityID: String) {
        switch action {
        case .revoke(let role, let state, _), .expire(let role, let state, _):
            self.removeAssignment(AssignmentKey(identityID: identityID, role: role, state: state))
        case .recordIdentity(let record) where record.state != .active:
            self.upsertIdentity(record)
        default:
            break
        }
    }

    /// Takes away everything the identity holds, for when what a plan will do to it cannot be told
    /// (fail closed: it can only deny more, until the model is rebuilt).
    public mutating func withdrawEverything(of identityID: String) {
        self.holdings[identityID] = nil
    }

    /// Records (reason non-nil) or clears (nil) an HR termination.
    public mutating func setTerminated(_ identityID: String, reason: String?) {
        self.hrTerminated[identityID] = reason
    }

    /// Replaces the roles, their credentials and conflicts. Assignments stay: a role gone from the
    /// mappings is simply unknown to decisions until it returns.
    public mutating func replaceMappings(_ mappings: Mappings) {
        var roles: [String: RoleDefinition] = [:]
        // The first definition of a name wins, as in `Mappings.role(named:)`.
        for role in mappings.roles where roles[role.name] == nil { roles[role.name] = role }
        var rolesByCredential: [String: Set<String>] = [:]
        var conflicts: [String: Set<String>] = [:]
        for role in roles.values {
            for credential in role.credentials { rolesByCredential[credential, default: []].insert(role.name) }
            for other in role.conflicts where other != role.name {
                conflicts[role.name, default: []].insert(other)
                conflicts[other, default: []].insert(role.name)
            }
        }
        self.roles = roles
        self.rolesByCredential = rolesByCredential.mapValues { $0.sorted() }
        self.conflicts = conflicts
    }

    // MARK: - Lookups

    /// The identity a subject id names: a stable id (exact), else a username (case-insensitive).
    /// When several identities carry the username (a rehire next to the old terminated record),
    /// the one furthest from termination wins; a tie among those is ambiguous and resolves nothing.
    public func resolveSubject(_ subjectID: String, rule: SubjectRule = .preferActive) -> SubjectResolution {
        if let identity = self.identities[subjectID] { return .found(identity) }
        guard let ids = self.idsByUsername[subjectID.lowercased()], !ids.isEmpty else { return .unknown }
        // The usual case, without building arrays on the decision path: one identity has the name.
        if ids.count == 1, let identity = self.identities[ids.first!] { return .found(identity) }
        return .resolve(exact: nil, sharingUsername: ids.compactMap { self.identities[$0] }, rule: rule)
    }

    /// Whether `subjectID` (a token's subject) names the identity `identityID`: the subject resolves
    /// to it, or — when the subject resolves to nobody (the identity has left the model) — it is
    /// that very id. A subject that names several identities is nobody's: never a guess.
    public func subject(_ subjectID: String, isIdentity identityID: String) -> Bool {
        switch self.resolveSubject(subjectID) {
        case .found(let identity): return identity.id == identityID
        case .unknown: return subjectID == identityID
        case .ambiguous: return false
        }
    }

    /// The identity's holdings by role (empty when it holds nothing).
    public func holdings(of identityID: String) -> [String: RoleHolding] {
        self.holdings[identityID] ?? [:]
    }

    /// The identity's holding of one role.
    public func holding(of identityID: String, role: String) -> RoleHolding? {
        self.holdings[identityID]?[role]
    }

    /// The credentials a role unlocks.
    public func credentials(of role: String) -> [String] {
        self.roles[role]?.credentials ?? []
    }

    /// Why the identity may not act at all (disabled, terminated, or terminated by HR); nil when active.
    public func inactivity(of identity: IdentityRecord) -> Inactivity? {
        if let reason = self.hrTerminated[identity.id] { return Inactivity(state: .terminated, hrReason: reason) }
        if identity.state != .active { return Inactivity(state: identity.state, hrReason: nil) }
        return nil
    }

    /// The roles conflicting with `role` that the identity holds active and in force at `now`, sorted.
    public func activeConflicts(of identityID: String, with role: String, at now: Double) -> [String] {
        guard let others = self.conflicts[role], let byRole = self.holdings[identityID] else { return [] }
        return others.filter { byRole[$0]?.activeAssignment(at: now) != nil }.sorted()
    }
}

/// The outcome of looking a subject id up.
public enum SubjectResolution: Hashable, Sendable {
    case found(IdentityRecord)
    case unknown
    /// A username shared by several identities in the same state (ids, sorted).
    case ambiguous([String])
}

/// Why an identity may do nothing.
public struct Inactivity: Hashable, Sendable {
    public var state: LifecycleState
    /// Set when HR terminated the identity.
    public var hrReason: String?

    public init(state: LifecycleState, hrReason: String? = nil) {
        self.state = state
        self.hrReason = hrReason
    }

    /// What a decision's `reason_admin` says. Not HR's or an operator's reason: the gateway and the
    /// person asking read this; the reason stays in the audit log and the plan.
    public var description: String {
        if self.hrReason != nil { return "identity is terminated (by HR or an offboarding)" }
        return "identity is \(self.state.rawValue)"
    }
}
