/// An LDAP result code (RFC 4511 §4.1.9) or a libldap client-side code (negative values).
///
/// Modelled on GRDB's `ResultCode`: a raw value with named static members, so callers can write
/// `catch let error where error.code == .invalidCredentials`.
public struct LDAPResultCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public static let success = Self(rawValue: 0)
    public static let operationsError = Self(rawValue: 1)
    public static let protocolError = Self(rawValue: 2)
    public static let timeLimitExceeded = Self(rawValue: 3)
    public static let sizeLimitExceeded = Self(rawValue: 4)
    public static let compareFalse = Self(rawValue: 5)
    public static let compareTrue = Self(rawValue: 6)
    public static let authMethodNotSupported = Self(rawValue: 7)
    public static let strongerAuthRequired = Self(rawValue: 8)
    public static let partialResults = Self(rawValue: 9)
    public static let referral = Self(rawValue: 10)
    public static let adminLimitExceeded = Self(rawValue: 11)
    public static let unavailableCriticalExtension = Self(rawValue: 12)
    public static let confidentialityRequired = Self(rawValue: 13)
    public static let saslBindInProgress = Self(rawValue: 14)
    public static let noSuchAttribute = Self(rawValue: 16)
    public static let undefinedAttributeType = Self(rawValue: 17)
    public static let inappropriateMatching = Self(rawValue: 18)
    public static let constraintViolation = Self(rawValue: 19)
    public static let attributeOrValueExists = Self(rawValue: 20)
    public static let invalidAttributeSyntax = Self(rawValue: 21)
    public static let noSuchObject = Self(rawValue: 32)
    public static let aliasProblem = Self(rawValue: 33)
    public static let invalidDNSyntax = Self(rawValue: 34)
    public static let aliasDereferencingProblem = Self(rawValue: 36)
    public static let inappropriateAuthentication = Self(rawValue: 48)
    public static let invalidCredentials = Self(rawValue: 49)
    public static let insufficientAccessRights = Self(rawValue: 50)
    public static let busy = Self(rawValue: 51)
    public static let unavailable = Self(rawValue: 52)
    public static let unwillingToPerform = Self(rawValue: 53)
    public static let loopDetect = Self(rawValue: 54)
    public static let namingViolation = Self(rawValue: 64)
    public static let objectClassViolation = Self(rawValue: 65)
    public static let notAllowedOnNonLeaf = Self(rawValue: 66)
    public static let notAllowedOnRDN = Self(rawValue: 67)
    public static let entryAlreadyExists = Self(rawValue: 68)
    public static let objectClassModsProhibited = Self(rawValue: 69)
    public static let affectsMultipleDSAs = Self(rawValue: 71)
    public static let other = Self(rawValue: 80)
    // libldap client-side codes (ldap.h, LDAP_API_ERROR)
    public static let serverDown = Self(rawValue: -1)
    public static let localError = Self(rawValue: -2)
    public static let encodingError = Self(rawValue: -3)
    public static let decodingError = Self(rawValue: -4)
    public static let timeout = Self(rawValue: -5)
    public static let authUnknown = Self(rawValue: -6)
    public static let filterError = Self(rawValue: -7)
    public static let userCancelled = Self(rawValue: -8)
    public static let paramError = Self(rawValue: -9)
    public static let noMemory = Self(rawValue: -10)
    public static let connectError = Self(rawValue: -11)
    public static let notSupported = Self(rawValue: -12)
    public static let controlNotFound = Self(rawValue: -13)
    public static let noResultsReturned = Self(rawValue: -14)
    public static let moreResultsToReturn = Self(rawValue: -15)
    public static let clientLoop = Self(rawValue: -16)
    public static let referralLimitExceeded = Self(rawValue: -17)

    private static let names: [Int32: String] = [
        0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
        4: "sizeLimitExceeded", 5: "compareFalse", 6: "compareTrue", 7: "authMethodNotSupported",
        8: "strongerAuthRequired", 9: "partialResults", 10: "referral", 11: "adminLimitExceeded",
        12: "unavailableCriticalExtension", 13: "confidentialityRequired", 14: "saslBindInProgress",
        16: "noSuchAttribute", 17: "undefinedAttributeType", 18: "inappropriateMatching",
        19: "constraintViolation", 20: "attributeOrValueExists", 21: "invalidAttributeSyntax",
        32: "noSuchObject", 33: "aliasProblem", 34: "invalidDNSyntax", 36: "aliasDereferencingProblem",
        48: "inappropriateAuthentication", 49: "invalidCredentials", 50: "insufficientAccessRights",
        51: "busy", 52: "unavailable", 53: "unwillingToPerform", 54: "loopDetect", 64: "namingViolation",
        65: "objectClassViolation", 66: "notAllowedOnNonLeaf", 67: "notAllowedOnRDN",
        68: "entryAlreadyExists", 69: "objectClassModsProhibited", 71: "affectsMultipleDSAs", 80: "other",
        -1: "serverDown", -2: "localError", -3: "encodingError", -4: "decodingError", -5: "timeout",
        -6: "authUnknown", -7: "filterError", -8: "userCancelled", -9: "paramError", -10: "noMemory",
        -11: "connectError", -12: "notSupported", -13: "controlNotFound", -14: "noResultsReturned",
        -15: "moreResultsToReturn", -16: "clientLoop", -17: "referralLimitExceeded",
    ]

    /// The RFC 4511 name of the code (`invalidCredentials`), or `code N` when unknown.
    public var name: String {
        Self.names[self.rawValue] ?? "code \(self.rawValue)"
    }

    public var description: String {
        "\(self.name) (\(self.rawValue))"
    }

    /// Codes that mean "this server could not be reached or talked to", where trying the next
    /// configured URL makes sense. Authentication and data errors are not among them: failing
    /// over on a wrong password would only lock the account on every server.
    public var isConnectivityFailure: Bool {
        switch self {
        case .serverDown, .connectError, .timeout, .unavailable, .busy: true
        default: false
        }
    }

    /// Allows `case .sizeLimitExceeded:` on an `LDAPResultCode` in a switch.
    public static func ~= (pattern: Self, code: Self) -> Bool {
        pattern.rawValue == code.rawValue
    }
}
