import Foundation
import LDAPClient
import TenureCore
import Testing

@testable import TenureConfig

@Suite("Decoding and defaults")
struct DecodingTests {
    @Test("a minimal file gets every default")
    func defaultsApplied() throws {
        let config = try parse(minimalYAML)
        #expect(
            config.ldap
                == LDAPSettings(
                    urls: ["ldaps://ldap.example.com"],
                    bindDN: nil,
                    password: .none,
                    startTLS: false,
                    tls: TLSSettings(
                        caFile: nil,
                        certFile: nil,
                        keyFile: nil,
                        insecureSkipVerify: false,
                        minVersion: "1.2"
                    ),
                    pageSize: 500,
                    networkTimeout: 10,
                    operationTimeout: 120,
                    rangeSize: 1500
                )
        )
        #expect(config.users.baseDNs == ["ou=people,dc=example,dc=com"])
        #expect(config.users.scope == .sub)
        #expect(config.users.filter == "(objectClass=inetOrgPerson)")
        #expect(config.users.extraAttributes == [])
        #expect(config.users.disabled == [])
        let attributes = config.users.attributes
        #expect(attributes.id == "entryUUID")
        #expect(attributes.username == "uid")
        #expect(attributes.mail == "mail")
        #expect(attributes.displayName == "displayName")
        #expect(attributes.employeeNumber == "employeeNumber")
        #expect(attributes.department == "departmentNumber")
        #expect(attributes.title == "title")
        #expect(attributes.manager == "manager")
        #expect(attributes.employeeType == "employeeType")
        #expect(
            config.groups
                == GroupSettings(
                    baseDNs: ["ou=groups,dc=example,dc=com"],
                    scope: .sub,
                    filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
                    id: "entryUUID",
                    name: "cn",
                    members: [
                        MemberAttribute(attribute: "member", valueIs: .dn),
                        MemberAttribute(attribute: "uniqueMember", valueIs: .dn),
                        MemberAttribute(attribute: "memberUid", valueIs: .username),
                    ],
                    nested: true
                )
        )
        #expect(config.warnings == [])
        #expect(config.sourceFile == "tenure.yaml")
    }

    @Test("every key of the schema is read")
    func fullActiveDirectoryStyleFile() throws {
        let yaml = """
            ldap:
              urls: [ "ldaps://dc1.corp.example.com", "ldaps://dc2.corp.example.com:636" ]
              bindDN: "CN=svc-tenure,OU=Service Accounts,DC=corp,DC=example,DC=com"
              passwordEnv: CORP_LDAP_PASSWORD
              startTLS: false
              tls:
                minVersion: 1.3
              pageSize: 1000
              networkTimeoutSeconds: 2.5
              operationTimeoutSeconds: 30
              rangeSize: 1500
            users:
              baseDNs: [ "OU=Staff,DC=corp,DC=example,DC=com", "OU=Contractors,DC=corp,DC=example,DC=com" ]
              scope: one
              filter: "(&(objectCategory=person)(objectClass=user))"
              attributes:
                id: objectGUID
                username: sAMAccountName
                department: department
                manager: null
                employeeType: ""
              extraAttributes: [ telephoneNumber, "userCertificate;binary", telephoneNumber ]
              disabled:
                - rule: userAccountControl
                - rule: accountExpires
                - nsAccountLock
                - rule: attributeEquals
                  attribute: employeeType
                  value: terminated
                - rule: underDN
                  dn: "OU=Disabled Users, DC=Corp,DC=Example,DC=com"
            groups:
              baseDNs: [ "OU=Groups,DC=corp,DC=example,DC=com" ]
              scope: base
              filter: "(objectClass=group)"
              id: objectGUID
              name: sAMAccountName
              members:
                - attribute: member
                - memberOfGroup
              nested: no
            """
        let config = try parse(yaml)
        #expect(config.ldap.urls == ["ldaps://dc1.corp.example.com", "ldaps://dc2.corp.example.com:636"])
        #expect(config.ldap.bindDN == "CN=svc-tenure,OU=Service Accounts,DC=corp,DC=example,DC=com")
        #expect(config.ldap.password == .environment("CORP_LDAP_PASSWORD"))
        #expect(config.ldap.tls.minVersion == "1.3")
        #expect(config.ldap.pageSize == 1000)
        #expect(config.ldap.networkTimeout == 2.5)
        #expect(config.ldap.operationTimeout == 30)
        #expect(config.users.scope == .one)
        #expect(config.users.filter == "(&(objectCategory=person)(objectClass=user))")
        #expect(config.users.attributes.id == "objectGUID")
        #expect(config.users.attributes.username == "sAMAccountName")
        #expect(config.users.attributes.department == "department")
        #expect(config.users.attributes.manager == nil)
        #expect(config.users.attributes.employeeType == nil)
        #expect(config.users.attributes.mail == "mail")
        #expect(config.users.extraAttributes == ["telephoneNumber", "userCertificate;binary"])
        #expect(
            config.users.disabled == [
                .userAccountControl,
                .accountExpires,
                .nsAccountLock,
                .attributeEquals(attribute: "employeeType", value: "terminated"),
                .underDN("ou=disabled users,dc=corp,dc=example,dc=com"),
            ]
        )
        #expect(config.groups.scope == .base)
        #expect(config.groups.id == "objectGUID")
        #expect(config.groups.name == "sAMAccountName")
        #expect(
            config.groups.members == [
                MemberAttribute(attribute: "member", valueIs: .dn),
                MemberAttribute(attribute: "memberOfGroup", valueIs: .dn),
            ]
        )
        #expect(config.groups.nested == false)
        #expect(config.warnings == [])
    }

    @Test("attribute lists are deduplicated case-insensitively, in order")
    func attributeLists() throws {
        var config = try parse(minimalYAML)
        config.users.attributes.displayName = "CN"
        config.users.attributes.title = "cn"
        config.users.extraAttributes = ["telephoneNumber", "MAIL"]
        config.users.disabled = [.userAccountControl, .attributeEquals(attribute: "employeeType", value: "x")]
        #expect(
            config.users.attributes.allAttributes == [
                "entryUUID", "uid", "mail", "CN", "employeeNumber", "departmentNumber", "manager", "employeeType",
            ]
        )
        #expect(
            config.users.requestedAttributes == [
                "entryUUID", "uid", "mail", "CN", "employeeNumber", "departmentNumber", "manager", "employeeType",
                "telephoneNumber", "userAccountControl",
            ]
        )
        #expect(config.groups.requestedAttributes == ["entryUUID", "cn", "member", "uniqueMember", "memberUid"])
    }

    @Test("an empty file with everything from the environment")
    func emptyFileWithEnvironment() throws {
        let config = try parse(
            "# nothing here\n",
            environment: [
                "TENURE_LDAP_URLS": "ldap://127.0.0.1:3890",
                "TENURE_USERS_BASE_DNS": "ou=people,dc=tenure,dc=test",
                "TENURE_GROUPS_BASE_DNS": "ou=groups,dc=tenure,dc=test",
            ]
        )
        #expect(config.ldap.urls == ["ldap://127.0.0.1:3890"])
        #expect(config.users.baseDNs == ["ou=people,dc=tenure,dc=test"])
        #expect(config.groups.baseDNs == ["ou=groups,dc=tenure,dc=test"])
    }

    @Test("relative paths in the file are resolved against the file's directory")
    func relativePaths() throws {
        try withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory + "/conf/tls", withIntermediateDirectories: true)
            try writeFile(directory + "/conf/tls/ca.pem", "-----BEGIN CERTIFICATE-----\n")
            let configPath = directory + "/conf/tenure.yaml"
            try writeFile(
                configPath,
                """
                ldap:
                  urls: ["ldaps://ldap.example.com"]
                  bindDN: "cn=reader,dc=example,dc=com"
                  passwordFile: ./secrets/../secrets/pw
                  tls:
                    caFile: tls/ca.pem
                users:
                  baseDNs: ["ou=people,dc=example,dc=com"]
                groups:
                  baseDNs: ["ou=groups,dc=example,dc=com"]
                """
            )
            let config = try TenureConfiguration.load(path: configPath, environment: [:])
            #expect(config.ldap.password == .file(directory + "/conf/secrets/pw"))
            #expect(config.ldap.tls.caFile == directory + "/conf/tls/ca.pem")
            #expect(config.sourceFile == configPath)

            // From the environment, a relative path is relative to the working directory.
            let fromEnvironment = try TenureConfiguration.load(
                path: configPath,
                environment: ["TENURE_LDAP_PASSWORD_FILE": "run/pw"]
            )
            #expect(fromEnvironment.ldap.password == .file("run/pw"))
        }
    }

    @Test("a missing config file is an error")
    func missingFile() throws {
        let error = #expect(throws: ConfigError.self) {
            try TenureConfiguration.load(path: "/nonexistent/tenure.yaml", environment: [:])
        }
        #expect(error?.description == "config file not found: /nonexistent/tenure.yaml")
        #expect(error?.file == "/nonexistent/tenure.yaml")
        #expect(error?.line == nil)
    }

    @Test("Config/tenure.yaml loads and describes the sample directory")
    func sampleConfiguration() throws {
        let path = repositoryRoot + "/Config/tenure.yaml"
        let config = try TenureConfiguration.load(path: path, environment: [:])
        #expect(config.ldap.urls == ["ldap://127.0.0.1:3890"])
        #expect(config.ldap.bindDN == "cn=tenure-reader,ou=services,dc=tenure,dc=test")
        #expect(config.ldap.password == .file(repositoryRoot + "/.tenure/sample-directory/reader.password"))
        #expect(config.ldap.startTLS == false)
        #expect(config.ldap.tls == TLSSettings())
        #expect(config.users.baseDNs == ["ou=people,dc=tenure,dc=test"])
        #expect(config.groups.baseDNs == ["ou=groups,dc=tenure,dc=test"])
        #expect(config.users.attributes == UserAttributeMap())
        #expect(
            config.users.disabled == [
                .pwdAccountLockedTime,
                .underDN("ou=disabled,ou=people,dc=tenure,dc=test"),
                .attributeEquals(attribute: "employeeType", value: "terminated"),
            ]
        )
        #expect(config.groups.members == GroupSettings.defaultMembers)
        #expect(config.groups.nested)
        // Loopback plain LDAP gets no clear-text warning; the password file (if the sample
        // directory has written it) may draw a permissions warning, nothing else may appear.
        #expect(config.warnings.filter { $0.keyPath != "ldap.passwordFile" } == [])
        // Every documented default in the sample equals the built-in default.
        #expect(config.ldap.pageSize == LDAPSettings.defaultPageSize)
        #expect(config.ldap.networkTimeout == LDAPSettings.defaultNetworkTimeout)
        #expect(config.ldap.operationTimeout == LDAPSettings.defaultOperationTimeout)
        #expect(config.ldap.rangeSize == LDAPSettings.defaultRangeSize)
        #expect(config.users.filter == UserSettings.defaultFilter)
        #expect(config.groups.filter == GroupSettings.defaultFilter)
    }

    @Test(
        "environment variable names",
        arguments: [
            ("ldap.pageSize", "TENURE_LDAP_PAGE_SIZE"),
            ("ldap.tls.caFile", "TENURE_LDAP_TLS_CA_FILE"),
            ("users.baseDNs", "TENURE_USERS_BASE_DNS"),
            ("ldap.bindDN", "TENURE_LDAP_BIND_DN"),
            ("ldap.urls", "TENURE_LDAP_URLS"),
            ("users.attributes.id", "TENURE_USERS_ATTRIBUTES_ID"),
            ("groups.nested", "TENURE_GROUPS_NESTED"),
            ("ldap.startTLS", "TENURE_LDAP_START_TLS"),
            ("ldap.tls.insecureSkipVerify", "TENURE_LDAP_TLS_INSECURE_SKIP_VERIFY"),
            ("ldap.networkTimeoutSeconds", "TENURE_LDAP_NETWORK_TIMEOUT_SECONDS"),
        ]
    )
    func environmentVariableNames(keyPath: String, variable: String) {
        #expect(environmentVariableName(for: keyPath.split(separator: ".").map(String.init)) == variable)
        #expect(ConfigSchema.environmentVariables.contains(variable))
    }

    @Test("file-only keys have no environment variable")
    func fileOnlyKeys() {
        #expect(!ConfigSchema.environmentVariables.contains("TENURE_USERS_DISABLED"))
        #expect(!ConfigSchema.environmentVariables.contains("TENURE_GROUPS_MEMBERS"))
        #expect(!ConfigSchema.environmentVariables.contains("TENURE_LDAP_PASSWORD"))
        // 33 for ldap/users/groups, 6 for state, 5 for writeBack, 14 for server (tokens are file-only).
        #expect(ConfigSchema.environmentKeys.count == 58)
        #expect(ConfigSchema.environmentVariables.contains("TENURE_SERVER_SHUTDOWN_ROTATION_WAIT_SECONDS"))
        #expect(ConfigSchema.environmentVariables.contains("TENURE_SERVER_PUBLIC_URL"))
        for variable in ["TENURE_STATE_DATABASE", "TENURE_STATE_AUDIT_KEY_FILE", "TENURE_STATE_MAPPINGS"] {
            #expect(ConfigSchema.environmentVariables.contains(variable))
        }
    }
}

