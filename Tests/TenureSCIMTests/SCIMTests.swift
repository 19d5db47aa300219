import Foundation
import TenureCore
import Testing

@testable import TenureSCIM

@Suite("SCIM users: parsing, validation, rendering")
struct SCIMUserTests {
    @Test func oktaCreateKeepsTheResourceButNeverThePassword() throws {
        let okta = try user(oktaCreate)
        #expect(okta.userName == "test.user@okta.local")
        #expect(okta.externalId == "00ujl29u0le5T6Aj10h7")
        #expect(okta.active)
        #expect(okta.displayName == "Test User")
        #expect(okta.name?.givenName == "Test" && okta.name?.familyName == "User")
        #expect(okta.emails == [okta.emails[0]] && okta.emails[0].value == "test.user@okta.local")
        #expect(okta.emails[0].primary && okta.emails[0].type == "work")
        #expect(okta.employeeNumber == nil && okta.terminationDate == nil)
        // Unknown-to-Tenure core attributes stay; password (write-only) and groups (read-only) go.
        #expect(okta.attributes["locale"] == "en-US")
        #expect(okta.attributes["password"] == nil && okta.attributes["groups"] == nil)
        #expect(!okta.storedJSON.contains("password") && !okta.storedJSON.contains("placeholder"))
        // The stored form reads back the same.
        #expect(try SCIMUser(storedJSON: okta.storedJSON) == okta)
    }

    @Test func oktaPutIgnoresTheClientsIdAndMeta() throws {
        let put = try user(oktaPut)
        #expect(put.attributes["id"] == nil && put.attributes["meta"] == nil)
        #expect(put.name?.givenName == "Another" && put.name?.middleName == "")
    }

    @Test func entraCreateWithTheEnterpriseSchema() throws {
        let entra = try user(entraCreate)
        #expect(entra.userName == "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1")
        #expect(entra.externalId == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        #expect(entra.attributes["roles"] == nil)  // [] is unassigned (RFC 7643 §2.5)
        #expect(entra.schemas == [SCIMSchema.user, SCIMSchema.enterpriseUser])
        #expect(entra.name?.formatted == "givenName familyName")
    }

