/// Key material that is wiped when the last reference goes away (audit key, vault master key).
///
/// `@unchecked Sendable`: `bytes` is written only by `init` and `deinit`, when no other reference
/// exists.
public final class SecretBytes: @unchecked Sendable {
    public private(set) var bytes: [UInt8]

    /// Copies `source` into a private buffer, so wiping it in deinit cannot be defeated by
    /// copy-on-write sharing with the caller's array.
    public init(copying source: [UInt8]) {
        self.bytes = [UInt8](unsafeUninitializedCapacity: source.count) { buffer, count in
            _ = buffer.initialize(from: source)
            count = source.count
        }
    }

    deinit {
        secureZero(&self.bytes)
    }
}
