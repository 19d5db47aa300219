import Foundation
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

struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `program` (looked up in PATH) to completion with stdout/stderr captured in temporary files
/// (posix_spawnp + waitpid; no pipes, so nothing can dead-lock on a full buffer).
func runProgram(_ program: String, _ arguments: [String]) throws -> ProcessOutput {
    let base = NSTemporaryDirectory() + "/tenure-vault-run-\(UUID().uuidString)"
    let outPath = base + ".out"
    let errPath = base + ".err"
    defer {
        unlink(outPath)
        unlink(errPath)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let variables = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in variables { free(pointer) } }
    // Children inherit the spawning thread's signal mask (test worker threads block some signals).
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, program, &actions, &attributes, argv, variables)
    guard rc == 0 else { throw SupportError("cannot run \(program): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ProcessOutput(
        status: exitStatus,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    )
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
