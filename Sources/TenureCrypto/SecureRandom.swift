import COpenSSL

/// Cryptographically secure random bytes from libcrypto's DRBG (seeded by the OS).
public enum SecureRandom {
    /// `count` random bytes. Throws when the generator cannot produce them (never returns weak bytes).
    public static func bytes(_ count: Int) throws -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count")
        guard count > 0 else { return [] }
        guard count <= Int(Int32.max) else {
            throw CryptoError(operation: "RAND_bytes", reason: "\(count) bytes requested at once")
        }
        var output = [UInt8](repeating: 0, count: count)
        let ok = output.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard ok == 1 else {
            throw CryptoError.fromQueue("RAND_bytes")
        }
        return output
    }
}
