import Foundation
import TenureAccess
import TenureCore
import TenureSCIM
import TenureStore

// The glue between TenureSCIM (which knows no store) and TenureStore (which knows no SCIM):
// SCIMUser ⇄ HRUserFields / HRUserRecord, SCIMFilter → HRUserQuery, HRStoreError → SCIMError;
// `attributes` / `excludedAttributes` projection; query-string parsing; matching an HR user to
// its directory identity.

// MARK: - SCIMUser ⇄ store

extension HRUserFields {
    /// The values the store indexes, and the normalized resource (no id, meta or password).
    init(_ user: SCIMUser) {
        self.init(
            userName: user.userName,
            externalId: user.externalId,
            employeeNumber: user.employeeNumber,
            active: user.active,
            terminationDate: user.terminationDate,
            resourceJSON: user.storedJSON
        )
    }
}

extension HRUserRecord {
    /// The stored resource as a SCIM User.
    func scimUser() throws(SCIMError) -> SCIMUser {
        try SCIMUser(storedJSON: self.resourceJSON)
    }

    /// `meta` for this record; `baseURL` is the SCIM root (`https://host/scim/v2`) when known.
    func scimMeta(baseURL: String?) -> SCIMMeta {
        SCIMMeta(
            created: self.created,
            lastModified: self.lastModified,
            version: self.version,
            location: baseURL.map { "\($0)/Users/\(self.id)" }
        )
    }

    /// The resource a response carries: the stored attributes with `id` and `meta`.
    func scimResource(baseURL: String?) throws(SCIMError) -> SCIMValue {
        try self.scimUser().resource(id: self.id, meta: self.scimMeta(baseURL: baseURL))
    }

    /// What HR says about the person now (a deleted record is a leaver).
    func hrStatus(asOf now: Double) throws(SCIMError) -> HRStatus {
        try self.scimUser().hrStatus(asOf: now)
    }
}

extension HRUserQuery {
    /// The store selects on the filter's required equalities (indexes) and runs the whole filter
    /// on what it finds.
    init(_ filter: SCIMFilter) {
        let equalities = filter.requiredEqualities
        self.init(
            id: equalities.id,
            userName: equalities.userName,
            externalId: equalities.externalId,
            employeeNumber: equalities.employeeNumber,
            active: equalities.active,
            matches: { record in
                (try? record.scimUser()).map { filter.matches($0, id: record.id) } ?? false
            }
        )
    }
}

extension SCIMError {
    /// The SCIM error for a store refusal.
    init(_ error: HRStoreError) {
        switch error.code {
        case .conflict: self = .uniqueness(error.attribute ?? "userName")
        case .notFound: self = .notFound(error.message)
        case .preconditionFailed: self = .preconditionFailed(error.message)
        case .invalidValue: self = .invalidValue(error.attribute ?? "resource", error.message)
        }
    }
}

// MARK: - attributes / excludedAttributes (RFC 7644 §3.4.2.5, §3.9)

/// Which attributes a response returns. `id` and `schemas` are always returned (RFC 7643 §3.1:
/// `id` is `returned: always`). Attribute names are case insensitive; a path may carry its schema
/// URN (`urn:…:enterprise:2.0:User:employeeNumber`), name a whole extension by its URN, or a
/// sub-attribute (`name.givenName`, `emails.value`).
struct SCIMAttributeSelection: Sendable {
    enum Mode: Sendable {
        case all
        case include([String])
        case exclude([String])
    }

    var mode: Mode

    static let all = SCIMAttributeSelection(mode: .all)

    init(mode: Mode) { self.mode = mode }

