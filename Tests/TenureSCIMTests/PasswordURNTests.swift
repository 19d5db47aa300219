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
}
