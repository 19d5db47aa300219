public import Foundation
public import TenureCore

/// A PATCH request (RFC 7644 §3.5.2): `schemas` naming the PatchOp message and `Operations`.
///
/// Accepted as the big provisioning clients send them:
/// - `op` in any case: Microsoft Entra sends `"Add"`, `"Replace"`, `"Remove"` (its documented
///   requests in learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
/// - no `path`, with a `value` object whose keys are attribute paths: Okta deactivates with
///   `{"op": "replace", "value": {"active": false}}` (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20),
///   and Entra sends dotted and URN-qualified keys such as `"name.givenName"` or
///   `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"`;
/// - `active` (and `primary`) as the strings `"True"`/`"False"` (Entra before its 2020 fixes:
///   learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility);
/// - `Add` with a value-filtered path whose filter matches nothing (`emails[type eq "work"].value`
///   for a user without a work email, which Entra sends): the value the filter describes is added.
public struct SCIMPatchRequest: Hashable, Sendable {
    /// One operation.
    public struct Operation: Hashable, Sendable {
        public enum Kind: String, Hashable, Sendable {
            case add, replace, remove
        }

        public var op: Kind
        public var path: String?
        /// Required for `add` and `replace`; ignored for `remove`.
        public var value: SCIMValue?

        public init(op: Kind, path: String? = nil, value: SCIMValue? = nil) {
            self.op = op
            self.path = path
            self.value = value
        }
    }

    public var operations: [Operation]

    public init(operations: [Operation]) {
        self.operations = operations
    }

    /// Parses a request body.
    public init(json data: Data) throws(SCIMError) {
        try self.init(body: try SCIMValue.parse(data))
    }

    /// Reads a parsed request body. Structure errors are `invalidSyntax`.
    public init(body: SCIMValue) throws(SCIMError) {
        guard let object = body.objectValue else {
            throw SCIMError.invalidSyntax("a PATCH body must be a JSON object")
        }
        guard let schemas = object.scimValue(forKey: "schemas")?.arrayValue,
            schemas.contains(where: {
                $0.stringValue.map { asciiCaseInsensitiveEqual($0, SCIMSchema.patchOp) } ?? false
            })
        else {
            throw SCIMError.invalidSyntax("schemas must include \(SCIMSchema.patchOp)")
        }
        guard let operations = object.scimValue(forKey: "Operations")?.arrayValue, !operations.isEmpty else {
            throw SCIMError.invalidSyntax("Operations must be a non-empty array")
        }
        var parsed: [Operation] = []
        for (index, item) in operations.enumerated() {
            guard let operation = item.objectValue else {
                throw SCIMError.invalidSyntax("Operations[\(index)] must be an object")
            }
            guard let name = operation.scimValue(forKey: "op")?.stringValue,
                let kind = [Operation.Kind.add, .replace, .remove].first(where: {
                    asciiCaseInsensitiveEqual($0.rawValue, name)
                })
            else {
                throw SCIMError.invalidSyntax("Operations[\(index)].op must be add, replace or remove")
            }
            var path: String?
            switch operation.scimValue(forKey: "path") {
            case nil, .null?: path = nil
            case .string(let text)?: path = text.isEmpty ? nil : text
            default: throw SCIMError.invalidSyntax("Operations[\(index)].path must be a string")
            }
            let value = operation.scimValue(forKey: "value")
            if kind != .remove, value == nil {
                throw SCIMError.invalidSyntax("Operations[\(index)] (\(kind.rawValue)) needs a value")
            }
            parsed.append(Operation(op: kind, path: path, value: kind == .remove ? nil : value))
        }
        self.operations = parsed
    }
}

extension SCIMUser {
    /// Applies `patch` (RFC 7644 §3.5.2): every operation in order, each result validated and
    /// normalized as a whole resource; any error leaves the user unchanged (the PATCH is atomic). `id` is the
    /// resource's id: a path-less value may repeat it (Okta's group PATCHes do), anything else
    /// touching `id` or `meta` is `mutability`. Values for `password` and `groups` are ignored
    /// (never stored; read-only).
    public mutating func apply(_ patch: SCIMPatchRequest, id: String? = nil) throws(SCIMError) {
        var root = self.attributes
        for operation in patch.operations {
            try Self.apply(operation, to: &root, id: id)
            // Each operation's result must fit the schema (RFC 7644 §3.5.2), and is normalized
            // before the next one reads it (a manager id given as a string becomes `{"value": …}`).
            root = try Self.normalize(root)
        }
        self.attributes = root
    }

    private static func extensions(_ root: SCIMObject) -> [String] {
        let declared = root.scimValue(forKey: "schemas")?.arrayValue?.compactMap(\.stringValue) ?? []
        let present = root.compactMap { key, value in
            hasASCIICaseInsensitivePrefix(key, "urn:") && value.objectValue != nil ? key : nil
        }
        return declared + present
    }

