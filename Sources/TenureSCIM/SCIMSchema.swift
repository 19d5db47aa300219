import TenureCore

/// The schema and message URNs Tenure reads and writes.
public enum SCIMSchema {
    /// The core User schema (RFC 7643 §4.1).
    public static let user = "urn:ietf:params:scim:schemas:core:2.0:User"
    /// The Enterprise User extension (RFC 7643 §4.3): employeeNumber, costCenter, organization,
    /// division, department, manager.
    public static let enterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    /// Tenure's extension: `terminationDate` (xsd:dateTime). Neither RFC 7643 nor the Enterprise
    /// extension defines a termination date; Microsoft Entra and Okta send one only as a custom
    /// extension attribute mapped by the administrator (Entra: "Editing the list of supported
    /// attributes" in learn.microsoft.com/entra/identity/app-provisioning/customize-application-attributes;
    /// Okta: custom attributes under an extension URN), so Tenure names its own.
    public static let tenureUser = "urn:ietf:params:scim:schemas:extension:tenure:2.0:User"

    /// RFC 7644 §3.5.2.
    public static let patchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    /// RFC 7644 §3.4.2.
    public static let listResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    /// RFC 7644 §3.12.
    public static let error = "urn:ietf:params:scim:api:messages:2.0:Error"
    /// RFC 7643 §5.
    public static let serviceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    /// RFC 7643 §6.
    public static let resourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    /// RFC 7643 §7.
    public static let schema = "urn:ietf:params:scim:schemas:core:2.0:Schema"

    /// The extensions whose attributes Tenure understands.
    public static let knownExtensions = [enterpriseUser, tenureUser]
}
