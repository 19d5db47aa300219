import Testing

@testable import TenureConfig

/// One invalid mappings file and the exact error it must produce.
struct MappingsErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var lines: [String]
    var line: Int
    var column: Int
    var keyPath: String
    /// A part of the message that must appear.
    var message: String

    var testDescription: String { self.name }
    var yaml: String { self.lines.joined(separator: "\n") + "\n" }
}

/// Two valid roles, lines 1–7: `dba-prod` (eligible, line 2) and `auditor` (standing, line 5).
private let roles = [
    "roles:",
    "  - name: dba-prod",
    "    tier: 0",
    "    mode: eligible",
    "  - name: auditor",
    "    tier: 2",
    "    mode: standing",
]

/// `rules:` with one rule granting `grant` (lines 8–11), then `extra` lines from line 12.
private func rule(grant: String = "dba-prod", _ extra: [String] = []) -> [String] {
    ["rules:", "  - name: r1", "    when: {memberOf: dba}", "    grant: \(grant)"] + extra
}

/// `scope:` (line 1) with the given condition lines.
private func scope(_ lines: [String]) -> [String] {
    ["scope:"] + lines.map { "  " + $0 }
}

private let roleErrors: [MappingsErrorCase] = [
    MappingsErrorCase(
        name: "unknown top-level key with a suggestion",
        lines: ["role:", "  - name: x"],
        line: 1,
        column: 1,
        keyPath: "role",
        message:
            "unknown key \"role\" (did you mean \"roles\"?); valid keys here: roles, rules, scope, protected, guard"
    ),
    MappingsErrorCase(
        name: "unknown role key with a suggestion",
        lines: roles + ["    maxActivaton: 4h"],
        line: 8,
        column: 5,
        keyPath: "roles[1].maxActivaton",
        message: "unknown key \"maxActivaton\" (did you mean \"maxActivation\"?)"
    ),
    MappingsErrorCase(
        name: "duplicate YAML key",
        lines: roles + ["    tier: 3"],
        line: 8,
        column: 5,
        keyPath: "roles[1].tier",
        message: "duplicate key \"tier\" (first defined at line 6, column 5)"
    ),
    MappingsErrorCase(
        name: "roles is not a list",
        lines: ["roles:", "  name: dba-prod"],
        line: 2,
        column: 3,
        keyPath: "roles",
        message: "expected a list of roles (- name: …), found a mapping"
    ),
    MappingsErrorCase(
        name: "duplicate role name names both places",
        lines: roles + ["  - name: dba-prod", "    tier: 1", "    mode: standing"],
        line: 8,
        column: 11,
        keyPath: "roles[2].name",
        message: "duplicate role name \"dba-prod\" (first defined at m.yaml:2:11)"
    ),
    MappingsErrorCase(
        name: "role names differing only in case",
        lines: roles + ["  - name: DBA-prod", "    tier: 1", "    mode: standing"],
        line: 8,
        column: 11,
        keyPath: "roles[2].name",
        message: "role name \"DBA-prod\" differs only in case from \"dba-prod\" (defined at m.yaml:2:11)"
    ),
    MappingsErrorCase(
        name: "invalid role name",
        lines: ["roles:", "  - name: dba prod", "    tier: 0", "    mode: standing"],
        line: 2,
        column: 11,
        keyPath: "roles[0].name",
        message: "invalid role name \"dba prod\": use letters, digits, '.', '_' and '-'"
    ),
    MappingsErrorCase(
        name: "missing name",
        lines: ["roles:", "  - tier: 0", "    mode: standing"],
        line: 2,
        column: 5,
        keyPath: "roles[0].name",
        message: "required key is missing; give the role a name, e.g. name: dba-prod"
    ),
    MappingsErrorCase(
        name: "missing tier",
        lines: ["roles:", "  - name: a", "    mode: standing"],
        line: 2,
        column: 5,
        keyPath: "roles[0].tier",
        message: "required key is missing; set the role's tier"
    ),
    MappingsErrorCase(
        name: "negative tier",
        lines: ["roles:", "  - name: a", "    tier: -1", "    mode: standing"],
        line: 3,
        column: 11,
        keyPath: "roles[0].tier",
        message: "must be 0 or more (0 is the most privileged tier), found -1"
    ),
    MappingsErrorCase(
        name: "fractional tier",
        lines: ["roles:", "  - name: a", "    tier: 1.5", "    mode: standing"],
        line: 3,
        column: 11,
        keyPath: "roles[0].tier",
        message: "expected an integer >= 0 (0 is the most privileged tier), found the number \"1.5\""
    ),
    MappingsErrorCase(
        name: "tier as a word",
        lines: ["roles:", "  - name: a", "    tier: zero", "    mode: standing"],
        line: 3,
        column: 11,
        keyPath: "roles[0].tier",
        message: "expected an integer >= 0 (0 is the most privileged tier), found the string \"zero\""
    ),
    MappingsErrorCase(
        name: "missing mode",
        lines: ["roles:", "  - name: a", "    tier: 0"],
        line: 2,
        column: 5,
        keyPath: "roles[0].mode",
        message: "required key is missing; set mode: eligible"
    ),
    MappingsErrorCase(
        name: "null mode",
        lines: ["roles:", "  - name: a", "    tier: 0", "    mode:"],
        line: 4,
        column: 10,
        keyPath: "roles[0].mode",
        message: "cannot be null; set mode: eligible (activated just in time) or mode: standing"
    ),
    MappingsErrorCase(
        name: "misspelt mode",
        lines: ["roles:", "  - name: a", "    tier: 0", "    mode: eligable"],
        line: 4,
        column: 11,
        keyPath: "roles[0].mode",
        message: "unknown value \"eligable\" (did you mean \"eligible\"?); expected one of: eligible, standing"
    ),
    MappingsErrorCase(
        name: "maxActivation on a standing role",
        lines: roles + ["    maxActivation: 90"],
        line: 8,
        column: 20,
        keyPath: "roles[1].maxActivation",
        message: "maxActivation applies only to eligible roles; this role is standing"
    ),
    MappingsErrorCase(
        name: "duration without a unit (eligible role)",
        lines: Array(roles[0...3]) + ["    maxActivation: 90"],
        line: 5,
        column: 20,
        keyPath: "roles[0].maxActivation",
        message: "duration \"90\" has no unit; write e.g. 90s, 90m or 90h"
    ),
    MappingsErrorCase(
        name: "duration with an unknown unit",
        lines: Array(roles[0...3]) + ["    maxActivation: 4x"],
        line: 5,
        column: 20,
        keyPath: "roles[0].maxActivation",
        message: "invalid duration \"4x\"; write a number with a unit: s, m, h or d (90m, 4h, 1d, 1h30m)"
    ),
    MappingsErrorCase(
        name: "zero duration",
        lines: Array(roles[0...3]) + ["    maxActivation: 0m"],
        line: 5,
        column: 20,
        keyPath: "roles[0].maxActivation",
        message: "duration \"0m\" must be longer than 0"
    ),
    MappingsErrorCase(
        name: "overflowing duration",
        lines: Array(roles[0...3]) + ["    maxActivation: 99999999999999999d"],
        line: 5,
        column: 20,
        keyPath: "roles[0].maxActivation",
        message: "duration \"99999999999999999d\" is too long"
    ),
    MappingsErrorCase(
        name: "unknown requirement with a suggestion",
        lines: Array(roles[0...3]) + ["    requirements: [mfa, aproval]"],
        line: 5,
        column: 25,
        keyPath: "roles[0].requirements[1]",
        message:
            "unknown value \"aproval\" (did you mean \"approval\"?); "
            + "expected one of: approval, mfa, justification, ticket"
    ),
    MappingsErrorCase(
        name: "requirements on a standing role",
        lines: roles + ["    requirements: [mfa]"],
        line: 8,
        column: 19,
        keyPath: "roles[1].requirements",
        message: "requirements apply to activating an eligible role; this role is standing"
    ),
    MappingsErrorCase(
        name: "bad write-back group DN",
        lines: Array(roles[0...3]) + ["    writeBackGroup: \"cn=dba-prod,,dc=test\""],
        line: 5,
        column: 21,
        keyPath: "roles[0].writeBackGroup",
        message: "invalid DN \"cn=dba-prod,,dc=test\""
    ),
    MappingsErrorCase(
        name: "two roles with one write-back group",
        lines: Array(roles[0...3]) + ["    writeBackGroup: \"cn=x,dc=test\""] + Array(roles[4...6])
            + ["    writeBackGroup: \"CN=X, DC=test\""],
        line: 9,
        column: 21,
        keyPath: "roles[1].writeBackGroup",
        message: "cn=x,dc=test is already the write-back group of role \"dba-prod\" (m.yaml:5:21)"
    ),
    MappingsErrorCase(
        name: "drift without a write-back group",
        lines: roles + ["    drift: revert"],
        line: 8,
        column: 12,
        keyPath: "roles[1].drift",
        message: "drift applies to the role's write-back group; set writeBackGroup or remove drift"
    ),
    MappingsErrorCase(
        name: "unknown drift policy",
        lines: Array(roles[0...3]) + ["    writeBackGroup: \"cn=x,dc=test\"", "    drift: fix"],
        line: 6,
        column: 12,
        keyPath: "roles[0].drift",
        message: "unknown value \"fix\"; expected one of: alert, revert, adopt"
    ),
    MappingsErrorCase(
        name: "a role that conflicts with itself",
        lines: roles + ["    conflicts: [dba-prod, auditor]"],
        line: 8,
        column: 27,
        keyPath: "roles[1].conflicts[1]",
        message: "role \"auditor\" cannot conflict with itself; conflicts name other roles"
    ),
    MappingsErrorCase(
        name: "unknown role in conflicts",
        lines: roles + ["    conflicts: [dba-prd]"],
        line: 8,
        column: 17,
        keyPath: "roles[1].conflicts[0]",
        message: "unknown role \"dba-prd\" (did you mean \"dba-prod\"?); defined roles: dba-prod, auditor"
    ),
]

