public import TenureCore

/// The discovery documents a SCIM client reads first (RFC 7644 §4): `/ServiceProviderConfig`,
/// `/ResourceTypes` and `/Schemas`, describing exactly what Tenure implements. `baseURL` is the
/// SCIM root (`https://tenure.example/scim/v2`) for `meta.location`; without it locations are left out.
public enum SCIMDiscovery {
    /// RFC 7643 §5: PATCH and ETags supported; bulk, sort and password changes not; filters up to
    /// `SCIMPageRequest.maximumCount` results; OAuth bearer tokens (RFC 6750).
    public static func serviceProviderConfig(baseURL: String? = nil) -> SCIMValue {
        var object: SCIMObject = [
            "schemas": [.string(SCIMSchema.serviceProviderConfig)],
            "patch": ["supported": true],
            "bulk": ["supported": false, "maxOperations": 0, "maxPayloadSize": 0],
            "filter": ["supported": true, "maxResults": .integer(SCIMPageRequest.maximumCount)],
            "changePassword": ["supported": false],
            "sort": ["supported": false],
            "etag": ["supported": true],
            "authenticationSchemes": [
                [
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "Authentication with a bearer token (Authorization: Bearer …)",
                    "specUri": "https://www.rfc-editor.org/info/rfc6750",
                    "primary": true,
                ]
            ],
        ]
        object["meta"] = Self.meta("ServiceProviderConfig", baseURL.map { $0 + "/ServiceProviderConfig" })
        return .object(object)
    }

    /// RFC 7643 §6: the User resource type, with the Enterprise and Tenure extensions (optional).
    public static func userResourceType(baseURL: String? = nil) -> SCIMValue {
        var object: SCIMObject = [
            "schemas": [.string(SCIMSchema.resourceType)],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person employed (or to be employed) as the HR system records them",
            "schema": .string(SCIMSchema.user),
            "schemaExtensions": [
                ["schema": .string(SCIMSchema.enterpriseUser), "required": false],
                ["schema": .string(SCIMSchema.tenureUser), "required": false],
            ],
        ]
        object["meta"] = Self.meta("ResourceType", baseURL.map { $0 + "/ResourceTypes/User" })
        return .object(object)
    }

    /// `/ResourceTypes` as a list response.
    public static func resourceTypes(baseURL: String? = nil) -> SCIMValue {
        SCIMListResponse(totalResults: 1, startIndex: 1, resources: [Self.userResourceType(baseURL: baseURL)]).body
    }

    /// `/Schemas` as a list response: core User, Enterprise User, Tenure.
    public static func schemas(baseURL: String? = nil) -> SCIMValue {
        let all = [SCIMSchema.user, SCIMSchema.enterpriseUser, SCIMSchema.tenureUser].compactMap {
            Self.schema(id: $0, baseURL: baseURL)
        }
        return SCIMListResponse(totalResults: all.count, startIndex: 1, resources: all).body
    }

    /// `/Schemas/<id>`, or nil for a schema Tenure does not serve.
    public static func schema(id: String, baseURL: String? = nil) -> SCIMValue? {
        let definition: (id: String, name: String, description: String, attributes: [SCIMValue])
        if asciiCaseInsensitiveEqual(id, SCIMSchema.user) {
            definition = (SCIMSchema.user, "User", "User Account", Self.userAttributes)
        } else if asciiCaseInsensitiveEqual(id, SCIMSchema.enterpriseUser) {
            definition = (SCIMSchema.enterpriseUser, "EnterpriseUser", "Enterprise User", Self.enterpriseAttributes)
        } else if asciiCaseInsensitiveEqual(id, SCIMSchema.tenureUser) {
            definition = (SCIMSchema.tenureUser, "TenureUser", "Tenure employment data", Self.tenureAttributes)
        } else {
            return nil
        }
        var object: SCIMObject = [
            "schemas": [.string(SCIMSchema.schema)],
            "id": .string(definition.id),
            "name": .string(definition.name),
            "description": .string(definition.description),
            "attributes": .array(definition.attributes),
        ]
        object["meta"] = Self.meta("Schema", baseURL.map { $0 + "/Schemas/" + definition.id })
        return .object(object)
    }

    private static func meta(_ resourceType: String, _ location: String?) -> SCIMValue {
        var object: SCIMObject = ["resourceType": .string(resourceType)]
        if let location { object["location"] = .string(location) }
        return .object(object)
    }

