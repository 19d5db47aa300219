import Foundation
import LDAPClient
import TenureCore
import Testing

@testable import TenureConfig

/// Parses `yaml` as one mappings file and expects success.
private func mappings(_ yaml: String, file: String = "m.yaml") throws -> Mappings {
    try MappingsLoader.parse(yaml: yaml, file: file)
}

/// A `scope:` condition written in YAML, and the `Condition` it must decode to.
struct ConditionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var expected: Condition
    var testDescription: String { self.name }
}

private let conditionCases: [ConditionCase] = [
    ConditionCase(
        name: "memberOf by DN is normalised",
        yaml: "memberOf: \"CN=DBA, OU=Groups,DC=Tenure,DC=Test\"",
        expected: .memberOf("cn=dba,ou=groups,dc=tenure,dc=test")
    ),
    ConditionCase(
        name: "memberOf by group name is kept as written",
        yaml: "memberOf: platform-admins",
        expected: .memberOf("platform-admins")
    ),
    ConditionCase(
        name: "attribute equals on a mapped field",
        yaml: "{attribute: employeeType, equals: Contractor}",
        expected: .attributeEquals(attribute: "employeeType", value: "Contractor")
    ),
    ConditionCase(
        name: "a mapped field written in another case takes its own name",
        yaml: "{attribute: DISPLAYNAME, equals: Maria Chen}",
        expected: .attributeEquals(attribute: "displayName", value: "Maria Chen")
    ),
    ConditionCase(
        name: "an LDAP attribute is lowercased",
        yaml: "{attribute: departmentNumber, equals: 42}",
        expected: .attributeEquals(attribute: "departmentnumber", value: "42")
    ),
    ConditionCase(
        name: "attribute in",
        yaml: "{attribute: department, in: [Database, Security, Database]}",
        expected: .attributeIn(attribute: "department", values: ["Database", "Security"])
    ),
    ConditionCase(
        name: "attribute in with a single value",
        yaml: "{attribute: employeeNumber, in: E1301}",
        expected: .attributeIn(attribute: "employeeNumber", values: ["E1301"])
    ),
    ConditionCase(
        name: "attribute matches keeps the pattern as written",
        yaml: "{attribute: mail, matches: \"[a-z]+@tenure\\\\.test\"}",
        expected: .attributeMatches(attribute: "mail", pattern: "[a-z]+@tenure\\.test")
    ),
    ConditionCase(
        name: "the dn field",
        yaml: "{attribute: dn, matches: \"uid=.*\"}",
        expected: .attributeMatches(attribute: "dn", pattern: "uid=.*")
    ),
    ConditionCase(
        name: "an attribute with options",
        yaml: "{attribute: userCertificate;binary, matches: \".+\"}",
        expected: .attributeMatches(attribute: "usercertificate;binary", pattern: ".+")
    ),
    ConditionCase(
        name: "underDN is normalised",
        yaml: "underDN: \"OU=People, DC=tenure, DC=test\"",
        expected: .underDN("ou=people,dc=tenure,dc=test")
    ),
    ConditionCase(
        name: "all",
        yaml: "all: [{memberOf: dba}, {attribute: employeeType, equals: Employee}]",
        expected: .all([.memberOf("dba"), .attributeEquals(attribute: "employeeType", value: "Employee")])
    ),
    ConditionCase(
        name: "any with one condition",
        yaml: "any: [{memberOf: sre}]",
        expected: .any([.memberOf("sre")])
    ),
    ConditionCase(
        name: "not",
        yaml: "not: {attribute: employeeType, in: [service, test]}",
        expected: .not(.attributeIn(attribute: "employeeType", values: ["service", "test"]))
    ),
    ConditionCase(
        name: "nesting",
        yaml: """
            any:
                - all:
                    - memberOf: "cn=dba,ou=groups,dc=tenure,dc=test"
                    - not: {underDN: "ou=disabled,ou=people,dc=tenure,dc=test"}
                - attribute: title
                  matches: "Chief .*"
            """,
        expected: .any([
            .all([
                .memberOf("cn=dba,ou=groups,dc=tenure,dc=test"),
                .not(.underDN("ou=disabled,ou=people,dc=tenure,dc=test")),
            ]),
            .attributeMatches(attribute: "title", pattern: "Chief .*"),
        ])
    ),
]

/// A `maxActivation:` value and the seconds it must decode to.
private let durationCases: [(text: String, seconds: Int)] = [
    ("90m", 5400),
    ("4h", 14_400),
    ("1d", 86_400),
    ("3600s", 3600),
    ("1h30m", 5400),
    ("1d12h", 129_600),
    ("45s", 45),
]

