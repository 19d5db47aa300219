import DirectorySource
import Foundation
import LDAPClient
import Logging
import SlapdFixture
import Synchronization
import TenureConfig
import TenureCore
import TenureEngine
import TenureStore
import Testing

/// The write-back executor against a real slapd: a write the server refuses is audited as a failure
/// and changes nothing in Tenure's record of its own writes, so the next sync writes it again; a
/// write-back group outside the group bases is read anyway; the last member of a groupOfNames
/// needs the placeholder.
@Suite(.timeLimit(.minutes(5)))
struct WriteBackEngineTests {
    static let suffix = "dc=tenure,dc=test"
    static let group = "cn=ops-root,ou=privileged,ou=groups,\(suffix)"
    static let placeholder = "cn=nobody,\(suffix)"
    static let data = """
        dn: uid=ann,ou=people,\(suffix)
        objectClass: inetOrgPerson
        uid: ann
        cn: Ann
        sn: A
        title: Operator

        dn: ou=privileged,ou=groups,\(suffix)
        objectClass: organizationalUnit
        ou: privileged

        dn: \(group)
        objectClass: groupOfNames
        cn: ops-root
        member: \(placeholder)

        """

    static let mappings = Mappings(
        roles: [RoleDefinition(name: "ops-root", tier: 1, mode: .standing, writeBackGroup: group, drift: .revert)],
        rules: [
            Rule(
                name: "operators",
                when: .attributeEquals(attribute: "title", value: "Operator"),
                grant: "ops-root",
                mode: .standing
            )
        ],
        guardSettings: LeaverGuard(maxLeavers: 10, maxLeaverPercent: 100)
    )

    struct World {
        let server: SlapdServer
        let store: SQLiteStore
        let logger: Logger
        let directory: URL

        init(server: SlapdServer) throws {
            self.server = server
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tenure-writeback-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            self.store = try SQLiteStore(
                path: self.directory.appendingPathComponent("t.sqlite").path,
                auditKey: AuditKey.random()
            )
            var logger = Logger(label: "tenure.tests")
            logger.logLevel = .critical
            self.logger = logger
        }

        /// Users under ou=people; groups only under ou=nowhere-else: the write-back group is outside.
        func pull(requiredGroups: [String]) async throws -> PullResult {
            let configuration = TenureConfiguration(
                ldap: LDAPSettings(
                    urls: [self.server.url],
                    bindDN: self.server.readerDN,
                    password: .file(self.server.readerPasswordFile)
                ),
                users: UserSettings(baseDNs: ["ou=people,\(WriteBackEngineTests.suffix)"]),
                groups: GroupSettings(baseDNs: ["ou=services,\(WriteBackEngineTests.suffix)"])
            )
            let reader = DirectoryReader(
                configuration: configuration,
                password: LDAPSecret(self.server.readerPassword),
                logger: self.logger,
                requiredGroups: requiredGroups
            )
            return try await reader.pull(now: 0)
        }

        func engine(writerDN: String, password: String, placeholder: String?) -> SyncEngine {
            SyncEngine(
                mappings: WriteBackEngineTests.mappings,
                store: self.store,
                logger: self.logger,
                actor: "sync",
                writeBack: LDAPWriteBack(
                    options: LDAPConnectionOptions(
                        urls: [self.server.url],
                        bind: .simple(dn: writerDN, password: LDAPSecret(password))
                    ),
                    memberAttribute: "member",
                    placeholder: placeholder,
                    logger: self.logger
                ),
                writeBackPlaceholder: placeholder
            )
        }

        /// The write-back executor bound as the writer account.
        func writer(
            otherMemberAttributes: [String] = [],
            usernameAttributes: [String] = [],
            placeholder: String? = nil
        ) throws -> LDAPWriteBack {
            LDAPWriteBack(
                options: LDAPConnectionOptions(
                    urls: [self.server.url],
                    bind: .simple(dn: self.server.writerDN, password: LDAPSecret(try self.writerPassword))
                ),
                memberAttribute: "member",
                otherMemberAttributes: otherMemberAttributes,
                usernameAttributes: usernameAttributes,
                placeholder: placeholder,
                logger: self.logger
            )
        }

        var writerPassword: String {
            get throws {
                try String(contentsOfFile: self.server.writerPasswordFile, encoding: .utf8)
                    .trimmingCharacters(in: .newlines)
            }
        }

