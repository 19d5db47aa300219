public import Foundation
public import TenureCore

/// A SCIM User (RFC 7643 §4.1) with the Enterprise User extension (§4.3) and Tenure's
/// `terminationDate` extension, as Tenure keeps it: the whole resource, unknown attributes and
/// unknown extensions included, validated and normalized.
///
/// What normalization does (all of it idempotent, so a stored resource re-reads unchanged):
/// - drops `id` and `meta` (read-only: the server assigns them, RFC 7644 §3.3 and §3.5.1 say
///   client values are ignored), `groups` (read-only in RFC 7643 §4.1.2; Okta sends `"groups": []`)
///   and `password` (write-only, `returned: never`; Okta sends one on create — Tenure never
///   stores a secret);
/// - drops null attributes and empty multi-valued attributes (RFC 7643 §2.5: unassigned, null and
///   `[]` are the same state);
/// - turns `"True"`/`"False"` strings in `active` and `primary` into booleans (Microsoft Entra's
///   provisioning service sent booleans as strings before its 2020 SCIM fixes:
///   learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility);
/// - a `manager` given as a bare id string becomes `{"value": id}`;
/// - `terminationDate` is rewritten in UTC (`2026-03-31T17:00:00Z`);
/// - adds the URN of every extension present to `schemas`.
///
/// Validation errors are `invalidValue` naming the attribute path (`active`, `name.givenName`,
/// `urn:…:enterprise:2.0:User:employeeNumber`); `schemas` without the core User schema is
/// `invalidSyntax`. Attributes Tenure does not know are kept as sent.
public struct SCIMUser: Hashable, Sendable {
    /// The resource's attributes (no `id`, `meta`, `password` or `groups`), normalized.
    public internal(set) var attributes: SCIMObject

    /// Validates and normalizes a resource (a request body, a PATCH result or a stored resource).
    public init(resource: SCIMValue) throws(SCIMError) {
        guard let object = resource.objectValue else {
            throw SCIMError.invalidSyntax("a User resource must be a JSON object")
        }
        self.attributes = try Self.normalize(object)
    }

    /// Parses and validates a request body (POST or PUT).
    public init(json data: Data) throws(SCIMError) {
        try self.init(resource: try SCIMValue.parse(data))
    }

    /// Reads a resource as `storedJSON` wrote it.
    public init(storedJSON: String) throws(SCIMError) {
        try self.init(json: Data(storedJSON.utf8))
    }

    /// The resource as the store keeps it: canonical JSON (sorted keys), without `id` and `meta`.
    public var storedJSON: String { SCIMValue.object(self.attributes).jsonText() }

    /// The resource as a response carries it: the attributes with `id` and `meta`.
    public func resource(id: String, meta: SCIMMeta) -> SCIMValue {
        var object = self.attributes
        object["id"] = .string(id)
        object["meta"] = meta.value
        return .object(object)
    }

    // MARK: - Attributes

