import Foundation
import Testing

@testable import TenureConfig

private let writerCanary = "Canary-Writer-5be1d0"

/// `minimalYAML` with a `writeBack:` section made of `lines` (from line 7 on).
private func writeBackYAML(_ lines: String) -> String {
    minimalYAML + "writeBack:\n" + lines
}

@Suite("writeBack: the write-back account")
struct WriteBackConfigTests {
    @Test("a full section, with its password from a file")
    func fullSection() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/writer.password"
            try writeFile(path, writerCanary + "\n")
            let config = try parse(
                writeBackYAML(
                    """
                      bindDN: "cn=tenure-writer,ou=services,dc=example,dc=com"
                      passwordFile: \(path)
                      memberAttribute: uniqueMember
                      emptyGroupPlaceholder: "CN=Nobody, DC=example,DC=com"

                    """
                )
            )
            let writeBack = try #require(config.writeBack)
            #expect(writeBack.bindDN == "cn=tenure-writer,ou=services,dc=example,dc=com")
            #expect(writeBack.password == .file(path))
            #expect(writeBack.memberAttribute == "uniqueMember")
            #expect(writeBack.emptyGroupPlaceholder == "cn=nobody,dc=example,dc=com")
            #expect(try config.resolveWriteBackPassword(environment: [:]) == writerCanary)
            // The reading account is not affected.
            #expect(config.ldap.password == .none)

            // Redacted: where the password is, never the password; it loads back the same.
            let yaml = config.redactedYAML()
            #expect(!yaml.contains(writerCanary))
            #expect(yaml.contains("writeBack:"))
            #expect(yaml.contains("passwordFile: \"\(path)\"  # password: <redacted>"))
            let again = try parse(yaml)
            #expect(again.writeBack == config.writeBack)
        }
    }

    @Test("defaults, the password from the environment, and no section at all")
    func defaultsAndEnvironment() throws {
        let config = try parse(
            writeBackYAML(
                """
                  bindDN: "cn=w,dc=example,dc=com"
                  passwordEnv: TENURE_WRITE_BACK_PASSWORD

                """
            ),
            environment: ["TENURE_WRITE_BACK_PASSWORD": writerCanary]
        )
        #expect(config.writeBack?.memberAttribute == "member")
        #expect(config.writeBack?.emptyGroupPlaceholder == nil)
        #expect(
            try config.resolveWriteBackPassword(environment: ["TENURE_WRITE_BACK_PASSWORD": writerCanary])
                == writerCanary
        )
        // The conventional variable is not reported as an unknown TENURE_ variable.
        #expect(!config.warnings.contains { $0.message.contains("TENURE_WRITE_BACK_PASSWORD") })
        let missing = #expect(throws: ConfigError.self) { try config.resolveWriteBackPassword(environment: [:]) }
        #expect(missing?.keyPath == "writeBack.passwordEnv")
        #expect(missing?.description.contains("TENURE_WRITE_BACK_PASSWORD (writeBack.passwordEnv) is not set") == true)

        let none = try parse(minimalYAML)
        #expect(none.writeBack == nil)
        #expect(try none.resolveWriteBackPassword(environment: [:]) == nil)
    }

    @Test(
        "errors name the place",
        arguments: [
            ("  passwordEnv: W\n", "tenure.yaml:8:3: writeBack.bindDN: required key is missing"),
            ("  bindDN: \"cn=w,dc=x\"\n", "tenure.yaml:8:11: writeBack.bindDN: a bind DN needs a password"),
            (
                "  bindDN: \"cn=w,dc=x\"\n  passwordEnv: W\n  passwordFile: /x\n",
                "tenure.yaml:9:16: writeBack.passwordEnv: set at most one of writeBack.passwordFile"
            ),
            ("  bindDN: \"not a dn\"\n  passwordEnv: W\n", "tenure.yaml:8:11: writeBack.bindDN: invalid DN"),
            (
                "  bindDN: \"cn=w,dc=x\"\n  passwordEnv: W\n  memberAttribute: \"mem ber\"\n",
                "tenure.yaml:10:20: writeBack.memberAttribute:"
            ),
            (
                "  bindDN: \"cn=w,dc=x\"\n  passwordEnv: W\n  emptyGroupPlaceholder: nobody\n",
                "tenure.yaml:10:26: writeBack.emptyGroupPlaceholder: invalid DN"
            ),
            ("  bindDN: \"cn=w,dc=x\"\n  password: hunter2\n", "tenure.yaml:9:3: writeBack.password: unknown key"),
            (
                "  bindDN: \"cn=w,dc=x\"\n  passwordEnv: W\n  memberAttribute: owner\n",
                "tenure.yaml:10:20: writeBack.memberAttribute: \"owner\" is not one of the DN-valued groups.members "
                    + "attributes (member, uniqueMember): Tenure must read back what it writes"
            ),
        ]
    )
    func errors(_ lines: String, _ prefix: String) throws {
        let error = try #require(parseError(writeBackYAML(lines)))
        #expect(error.description.hasPrefix(prefix), "\(error.description)")
        #expect(!error.description.contains("hunter2"))
    }
}
