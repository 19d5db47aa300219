import Foundation
import TenureStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Audit key files")
struct AuditKeyTests {
    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as! NSNumber).intValue
    }

    @Test func generateWritesThirtyTwoBytesWithMode0600AndLoadReadsThem() async throws {
        try await withTemporaryDirectory { directory async throws in
            let path = directory.file("audit.key")
            let generated = try AuditKey.generate(at: path)
            #expect(try self.mode(path) == 0o600)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 32)
            // Same key: a record MACed under one verifies under the other.
            let loaded = try AuditKey.load(path: path)
            try await withStore(key: generated) { store, storeDirectory throws in
                _ = try await store.appendAudit([event(1)])
                try store.close()
                let reopened = try SQLiteStore(path: storeDirectory.file("tenure.sqlite"), auditKey: loaded)
                #expect(try await reopened.verifyAudit().isIntact)
            }
        }
    }

    @Test func generateRefusesToOverwrite() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("audit.key")
            try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: AuditKeyError.self) { try AuditKey.generate(at: path) }
            #expect(error?.description.contains("refusing to overwrite") == true)
            #expect(error?.path == path)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        }
    }

    @Test func generateIgnoresAPermissiveUmask() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("audit.key")
            let old = umask(0)
            defer { umask(old) }
            _ = try AuditKey.generate(at: path)
            #expect(try self.mode(path) == 0o600)
        }
    }

    @Test func loadRefusesAMissingFile() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("nope.key")
            let error = #expect(throws: AuditKeyError.self) { try AuditKey.load(path: path) }
            #expect(error?.description == "the audit key file \(path) does not exist")
        }
    }

    @Test(arguments: [0, 16, 31, 33, 64])
    func loadRefusesTheWrongLength(_ length: Int) throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("audit.key")
            _ = FileManager.default.createFile(
                atPath: path,
                contents: Data(repeating: 0xab, count: length),
                attributes: [.posixPermissions: 0o600]
            )
            let error = #expect(throws: AuditKeyError.self) { try AuditKey.load(path: path) }
            #expect(error?.description.contains(path) == true)
            #expect(error?.description.contains("exactly 32 bytes, not \(length)") == true)
        }
    }

    @Test(arguments: [0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o666])
    func loadRefusesAFileOthersCanReadOrWrite(_ permissions: Int) throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("audit.key")
            _ = try AuditKey.generate(at: path)
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
            let error = #expect(throws: AuditKeyError.self) { try AuditKey.load(path: path) }
            #expect(error?.description.contains(path) == true)
            #expect(error?.description.contains("group or others (mode \(String(permissions, radix: 8)))") == true)
        }
    }

    @Test func loadAcceptsOwnerOnlyModes() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("audit.key")
            _ = try AuditKey.generate(at: path)
            try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
            _ = try AuditKey.load(path: path)
        }
    }

    /// A key someone else owns (mode 0600 or not) is theirs to read or replace: refused. Needs root
    /// to give a file away, as CI has.
    @Test(.enabled(if: geteuid() == 0, "giving a file to another user needs root"))
    func loadRefusesAFileAnotherUserOwns() throws {
        try withTemporaryDirectory { directory throws in
            let path = directory.file("audit.key")
            _ = try AuditKey.generate(at: path)
            #expect(chown(path, 65_534, 65_534) == 0)
            let error = #expect(throws: AuditKeyError.self) { try AuditKey.load(path: path) }
            #expect(error?.description.contains("owned by uid 65534") == true, "\(String(describing: error))")
            #expect(chown(path, 0, 0) == 0)
            _ = try AuditKey.load(path: path)
        }
    }

    @Test func loadRefusesADirectory() throws {
        try withTemporaryDirectory { directory throws in
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
            let error = #expect(throws: AuditKeyError.self) { try AuditKey.load(path: directory.path) }
            #expect(error?.description.contains("not a regular file") == true)
        }
    }

    @Test func theKeyNeverAppearsInDescriptionsOrErrors() throws {
        let bytes: [UInt8] = (0..<32).map { UInt8(0xc0 + $0 % 16) }
        let key = try AuditKey(bytes: bytes)
        let hexKey = bytes.map { String(format: "%02x", $0) }.joined()
        var dumped = ""
        dump(key, to: &dumped)
        for text in [String(describing: key), String(reflecting: key), "\(key)", dumped] {
            #expect(!text.lowercased().contains(hexKey))
            #expect(!text.contains("192"))  // 0xc0 as a decimal byte
            #expect(text.contains("redacted") || text.contains("AuditKey"))
        }
        #expect(String(describing: key) == "<redacted>")
        let error = #expect(throws: AuditKeyError.self) { try AuditKey(bytes: Array(bytes.prefix(31))) }
        #expect(error?.description == "an audit key must be 32 bytes, not 31")
    }

    @Test func randomKeysDiffer() async throws {
        // Two random keys MAC the same chain differently: the second cannot verify the first's log.
        try await withStore(key: try AuditKey.random()) { store, directory throws in
            _ = try await store.appendAudit([event(1)])
            try store.close()
            let other = try SQLiteStore(path: directory.file("tenure.sqlite"), auditKey: try AuditKey.random())
            #expect(try await other.verifyAudit().firstBadSequence == 1)
        }
    }
}
