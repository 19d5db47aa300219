/// Where a configuration value (or a problem) comes from.
public enum ConfigLocation: Sendable, Hashable, CustomStringConvertible {
    /// A position in a configuration file (lines and columns count from 1).
    case file(path: String, line: Int?, column: Int?)
    /// An environment variable override (`TENURE_LDAP_PAGE_SIZE`).
    case environment(variable: String)

    /// `tenure.yaml:12:5`, `tenure.yaml`, or `environment TENURE_LDAP_PAGE_SIZE`.
    public var description: String {
        switch self {
        case .file(let path, let line, let column):
            var text = path
            if let line {
                text += ":\(line)"
                if let column { text += ":\(column)" }
            }
            return text
        case .environment(let variable):
            return "environment \(variable)"
        }
    }
}

/// A configuration that cannot be used. The description reads like a compiler diagnostic:
/// `tenure.yaml:12:5: users.disabled[2].dn: invalid DN "…" (offset 7: …)` or
/// `environment TENURE_LDAP_PAGE_SIZE: ldap.pageSize: must be between 1 and 100000`.
/// Messages never contain the bind password.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The configuration file (as given to `load`/`parse`).
    public var file: String
    /// 1-based line and column in `file`; nil when the problem has no position (a missing file,
    /// a value from the environment, a configuration built in code).
    public var line: Int?
    public var column: Int?
    /// The key path of the offending value (`users.disabled[2].dn`); empty for the whole file.
    public var keyPath: String
    public var message: String
    /// The environment variable the offending value came from, if it did.
    public var environmentVariable: String?

    public init(
        file: String,
        line: Int? = nil,
        column: Int? = nil,
        keyPath: String = "",
        message: String,
        environmentVariable: String? = nil
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
        self.environmentVariable = environmentVariable
    }

    init(_ location: ConfigLocation, keyPath: String, message: String, file: String) {
        switch location {
        case .file(let path, let line, let column):
            self.init(file: path, line: line, column: column, keyPath: keyPath, message: message)
        case .environment(let variable):
            self.init(file: file, keyPath: keyPath, message: message, environmentVariable: variable)
        }
    }

    /// Where the problem is.
    public var location: ConfigLocation {
        if let environmentVariable { return .environment(variable: environmentVariable) }
        return .file(path: self.file, line: self.line, column: self.column)
    }

    public var description: String {
        var parts: [String] = []
        // Whole-file problems ("config file not found: PATH") name the file in their message.
        if self.environmentVariable != nil || self.line != nil || !self.keyPath.isEmpty {
            parts.append(self.location.description)
        }
        if !self.keyPath.isEmpty { parts.append(self.keyPath) }
        parts.append(self.message)
        return parts.joined(separator: ": ")
    }
}

/// Something allowed but probably wrong or dangerous. Printed like a compiler warning, without
/// the `warning:` prefix: `tenure.yaml:9:5: ldap.tls.insecureSkipVerify: TLS certificate …`.
public struct ConfigWarning: Sendable, Hashable, CustomStringConvertible {
    /// Where the value that caused the warning came from; nil for warnings about the whole
    /// configuration (unknown `TENURE_` variables).
    public var location: ConfigLocation?
    /// The key path concerned, if any.
    public var keyPath: String?
    public var message: String

    public init(location: ConfigLocation? = nil, keyPath: String? = nil, message: String) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let location { parts.append(location.description) }
        if let keyPath, !keyPath.isEmpty { parts.append(keyPath) }
        parts.append(self.message)
        return parts.joined(separator: ": ")
    }
}
