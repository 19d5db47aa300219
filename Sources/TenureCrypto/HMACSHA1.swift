import COpenSSL

extension Digest {
    /// Length in bytes of an HMAC-SHA1 tag.
    public static let hmacSHA1Length = 20

    /// HMAC-SHA1 (RFC 2104, test vectors in RFC 2202) of `message` under `key`. Any key length works,
    /// including empty and longer than the 64-byte block. Only for protocols that require SHA-1, such as
    /// HOTP and TOTP (RFC 4226, RFC 6238); use ``hmacSHA256(key:message:)`` everywhere else.
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        hmacOneShot(digest: "SHA1", length: Self.hmacSHA1Length, key: key, message: message)
    }
}

/// One-shot HMAC of `message` under `key` with the digest libcrypto names `digest` ("SHA1", "SHA256"),
/// whose tag is `length` bytes. Uses the shared `EVP_MAC`; the context is freed (and with it the keyed
/// state, which OpenSSL cleanses) before returning.
func hmacOneShot(digest: String, length: Int, key: [UInt8], message: [UInt8]) -> [UInt8] {
    guard let context = EVP_MAC_CTX_new(LibCrypto.shared.hmac) else {
        fatalError("EVP_MAC_CTX_new(HMAC) failed: \(LibCrypto.lastError())")
    }
    defer { EVP_MAC_CTX_free(context) }
    let initialised = withNonNullBytes(key) { base, count in
        digest.withCString { name in
            var params = [
                OSSL_PARAM_construct_utf8_string("digest", UnsafeMutablePointer(mutating: name), 0),
                OSSL_PARAM_construct_end(),
            ]
            return EVP_MAC_init(context, base.assumingMemoryBound(to: UInt8.self), count, &params)
        }
    }
    guard initialised == 1 else {
        fatalError("EVP_MAC_init(HMAC-\(digest)) failed: \(LibCrypto.lastError())")
    }
    let updated = withNonNullBytes(message) { base, count in
        EVP_MAC_update(context, base.assumingMemoryBound(to: UInt8.self), count)
    }
    guard updated == 1 else {
        fatalError("EVP_MAC_update(HMAC-\(digest)) failed: \(LibCrypto.lastError())")
    }
    var written = 0
    let output = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
        let finished = EVP_MAC_final(context, buffer.baseAddress, &written, length)
        guard finished == 1, written == length else {
            fatalError("EVP_MAC_final(HMAC-\(digest)) failed: \(LibCrypto.lastError())")
        }
        count = length
    }
    return output
}
