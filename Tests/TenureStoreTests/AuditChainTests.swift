import GRDB
import TenureCore
import Testing

@testable import TenureStore

@Suite("Audit chain: append and verify")
struct AuditChainTests {
    @Test func appendReturnsTheSequenceRangeAndChainsRecords() async throws {
        try await withStore { store, _ throws in
            #expect(try await store.appendAudit([]) == nil)
            #expect(try await store.appendAudit((1...3).map { event($0) }) == 1...3)
            #expect(try await store.appendAudit([event(4)]) == 4...4)
            let records = try await store.auditRecords(AuditQuery())
            #expect(records.map(\.sequence) == [1, 2, 3, 4])
            #expect(records.map(\.event) == (1...4).map { event($0) })
            // The chain, recomputed without the store's code.
            var previous = zeroHash
            for record in records {
                #expect(record.previousHash == previous)
                #expect(
                    record.mac == independentMAC(sequence: record.sequence, event: record.event, previousHash: previous)
                )
                previous = record.mac
            }
            #expect(try await store.verifyAudit() == AuditVerification(records: 4))
        }
    }

    @Test func anEmptyLogIsIntact() async throws {
        try await withStore { store, _ throws in
            let verification = try await store.verifyAudit()
            #expect(verification.isIntact)
            #expect(verification.records == 0)
        }
    }

    @Test func awkwardEventsRoundTripAndVerify() async throws {
        try await withStore { store, _ throws in
            let events = [
                AuditEvent(time: 0, actor: "", type: "t", subject: "", object: nil, outcome: "", details: [:]),
                AuditEvent(time: -0.0, actor: "a", type: "t"),
                AuditEvent(time: -1_234.5, actor: "a", type: "t", subject: nil, object: ""),
                AuditEvent(
                    time: 1_764_230_000.123_456_7,
                    actor: "cli:zoë",
                    type: "role.granted",
                    subject: "ユーザー",
                    object: "role\twith\ttabs",
                    details: [
                        "quote\"key": "back\\slash",
                        "newline": "a\nb\r\nc",
                        "control": "\u{01}\u{1f}\u{7f}",
                        "nul in details": "a\u{0}b",
                        "emoji 🧑‍💻": "e\u{301}",  // decomposed é
                        "é": "precomposed key",
                        "slash/": "</script>",
                        "": "empty key",
                    ]
                ),
            ]
            #expect(try await store.appendAudit(events) == 1...4)
            let records = try await store.auditRecords(AuditQuery())
            var expected = events
            expected[1].time = 0  // -0.0 is stored as 0.0 (SQLite cannot tell them apart)
            #expect(records.map(\.event) == expected)
            #expect(records[1].event.time.sign == .plus)
            for record in records {
                #expect(
                    record.mac
                        == independentMAC(
                            sequence: record.sequence,
                            event: record.event,
                            previousHash: record.previousHash
                        )
                )
            }
            #expect(try await store.verifyAudit() == AuditVerification(records: 4))
        }
    }

    @Test func eventsSQLiteCannotStoreFaithfullyAreRefusedAndNothingIsWritten() async throws {
        try await withStore { store, _ throws in
            for bad in [
                AuditEvent(time: .nan, actor: "a", type: "t"),
                AuditEvent(time: .infinity, actor: "a", type: "t"),
                AuditEvent(time: 1, actor: "a\u{0}b", type: "t"),
                AuditEvent(time: 1, actor: "a", type: "t", subject: "x\u{0}"),
            ] {
                let error = await #expect(throws: StoreError.self) { try await store.appendAudit([event(1), bad]) }
                #expect(error?.code == .invalidEvent)
            }
            // The batch is one transaction: the good event before the bad one was rolled back.
            #expect(try await store.auditRecords(AuditQuery()).isEmpty)
            #expect(try await store.appendAudit([event(1)]) == 1...1)
        }
    }

    @Test func concurrentWritersOnTheSameFileChainCorrectly() async throws {
        try await withStore { first, directory throws in
            // A second store on the same file stands for another process.
            let second = try SQLiteStore(path: directory.file("tenure.sqlite"), auditKey: try testKey())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    let store = task % 2 == 0 ? first : second
                    group.addTask {
                        for batch in 0..<10 {
                            _ = try await store.appendAudit((0..<5).map { event(task * 1_000 + batch * 10 + $0) })
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await first.verifyAudit() == AuditVerification(records: 400))
            let records = try await second.auditRecords(AuditQuery())
            #expect(records.map(\.sequence) == Array(1...400))
            // Each batch stays contiguous: a transaction is never interleaved with another.
            for start in stride(from: 0, to: 400, by: 5) {
                let rules = records[start..<start + 5].map { $0.event.details["rule"]! }
                let base = Int(rules[0].dropFirst("rule-".count))!
                #expect(rules == (0..<5).map { "rule-\(base + $0)" })
            }
        }
    }

    @Test func theWrongKeyFailsAtTheFirstRecord() async throws {
        try await withStore { store, directory throws in
            _ = try await store.appendAudit((1...5).map { event($0) })
            try store.close()
            let wrong = try SQLiteStore(path: directory.file("tenure.sqlite"), auditKey: try AuditKey.random())
            let verification = try await wrong.verifyAudit()
            #expect(verification.firstBadSequence == 1)
            #expect(verification.records == 0)
            #expect(verification.problem?.contains("MAC mismatch") == true)
            #expect(!verification.isIntact)
        }
    }

    /// Every commit is synced (a committed record survives a power loss) unless the store is opened
    /// with `durable: false` (`state.durability: normal`). The writer is the connection that
    /// commits: GRDB sets it to NORMAL when it turns WAL on, after the connection's own set-up.
    @Test func commitsAreSyncedUnlessAskedOtherwise() async throws {
        try await withStore { store, directory throws in
            let synchronous = "PRAGMA synchronous"
            #expect(try store.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: synchronous) } == 2)  // FULL
            #expect(try store.pool.read { try Int.fetchOne($0, sql: synchronous) } == 2)
            let normal = try SQLiteStore(path: directory.file("normal.sqlite"), auditKey: try testKey(), durable: false)
            defer { try? normal.close() }
            #expect(try normal.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: synchronous) } == 1)  // NORMAL
            #expect(try normal.pool.read { try Int.fetchOne($0, sql: synchronous) } == 1)
        }
    }

    @Test func triggersRefuseUpdatesAndDeletes() async throws {
        try await withStore { store, directory throws in
            _ = try await store.appendAudit((1...3).map { event($0) })
            let path = directory.file("tenure.sqlite")
            for sql in [
                "UPDATE audit_log SET actor = 'mallory' WHERE sequence = 2",
                "DELETE FROM audit_log WHERE sequence = 3",
                "DELETE FROM audit_log",
                // A replace deletes without firing delete triggers.
                """
                INSERT OR REPLACE INTO audit_log
                SELECT sequence, time, 'mallory', type, subject, object, outcome, details, previousHash, mac
                FROM audit_log WHERE sequence = 2
                """,
            ] {
                let error = #expect(throws: DatabaseError.self) {
                    try withRawDatabase(path) { try $0.execute(sql: sql) }
                }
                #expect(error?.message?.contains("audit_log is append-only") == true)
            }
            #expect(try await store.verifyAudit() == AuditVerification(records: 3))
        }
    }
}