    public var schemas: [String] {
        self.attributes.scimValue(forKey: "schemas")?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// Required, unique (ignoring ASCII case).
    public var userName: String {
        self.attributes.scimValue(forKey: "userName")?.stringValue ?? ""
    }

    /// The HR system's own id for the person; unique when present, compared exactly.
    public var externalId: String? {
        self.attributes.scimValue(forKey: "externalId")?.stringValue
    }

    /// Whether the person is active. An absent `active` counts as true: employment then rests on
    /// `terminationDate` (every vendor payload Tenure was modelled on sends `active`).
    public var active: Bool {
        self.attributes.scimValue(forKey: "active")?.boolValue ?? true
    }

    public var displayName: String? {
        self.attributes.scimValue(forKey: "displayName")?.stringValue
    }

    public var name: SCIMName? {
        self.attributes.scimValue(forKey: "name")?.objectValue.map(SCIMName.init(object:))
    }

    public var emails: [SCIMEmail] {
        (self.attributes.scimValue(forKey: "emails")?.arrayValue ?? []).compactMap { element in
            element.objectValue.map(SCIMEmail.init(object:))
        }
    }

    /// The Enterprise extension's `employeeNumber`.
    public var employeeNumber: String? {
        self.enterprise?.scimValue(forKey: "employeeNumber")?.stringValue
    }

    /// The Enterprise extension's `department`.
    public var department: String? {
        self.enterprise?.scimValue(forKey: "department")?.stringValue
    }

    /// The Enterprise extension's `manager.value` (the manager's SCIM id).
    public var managerID: String? {
        self.enterprise?.scimValue(forKey: "manager")?[scim: "value"]?.stringValue
    }

    /// Tenure's `terminationDate`, seconds since 1970: the end of employment, past or future.
    public var terminationDate: Double? {
        self.attributes.scimValue(forKey: SCIMSchema.tenureUser)?[scim: "terminationDate"]?.stringValue
            .flatMap(SCIMDateTime.parse)
    }

    private var enterprise: SCIMObject? {
        self.attributes.scimValue(forKey: SCIMSchema.enterpriseUser)?.objectValue
    }

    // MARK: - Normalization

    /// Core singular string attributes (RFC 7643 §4.1.1).
    private static let singularStrings = [
        "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone",
    ]

    /// Core multi-valued complex attributes (RFC 7643 §4.1.2) Tenure keeps; `groups` is read-only.
    static let multiValued = [
        "emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles", "x509Certificates",
    ]

    /// Enterprise string attributes (RFC 7643 §4.3).
    private static let enterpriseStrings = ["employeeNumber", "costCenter", "organization", "division", "department"]

    static func normalize(_ input: SCIMObject) throws(SCIMError) -> SCIMObject {
        var object = input
        // Core attributes sent inside an object named by the core schema (`"urn:…:core:2.0:User":
        // {…}`, which RFC 7643 does not define) are taken to the top level — what is there already
        // wins — so that nothing, a password least of all, is kept hidden inside it.
        while let key = object.scimKey(for: SCIMSchema.user) {
            let nested = object[key]?.objectValue ?? [:]
            object[key] = nil
            for (member, value) in nested where object.scimKey(for: member) == nil { object[member] = value }
        }
        for dropped in ["id", "meta", "password", "groups"] {
            while object.removeSCIMValue(forKey: dropped) {}
            // Also as a fully qualified name (RFC 7644 §3.10: `urn:…:core:2.0:User:password`).
            while object.removeSCIMValue(forKey: SCIMSchema.user + ":" + dropped) {}
        }
        for (key, value) in object {
            switch value {
            case .null: object[key] = nil
            case .array(let items) where items.isEmpty: object[key] = nil
            default: break
            }
        }

        guard let schemasKey = object.scimKey(for: "schemas"), let schemaValues = object[schemasKey]?.arrayValue,
            schemaValues.allSatisfy({ $0.stringValue != nil })
        else {
            throw SCIMError.invalidSyntax("schemas: a User needs a schemas array naming \(SCIMSchema.user)")
        }
        var schemas = schemaValues.compactMap(\.stringValue)
        guard schemas.contains(where: { asciiCaseInsensitiveEqual($0, SCIMSchema.user) }) else {
            throw SCIMError.invalidSyntax("schemas: a User's schemas must include \(SCIMSchema.user)")
        }

        guard let userName = object.scimValue(forKey: "userName") else {
            throw SCIMError.invalidValue("userName", "is required")
        }
        guard let text = userName.stringValue, text.contains(where: { !$0.isWhitespace }) else {
            throw SCIMError.invalidValue("userName", "must be a non-empty string")
        }
        if let externalId = object.scimValue(forKey: "externalId"), externalId.stringValue == nil {
            throw SCIMError.invalidValue("externalId", "must be a string")
        }
        if let key = object.scimKey(for: "active") {
            object[key] = .bool(try Self.boolean(object[key]!, "active"))
        }
        for name in Self.singularStrings {
            if let value = object.scimValue(forKey: name), value.stringValue == nil {
                throw SCIMError.invalidValue(name, "must be a string")
            }
        }
        if let key = object.scimKey(for: "name") {
            object[key] = .object(try Self.stringObject(object[key]!, "name"))
        }
        for name in Self.multiValued {
            guard let key = object.scimKey(for: name) else { continue }
            object[key] = try Self.multiValuedComplex(object[key]!, name)
        }
        if let key = object.scimKey(for: SCIMSchema.enterpriseUser) {
            object[key] = .object(try Self.enterprise(object[key]!))
        }
        if let key = object.scimKey(for: SCIMSchema.tenureUser) {
            object[key] = .object(try Self.tenure(object[key]!))
        }

        // Every extension present is named in schemas (RFC 7643 §3: "schemas" lists the schema
        // and extension URIs the resource uses).
        for (key, value) in object where hasASCIICaseInsensitivePrefix(key, "urn:") && value.objectValue != nil {
            if !schemas.contains(where: { asciiCaseInsensitiveEqual($0, key) }) { schemas.append(key) }
        }
        object[schemasKey] = .array(schemas.map(SCIMValue.string))
        return object
    }

    /// A boolean, or `"true"`/`"false"` in any case (Entra's pre-2020 strings).
    static func boolean(_ value: SCIMValue, _ path: String) throws(SCIMError) -> Bool {
        switch value {
        case .bool(let flag): return flag
        case .string(let text) where asciiCaseInsensitiveEqual(text, "true"): return true
        case .string(let text) where asciiCaseInsensitiveEqual(text, "false"): return false
        default: throw SCIMError.invalidValue(path, "must be a boolean")
        }
    }

    /// A complex attribute whose members must all be strings (nulls dropped).
    private static func stringObject(_ value: SCIMValue, _ path: String) throws(SCIMError) -> SCIMObject {
        guard var object = value.objectValue else {
            throw SCIMError.invalidValue(path, "must be an object")
        }
        for (key, member) in object {
            switch member {
            case .null: object[key] = nil
            case .string: break
            default: throw SCIMError.invalidValue("\(path).\(key)", "must be a string")
            }
        }
        return object
    }

    private static func multiValuedComplex(_ value: SCIMValue, _ path: String) throws(SCIMError) -> SCIMValue? {
        guard let items = value.arrayValue else {
            throw SCIMError.invalidValue(path, "must be an array")
        }
        var out: [SCIMValue] = []
        for item in items {
            guard var element = item.objectValue else {
                throw SCIMError.invalidValue(path, "every value must be an object")
            }
            for (key, member) in element where member == .null { element[key] = nil }
            for name in ["value", "display", "type"] {
                if let member = element.scimValue(forKey: name), member.stringValue == nil,
                    !(path == "addresses" || (path == "x509Certificates" && name == "value"))
                {
                    throw SCIMError.invalidValue("\(path).\(name)", "must be a string")
                }
            }
            if let key = element.scimKey(for: "primary") {
                element[key] = .bool(try Self.boolean(element[key]!, "\(path).primary"))
            }
            out.append(.object(element))
        }
        return out.isEmpty ? nil : .array(out)
    }

    private static func enterprise(_ value: SCIMValue) throws(SCIMError) -> SCIMObject {
        let urn = SCIMSchema.enterpriseUser
        guard var object = value.objectValue else {
            throw SCIMError.invalidValue(urn, "must be an object")
        }
        for (key, member) in object where member == .null { object[key] = nil }
        for name in Self.enterpriseStrings {
            if let member = object.scimValue(forKey: name), member.stringValue == nil {
                throw SCIMError.invalidValue("\(urn):\(name)", "must be a string")
            }
        }
        if let key = object.scimKey(for: "manager") {
            switch object[key]! {
            case .string(let id):
                object[key] = ["value": .string(id)]
            case .object:
                object[key] = .object(try Self.stringObject(object[key]!, "\(urn):manager"))
            default:
                throw SCIMError.invalidValue("\(urn):manager", "must be an object (or a manager id)")
            }
        }
        return object
    }

    private static func tenure(_ value: SCIMValue) throws(SCIMError) -> SCIMObject {
        let urn = SCIMSchema.tenureUser
        guard var object = value.objectValue else {
            throw SCIMError.invalidValue(urn, "must be an object")
        }
        for (key, member) in object where member == .null { object[key] = nil }
        if let key = object.scimKey(for: "terminationDate") {
            guard let text = object[key]!.stringValue, let time = SCIMDateTime.parse(text) else {
                throw SCIMError.invalidValue("\(urn):terminationDate", "must be an xsd:dateTime")
            }
            object[key] = .string(SCIMDateTime.format(time))
        }
        return object
    }
}

/// The `name` complex attribute (RFC 7643 §4.1.1).
public struct SCIMName: Hashable, Sendable {
    public var formatted: String?
    public var familyName: String?
    public var givenName: String?
    public var middleName: String?
    public var honorificPrefix: String?
    public var honorificSuffix: String?