/// A timestamp as written and the seconds since 1970 it must decode to.
private let timestampCases: [(text: String, seconds: Double)] = [
    ("1970-01-01T00:00:00Z", 0),
    ("2026-01-01T00:00:00Z", 1_767_225_600),
    ("2026-12-31T23:59:59Z", 1_798_761_599),
    ("2026-06-30T18:00:00+02:00", 1_782_835_200),
    ("2026-06-30T18:00:00+0200", 1_782_835_200),
    ("2026-06-30T11:30:00-04:30", 1_782_835_200),
    ("2024-02-29T12:00:00Z", 1_709_208_000),
    ("2026-01-01T00:00:00.25Z", 1_767_225_600.25),
    ("1969-12-31T23:59:59Z", -1),
    ("2000-03-01t00:00:00z", 951_868_800),
]

@Suite("Mappings: decoding")
struct MappingsDecodingTests {
    @Test("an empty file is an empty model with the defaults")
    func emptyFile() throws {
        for yaml in ["", "# only a comment\n", "~\n"] {
            let result = try mappings(yaml)
            #expect(result == Mappings())
            #expect(result.scope == .always)
            #expect(result.guardSettings == LeaverGuard(maxLeavers: 500, maxLeaverPercent: 10))
        }
    }

    @Test("a role with every key")
    func fullRole() throws {
        let result = try mappings(
            """
            roles:
              - name: dba-prod
                tier: 0
                mode: eligible
                maxActivation: 4h
                requirements: [approval, mfa, justification, ticket, mfa]
                writeBackGroup: "CN=dba-prod, OU=Privileged,ou=groups,dc=tenure,dc=test"
                credentials: [db-prod-root, db-prod-replica]
                conflicts: [auditor]
                drift: revert
              - name: auditor
                tier: 2
                mode: standing

            """
        )
        #expect(
            result.roles == [
                RoleDefinition(
                    name: "dba-prod",
                    tier: 0,
                    mode: .eligible,
                    maxActivationSeconds: 14_400,
                    requirements: [.approval, .mfa, .justification, .ticket],
                    writeBackGroup: try DistinguishedName.normalize(
                        "CN=dba-prod, OU=Privileged,ou=groups,dc=tenure,dc=test"
                    ),
                    credentials: ["db-prod-root", "db-prod-replica"],
                    conflicts: ["auditor"],
                    drift: .revert
                ),
                // The conflict is listed on both roles.
                RoleDefinition(name: "auditor", tier: 2, mode: .standing, conflicts: ["dba-prod"]),
            ]
        )
        #expect(result.roles[0].writeBackGroup == "cn=dba-prod,ou=privileged,ou=groups,dc=tenure,dc=test")
    }

    @Test("role defaults: eligible roles get one hour, standing roles no activation")
    func roleDefaults() throws {
        let result = try mappings(
            """
            roles:
              - {name: a, tier: 0, mode: eligible}
              - {name: b, tier: 7, mode: standing, writeBackGroup: "cn=b,dc=test"}

            """
        )
        #expect(result.roles.map(\.maxActivationSeconds) == [3600, nil])
        #expect(result.roles.map(\.drift) == [.alert, .alert])
        #expect(result.roles.map(\.tier) == [0, 7])
        #expect(result.roles.map(\.writeBackGroup) == [nil, "cn=b,dc=test"])
    }

    @Test("durations", arguments: durationCases)
    func duration(_ testCase: (text: String, seconds: Int)) throws {
        let result = try mappings("roles:\n  - {name: a, tier: 0, mode: eligible, maxActivation: \(testCase.text)}\n")
        #expect(result.roles.first?.maxActivationSeconds == testCase.seconds)
        #expect(try parseDuration(testCase.text) == testCase.seconds)
    }

    @Test("timestamps", arguments: timestampCases)
    func timestamp(_ testCase: (text: String, seconds: Double)) throws {
        let result = try mappings(
            """
            roles: [{name: a, tier: 0, mode: eligible}]
            rules:
              - name: r
                when: {memberOf: dba}
                grant: a
                validFrom: \(testCase.text)
                validUntil: 2100-01-01T00:00:00Z

            """
        )
        #expect(result.rules.first?.validFrom == testCase.seconds)
        #expect(result.rules.first?.validUntil == 4_102_444_800)
    }

    @Test("timestamps agree with Foundation's ISO 8601 parser")
    func timestampsAgreeWithFoundation() throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        for (text, seconds) in timestampCases where !text.contains(".") && !text.contains("t") {
            let date = try #require(formatter.date(from: text), "\(text)")
            #expect(date.timeIntervalSince1970 == seconds, "\(text)")
        }
    }

    @Test("conditions decode to the right Condition", arguments: conditionCases)
    func condition(_ testCase: ConditionCase) throws {
        let indented = testCase.yaml.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        let result = try mappings("scope:\n\(indented)\n")
        #expect(result.scope == testCase.expected)
    }

    @Test("DNs in conditions are normalised like DistinguishedName.normalize")
    func conditionDNsNormalised() throws {
        let written = "uid=Root-Ops+cn=Root,  OU=Services,DC=tenure,DC=test"
        let result = try mappings(
            """
            scope:
              any:
                - memberOf: "\(written)"
                - underDN: "\(written)"
            protected:
              - dn: "\(written)"

            """
        )
        let normalized = try DistinguishedName.normalize(written)
        #expect(result.scope == .any([.memberOf(normalized), .underDN(normalized)]))
        #expect(result.protected == [.dn(normalized)])
    }

    @Test("rules: the mode defaults to the role's; an eligible role may be granted as standing")
    func ruleModes() throws {
        let result = try mappings(
            """
            roles:
              - {name: jit, tier: 1, mode: eligible}
              - {name: always, tier: 2, mode: standing}
            rules:
              - {name: r1, when: {memberOf: a}, grant: jit}
              - {name: r2, when: {memberOf: b}, grant: always}
              - {name: r3, when: {memberOf: c}, grant: jit, as: standing}
              - {name: r4, when: {memberOf: d}, grant: always, as: standing}
              - {name: r5, when: {memberOf: e}, grant: jit, as: eligible}

            """
        )
        #expect(result.rules.map(\.mode) == [.eligible, .standing, .standing, .standing, .eligible])
        #expect(result.rules.map(\.grant) == ["jit", "always", "jit", "always", "jit"])
        #expect(result.rules[0] == Rule(name: "r1", when: .memberOf("a"), grant: "jit", mode: .eligible))
    }

    @Test("a rule with a validity window")
    func validityWindow() throws {
        let result = try mappings(
            """
            roles: [{name: auditor, tier: 2, mode: standing}]
            rules:
              - name: audit-2026
                when:
                  attribute: employeeNumber
                  equals: E1301
                grant: auditor
                validFrom: 2026-01-01T00:00:00Z
                validUntil: "2026-12-31T23:59:59Z"

            """
        )
        #expect(
            result.rules == [
                Rule(
                    name: "audit-2026",
                    when: .attributeEquals(attribute: "employeeNumber", value: "E1301"),
                    grant: "auditor",
                    mode: .standing,
                    validFrom: 1_767_225_600,
                    validUntil: 1_798_761_599
                )
            ]
        )
    }

    @Test("protected accounts: usernames, ids (UUIDs lowercased), DNs; duplicates dropped")
    func protectedAccounts() throws {
        let result = try mappings(
            """
            protected:
              - username: breakglass-admin
              - id: 3F2504E0-4F89-11D3-9A0C-0305E82C3301
              - id: S-1-5-21-1004
              - dn: "UID=root-ops,ou=people,dc=tenure,dc=test"
              - username: breakglass-admin

            """
        )
        #expect(
            result.protected == [
                .username("breakglass-admin"),
                .id("3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
                .id("S-1-5-21-1004"),
                .dn("uid=root-ops,ou=people,dc=tenure,dc=test"),
            ]
        )
    }

    @Test("guard values, and defaults for the ones not given")
    func guardSettings() throws {
        #expect(
            try mappings("guard: {maxLeavers: 0, maxLeaverPercent: 2.5}\n").guardSettings
                == LeaverGuard(maxLeavers: 0, maxLeaverPercent: 2.5)
        )
        #expect(try mappings("guard: {maxLeavers: 1_000}\n").guardSettings == LeaverGuard(maxLeavers: 1000))
        #expect(
            try mappings("guard: {maxRevoked: 20, maxRevokedPercent: 5}\n").guardSettings
                == LeaverGuard(maxRevoked: 20, maxRevokedPercent: 5)
        )
        #expect(
            try mappings("guard: {maxLeaverPercent: 100}\n").guardSettings
                == LeaverGuard(maxLeavers: 500, maxLeaverPercent: 100)
        )
    }

    @Test("the leaver look-back: a duration, 0 for none, 30 days by default; errors located")
    func leaverLookBack() throws {
        #expect(try mappings("leaver: {lookBack: 7d}\n").leaver.lookBackSeconds == 7 * 86_400)
        #expect(try mappings("leaver: {lookBack: 0}\n").leaver.lookBackSeconds == 0)
        #expect(try mappings("roles: []\n").leaver.lookBackSeconds == 30 * 86_400)
        let error = #expect(throws: ConfigError.self) { try mappings("leaver:\n  lookBack: soon\n") }
        #expect(error?.description.hasPrefix("m.yaml:2:13: leaver.lookBack: invalid duration") == true)
        let unknown = #expect(throws: ConfigError.self) { try mappings("leaver:\n  lookback: 1d\n") }
        #expect(unknown?.keyPath == "leaver.lookback")
    }

    @Test("conflicts become symmetric without duplicates")
    func symmetricConflicts() throws {
        let result = try mappings(
            """
            roles:
              - {name: a, tier: 1, mode: standing, conflicts: [b, c]}
              - {name: b, tier: 1, mode: standing, conflicts: [a]}
              - {name: c, tier: 1, mode: standing}

            """
        )
        #expect(result.roles.map(\.conflicts) == [["b", "c"], ["a"], ["a"]])
    }
}

