import Foundation
import TenureCore
import TenureSCIM
import Testing

/// Parses a literal request body as a User.
func user(_ json: String) throws -> SCIMUser {
    try SCIMUser(json: Data(json.utf8))
}

/// Parses a literal PATCH body.
func patch(_ json: String) throws -> SCIMPatchRequest {
    try SCIMPatchRequest(json: Data(json.utf8))
}

/// Applies a PATCH body to a copy of `user`.
func patched(_ user: SCIMUser, _ json: String, id: String? = nil) throws -> SCIMUser {
    var copy = user
    try copy.apply(try patch(json), id: id)
    return copy
}

/// A value encoded and decoded back through Foundation, as a client would read it.
func foundationJSON(_ value: SCIMValue) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: value.jsonData()) as? [String: Any])
}

/// The SCIM error `body` throws (failing the test when it throws nothing or something else).
func scimError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> SCIMError? {
    #expect(throws: SCIMError.self, sourceLocation: sourceLocation) { try body() }
}

// MARK: - Payloads modelled on the vendors' documented requests

/// Okta's create (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20, "Create users"):
/// core schema only, `groups: []`, and a password (Tenure must drop it). The password is a placeholder.
let oktaCreate = """
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "userName": "test.user@okta.local",
      "name": {"givenName": "Test", "familyName": "User"},
      "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
      "displayName": "Test User",
      "locale": "en-US",
      "externalId": "00ujl29u0le5T6Aj10h7",
      "groups": [],
      "password": "placeholder-not-a-secret",
      "active": true
    }
    """

/// Okta's PUT (the whole resource again, with the id and meta Okta read back).
let oktaPut = """
    {
      "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
      "userName": "test.user@okta.local",
      "name": {"givenName": "Another", "middleName": "", "familyName": "User"},
      "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
      "active": true,
      "groups": [],
      "meta": {"resourceType": "User"}
    }
    """

/// Okta's deactivation (a path-less replace).
let oktaDeactivate = """
    {
      "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations": [{"op": "replace", "value": {"active": false}}]
    }
    """

/// Microsoft Entra's create (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
/// "Create User"): core + enterprise schemas, client `meta`, `roles: []`.
let entraCreate = """
    {
      "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
      "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
      "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
      "active": true,
      "emails": [{
        "primary": true,
        "type": "work",
        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
      }],
      "meta": {"resourceType": "User"},
      "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName"
      },
      "roles": []
    }
    """

/// Entra's "Update User [Multi-valued properties]": `Replace`, a value-filtered path and a dotted one.
let entraUpdateEmail = """
    {
      "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations": [
        {"op": "Replace", "path": "emails[type eq \\"work\\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
      ]
    }
    """

/// Entra's "Disable User".
let entraDisable = """
    {
      "Operations": [{"op": "Replace", "path": "active", "value": false}],
      "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
    }
    """

/// Entra before its 2020 SCIM fixes: path-less, `active` as the string "False".
let entraLegacyDisable = """
    {
      "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      "Operations": [{"op": "Replace", "value": {"active": "False"}}]
    }
    """
