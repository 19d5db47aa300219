import Foundation
import SlapdFixture
import Testing

// Helpers for running the built `tenure` executable as a user would: a separate process, its own
// environment, stdout and stderr captured (files, not a terminal).

/// The suffix, bases and disabled rules of the bundled sample directory (Config/sample-directory.ldif).
enum Sample {
    static let suffix = "dc=tenure,dc=test"
    static let people = "ou=people,dc=tenure,dc=test"
    static let groups = "ou=groups,dc=tenure,dc=test"
    static let disabledOU = "ou=disabled,ou=people,dc=tenure,dc=test"
    static let configFile = repositoryRoot.appendingPathComponent("Config/tenure.yaml").path

    static var ldif: String {
        get throws {
            try String(
                contentsOfFile: repositoryRoot.appendingPathComponent("Config/sample-directory.ldif").path,
                encoding: .utf8
            )
        }
    }
}

/// Where the `tenure` executable is: next to the test bundle in the build products directory.
enum TenureBinary {
    /// Every place looked at, in order (for the failure message).
    static let candidates: [String] = {
        var directories: [URL] = []
        if let first = CommandLine.arguments.first, !first.isEmpty {
            let url = URL(fileURLWithPath: first).resolvingSymlinksInPath()
            directories.append(url.deletingLastPathComponent())
        }
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            directories.append(executable.deletingLastPathComponent())
        }
        let bundle = Bundle.main.bundleURL.resolvingSymlinksInPath()
        directories.append(bundle)
        directories.append(bundle.deletingLastPathComponent())
        if let processImage = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: processImage).deletingLastPathComponent())
        }
        directories.append(repositoryRoot.appendingPathComponent(".build/debug"))
        var seen: Set<String> = []
        return directories.map { $0.appendingPathComponent("tenure").standardizedFileURL.path }
            .filter { seen.insert($0).inserted }
    }()

    static let path: String? = candidates.first { path in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: path)
    }

    static func require() throws -> String {
        guard let path = self.path else {
            throw FixtureError(
                "the tenure executable was not found (build it with `swift build --build-tests`); looked at:\n  "
                    + self.candidates.joined(separator: "\n  ")
            )
        }
        return path
    }
}

/// What a `tenure` run printed and returned.
struct CLIRun: CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String

    /// Everything printed, for "never shows X" checks.
    var allOutput: String { self.stdout + "\n" + self.stderr }

    var description: String {
        "tenure \(self.arguments.joined(separator: " ")) → exit \(self.status)\n--- stdout:\n\(self.stdout)"
            + "\n--- stderr:\n\(self.stderr)"
    }
}

/// The environment for a child: this process's, without any `TENURE_…` variable (so the developer's
/// own settings cannot leak into a test), plus `extra`.
func cliEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TENURE_") }
    environment.merge(extra) { $1 }
    return environment
}

/// Runs `tenure ARGUMENTS` to completion.
func tenure(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIRun {
    let executable = try TenureBinary.require()
    let output = try run(executable, arguments, environment: cliEnvironment(environment))
    return CLIRun(arguments: arguments, status: output.status, stdout: output.stdout, stderr: output.stderr)
}

/// Where the bind password comes from in a written configuration.
enum PasswordSource {
    case file(String)
    case environment(String)
}

/// A configuration for the sample directory served by `server` (or at `url`), as YAML text.
func sampleConfiguration(
    url: String,
    bindDN: String,
    password: PasswordSource,
    userBase: String = Sample.people,
    groupBase: String = Sample.groups
) -> String {
    let passwordLine =
        switch password {
        case .file(let path): "passwordFile: \"\(path)\""
        case .environment(let name): "passwordEnv: \(name)"
        }
    return """
        ldap:
          urls: ["\(url)"]
          bindDN: "\(bindDN)"
          \(passwordLine)
          networkTimeoutSeconds: 5
          operationTimeoutSeconds: 20
        users:
          baseDNs: ["\(userBase)"]
          disabled:
            - rule: pwdAccountLockedTime
            - rule: underDN
              dn: "\(Sample.disabledOU)"
        groups:
          baseDNs: ["\(groupBase)"]

        """
}

extension SlapdServer {
    /// Writes a configuration for this server (the reader account unless told otherwise) and
    /// returns its path. The file goes away with the server.
    func writeConfiguration(
        _ name: String = "tenure-\(UUID().uuidString.prefix(8)).yaml",
        url: String? = nil,
        password: PasswordSource? = nil,
        userBase: String = Sample.people,
        groupBase: String = Sample.groups
    ) throws -> String {
        try self.writeFile(
            name,
            sampleConfiguration(
                url: url ?? self.url,
                bindDN: self.readerDN,
                password: password ?? .file(self.readerPasswordFile),
                userBase: userBase,
                groupBase: groupBase
            )
        )
    }

    /// Writes a file readable by its owner only (as a password file should be).
    func writePrivateFile(_ name: String, _ contents: String) throws -> String {
        let path = try self.writeFile(name, contents)
        chmod(path, 0o600)
        return path
    }
}

/// Runs `body` with a fresh empty directory, removed afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tenure-cli-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try body(directory)
}

