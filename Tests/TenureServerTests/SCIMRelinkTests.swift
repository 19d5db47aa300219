import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TenureAccess
import TenureCore
import TenureEngine
import TenureStore
import Testing

@testable import TenureServer

/// Linking after the fact: a linked HR user whose `externalId` or employee number HR changes
/// follows the keys when they name another identity, and stays when they name none; the daemon's
/// pass over pre-hires goes on past one that fails; a stale record is never settled. Over real HTTP, with the SCIM suite's people (ann E100, bob E200, cat E300).
@Suite(.timeLimit(.minutes(3)))
struct SCIMRelinkTests {
    typealias S = SCIMAPITests

    /// The SCIM suite's people, at its fixed time; a short sync-lock wait for the tests that hold it.
    static func harness(syncLockWait: Duration = .seconds(30)) async throws -> Harness {
        try await Harness(mappings: S.mappings, state: S.state, now: { S.now }, syncLockWait: syncLockWait)
    }

    /// POSTs a SCIM User; its id.
    static func create(_ client: any TestClientProtocol, _ body: String) async throws -> String {
        try S.created(try await S.send(client, .post, "/Users", body))
    }

    /// bob, deleted while a command-line sync holds the lock: the DELETE answers 503, the user is
    /// deleted and bob not offboarded yet; `meanwhile` runs before the lock is let go. The user's id.
    static func bobDeletedWhileASyncHoldsTheLock(
        _ harness: Harness,
        _ client: any TestClientProtocol,
        meanwhile: () async throws -> Void = {}
    ) async throws -> String {
        let id = try await Self.create(client, S.oktaCreate("bob@okta.local", externalId: "id-bob"))
        try await harness.whileACLISyncHoldsTheLock {
            _ = try S.scimError(try await S.send(client, .delete, "/Users/\(id)"), 503)
            #expect(try await harness.store.hrUser(id: id) == nil)
            #expect(try await S.assignments(harness, "id-bob").count == 1, "not offboarded yet")
            try await meanwhile()
        }
        return id
    }

    static func setEmployeeNumber(_ client: any TestClientProtocol, _ id: String, _ number: String) async throws
        -> TestResponse
    {
        try await S.send(
            client,
            .patch,
            "/Users/\(id)",
            """
            {"schemas": ["\(S.patchOp)"], "Operations": [
              {"op": "replace", "path": "\(S.enterprise):employeeNumber", "value": "\(number)"}]}
            """
        )
    }

