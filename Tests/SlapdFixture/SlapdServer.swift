public import Foundation

/// The repository root, found from this file's path (Tests/SlapdFixture/SlapdServer.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The public LDIF data sets in ../shared/data/public-ldif (see its SOURCES.md).
public let publicLDIFDirectory = repositoryRoot.deletingLastPathComponent().appendingPathComponent(
    "shared/data/public-ldif"
)

/// A throwaway slapd started by `scripts/slapd-test-server.sh` on free loopback ports, in its own
/// temporary directory, with a CA it generated. Stopped (and its directory removed) by `stop()`.
public struct SlapdServer: Sendable {
    public let directory: String
    public let environment: [String: String]

    public var url: String { self.environment["LDAP_URL"]! }
    public var ldapsURL: String { self.environment["LDAPS_URL"]! }
    public var suffix: String { self.environment["LDAP_SUFFIX"]! }
    public var readerDN: String { self.environment["LDAP_READER_DN"]! }
    public var readerPasswordFile: String { self.environment["LDAP_READER_PASSWORD_FILE"]! }
    public var limitedDN: String { self.environment["LDAP_LIMITED_DN"]! }
    public var limitedPasswordFile: String { self.environment["LDAP_LIMITED_PASSWORD_FILE"]! }
    /// May write member/uniqueMember below ou=privileged,ou=groups and nothing else.
    public var writerDN: String { self.environment["LDAP_WRITER_DN"]! }
    public var writerPasswordFile: String { self.environment["LDAP_WRITER_PASSWORD_FILE"]! }
    public var adminDN: String { self.environment["LDAP_ADMIN_DN"]! }
    public var adminPasswordFile: String { self.environment["LDAP_ADMIN_PASSWORD_FILE"]! }
    public var caFile: String { self.environment["LDAP_CA_FILE"]! }
    public var wrongCAFile: String { self.environment["LDAP_WRONG_CA_FILE"]! }
    public var pid: Int32 { Int32(self.environment["SLAPD_PID"]!)! }
    public var readerPassword: String {
        (try? String(contentsOfFile: self.readerPasswordFile, encoding: .utf8))?
            .trimmingCharacters(in: .newlines) ?? ""
    }

    public static var script: String { repositoryRoot.appendingPathComponent("scripts/slapd-test-server.sh").path }

    /// Starts a server. `ldif` files are added over LDAP after start; `slapadd` files are loaded
    /// offline before (fast, for big data).
    public static func start(
        ldif: [String] = [],
        slapadd: [String] = [],
        slapaddUnchecked: [String] = [],
        suffix: String? = nil
    ) throws -> SlapdServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tenure-slapd-\(UUID().uuidString.prefix(8))").path
        var arguments = ["start", directory]
        for file in ldif { arguments += ["--ldif", file] }
        for file in slapadd { arguments += ["--slapadd", file] }
        for file in slapaddUnchecked { arguments += ["--slapadd-unchecked", file] }
        if let suffix { arguments += ["--suffix", suffix] }
        let output = try run(Self.script, arguments)
        guard output.status == 0 else {
            throw FixtureError(
                "slapd-test-server.sh start failed (\(output.status)):\n\(output.stdout)\n\(output.stderr)"
            )
        }
        var environment: [String: String] = [:]
        for line in output.stdout.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard environment["LDAP_URL"] != nil, environment["SLAPD_PID"] != nil else {
            throw FixtureError("slapd-test-server.sh printed no LDAP_URL/SLAPD_PID:\n\(output.stdout)")
        }
        return SlapdServer(directory: directory, environment: environment)
    }

    public func stop() {
        _ = try? run(Self.script, ["stop", self.directory, "--clean"])
    }

    /// Kills slapd with SIGKILL (a crash, not a shutdown).
    public func kill9() {
        kill(self.pid, SIGKILL)
    }

    /// Applies LDIF changes as the directory administrator (ldapmodify; entries with
    /// `changetype: add` are added).
    public func modify(_ ldif: String) throws {
        let file = self.directory + "/change-\(UUID().uuidString.prefix(8)).ldif"
        try ldif.write(toFile: file, atomically: true, encoding: .utf8)
        let output = try run(Self.script, ["modify", self.directory, file])
        guard output.status == 0 else {
            throw FixtureError(
                "ldapmodify failed (\(output.status)):\n\(output.stdout)\n\(output.stderr)\n--- LDIF:\n\(ldif)"
            )
        }
    }

    /// Adds entries as the directory administrator (ldapadd).
    public func add(_ ldif: String) throws {
        let file = try self.writeFile("add-\(UUID().uuidString.prefix(8)).ldif", ldif)
        let output = try run(Self.script, ["add", self.directory, file])
        guard output.status == 0 else {
            throw FixtureError("ldapadd failed (\(output.status)):\n\(output.stdout)\n\(output.stderr)")
        }
    }

    /// Writes a temporary file in the server's directory (removed with it).
    public func writeFile(_ name: String, _ contents: String) throws -> String {
        let path = self.directory + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Runs `body` with a fresh server and always stops it. `data` is LDIF added after start (over
/// LDAP, so overlays such as memberof see it); `bulk` is LDIF loaded offline with slapadd, and
/// `bulkUnchecked` the same without schema checks (public data with schema quirks).
public func withSlapd<R>(
    data: String? = nil,
    bulk: String? = nil,
    bulkUnchecked: String? = nil,
    suffix: String? = nil,
    _ body: (SlapdServer) async throws -> R
) async throws -> R {
    var temporary: [String] = []
    defer { for file in temporary { try? FileManager.default.removeItem(atPath: file) } }
    func write(_ text: String?) throws -> [String] {
        guard let text else { return [] }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tenure-\(UUID().uuidString).ldif")
            .path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        temporary.append(path)
        return [path]
    }
    let server = try SlapdServer.start(
        ldif: try write(data),
        slapadd: try write(bulk),
        slapaddUnchecked: try write(bulkUnchecked),
        suffix: suffix
    )
    defer { server.stop() }
    return try await body(server)
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Has a child close every descriptor from 3 up when it starts: a test's child (a slapd it leaves
/// running, above all) must not hold the test process's files, sockets or pipes — CI's among them.
/// `posix_spawn_file_actions_addclosefrom_np` is glibc 2.34+ and not in Swift's Glibc module.
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) throws {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
        throw FixtureError("posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later is needed)")
    }
    guard unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3) == 0 else {
        throw FixtureError("posix_spawn_file_actions_addclosefrom_np failed: errno \(errno)")
    }
}

