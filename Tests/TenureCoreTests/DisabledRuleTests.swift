import Testing

@testable import TenureCore

@Suite struct DisabledRuleTests {
    /// 2026-01-01T00:00:00Z.
    static let now: Double = 1_767_225_600

    static func fileTime(_ unix: Double) -> String {
        String(Int64(unix * 10_000_000) + 116_444_736_000_000_000)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var rule: DisabledRule
        var attributes: [String: [String]]
        var dn = "uid=x,ou=people,dc=t"
        var disabled: Bool
        var testDescription: String { "\(self.rule) \(self.attributes) → \(self.disabled)" }
    }

    static let cases: [Case] = [
        Case(rule: .userAccountControl, attributes: ["useraccountcontrol": ["514"]], disabled: true),
        Case(rule: .userAccountControl, attributes: ["useraccountcontrol": ["512"]], disabled: false),
        Case(rule: .userAccountControl, attributes: ["useraccountcontrol": ["66050"]], disabled: true),
        Case(rule: .userAccountControl, attributes: [:], disabled: false),
        Case(rule: .userAccountControl, attributes: ["useraccountcontrol": ["junk"]], disabled: false),
        Case(rule: .accountExpires, attributes: ["accountexpires": [fileTime(now - 86_400)]], disabled: true),
        Case(rule: .accountExpires, attributes: ["accountexpires": [fileTime(now + 86_400)]], disabled: false),
        Case(rule: .accountExpires, attributes: ["accountexpires": ["0"]], disabled: false),
        Case(rule: .accountExpires, attributes: ["accountexpires": ["9223372036854775807"]], disabled: false),
        Case(rule: .pwdAccountLockedTime, attributes: ["pwdaccountlockedtime": ["000001010000Z"]], disabled: true),
        // A temporary lockout after failed binds is not a leaver.
        Case(rule: .pwdAccountLockedTime, attributes: ["pwdaccountlockedtime": ["20260101120000Z"]], disabled: false),
        Case(rule: .nsAccountLock, attributes: ["nsaccountlock": ["TRUE"]], disabled: true),
        Case(rule: .nsAccountLock, attributes: ["nsaccountlock": ["false"]], disabled: false),
        Case(
            rule: .attributeEquals(attribute: "employeeType", value: "Terminated"),
            attributes: ["employeetype": ["contractor", "terminated"]],
            disabled: true
        ),
        Case(
            rule: .attributeEquals(attribute: "employeeType", value: "terminated"),
            attributes: ["employeetype": ["employee"]],
            disabled: false
        ),
        Case(rule: .underDN("ou=disabled,dc=t"), attributes: [:], dn: "uid=x,ou=disabled,dc=t", disabled: true),
        Case(rule: .underDN("ou=disabled,dc=t"), attributes: [:], dn: "ou=disabled,dc=t", disabled: true),
        // A suffix that is not on an RDN boundary is not "under".
        Case(rule: .underDN("ou=disabled,dc=t"), attributes: [:], dn: "uid=x,ou=notdisabled,dc=t", disabled: false),
    ]

    @Test(arguments: cases)
    func rule(_ testCase: Case) {
        let reason = testCase.rule.reason(
            values: { testCase.attributes[$0.lowercased()] ?? [] },
            normalizedDN: testCase.dn,
            now: Self.now
        )
        #expect((reason != nil) == testCase.disabled)
    }
}