    init(object: SCIMObject) {
        self.formatted = object.scimValue(forKey: "formatted")?.stringValue
        self.familyName = object.scimValue(forKey: "familyName")?.stringValue
        self.givenName = object.scimValue(forKey: "givenName")?.stringValue
        self.middleName = object.scimValue(forKey: "middleName")?.stringValue
        self.honorificPrefix = object.scimValue(forKey: "honorificPrefix")?.stringValue
        self.honorificSuffix = object.scimValue(forKey: "honorificSuffix")?.stringValue
    }
}

/// One value of `emails` (RFC 7643 §4.1.2).
public struct SCIMEmail: Hashable, Sendable {
    public var value: String?
    /// `work`, `home`, `other`, or anything the client sends.
    public var type: String?
    public var primary: Bool
    public var display: String?

    init(object: SCIMObject) {
        self.value = object.scimValue(forKey: "value")?.stringValue
        self.type = object.scimValue(forKey: "type")?.stringValue
        self.primary = object.scimValue(forKey: "primary")?.boolValue ?? false
        self.display = object.scimValue(forKey: "display")?.stringValue
    }
}

/// A resource's `meta` (RFC 7643 §3.1) as the server sets it.
public struct SCIMMeta: Hashable, Sendable {
    /// Seconds since 1970.
    public var created: Double
    public var lastModified: Double
    /// The store's version: 1, 2, 3 …; the ETag is `W/"<version>"`.
    public var version: Int
    /// The resource's URI (`https://tenure.example/scim/v2/Users/<id>`), when the caller knows its base.
    public var location: String?
    public var resourceType: String