    private static func apply(_ operation: SCIMPatchRequest.Operation, to root: inout SCIMObject, id: String?)
        throws(SCIMError)
    {
        guard let pathText = operation.path else {
            // RFC 7644 §3.5.2.2: "If 'path' is unspecified, the operation fails with ... 'noTarget'".
            guard operation.op != .remove else {
                throw SCIMError.noTarget(nil, "remove needs a path")
            }
            guard let members = operation.value?.objectValue else {
                throw SCIMError.invalidSyntax("\(operation.op.rawValue) without a path needs an object value")
            }
            for (key, value) in members.sorted(by: { $0.key < $1.key }) {
                if asciiCaseInsensitiveEqual(key, "id") {
                    if let id, value.stringValue != id { throw SCIMError.mutability("id", "is read-only") }
                    continue
                }
                let path: SCIMPath
                do {
                    path = try SCIMPath.parse(key, extensions: Self.extensions(root))
                } catch {
                    // Attribute names Tenure cannot parse as paths are kept as plain attributes.
                    path = SCIMPath(schema: nil, attribute: key, filter: nil, subAttribute: nil, text: key)
                }
                try Self.apply(operation.op, path, value, to: &root)
            }
            return
        }
        let path = try SCIMPath.parse(pathText, extensions: Self.extensions(root))
        try Self.apply(operation.op, path, operation.value ?? .null, to: &root)
    }

    private static func apply(
        _ kind: SCIMPatchRequest.Operation.Kind,
        _ path: SCIMPath,
        _ value: SCIMValue,
        to root: inout SCIMObject
    ) throws(SCIMError) {
        guard let schema = path.schema else {
            let attribute = path.attribute ?? ""
            if asciiCaseInsensitiveEqual(attribute, "id") || asciiCaseInsensitiveEqual(attribute, "meta") {
                throw SCIMError.mutability(attribute, "is read-only")
            }
            if asciiCaseInsensitiveEqual(attribute, "password") || asciiCaseInsensitiveEqual(attribute, "groups") {
                return
            }
            if kind == .remove, path.filter == nil, path.subAttribute == nil,
                asciiCaseInsensitiveEqual(attribute, "userName") || asciiCaseInsensitiveEqual(attribute, "schemas")
            {
                // RFC 7644 §3.5.2.2: removing a required attribute is a "mutability" error.
                throw SCIMError.mutability(attribute, "is required")
            }
            try Self.apply(kind, path, value, in: &root)
            return
        }
        let existing = root.scimValue(forKey: schema)
        guard path.attribute != nil else {
            // The whole extension: add and replace set the given sub-attributes, leaving the others
            // (RFC 7644 §3.5.2.3 on complex attributes); remove drops the extension.
            if kind == .remove {
                root.removeSCIMValue(forKey: schema)
                return
            }
            guard let members = value.objectValue else {
                throw SCIMError.invalidValue(path.text, "must be an object")
            }
            var object = existing?.objectValue ?? [:]
            for (key, member) in members { object.setSCIMValue(member, forKey: key) }
            root.setSCIMValue(.object(object), forKey: schema)
            return
        }
        if existing != nil, existing?.objectValue == nil {
            throw SCIMError.invalidValue(schema, "must be an object")
        }
        var object = existing?.objectValue ?? [:]
        try Self.apply(kind, path, value, in: &object)
        if object.isEmpty {
            root.removeSCIMValue(forKey: schema)
        } else {
            root.setSCIMValue(.object(object), forKey: schema)
        }
    }

