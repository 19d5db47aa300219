import Yams

/// A YAML node with its origin — the configuration's own tree, so that Yams' types stay inside
/// this module and environment overrides can be grafted in with their own location.
struct ConfigNode: Sendable {
    enum Content: Sendable {
        case scalar(ConfigScalar)
        case mapping([ConfigEntry])
        case sequence([ConfigNode])
    }

    var content: Content
    var location: ConfigLocation

    static func emptyMapping(at location: ConfigLocation) -> ConfigNode {
        ConfigNode(content: .mapping([]), location: location)
    }

    var isNull: Bool {
        if case .scalar(let scalar) = self.content, scalar.kind == .null { return true }
        return false
    }

    /// "a mapping", "a list", "null", `the string "abc"` — for type errors.
    func kindDescription() -> String {
        switch self.content {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            let kind: String
            switch scalar.kind {
            case .null: return "null"
            case .bool: kind = "the boolean"
            case .int: kind = "the integer"
            case .float: kind = "the number"
            case .string: kind = "the string"
            }
            let shown = scalar.text.count > 80 ? String(scalar.text.prefix(77)) + "..." : scalar.text
            return "\(kind) \(quoted(shown))"
        }
    }
}

struct ConfigEntry: Sendable {
    var key: String
    var keyLocation: ConfigLocation
    var value: ConfigNode
}

struct ConfigScalar: Sendable {
    /// The YAML 1.1 type the scalar resolved to (quoted scalars are strings).
    enum Kind: Sendable, Equatable {
        case null, bool, int, float, string
    }

    var text: String
    var kind: Kind
}

// MARK: - Composing YAML

/// A YAML text that Yams could not compose.
struct YAMLProblem: Error {
    var message: String
    var line: Int?
    var column: Int?
    /// The key path concerned, when known (duplicate keys).
    var keyPath: String?
    /// The problem alone, without position or context (for one-line environment values).
    var problem: String?
}

enum YAMLComposer {
    /// Composes `text` into a `ConfigNode` tree whose locations are made by `locate`.
    /// Returns nil for an empty document.
    static func compose(
        _ text: String,
        locate: (_ line: Int?, _ column: Int?) -> ConfigLocation
    ) throws(YAMLProblem) -> ConfigNode? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .default, .default, .utf8)
        } catch let error as YamlError {
            throw self.problem(from: error, in: text)
        } catch {
            throw YAMLProblem(message: "cannot parse YAML: \(error)")
        }
        guard let node else { return nil }
        return try self.convert(node, locate: locate)
    }

    private static func convert(
        _ node: Node,
        locate: (_ line: Int?, _ column: Int?) -> ConfigLocation
    ) throws(YAMLProblem) -> ConfigNode {
        let location = locate(node.mark?.line, node.mark?.column)
        switch node {
        case .scalar(let scalar):
            let kind: ConfigScalar.Kind
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: kind = .null
            case Tag.Name.bool.rawValue: kind = .bool
            case Tag.Name.int.rawValue: kind = .int
            case Tag.Name.float.rawValue: kind = .float
            default: kind = .string
            }
            return ConfigNode(content: .scalar(ConfigScalar(text: scalar.string, kind: kind)), location: location)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for item in sequence {
                items.append(try self.convert(item, locate: locate))
            }
            return ConfigNode(content: .sequence(items), location: location)
        case .mapping(let mapping):
            var entries: [ConfigEntry] = []
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw YAMLProblem(
                        message: "mapping keys must be plain strings",
                        line: key.mark?.line,
                        column: key.mark?.column
                    )
                }
                entries.append(
                    ConfigEntry(
                        key: keyScalar.string,
                        keyLocation: locate(key.mark?.line, key.mark?.column),
                        value: try self.convert(value, locate: locate)
                    )
                )
            }
            return ConfigNode(content: .mapping(entries), location: location)
        case .alias(let alias):
            throw YAMLProblem(
                message: "YAML aliases are not supported here",
                line: alias.mark?.line,
                column: alias.mark?.column
            )
        }
    }

    private static func problem(from error: YamlError, in text: String) -> YAMLProblem {
        func describe(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return problem }
            return "\(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return YAMLProblem(
                message: "YAML syntax error: \(describe(problem, context))",
                line: mark.line,
                column: mark.column,
                problem: problem
            )
        case .reader(let problem, let offset, _, _):
            var line: Int?
            var column: Int?
            if let offset {
                let prefix = text.prefix(offset)
                line = prefix.count(where: { $0 == "\n" }) + 1
                column = prefix.split(separator: "\n", omittingEmptySubsequences: false).last.map {
                    $0.unicodeScalars.count + 1
                }
            }
            return YAMLProblem(message: "cannot read YAML: \(problem)", line: line, column: column)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let second = self.secondOccurrence(of: key, after: context.mark, in: text)
            return YAMLProblem(
                message: "duplicate key \(quoted(key)) (first defined at line \(context.mark.line), "
                    + "column \(context.mark.column))",
                line: second?.line ?? context.mark.line,
                column: second?.column ?? context.mark.column,
                keyPath: second.flatMap { self.keyPath(ofKeyAt: $0, in: text) },
                problem: "duplicate key \(quoted(key))"
            )
        default:
            return YAMLProblem(message: "cannot parse YAML: \(error)")
        }
    }

    /// Yams reports only the first occurrence of a duplicated key. Finds the next key of the same
    /// block mapping with the same name (same indentation, before the mapping ends).
    static func secondOccurrence(of key: String, after first: Mark, in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = first.column - 1
        guard first.line >= 1, indent >= 0 else { return nil }
        let spellings = [key, "\"\(key)\"", "'\(key)'"]
        var index = first.line  // the line after the first occurrence (0-based)
        while index < lines.count {
            let line = lines[index]
            index += 1
            let content = line.drop(while: { $0 == " " })
            if content.isEmpty || content.hasPrefix("#") || content == "\r" { continue }
            let leading = line.unicodeScalars.count - content.unicodeScalars.count
            if leading < indent { return nil }
            if leading > indent { continue }
            for spelling in spellings where content.hasPrefix(spelling) {
                let rest = content.dropFirst(spelling.count).drop(while: { $0 == " " })
                if rest.hasPrefix(":") {
                    let after = rest.dropFirst()
                    if after.isEmpty || after.first == " " || after.first == "\r" || after.first == "\t" {
                        return (index, indent + 1)
                    }
                }
            }
        }
        return nil
    }
}

