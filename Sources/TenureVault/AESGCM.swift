import COpenSSL
import TenureCrypto

/// AES-256-GCM (NIST SP 800-38D) over libcrypto's EVP interface: 32-byte key, 12-byte nonce, 16-byte
/// tag, optional additional authenticated data. The output is standard GCM (ciphertext and tag kept
/// apart), readable by any conforming implementation.
///
/// A nonce must never repeat under one key; callers pass a fresh random nonce for every sealing (and
/// ``Envelope`` uses a fresh key as well).
enum AESGCM {
    static let keyLength = 32
    static let nonceLength = 12
    static let tagLength = 16

    /// Encrypts `plaintext` under `key` and `nonce`, authenticating it together with `aad`.
    static func seal(
        plaintext: [UInt8],
        key: [UInt8],
        nonce: [UInt8],
        aad: [UInt8]
    ) throws(VaultError) -> (ciphertext: [UInt8], tag: [UInt8]) {
        try checkParameters(key: key, nonce: nonce, plaintext: plaintext, aad: aad)
        let context = try newContext()
        defer { EVP_CIPHER_CTX_free(context) }
        try check(
            EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil),
            "EVP_EncryptInit_ex(AES-256-GCM)"
        )
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil),
            "EVP_CTRL_GCM_SET_IVLEN"
        )
        try check(
            EVP_EncryptInit_ex(context, nil, nil, key, nonce),
            "EVP_EncryptInit_ex(key, nonce)"
        )
        if !aad.isEmpty {
            var ignored: Int32 = 0
            try check(
                EVP_EncryptUpdate(context, nil, &ignored, aad, Int32(aad.count)),
                "EVP_EncryptUpdate(AAD)"
            )
        }
        // GCM is a stream mode: the ciphertext is exactly as long as the plaintext. One spare byte keeps
        // the output pointer non-null when the plaintext is empty.
        var output = [UInt8](repeating: 0, count: plaintext.count + 1)
        var produced: Int32 = 0
        if !plaintext.isEmpty {
            try output.withUnsafeMutableBufferPointer { (out) throws(VaultError) in
                try check(
                    EVP_EncryptUpdate(context, out.baseAddress, &produced, plaintext, Int32(plaintext.count)),
                    "EVP_EncryptUpdate"
                )
            }
        }
        var finalLength: Int32 = 0
        try output.withUnsafeMutableBufferPointer { (out) throws(VaultError) in
            try check(
                EVP_EncryptFinal_ex(context, out.baseAddress! + Int(produced), &finalLength),
                "EVP_EncryptFinal_ex"
            )
        }
        guard Int(produced) + Int(finalLength) == plaintext.count else {
            throw VaultError(.cryptoFailure, "AES-256-GCM produced an unexpected ciphertext length")
        }
        output.removeLast()
        var tag = [UInt8](repeating: 0, count: tagLength)
        try tag.withUnsafeMutableBufferPointer { (buffer) throws(VaultError) in
            try check(
                EVP_CIPHER_CTX_ctrl(
                    context,
                    EVP_CTRL_GCM_GET_TAG,
                    Int32(tagLength),
                    UnsafeMutableRawPointer(buffer.baseAddress)
                ),
                "EVP_CTRL_GCM_GET_TAG"
            )
        }
        return (output, tag)
    }

    /// Decrypts and verifies. Throws ``VaultError/Code/authenticationFailed`` when the tag does not
    /// match (wrong key, nonce or AAD, or modified ciphertext or tag); no plaintext is ever returned
    /// from data that did not authenticate, and the unverified buffer is wiped.
    static func open(
        ciphertext: [UInt8],
        tag: [UInt8],
        key: [UInt8],
        nonce: [UInt8],
        aad: [UInt8]
    ) throws(VaultError) -> [UInt8] {
        try checkParameters(key: key, nonce: nonce, plaintext: ciphertext, aad: aad)
        // Only full-length tags: accepting a truncated tag would weaken the authentication.
        guard tag.count == tagLength else {
            throw authenticationFailure
        }
        let context = try newContext()
        defer { EVP_CIPHER_CTX_free(context) }
        try check(
            EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil),
            "EVP_DecryptInit_ex(AES-256-GCM)"
        )
        try check(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceLength), nil),
            "EVP_CTRL_GCM_SET_IVLEN"
        )
        try check(
            EVP_DecryptInit_ex(context, nil, nil, key, nonce),
            "EVP_DecryptInit_ex(key, nonce)"
        )
        if !aad.isEmpty {
            var ignored: Int32 = 0
            try check(
                EVP_DecryptUpdate(context, nil, &ignored, aad, Int32(aad.count)),
                "EVP_DecryptUpdate(AAD)"
            )
        }
        var output = [UInt8](repeating: 0, count: ciphertext.count + 1)
        var authenticated = false
        // Whatever happens below, unverified plaintext does not outlive this call.
        defer { if !authenticated { secureZero(&output) } }
        var produced: Int32 = 0
        if !ciphertext.isEmpty {
            try output.withUnsafeMutableBufferPointer { (out) throws(VaultError) in
                try check(
                    EVP_DecryptUpdate(context, out.baseAddress, &produced, ciphertext, Int32(ciphertext.count)),
                    "EVP_DecryptUpdate"
                )
            }
        }
        var expectedTag = tag
        try expectedTag.withUnsafeMutableBufferPointer { (buffer) throws(VaultError) in
            try check(
                EVP_CIPHER_CTX_ctrl(
                    context,
                    EVP_CTRL_GCM_SET_TAG,
                    Int32(tagLength),
                    UnsafeMutableRawPointer(buffer.baseAddress)
                ),
                "EVP_CTRL_GCM_SET_TAG"
            )
        }
        var finalLength: Int32 = 0
        let verified = output.withUnsafeMutableBufferPointer { out in
            EVP_DecryptFinal_ex(context, out.baseAddress! + Int(produced), &finalLength)
        }
        guard verified == 1 else {
            // A tag mismatch is the expected failure here; drop whatever libcrypto queued for it.
            ERR_clear_error()
            throw authenticationFailure
        }
        guard Int(produced) + Int(finalLength) == ciphertext.count else {
            throw VaultError(.cryptoFailure, "AES-256-GCM produced an unexpected plaintext length")
        }
        authenticated = true
        output.removeLast()
        return output
    }

    private static var authenticationFailure: VaultError {
        VaultError(.authenticationFailed, "AES-256-GCM authentication failed: wrong key or modified data")
    }

    private static func checkParameters(
        key: [UInt8],
        nonce: [UInt8],
        plaintext: [UInt8],
        aad: [UInt8]
    ) throws(VaultError) {
        guard key.count == keyLength else {
            throw VaultError(.invalidKey, "an AES-256-GCM key must be \(keyLength) bytes, not \(key.count)")
        }
        guard nonce.count == nonceLength else {
            throw VaultError(.invalidKey, "an AES-256-GCM nonce must be \(nonceLength) bytes, not \(nonce.count)")
        }
        guard plaintext.count < Int(Int32.max), aad.count < Int(Int32.max) else {
            throw VaultError(.invalidInput, "AES-256-GCM input too large for one call")
        }
    }

    /// A new `EVP_CIPHER_CTX`; the caller frees it (`EVP_CIPHER_CTX_free` also cleanses the expanded
    /// key it holds) in a `defer`, so every path out of `seal`/`open`, throwing or not, releases it.
    private static func newContext() throws(VaultError) -> OpaquePointer {
        guard let context = EVP_CIPHER_CTX_new() else {
            throw VaultError(.cryptoFailure, "EVP_CIPHER_CTX_new failed: \(lastLibCryptoError())")
        }
        return context
    }

    private static func check(_ result: Int32, _ operation: String) throws(VaultError) {
        guard result == 1 else {
            throw VaultError(.cryptoFailure, "\(operation) failed: \(lastLibCryptoError())")
        }
    }
}

/// The oldest queued libcrypto error as text (and clears the thread's error queue); for messages.
private func lastLibCryptoError() -> String {
    let code = ERR_get_error()
    ERR_clear_error()
    guard code != 0 else { return "no error queued" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
