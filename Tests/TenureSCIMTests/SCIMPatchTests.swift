import TenureCore
import Testing

@testable import TenureSCIM

private let enterprise = SCIMSchema.enterpriseUser
private let tenure = SCIMSchema.tenureUser

@Suite("SCIM PATCH")
struct SCIMPatchTests {
    @Test func oktaDeactivatesWithAPathlessReplace() throws {
        let after = try patched(try user(oktaCreate), oktaDeactivate)
        #expect(!after.active)
        #expect(after.hrStatus(asOf: 0) == .terminated(reason: "HR: active is false"))
        #expect(after.userName == "test.user@okta.local")
    }

    @Test func entraDisablesWithAPathAndCapitalizedOp() throws {
        let after = try patched(try user(entraCreate), entraDisable)
        #expect(!after.active)
    }

    @Test func entrasLegacyFalseStringIsABoolean() throws {
        let after = try patched(try user(entraCreate), entraLegacyDisable)
        #expect(after.attributes["active"] == false)
        let withPath = try patched(
            try user(entraCreate),
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#
        )
        #expect(!withPath.active)
        let back = try patched(
            withPath,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}"#
        )
        #expect(back.active)
    }

    @Test func entraUpdatesTheWorkEmailThroughAValueFilter() throws {
        let after = try patched(try user(entraCreate), entraUpdateEmail)
        #expect(after.emails.map(\.value) == ["updatedEmail@microsoft.com"])
        #expect(after.emails.first?.primary == true)  // the other sub-attributes stay
        #expect(after.name?.familyName == "updatedFamilyName")
        #expect(after.name?.givenName == "givenName")
    }

    @Test func valueFiltersThatMatchNothing() throws {
        let entra = try user(entraCreate)
        // remove: noTarget (RFC 7644 §3.5.2).
        for op in ["remove"] {
            let error = scimError {
                _ = try patched(
                    entra,
                    """
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations":[{"op":"\(op)","path":"emails[type eq \\"home\\"].value","value":"h@example.com"}]}
                    """
                )
            }
            #expect(error?.scimType == .noTarget)
            #expect(error?.attribute == #"emails[type eq "home"].value"#)
        }
        // add: the value the filter describes is created (what Entra means by Add).
        let added = try patched(
            entra,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"emails[type eq \"home\"].value","value":"h@example.com"}]}"#
        )
        #expect(added.emails.count == 2)
        #expect(added.emails[1].type == "home" && added.emails[1].value == "h@example.com")
        // replace of a sub-attribute: created too (Entra sends it for a value the user may not
        // have); a deactivation in the same PATCH is applied with it, not refused.
        let replaced = try patched(
            entra,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"home\"].value","value":"h@example.com"},{"op":"Replace","path":"active","value":"False"}]}"#
        )
        #expect(replaced.emails.count == 2 && replaced.emails[1].type == "home")
        #expect(!replaced.active)
        // A replace of a whole value through a filter that matches nothing is still noTarget.
        let whole = scimError {
            _ = try patched(
                entra,
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h@example.com"}}]}"#
            )
        }
        #expect(whole?.scimType == .noTarget)
    }

    @Test func removeThroughAValueFilter() throws {
        let entra = try user(entraCreate)
        let removed = try patched(
            entra,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[type eq \"work\" and primary eq true]"}]}"#
        )
        #expect(removed.emails.isEmpty)
        #expect(removed.attributes["emails"] == nil)  // nothing left: unassigned
    }

    @Test func enterprisePathsWithAndWithoutAPath() throws {
        let entra = try user(entraCreate)
        let numbered = try patched(
            entra,
            """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
              {"op":"Add","path":"\(enterprise):employeeNumber","value":"701984"},
              {"op":"Add","path":"\(enterprise):manager","value":"m-1"},
              {"op":"Replace","path":"\(enterprise):manager.displayName","value":"John Smith"}
            ]}
            """
        )
        #expect(numbered.employeeNumber == "701984")
        #expect(numbered.managerID == "m-1")
        #expect(numbered.attributes[enterprise]?[scim: "manager"]?[scim: "displayName"] == "John Smith")

        // Entra's path-less form: dotted and URN-qualified keys in the value object.
        let pathless = try patched(
            entra,
            """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{
              "userName":"ettie@sawayn.us",
              "name.honorificPrefix":"Dr",
              "\(enterprise):employeeNumber":"G6G00I9RNZ0L",
              "\(enterprise):manager.displayName":"DAV5Z5JXNJ47"
            }}]}
            """
        )
        #expect(pathless.userName == "ettie@sawayn.us")
        #expect(pathless.name?.honorificPrefix == "Dr" && pathless.name?.givenName == "givenName")
        #expect(pathless.employeeNumber == "G6G00I9RNZ0L")
        #expect(pathless.attributes[enterprise]?[scim: "manager"]?[scim: "displayName"] == "DAV5Z5JXNJ47")

        // A whole extension object merges into the existing one.
        let department = try patched(
            numbered,
            """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
              {"op":"replace","value":{"\(enterprise)":{"department":"Finance"}}}]}
            """
        )
        #expect(department.department == "Finance" && department.employeeNumber == "701984")

        // Removing the last attribute of an extension removes the extension.
        let cleared = try patched(
            try user(
                """
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x",
                 "\(enterprise)":{"employeeNumber":"1"}}
                """
            ),
            """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
              {"op":"remove","path":"\(enterprise):employeeNumber"}]}
            """
        )
        #expect(cleared.attributes[enterprise] == nil && cleared.employeeNumber == nil)
    }

    @Test func terminationDateThroughTheTenureExtension() throws {
        let okta = try user(oktaCreate)
        let leaving = try patched(
            okta,
            """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
              {"op":"add","path":"\(tenure):terminationDate","value":"2026-03-31T17:00:00Z"}]}
            """
        )
        #expect(leaving.terminationDate == 1_774_976_400)
        #expect(leaving.schemas.contains(tenure))
        #expect(leaving.hrStatus(asOf: 1_774_976_399) == .employed)
        #expect(leaving.hrStatus(asOf: 1_774_976_400).isTerminated)
        // A bad date is rejected with the attribute's path.
        let error = scimError {
            _ = try patched(
                okta,
                """
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
                  {"op":"add","path":"\(tenure):terminationDate","value":"next Friday"}]}
                """
            )
        }
        #expect(error?.scimType == .invalidValue)
        #expect(error?.attribute == "\(tenure):terminationDate")
    }

    @Test func addReplaceRemoveSemantics() throws {
        let okta = try user(oktaCreate)
        // replace on a complex attribute keeps the sub-attributes not given.
        let renamed = try patched(
            okta,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name","value":{"givenName":"Tess"}}]}"#
        )
        #expect(renamed.name?.givenName == "Tess" && renamed.name?.familyName == "User")
        // add to a multi-valued attribute appends, without repeating a value already there.
        let more = try patched(
            okta,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":[{"value":"alt@example.com","type":"other"},{"primary":true,"value":"test.user@okta.local","type":"work"}]}]}"#
        )
        #expect(more.emails.map(\.value) == ["test.user@okta.local", "alt@example.com"])
        // replace on a multi-valued attribute replaces all of it.
        let only = try patched(
            more,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails","value":[{"value":"new@example.com"}]}]}"#
        )
        #expect(only.emails.map(\.value) == ["new@example.com"])
        // remove of a sub-attribute and of an attribute; removing what is absent is no error.
        let removed = try patched(
            okta,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"name.givenName"},{"op":"remove","path":"displayName"},{"op":"remove","path":"nickName"}]}"#
        )
        #expect(removed.name?.givenName == nil && removed.name?.familyName == "User")
        #expect(removed.displayName == nil)
        // Unknown attributes can be added and are kept.
        let custom = try patched(
            okta,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"costCentre","value":"4130"}]}"#
        )
        #expect(custom.attributes["costCentre"] == "4130")
        // Passwords are never stored, whatever the op.
        let password = try patched(
            okta,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"placeholder"},{"op":"replace","value":{"password":"placeholder"}}]}"#
        )
        #expect(password == okta)
    }

    @Test func readOnlyAndRequiredAttributes() throws {
        let okta = try user(oktaCreate)
        for body in [
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"id","value":"x"}]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"meta.lastModified","value":"x"}]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"userName"}]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"other"}}]}"#,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"meta":{}}}]}"#,
        ] {
            let error = scimError { _ = try patched(okta, body, id: "u-1") }
            #expect(error?.scimType == .mutability, "\(body)")
        }
        // The resource's own id in a path-less value is fine (Okta repeats it).
        let same = try patched(
            okta,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"u-1","active":false}}]}"#,
            id: "u-1"
        )
        #expect(!same.active)
    }

    @Test func aFailingPatchChangesNothing() throws {
        var okta = try user(oktaCreate)
        let before = okta
        let request = try patch(
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Changed"},{"op":"replace","path":"active","value":"perhaps"}]}"#
        )
        #expect(throws: SCIMError.invalidValue("active", "must be a boolean")) { try okta.apply(request) }
        #expect(okta == before)
    }

    @Test(
        arguments: [
            ("not json", SCIMError.ScimType.invalidSyntax),
            (#"{"Operations":[{"op":"replace","path":"active","value":false}]}"#, .invalidSyntax),
            (#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#, .invalidSyntax),
            (#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}"#, .invalidSyntax),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"active"}]}"#,
                .invalidSyntax
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"active"}]}"#,
                .invalidSyntax
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":7,"value":1}]}"#,
                .invalidSyntax
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":false}]}"#,
                .invalidSyntax
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}"#,
                .noTarget
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name..givenName","value":"x"}]}"#,
                .invalidPath
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"","value":"x"}]}"#,
                .invalidPath
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type co \"w\"].value","value":"x"}]}"#,
                .invalidPath
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName[value eq \"x\"]","value":{}}]}"#,
                .invalidPath
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName.first","value":"x"}]}"#,
                .invalidPath
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User","value":{}}]}"#,
                .invalidPath
            ),
            (
                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name","value":"Ada"}]}"#,
                .invalidValue
            ),
        ]
    )
    func malformedPatches(body: String, scimType: SCIMError.ScimType) throws {
        let okta = try user(oktaCreate)
        let error = scimError { _ = try patched(okta, body) }
        #expect(error?.scimType == scimType)
        #expect(error?.status == 400)
    }

    @Test func opNamesIgnoreCase() throws {
        let request = try patch(
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"ADD","path":"title","value":"x"},{"op":"rEpLaCe","path":"title","value":"y"},{"op":"Remove","path":"title"}]}"#
        )
        #expect(request.operations.map(\.op) == [.add, .replace, .remove])
    }

    @Test func paths() throws {
        let filtered = try SCIMPath.parse(#"emails[type eq "work"].value"#, extensions: [])
        #expect(filtered.schema == nil && filtered.attribute == "emails" && filtered.subAttribute == "value")
        #expect(filtered.filter?.terms == [SCIMValueFilter.Term(name: "type", value: "work")])

        let core = try SCIMPath.parse("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", extensions: [])
        #expect(core.schema == nil && core.attribute == "name" && core.subAttribute == "givenName")

        let manager = try SCIMPath.parse("\(enterprise):manager.displayName", extensions: [])
        #expect(manager.schema == enterprise && manager.attribute == "manager" && manager.subAttribute == "displayName")

        let whole = try SCIMPath.parse(enterprise.uppercased(), extensions: [])
        #expect(whole.attribute == nil)

        let custom = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
        #expect(try SCIMPath.parse(custom, extensions: []).attribute == nil)
        let customAttribute = try SCIMPath.parse(custom + ":worksiteId", extensions: [])
        #expect(customAttribute.schema == custom && customAttribute.attribute == "worksiteId")
        let declared = try SCIMPath.parse("urn:example:hr:costCenter", extensions: ["urn:example:hr"])
        #expect(declared.schema == "urn:example:hr" && declared.attribute == "costCenter")
    }
}