    public init(
        created: Double,
        lastModified: Double,
        version: Int,
        location: String? = nil,
        resourceType: String = "User"
    ) {
        self.created = created
        self.lastModified = lastModified
        self.version = version
        self.location = location
        self.resourceType = resourceType
    }

    /// The weak ETag (RFC 7644 §3.14), also the `ETag` response header.
    public var etag: String { SCIMETag.weak(self.version) }

    public var value: SCIMValue {
        var object: SCIMObject = [
            "resourceType": .string(self.resourceType),
            "created": .string(SCIMDateTime.format(self.created)),
            "lastModified": .string(SCIMDateTime.format(self.lastModified)),
            "version": .string(self.etag),
        ]
        if let location = self.location { object["location"] = .string(location) }
        return .object(object)
    }
}

/// Weak ETags over the store's version number (RFC 7644 §3.14, RFC 7232).
public enum SCIMETag {
    /// `W/"3"`.
    public static func weak(_ version: Int) -> String { "W/\"\(version)\"" }

    /// The version an `If-Match` header requires: nil for `*` (any current version). Strong and
    /// weak forms of Tenure's tags both name the version (`"3"`, `W/"3"`). A tag Tenure never
    /// issued, or a list of several (Tenure compares one version), cannot match: 412.
    public static func version(ifMatch header: String) throws(SCIMError) -> Int? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return nil }
        var tag = Substring(trimmed)
        if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
        guard tag.count >= 3, tag.first == "\"", tag.last == "\"", let version = Int(tag.dropFirst().dropLast()),
            version > 0
        else {
            throw SCIMError.preconditionFailed("If-Match does not name a version of this resource")
        }
        return version
    }
}