    /// From the query parameters (comma-separated lists) or a SearchRequest's arrays.
    init(attributes: [String]?, excludedAttributes: [String]?) throws(SCIMError) {
        let included = (attributes ?? []).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let excluded = (excludedAttributes ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if !included.isEmpty, !excluded.isEmpty {
            throw SCIMError.invalidValue("attributes", "attributes and excludedAttributes are mutually exclusive")
        }
        if !included.isEmpty {
            self.mode = .include(included)
        } else if !excluded.isEmpty {
            self.mode = .exclude(excluded)
        } else {
            self.mode = .all
        }
    }

    /// From `attributes=a,b` and `excludedAttributes=c`.
    init(query: SCIMQueryParameters) throws(SCIMError) {
        try self.init(
            attributes: query["attributes"].map(Self.list),
            excludedAttributes: query["excludedAttributes"].map(Self.list)
        )
    }

    private static func list(_ text: String) -> [String] {
        text.split(separator: ",").map(String.init)
    }

    /// A selection tree: `.all` selects a member with everything under it, `.some` only the
    /// listed members (lowercased names) of an object, or of every object in an array.
    indirect enum Node: Sendable {
        case all
        case some([String: Node])

        mutating func insert(_ path: ArraySlice<String>) {
            guard let head = path.first else {
                self = .all
                return
            }
            guard case .some(var children) = self else { return }
            var child = children[head] ?? .some([:])
            child.insert(path.dropFirst())
            children[head] = child
            self = .some(children)
        }
    }

    /// Applies the selection to a resource.
    func apply(_ resource: SCIMValue) -> SCIMValue {
        guard case .object(let object) = resource else { return resource }
        switch self.mode {
        case .all:
            return resource
        case .include(let paths):
            var tree = Node.some([:])
            for path in paths { tree.insert(Self.components(path, in: object)[...]) }
            tree.insert(["id"])
            tree.insert(["schemas"])
            return Self.keep(resource, tree)
        case .exclude(let paths):
            var tree = Node.some([:])
            for path in paths {
                let components = Self.components(path, in: object)
                if components == ["id"] || components == ["schemas"] { continue }
                tree.insert(components[...])
            }
            return Self.drop(resource, tree)
        }
    }

    /// `[urn?, attribute, sub?]`, lowercased; the core schema URN prefix is dropped.
    static func components(_ path: String, in resource: SCIMObject) -> [String] {
        let lower = path.lowercased()
        if lower.hasPrefix("urn:") {
            let core = SCIMSchema.user.lowercased()
            if lower.hasPrefix(core + ":") {
                return Self.dotted(String(lower.dropFirst(core.count + 1)))
            }
            let extensions =
                (SCIMSchema.knownExtensions.map { $0.lowercased() }
                + resource.keys.map { $0.lowercased() }.filter { $0.hasPrefix("urn:") })
                .sorted { $0.count > $1.count }
            for urn in extensions {
                if lower == urn { return [urn] }
                if lower.hasPrefix(urn + ":") { return [urn] + Self.dotted(String(lower.dropFirst(urn.count + 1))) }
            }
            return [lower]
        }
        return Self.dotted(lower)
    }

    private static func dotted(_ text: String) -> [String] {
        text.split(separator: ".", maxSplits: 1).map(String.init)
    }

    private static func keep(_ value: SCIMValue, _ node: Node) -> SCIMValue {
        guard case .some(let children) = node else { return value }
        switch value {
        case .object(let object):
            var out: SCIMObject = [:]
            for (key, member) in object {
                if let child = children[key.lowercased()] { out[key] = Self.keep(member, child) }
            }
            return .object(out)
        case .array(let items):
            return .array(items.map { Self.keep($0, node) })
        default:
            return value
        }
    }

    private static func drop(_ value: SCIMValue, _ node: Node) -> SCIMValue {
        guard case .some(let children) = node else { return value }
        switch value {
        case .object(let object):
            var out: SCIMObject = [:]
            for (key, member) in object {
                switch children[key.lowercased()] {
                case .all?: continue
                case .some(let grandchildren)? where grandchildren.isEmpty: out[key] = member
                case let child?: out[key] = Self.drop(member, child)
                case nil: out[key] = member
                }
            }
            return .object(out)
        case .array(let items):
            return .array(items.map { Self.drop($0, node) })
        default:
            return value
        }
    }
}

// MARK: - Query strings

/// Query parameters as SCIM clients send them: `application/x-www-form-urlencoded` style, so `+`
/// is a space (Java's URLEncoder and Python's httpx both encode spaces in a filter that way) and
/// `%XX` is decoded. Parameter names are case sensitive (RFC 7644 names them exactly).
struct SCIMQueryParameters: Sendable {
    private var values: [String: String] = [:]

