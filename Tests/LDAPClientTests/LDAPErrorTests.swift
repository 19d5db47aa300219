import Testing

@testable import LDAPClient

@Suite struct LDAPErrorTests {
    @Test func describesCodeNameDiagnosticAndPlace() {
        let error = LDAPError(
            operation: .search,
            code: .sizeLimitExceeded,
            diagnosticMessage: "limit reached",
            server: "ldap://127.0.0.1:3890",
            dn: "ou=people,dc=t",
            filter: "(objectClass=person)",
            context: "page 2"
        )
        let text = error.description
        #expect(text.contains("sizeLimitExceeded (4)"))
        #expect(text.contains("limit reached"))
        #expect(text.contains("ou=people,dc=t"))
        #expect(text.contains("(objectClass=person)"))
        #expect(text.contains("page 2"))
    }

    @Test func secretsPrintRedacted() {
        let secret = LDAPSecret("hunter2-very-secret")
        let bind = LDAPBindMethod.simple(dn: "cn=a", password: secret)
        let options = LDAPConnectionOptions(urls: ["ldap://127.0.0.1"], bind: bind)
        for text in ["\(secret)", String(reflecting: secret), "\(bind)", "\(options)", String(reflecting: options)] {
            #expect(!text.contains("hunter2"), "leaked in: \(text)")
        }
        var dumped = ""
        dump(options, to: &dumped)
        #expect(!dumped.contains("hunter2"))
    }

    @Test func connectivityCodesFailOverButCredentialsDoNot() {
        #expect(LDAPResultCode.serverDown.isConnectivityFailure)
        #expect(LDAPResultCode.connectError.isConnectivityFailure)
        #expect(!LDAPResultCode.invalidCredentials.isConnectivityFailure)
    }
}