@Suite("Mappings: merging files")
struct MappingsMergingTests {
    private let rolesYAML = """
        roles:
          - name: dba-prod
            tier: 0
            mode: eligible
          - name: auditor
            tier: 2
            mode: standing

        """
    private let rulesYAML = """
        rules:
          - name: dbas
            when: {memberOf: dba}
            grant: dba-prod
        roles:
          - name: sre-root
            tier: 1
            mode: eligible
            conflicts: [auditor]

        """
    private let policyYAML = """
        scope:
          not: {attribute: employeeType, in: [service, test]}
        protected:
          - username: breakglass-admin
        guard:
          maxLeavers: 20

        """

    @Test("a directory: *.yaml and *.yml in name order, other and hidden files ignored")
    func directory() throws {
        try withTemporaryDirectory { directory in
            // Rules come first by name and grant a role defined in a later file.
            try writeFile(directory + "/10-rules.yaml", self.rulesYAML)
            try writeFile(directory + "/20-roles.yml", self.rolesYAML)
            try writeFile(directory + "/30-policy.yaml", self.policyYAML)
            try writeFile(directory + "/README.md", "roles: nonsense")
            try writeFile(directory + "/.draft.yaml", "roles: nonsense")
            try writeFile(directory + "/old.yaml.bak", "roles: nonsense")
            try FileManager.default.createDirectory(
                atPath: directory + "/archive.yaml",
                withIntermediateDirectories: false
            )

            #expect(
                try MappingsLoader.files(inDirectory: directory)
                    == ["10-rules.yaml", "20-roles.yml", "30-policy.yaml"].map { directory + "/" + $0 }
            )
            let result = try MappingsLoader.load(directory: directory)
            #expect(result.roles.map(\.name) == ["sre-root", "dba-prod", "auditor"])
            #expect(result.role(named: "auditor")?.conflicts == ["sre-root"])
            #expect(result.rules.map(\.name) == ["dbas"])
            #expect(result.rules.first?.mode == .eligible)
            #expect(result.scope == .not(.attributeIn(attribute: "employeeType", values: ["service", "test"])))
            #expect(result.protected == [.username("breakglass-admin")])
            #expect(result.guardSettings == LeaverGuard(maxLeavers: 20, maxLeaverPercent: 10))
            #expect(try MappingsLoader.load(path: directory) == result)
            #expect(try MappingsLoader.load(directory: directory + "/") == result)
        }
    }

    @Test("files in the order given; protected accounts concatenated")
    func paths() throws {
        try withTemporaryDirectory { directory in
            try writeFile(directory + "/a.yaml", self.rolesYAML + "protected: [{username: one}]\n")
            try writeFile(directory + "/b.yaml", self.rulesYAML + "protected: [{username: two}, {username: one}]\n")
            let result = try MappingsLoader.load(paths: [directory + "/b.yaml", directory + "/a.yaml"])
            #expect(result.roles.map(\.name) == ["sre-root", "dba-prod", "auditor"])
            #expect(result.protected == [.username("two"), .username("one")])
            #expect(try MappingsLoader.load(paths: []) == Mappings())
            #expect(try MappingsLoader.load(path: directory + "/a.yaml").roles.count == 2)
        }
    }

    @Test("the same name in two files names both places")
    func duplicatesAcrossFiles() {
        let roleError = #expect(throws: ConfigError.self) {
            try MappingsLoader.parse([("roles.yaml", self.rolesYAML), ("more.yaml", "roles:\n  - {name: auditor}\n")])
        }
        // Duplicate names are found after every file is read; the second file's role is incomplete,
        // so the error is about it rather than the duplicate.
        #expect(
            roleError?.description == "more.yaml:2:5: roles[0].tier: required key is missing; set the role's "
                + "tier, e.g. tier: 0 (0 is the most privileged)"
        )

        let duplicate = #expect(throws: ConfigError.self) {
            try MappingsLoader.parse([
                ("roles.yaml", self.rolesYAML),
                ("more.yaml", "roles:\n  - name: auditor\n    tier: 1\n    mode: standing\n"),
            ])
        }
        #expect(
            duplicate?.description
                == "more.yaml:2:11: roles[0].name: duplicate role name \"auditor\" (first defined at roles.yaml:5:11)"
        )

        // rules.yaml's sre-root conflicts with auditor, defined in b.yaml (lines 1–7).
        let rule = "rules:\n  - name: dbas\n    when: {memberOf: x}\n    grant: auditor\n"
        let ruleError = #expect(throws: ConfigError.self) {
            try MappingsLoader.parse([("a.yaml", self.rulesYAML), ("b.yaml", self.rolesYAML + rule)])
        }
        #expect(ruleError?.file == "b.yaml")
        #expect(ruleError?.line == 9)
        #expect(ruleError?.column == 11)
        #expect(ruleError?.keyPath == "rules[0].name")
        #expect(ruleError?.message == "duplicate rule name \"dbas\" (first defined at a.yaml:2:11)")
    }

    @Test("scope, guard and leaver may be set in one file only", arguments: ["scope", "guard", "leaver"])
    func singleSections(_ key: String) {
        let section =
            switch key {
            case "scope": "scope: {memberOf: x}\n"
            case "guard": "guard: {maxLeavers: 3}\n"
            default: "leaver: {lookBack: 1d}\n"
            }
        let error = #expect(throws: ConfigError.self) {
            try MappingsLoader.parse([
                ("policy.yaml", "# policy\n" + section),
                ("other.yaml", "roles: []\n" + section),
            ])
        }
        #expect(
            error?.description
                == "other.yaml:2:1: \(key): \(key) is already set at policy.yaml:2:1; set it in one file only"
        )
    }

    @Test("a rule may name a role of another file; an unknown one is reported in the rule's file")
    func crossFileReferences() throws {
        let rule = "rules:\n  - name: r\n    when: {memberOf: x}\n    grant: auditr\n"
        let error = #expect(throws: ConfigError.self) {
            try MappingsLoader.parse([("rules.yaml", rule), ("roles.yaml", self.rolesYAML)])
        }
        #expect(
            error?.description
                == "rules.yaml:4:12: rules[0].grant: unknown role \"auditr\" (did you mean \"auditor\"?); "
                + "defined roles: dba-prod, auditor"
        )
        // The conflicts of roles.yaml name a role of the first file.
        let result = try MappingsLoader.parse([("a.yaml", self.rolesYAML), ("b.yaml", self.rulesYAML)])
        #expect(result.role(named: "sre-root")?.conflicts == ["auditor"])
    }

    @Test("file problems")
    func fileProblems() throws {
        try withTemporaryDirectory { directory in
            let missing = #expect(throws: ConfigError.self) {
                try MappingsLoader.load(paths: [directory + "/nope.yaml"])
            }
            #expect(missing?.description == "mappings file not found: \(directory)/nope.yaml")

            let empty = #expect(throws: ConfigError.self) { try MappingsLoader.load(directory: directory) }
            #expect(empty?.description == "no mappings files (*.yaml, *.yml) in \(directory)")

            let noDirectory = #expect(throws: ConfigError.self) {
                try MappingsLoader.load(directory: directory + "/absent")
            }
            #expect(noDirectory?.description == "mappings directory not found: \(directory)/absent")

            try writeFile(directory + "/a.yaml", self.rolesYAML)
            let twice = #expect(throws: ConfigError.self) {
                try MappingsLoader.load(paths: [directory + "/a.yaml", directory + "/./a.yaml"])
            }
            #expect(
                twice?.message == "mappings file \(directory)/./a.yaml is given twice (also as \(directory)/a.yaml)"
            )

            let notDirectory = #expect(throws: ConfigError.self) {
                try MappingsLoader.load(directory: directory + "/a.yaml")
            }
            #expect(notDirectory?.message == "\(directory)/a.yaml is not a directory")

            try writeFile(directory + "/bad.yaml", "roles:\n  - name: x\n    tier: -3\n    mode: standing\n")
            let located = #expect(throws: ConfigError.self) { try MappingsLoader.load(directory: directory) }
            #expect(located?.file == directory + "/bad.yaml")
            #expect(located?.line == 3)
            #expect(located?.column == 11)
        }
    }
}

