/// A libcrypto call failed. Carries the failing operation and OpenSSL's error text; never key material.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The operation that failed, e.g. `RAND_bytes`.
    public var operation: String
    /// OpenSSL's description of the error, when it queued one.
    public var reason: String

    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(self.operation) failed: \(self.reason)" }

    static func fromQueue(_ operation: String) -> CryptoError {
        CryptoError(operation: operation, reason: LibCrypto.lastError())
    }
}