/// Each kind of tampering, done on the file by someone who drops the triggers first.
@Suite("Audit chain: tampering is detected at the right record")
struct AuditTamperingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var sql: String
        var firstBad: Int64
        var problem: String
        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(
            name: "actor modified",
            sql: "UPDATE audit_log SET actor = 'mallory' WHERE sequence = 7",
            firstBad: 7,
            problem: "MAC mismatch"
        ),
        Case(
            name: "time modified by a microsecond",
            sql: "UPDATE audit_log SET time = time + 0.000001 WHERE sequence = 4",
            firstBad: 4,
            problem: "MAC mismatch"
        ),
        Case(
            name: "subject cleared",
            sql: "UPDATE audit_log SET subject = NULL WHERE sequence = 3",
            firstBad: 3,
            problem: "MAC mismatch"
        ),
        Case(
            name: "details value modified",
            sql: #"UPDATE audit_log SET details = replace(details, 'rule-5', 'rule-6') WHERE sequence = 5"#,
            firstBad: 5,
            problem: "MAC mismatch"
        ),
        Case(
            name: "details keys reordered (same pairs)",
            sql:
                #"UPDATE audit_log SET details = '{"rule":"rule-6","reason":"because 6, \"quoted\", comma"}' WHERE sequence = 6"#,
            firstBad: 6,
            problem: "MAC mismatch"
        ),
        Case(
            name: "details made unreadable",
            sql: "UPDATE audit_log SET details = '{\"rule\":' WHERE sequence = 8",
            firstBad: 8,
            problem: "details is not a JSON object"
        ),
        Case(
            name: "a NUL appended to a column (invisible to C-string readers)",
            sql: "UPDATE audit_log SET actor = CAST(actor || char(0) || 'x' AS TEXT) WHERE sequence = 2",
            firstBad: 2,
            problem: "MAC mismatch"
        ),
        Case(
            name: "mac replaced",
            sql: "UPDATE audit_log SET mac = '\(String(repeating: "ab", count: 32))' WHERE sequence = 9",
            firstBad: 9,
            problem: "MAC mismatch"
        ),
        Case(
            name: "a middle record deleted",
            sql: "DELETE FROM audit_log WHERE sequence = 5",
            firstBad: 5,
            problem: "record 5 is missing"
        ),
        Case(
            name: "three records deleted",
            sql: "DELETE FROM audit_log WHERE sequence BETWEEN 4 AND 6",
            firstBad: 4,
            problem: "records 4–6 are missing"
        ),
        Case(
            name: "the first record deleted",
            sql: "DELETE FROM audit_log WHERE sequence = 1",
            firstBad: 1,
            problem: "record 1 is missing"
        ),
        Case(
            name: "a record deleted and the rest renumbered to hide the gap",
            sql: """
                DELETE FROM audit_log WHERE sequence = 5;
                UPDATE audit_log SET sequence = -sequence WHERE sequence > 5;
                UPDATE audit_log SET sequence = -sequence - 1 WHERE sequence < 0;
                """,
            firstBad: 5,
            problem: "previousHash is not the MAC of record 4"
        ),
        Case(
            name: "a forged record inserted in the middle (the rest renumbered)",
            sql: """
                UPDATE audit_log SET sequence = -sequence WHERE sequence >= 6;
                UPDATE audit_log SET sequence = -sequence + 1 WHERE sequence < 0;
                INSERT INTO audit_log (sequence, time, actor, type, subject, object, outcome, details, previousHash, mac)
                SELECT 6, time, 'sync', 'role.granted', 'mallory', 'db-admin', 'success', '{}', mac, mac
                FROM audit_log WHERE sequence = 5;
                """,
            firstBad: 6,
            problem: "MAC mismatch"
        ),
        Case(
            name: "a copy of a genuine record inserted (replayed)",
            sql: """
                UPDATE audit_log SET sequence = -sequence WHERE sequence >= 4;
                UPDATE audit_log SET sequence = -sequence + 1 WHERE sequence < 0;
                INSERT INTO audit_log (sequence, time, actor, type, subject, object, outcome, details, previousHash, mac)
                SELECT 4, time, actor, type, subject, object, outcome, details, previousHash, mac
                FROM audit_log WHERE sequence = 3;
                """,
            firstBad: 4,
            problem: "previousHash is not the MAC of record 3"
        ),
        Case(
            name: "a forged record appended at the end",
            sql: """
                INSERT INTO audit_log (sequence, time, actor, type, subject, object, outcome, details, previousHash, mac)
                SELECT 11, time, 'sync', 'role.revoked', 'mallory', NULL, 'success', '{}', mac,
                       '\(String(repeating: "0", count: 64))'
                FROM audit_log WHERE sequence = 10;
                """,
            firstBad: 11,
            problem: "MAC mismatch"
        ),
        Case(
            name: "two records swapped (contents moved, numbers kept)",
            sql: """
                UPDATE audit_log SET sequence = 0 WHERE sequence = 3;
                UPDATE audit_log SET sequence = 3 WHERE sequence = 4;
                UPDATE audit_log SET sequence = 4 WHERE sequence = 0;
                """,
            firstBad: 3,
            problem: "previousHash is not the MAC of record 2"
        ),
        Case(
            name: "a record inserted before the first",
            sql: """
                INSERT INTO audit_log (sequence, time, actor, type, subject, object, outcome, details, previousHash, mac)
                SELECT 0, time, actor, type, subject, object, outcome, details, previousHash, mac
                FROM audit_log WHERE sequence = 1;
                """,
            firstBad: 0,
            problem: "unexpected record 0"
        ),
        Case(
            name: "a previousHash rewritten",
            sql: "UPDATE audit_log SET previousHash = '\(String(repeating: "0", count: 64))' WHERE sequence = 2",
            firstBad: 2,
            problem: "previousHash is not the MAC of record 1"
        ),
    ]

    @Test(arguments: AuditTamperingTests.cases)
    func tamperingIsReportedAtTheFirstBadSequence(_ tampering: Case) async throws {
        try await withStore { store, directory throws in
            _ = try await store.appendAudit((1...10).map { event($0) })
            #expect(try await store.verifyAudit() == AuditVerification(records: 10))
            try store.close()

            let path = directory.file("tenure.sqlite")
            try withRawDatabase(path) { db in
                try dropAuditTriggers(db)
                try db.execute(sql: tampering.sql)
            }

            let reopened = try SQLiteStore(path: path, auditKey: try testKey())
            let verification = try await reopened.verifyAudit()
            #expect(verification.firstBadSequence == tampering.firstBad)
            #expect(verification.records == max(0, tampering.firstBad - 1))
            #expect(verification.problem?.contains(tampering.problem) == true, "\(verification.problem ?? "nil")")
            #expect(!verification.isIntact)
        }
    }

    @Test func removingTheNewestRecordsIsNotDetectableFromTheLogAlone() async throws {
        // Documented limitation: a shorter chain still verifies; `records` is what an external
        // checkpoint compares against.
        try await withStore { store, directory throws in
            _ = try await store.appendAudit((1...10).map { event($0) })
            try store.close()
            let path = directory.file("tenure.sqlite")
            try withRawDatabase(path) { db in
                try dropAuditTriggers(db)
                try db.execute(sql: "DELETE FROM audit_log WHERE sequence > 8")
            }
            let reopened = try SQLiteStore(path: path, auditKey: try testKey())
            #expect(try await reopened.verifyAudit() == AuditVerification(records: 8))
        }
    }

    /// A newest record whose MAC is no MAC (shortened, say) is not chained to: the append is refused
    /// and nothing is written (and the hex buffers never see a value of the wrong length).
    @Test func anAppendRefusesAHeadWithoutAValidMAC() async throws {
        try await withStore { store, directory throws in
            _ = try await store.appendAudit((1...4).map { event($0) })
            try withRawDatabase(directory.file("tenure.sqlite")) { db in
                try dropAuditTriggers(db)
                try db.execute(sql: "UPDATE audit_log SET mac = 'ab' WHERE sequence = 4")
            }
            let error = await #expect(throws: StoreError.self) {
                try await store.appendAudit([event(5), event(6)])
            }
            #expect(error?.code == .corruptData)
            #expect(error?.description.contains("(4)") == true, "\(String(describing: error))")
            #expect(try await store.auditRecords(AuditQuery()).count == 4)
        }
    }

    @Test func appendsAfterTamperingStillChainToWhatIsStored() async throws {
        // New records chain to the stored MAC; verification keeps reporting the old damage first.
        try await withStore { store, directory throws in
            _ = try await store.appendAudit((1...4).map { event($0) })
            try withRawDatabase(directory.file("tenure.sqlite")) { db in
                try dropAuditTriggers(db)
                try db.execute(sql: "UPDATE audit_log SET outcome = 'failure' WHERE sequence = 2")
            }
            _ = try await store.appendAudit([event(5)])
            let verification = try await store.verifyAudit()
            #expect(verification.firstBadSequence == 2)
        }
    }
}