    @Test func enterpriseAndTenureExtensions() throws {
        let hr = try user(
            """
            {
              "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
              "userName": "bjensen@example.com",
              "active": "True",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "costCenter": "4130",
                "department": "Tour Operations",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
              },
              "urn:ietf:params:scim:schemas:extension:tenure:2.0:User": {
                "terminationDate": "2026-03-31T19:00:00+02:00"
              },
              "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"worksiteId": "180"},
              "favouriteColour": "teal"
            }
            """
        )
        #expect(hr.active)
        #expect(hr.employeeNumber == "701984")
        #expect(hr.department == "Tour Operations")
        #expect(hr.managerID == "26118915-6090-4610-87e4-49d8ca9f808d")
        let end = try #require(hr.terminationDate)
        #expect(SCIMDateTime.format(end) == "2026-03-31T17:00:00Z")
        // Normalized to UTC in the resource.
        #expect(hr.attributes[SCIMSchema.tenureUser]?[scim: "terminationDate"] == "2026-03-31T17:00:00Z")
        // Unknown attributes and extensions are kept, and every extension is named in schemas.
        #expect(hr.attributes["favouriteColour"] == "teal")
        #expect(hr.attributes["urn:ietf:params:scim:schemas:extension:custom:2.0:User"]?[scim: "worksiteId"] == "180")
        #expect(
            Set(hr.schemas) == [
                SCIMSchema.user, SCIMSchema.enterpriseUser, SCIMSchema.tenureUser,
                "urn:ietf:params:scim:schemas:extension:custom:2.0:User",
            ]
        )
        #expect(hr.hrStatus(asOf: end - 1) == .employed)
        #expect(hr.hrStatus(asOf: end) == .terminated(reason: "HR: terminationDate 2026-03-31T17:00:00Z has passed"))
    }

    @Test func inactiveIsTerminatedWhateverTheDate() throws {
        let leaver = try user(
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":false}"#
        )
        #expect(leaver.hrStatus(asOf: 0) == .terminated(reason: "HR: active is false"))
        #expect(leaver.hrStatus(asOf: 0).isTerminated)
        // No active attribute: employed (until a termination date says otherwise).
        let quiet = try user(#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"y"}"#)
        #expect(quiet.active && quiet.hrStatus(asOf: 0) == .employed)
    }

    @Test func managerGivenAsAnIdBecomesAComplexValue() throws {
        let hr = try user(
            """
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"}}
            """
        )
        #expect(hr.managerID == "m-1")
        #expect(hr.schemas.contains(SCIMSchema.enterpriseUser))
    }

    @Test(
        arguments: [
            (#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}"#, "userName"),
            (#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":42}"#, "userName"),
            (#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"  "}"#, "userName"),
            (#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":"yes"}"#, "active"),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","externalId":7}"#,
                "externalId"
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","name":{"givenName":5}}"#,
                "name.givenName"
            ),
            (#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":"a@b"}"#, "emails"),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[{"value":1}]}"#,
                "emails.value"
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[{"value":"a","primary":"often"}]}"#,
                "emails.primary"
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":701984}}"#,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","urn:ietf:params:scim:schemas:extension:tenure:2.0:User":{"terminationDate":"soon"}}"#,
                "urn:ietf:params:scim:schemas:extension:tenure:2.0:User:terminationDate"
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","urn:ietf:params:scim:schemas:extension:tenure:2.0:User":{"terminationDate":"2026-02-30"}}"#,
                "urn:ietf:params:scim:schemas:extension:tenure:2.0:User:terminationDate"
            ),
        ]
    )
    func attributeTypeErrorsAreInvalidValueWithThePath(json: String, attribute: String) throws {
        let error = scimError { _ = try user(json) }
        #expect(error?.status == 400)
        #expect(error?.scimType == .invalidValue)
        #expect(error?.attribute == attribute)
        #expect(error?.detail.hasPrefix(attribute + ":") == true)
    }

    @Test func structureErrorsAreInvalidSyntax() throws {
        for body in [
            "not json",
            "[1]",
            #"{"userName":"x"}"#,
            #"{"schemas":["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"x"}"#,
            #"{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"x"}"#,
        ] {
            let error = scimError { _ = try user(body) }
            #expect(error?.scimType == .invalidSyntax)
            #expect(error?.status == 400)
        }
    }

    @Test func valuesNeverAppearInErrors() throws {
        let error = scimError {
            _ = try user(
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":"hunter2"}"#
            )
        }
        #expect(error?.detail.contains("hunter2") == false)
    }

    @Test func renderingAddsIdAndMetaWithAWeakETag() throws {
        let okta = try user(oktaCreate)
        let meta = SCIMMeta(
            created: 1_764_000_000,
            lastModified: 1_764_000_060.5,
            version: 3,
            location: "https://tenure.example/scim/v2/Users/u-1"
        )
        let body = try foundationJSON(okta.resource(id: "u-1", meta: meta))
        #expect(body["id"] as? String == "u-1")
        #expect(body["userName"] as? String == "test.user@okta.local")
        #expect(body["password"] == nil)
        let rendered = try #require(body["meta"] as? [String: Any])
        #expect(rendered["resourceType"] as? String == "User")
        #expect(rendered["created"] as? String == "2025-11-24T16:00:00Z")
        #expect(rendered["lastModified"] as? String == "2025-11-24T16:01:00.500Z")
        #expect(rendered["version"] as? String == #"W/"3""#)
        #expect(rendered["location"] as? String == "https://tenure.example/scim/v2/Users/u-1")
        #expect(meta.etag == #"W/"3""#)
    }

    @Test func ifMatchNamesOneVersion() throws {
        #expect(try SCIMETag.version(ifMatch: #"W/"3""#) == 3)
        #expect(try SCIMETag.version(ifMatch: #" "12" "#) == 12)
        #expect(try SCIMETag.version(ifMatch: "*") == nil)
        for header in [#"W/"abc""#, "3", #""""#, #"W/"1", W/"2""#, #"W/"-1""#] {
            let error = scimError { _ = try SCIMETag.version(ifMatch: header) }
            #expect(error?.status == 412)
        }
    }

    @Test func dateTimes() {
        #expect(SCIMDateTime.parse("2026-03-31T17:00:00Z") == 1_774_976_400)
        #expect(SCIMDateTime.parse("2026-03-31T17:00:00.250Z") == 1_774_976_400.25)
        #expect(SCIMDateTime.parse("2026-03-31T12:00:00-05:00") == 1_774_976_400)
        #expect(SCIMDateTime.parse("2026-03-31T17:00:00") == 1_774_976_400)
        #expect(SCIMDateTime.parse("2026-03-31") == 1_774_915_200)
        #expect(SCIMDateTime.parse("2024-02-29") != nil)
        for bad in ["2025-02-29", "2026-13-01", "2026-03-31T24:00:00Z", "2026-03-31T17:00Z", "31/03/2026", ""] {
            #expect(SCIMDateTime.parse(bad) == nil, "\(bad)")
        }
        #expect(SCIMDateTime.format(1_774_976_400) == "2026-03-31T17:00:00Z")
    }
}

@Suite("SCIM errors, lists and discovery")
struct SCIMResponseTests {
    @Test func errorBodiesCarryTheStatusAsAString() throws {
        let body = try foundationJSON(SCIMError.invalidFilter("operator 'co' is not supported").body)
        #expect(body["schemas"] as? [String] == ["urn:ietf:params:scim:api:messages:2.0:Error"])
        #expect(body["status"] as? String == "400")
        #expect(body["scimType"] as? String == "invalidFilter")
        #expect(body["detail"] as? String == "operator 'co' is not supported")

        let notFound = try foundationJSON(SCIMError.notFound("no User u-9").body)
        #expect(notFound["status"] as? String == "404")
        #expect(notFound["scimType"] == nil)

        #expect(SCIMError.uniqueness("userName").status == 409)
        #expect(SCIMError.uniqueness("userName").scimType == .uniqueness)
        #expect(SCIMError.preconditionFailed("stale").status == 412)
        #expect(SCIMError.mutability("id", "is read-only").scimType == .mutability)
    }

    @Test func pageRequestsClampAndCap() throws {
        #expect(SCIMPageRequest() == SCIMPageRequest(startIndex: 1, count: SCIMPageRequest.defaultCount))
        #expect(SCIMPageRequest(startIndex: 0, count: -5) == SCIMPageRequest(startIndex: 1, count: 0))
        #expect(SCIMPageRequest(startIndex: 3, count: 10_000).count == SCIMPageRequest.maximumCount)
        #expect(try SCIMPageRequest(startIndex: "21", count: "10") == SCIMPageRequest(startIndex: 21, count: 10))
        #expect(try SCIMPageRequest(startIndex: nil, count: "0").count == 0)
        #expect(try SCIMPageRequest(startIndex: nil, count: "99999999999999999999999").count == 200)
        #expect(try SCIMPageRequest(startIndex: "21", count: nil).offset == 20)
        let error = scimError { _ = try SCIMPageRequest(startIndex: "first", count: nil) }
        #expect(error?.scimType == .invalidValue && error?.attribute == "startIndex")
        for bad in ["", " ", "1.5", "٣"] {
            #expect(scimError { _ = try SCIMPageRequest(startIndex: nil, count: bad) }?.attribute == "count")
        }
    }

    @Test func listResponses() throws {
        let page = SCIMListResponse(totalResults: 7, startIndex: 3, resources: [["id": "a"], ["id": "b"]])
        let body = try foundationJSON(page.body)
        #expect(body["schemas"] as? [String] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        #expect(body["totalResults"] as? Int == 7)
        #expect(body["startIndex"] as? Int == 3)
        #expect(body["itemsPerPage"] as? Int == 2)
        #expect((body["Resources"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["a", "b"])

        // count=0: the total only.
        let totalOnly = try foundationJSON(SCIMListResponse(totalResults: 7, startIndex: 1, resources: []).body)
        #expect(totalOnly["totalResults"] as? Int == 7 && totalOnly["itemsPerPage"] as? Int == 0)
    }

    @Test func serviceProviderConfig() throws {
        let config = try foundationJSON(SCIMDiscovery.serviceProviderConfig(baseURL: "https://tenure.example/scim/v2"))
        #expect(config["schemas"] as? [String] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
        func supported(_ name: String) -> Bool? { (config[name] as? [String: Any])?["supported"] as? Bool }
        #expect(supported("patch") == true)
        #expect(supported("bulk") == false)
        #expect(supported("filter") == true)
        #expect(supported("changePassword") == false)
        #expect(supported("sort") == false)
        #expect(supported("etag") == true)
        #expect((config["filter"] as? [String: Any])?["maxResults"] as? Int == 200)
        let bulk = try #require(config["bulk"] as? [String: Any])
        #expect(bulk["maxOperations"] as? Int == 0 && bulk["maxPayloadSize"] as? Int == 0)
        let schemes = try #require(config["authenticationSchemes"] as? [[String: Any]])
        #expect(schemes.count == 1)
        #expect(schemes[0]["type"] as? String == "oauthbearertoken")
        #expect(schemes[0]["name"] is String && schemes[0]["description"] is String)
        let meta = try #require(config["meta"] as? [String: Any])
        #expect(meta["location"] as? String == "https://tenure.example/scim/v2/ServiceProviderConfig")
    }

    @Test func resourceTypes() throws {
        let list = try foundationJSON(SCIMDiscovery.resourceTypes())
        #expect(list["totalResults"] as? Int == 1)
        let user = try #require((list["Resources"] as? [[String: Any]])?.first)
        #expect(user["schemas"] as? [String] == ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"])
        #expect(user["id"] as? String == "User" && user["name"] as? String == "User")
        #expect(user["endpoint"] as? String == "/Users")
        #expect(user["schema"] as? String == SCIMSchema.user)
        let extensions = try #require(user["schemaExtensions"] as? [[String: Any]])
        #expect(
            extensions.compactMap { $0["schema"] as? String } == [SCIMSchema.enterpriseUser, SCIMSchema.tenureUser]
        )
        #expect(extensions.allSatisfy { $0["required"] as? Bool == false })
    }

    @Test func schemas() throws {
        let list = try foundationJSON(SCIMDiscovery.schemas(baseURL: "https://tenure.example/scim/v2"))
        let schemas = try #require(list["Resources"] as? [[String: Any]])
        #expect(list["totalResults"] as? Int == 3)
        #expect(
            schemas.compactMap { $0["id"] as? String } == [
                SCIMSchema.user, SCIMSchema.enterpriseUser, SCIMSchema.tenureUser,
            ]
        )
        for schema in schemas {
            #expect(schema["schemas"] as? [String] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"])
            let attributes = try #require(schema["attributes"] as? [[String: Any]])
            #expect(!attributes.isEmpty)
            for attribute in attributes {
                #expect(attribute["name"] is String && attribute["type"] is String)
                #expect(attribute["multiValued"] is Bool && attribute["required"] is Bool)
                #expect(attribute["mutability"] is String && attribute["returned"] is String)
            }
        }
        let userName = try #require(
            (schemas[0]["attributes"] as? [[String: Any]])?.first { $0["name"] as? String == "userName" }
        )
        #expect(userName["required"] as? Bool == true && userName["uniqueness"] as? String == "server")
        #expect(userName["caseExact"] as? Bool == false)
        let tenure = try #require((schemas[2]["attributes"] as? [[String: Any]])?.first)
        #expect(tenure["name"] as? String == "terminationDate" && tenure["type"] as? String == "dateTime")
        #expect(SCIMDiscovery.schema(id: "urn:example:unknown") == nil)
        let meta = try #require(schemas[1]["meta"] as? [String: Any])
        #expect(meta["location"] as? String == "https://tenure.example/scim/v2/Schemas/" + SCIMSchema.enterpriseUser)
    }
}
