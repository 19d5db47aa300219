import TenureCrypto
import Testing

@testable import TenureVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private func expectVaultError(
    _ code: VaultError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> MasterKey
) throws -> VaultError {
    let error = try #require(throws: VaultError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error.code == code, sourceLocation: sourceLocation)
    return error
}

@Suite("Master key files")
struct MasterKeyTests {
    @Test func generateCreatesAPrivate32ByteFileThatLoadsBack() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/master.key"
            let generated = try MasterKey.generate(at: path)
            #expect(try permissions(of: path) == 0o600)
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_size == 32)
            let loaded = try MasterKey.load(path: path)
            #expect(loaded.bytes == generated.bytes)
            #expect(generated.bytes.count == 32)
            #expect(generated.bytes != [UInt8](repeating: 0, count: 32))
        }
    }

    @Test func generateDrawsADifferentKeyEachTime() throws {
        try withTemporaryDirectory { directory in
            let first = try MasterKey.generate(at: directory + "/a.key")
            let second = try MasterKey.generate(at: directory + "/b.key")
            #expect(first.bytes != second.bytes)
        }
    }

    @Test func generateRefusesToOverwriteAndLeavesTheFileAlone() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/master.key"
            let original = try MasterKey.generate(at: path)
            let error = try expectVaultError(.keyFileExists) { try MasterKey.generate(at: path) }
            #expect(error.description.contains(path))
            #expect(error.path == path)
            #expect(try MasterKey.load(path: path).bytes == original.bytes)
        }
    }

    @Test func generateRefusesToFollowASymlink() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/master.key"
            #expect(symlink(directory + "/elsewhere", path) == 0)
            _ = try expectVaultError(.keyFileExists) { try MasterKey.generate(at: path) }
            #expect(access(directory + "/elsewhere", F_OK) != 0)
        }
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] as [mode_t])
    func loadRefusesFilesOthersCanReadOrWrite(mode: mode_t) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/master.key"
            let keyBytes = try SecureRandom.bytes(32)
            try writeFile(path, keyBytes, mode: mode)
            let error = try expectVaultError(.keyFileInsecurePermissions) { try MasterKey.load(path: path) }
            #expect(error.description.contains(path))
            #expect(error.description.contains("chmod 600"))
            #expect(error.description.contains(String(mode, radix: 8)))
            #expect(!error.description.contains(hex(keyBytes)))
        }
    }

    @Test func loadAcceptsOwnerOnlyModes() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/master.key"
            let keyBytes = try SecureRandom.bytes(32)
            for mode: mode_t in [0o600, 0o400] {
                try writeFile(path, keyBytes, mode: 0o600)
                #expect(chmod(path, mode) == 0)
                #expect(try MasterKey.load(path: path).bytes == keyBytes)
                #expect(unlink(path) == 0)
            }
        }
    }

    @Test(arguments: [0, 1, 31, 33, 64])
    func loadRefusesTheWrongLength(length: Int) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/master.key"
            try writeFile(path, [UInt8](repeating: 0xab, count: length), mode: 0o600)
            let error = try expectVaultError(.keyFileWrongLength) { try MasterKey.load(path: path) }
            #expect(error.description.contains(path))
            #expect(error.description.contains("32 bytes"))
            #expect(error.description.contains("not \(length)"))
            #expect(!error.description.contains("abab"))
        }
    }

    @Test func loadRefusesAMissingFileByName() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/absent.key"
            let error = try expectVaultError(.keyFileMissing) { try MasterKey.load(path: path) }
            #expect(error.description == "the master key file \(path) does not exist")
        }
    }

    @Test func loadRefusesADirectoryAndAFIFOWithoutHanging() throws {
        try withTemporaryDirectory { directory in
            let error = try expectVaultError(.keyFileNotRegular) { try MasterKey.load(path: directory) }
            #expect(error.description.contains("not a regular file"))
            let fifo = directory + "/fifo.key"
            #expect(mkfifo(fifo, 0o600) == 0)
            _ = try expectVaultError(.keyFileNotRegular) { try MasterKey.load(path: fifo) }
        }
    }

    @Test func initRequiresExactly32Bytes() throws {
        for count in [0, 16, 31, 33] {
            _ = try expectVaultError(.invalidKey) { try MasterKey(bytes: [UInt8](repeating: 1, count: count)) }
        }
        #expect(try MasterKey(bytes: [UInt8](repeating: 1, count: 32)).bytes == [UInt8](repeating: 1, count: 32))
    }

    @Test func everyTextualFormIsRedacted() throws {
        let keyBytes = try SecureRandom.bytes(32)
        let key = try MasterKey(bytes: keyBytes)
        #expect(key.description == "<redacted>")
        #expect(key.debugDescription == "MasterKey(<redacted>)")
        #expect("\(key)" == "<redacted>")
        #expect(String(reflecting: key) == "MasterKey(<redacted>)")
        var dumped = ""
        dump(key, to: &dumped)
        #expect(dumped.contains("<redacted>"))
        #expect(Mirror(reflecting: key).children.isEmpty)
        // Nothing resembling the key in any form: hex, or the decimal array Swift would print.
        for text in [key.description, key.debugDescription, dumped, String(describing: [key])] {
            #expect(!text.contains(hex(keyBytes)))
            #expect(!text.contains(String(describing: keyBytes)))
        }
    }
}