private let ruleErrors: [MappingsErrorCase] = [
    MappingsErrorCase(
        name: "unknown role in grant",
        lines: roles + rule(grant: "dba-prd"),
        line: 11,
        column: 12,
        keyPath: "rules[0].grant",
        message: "unknown role \"dba-prd\" (did you mean \"dba-prod\"?); defined roles: dba-prod, auditor"
    ),
    MappingsErrorCase(
        name: "grant with no roles defined anywhere",
        lines: rule(grant: "dba-prod"),
        line: 4,
        column: 12,
        keyPath: "rules[0].grant",
        message: "unknown role \"dba-prod\"; no roles are defined (define them under roles:)"
    ),
    MappingsErrorCase(
        name: "duplicate rule name names both places",
        lines: roles + rule() + ["  - name: r1", "    when: {memberOf: sre}", "    grant: auditor"],
        line: 12,
        column: 11,
        keyPath: "rules[1].name",
        message: "duplicate rule name \"r1\" (first defined at m.yaml:9:11)"
    ),
    MappingsErrorCase(
        name: "missing when",
        lines: roles + ["rules:", "  - name: r1", "    grant: dba-prod"],
        line: 9,
        column: 5,
        keyPath: "rules[0].when",
        message: "required key is missing; say who the rule applies to"
    ),
    MappingsErrorCase(
        name: "missing grant",
        lines: roles + ["rules:", "  - name: r1", "    when: {memberOf: dba}"],
        line: 9,
        column: 5,
        keyPath: "rules[0].grant",
        message: "required key is missing; name the role the rule grants"
    ),
    MappingsErrorCase(
        name: "a standing role granted as eligible",
        lines: roles + rule(grant: "auditor", ["    as: eligible"]),
        line: 12,
        column: 9,
        keyPath: "rules[0].as",
        message: "role \"auditor\" is standing (m.yaml:5:11); it cannot be granted as eligible"
    ),
    MappingsErrorCase(
        name: "unknown as",
        lines: roles + rule(["    as: permanent"]),
        line: 12,
        column: 9,
        keyPath: "rules[0].as",
        message: "unknown value \"permanent\"; expected one of: eligible, standing"
    ),
    MappingsErrorCase(
        name: "impossible month",
        lines: roles + rule(["    validFrom: 2026-13-01T00:00:00Z"]),
        line: 12,
        column: 16,
        keyPath: "rules[0].validFrom",
        message: "invalid timestamp \"2026-13-01T00:00:00Z\": there is no month 13"
    ),
    MappingsErrorCase(
        name: "29 February outside a leap year",
        lines: roles + rule(["    validUntil: 2026-02-29T00:00:00Z"]),
        line: 12,
        column: 17,
        keyPath: "rules[0].validUntil",
        message: "invalid timestamp \"2026-02-29T00:00:00Z\": 2026-02 has no day 29"
    ),
    MappingsErrorCase(
        name: "hour 24",
        lines: roles + rule(["    validUntil: 2026-02-01T24:00:00Z"]),
        line: 12,
        column: 17,
        keyPath: "rules[0].validUntil",
        message: "invalid timestamp \"2026-02-01T24:00:00Z\": the time of day is out of range"
    ),
    MappingsErrorCase(
        name: "a date without a time",
        lines: roles + rule(["    validUntil: 2026-12-31"]),
        line: 12,
        column: 17,
        keyPath: "rules[0].validUntil",
        message: "\"2026-12-31\" is a date without a time; write the time and zone, e.g. 2026-12-31T00:00:00Z"
    ),
    MappingsErrorCase(
        name: "a timestamp without a zone",
        lines: roles + rule(["    validFrom: 2026-01-01T08:00:00"]),
        line: 12,
        column: 16,
        keyPath: "rules[0].validFrom",
        message: "timestamp \"2026-01-01T08:00:00\" has no time zone; add Z (UTC) or an offset"
    ),
    MappingsErrorCase(
        name: "not a timestamp",
        lines: roles + rule(["    validFrom: next monday"]),
        line: 12,
        column: 16,
        keyPath: "rules[0].validFrom",
        message: "invalid timestamp \"next monday\"; expected ISO 8601 with a time zone"
    ),
    MappingsErrorCase(
        name: "validFrom after validUntil",
        lines: roles
            + rule(["    validFrom: 2026-12-31T23:59:59Z", "    validUntil: 2026-01-01T00:00:00Z"]),
        line: 13,
        column: 17,
        keyPath: "rules[0].validUntil",
        message: "validUntil must be after validFrom (m.yaml:12:16); the rule would never apply"
    ),
    MappingsErrorCase(
        name: "validFrom equal to validUntil (offsets taken into account)",
        lines: roles
            + rule(["    validFrom: 2026-06-01T12:00:00+02:00", "    validUntil: 2026-06-01T10:00:00Z"]),
        line: 13,
        column: 17,
        keyPath: "rules[0].validUntil",
        message: "validUntil must be after validFrom"
    ),
    MappingsErrorCase(
        name: "memberOf naming a write-back group by DN",
        lines: Array(roles[0...3]) + ["    writeBackGroup: \"cn=dba-prod,ou=privileged,dc=test\""]
            + Array(roles[4...6])
            + [
                "rules:", "  - name: r1", "    when: {memberOf: \"CN=dba-prod, OU=privileged, DC=test\"}",
                "    grant: auditor",
            ],
        line: 11,
        column: 22,
        keyPath: "rules[0].when.memberOf",
        message: "cn=dba-prod,ou=privileged,dc=test is the write-back group of role \"dba-prod\" (m.yaml:5:21); "
            + "Tenure writes that group"
    ),
    MappingsErrorCase(
        name: "memberOf naming a write-back group by name, inside not",
        lines: Array(roles[0...3]) + ["    writeBackGroup: \"cn=dba-prod,ou=privileged,dc=test\""]
            + Array(roles[4...6])
            + ["rules:", "  - name: r1", "    when: {not: {memberOf: DBA-Prod}}", "    grant: auditor"],
        line: 11,
        column: 28,
        keyPath: "rules[0].when.not.memberOf",
        message: "group name \"DBA-Prod\" also names cn=dba-prod,ou=privileged,dc=test, the write-back group of role "
            + "\"dba-prod\" (m.yaml:5:21)"
    ),
]

