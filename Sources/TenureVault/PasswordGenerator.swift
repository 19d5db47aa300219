import TenureCrypto

/// What a generated password is made of.
public struct PasswordPolicy: Sendable, Hashable, Codable {
    public static let minimumLength = 12
    public static let maximumLength = 256
    public static let defaultSymbols = "!#%+-.:=?@_~"

    /// Number of characters (12…256).
    public var length: Int
    /// Include (and require at least one of) `a`–`z`.
    public var lowercase: Bool
    /// Include (and require at least one of) `A`–`Z`.
    public var uppercase: Bool
    /// Include (and require at least one of) `0`–`9`.
    public var digits: Bool
    /// Include (and require at least one of) the characters in ``symbolSet``.
    public var symbols: Bool
    /// The symbol characters: printable ASCII punctuation, no letters, digits, spaces or repeats.
    public var symbolSet: String

    public init(
        length: Int = 32,
        lowercase: Bool = true,
        uppercase: Bool = true,
        digits: Bool = true,
        symbols: Bool = true,
        symbolSet: String = PasswordPolicy.defaultSymbols
    ) {
        self.length = length
        self.lowercase = lowercase
        self.uppercase = uppercase
        self.digits = digits
        self.symbols = symbols
        self.symbolSet = symbolSet
    }

    /// Throws ``VaultError/Code/invalidPasswordPolicy`` when the policy is out of bounds or cannot be
    /// satisfied.
    public func validate() throws(VaultError) {
        func invalid(_ message: String) -> VaultError {
            VaultError(.invalidPasswordPolicy, "invalid password policy: \(message)")
        }
        guard (Self.minimumLength...Self.maximumLength).contains(self.length) else {
            throw invalid(
                "length must be between \(Self.minimumLength) and \(Self.maximumLength), not \(self.length)"
            )
        }
        if self.symbols {
            let scalars = Array(self.symbolSet.unicodeScalars)
            guard !scalars.isEmpty else {
                throw invalid("symbols are enabled but the symbol set is empty")
            }
            for scalar in scalars {
                let isPunctuation =
                    scalar.isASCII && scalar.value > 0x20 && scalar.value < 0x7f
                    && !Self.lowercaseLetters.contains(UInt8(scalar.value))
                    && !Self.uppercaseLetters.contains(UInt8(scalar.value))
                    && !Self.digitCharacters.contains(UInt8(scalar.value))
                guard isPunctuation else {
                    throw invalid(
                        "the symbol set may only hold printable ASCII punctuation, not \(scalar.escaped(asASCII: true))"
                    )
                }
            }
            // A repeated symbol would be drawn twice as often as the others.
            guard Set(scalars).count == scalars.count else {
                throw invalid("the symbol set repeats a character")
            }
        }
        let required = self.classes.count
        guard required > 0 else {
            throw invalid("at least one character class (lowercase, uppercase, digits, symbols) must be enabled")
        }
        guard self.length >= required else {
            throw invalid("length \(self.length) is shorter than the \(required) required character classes")
        }
    }

    /// Every field is optional on decoding: a partial policy (e.g. only `length`) takes the defaults
    /// for the rest. Decoding does not validate; call ``validate()``.
    private enum CodingKeys: String, CodingKey {
        case length, lowercase, uppercase, digits, symbols, symbolSet
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            length: try container.decodeIfPresent(Int.self, forKey: .length) ?? 32,
            lowercase: try container.decodeIfPresent(Bool.self, forKey: .lowercase) ?? true,
            uppercase: try container.decodeIfPresent(Bool.self, forKey: .uppercase) ?? true,
            digits: try container.decodeIfPresent(Bool.self, forKey: .digits) ?? true,
            symbols: try container.decodeIfPresent(Bool.self, forKey: .symbols) ?? true,
            symbolSet: try container.decodeIfPresent(String.self, forKey: .symbolSet) ?? Self.defaultSymbols
        )
    }

    static let lowercaseLetters: [UInt8] = Array("abcdefghijklmnopqrstuvwxyz".utf8)
    static let uppercaseLetters: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    static let digitCharacters: [UInt8] = Array("0123456789".utf8)

    /// The enabled character classes (ASCII bytes), in a fixed order.
    var classes: [[UInt8]] {
        var classes: [[UInt8]] = []
        if self.lowercase { classes.append(Self.lowercaseLetters) }
        if self.uppercase { classes.append(Self.uppercaseLetters) }
        if self.digits { classes.append(Self.digitCharacters) }
        if self.symbols { classes.append(Array(self.symbolSet.utf8)) }
        return classes
    }
}

