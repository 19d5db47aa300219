import COpenSSL

/// Algorithm objects fetched once from the default provider and shared by every context.
///
/// `EVP_MD` and `EVP_MAC` are reference-counted, immutable after the fetch and documented as safe to
/// use from several threads at once; they are never freed (process lifetime), so sharing the pointers is
/// sound. Fetching once avoids OpenSSL 3's per-call implicit fetch (a locked lookup) on hot paths.
final class LibCrypto: @unchecked Sendable {
    static let shared = LibCrypto()

    let sha256: OpaquePointer
    let hmac: OpaquePointer

    private init() {
        guard let sha256 = EVP_MD_fetch(nil, "SHA256", nil) else {
            fatalError("libcrypto: SHA256 is not available from the default provider (\(LibCrypto.lastError()))")
        }
        guard let hmac = EVP_MAC_fetch(nil, "HMAC", nil) else {
            fatalError("libcrypto: HMAC is not available from the default provider (\(LibCrypto.lastError()))")
        }
        self.sha256 = sha256
        self.hmac = hmac
    }

    /// The oldest queued libcrypto error as text (and clears the thread's error queue); for messages.
    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "no error queued" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Calls `body` with a pointer to the bytes of `bytes` that is never nil, even when it is empty (some
/// libcrypto entry points treat a NULL pointer as "argument absent" rather than "zero bytes").
@inline(__always)
func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawPointer, Int) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes { buffer in
        try withNonNullBytes(buffer, body)
    }
}

@inline(__always)
func withNonNullBytes<R>(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafeRawPointer, Int) throws -> R) rethrows
    -> R
{
    if let base = buffer.baseAddress {
        return try body(base, buffer.count)
    }
    var zero: UInt8 = 0
    return try withUnsafePointer(to: &zero) { try body(UnsafeRawPointer($0), 0) }
}