        /// The group's member values, lowercased and sorted (ldapsearch as the reader).
        func members() throws -> [String] {
            let output = try run(
                "/usr/bin/ldapsearch",
                [
                    "-x", "-H", self.server.url, "-D", self.server.readerDN, "-y", self.server.readerPasswordFile,
                    "-b", WriteBackEngineTests.group, "-s", "base", "-LLL", "-o", "ldif-wrap=no", "member",
                ]
            )
            #expect(output.status == 0, "\(output)")
            return output.stdout.split(separator: "\n").compactMap { line in
                line.hasPrefix("member: ") ? line.dropFirst("member: ".count).lowercased() : nil
            }.sorted()
        }

        func audit(_ type: String) async throws -> [AuditRecord] {
            try await self.store.auditRecords(
                AuditQuery(afterSequence: nil, since: nil, until: nil, subject: nil, limit: nil, newestFirst: false)
            ).filter { $0.event.type == type }
        }
    }

    @Test func aRefusedWriteIsAuditedAndWrittenAgainByTheNextSync() async throws {
        try await withSlapd(data: Self.data) { server in
            let world = try World(server: server)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            let ann = "uid=ann,ou=people,\(Self.suffix)"

            // The reader may not write: the server refuses, the sync goes on, the failure is audited.
            let refused = world.engine(
                writerDN: server.readerDN,
                password: server.readerPassword,
                placeholder: Self.placeholder
            )
            let first = try await refused.sync(
                allowMassRevoke: false,
                now: { 1_000 },
                pull: { try await world.pull(requiredGroups: refused.writeBackGroups) }
            )
            #expect(first.plan.summary.grants == 1)
            let failed = try await world.audit("writeback.add")
            #expect(failed.map(\.event.outcome) == ["failure"])
            #expect(failed.first?.event.details["result"]?.contains("insufficientAccessRights") == true)
            #expect(try world.members() == [Self.placeholder])
            var state = try await world.store.loadState()
            #expect(state.assignments.count == 1, "the grant stands: the group is Tenure's output")
            #expect(state.writeBackMembers.isEmpty, "nothing recorded as written")

            // The next sync, with the writer, plans the write again and makes it.
            let writer = world.engine(
                writerDN: server.writerDN,
                password: try world.writerPassword,
                placeholder: Self.placeholder
            )
            let second = try await writer.sync(
                allowMassRevoke: false,
                now: { 2_000 },
                pull: { try await world.pull(requiredGroups: writer.writeBackGroups) }
            )
            #expect(second.plan.summary.writeBacks == 1)
            #expect(try world.members() == [ann])  // the placeholder left with the first member
            state = try await world.store.loadState()
            #expect(state.writeBackMembers.map(\.member) == [ann])

            // Nothing more to do: Tenure's write is neither drift nor a mover.
            let third = try await writer.sync(
                allowMassRevoke: false,
                now: { 3_000 },
                pull: { try await world.pull(requiredGroups: writer.writeBackGroups) }
            )
            #expect(third.plan.identities.isEmpty)
            #expect(third.plan.drift.isEmpty)

            // Without a placeholder the last member cannot leave a groupOfNames: audited, retried.
            try server.modify(
                """
                dn: \(ann)
                changetype: modify
                replace: title
                title: Developer

                """
            )
            let strict = world.engine(writerDN: server.writerDN, password: try world.writerPassword, placeholder: nil)
            _ = try await strict.sync(
                allowMassRevoke: false,
                now: { 4_000 },
                pull: { try await world.pull(requiredGroups: strict.writeBackGroups) }
            )
            let removals = try await world.audit("writeback.remove")
            #expect(removals.map(\.event.outcome) == ["failure"])
            #expect(removals.first?.event.details["result"]?.contains("objectClassViolation") == true)
            #expect(try world.members() == [ann])
            let retried = try await writer.sync(
                allowMassRevoke: false,
                now: { 5_000 },
                pull: { try await world.pull(requiredGroups: writer.writeBackGroups) }
            )
            #expect(retried.plan.summary.writeBacks == 1)
            #expect(try world.members() == [Self.placeholder])
            #expect(try await world.store.loadState().writeBackMembers.isEmpty)
            #expect(try await world.store.verifyAudit().isIntact)
        }
    }

    @Test func aMissingWriteBackGroupIsReportedAndTheRestOfTheSyncGoesOn() async throws {
        try await withSlapd(data: Self.data) { server in
            let world = try World(server: server)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            var mappings = Self.mappings
            mappings.roles[0].writeBackGroup = "cn=not-there,ou=privileged,ou=groups,\(Self.suffix)"
            var engine = world.engine(writerDN: server.writerDN, password: try world.writerPassword, placeholder: nil)
            engine.mappings = mappings
            let report = try await engine.sync(
                allowMassRevoke: false,
                now: { 1_000 },
                pull: { try await world.pull(requiredGroups: engine.writeBackGroups) }
            )
            #expect(report.plan.summary.grants == 1)
            #expect(report.plan.drift.map(\.kind) == [.missingGroup])
            #expect(try await world.audit("writeback.add").isEmpty)
            #expect(try await world.audit("drift.detected").count == 1)
        }
    }

