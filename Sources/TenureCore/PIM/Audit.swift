/// One thing that happened, as the audit log records it. Never carries a secret: details hold
/// names, ids, reasons and counts only.
public struct AuditEvent: Hashable, Sendable, Codable {
    /// Seconds since 1970.
    public var time: Double
    /// Who did it: `sync`, `cli:<user>`, `api:<token name>`.
    public var actor: String
    /// What happened, dotted: `identity.joined`, `role.granted`, `role.revoked`, `plan.applied`…
    public var type: String
    /// Whom it concerns (an identity id), when anyone.
    public var subject: String?
    /// What it concerns (a role, a plan id), when anything.
    public var object: String?
    /// `success`, `failure`, `held`, `skipped`.
    public var outcome: String
    /// More context (reasons, usernames, counts), as string pairs.
    public var details: [String: String]

    public init(
        time: Double,
        actor: String,
        type: String,
        subject: String? = nil,
        object: String? = nil,
        outcome: String = "success",
        details: [String: String] = [:]
    ) {
        self.time = time
        self.actor = actor
        self.type = type
        self.subject = subject
        self.object = object
        self.outcome = outcome
        self.details = details
    }
}

/// A stored audit record: the event, its place in the chain and its MAC.
public struct AuditRecord: Hashable, Sendable, Codable {
    /// 1, 2, 3, … without gaps.
    public var sequence: Int64
    public var event: AuditEvent
    /// The previous record's MAC (hex); 64 zeros for the first record.
    public var previousHash: String
    /// HMAC-SHA256 under the audit key of this record's canonical bytes, previousHash included (hex).
    public var mac: String

    public init(sequence: Int64, event: AuditEvent, previousHash: String, mac: String) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.mac = mac
    }

    /// The bytes the MAC covers: every field, length-prefixed so no two records share them.
    public static func canonicalBytes(sequence: Int64, event: AuditEvent, previousHash: String) -> [UInt8] {
        var bytes: [UInt8] = []
        func field(_ text: String?) {
            guard let text else {
                bytes.append(0)
                return
            }
            bytes.append(1)
            let utf8 = Array(text.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        field(String(sequence))
        field(String(event.time.bitPattern, radix: 16))
        field(event.actor)
        field(event.type)
        field(event.subject)
        field(event.object)
        field(event.outcome)
        field(String(event.details.count))
        for key in event.details.keys.sorted() {
            field(key)
            field(event.details[key])
        }
        field(previousHash)
        return bytes
    }
}
