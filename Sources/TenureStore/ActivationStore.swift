/// A just-in-time activation as stored (table `activation`, migration v5): a request for an eligible
/// role, its decision, and its life once started. Times are seconds since 1970.
///
/// States: `pending` (waiting for an approver), `active` (its assignment, source `activation:<id>`,
/// is in the `assignment` table until `endsAt`), `denied`, `ended` (ended early, or withdrawn while
/// pending) and `expired` (the sweeper found it past `endsAt`).
public struct ActivationRecord: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case pending, active, denied, ended, expired
    }

    public var id: String
    public var identityID: String
    public var role: String
    public var state: State
    /// Who asked (the actor: `token:<name>`).
    public var requestedBy: String
    public var requestedAt: Double
    /// The duration granted (or, while pending, to be granted), in seconds.
    public var durationSeconds: Double
    public var justification: String?
    public var ticket: String?
    /// Whether a TOTP code was verified with the request.
    public var mfa: Bool
    /// Who approved or denied it (or withdrew it while pending).
    public var decidedBy: String?
    public var decidedAt: Double?
    public var decisionReason: String?
    public var startsAt: Double?
    public var endsAt: Double?
    public var endedAt: Double?
    public var endReason: String?

    public init(
        id: String,
        identityID: String,
        role: String,
        state: State,
        requestedBy: String,
        requestedAt: Double,
        durationSeconds: Double,
        justification: String? = nil,
        ticket: String? = nil,
        mfa: Bool = false,
        decidedBy: String? = nil,
        decidedAt: Double? = nil,
        decisionReason: String? = nil,
        startsAt: Double? = nil,
        endsAt: Double? = nil,
        endedAt: Double? = nil,
        endReason: String? = nil
    ) {
        self.id = id
        self.identityID = identityID
        self.role = role
        self.state = state
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.durationSeconds = durationSeconds
        self.justification = justification
        self.ticket = ticket
        self.mfa = mfa
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.decisionReason = decisionReason
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.endedAt = endedAt
        self.endReason = endReason
    }

    /// The `source` of the assignment an active activation stands for.
    public var assignmentSource: String { Self.assignmentSource(self.id) }

    public static func assignmentSource(_ id: String) -> String { "activation:\(id)" }
}

/// An MFA (TOTP) enrolment as stored: the seed sealed by the vault, never in the clear.
public struct MFAEnrollment: Sendable, Hashable {
    public var identityID: String
    /// The sealed seed (a `SealedSecret` as JSON text, credential `mfa:<identityID>`).
    public var sealedSeed: String
    /// The newest time step whose code was accepted; nil before the first.
    public var lastUsedStep: Int64?
    public var enrolledAt: Double

    public init(identityID: String, sealedSeed: String, lastUsedStep: Int64?, enrolledAt: Double) {
        self.identityID = identityID
        self.sealedSeed = sealedSeed
        self.lastUsedStep = lastUsedStep
        self.enrolledAt = enrolledAt
    }
}

/// An activation change the store refused: nothing was written, no audit record either.
public struct ActivationStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// No activation with that id.
        case notFound
        /// The activation is not in a state the change applies to (`state` says which it is in).
        case wrongState
        /// The identity already holds the role active and in force (an assignment not to replace).
        case alreadyActive
        /// The record or assignment given does not fit the change (a state, an id, a source).
        case invalidRecord
    }

    public var code: Code
    public var message: String
    /// The activation's current state, for `wrongState`.
    public var state: ActivationRecord.State?

    public init(_ code: Code, _ message: String, state: ActivationRecord.State? = nil) {
        self.code = code
        self.message = message
        self.state = state
    }

    public var description: String { self.message }
}