private let conditionErrors: [MappingsErrorCase] = [
    MappingsErrorCase(
        name: "empty condition",
        lines: ["scope: {}"],
        line: 1,
        column: 8,
        keyPath: "scope",
        message: "expected a condition (one of memberOf, attribute, underDN, all, any, not), found a mapping"
    ),
    MappingsErrorCase(
        name: "condition that is a string",
        lines: ["scope: everyone"],
        line: 1,
        column: 8,
        keyPath: "scope",
        message: "expected a condition (one of memberOf, attribute, underDN, all, any, not), found the string "
            + "\"everyone\""
    ),
    MappingsErrorCase(
        name: "unknown condition key with a suggestion",
        lines: scope(["memberof: dba"]),
        line: 2,
        column: 3,
        keyPath: "scope.memberof",
        message: "unknown key \"memberof\" (did you mean \"memberOf\"?)"
    ),
    MappingsErrorCase(
        name: "two operators in one condition",
        lines: scope(["memberOf: dba", "underDN: \"ou=people,dc=test\""]),
        line: 3,
        column: 3,
        keyPath: "scope.underDN",
        message: "a condition has exactly one of memberOf, attribute, underDN, all, any, not; this one already has "
            + "memberOf (combine several with all: or any:)"
    ),
    MappingsErrorCase(
        name: "attribute with no comparison",
        lines: scope(["all:", "  - memberOf: dba", "  - attribute: employeeType"]),
        line: 4,
        column: 7,
        keyPath: "scope.all[1].attribute",
        message: "attribute needs exactly one of equals, in, matches"
    ),
    MappingsErrorCase(
        name: "attribute with two comparisons",
        lines: scope(["attribute: employeeType", "equals: employee", "in: [employee]"]),
        line: 4,
        column: 3,
        keyPath: "scope.in",
        message: "attribute takes exactly one of equals, in, matches; this condition already has equals"
    ),
    MappingsErrorCase(
        name: "a comparison without attribute",
        lines: scope(["equals: employee"]),
        line: 2,
        column: 3,
        keyPath: "scope.equals",
        message: "equals compares an attribute; add attribute: (the attribute to compare)"
    ),
    MappingsErrorCase(
        name: "a comparison beside another operator",
        lines: scope(["memberOf: dba", "matches: \"x.*\""]),
        line: 3,
        column: 3,
        keyPath: "scope.matches",
        message: "matches goes with attribute:, not with memberOf:"
    ),
    MappingsErrorCase(
        name: "bad regex",
        lines: scope(["attribute: title", "matches: \"(Senior \""]),
        line: 3,
        column: 12,
        keyPath: "scope.matches",
        message: "invalid regular expression \"(Senior \": expected ')'"
    ),
    MappingsErrorCase(
        name: "bad regex range",
        lines: scope(["attribute: title", "matches: \"[z-a]+\""]),
        line: 3,
        column: 12,
        keyPath: "scope.matches",
        message: "invalid regular expression \"[z-a]+\": character 'z' must compare less than or equal to 'a'"
    ),
    MappingsErrorCase(
        name: "invalid attribute name",
        lines: scope(["attribute: \"employee type\"", "equals: x"]),
        line: 2,
        column: 14,
        keyPath: "scope.attribute",
        message: "invalid attribute description \"employee type\""
    ),
    MappingsErrorCase(
        name: "empty in",
        lines: scope(["attribute: employeeType", "in: []"]),
        line: 3,
        column: 7,
        keyPath: "scope.in",
        message: "in needs at least one value"
    ),
    MappingsErrorCase(
        name: "empty all",
        lines: scope(["all: []"]),
        line: 2,
        column: 8,
        keyPath: "scope.all",
        message: "all needs at least one condition"
    ),
    MappingsErrorCase(
        name: "empty any, nested",
        lines: scope(["not:", "  any:"]),
        line: 3,
        column: 5,
        keyPath: "scope.not.any",
        message: "any needs at least one condition (an empty any has no clear meaning)"
    ),
    MappingsErrorCase(
        name: "empty any list, nested",
        lines: scope(["not:", "  any: []"]),
        line: 3,
        column: 10,
        keyPath: "scope.not.any",
        message: "any needs at least one condition"
    ),
    MappingsErrorCase(
        name: "not given a list",
        lines: scope(["not: [memberOf: dba]"]),
        line: 2,
        column: 8,
        keyPath: "scope.not",
        message: "expected a condition (one of memberOf, attribute, underDN, all, any, not), found a list"
    ),
    MappingsErrorCase(
        name: "bad memberOf DN",
        lines: scope(["memberOf: \"cn=dba,dc\""]),
        line: 2,
        column: 13,
        keyPath: "scope.memberOf",
        message: "invalid DN \"cn=dba,dc\""
    ),
    MappingsErrorCase(
        name: "bad underDN",
        lines: scope(["any:", "  - underDN: \"ou=people,,dc=test\""]),
        line: 3,
        column: 16,
        keyPath: "scope.any[0].underDN",
        message: "invalid DN \"ou=people,,dc=test\""
    ),
    MappingsErrorCase(
        name: "root DN in underDN",
        lines: scope(["underDN: \"\""]),
        line: 2,
        column: 12,
        keyPath: "scope.underDN",
        message: "cannot be empty; name a subtree by its DN"
    ),
]