    @Test func aRemovalReachesAMemberListedAsUniqueMember() async throws {
        let unique = "cn=ops-unique,ou=privileged,ou=groups,\(Self.suffix)"
        let data =
            Self.data + """

                dn: \(unique)
                objectClass: groupOfUniqueNames
                cn: ops-unique
                uniqueMember: uid=ann,ou=people,\(Self.suffix)
                uniqueMember: \(Self.placeholder)

                """
        try await withSlapd(data: data) { server in
            let world = try World(server: server)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            // Nobody holds the role; ann was put in by hand; the policy is revert.
            var engine = world.engine(
                writerDN: server.writerDN,
                password: try world.writerPassword,
                placeholder: Self.placeholder
            )
            engine.mappings = Mappings(
                roles: [
                    RoleDefinition(name: "ops-unique", tier: 1, mode: .standing, writeBackGroup: unique, drift: .revert)
                ]
            )
            engine.writeBack = try world.writer(otherMemberAttributes: ["member", "uniqueMember"])
            let report = try await engine.sync(
                allowMassRevoke: false,
                now: { 1_000 },
                pull: { try await world.pull(requiredGroups: engine.writeBackGroups) }
            )
            #expect(report.plan.drift.map(\.resolution) == [.removed])
            let removals = try await world.audit("writeback.remove")
            #expect(removals.map(\.event.outcome) == ["success"])
            #expect(removals.first?.event.details["result"] == "removed")
            let output = try run(
                "/usr/bin/ldapsearch",
                [
                    "-x", "-H", server.url, "-D", server.readerDN, "-y", server.readerPasswordFile, "-b", unique, "-s",
                    "base", "-LLL", "uniqueMember",
                ]
            )
            #expect(!output.stdout.contains("uid=ann"), "\(output.stdout)")
        }
    }

    /// A member listed by username (`memberUid`, which the reader counts) is taken out by username,
    /// whatever the case of the value (the server compares `memberUid` case-exactly): a drift
    /// revert that left it there would report "removed" while the person keeps the group's access.
    @Test func aDriftRevertRemovesAMemberListedByUsername() async throws {
        let posix = "cn=ops-posix,ou=privileged,ou=groups,\(Self.suffix)"
        let data =
            Self.data + """

                dn: uid=mallory,ou=people,\(Self.suffix)
                objectClass: inetOrgPerson
                uid: mallory
                cn: Mallory
                sn: M

                dn: \(posix)
                objectClass: posixGroup
                cn: ops-posix
                gidNumber: 5001
                memberUid: Mallory
                memberUid: ghost

                """
        try await withSlapd(data: data) { server in
            let world = try World(server: server)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            var engine = world.engine(writerDN: server.writerDN, password: try world.writerPassword, placeholder: nil)
            engine.mappings = Mappings(
                roles: [
                    RoleDefinition(name: "ops-posix", tier: 1, mode: .standing, writeBackGroup: posix, drift: .revert)
                ]
            )
            engine.writeBack = try world.writer(
                otherMemberAttributes: ["uniqueMember"],
                usernameAttributes: ["memberUid"]
            )
            func memberUids() throws -> [String] {
                let output = try run(
                    "/usr/bin/ldapsearch",
                    [
                        "-x", "-H", server.url, "-D", server.readerDN, "-y", server.readerPasswordFile, "-b", posix,
                        "-s", "base", "-LLL", "memberUid",
                    ]
                )
                #expect(output.status == 0, "\(output)")
                return output.stdout.split(separator: "\n").filter { $0.hasPrefix("memberUid: ") }.map(String.init)
            }
            #expect(try memberUids().count == 2)
            let report = try await engine.sync(
                allowMassRevoke: false,
                now: { 1_000 },
                pull: { try await world.pull(requiredGroups: engine.writeBackGroups) }
            )
            // mallory (an identity, listed as "Mallory") and ghost (no identity) are both drift.
            #expect(report.plan.drift.map(\.resolution) == [.removed, .removed])
            let removals = try await world.audit("writeback.remove")
            #expect(removals.map(\.event.outcome) == ["success", "success"])
            #expect(removals.map { $0.event.details["result"] } == ["removed", "removed"])
            #expect(try memberUids() == [])
            // Nothing is left for the next run.
            let again = try await engine.sync(
                allowMassRevoke: false,
                now: { 2_000 },
                pull: { try await world.pull(requiredGroups: engine.writeBackGroups) }
            )
            #expect(again.plan.drift.isEmpty)
        }
    }

