import TenureCore
import Testing

@testable import TenureSCIM

private let enterpriseUser = try! user(
    """
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "userName": "BJensen@example.com",
      "externalId": "Ext-1",
      "active": true,
      "emails": [{"value": "Babs@Example.com", "type": "work"}, {"value": "babs@home.example", "type": "home"}],
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E701984"}
    }
    """
)

@Suite("SCIM filters")
struct SCIMFilterTests {
    @Test(
        arguments: [
            (#"userName eq "bjensen@example.com""#, true),
            (#"UserName EQ "BJENSEN@EXAMPLE.COM""#, true),
            (#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#, true),
            (#"userName eq "bjensen""#, false),
            (#"externalId eq "Ext-1""#, true),
            (#"externalId eq "ext-1""#, false),  // caseExact
            ("active eq true", true),
            ("active Eq False", false),
            (#"emails.value eq "babs@example.com""#, true),
            (#"emails eq "BABS@HOME.EXAMPLE""#, true),
            (#"emails.value eq "nobody@example.com""#, false),
            (#"employeeNumber eq "e701984""#, true),
            (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E701984""#, true),
            (#"id eq "u-1""#, true),
            (#"id eq "U-1""#, false),
            (#"userName eq "x" or active eq true"#, true),
            (#"userName eq "x" and active eq true"#, false),
            (#"(userName eq "x" or externalId eq "Ext-1") and active eq true"#, true),
            (#"userName eq "x" or externalId eq "Ext-1" and active eq false"#, false),
            (#"userName eq "bjensen@example.com" AND (active eq false OR emails.value eq "babs@home.example")"#, true),
        ]
    )
    func goodFiltersMatch(filter: String, expected: Bool) throws {
        let parsed = try SCIMFilter(parsing: filter)
        #expect(parsed.matches(enterpriseUser, id: "u-1") == expected)
    }

    @Test func andBindsTighterThanOr() throws {
        let parsed = try SCIMFilter(parsing: #"userName eq "a" or userName eq "b" and active eq true"#)
        #expect(
            parsed
                == .or(
                    .equals(.userName, "a"),
                    .and(.equals(.userName, "b"), .equals(.active, true))
                )
        )
    }

    @Test func stringLiteralsAreJSONStrings() throws {
        let parsed = try SCIMFilter(parsing: #"userName eq "say \"hi\"\u00e9""#)
        #expect(parsed == .equals(.userName, "say \"hi\"é"))
    }

    @Test func requiredEqualitiesComeFromTheTopLevelConjunction() throws {
        let filter = try SCIMFilter(parsing: #"userName eq "a" and active eq true and emails.value eq "e""#)
        #expect(filter.requiredEqualities == SCIMFilterEqualities(userName: "a", active: true))
        let mixed = try SCIMFilter(parsing: #"externalId eq "x" and (userName eq "a" or userName eq "b")"#)
        #expect(mixed.requiredEqualities == SCIMFilterEqualities(externalId: "x"))
        let either = try SCIMFilter(parsing: #"userName eq "a" or externalId eq "x""#)
        #expect(either.requiredEqualities == SCIMFilterEqualities())
    }

    @Test(
        arguments: [
            "",
            "   ",
            #"userName ne "x""#,
            #"userName co "x""#,
            #"userName sw "x""#,
            "userName pr",
            #"title eq "x""#,
            #"name.givenName eq "x""#,
            #"not (active eq true)"#,
            "userName eq",
            #"userName "x""#,
            #"userName eq "x" and"#,
            #"active eq "true""#,
            "userName eq true",
            "userName eq null",
            "userName eq 42",
            #"emails[type eq "work"]"#,
            #"(userName eq "x""#,
            #"userName eq "x")"#,
            #"userName eq "x" active eq true"#,
            #"userName eq "unterminated"#,
            #"userName eq "bad \q escape""#,
            #"userName xx "x""#,
            "and",
        ]
    )
    func badFiltersAreInvalidFilter(filter: String) {
        let error = scimError { _ = try SCIMFilter(parsing: filter) }
        #expect(error?.status == 400)
        #expect(error?.scimType == .invalidFilter)
    }

    @Test func nestingAndLengthAreBounded() throws {
        let deep = String(repeating: "(", count: 40) + #"userName eq "x""# + String(repeating: ")", count: 40)
        #expect(scimError { _ = try SCIMFilter(parsing: deep) }?.scimType == .invalidFilter)
        let fine = String(repeating: "(", count: 10) + #"userName eq "x""# + String(repeating: ")", count: 10)
        #expect(try SCIMFilter(parsing: fine) == .equals(.userName, "x"))
        let long = #"userName eq ""# + String(repeating: "a", count: 5_000) + "\""
        #expect(scimError { _ = try SCIMFilter(parsing: long) }?.scimType == .invalidFilter)
    }
}
