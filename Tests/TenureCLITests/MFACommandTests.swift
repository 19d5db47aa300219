import Foundation
import SlapdFixture
import TenureCore
import TenureCrypto
import TenureStore
import TenureVault
import Testing

/// `tenure mfa enroll` through the binary: the URI is printed once, the seed is sealed under the
/// vault key (never stored, audited or printed elsewhere), a second enrolment replaces the first,
/// and the person is resolved by the API's rule.
@Suite(.timeLimit(.minutes(5)))
struct MFACommandTests {
    @Test func enrolsSealsReplacesAndRefuses() async throws {
        try await withSlapd(data: Sample.ldif) { server in
            try await withTemporaryDirectoryAsync { directory in
                let world = try SyncTests.World(server: server, directory: directory, vault: true)
                #expect(try world.tenure(["vault", "init"]).status == 0)
                let sync = try world.tenure(["sync"])
                #expect(sync.status == 0, "\(sync)")

                // Without the vault key: a configuration error, nothing stored.
                let keyPath = directory + "/vault.key"
                try FileManager.default.moveItem(atPath: keyPath, toPath: keyPath + ".aside")
                let keyless = try world.tenure(["mfa", "enroll", "kmueller"])
                try FileManager.default.moveItem(atPath: keyPath + ".aside", toPath: keyPath)
                #expect(keyless.status == 78, "\(keyless)")
                #expect(keyless.stderr.contains("tenure vault init"))

                let first = try world.tenure(["mfa", "enroll", "KMueller"])
                #expect(first.status == 0, "\(first)")
                let uri = try #require(first.stdout.split(separator: "\n").first.map(String.init))
                #expect(uri.hasPrefix("otpauth://totp/Tenure:kmueller?secret="), "\(uri)")
                #expect(uri.hasSuffix("&issuer=Tenure&algorithm=SHA1&digits=6&period=30"))
                let secretText = try #require(
                    URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value
                )
                let secret = try Base32.decode(secretText)
                #expect(secret.count >= 20)

                // The store holds it sealed under the vault key, for this identity only.
                let store = try world.store()
                let state = try await store.loadState()
                let kmueller = try #require(state.identities.values.first { $0.username == "kmueller" })
                let enrollment = try #require(try await store.mfaEnrollment(identityID: kmueller.id))
                #expect(try await store.mfaEnrollment(identityID: "nobody") == nil)
                #expect(!enrollment.sealedSeed.contains(secretText))
                let sealed = try JSONDecoder().decode(SealedSecret.self, from: Data(enrollment.sealedSeed.utf8))
                let key = try MasterKey.load(path: directory + "/vault.key")
                #expect(try Envelope.open(sealed, masterKey: key) == secret)
                let totp = TOTP(secret: secret)
                #expect(totp.verify(totp.code(at: 1_800_000_000), at: 1_800_000_000, lastUsedStep: nil) != nil)

                // A second enrolment replaces the first with a new seed.
                let second = try world.tenure(["mfa", "enroll", kmueller.id])
                #expect(second.status == 0, "\(second)")
                #expect(second.stdout.contains("the earlier enrolment is replaced"))
                #expect(!second.stdout.contains(secretText))
                let replaced = try #require(try await store.mfaEnrollment(identityID: kmueller.id))
                #expect(replaced.sealedSeed != enrollment.sealedSeed)

                let unknown = try world.tenure(["mfa", "enroll", "nobody"])
                #expect(unknown.status == 1)
                #expect(unknown.stderr.contains("no identity known as nobody"))

                // Audited without the seed.
                let audit = try world.tenure(["audit", "export", "--format", "jsonl"]).stdout
                #expect(audit.components(separatedBy: "mfa.enrolled").count - 1 == 2)
                #expect(audit.contains(#""replaced":"true""#) || audit.contains(#""replaced": "true""#))
                #expect(!audit.contains(secretText))
                #expect(!audit.contains(Base32.encode(secret)))
            }
        }
    }
}
