import Foundation
import LDAPClient

/// Why a value is invalid (the message of a `ConfigError`, without location or key path).
struct ValidationFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

// MARK: - The three checks that belong to LDAPClient

/// Validates an RFC 4514 DN and returns its normalised form. The root DN (empty string) is
/// refused: as a search base or a "disabled" subtree it would mean the whole directory.
func validateDN(_ value: String) throws(ValidationFailure) -> String {
    let dn: DistinguishedName
    do {
        dn = try DistinguishedName(parsing: value)
    } catch {
        throw ValidationFailure("invalid DN \(quoted(value)) (offset \(error.offset): \(error.reason))")
    }
    guard !dn.isEmpty else {
        throw ValidationFailure("the empty (root) DN is not allowed here; name an entry such as \"dc=example,dc=com\"")
    }
    return dn.normalized
}

/// Validates an RFC 4515 search filter.
func validateFilter(_ value: String) throws(ValidationFailure) {
    guard LDAPFilter.isWellFormed(value) else {
        throw ValidationFailure("malformed LDAP filter \(quoted(value)) (RFC 4515, e.g. \"(objectClass=person)\")")
    }
}

/// Validates an attribute description (`cn`, `objectGUID`, `userCertificate;binary`, `2.5.4.3`).
func validateAttribute(_ value: String) throws(ValidationFailure) {
    guard LDAPFilter.isValidAttributeDescription(value) else {
        throw ValidationFailure(
            "invalid attribute description \(quoted(value)) (a name such as \"mail\", an OID, with optional ;options)"
        )
    }
}

// MARK: - URLs

struct ParsedLDAPURL {
    var isLDAPS: Bool
    var host: String
}

/// Validates a server URL: `ldap://host[:port]` or `ldaps://host[:port]`, nothing else.
/// The message never repeats a URL that carries credentials.
func validateLDAPURL(_ value: String) throws(ValidationFailure) -> ParsedLDAPURL {
    let lower = value.lowercased()
    let isLDAPS: Bool
    if lower.hasPrefix("ldaps://") {
        isLDAPS = true
    } else if lower.hasPrefix("ldap://") {
        isLDAPS = false
    } else {
        let scheme = value.range(of: "://").map { String(value[..<$0.lowerBound]) }
        if let scheme, !scheme.contains("@") {
            throw ValidationFailure(
                "unsupported URL scheme \(quoted(scheme + "://")) in \(quoted(value)); use ldap:// or ldaps://"
            )
        }
        throw ValidationFailure("not an LDAP URL: \(quoted(value)); expected ldap://host[:port] or ldaps://host[:port]")
    }
    let rest = value.dropFirst(isLDAPS ? 8 : 7)
    let authority = rest.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
    if authority.contains("@") {
        throw ValidationFailure(
            "URLs must not contain credentials; use ldap.bindDN with ldap.passwordFile or ldap.passwordEnv"
        )
    }
    let trailing = rest.dropFirst(authority.count)
    if !(trailing.isEmpty || trailing == "/") {
        throw ValidationFailure(
            "\(quoted(value)): only ldap[s]://host[:port] is allowed "
                + "(search bases and filters are set in users: and groups:)"
        )
    }
    var host = Substring(authority)
    var port: Substring?
    if authority.hasPrefix("[") {
        guard let close = authority.firstIndex(of: "]") else {
            throw ValidationFailure("\(quoted(value)): unterminated IPv6 address")
        }
        host = authority[authority.index(after: authority.startIndex)..<close]
        let after = authority[authority.index(after: close)...]
        if after.hasPrefix(":") {
            port = after.dropFirst()
        } else if !after.isEmpty {
            throw ValidationFailure("\(quoted(value)): unexpected text after the IPv6 address")
        }
    } else if let colon = authority.lastIndex(of: ":") {
        host = authority[..<colon]
        port = authority[authority.index(after: colon)...]
    }
    if host.isEmpty {
        throw ValidationFailure("\(quoted(value)): the URL names no host")
    }
    if host.contains(where: { $0.isWhitespace || $0 == "%" && !authority.hasPrefix("[") }) {
        throw ValidationFailure("\(quoted(value)): invalid host name")
    }
    if let port {
        guard let number = Int(port), (1...65535).contains(number) else {
            throw ValidationFailure("\(quoted(value)): port must be a number between 1 and 65535")
        }
    }
    return ParsedLDAPURL(isLDAPS: isLDAPS, host: host.lowercased())
}

func isLoopbackHost(_ host: String) -> Bool {
    host == "localhost" || host.hasSuffix(".localhost") || host.hasPrefix("127.") || host == "::1"
}

// MARK: - Suggestions

/// The candidate closest to `word` (case-insensitive edit distance), if it is close enough to be
/// a plausible typo.
func suggestion(for word: String, among candidates: [String]) -> String? {
    let lowered = word.lowercased()
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(lowered, candidate.lowercased())
        let limit = candidate.count <= 4 ? 1 : candidate.count <= 8 ? 2 : 3
        if distance <= limit, distance < (best?.distance ?? Int.max) {
            best = (candidate, distance)
        }
    }
    return best?.candidate
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