/// Writes `contents` to `directory/name` and returns the path.
func write(_ contents: String, to name: String, in directory: String) throws -> String {
    let path = directory + "/" + name
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// A program on `PATH` (or in /usr/bin, /bin), or nil.
func findProgram(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin"]
    return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A word for `sh -c`, single-quoted.
func shellQuoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

// MARK: - The JSON document of `tenure pull --format json`

struct PullDocument: Decodable {
    struct Summary: Decodable {
        var cycles: Int
        var disabled: Int
        var entriesRead: Int
        var groups: Int
        var identities: Int
        var warnings: Int
    }

    struct Identity: Decodable {
        var id: String
        var dn: String
        var username: String?
        var disabled: Bool
        var disabledReasons: [String]
    }

    struct Group: Decodable {
        var id: String
        var dn: String
        var name: String
        var directMembers: [String]
        var directGroups: [String]
        var transitiveMembers: [String]
        var unresolvedMembers: [String]
    }

    var cycles: [[String]]
    var groups: [Group]
    var identities: [Identity]
    var readAt: String
    var server: String
    var summary: Summary
    var warnings: [String]
}

/// Checks a `pull --format json` document of the sample directory, from the document itself.
func checkSampleSnapshot(_ run: CLIRun, server: String) throws {
    try #require(run.status == 0, "\(run)")
    let document = try JSONDecoder().decode(PullDocument.self, from: Data(run.stdout.utf8))
    #expect(document.server == server)
    #expect(document.summary.identities == 26)
    #expect(document.identities.count == 26)
    #expect(document.summary.disabled == 2)
    // 7 groups and 7 privileged write-back groups (ou=privileged,ou=groups).
    #expect(document.summary.groups == 14)
    #expect(document.groups.count == 14)
    #expect(document.summary.entriesRead == 40)
    #expect(document.cycles.isEmpty)

    // Stable ids: the entryUUID, canonical (36 characters, lowercase), one per identity.
    let uuid = #/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/#
    for identity in document.identities {
        #expect(identity.id.count == 36, "\(identity.dn): id \(identity.id)")
        #expect(identity.id == identity.id.lowercased(), "\(identity.dn): id \(identity.id)")
        #expect(identity.id.wholeMatch(of: uuid) != nil, "\(identity.dn): id \(identity.id)")
    }
    let identityIDs = Set(document.identities.map(\.id))
    #expect(identityIDs.count == 26, "stable ids are not unique")

    let disabled = document.identities.filter(\.disabled)
    #expect(disabled.compactMap(\.username).sorted() == ["fdubois", "rklein"])
    for identity in document.identities {
        #expect(identity.disabled == !identity.disabledReasons.isEmpty, "\(identity.dn)")
    }

    // platform-admins nests dba and sre: its transitive members are its direct members plus
    // everything the nested groups hold — computed here from the document alone.
    let groupsByID = Dictionary(uniqueKeysWithValues: document.groups.map { ($0.id, $0) })
    let platform = try #require(document.groups.first { $0.name == "platform-admins" })
    let transitive = Set(platform.transitiveMembers)
    #expect(transitive.isSuperset(of: platform.directMembers))
    #expect(!platform.directGroups.isEmpty)
    var expected = Set(platform.directMembers)
    for nestedID in platform.directGroups {
        let nested = try #require(groupsByID[nestedID], "platform-admins nests \(nestedID), which is not in groups")
        #expect(transitive.isSuperset(of: nested.directMembers), "members of \(nested.name) missing")
        #expect(transitive.isSuperset(of: nested.transitiveMembers), "members of \(nested.name) missing")
        expected.formUnion(nested.transitiveMembers)
    }
    #expect(transitive == expected)
    #expect(Set(platform.directGroups.compactMap { groupsByID[$0]?.name }) == ["dba", "sre"])
    let usernames = Dictionary(uniqueKeysWithValues: document.identities.map { ($0.id, $0.username ?? "") })
    let platformUsers = Set(transitive.compactMap { usernames[$0] })
    // mchen directly; rklein through dba; dkowalski through sre.
    #expect(platformUsers.isSuperset(of: ["mchen", "rklein", "dkowalski"]))
    #expect(platformUsers.count == 10)

    // Every member id names an identity of the snapshot.
    for group in document.groups {
        #expect(identityIDs.isSuperset(of: group.transitiveMembers), "\(group.name) has unknown member ids")
        #expect(identityIDs.isSuperset(of: group.directMembers), "\(group.name) has unknown member ids")
    }
}

/// A vault holding `app-key`, a `--command` credential whose program is `script(directory)` (added
/// with `addOptions` too), against the sample directory. `extra` follows `vaultKeyFile:` in the
/// configuration's state section (state lines, then other sections).
func withCommandCredential(
    _ script: (String) -> String,
    extra: String = "",
    addOptions: [String] = [],
    _ body: (SyncTests.World, String) async throws -> Void
) async throws {
    try await withSlapd(data: Sample.ldif) { server in
        try await withTemporaryDirectoryAsync { directory in
            let world = try SyncTests.World(server: server, directory: directory, vault: true, extra: extra)
            #expect(try world.tenure(["vault", "init"]).status == 0)
            let program = try write(script(directory), to: "rotate.sh", in: directory)
            chmod(program, 0o700)
            let secretFile = try write("Initial-Secret\n", to: "initial.secret", in: directory)
            let added = try world.tenure(
                ["vault", "add", "app-key", "--command", program, "--secret-file", secretFile] + addOptions
            )
            try #require(added.status == 0, "\(added)")
            try await body(world, directory)
        }
    }
}

/// The pid a rotation program wrote to `pidFile` once it runs; 0 when none came within 20 s.
func rotationProgramPID(in pidFile: String) async throws -> pid_t {
    for _ in 0..<1_000 {
        let text = (try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? ""
        if let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 { return pid }
        try await Task.sleep(for: .milliseconds(20))
    }
    return 0
}

/// The process's state letter from `/proc` (`R`, `S`, `Z`, …); nil when it is gone.
func processState(_ pid: pid_t) -> String? {
    let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    return stat.flatMap { $0.split(separator: ")").last?.split(separator: " ").first.map(String.init) }
}
