import TenureAccess
import TenureCore

/// A small organisation: a few roles (eligible and standing, credentials, one SoD pair), and one
/// identity per situation the decision core distinguishes.
enum World {
    /// 2027-01-15T08:00:00Z.
    static let now: Double = 1_800_000_000

    static let mappings = Mappings(roles: [
        RoleDefinition(
            name: "dba-prod",
            tier: 0,
            mode: .eligible,
            maxActivationSeconds: 3_600,
            requirements: [.justification, .mfa],
            credentials: ["pg-prod-admin"],
            conflicts: ["auditor"]
        ),
        RoleDefinition(name: "db-read", tier: 2, mode: .standing, credentials: ["pg-prod-ro"]),
        // Declares no conflict itself: the map is symmetric.
        RoleDefinition(name: "auditor", tier: 1, mode: .standing),
        RoleDefinition(
            name: "sec-admin",
            tier: 0,
            mode: .eligible,
            maxActivationSeconds: 1_800,
            requirements: [.approval, .ticket, .justification],
            credentials: ["vault-root"]
        ),
        RoleDefinition(name: "ops", tier: 1, mode: .standing, credentials: ["pg-prod-admin"]),
        RoleDefinition(name: "unbounded", tier: 3, mode: .eligible),
    ])

    static func identity(
        _ id: String,
        _ username: String?,
        _ state: LifecycleState = .active
    ) -> IdentityRecord {
        IdentityRecord(
            id: id,
            state: state,
            dn: "uid=\(username ?? id),ou=people,dc=t",
            username: username,
            attributes: [:],
            groups: [],
            firstSeen: now - 86_400 * 365,
            lastSeen: now - 86_400
        )
    }

    static func eligible(_ id: String, _ role: String, until: Double? = nil) -> Assignment {
        Assignment(
            identityID: id,
            role: role,
            state: .eligible,
            source: "rule:\(role)",
            since: now - 86_400,
            until: until
        )
    }

    static func active(_ id: String, _ role: String, until: Double? = nil) -> Assignment {
        Assignment(
            identityID: id,
            role: role,
            state: .active,
            source: until == nil ? "rule:\(role)" : "activation:42",
            since: now - 600,
            until: until
        )
    }

    static let identities: [IdentityRecord] = [
        identity("u-alice", "Alice"),
        identity("u-bob", "bob"),
        identity("u-carol", "carol"),
        identity("u-dave", "dave"),
        identity("u-erin", "erin", .disabled),
        identity("u-frank", "frank", .terminated),
        identity("u-gina", "gina"),
        identity("u-hank", "hank"),
        identity("u-ivan-old", "ivan", .terminated),
        identity("u-ivan", "Ivan"),
        identity("u-x1", "xy"),
        identity("u-x2", "XY"),
        identity("u-judy", "judy"),
        identity("u-kim", "kim"),
    ]

    static let assignments: [Assignment] = [
        eligible("u-alice", "dba-prod"),
        active("u-alice", "db-read"),
        eligible("u-alice", "unbounded"),
        eligible("u-bob", "dba-prod"),
        active("u-bob", "dba-prod", until: now + 600),
        eligible("u-carol", "dba-prod"),
        active("u-carol", "dba-prod", until: now),  // ends exactly now
        active("u-dave", "dba-prod"),
        active("u-dave", "auditor"),
        active("u-erin", "db-read"),
        active("u-frank", "db-read"),
        active("u-gina", "db-read"),
        eligible("u-hank", "sec-admin"),
        active("u-hank", "ops", until: now - 10),
        active("u-ivan-old", "db-read"),
        active("u-ivan", "db-read"),
        active("u-x1", "db-read"),
        eligible("u-judy", "dba-prod"),
        active("u-judy", "auditor"),
        eligible("u-kim", "dba-prod", until: now),  // eligibility ended exactly now
    ]

    static let state = PIMState(
        identities: Dictionary(uniqueKeysWithValues: identities.map { ($0.id, $0) }),
        assignments: assignments
    )

    static let model = AccessModel(
        mappings: mappings,
        state: state,
        hrTerminated: ["u-gina": "resigned"],
        mfaCredentials: ["pg-prod-admin", "vault-root"]
    )

    static func request(
        _ subject: String,
        _ type: String,
        _ id: String,
        _ action: String,
        subjectType: String = "user"
    ) -> EvaluationRequest {
        EvaluationRequest(
            subject: Subject(type: subjectType, id: subject),
            resource: Resource(type: type, id: id),
            action: Action(name: action)
        )
    }

    static func assume(_ subject: String, _ role: String) -> EvaluationRequest {
        request(subject, "role", role, "assume")
    }

    static func checkout(_ subject: String, _ credential: String) -> EvaluationRequest {
        request(subject, "credential", credential, "checkout")
    }
}
