/// Grafts `TENURE_…` environment variables onto the YAML tree before decoding.
enum EnvironmentOverrides {
    /// Replaces the node of every key whose variable is set. The value is parsed as a YAML
    /// flow value (`[a, b]`, `500`, `true`, `"quoted"`); for list keys a single scalar becomes a
    /// one-element list and an empty value an empty list.
    static func apply(
        _ environment: [String: String],
        to root: inout ConfigNode,
        file: String
    ) throws(ConfigError) {
        for key in ConfigSchema.environmentKeys {
            let variable = key.variable
            guard let text = environment[variable] else { continue }
            let location = ConfigLocation.environment(variable: variable)
            var node: ConfigNode
            do {
                node =
                    try YAMLComposer.compose(text, locate: { _, _ in location })
                    ?? ConfigNode(content: .scalar(ConfigScalar(text: "", kind: .null)), location: location)
            } catch {
                throw ConfigError(
                    location,
                    keyPath: key.keyPath,
                    message: "the value is not valid YAML (\(error.problem ?? error.message)); "
                        + "quote it if it is a string that starts with a YAML indicator such as * & ! [ {",
                    file: file
                )
            }
            if key.isList, case .scalar(let scalar) = node.content {
                node.content = .sequence(scalar.kind == .null ? [] : [node])
            }
            root.set(path: key.path[...], to: node, location: location)
        }
    }
}

extension ConfigNode {
    /// Sets the value at `path`, creating (or replacing null) intermediate mappings. A non-mapping
    /// intermediate node is left alone: decoding reports its type error at its own location.
    mutating func set(path: ArraySlice<String>, to value: ConfigNode, location: ConfigLocation) {
        guard let key = path.first else {
            self = value
            return
        }
        if self.isNull { self = .emptyMapping(at: location) }
        guard case .mapping(var entries) = self.content else { return }
        if let index = entries.firstIndex(where: { $0.key == key }) {
            if path.count == 1 {
                entries[index].keyLocation = location
                entries[index].value = value
            } else {
                entries[index].value.set(path: path.dropFirst(), to: value, location: location)
            }
        } else {
            var child = path.count == 1 ? value : ConfigNode.emptyMapping(at: location)
            if path.count > 1 { child.set(path: path.dropFirst(), to: value, location: location) }
            entries.append(ConfigEntry(key: key, keyLocation: location, value: child))
        }
        self.content = .mapping(entries)
    }
}
