import Foundation

extension TenureConfiguration {
    /// `TENURE_` variables that are not configuration keys and are never reported as unknown:
    /// the conventional bind password variable and the variable naming the configuration file.
    public static let reservedEnvironmentVariables: Set<String> = [
        ConfigSchema.conventionalPasswordVariable, ConfigSchema.conventionalWriteBackPasswordVariable, "TENURE_CONFIG",
    ]

    /// Reads the file at `path`, overlays the environment, decodes and validates.
    ///
    /// - Parameters:
    ///   - environment: usually `ProcessInfo.processInfo.environment`. Every `TENURE_…` variable
    ///     that names a key overrides it (see `Config/tenure.yaml`).
    ///   - otherVariables: more `TENURE_…` variables the caller uses for other purposes, not to be
    ///     reported as unknown (besides ``reservedEnvironmentVariables``).
    /// - Throws: `ConfigError` naming `file:line:column` (or the environment variable) and key path.
    public static func load(
        path: String,
        environment: [String: String],
        otherVariables: Set<String> = []
    ) throws(ConfigError) -> TenureConfiguration {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(file: path, message: "config file not found: \(path)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(file: path, message: "config file \(path) is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, message: "cannot read config file \(path) (permission denied?)")
        }
        guard let yaml = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, message: "config file \(path) is not valid UTF-8")
        }
        return try self.parse(yaml: yaml, file: path, environment: environment, otherVariables: otherVariables)
    }

    /// Parses YAML text as if read from `file` (used in locations, and to resolve relative paths
    /// written in it: they are relative to `file`'s directory).
    public static func parse(
        yaml: String,
        file: String,
        environment: [String: String],
        otherVariables: Set<String> = []
    ) throws(ConfigError) -> TenureConfiguration {
        var root = try composeDocument(yaml, file: file)
        try EnvironmentOverrides.apply(environment, to: &root, file: file)

        let directory = (file as NSString).deletingLastPathComponent
        var decoder = ConfigDecoder(file: file, baseDirectory: directory.isEmpty ? nil : directory)
        var configuration = try decoder.decode(root)
        configuration.sourceFile = file

        var ignored = otherVariables.union(self.reservedEnvironmentVariables)
        if case .environment(let name) = configuration.ldap.password { ignored.insert(name) }
        if let warning = self.unknownVariablesWarning(environment, ignoring: ignored) {
            configuration.warnings.append(warning)
        }
        return configuration
    }

    /// One warning listing the `TENURE_…` variables that name no key (names only, never values).
    static func unknownVariablesWarning(_ environment: [String: String], ignoring: Set<String>) -> ConfigWarning? {
        let unknown = environment.keys.filter {
            $0.hasPrefix("TENURE_") && !ConfigSchema.environmentVariables.contains($0) && !ignoring.contains($0)
        }.sorted()
        guard !unknown.isEmpty else { return nil }
        let known = ConfigSchema.environmentKeys.map(\.variable)
        let described = unknown.map { name -> String in
            if let keyPath = ConfigSchema.fileOnlyVariables[name] {
                return "\(name) (\(keyPath) can be set only in the configuration file)"
            }
            if let near = suggestion(for: name, among: known) { return "\(name) (did you mean \(near)?)" }
            return name
        }
        return ConfigWarning(
            message: "ignoring environment variables that name no configuration key: "
                + described.joined(separator: ", ")
        )
    }

    /// Reads the bind password from the file or environment variable the configuration names.
    /// Returns nil for an anonymous bind. One trailing newline (`\n` or `\r\n`) is stripped from a
    /// password file. Errors name the source — never the password.
    public func resolvePassword(environment: [String: String]) throws(ConfigError) -> String? {
        try self.resolvePassword(self.ldap.password, section: "ldap", environment: environment)
    }

    /// The write-back account's password (`writeBack.passwordFile` / `passwordEnv`); nil when
    /// write-back is not configured. Errors name the source — never the password.
    public func resolveWriteBackPassword(environment: [String: String]) throws(ConfigError) -> String? {
        guard let writeBack = self.writeBack else { return nil }
        return try self.resolvePassword(writeBack.password, section: "writeBack", environment: environment)
    }

    private func resolvePassword(
        _ source: PasswordSource,
        section: String,
        environment: [String: String]
    ) throws(ConfigError) -> String? {
        switch source {
        case .none:
            return nil
        case .file(let path):
            let fail = { (message: String) -> ConfigError in self.passwordError("\(section).passwordFile", message) }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw fail("password file \(path) does not exist")
            }
            guard !isDirectory.boolValue else { throw fail("password file \(path) is a directory") }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw fail("cannot read password file \(path) (permission denied?)")
            }
            guard var password = String(data: data, encoding: .utf8) else {
                throw fail("password file \(path) is not valid UTF-8 text")
            }
            if password.hasSuffix("\r\n") {
                password.removeLast(1)  // "\r\n" is a single Character
            } else if password.hasSuffix("\n") {
                password.removeLast()
            }
            guard !password.isEmpty else {
                throw fail("password file \(path) is empty (an empty password would be an unauthenticated bind)")
            }
            return password
        case .environment(let name):
            guard let password = environment[name] else {
                throw self.passwordError(
                    "\(section).passwordEnv",
                    "environment variable \(name) (\(section).passwordEnv) is not set"
                )
            }
            guard !password.isEmpty else {
                throw self.passwordError(
                    "\(section).passwordEnv",
                    "environment variable \(name) (\(section).passwordEnv) is empty "
                        + "(an empty password would be an unauthenticated bind)"
                )
            }
            return password
        }
    }

    private func passwordError(_ keyPath: String, _ message: String) -> ConfigError {
        let file = self.sourceFile ?? "<configuration>"
        let location = self.provenance.locations[keyPath] ?? .file(path: file, line: nil, column: nil)
        return ConfigError(location, keyPath: keyPath, message: message, file: file)
    }
}

/// Parses a YAML document into located nodes; an empty document is an empty mapping. Syntax errors
/// become a `ConfigError` at the line and column the parser reports.
func composeDocument(_ yaml: String, file: String) throws(ConfigError) -> ConfigNode {
    let start = ConfigLocation.file(path: file, line: 1, column: 1)
    var root: ConfigNode
    do {
        root =
            try YAMLComposer.compose(yaml, locate: { .file(path: file, line: $0, column: $1) })
            ?? .emptyMapping(at: start)
    } catch {
        throw ConfigError(
            file: file,
            line: error.line,
            column: error.column,
            keyPath: error.keyPath ?? "",
            message: error.message
        )
    }
    if root.isNull { root = .emptyMapping(at: root.location) }
    return root
}
