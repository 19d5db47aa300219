import COpenSSL

/// One-shot hashes and MACs over libcrypto.
public enum Digest {
    /// Length in bytes of a SHA-256 digest (and of an HMAC-SHA256 tag).
    public static let sha256Length = 32

    /// SHA-256 of `bytes` (FIPS 180-4).
    public static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] {
        if let digest = bytes.withContiguousStorageIfAvailable({ Self.sha256(UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { Self.sha256($0) }
    }

    /// SHA-256 of the bytes in `buffer`.
    public static func sha256(_ buffer: UnsafeRawBufferPointer) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Self.sha256Length)
        var length: CUnsignedInt = 0
        let ok = withNonNullBytes(buffer) { base, count in
            output.withUnsafeMutableBufferPointer { out in
                EVP_Digest(base, count, out.baseAddress, &length, LibCrypto.shared.sha256, nil)
            }
        }
        // EVP_Digest only fails on allocation failure or a broken provider: not recoverable here.
        guard ok == 1, length == Self.sha256Length else {
            fatalError("EVP_Digest(SHA256) failed: \(LibCrypto.lastError())")
        }
        return output
    }

    /// HMAC-SHA256 (RFC 2104) of `message` under `key`. Any key length works, including empty and
    /// longer than the 64-byte block (hashed first, as the RFC says). For many messages under one key,
    /// reuse an ``HMACSHA256`` instead.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        let context = HMACSHA256(key: key)
        return context.authenticationCode(for: message)
    }
}