extension YAMLComposer {
    /// The key path of the mapping key at `position`: composes the text again with that key
    /// renamed (so that it is no longer a duplicate) and looks for it in the tree.
    static func keyPath(ofKeyAt position: (line: Int, column: Int), in text: String) -> String? {
        let marker = "__tenure_duplicate_key__"
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard position.line - 1 < lines.count else { return nil }
        var scalars = Array(lines[position.line - 1].unicodeScalars)
        guard position.column - 1 <= scalars.count else { return nil }
        scalars.insert(contentsOf: marker.unicodeScalars, at: position.column - 1)
        var line = String.UnicodeScalarView()
        line.append(contentsOf: scalars)
        lines[position.line - 1] = String(line)
        guard let root = try? Yams.compose(yaml: lines.joined(separator: "\n"), .default, .default, .utf8) else {
            return nil
        }
        func search(_ node: Node, _ path: String) -> String? {
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    guard let name = key.string else { continue }
                    if name.hasPrefix(marker) {
                        let original = String(name.dropFirst(marker.count))
                        let unquoted =
                            original.count >= 2 && (original.first == "\"" || original.first == "'")
                            ? String(original.dropFirst().dropLast()) : original
                        return joinPath(path, unquoted)
                    }
                    if let found = search(value, joinPath(path, name)) { return found }
                }
                return nil
            case .sequence(let sequence):
                for (index, item) in sequence.enumerated() {
                    if let found = search(item, path + "[\(index)]") { return found }
                }
                return nil
            case .scalar, .alias:
                return nil
            }
        }
        return search(root, "")
    }
}

/// `parent.child`, or `child` at the root.
func joinPath(_ parent: String, _ child: String) -> String {
    parent.isEmpty ? child : parent + "." + child
}

/// `"value"` with quotes, backslashes and control characters escaped, for messages (the same
/// double-quoted form the effective configuration is printed in).
func quoted(_ value: String) -> String {
    yamlString(value)
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        self.count >= width ? self : String(repeating: pad, count: width - self.count) + self
    }
}
