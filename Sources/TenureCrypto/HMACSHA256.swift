import COpenSSL

/// A reusable HMAC-SHA256 context: the key is set up once (EVP_MAC), then each message costs only
/// the hashing. Not thread-safe: give each task or transaction its own.
public final class HMACSHA256 {
    /// Length in bytes of a tag.
    public static let length = 32

    private let context: OpaquePointer

    /// Sets up a context for `key` (any length; empty allowed).
    public init(key: [UInt8]) {
        guard let context = EVP_MAC_CTX_new(LibCrypto.shared.hmac) else {
            fatalError("EVP_MAC_CTX_new(HMAC) failed: \(LibCrypto.lastError())")
        }
        self.context = context
        let ok = withNonNullBytes(key) { base, count in
            "SHA256".withCString { name in
                var params = [
                    OSSL_PARAM_construct_utf8_string("digest", UnsafeMutablePointer(mutating: name), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_MAC_init(context, base.assumingMemoryBound(to: UInt8.self), count, &params)
            }
        }
        guard ok == 1 else {
            EVP_MAC_CTX_free(context)
            fatalError("EVP_MAC_init(HMAC-SHA256) failed: \(LibCrypto.lastError())")
        }
    }

    deinit {
        // Frees the context; OpenSSL cleanses the keyed state it holds.
        EVP_MAC_CTX_free(self.context)
    }

    /// The tag of `message`.
    public func authenticationCode(for message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { self.authenticationCode(for: $0) }
    }

    /// The tag of the bytes in `message`.
    public func authenticationCode(for message: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.length) { buffer, count in
            self.authenticationCode(for: message, into: UnsafeMutableRawBufferPointer(buffer))
            count = Self.length
        }
    }

    /// Writes the tag of `message` into the first 32 bytes of `output` (no allocation).
    public func authenticationCode(for message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= Self.length, "HMAC-SHA256 output buffer needs 32 bytes")
        // A NULL key re-initialises the context with the key it already holds (cheap: no re-keying).
        guard EVP_MAC_init(self.context, nil, 0, nil) == 1 else {
            fatalError("EVP_MAC_init(HMAC-SHA256, reuse) failed: \(LibCrypto.lastError())")
        }
        let updated = withNonNullBytes(message) { base, count in
            EVP_MAC_update(self.context, base.assumingMemoryBound(to: UInt8.self), count)
        }
        guard updated == 1 else {
            fatalError("EVP_MAC_update(HMAC-SHA256) failed: \(LibCrypto.lastError())")
        }
        var length = 0
        let finished = EVP_MAC_final(
            self.context,
            output.baseAddress!.assumingMemoryBound(to: UInt8.self),
            &length,
            Self.length
        )
        guard finished == 1, length == Self.length else {
            fatalError("EVP_MAC_final(HMAC-SHA256) failed: \(LibCrypto.lastError())")
        }
    }
}

@available(*, unavailable)
extension HMACSHA256: Sendable {}
