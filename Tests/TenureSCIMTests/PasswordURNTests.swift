import Foundation
import TenureCore
import Testing

@testable import TenureSCIM

@Suite struct PasswordURNTests {
    @Test func aPasswordUnderItsFullyQualifiedNameIsNotKept() throws {
        let body =
            #"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "urn:ietf:params:scim:schemas:core:2.0:User:password": "hunter2"}"#
        let user = try SCIMUser(json: Data(body.utf8))
        #expect(!user.storedJSON.contains("hunter2"))
        #expect(user.userName == "x")
    }

    /// Core attributes inside an object named by the core schema: taken to the top level, and the
    /// password in it dropped — on create and by a path-less PATCH.
    @Test func aPasswordInsideACoreSchemaObjectIsNotKept() throws {
        let body =
            #"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "urn:ietf:params:scim:schemas:core:2.0:User": {"password": "hunter2", "title": "DBA"}}"#
        let user = try SCIMUser(json: Data(body.utf8))
        #expect(!user.storedJSON.contains("hunter2"))
        #expect(user.attributes["urn:ietf:params:scim:schemas:core:2.0:User"] == nil)
        #expect(user.attributes["title"] == "DBA")
        let plain = try SCIMUser(
            json: Data(#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x"}"#.utf8)
        )
        let patchedUser = try patched(
            plain,
            #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"password":"hunter2"}}}]}"#
        )
        #expect(!patchedUser.storedJSON.contains("hunter2"))
    }
}