    init(_ query: String?) {
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if self.values[key] == nil { self.values[key] = value }
        }
    }

    subscript(_ name: String) -> String? { self.values[name] }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

// MARK: - Matching HR users to directory identities

/// Finds the directory identity an HR user is: the identity whose stable id equals `externalId`
/// (Entra and Okta can send the directory's objectGUID / entryUUID there); else the one active
/// identity whose `employeeNumber` equals the Enterprise `employeeNumber` (ignoring case); else,
/// only when the HR record has no employee number, the one active identity whose username equals
/// `userName` (ignoring case). Several candidates at a step match nothing: a wrong link would
/// offboard the wrong person, or keep a leaver's access tied to someone else's employment.
///
/// Every step is a lookup in the model's indexes (`identities`, `idsByEmployeeNumber`,
/// `idsByUsername`): making a matcher per request costs nothing however many identities there are.
struct HRIdentityMatcher: Sendable {
    let model: AccessModel

    /// HR says the person is gone: inactive, or the termination date has passed.
    static func isTerminated(_ record: HRUserRecord, now: Double) -> Bool {
        !record.active || (record.terminationDate.map { $0 <= now } ?? false)
    }

    init(_ model: AccessModel) {
        self.model = model
    }

    /// - Parameters:
    ///   - now: a record HR has already terminated (inactive, or its termination date passed) is
    ///     never matched by name: the account it would meet may be someone who got the username
    ///     since, and would be offboarded.
    ///   - strongOnly: `externalId` only (for records linked after the fact, by the daemon).
    func identityID(for record: HRUserRecord, now: Double, strongOnly: Bool = false) -> String? {
        if let identityID = self.identityID(byKeysOf: record, strongOnly: strongOnly) { return identityID }
        // An HR record with a number is matched by that number or not at all (a pre-hire until the
        // directory has it): by name it could meet someone else's account — another jsmith — and
        // that person's access would then follow this record's employment.
        guard !strongOnly, !Self.hasEmployeeNumber(record), !Self.isTerminated(record, now: now) else { return nil }
        let active = (self.model.idsByUsername[record.userName.lowercased()] ?? []).filter {
            self.model.identities[$0]?.state == .active
        }
        return active.count == 1 ? active.first : nil
    }

    /// The identity the record's own keys name, never its userName: `externalId`, else the
    /// employee number (`externalId` only when `strongOnly`). For a record HR re-keyed after it was
    /// linked: only these say it is someone else.
    func identityID(byKeysOf record: HRUserRecord, strongOnly: Bool) -> String? {
        if let externalId = record.externalId, self.model.identities[externalId] != nil {
            return externalId
        }
        guard !strongOnly, Self.hasEmployeeNumber(record) else { return nil }
        return self.identityID(byEmployeeNumberOf: record)
    }

    private static func hasEmployeeNumber(_ record: HRUserRecord) -> Bool {
        !(record.employeeNumber ?? "").isEmpty
    }

    /// The one active identity with the record's employee number: the model keeps the active
    /// identities by lowercased, non-empty employee number.
    private func identityID(byEmployeeNumberOf record: HRUserRecord) -> String? {
        guard let number = record.employeeNumber?.lowercased(),
            let candidates = self.model.idsByEmployeeNumber[number], candidates.count == 1
        else { return nil }
        return candidates.first
    }
}