    /// Applies one operation to `path.attribute` of `container` (the resource or an extension).
    private static func apply(
        _ kind: SCIMPatchRequest.Operation.Kind,
        _ path: SCIMPath,
        _ value: SCIMValue,
        in container: inout SCIMObject
    ) throws(SCIMError) {
        let name = path.attribute ?? ""
        let current = container.scimValue(forKey: name)
        if let filter = path.filter {
            try Self.applyFiltered(kind, path, filter, value, current: current, in: &container)
            return
        }
        if let sub = path.subAttribute {
            switch current {
            case nil:
                if kind != .remove { container.setSCIMValue([sub: value], forKey: name) }
            case .object(var object)?:
                if kind == .remove {
                    object.removeSCIMValue(forKey: sub)
                } else {
                    object.setSCIMValue(value, forKey: sub)
                }
                Self.set(.object(object), name, in: &container)
            case .array(var items)?:
                // A sub-attribute of a multi-valued attribute without a filter: every value's.
                for index in items.indices {
                    guard var object = items[index].objectValue else { continue }
                    if kind == .remove {
                        object.removeSCIMValue(forKey: sub)
                    } else {
                        object.setSCIMValue(value, forKey: sub)
                    }
                    items[index] = .object(object)
                }
                Self.set(.array(items), name, in: &container)
            default:
                throw SCIMError.invalidPath(path.text, "\(name) has no sub-attributes")
            }
            return
        }
        let multiValued =
            current?.arrayValue != nil || SCIMUser.multiValued.contains { asciiCaseInsensitiveEqual($0, name) }
        switch kind {
        case .remove:
            container.removeSCIMValue(forKey: name)
        case .replace:
            // RFC 7644 §3.5.2.3: a complex attribute's given sub-attributes replace the existing
            // ones, the others stay; a multi-valued attribute is replaced as a whole.
            if case .object(var object)? = current, case .object(let members) = value {
                for (key, member) in members { object.setSCIMValue(member, forKey: key) }
                container.setSCIMValue(.object(object), forKey: name)
            } else if multiValued, value.objectValue != nil {
                container.setSCIMValue([value], forKey: name)
            } else {
                container.setSCIMValue(value, forKey: name)
            }
        case .add:
            // RFC 7644 §3.5.2.1: values are added to a multi-valued attribute (ones already there are
            // not repeated); a complex attribute gains the given sub-attributes; a simple one is set.
            if multiValued {
                var items = current?.arrayValue ?? []
                for item in value.arrayValue ?? [value] where !items.contains(item) { items.append(item) }
                Self.set(.array(items), name, in: &container)
            } else if case .object(var object)? = current, case .object(let members) = value {
                for (key, member) in members { object.setSCIMValue(member, forKey: key) }
                container.setSCIMValue(.object(object), forKey: name)
            } else {
                container.setSCIMValue(value, forKey: name)
            }
        }
    }

    private static func applyFiltered(
        _ kind: SCIMPatchRequest.Operation.Kind,
        _ path: SCIMPath,
        _ filter: SCIMValueFilter,
        _ value: SCIMValue,
        current: SCIMValue?,
        in container: inout SCIMObject
    ) throws(SCIMError) {
        let name = path.attribute ?? ""
        var items: [SCIMValue]
        switch current {
        case nil: items = []
        case .array(let values)?: items = values
        default: throw SCIMError.invalidPath(path.text, "\(name) is not multi-valued")
        }
        let matched = items.indices.filter { items[$0].objectValue.map(filter.matches) ?? false }
        if matched.isEmpty {
            // RFC 7644 §3.5.2: a filter that matches nothing is "noTarget" — except for add, where
            // Entra's `emails[type eq "work"].value` means "the work email", to be created, and for
            // a replace of a sub-attribute through such a filter: Entra sends those for values the
            // user may not have yet, and since a PATCH is atomic, refusing one would also refuse an
            // `active: false` in the same request — a deprovisioning blocked on an email address.
            let creates =
                kind == .add || (kind == .replace && path.subAttribute != nil && !filter.impliedObject.isEmpty)
            guard creates else {
                throw SCIMError.noTarget(path.text, "the filter matches no value")
            }
            var element = filter.impliedObject
            if let sub = path.subAttribute {
                element[sub] = value
            } else {
                guard let members = value.objectValue else {
                    throw SCIMError.invalidValue(path.text, "must be an object")
                }
                for (key, member) in members { element.setSCIMValue(member, forKey: key) }
            }
            items.append(.object(element))
            Self.set(.array(items), name, in: &container)
            return
        }
        switch kind {
        case .remove:
            if let sub = path.subAttribute {
                for index in matched {
                    var object = items[index].objectValue ?? [:]
                    object.removeSCIMValue(forKey: sub)
                    items[index] = .object(object)
                }
            } else {
                for index in matched.reversed() { items.remove(at: index) }
            }
        case .replace, .add:
            for index in matched {
                if let sub = path.subAttribute {
                    var object = items[index].objectValue ?? [:]
                    object.setSCIMValue(value, forKey: sub)
                    items[index] = .object(object)
                } else if kind == .replace {
                    // RFC 7644 §3.5.2.3: "all matching record values SHALL be replaced".
                    guard value.objectValue != nil else {
                        throw SCIMError.invalidValue(path.text, "must be an object")
                    }
                    items[index] = value
                } else {
                    guard let members = value.objectValue else {
                        throw SCIMError.invalidValue(path.text, "must be an object")
                    }
                    var object = items[index].objectValue ?? [:]
                    for (key, member) in members { object.setSCIMValue(member, forKey: key) }
                    items[index] = .object(object)
                }
            }
        }
        Self.set(.array(items), name, in: &container)
    }

    /// Sets `name`, or removes it when the value became empty (RFC 7643 §2.5: `[]` and `{}` are unassigned).
    private static func set(_ value: SCIMValue, _ name: String, in container: inout SCIMObject) {
        if value.arrayValue?.isEmpty == true || value.objectValue?.isEmpty == true {
            container.removeSCIMValue(forKey: name)
        } else {
            container.setSCIMValue(value, forKey: name)
        }
    }
}
