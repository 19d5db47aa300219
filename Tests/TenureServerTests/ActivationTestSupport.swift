import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Synchronization
import TenureCore
import TenureCrypto
import TenureEngine
import TenureStore
import TenureVault
import Testing

/// A clock the tests move by hand.
final class ActivationClock: Sendable {
    private let time: Mutex<Double>

    init(_ start: Double) {
        self.time = Mutex(start)
    }

    func now() -> Double { self.time.withLock { $0 } }

    func advance(_ seconds: Double) { self.time.withLock { $0 += seconds } }
}

/// A write-back executor that records every write (and fails them all when `failing`).
final class RecordingWriteBack: WriteBackExecutor {
    struct Call: Hashable, Sendable {
        var group: String
        var member: String
        var add: Bool
    }

    struct Unreachable: Error, CustomStringConvertible {
        var description: String { "the directory is unreachable" }
    }

    private let recorded = Mutex<[Call]>([])
    let failing: Bool

    init(failing: Bool = false) {
        self.failing = failing
    }

    var calls: [Call] { self.recorded.withLock { $0 } }

    func write(group: String, member: String, username: String?, add: Bool) async throws -> WriteBackOutcome {
        self.recorded.withLock { $0.append(Call(group: group, member: member, add: add)) }
        if self.failing { throw Unreachable() }
        return .changed
    }
}

/// Requests against the activation endpoints.
struct ActivationClient {
    let client: any TestClientProtocol

    func post(_ uri: String, _ token: String?, _ json: String = "") async throws -> TestResponse {
        try await self.client.execute(uri: uri, method: .post, headers: Harness.headers(token), body: body(json))
    }

    func get(_ uri: String, _ token: String?) async throws -> TestResponse {
        try await self.client.execute(uri: uri, method: .get, headers: Harness.headers(token, json: false))
    }

    func delete(_ uri: String, _ token: String?) async throws -> TestResponse {
        try await self.client.execute(uri: uri, method: .delete, headers: Harness.headers(token, json: false))
    }

    /// `POST /v1/activations` with the given fields (a JSON object's members).
    func activate(_ token: String, _ members: String) async throws -> TestResponse {
        try await self.post("/v1/activations", token, "{\(members)}")
    }

    /// Whether the gateway is allowed to let `subject` assume `role` now.
    func permits(_ subject: String, _ role: String) async throws -> Bool {
        let response = try await self.post(
            "/access/v1/evaluation",
            "gateway",
            """
            {"subject": {"type": "user", "id": "\(subject)"}, "resource": {"type": "role", "id": "\(role)"},
             "action": {"name": "assume"}}
            """
        )
        #expect(response.status == .ok)
        return try object(response)["decision"] as? Bool ?? false
    }
}

/// A problem's `type` slug and `code` member.
func problem(_ response: TestResponse) throws -> (slug: String, code: String?) {
    let json = try object(response)
    let type = json["type"] as? String ?? ""
    return (String(type.split(separator: "/").last ?? ""), json["code"] as? String)
}

/// Enrols an identity for TOTP as `tenure mfa enroll` does (the seed sealed under the harness's
/// master key); the seed, for the test to make codes with.
func enrollTOTP(_ harness: Harness, identityID: String, at time: Double) async throws -> [UInt8] {
    let seed = try TOTP.generateSecret()
    let sealed = try Envelope.seal(seed, credential: "mfa:\(identityID)", version: 1, masterKey: harness.masterKey)
    let text = String(decoding: try JSONEncoder().encode(sealed), as: UTF8.self)
    try await harness.store.enrollMFA(identityID: identityID, sealedSeed: text, at: time, audit: [])
    return seed
}

/// Makes the harness's store refuse `operation` (INSERT, UPDATE or DELETE) on `table`, as a full
/// disk would, for tests of what happens when a write fails.
func refuseWrites(_ operation: String, on table: String, in harness: Harness) async throws {
    let queue = try DatabaseQueue(path: harness.directory + "/t.sqlite")
    try await queue.write { db in
        try db.execute(
            sql: """
                CREATE TRIGGER refuse_\(operation.lowercased())_\(table) BEFORE \(operation) ON \(table)
                BEGIN SELECT RAISE(ABORT, 'disk full'); END
                """
        )
    }
    try queue.close()
}