    /// An attribute definition (RFC 7643 §7).
    private static func attribute(
        _ name: String,
        _ type: String = "string",
        _ description: String,
        multiValued: Bool = false,
        required: Bool = false,
        caseExact: Bool = false,
        mutability: String = "readWrite",
        returned: String = "default",
        uniqueness: String = "none",
        referenceTypes: [String]? = nil,
        subAttributes: [SCIMValue]? = nil
    ) -> SCIMValue {
        var object: SCIMObject = [
            "name": .string(name),
            "type": .string(type),
            "multiValued": .bool(multiValued),
            "description": .string(description),
            "required": .bool(required),
            "mutability": .string(mutability),
            "returned": .string(returned),
        ]
        if type == "string" || type == "reference" {
            object["caseExact"] = .bool(caseExact)
            object["uniqueness"] = .string(uniqueness)
        }
        if let referenceTypes { object["referenceTypes"] = .array(referenceTypes.map(SCIMValue.string)) }
        if let subAttributes { object["subAttributes"] = .array(subAttributes) }
        return .object(object)
    }

    /// `value`, `display`, `type`, `primary`: the sub-attributes of RFC 7643 §2.4.
    private static func multiValuedSubAttributes(_ what: String) -> [SCIMValue] {
        [
            Self.attribute("value", "string", "The \(what)"),
            Self.attribute("display", "string", "A human-readable name"),
            Self.attribute("type", "string", "A label: work, home, other…"),
            Self.attribute("primary", "boolean", "The preferred value"),
        ]
    }

    private static let userAttributes: [SCIMValue] = [
        Self.attribute(
            "userName",
            "string",
            "Unique identifier for the User, typically used to sign in",
            required: true,
            uniqueness: "server"
        ),
        Self.attribute(
            "name",
            "complex",
            "The components of the user's name",
            subAttributes: [
                Self.attribute("formatted", "string", "The full name"),
                Self.attribute("familyName", "string", "The family name"),
                Self.attribute("givenName", "string", "The given name"),
                Self.attribute("middleName", "string", "The middle name(s)"),
                Self.attribute("honorificPrefix", "string", "Prefix, e.g. Ms."),
                Self.attribute("honorificSuffix", "string", "Suffix, e.g. III"),
            ]
        ),
        Self.attribute("displayName", "string", "The name displayed to end users"),
        Self.attribute("nickName", "string", "The casual name"),
        Self.attribute("title", "string", "The user's title"),
        Self.attribute("userType", "string", "The relationship to the organization: Employee, Contractor…"),
        Self.attribute("preferredLanguage", "string", "Preferred language"),
        Self.attribute("locale", "string", "Default location"),
        Self.attribute("timezone", "string", "Time zone (IANA)"),
        Self.attribute("active", "boolean", "Whether the person is active (false: terminated)"),
        Self.attribute(
            "emails",
            "complex",
            "Email addresses",
            multiValued: true,
            subAttributes: Self.multiValuedSubAttributes("email address")
        ),
        Self.attribute(
            "phoneNumbers",
            "complex",
            "Phone numbers",
            multiValued: true,
            subAttributes: Self.multiValuedSubAttributes("phone number")
        ),
        Self.attribute(
            "groups",
            "complex",
            "Groups the user belongs to (not kept by Tenure)",
            multiValued: true,
            mutability: "readOnly",
            subAttributes: Self.multiValuedSubAttributes("group id")
        ),
        Self.attribute(
            "roles",
            "complex",
            "Roles",
            multiValued: true,
            subAttributes: Self.multiValuedSubAttributes("role")
        ),
    ]

    private static let enterpriseAttributes: [SCIMValue] = [
        Self.attribute("employeeNumber", "string", "Numeric or alphanumeric identifier assigned to a person"),
        Self.attribute("costCenter", "string", "Cost center"),
        Self.attribute("organization", "string", "Organization"),
        Self.attribute("division", "string", "Division"),
        Self.attribute("department", "string", "Department"),
        Self.attribute(
            "manager",
            "complex",
            "The user's manager",
            subAttributes: [
                Self.attribute("value", "string", "The manager's id"),
                Self.attribute("$ref", "reference", "The manager's URI", referenceTypes: ["User"]),
                Self.attribute("displayName", "string", "The manager's name", mutability: "readOnly"),
            ]
        ),
    ]

    private static let tenureAttributes: [SCIMValue] = [
        Self.attribute(
            "terminationDate",
            "dateTime",
            "When employment ends (xsd:dateTime); at or after it the person is a leaver"
        )
    ]
}
