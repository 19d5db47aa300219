import DirectorySource
import Foundation
import LDAPClient
import SlapdFixture
import TenureConfig
import TenureCore
import Testing

/// Everything that must stop a pull — with a clear error and no snapshot — against a real slapd.
@Suite(.timeLimit(.minutes(5)))
struct FailureTests {
    static let suffix = "dc=tenure,dc=test"
    static let people = (1...30).map { LDIF.person("p\($0)", suffix: suffix) }.joined()

    /// Runs a pull that must fail and returns its error.
    private func failingPull(
        _ configuration: TenureConfiguration,
        observer: (any PullObserver)? = nil
    ) async -> any Error {
        do {
            let result = try await pull(configuration, observer: observer)
            Issue.record("the pull succeeded with \(result.snapshot.identities.count) identities; it must fail")
            return FixtureError("no error")
        } catch {
            return error
        }
    }

    @Test func ldapsWithTheRightCAWorksAndWithAWrongCAFailsClearly() async throws {
        try await withSlapd(data: Self.people) { server in
            let good = try testConfiguration(
                server,
                urls: [server.ldapsURL],
                extraLDAP: "  tls:\n    caFile: \"\(server.caFile)\""
            )
            #expect(try await pull(good).snapshot.identities.count == 30)

            let wrong = try testConfiguration(
                server,
                urls: [server.ldapsURL],
                extraLDAP: "  tls:\n    caFile: \"\(server.wrongCAFile)\""
            )
            let error = try #require(await self.failingPull(wrong) as? LDAPError)
            #expect(error.code == .serverDown || error.code == .connectError)
            #expect(error.description.contains(server.ldapsURL))
            #expect(error.description.contains("certificate"))
            #expect(error.description.contains(server.wrongCAFile))

            // Explicitly insecure: connects despite the wrong CA (and the config warns loudly).
            let insecure = try testConfiguration(
                server,
                urls: [server.ldapsURL],
                extraLDAP: "  tls:\n    caFile: \"\(server.wrongCAFile)\"\n    insecureSkipVerify: true"
            )
            #expect(insecure.warnings.contains { "\($0)".contains("DISABLED") })
            #expect(try await pull(insecure).snapshot.identities.count == 30)
        }
    }

    @Test func startTLSVerifiesTheServerToo() async throws {
        try await withSlapd(data: Self.people) { server in
            let good = try testConfiguration(
                server,
                extraLDAP: "  startTLS: true\n  tls:\n    caFile: \"\(server.caFile)\""
            )
            #expect(try await pull(good).snapshot.identities.count == 30)
            let wrong = try testConfiguration(
                server,
                extraLDAP: "  startTLS: true\n  tls:\n    caFile: \"\(server.wrongCAFile)\""
            )
            let error = try #require(await self.failingPull(wrong) as? LDAPError)
            #expect(error.operation == .startTLS)
            #expect(error.description.contains("certificate"))
        }
    }