private let policyErrors: [MappingsErrorCase] = [
    MappingsErrorCase(
        name: "protected account with two keys",
        lines: ["protected:", "  - username: breakglass", "    dn: \"uid=breakglass,dc=test\""],
        line: 3,
        column: 5,
        keyPath: "protected[0].dn",
        message: "name the account with exactly one of username, id, dn; this one already has username"
    ),
    MappingsErrorCase(
        name: "protected account with an unknown key",
        lines: ["protected:", "  - user: breakglass"],
        line: 2,
        column: 5,
        keyPath: "protected[0].user",
        message: "unknown key \"user\"; valid keys here: username, id, dn"
    ),
    MappingsErrorCase(
        name: "protected account as a bare string",
        lines: ["protected:", "  - breakglass"],
        line: 2,
        column: 5,
        keyPath: "protected[0]",
        message: "expected an account (- username: …, - id: … or - dn: …), found the string \"breakglass\""
    ),
    MappingsErrorCase(
        name: "protected account with a bad DN",
        lines: ["protected:", "  - dn: breakglass"],
        line: 2,
        column: 9,
        keyPath: "protected[0].dn",
        message: "invalid DN"
    ),
    MappingsErrorCase(
        name: "negative maxLeavers",
        lines: ["guard:", "  maxLeavers: -1"],
        line: 2,
        column: 15,
        keyPath: "guard.maxLeavers",
        message: "must be 0 or more (0 holds any plan with a leaver)"
    ),
    MappingsErrorCase(
        name: "maxLeavers not a number",
        lines: ["guard:", "  maxLeavers: many"],
        line: 2,
        column: 15,
        keyPath: "guard.maxLeavers",
        message: "expected an integer >= 0, found the string \"many\""
    ),
    MappingsErrorCase(
        name: "maxLeaverPercent above 100",
        lines: ["guard:", "  maxLeaverPercent: 150"],
        line: 2,
        column: 21,
        keyPath: "guard.maxLeaverPercent",
        message: "must be between 0 and 100 (a percentage), found 150"
    ),
    MappingsErrorCase(
        name: "maxLeaverPercent negative",
        lines: ["guard:", "  maxLeaverPercent: -0.5"],
        line: 2,
        column: 21,
        keyPath: "guard.maxLeaverPercent",
        message: "must be between 0 and 100 (a percentage), found -0.5"
    ),
    MappingsErrorCase(
        name: "maxLeaverPercent with a percent sign",
        lines: ["guard:", "  maxLeaverPercent: 10%"],
        line: 2,
        column: 21,
        keyPath: "guard.maxLeaverPercent",
        message: "expected a percentage between 0 and 100, found the string \"10%\""
    ),
    MappingsErrorCase(
        name: "negative maxRevoked",
        lines: ["guard:", "  maxRevoked: -2"],
        line: 2,
        column: 15,
        keyPath: "guard.maxRevoked",
        message: "must be 0 or more (0 holds any plan that takes a role from someone who stays)"
    ),
    MappingsErrorCase(
        name: "maxRevokedPercent above 100",
        lines: ["guard:", "  maxRevokedPercent: 101"],
        line: 2,
        column: 22,
        keyPath: "guard.maxRevokedPercent",
        message: "must be between 0 and 100 (a percentage), found 101"
    ),
    MappingsErrorCase(
        name: "unknown guard key",
        lines: ["guard:", "  maxLeaver: 5"],
        line: 2,
        column: 3,
        keyPath: "guard.maxLeaver",
        message: "unknown key \"maxLeaver\" (did you mean \"maxLeavers\"?)"
    ),
    MappingsErrorCase(
        name: "YAML syntax error",
        lines: ["roles:", "  - name: [a"],
        line: 3,
        column: 1,
        keyPath: "",
        message: "YAML syntax error"
    ),
]

