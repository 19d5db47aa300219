import Foundation
import GRDB
import TenureCore
import TenureCrypto
import TenureStore

/// A directory under the system temp dir; `withTemporaryDirectory` removes it afterwards.
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tenure-store-tests-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.path = url.path
    }

    func file(_ name: String) -> String { self.path + "/" + name }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try body(directory)
}

func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    return try await body(directory)
}

/// A fixed key, so tests can compute MACs independently of the store.
let testKeyBytes: [UInt8] = (0..<32).map { UInt8($0 * 7 + 1) }

func testKey() throws -> AuditKey { try AuditKey(bytes: testKeyBytes) }

/// A store (`tenure.sqlite`) in a fresh temporary directory, removed afterwards.
func withStore(
    key: AuditKey? = nil,
    _ body: (SQLiteStore, TemporaryDirectory) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory async throws in
        let store = try SQLiteStore(path: directory.file("tenure.sqlite"), auditKey: key ?? testKey())
        defer { try? store.close() }
        try await body(store, directory)
    }
}

func event(_ index: Int, subject: String? = nil, time: Double? = nil) -> AuditEvent {
    AuditEvent(
        time: time ?? (1_764_230_000 + Double(index) * 1.5),
        actor: index % 2 == 0 ? "sync" : "cli:alice",
        type: index % 3 == 0 ? "role.revoked" : "role.granted",
        subject: subject ?? "id-\(index % 5)",
        object: index % 4 == 0 ? nil : "role-\(index % 3)",
        outcome: "success",
        details: ["rule": "rule-\(index)", "reason": "because \(index), \"quoted\", comma"]
    )
}

/// MAC of a record as the chain defines it, computed without the store's code.
func independentMAC(sequence: Int64, event: AuditEvent, previousHash: String) -> String {
    hex(
        Digest.hmacSHA256(
            key: testKeyBytes,
            message: AuditRecord.canonicalBytes(sequence: sequence, event: event, previousHash: previousHash)
        )
    )
}

/// Opens the database file directly, as someone with file access (not the store) would.
func withRawDatabase<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    return try queue.write(body)
}

/// What an attacker does first: the append-only triggers only stop honest mistakes.
func dropAuditTriggers(_ db: Database) throws {
    try db.execute(
        sql: "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_append_only"
    )
}

let zeroHash = String(repeating: "0", count: 64)

/// Creates an HR user with `fields` and links it to `identity` (nil leaves it unlinked: a pre-hire),
/// both at `time`.
func makeHRUser(_ store: SQLiteStore, _ fields: HRUserFields, identity: String?, at time: Double) async throws
    -> HRUserRecord
{
    let user = try await store.createHRUser(fields, actor: "scim", time: time)
    guard let identity else { return user }
    return try await store.linkHRUser(id: user.id, to: identity, actor: "sync", time: time)
}
