import Foundation
import Testing

@testable import TenureConfig

/// The smallest valid configuration (every other key takes its default).
let minimalYAML = """
    ldap:
      urls: ["ldaps://ldap.example.com"]
    users:
      baseDNs: ["ou=people,dc=example,dc=com"]
    groups:
      baseDNs: ["ou=groups,dc=example,dc=com"]

    """

/// Parses `yaml` as `tenure.yaml` and expects success.
func parse(
    _ yaml: String,
    environment: [String: String] = [:],
    file: String = "tenure.yaml",
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> TenureConfiguration {
    try TenureConfiguration.parse(yaml: yaml, file: file, environment: environment)
}

/// Parses `yaml` as `tenure.yaml` and returns the error it must produce.
func parseError(
    _ yaml: String,
    environment: [String: String] = [:],
    file: String = "tenure.yaml",
    sourceLocation: SourceLocation = #_sourceLocation
) -> ConfigError? {
    #expect(throws: ConfigError.self, sourceLocation: sourceLocation) {
        try TenureConfiguration.parse(yaml: yaml, file: file, environment: environment)
    }
}

/// A fresh temporary directory, removed when `body` returns.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("tenure-config-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Writes `contents` to `path` with the given POSIX mode.
func writeFile(_ path: String, _ contents: String, mode: Int = 0o600) throws {
    try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: NSNumber(value: mode)], ofItemAtPath: path)
}

/// The repository root: this file is Tests/TenureConfigTests/Support.swift.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .path