    @Test func aWrongPasswordFailsClearlyWithoutShowingIt() async throws {
        try await withSlapd(data: Self.people) { server in
            let secret = "Wr0ng-Pa55word-\(UUID().uuidString)"
            let file = try server.writeFile("wrong.password", secret)
            chmod(file, 0o600)
            let error = try #require(
                await self.failingPull(try testConfiguration(server, passwordFile: file)) as? LDAPError
            )
            #expect(error.code == .invalidCredentials)
            #expect(error.operation == .bind)
            #expect(error.description.contains("invalidCredentials (49)"))
            #expect(error.description.contains(server.readerDN))
            #expect(!error.description.contains(secret))
        }
    }

    @Test func killingSlapdInTheMiddleOfAPagedPullGivesAnErrorAndNoSnapshot() async throws {
        let many = (1...400).map { LDIF.person("k\($0)", suffix: Self.suffix) }.joined()
        try await withSlapd(bulk: many) { server in
            struct KillOnSecondPage: PullObserver {
                let server: SlapdServer
                let pages = PageCounter()
                func pageRead(_ phase: PullPhase, base: String, page: Int, entriesInBase: Int) {
                    self.pages.record(page)
                    if page == 2 { self.server.kill9() }
                }
            }
            let observer = KillOnSecondPage(server: server)
            let error = await self.failingPull(try testConfiguration(server, pageSize: 50), observer: observer)
            let ldapError = try #require(error as? LDAPError, "\(error)")
            #expect(ldapError.code == .serverDown)
            #expect(ldapError.description.contains("page 3"))
            #expect(observer.pages.highest == 2)
        }
    }

    @Test func aSizeLimitAbortsThePull() async throws {
        try await withSlapd(data: Self.people) { server in
            let configuration = try testConfiguration(
                server,
                bindDN: server.limitedDN,
                passwordFile: server.limitedPasswordFile,
                pageSize: 2
            )
            let error = try #require(await self.failingPull(configuration) as? LDAPError)
            #expect([LDAPResultCode.sizeLimitExceeded, .adminLimitExceeded].contains(error.code), "\(error)")
            #expect(error.description.contains("ou=people,\(Self.suffix)"))
        }
    }

    @Test func aReferralThatIsNotFollowedAbortsThePull() async throws {
        try await withSlapd(data: Self.people) { server in
            // A referral object needs ManageDsaIT to be added.
            let file = try server.writeFile(
                "referral.ldif",
                """
                dn: ou=branch,ou=people,\(Self.suffix)
                objectClass: referral
                objectClass: extensibleObject
                ou: branch
                ref: ldap://127.0.0.1:9/ou=people,dc=branch,dc=test

                """
            )
            let added = try run(
                "/usr/bin/ldapadd",
                ["-x", "-M", "-H", server.url, "-D", server.adminDN, "-y", server.adminPasswordFile, "-f", file]
            )
            try #require(added.status == 0, "\(added.stderr)")
            let error = try #require(await self.failingPull(try testConfiguration(server)) as? LDAPError)
            #expect(error.code == .referral)
            #expect(error.description.contains("127.0.0.1:9"))
        }
    }

    @Test func aMissingBaseDNAbortsThePull() async throws {
        try await withSlapd(data: Self.people) { server in
            let configuration = try testConfiguration(server, userBaseDNs: ["ou=peeple,\(Self.suffix)"])
            let error = try #require(await self.failingPull(configuration) as? LDAPError)
            #expect(error.code == .noSuchObject)
            #expect(error.description.contains("ou=peeple"))
        }
    }

    @Test func anEntryWithoutTheStableIDAttributeAbortsThePull() async throws {
        try await withSlapd(data: Self.people + LDIF.person("noid", suffix: Self.suffix)) { server in
            // employeeNumber as the id: one person has none, so they cannot be keyed.
            let configuration = try testConfiguration(server, users: "  attributes:\n    id: employeeNumber")
            let error = try #require(await self.failingPull(configuration) as? DirectoryDataError)
            #expect(error.dn.contains("ou=people,"))
            #expect(error.description.contains("employeeNumber"))
        }
    }

    @Test func failoverSkipsAnUnreachableServer() async throws {
        try await withSlapd(data: Self.people) { server in
            let configuration = try testConfiguration(server, urls: ["ldap://127.0.0.1:1", server.url])
            let result = try await pull(configuration)
            #expect(result.server == server.url)
            #expect(result.snapshot.identities.count == 30)

            let none = try testConfiguration(server, urls: ["ldap://127.0.0.1:1", "ldap://127.0.0.1:2"])
            let error = try #require(await self.failingPull(none) as? LDAPError)
            #expect(error.description.contains("all 2 servers failed"))
        }
    }
}

/// Records the pages an observer saw (the observer is called on the connection's queue).
final class PageCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var pages: [Int] = []

    func record(_ page: Int) {
        self.lock.lock()
        self.pages.append(page)
        self.lock.unlock()
    }

    var highest: Int {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.pages.max() ?? 0
    }
}