@Suite("Mappings: the samples in Mappings/")
struct MappingsSampleTests {
    private static let directory = repositoryRoot + "/Mappings"

    @Test("the sample directory loads and makes sense")
    func samples() throws {
        #expect(
            try MappingsLoader.files(inDirectory: Self.directory).map { ($0 as NSString).lastPathComponent }
                == ["policy.yaml", "roles.yaml", "rules.yaml"]
        )
        let result = try MappingsLoader.load(directory: Self.directory)

        #expect((5...7).contains(result.roles.count))
        #expect(Set(result.roles.map(\.tier)) == [0, 1, 2])
        #expect(Set(result.roles.map(\.mode)) == [.eligible, .standing])
        for role in result.roles {
            let group = try #require(role.writeBackGroup, "\(role.name)")
            #expect(group.hasSuffix(",ou=privileged,ou=groups,dc=tenure,dc=test"), "\(role.name)")
            #expect(try DistinguishedName.normalize(group) == group)
            #expect((role.mode == .eligible) == (role.maxActivationSeconds != nil), "\(role.name)")
        }
        #expect(result.roles.contains { !$0.credentials.isEmpty })
        // The separation-of-duties pairs, symmetric after loading.
        #expect(result.role(named: "payments-approver")?.conflicts == ["payments-operator"])
        #expect(result.role(named: "payments-operator")?.conflicts == ["payments-approver"])
        #expect(result.role(named: "auditor")?.conflicts == ["security-admin"])

