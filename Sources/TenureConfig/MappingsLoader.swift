import Foundation
public import TenureCore

/// Reads the privileged-access model (`Mappings/*.yaml`): roles, the rules that grant them, the
/// scope of managed identities, protected accounts and the leaver guard.
///
/// Each file may hold any of the top-level sections `roles`, `rules`, `scope`, `protected` and
/// `guard`. Files are merged: roles, rules and protected accounts are concatenated (role and rule
/// names are unique across all files), `scope` and `guard` may be set in one file only. Every
/// problem is a `ConfigError` naming `file:line:column`, the key path and what is wrong. See
/// `Mappings/` for commented samples of the format.
///
/// The result is normalised: DNs (`writeBackGroup`, `memberOf`, `underDN`, protected `dn`) in
/// `DistinguishedName.normalize` form, LDAP attribute names in conditions lowercased (the mapped
/// fields keep their names: `username`, `mail`, `displayName`, `employeeNumber`, `department`,
/// `title`, `manager`, `employeeType`, `dn`), UUID ids lowercased, every rule's mode set (a rule
/// without `as:` takes its role's mode), eligible roles' `maxActivationSeconds` set (default one
/// hour), and `conflicts` made symmetric (a conflict listed on one role is listed on both).
public enum MappingsLoader {
    /// The extensions of mappings files in a directory.
    public static let fileExtensions: Set<String> = ["yaml", "yml"]

    /// Loads `path`: a directory as `load(directory:)` does, a file on its own (`state.mappings`
    /// in `tenure.yaml` may name either).
    public static func load(path: String) throws(ConfigError) -> Mappings {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return try self.load(directory: path)
        }
        return try self.load(paths: [path])
    }

    /// Loads every `*.yaml` / `*.yml` file directly in `directory` (not in subdirectories; hidden
    /// files are skipped), in name order, merged. A directory without such a file is an error.
    public static func load(directory: String) throws(ConfigError) -> Mappings {
        let files = try self.files(inDirectory: directory)
        guard !files.isEmpty else {
            throw ConfigError(file: directory, message: "no mappings files (*.yaml, *.yml) in \(directory)")
        }
        return try self.load(paths: files)
    }

    /// The mappings files `load(directory:)` reads, in the order it reads them.
    public static func files(inDirectory directory: String) throws(ConfigError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ConfigError(file: directory, message: "mappings directory not found: \(directory)")
        }
        guard isDirectory.boolValue else {
            throw ConfigError(file: directory, message: "\(directory) is not a directory")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ConfigError(
                file: directory,
                message: "cannot list mappings directory \(directory) (permission denied?)"
            )
        }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return names.filter { name in
            guard !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { return false }
            guard self.fileExtensions.contains(String(name[name.index(after: dot)...])) else { return false }
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: prefix + name, isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
        .sorted()
        .map { prefix + $0 }
    }

    /// Loads and merges the given files, in the order given. No files is an empty model.
    public static func load(paths: [String]) throws(ConfigError) -> Mappings {
        var documents: [(file: String, yaml: String)] = []
        var seen: [String: String] = [:]
        for path in paths {
            let key = lexicallyNormalized(path)
            if let first = seen[key] {
                throw ConfigError(file: path, message: "mappings file \(path) is given twice (also as \(first))")
            }
            seen[key] = path
            documents.append((path, try self.read(path)))
        }
        return try self.parse(documents)
    }

    /// Parses one mappings file's text as if read from `file` (used in error locations).
    public static func parse(yaml: String, file: String) throws(ConfigError) -> Mappings {
        try self.parse([(file, yaml)])
    }

    /// Parses several files' texts and merges them, in order.
    static func parse(_ documents: [(file: String, yaml: String)]) throws(ConfigError) -> Mappings {
        var fragments: [MappingsFragment] = []
        for document in documents {
            fragments.append(try self.fragment(yaml: document.yaml, file: document.file))
        }
        return try MappingsAssembler.assemble(fragments)
    }

    static func fragment(yaml: String, file: String) throws(ConfigError) -> MappingsFragment {
        let root = try composeDocument(yaml, file: file)
        var decoder = MappingsDecoder(file: file)
        return try decoder.decode(root)
    }

    private static func read(_ path: String) throws(ConfigError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(file: path, message: "mappings file not found: \(path)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(file: path, message: "mappings file \(path) is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, message: "cannot read mappings file \(path) (permission denied?)")
        }
        guard let yaml = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, message: "mappings file \(path) is not valid UTF-8")
        }
        return yaml
    }
}