    /// A value that is no DN (a `memberUid` naming nobody) cannot be removed without a username
    /// attribute to look in: a failure, not "already gone". With one, a repeated removal is
    /// idempotent.
    @Test func aUsernameValueTheWriterCannotFindIsAFailure() async throws {
        let posix = "cn=ops-posix,ou=privileged,ou=groups,\(Self.suffix)"
        let data =
            Self.data + """

                dn: \(posix)
                objectClass: posixGroup
                cn: ops-posix
                gidNumber: 5001
                memberUid: ghost

                """
        try await withSlapd(data: data) { server in
            let world = try World(server: server)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            let blind = try world.writer()
            await #expect(throws: LDAPError.self) {
                try await blind.write(group: posix, member: "ghost", username: nil, add: false)
            }
            await blind.close()
            let seeing = try world.writer(usernameAttributes: ["memberUid"])
            #expect(try await seeing.write(group: posix, member: "GHOST", username: nil, add: false) == .changed)
            // Repeated (a resumed plan): already gone, not a failure.
            #expect(try await seeing.write(group: posix, member: "ghost", username: nil, add: false) == .alreadyInPlace)
            await seeing.close()
        }
    }

    /// Which username the engine hands the executor: a holder who leaves the group is taken out by
    /// username too; a renamed holder, who stays, is not (only the old DN goes).
    @Test func aRenamedHolderKeepsItsUsernameMembership() async throws {
        let data =
            Self.data + """

                dn: ou=ops,ou=people,\(Self.suffix)
                objectClass: organizationalUnit
                ou: ops

                """
        try await withSlapd(data: data) { server in
            let world = try World(server: server)
            defer { try? FileManager.default.removeItem(at: world.directory) }
            let recorder = RecordingExecutor(
                inner: try world.writer(usernameAttributes: ["memberUid"], placeholder: Self.placeholder)
            )
            var engine = world.engine(
                writerDN: server.writerDN,
                password: try world.writerPassword,
                placeholder: Self.placeholder
            )
            engine.writeBack = recorder
            func sync(_ time: Double) async throws {
                _ = try await engine.sync(
                    allowMassRevoke: false,
                    now: { time },
                    pull: { try await world.pull(requiredGroups: engine.writeBackGroups) }
                )
            }
            let before = "uid=ann,ou=people,\(Self.suffix)"
            let after = "uid=ann,ou=ops,ou=people,\(Self.suffix)"
            try await sync(1_000)
            #expect(recorder.calls == [.init(member: before, username: nil, add: true)])

            // Moved. This slapd's refint overlay rewrites the member value; the old DN is put back,
            // as a directory without referential integrity would have left it.
            try server.modify(
                """
                dn: \(before)
                changetype: modrdn
                newrdn: uid=ann
                deleteoldrdn: 1
                newsuperior: ou=ops,ou=people,\(Self.suffix)

                dn: \(Self.group)
                changetype: modify
                add: member
                member: \(before)

                """
            )
            try await sync(2_000)
            #expect(
                Set(recorder.calls.dropFirst())
                    == [
                        .init(member: before, username: nil, add: false),
                        .init(member: after, username: nil, add: true),
                    ]
            )

            // The holding ends: out by DN and by username.
            try server.modify(
                """
                dn: \(after)
                changetype: modify
                replace: title
                title: Developer

                """
            )
            try await sync(3_000)
            #expect(recorder.calls.last == .init(member: after, username: "ann", add: false))
            #expect(try world.members() == [Self.placeholder])
        }
    }
}

/// Forwards to a real executor and records what the engine asked for.
final class RecordingExecutor: WriteBackExecutor {
    struct Call: Hashable, Sendable {
        var member: String
        var username: String?
        var add: Bool
    }

    let inner: LDAPWriteBack
    private let recorded = Mutex<[Call]>([])

    init(inner: LDAPWriteBack) {
        self.inner = inner
    }

    var calls: [Call] { self.recorded.withLock { $0 } }

    func write(group: String, member: String, username: String?, add: Bool) async throws -> WriteBackOutcome {
        self.recorded.withLock { $0.append(Call(member: member, username: username, add: add)) }
        return try await self.inner.write(group: group, member: member, username: username, add: add)
    }
}