@Suite("Mappings: errors name file:line:column")
struct MappingsErrorTests {
    @Test("roles", arguments: roleErrors)
    func roleError(_ testCase: MappingsErrorCase) {
        Self.expect(testCase)
    }

    @Test("rules", arguments: ruleErrors)
    func ruleError(_ testCase: MappingsErrorCase) {
        Self.expect(testCase)
    }

    @Test("conditions", arguments: conditionErrors)
    func conditionError(_ testCase: MappingsErrorCase) {
        Self.expect(testCase)
    }

    @Test("scope, protected and guard", arguments: policyErrors)
    func policyError(_ testCase: MappingsErrorCase) {
        Self.expect(testCase)
    }

    private static func expect(_ testCase: MappingsErrorCase, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: ConfigError.self, sourceLocation: sourceLocation) {
            try MappingsLoader.parse(yaml: testCase.yaml, file: "m.yaml")
        }
        guard let error else { return }
        #expect(error.file == "m.yaml", sourceLocation: sourceLocation)
        #expect(error.line == testCase.line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.column == testCase.column, "\(error)", sourceLocation: sourceLocation)
        #expect(error.keyPath == testCase.keyPath, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(testCase.message), "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix("m.yaml:\(testCase.line):\(testCase.column): "))
    }
}
