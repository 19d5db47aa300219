import Foundation
import SlapdFixture
import TenureCrypto
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct SupportError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh private directory, removed when `body` returns.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    var template = Array((NSTemporaryDirectory() + "/tenure-vault-XXXXXX").utf8CString)
    guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw SupportError("mkdtemp failed: errno \(errno)")
    }
    let path = String(cString: created)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Writes `bytes` to `path` (created or truncated) and sets its mode.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw SupportError("cannot create \(path)")
    }
    guard chmod(path, mode) == 0 else { throw SupportError("chmod \(path) failed: errno \(errno)") }
}

/// The permission bits of `path`.
func permissions(of path: String) throws -> mode_t {
    var info = stat()
    guard stat(path, &info) == 0 else { throw SupportError("stat \(path) failed: errno \(errno)") }
    return info.st_mode & 0o7777
}

/// Runs `program` (looked up in PATH) to completion, with the fixture's runner (posix_spawn,
/// output in temporary files, signal mask reset).
func runProgram(_ program: String, _ arguments: [String]) throws -> ProcessOutput {
    try run("/usr/bin/env", [program] + arguments)
}

/// Whether `python3` with the `cryptography` package's AESGCM can be run (checked once).
let pythonCryptographyAvailable: Bool = {
    let probe = try? runProgram(
        "python3",
        ["-c", "from cryptography.hazmat.primitives.ciphers.aead import AESGCM"]
    )
    return probe?.status == 0
}()

/// The bytes of a hex literal in a test (fails the test on a typo).
func unhex(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
    try #require(bytes(fromHex: text), "bad hex literal", sourceLocation: sourceLocation)
}

/// Bytes as a test argument, shown by name instead of as a (possibly 10 KB) array in test output.
struct NamedBytes: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var testDescription: String { "\(self.name) (\(self.bytes.count) bytes)" }
}
