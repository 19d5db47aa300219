import Foundation
import SlapdFixture
import TenureCore
import TenureStore
import Testing

/// `tenure offboard` through the binary, against slapd: now, later, and refusals.
@Suite(.timeLimit(.minutes(5)))
struct OffboardCommandTests {
    @Test func offboardsNowSchedulesLaterAndRefusesTheUnknown() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                #expect(try world.tenure(["sync"]).status == 0)

                let now = try world.tenure(["offboard", "rpatel", "--reason", "resigned"])
                #expect(now.status == 0, "\(now)")
                #expect(now.stdout.contains("rpatel terminated"))
                #expect(now.stdout.contains("- revoke active db-read"))
                // The next sync keeps her a leaver although the directory still shows her.
                let sync = try world.tenure(["sync"])
                #expect(sync.status == 0, "\(sync)")
                #expect(!sync.stdout.contains("+ joiner  rpatel"))
                let state = try await world.store().loadState()
                let rpatel = try #require(state.identities.values.first { $0.username == "rpatel" })
                #expect(rpatel.state == .terminated)
                #expect(!state.assignments.contains { $0.identityID == rpatel.id })

                let later = try world.tenure([
                    "offboard", "kmueller", "--reason", "contract ends", "--at", "2099-01-01T00:00:00Z",
                ])
                #expect(later.status == 0, "\(later)")
                #expect(later.stdout.contains("scheduled for 2099-01-01T00:00:00Z"))
                #expect(
                    try await world.store().loadState().assignments.contains {
                        state.identities[$0.identityID]?.username == "kmueller"
                    }
                )

                let unknown = try world.tenure(["offboard", "nobody", "--reason", "x"])
                #expect(unknown.status == 1)
                #expect(unknown.stderr.contains("no identity known as nobody"))
                let noReason = try world.tenure(["offboard", "kmueller"])
                #expect(noReason.status == 64)

                let audit = try world.tenure(["audit", "export", "--format", "jsonl"]).stdout
                #expect(audit.contains("offboarding.completed"))
                #expect(audit.contains("offboarding.scheduled"))
                #expect(try world.tenure(["audit", "verify"]).status == 0)
            }
        }
    }

    /// A username kept by a terminated account and its active successor names the successor, as
    /// the API's `/v1/offboard` resolves it; two terminated ones name nobody.
    @Test func aSharedUsernameNamesTheActiveIdentityAsTheAPIDoes() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory)
                #expect(try world.tenure(["sync"]).status == 0)
                #expect(try world.tenure(["offboard", "rpatel", "--reason", "resigned"]).status == 0)
                try server.add(
                    """
                    dn: cn=Raj Patel Two,ou=people,dc=tenure,dc=test
                    objectClass: inetOrgPerson
                    uid: rpatel
                    cn: Raj Patel Two
                    sn: Patel
                    departmentNumber: Database

                    """
                )
                let sync = try world.tenure(["sync"])
                #expect(sync.status == 0, "\(sync)")
                let before = try await world.store().loadState()
                let accounts = before.identities.values.filter { $0.username == "rpatel" }
                #expect(accounts.map(\.state).sorted { $0.rawValue < $1.rawValue } == [.active, .terminated])
                let successor = try #require(accounts.first { $0.state == .active })

                let second = try world.tenure(["offboard", "rpatel", "--reason", "contract ended"])
                #expect(second.status == 0, "\(second)")
                #expect(second.stdout.contains("rpatel terminated"))
                #expect(second.stdout.contains("Identity: rpatel (id \(successor.id), \(successor.dn), active)"))
                let after = try await world.store().loadState()
                #expect(after.identities[successor.id]?.state == .terminated)

                let third = try world.tenure(["offboard", "rpatel", "--reason", "again"])
                #expect(third.status == 1)
                #expect(third.stderr.contains("names several identities"), "\(third)")
                for id in accounts.map(\.id) { #expect(third.stderr.contains(id)) }
            }
        }
    }
}