/// Waits for child `pid` to exit, at most `limit`; returns its exit status (128 + the signal when
/// a signal ended it). When it has not exited by then, it is killed (SIGKILL, its whole process
/// group when `group`) and reaped, and nil is returned: a test never waits forever for a process.
public func waitForExit(_ pid: pid_t, within limit: Duration, group: Bool = false) -> Int32? {
    let deadline = ContinuousClock.now + limit
    var status: Int32 = 0
    var pause: UInt32 = 200  // microseconds, doubling to 20 ms: short runs are not slowed
    while true {
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
        if reaped == -1 && errno != EINTR { return -1 }  // not our child (any more)
        if ContinuousClock.now >= deadline { break }
        usleep(pause)
        pause = min(pause * 2, 20_000)
    }
    kill(group ? -pid : pid, SIGKILL)
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return nil
}

/// Starts a program and returns its pid without waiting for it: stdin from /dev/null, stdout and
/// stderr to the files named (created, or truncated), nothing else of this process — descriptors
/// from 3 up are closed, the signal mask is empty and the usual signals have their default action
/// (libdispatch's threads block signals: a slapd started from one would ignore SIGTERM) — in a
/// process group of its own, so that one that hangs is killed with what it started.
public func spawn(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String]? = nil,
    stdout: String = "/dev/null",
    stderr: String = "/dev/null"
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    try closeInheritedDescriptors(&actions)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in variables { free(pointer) } }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
        &attributes,
        Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)
    )
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, variables)
    guard rc == 0 else { throw FixtureError("cannot run \(executable): errno \(rc)") }
    return pid
}

/// Runs a program to completion and captures its output. One that runs longer than `limit` is
/// killed (with every process it started and did not move out of its process group) and throws:
/// a hung child fails its test instead of hanging the run.
///
/// posix_spawn + waitpid with stdout/stderr sent to temporary files: Foundation's `Process` has
/// been seen to miss a child's exit on Linux, and pipes stay open as long as any grandchild (a
/// daemonised slapd) holds them.
public func run(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String]? = nil,
    limit: Duration = .seconds(300)
) throws -> ProcessOutput {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("tenure-run-\(UUID().uuidString)").path
    let outPath = base + ".out"
    let errPath = base + ".err"
    defer {
        unlink(outPath)
        unlink(errPath)
    }
    let pid = try spawn(executable, arguments, environment: environment, stdout: outPath, stderr: errPath)
    let exitStatus = waitForExit(pid, within: limit, group: true)
    let output = ProcessOutput(
        status: exitStatus ?? -1,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    )
    guard exitStatus != nil else {
        // Not its arguments: they may carry a token.
        throw FixtureError(
            """
            \(executable) did not exit within \(limit); killed. Its output so far:
            \(output.stdout.suffix(4000))
            \(output.stderr.suffix(4000))
            """
        )
    }
    return output
}
