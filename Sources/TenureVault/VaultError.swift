/// A vault operation failed. The message names the credential, version or key file concerned; it never
/// contains a key, a nonce, a secret or any other secret material.
public struct VaultError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for callers that branch on the failure.
    public enum Code: String, Hashable, Sendable {
        /// A GCM tag did not verify: wrong master key, or the sealed data (or its credential/version
        /// binding) was modified.
        case authenticationFailed
        /// The master key file does not exist.
        case keyFileMissing
        /// `generate` found a file already at the path and refused to overwrite it.
        case keyFileExists
        /// The master key file is not a regular file (directory, FIFO, device…).
        case keyFileNotRegular
        /// The master key file is readable or writable by group or others.
        case keyFileInsecurePermissions
        /// The master key file does not hold exactly 32 bytes.
        case keyFileWrongLength
        /// Opening, reading, writing or syncing the master key file failed.
        case keyFileIO
        /// A key or nonce of the wrong length was passed in.
        case invalidKey
        /// An input is out of range (e.g. larger than libcrypto accepts in one call).
        case invalidInput
        /// A sealed secret names an algorithm this version does not support.
        case unsupportedAlgorithm
        /// A password policy is inconsistent or out of bounds.
        case invalidPasswordPolicy
        /// The random generator failed or produced unusable output.
        case randomFailure
        /// Any other libcrypto failure.
        case cryptoFailure
    }

    public var code: Code
    /// The credential concerned, when there is one.
    public var credential: String?
    /// The credential version concerned, when there is one.
    public var version: Int?
    /// The key file concerned, when there is one.
    public var path: String?
    /// A human-readable explanation (no secret material).
    public var message: String

    public init(
        _ code: Code,
        _ message: String,
        credential: String? = nil,
        version: Int? = nil,
        path: String? = nil
    ) {
        self.code = code
        self.message = message
        self.credential = credential
        self.version = version
        self.path = path
    }

    public var description: String { self.message }

    /// The credential's sealed secret did not authenticate.
    public static func authenticationFailed(credential: String, version: Int) -> VaultError {
        VaultError(
            .authenticationFailed,
            "cannot open credential \(credential) version \(version): "
                + "wrong master key or the stored secret was modified",
            credential: credential,
            version: version
        )
    }
}