/// Random passwords drawn from the secure random generator.
///
/// Each character is drawn uniformly from the union of the enabled classes by rejection sampling:
/// a random byte `b` is used only when `b < 256 - 256 % n` (n the alphabet size), as `b % n`, and
/// discarded otherwise, so there is no modulo bias. A password lacking an enabled class is discarded
/// whole and drawn again, which makes the result uniform over all passwords that satisfy the policy
/// (no fixed or biased positions for the required classes).
public enum PasswordGenerator {
    /// A random source: returns exactly the requested number of bytes.
    typealias RandomSource = (Int) throws -> [UInt8]

    /// Whole passwords drawn before giving up. The worst valid policy (12 characters, one extra symbol
    /// among 62 letters and digits) fails a draw with probability < 0.84, so reaching this bound
    /// means the random source is broken.
    static let maximumAttempts = 10_000

    /// A password satisfying `policy` (validated first).
    public static func generate(_ policy: PasswordPolicy) throws(VaultError) -> String {
        try self.generate(policy, randomSource: SecureRandom.bytes)
    }

    /// A password satisfying `policy`, drawing bytes from `randomSource` (tests pass a deterministic
    /// one).
    static func generate(
        _ policy: PasswordPolicy,
        randomSource: @escaping RandomSource
    ) throws(VaultError) -> String {
        try policy.validate()
        let classes = policy.classes
        let alphabet = classes.flatMap { $0 }
        var sampler = IndexSampler(bound: alphabet.count, randomSource: randomSource)
        defer { sampler.wipe() }
        var password = [UInt8](repeating: 0, count: policy.length)
        defer { secureZero(&password) }
        for _ in 0..<maximumAttempts {
            for position in password.indices {
                password[position] = alphabet[try sampler.next()]
            }
            if classes.allSatisfy({ characterClass in password.contains { characterClass.contains($0) } }) {
                return String(decoding: password, as: UTF8.self)
            }
        }
        throw VaultError(
            .randomFailure,
            "could not draw a password satisfying the policy in \(maximumAttempts) attempts: "
                + "the random generator is not producing usable bytes"
        )
    }
}

/// Uniform indices in `0..<bound` (bound ≤ 256) from random bytes, by rejection sampling.
struct IndexSampler {
    let bound: Int
    /// The largest multiple of `bound` not above 256: bytes at or above it are discarded.
    let limit: Int
    /// Consecutive discarded bytes before giving up. Valid alphabets discard at most 84/256 of the
    /// bytes (bound 86), so 128 in a row (probability < 1e-60) means the source is broken.
    static let maximumConsecutiveRejections = 128

    private let randomSource: PasswordGenerator.RandomSource
    private var buffer: [UInt8] = []
    private var position = 0

    init(bound: Int, randomSource: @escaping PasswordGenerator.RandomSource) {
        precondition(bound > 0 && bound <= 256, "IndexSampler: bound must be in 1...256")
        self.bound = bound
        self.limit = 256 - 256 % bound
        self.randomSource = randomSource
    }

    /// The next uniform index.
    mutating func next() throws(VaultError) -> Int {
        var rejected = 0
        while true {
            let byte = Int(try self.nextByte())
            if byte < self.limit {
                return byte % self.bound
            }
            rejected += 1
            guard rejected < Self.maximumConsecutiveRejections else {
                throw VaultError(
                    .randomFailure,
                    "the random generator returned \(rejected) unusable bytes in a row"
                )
            }
        }
    }

    mutating func wipe() {
        secureZero(&self.buffer)
        self.buffer = []
        self.position = 0
    }

    private mutating func nextByte() throws(VaultError) -> UInt8 {
        if self.position == self.buffer.count {
            secureZero(&self.buffer)
            let wanted = 64
            let fresh: [UInt8]
            do {
                fresh = try self.randomSource(wanted)
            } catch {
                throw VaultError(.randomFailure, "cannot generate a password: \(error)")
            }
            guard !fresh.isEmpty else {
                throw VaultError(.randomFailure, "the random generator returned no bytes")
            }
            self.buffer = fresh
            self.position = 0
        }
        defer { self.position += 1 }
        return self.buffer[self.position]
    }
}