@Suite("The state section")
struct StateSectionTests {
    /// A configuration with only what a directory read needs.
    static let base = """
        ldap:
          urls: ["ldap://127.0.0.1:3890"]
        users:
          baseDNs: ["ou=people,dc=t"]
        groups:
          baseDNs: ["ou=groups,dc=t"]

        """

    @Test func pathsResolveAgainstTheConfigFileAndAreOptional() throws {
        let base = Self.base
        let without = try TenureConfiguration.parse(yaml: base, file: "/etc/tenure/tenure.yaml", environment: [:])
        #expect(without.state == nil)
        let with = try TenureConfiguration.parse(
            yaml: base
                + "state:\n  database: db/tenure.sqlite\n  auditKeyFile: /keys/audit.key\n  mappings: ../Mappings\n",
            file: "/etc/tenure/tenure.yaml",
            environment: ["TENURE_STATE_MAPPINGS": "/srv/mappings"]
        )
        #expect(with.state?.database == "/etc/tenure/db/tenure.sqlite")
        #expect(with.state?.auditKeyFile == "/keys/audit.key")
        #expect(with.state?.mappings == "/srv/mappings")
        #expect(with.state?.durability == .full, "every commit synced unless asked otherwise")
    }

    @Test func durabilityIsFullOrNormal() throws {
        let base = Self.base + "state:\n  database: tenure.sqlite\n  auditKeyFile: audit.key\n  mappings: Mappings\n"
        let normal = try TenureConfiguration.parse(
            yaml: base + "  durability: normal\n",
            file: "t.yaml",
            environment: [:]
        )
        #expect(normal.state?.durability == .normal)
        let fromEnvironment = try TenureConfiguration.parse(
            yaml: base,
            file: "t.yaml",
            environment: ["TENURE_STATE_DURABILITY": "normal"]
        )
        #expect(fromEnvironment.state?.durability == .normal)
        #expect {
            try TenureConfiguration.parse(yaml: base + "  durability: off\n", file: "t.yaml", environment: [:])
        } throws: { error in
            "\(error)".hasPrefix("t.yaml:11:15: state.durability:") && "\(error)".contains("full")
        }
    }

    /// `state.rotationProgramTimeLimitSeconds`: 120 unless set (file or environment), 1 s to an hour.
    @Test func theRotationProgramTimeLimitIsBounded() throws {
        let base = Self.base + "state:\n  database: tenure.sqlite\n  auditKeyFile: audit.key\n  mappings: Mappings\n"
        let unset = try TenureConfiguration.parse(yaml: base, file: "t.yaml", environment: [:])
        #expect(unset.state?.rotationProgramTimeLimitSeconds == 120)
        let set = try TenureConfiguration.parse(
            yaml: base + "  rotationProgramTimeLimitSeconds: 30\n",
            file: "t.yaml",
            environment: [:]
        )
        #expect(set.state?.rotationProgramTimeLimitSeconds == 30)
        let fromEnvironment = try TenureConfiguration.parse(
            yaml: base,
            file: "t.yaml",
            environment: ["TENURE_STATE_ROTATION_PROGRAM_TIME_LIMIT_SECONDS": "2.5"]
        )
        #expect(fromEnvironment.state?.rotationProgramTimeLimitSeconds == 2.5)
        for bad in ["0", "0.5", "3601", "soon"] {
            #expect {
                try TenureConfiguration.parse(
                    yaml: base + "  rotationProgramTimeLimitSeconds: \(bad)\n",
                    file: "t.yaml",
                    environment: [:]
                )
            } throws: { error in
                "\(error)".hasPrefix("t.yaml:11:36: state.rotationProgramTimeLimitSeconds:")
            }
        }
    }

    @Test func aMissingStateKeyIsLocated() {
        let yaml = Self.base + "state:\n  database: tenure.sqlite\n  mappings: Mappings\n"
        #expect {
            try TenureConfiguration.parse(yaml: yaml, file: "t.yaml", environment: [:])
        } throws: { error in
            // Located at the state: mapping that lacks the key.
            "\(error)".hasPrefix("t.yaml:8:3: state.auditKeyFile: required key is missing")
        }
    }
}