        // Every rule grants a defined role, with a mode the role allows.
        for rule in result.rules {
            let role = try #require(result.role(named: rule.grant), "\(rule.name)")
            #expect(!(role.mode == .standing && rule.mode == .eligible), "\(rule.name)")
        }
        let conditions = result.rules.map(\.when)
        #expect(
            conditions.contains {
                Self.contains($0) { if case .memberOf(let g) = $0 { g.contains("=") } else { false } }
            }
        )
        #expect(
            conditions.contains {
                Self.contains($0) { if case .memberOf(let g) = $0 { !g.contains("=") } else { false } }
            }
        )
        #expect(conditions.contains { Self.contains($0) { if case .not = $0 { true } else { false } } })
        #expect(conditions.contains { Self.contains($0) { if case .attributeEquals = $0 { true } else { false } } })
        let windowed = result.rules.filter { $0.validFrom != nil && $0.validUntil != nil }
        #expect(windowed.count == 1)
        #expect(windowed.first?.validFrom == 1_767_571_200)  // 2026-01-05T00:00:00Z
        #expect(windowed.first?.validUntil == 1_775_001_599)  // 2026-03-31T23:59:59Z
        #expect(
            result.rules.first { $0.name == "dbas-get-dba-prod" }?.when
                == .all([
                    .memberOf("cn=dba,ou=groups,dc=tenure,dc=test"),
                    .attributeEquals(attribute: "employeeType", value: "Employee"),
                ])
        )

        #expect(
            result.scope
                == .all([
                    .underDN("ou=people,dc=tenure,dc=test"),
                    .not(.underDN("ou=disabled,ou=people,dc=tenure,dc=test")),
                    .attributeIn(attribute: "employeeType", values: ["Employee", "Contractor"]),
                ])
        )
        #expect(result.protected.contains(.username("breakglass-admin")))
        #expect(result.guardSettings == LeaverGuard(maxLeavers: 5, maxLeaverPercent: 20, maxRevoked: 5))
    }

    /// Whether `condition` or any condition inside it satisfies `predicate`.
    private static func contains(_ condition: Condition, _ predicate: (Condition) -> Bool) -> Bool {
        if predicate(condition) { return true }
        switch condition {
        case .all(let conditions), .any(let conditions): return conditions.contains { contains($0, predicate) }
        case .not(let inner): return contains(inner, predicate)
        default: return false
        }
    }
}