    /// HR had the wrong number on a record with a leaving date: corrected, the link, and the
    /// scheduled offboarding with it, move to the person the number names.
    @Test func aCorrectedEmployeeNumberMovesTheLinkAndItsScheduledOffboarding() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            let id = try await Self.create(
                client,
                S.entraCreate("cat@corp.example", employeeNumber: "E100", terminationDate: "2027-03-31T17:00:00Z")
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-ann")
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.scheduled])

            let corrected = try await Self.setEmployeeNumber(client, id, "E300")
            #expect(corrected.status == .ok)
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-cat")
            // ann no longer leaves on that date; cat does.
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.cancelled])
            let cats = try await harness.store.offboardings(identityID: "id-cat")
            #expect(cats.map(\.state) == [.scheduled])
            #expect(cats.first?.effectiveAt == 1_806_512_400 && cats.first?.requestedBy == "scim:\(id)")
            let linked = try await harness.auditRecords(type: "hr.user.linked").map(\.event)
            #expect(linked.map(\.subject) == ["id-ann", "id-cat"])
            #expect(linked.last?.details["previousIdentity"] == "id-ann")
            let cancelled = try #require(try await harness.auditRecords(type: "offboarding.cancelled").first?.event)
            #expect(cancelled.subject == "id-ann")
            #expect(cancelled.details["reason"] == "HR: user \(id) now names another identity")
            #expect(cancelled.details["identity"] == "id-cat")
            // Both keep their access until their dates.
            #expect(try await S.evaluate(client, "ann", "db-read") == (true, "active_assignment"))
            #expect(try await S.evaluate(client, "cat", "db-read") == (true, "active_assignment"))

            // The same number again (PUT-style resend) moves nothing.
            #expect(try await Self.setEmployeeNumber(client, id, "e300").status == .ok)
            #expect(try await harness.auditRecords(type: "hr.user.linked").count == 2)
        }
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    /// A terminated record moves by `externalId` only: the person it left is no longer HR's leaver
    /// (nothing granted back until a sync), the person it now names is offboarded.
    @Test func aTerminatedRecordMovesByExternalIdAndTheOldOffboardingIsTakenBack() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            let id = try await Self.create(
                client,
                S.oktaCreate("bob@okta.local", externalId: "id-ann", active: false)
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-ann")
            #expect(try await S.evaluate(client, "ann", "db-read") == (false, "identity_inactive"))
            #expect(harness.operations.index.snapshot.hrTerminated["id-ann"] != nil)

            // Okta's PUT with the right externalId.
            let put = try await S.send(
                client,
                .put,
                "/Users/\(id)",
                S.oktaCreate("bob@okta.local", externalId: "id-bob", active: false)
            )
            #expect(put.status == .ok)
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-bob")
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.cancelled])
            #expect(try await harness.store.offboardings(identityID: "id-bob").map(\.state) == [.done])
            #expect(harness.operations.index.snapshot.hrTerminated["id-ann"] == nil)
            #expect(harness.operations.index.snapshot.hrTerminated["id-bob"] != nil)
            #expect(try await S.evaluate(client, "bob", "db-read") == (false, "identity_inactive"))
            #expect(try await S.assignments(harness, "id-bob").isEmpty)
            // ann's part of the index is what a whole reload gives; her revoked roles stay revoked.
            let reloaded = try await ModelLoader.load(store: harness.store, mappings: harness.mappings, now: S.now)
            #expect(harness.operations.index.snapshot == reloaded)
            #expect(try await S.assignments(harness, "id-ann").isEmpty)
        }
        #expect(try await harness.store.verifyAudit().isIntact)
    }

    /// Keys that do not name another identity keep the link: a number no account has, a terminated
    /// record's new number (a number is no proof for a leaver), and a person another HR record
    /// employs (refused, audited).
    @Test func aLinkStaysWhenTheNewKeysDoNotNameSomeoneElseForSure() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            let ann = try await Self.create(
                client,
                S.entraCreate("ann@corp.example", employeeNumber: "E100")
            )
            #expect(try await Self.setEmployeeNumber(client, ann, "E999").status == .ok)
            #expect(try await harness.store.hrUser(id: ann)?.identityID == "id-ann")

            // bob's own open-ended record employs him: ann's record cannot take him over.
            let bob = try await Self.create(
                client,
                S.oktaCreate("bob@okta.local", externalId: "id-bob")
            )
            #expect(try await harness.store.hrUser(id: bob)?.identityID == "id-bob")
            #expect(try await Self.setEmployeeNumber(client, ann, "E200").status == .ok)
            #expect(try await harness.store.hrUser(id: ann)?.identityID == "id-ann")
            let refused = try #require(try await harness.auditRecords(type: "hr.user.link_refused").first?.event)
            #expect(refused.subject == "id-bob" && refused.object == ann && refused.details["employedBy"] == bob)

            // Terminated, then re-numbered to cat's number: stays with ann, cat is untouched.
            #expect(try await S.send(client, .patch, "/Users/\(ann)", S.entraActive("false")).status == .ok)
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.done])
            #expect(try await Self.setEmployeeNumber(client, ann, "E300").status == .ok)
            #expect(try await harness.store.hrUser(id: ann)?.identityID == "id-ann")
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.done])
            #expect(try await harness.store.offboardings(identityID: "id-cat").isEmpty)
            #expect(try await S.evaluate(client, "cat", "db-read") == (true, "active_assignment"))
            #expect(try await harness.auditRecords(type: "hr.user.linked").count == 2)
        }
    }

    /// A move and HR's cancellation of an offboarding take the sync lock, as offboardings do: while
    /// a sync elsewhere holds it past the wait, 503 and no move, no cancellation. Both are decided
    /// from the stored user, so the client's retry of the same request does them.
    @Test func whileASyncHoldsTheLockMovesAndCancellationsAre503UntilRetried() async throws {
        let harness = try await Self.harness(syncLockWait: .milliseconds(200))
        try await harness.run { client in
            let id = try await Self.create(
                client,
                S.entraCreate("cat@corp.example", employeeNumber: "E100", terminationDate: "2027-03-31T17:00:00Z")
            )
            try await harness.whileACLISyncHoldsTheLock {
                let date = try await S.moveTerminationDate(client, id, to: "2027-04-30")
                _ = try S.scimError(date, 503)
                #expect(try await harness.store.offboardings().map(\.state) == [.scheduled])
                #expect(try await harness.auditRecords(type: "offboarding.cancelled").isEmpty)

                let move = try await Self.setEmployeeNumber(client, id, "E300")
                _ = try S.scimError(move, 503)
                #expect(move.headers[.retryAfter] == "30")
                #expect(try await harness.store.hrUser(id: id)?.identityID == "id-ann")
                #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.scheduled])
                #expect(try await harness.store.offboardings(identityID: "id-cat").isEmpty)

            }
            #expect(try await Self.setEmployeeNumber(client, id, "E300").status == .ok)
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-cat")
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.cancelled])
            let cats = try await harness.store.offboardings(identityID: "id-cat")
            #expect(cats.map(\.state) == [.scheduled] && cats.first?.effectiveAt == 1_809_043_200)
        }
    }

    /// A move that will be refused (another HR user employs the target) changes nothing, so it
    /// does not wait for the sync lock: 200 while a sync elsewhere holds it, the refusal audited.
    @Test func aRefusedMoveDoesNotWaitForTheSyncLock() async throws {
        let harness = try await Self.harness(syncLockWait: .milliseconds(200))
        try await harness.run { client in
            let ann = try await Self.create(
                client,
                S.entraCreate("ann@corp.example", employeeNumber: "E100")
            )
            let bob = try await Self.create(
                client,
                S.oktaCreate("bob@okta.local", externalId: "id-bob")
            )
            try await harness.whileACLISyncHoldsTheLock {
                #expect(try await Self.setEmployeeNumber(client, ann, "E200").status == .ok)
                #expect(try await harness.store.hrUser(id: ann)?.identityID == "id-ann")
                let refused = try #require(try await harness.auditRecords(type: "hr.user.link_refused").first?.event)
                #expect(refused.subject == "id-bob" && refused.details["employedBy"] == bob)
            }
        }
    }

    /// A DELETE reads, deletes and settles in one turn with HR's other changes: a move that lands
    /// while it waits for its turn is what it settles — the identity the user left is not
    /// offboarded.
    @Test func aDeleteSettlesTheUserAsItIsWhenItsTurnComes() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            let id = try await Self.create(
                client,
                S.entraCreate("cat@corp.example", employeeNumber: "E100")
            )
            #expect(try await harness.store.hrUser(id: id)?.identityID == "id-ann")
            let gate = AsyncStream<Void>.makeStream()
            let entered = AsyncStream<Void>.makeStream()
            let turn = Task {
                await harness.operations.employment.exclusive {
                    entered.continuation.yield()
                    for await _ in gate.stream { break }
                }
            }
            for await _ in entered.stream { break }
            let delete = Task { try await S.send(client, .delete, "/Users/\(id)") }
            try await Task.sleep(for: .milliseconds(200))
            // Meanwhile the user moved to cat (as a PATCH's relink would, in its own turn). (The
            // turn is given back whatever happens: a DELETE waiting for it must not hang the test.)
            let moved: Result<HRUserRecord?, any Error>
            do {
                moved = .success(
                    try await harness.store.linkHRUserIfNotEmployedElsewhere(
                        id: id,
                        to: "id-cat",
                        ifLinkedTo: "id-ann",
                        actor: "scim:test",
                        time: S.now
                    )
                )
            } catch {
                moved = .failure(error)
            }
            gate.continuation.yield()
            #expect(try moved.get()?.identityID == "id-cat", "the user was still there to move")
            await turn.value
            #expect(try await delete.value.status == .noContent)
            #expect(try await harness.store.offboardings(identityID: "id-ann").isEmpty)
            #expect(try await harness.store.offboardings(identityID: "id-cat").map(\.state) == [.done])
            #expect(try await S.evaluate(client, "ann", "db-read") == (true, "active_assignment"))
        }
    }

    /// A DELETE whose settling could not get the sync lock answers 503 with the user already
    /// deleted; the client's retry gets 404, and the termination is settled then — not left to
    /// the next sync.
    @Test func aRetriedDeleteSettlesWhatTheFirstCouldNot() async throws {
        let harness = try await Self.harness(syncLockWait: .milliseconds(200))
        try await harness.run { client in
            let id = try await Self.bobDeletedWhileASyncHoldsTheLock(harness, client)

            _ = try S.scimError(try await S.send(client, .delete, "/Users/\(id)"), 404)
            #expect(try await S.assignments(harness, "id-bob").isEmpty)
            #expect(try await harness.store.offboardings(identityID: "id-bob").map(\.state) == [.done])
            // Again: settled once.
            _ = try S.scimError(try await S.send(client, .delete, "/Users/\(id)"), 404)
            #expect(try await harness.store.offboardings(identityID: "id-bob").count == 1)
            // A user that never existed is a plain 404.
            _ = try S.scimError(try await S.send(client, .delete, "/Users/no-such-user"), 404)
        }
    }

    /// A DELETE settled once is never settled again: here its settling found the identity employed
    /// under another HR record, which ended since (offboarding the identity itself). A client that
    /// sends the DELETE again (it lost the first answer) gets 404 and changes nothing — before, it
    /// ran the leaver plan a second time and audited a termination that did not happen.
    @Test func aDeleteSettledOnceIsNotSettledAgainWhenRetried() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            // ann on a fixed-term contract, and again under a new, open-ended record.
            let contract = try await Self.create(
                client,
                S.entraCreate("ann.contract@corp.example", employeeNumber: "E100", terminationDate: "2027-06-30")
            )
            let rehire = try await Self.create(
                client,
                S.oktaCreate("ann@okta.local", externalId: "id-ann")
            )
            #expect(try await harness.store.hrUser(id: contract)?.identityID == "id-ann")
            #expect(try await harness.store.hrUser(id: rehire)?.identityID == "id-ann")

            #expect(try await S.send(client, .delete, "/Users/\(contract)").status == .noContent)
            #expect(try await S.evaluate(client, "ann", "db-read") == (true, "active_assignment"), "still employed")
            #expect(try await S.send(client, .patch, "/Users/\(rehire)", S.entraActive("false")).status == .ok)
            // The contract's scheduled end was taken back by the rehire; the rehire's end is done.
            func offboardings() async throws -> [String] {
                try await harness.store.offboardings(identityID: "id-ann").map { "\($0.requestedBy) \($0.state)" }
                    .sorted()
            }
            let ended = ["scim:\(contract) cancelled", "scim:\(rehire) done"].sorted()
            let afterRehireEnded = try await offboardings()
            #expect(afterRehireEnded == ended, "\(afterRehireEnded)")

            _ = try S.scimError(try await S.send(client, .delete, "/Users/\(contract)"), 404)
            let afterRetry = try await offboardings()
            #expect(afterRetry == ended, "\(afterRetry)")
            let terminations = try await harness.auditRecords(type: "hr.termination").map(\.event)
            #expect(terminations.map(\.object) == [contract, rehire], "\(terminations)")
        }
    }

    /// A DELETE whose settling answered 503 is settled by the daemon's sweep, without waiting for
    /// the client's retry (a provisioning client may give up); the retry then changes nothing.
    @Test func theSweepSettlesADeletionItsClientDoesNotRetry() async throws {
        let harness = try await Self.harness(syncLockWait: .milliseconds(200))
        try await harness.run { client in
            let id = try await Self.bobDeletedWhileASyncHoldsTheLock(harness, client) {
                let settled = try await harness.operations.settlePendingDeletions()
                #expect(settled == 0, "not while a sync holds the lock")
            }
            #expect(try await S.assignments(harness, "id-bob").count == 1, "not offboarded yet")
            #expect(try await harness.operations.settlePendingDeletions() == 1)
            #expect(try await S.assignments(harness, "id-bob").isEmpty)
            #expect(try await harness.store.offboardings(identityID: "id-bob").map(\.state) == [.done])
            let termination = try #require(try await harness.auditRecords(type: "hr.termination").first?.event)
            #expect(termination.actor == "tenure:hr-settle" && termination.object == id)
            #expect(try await harness.operations.settlePendingDeletions() == 0)
            _ = try S.scimError(try await S.send(client, .delete, "/Users/\(id)"), 404)
            #expect(try await harness.store.offboardings(identityID: "id-bob").count == 1)
            #expect(try await harness.auditRecords(type: "hr.termination").count == 1)
        }
    }

    /// While a command-line sync holds the lock, the sweep stops at the first deletion that waited
    /// for it: the sweeper's other work is not held up once per pending deletion.
    @Test func theSweepWaitsForTheSyncLockOncePerPass() async throws {
        let harness = try await Self.harness(syncLockWait: .milliseconds(500))
        try await harness.run { client in
            let ids = [
                try await Self.create(client, S.oktaCreate("ann@okta.local", externalId: "id-ann")),
                try await Self.create(client, S.oktaCreate("bob@okta.local", externalId: "id-bob")),
                try await Self.create(client, S.oktaCreate("cat@okta.local", externalId: "id-cat")),
            ]
            try await harness.whileACLISyncHoldsTheLock {
                for id in ids { _ = try S.scimError(try await S.send(client, .delete, "/Users/\(id)"), 503) }
                let started = ContinuousClock.now
                let settled = try await harness.operations.settlePendingDeletions()
                let waited = ContinuousClock.now - started
                #expect(settled == 0)
                // One wait of 0.5 s, not three.
                #expect(waited < .milliseconds(1_200), "\(waited)")
            }
            #expect(try await harness.operations.settlePendingDeletions() == 3)
        }
    }

    @Test func aDeletionThatFailsToSettleIsTriedAgainLater() {
        let backoff = RetryBackoff()
        #expect(backoff.isDue("hr-1", now: 1_000))
        #expect(backoff.failed("hr-1", now: 1_000) == 15)
        #expect(!backoff.isDue("hr-1", now: 1_014) && backoff.isDue("hr-1", now: 1_015))
        #expect(backoff.failed("hr-1", now: 1_015) == 30)
        for _ in 0..<10 { _ = backoff.failed("hr-1", now: 2_000) }
        #expect(backoff.failed("hr-1", now: 2_000) == 3_600, "at most an hour")
        #expect(backoff.isDue("hr-2", now: 2_000), "one deletion's failures hold up no other")
        backoff.succeeded("hr-1")
        #expect(backoff.isDue("hr-1", now: 2_000))
    }

    /// An HR termination takes the sync lock once, before anything: while a sync elsewhere holds
    /// it, 503 with nothing audited; the retry audits and carries out the termination once.
    @Test func aTerminationWaitingForTheSyncLockAuditsNothingUntilItRuns() async throws {
        let harness = try await Self.harness(syncLockWait: .milliseconds(200))
        try await harness.run { client in
            let id = try await Self.create(
                client,
                S.entraCreate("ann@corp.example", employeeNumber: "E100")
            )
            try await harness.whileACLISyncHoldsTheLock {
                _ = try S.scimError(try await S.send(client, .patch, "/Users/\(id)", S.entraActive("false")), 503)
                #expect(try await harness.auditRecords(type: "hr.termination").isEmpty)
                #expect(try await S.evaluate(client, "ann", "db-read") == (true, "active_assignment"))
            }
            #expect(try await S.send(client, .patch, "/Users/\(id)", S.entraActive("false")).status == .ok)
            #expect(try await harness.auditRecords(type: "hr.termination").count == 1)
            #expect(try await harness.store.offboardings(identityID: "id-ann").map(\.state) == [.done])
            #expect(try await S.evaluate(client, "ann", "db-read") == (false, "identity_inactive"))
        }
    }

    /// The daemon's pass over pre-hires: one that cannot be linked (here a trigger refuses its
    /// row) is logged and left for the next pass; the others are linked.
    @Test func onePendingUserThatFailsDoesNotStopTheOthers() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            var ids: [String] = []
            for (name, number) in [("dan", "E900"), ("eve", "E901"), ("fay", "E902")] {
                ids.append(
                    try await Self.create(
                        client,
                        S.entraCreate("\(name)@corp.example", employeeNumber: number)
                    )
                )
            }
            try await harness.store.seed(
                PIMState(identities: [
                    "id-dan": S.employee("id-dan", "dan", number: "E900"),
                    "id-eve": S.employee("id-eve", "eve", number: "E901"),
                    "id-fay": S.employee("id-fay", "fay", number: "E902"),
                ])
            )
            try await harness.operations.reloadIndex()
            let eve = ids[1]
            let database = try DatabaseQueue(path: harness.directory + "/t.sqlite")
            try await database.write { db in
                try db.execute(
                    sql: """
                        CREATE TRIGGER refuse_eve BEFORE UPDATE OF identityID ON hr_user WHEN NEW.id = '\(eve)'
                        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                        """
                )
            }
            #expect(try await harness.operations.linkPendingHRUsers() == 2)
            #expect(try await harness.store.hrUser(id: ids[0])?.identityID == "id-dan")
            #expect(try await harness.store.hrUser(id: ids[1])?.identityID == nil)
            #expect(try await harness.store.hrUser(id: ids[2])?.identityID == "id-fay")

            try await database.write { db in try db.execute(sql: "DROP TRIGGER refuse_eve") }
            #expect(try await harness.operations.linkPendingHRUsers() == 1)
            #expect(try await harness.store.hrUser(id: ids[1])?.identityID == "id-eve")
        }
    }

    /// Settling reads the user again when its turn comes: a request that read the user before
    /// another request changed it does not act on what it read. Here an "employed again" read
    /// before HR's deactivation would take the offboarding back.
    @Test func aStaleRecordIsNotSettled() async throws {
        let harness = try await Self.harness()
        try await harness.run { client in
            let id = try await Self.create(
                client,
                S.entraCreate("ann@corp.example", employeeNumber: "E100")
            )
            var stale = try #require(try await harness.store.hrUser(id: id))
            #expect(try await S.send(client, .patch, "/Users/\(id)", S.entraActive("false")).status == .ok)
            #expect(try await harness.store.offboardings().map(\.state) == [.done])

            stale.active = true
            try await harness.operations.settleEmployment(of: stale, deleted: false, actor: "scim:test", requestID: nil)
            #expect(try await harness.store.offboardings().map(\.state) == [.done])
            #expect(try await harness.auditRecords(type: "offboarding.cancelled").isEmpty)
            #expect(try await S.evaluate(client, "ann", "db-read") == (false, "identity_inactive"))
        }
    }
}
