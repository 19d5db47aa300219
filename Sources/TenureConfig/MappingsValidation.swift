import LDAPClient
import TenureCore

/// Merges the files of a mappings directory and runs the checks that need all of them: unique
/// role and rule names, rules and conflicts naming defined roles, modes, write-back groups, and
/// `scope:` / `guard:` set at most once.
///
/// There is no role inheritance in the format, so roles cannot form an inheritance cycle. The one
/// loop a mappings file could express is a condition on a write-back group: Tenure writes that group
/// from its own grants, so reading it back in `memberOf:` would make a grant sustain (or flip) itself.
/// That is refused. A `conflicts:` entry need not be listed back by the other role: conflicts are
/// symmetric in effect, and the merged result lists every conflict on both roles.
enum MappingsAssembler {
    typealias Located = ConfigDecoder.Located

    static func assemble(_ fragments: [MappingsFragment]) throws(ConfigError) -> Mappings {
        let roles = fragments.flatMap(\.roles)
        let rules = fragments.flatMap(\.rules)

        try self.checkUniqueNames(roles.map(\.name), what: "role")
        try self.checkUniqueNames(rules.map(\.name), what: "rule")
        try self.checkWriteBackGroups(roles)
        let scope = try self.single(fragments.map(\.scope), key: "scope")
        let guardSettings = try self.single(fragments.map(\.guardSettings), key: "guard")
        let leaver = try self.single(fragments.map(\.leaver), key: "leaver")

        var byName: [String: MappingsFragment.LocatedRole] = [:]
        for role in roles { byName[role.role.name] = role }
        let roleNames = roles.map(\.role.name)

        for role in roles {
            for conflict in role.conflicts {
                if conflict.value == role.role.name {
                    throw self.error(
                        conflict,
                        "role \(quoted(role.role.name)) cannot conflict with itself; conflicts name other roles"
                    )
                }
                guard byName[conflict.value] != nil else {
                    throw self.error(conflict, self.unknownRoleMessage(conflict.value, roleNames))
                }
            }
        }

        var merged: [Rule] = []
        for located in rules {
            guard let role = byName[located.grant.value] else {
                throw self.error(located.grant, self.unknownRoleMessage(located.grant.value, roleNames))
            }
            var rule = located.rule
            if let mode = located.mode {
                if mode.value == .eligible, role.role.mode == .standing {
                    throw self.error(
                        mode,
                        "role \(quoted(role.role.name)) is standing (\(role.name.location)); it cannot be granted "
                            + "as eligible (grant it as: standing, or make the role eligible)"
                    )
                }
            } else {
                rule.mode = role.role.mode
            }
            merged.append(rule)
        }

        try self.checkWriteBackReferences(fragments.flatMap(\.groupReferences), roles)

        return Mappings(
            roles: self.symmetricConflicts(roles.map(\.role)),
            rules: merged,
            scope: scope ?? .always,
            protected: fragments.flatMap(\.protected).reduce(into: []) { result, identity in
                if !result.contains(identity) { result.append(identity) }
            },
            guardSettings: guardSettings ?? LeaverGuard(),
            leaver: leaver ?? LeaverPolicy()
        )
    }

    // MARK: - Checks

    private static func error<Value>(_ value: Located<Value>, _ message: String) -> ConfigError {
        ConfigError(value.location, keyPath: value.path, message: message, file: self.file(of: value.location))
    }

    private static func file(of location: ConfigLocation) -> String {
        if case .file(let path, _, _) = location { return path }
        return ""
    }

    /// Names are compared without regard to case: `dba-prod` and `DBA-prod` would be two roles no
    /// one could tell apart in a listing.
    private static func checkUniqueNames(_ names: [Located<String>], what: String) throws(ConfigError) {
        var seen: [String: Located<String>] = [:]
        for name in names {
            let key = name.value.lowercased()
            if let first = seen[key] {
                if first.value == name.value {
                    throw self.error(
                        name,
                        "duplicate \(what) name \(quoted(name.value)) (first defined at \(first.location))"
                    )
                }
                throw self.error(
                    name,
                    "\(what) name \(quoted(name.value)) differs only in case from \(quoted(first.value)) "
                        + "(defined at \(first.location)); \(what) names must differ by more than case"
                )
            }
            seen[key] = name
        }
    }

    /// Two roles mirrored into one group would undo each other's writes.
    private static func checkWriteBackGroups(_ roles: [MappingsFragment.LocatedRole]) throws(ConfigError) {
        var seen: [String: MappingsFragment.LocatedRole] = [:]
        for role in roles {
            guard let group = role.writeBackGroup else { continue }
            if let first = seen[group.value], let firstGroup = first.writeBackGroup {
                throw self.error(
                    group,
                    "\(group.value) is already the write-back group of role \(quoted(first.role.name)) "
                        + "(\(firstGroup.location)); each role needs its own group"
                )
            }
            seen[group.value] = role
        }
    }

    private static func single<Value>(
        _ sections: [MappingsFragment.SingleSection<Value>?],
        key: String
    ) throws(ConfigError) -> Value? {
        var first: MappingsFragment.SingleSection<Value>?
        for case let section? in sections {
            if let first {
                throw ConfigError(
                    section.location,
                    keyPath: key,
                    message: "\(key) is already set at \(first.location); set it in one file only",
                    file: self.file(of: section.location)
                )
            }
            first = section
        }
        return first?.value
    }

    private static func unknownRoleMessage(_ name: String, _ roleNames: [String]) -> String {
        var message = "unknown role \(quoted(name))"
        if let near = suggestion(for: name, among: roleNames) {
            message += " (did you mean \(quoted(near))?)"
        }
        if roleNames.isEmpty {
            message += "; no roles are defined (define them under roles:)"
        } else if roleNames.count <= 12 {
            message += "; defined roles: " + roleNames.joined(separator: ", ")
        }
        return message
    }

    /// `memberOf:` must not name a write-back group, by DN or by the group's name (the value of its
    /// leaf RDN, which is what a group name usually is).
    private static func checkWriteBackReferences(
        _ references: [MappingsFragment.GroupReference],
        _ roles: [MappingsFragment.LocatedRole]
    ) throws(ConfigError) {
        let groups: [(role: MappingsFragment.LocatedRole, dn: Located<String>, leafName: String?)] = roles.compactMap {
            role in
            guard let dn = role.writeBackGroup else { return nil }
            let leaf = (try? DistinguishedName(parsing: dn.value))?.rdns.first?.attributes
            let name = leaf?.count == 1 ? leaf?.first?.stringValue?.lowercased() : nil
            return (role, dn, name)
        }
        for reference in references {
            for group in groups {
                let matches =
                    reference.isDN ? reference.group == group.dn.value : reference.group.lowercased() == group.leafName
                guard matches else { continue }
                let named =
                    reference.isDN
                    ? "\(reference.group) is the write-back group"
                    : "group name \(quoted(reference.group)) also names \(group.dn.value), the write-back group"
                throw ConfigError(
                    reference.location,
                    keyPath: reference.path,
                    message: "\(named) of role \(quoted(group.role.role.name)) (\(group.dn.location)); Tenure writes "
                        + "that group from its own grants, so a condition on it would feed them back into the rules"
                        + (reference.isDN ? "" : "; name the source group by its DN"),
                    file: self.file(of: reference.location)
                )
            }
        }
    }

    /// Every conflict listed on both roles, in the order the roles are defined.
    private static func symmetricConflicts(_ roles: [RoleDefinition]) -> [RoleDefinition] {
        var result = roles
        for role in roles {
            for conflict in role.conflicts {
                guard let index = result.firstIndex(where: { $0.name == conflict }) else { continue }
                if !result[index].conflicts.contains(role.name) { result[index].conflicts.append(role.name) }
            }
        }
        return result
    }
}

// MARK: - Values

/// A role or rule name: letters, digits, `.`, `_` and `-`, starting with a letter or a digit,
/// at most 128 characters.
func validateMappingsName(_ name: String, what: String) throws(ValidationFailure) {
    func isAlphanumeric(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber)
    }
    guard name.count <= 128, let first = name.first, isAlphanumeric(first),
        name.allSatisfy({ isAlphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." })
    else {
        throw ValidationFailure(
            "invalid \(what) name \(quoted(name)): use letters, digits, '.', '_' and '-', "
                + "starting with a letter or digit (at most 128 characters)"
        )
    }
}

/// A duration such as `90m`, `4h`, `1d`, `3600s` or `1h30m` (units s, m, h, d), in seconds.
/// `0` (or `0s`, …) only where `allowZero`.
func parseDuration(_ text: String, allowZero: Bool = false) throws(ValidationFailure) -> Int {
    if allowZero, text == "0" { return 0 }
    let invalid = ValidationFailure(
        "invalid duration \(quoted(text)); write a number with a unit: s, m, h or d (90m, 4h, 1d, 1h30m)"
    )
    guard !text.isEmpty else { throw invalid }
    var total = 0
    var number: Int?
    for character in text {
        if let digit = character.wholeNumberValue, character.isASCII {
            let (times, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { throw ValidationFailure("duration \(quoted(text)) is too long") }
            number = sum
            continue
        }
        let unit: Int
        switch character {
        case "s": unit = 1
        case "m": unit = 60
        case "h": unit = 3600
        case "d": unit = 86_400
        default: throw invalid
        }
        guard let value = number else { throw invalid }
        let (seconds, overflow1) = value.multipliedReportingOverflow(by: unit)
        let (sum, overflow2) = total.addingReportingOverflow(seconds)
        guard !overflow1, !overflow2 else { throw ValidationFailure("duration \(quoted(text)) is too long") }
        total = sum
        number = nil
    }
    guard number == nil else {
        throw ValidationFailure(
            "duration \(quoted(text)) has no unit; write e.g. \(text)s, \(text)m or \(text)h"
        )
    }
    guard total > 0 || allowZero else { throw ValidationFailure("duration \(quoted(text)) must be longer than 0") }
    return total
}

/// An ISO 8601 timestamp with a time zone — `2026-01-01T00:00:00Z`, `2026-06-30T18:00:00+02:00`,
/// with optional fractional seconds — as seconds since 1970-01-01T00:00:00Z. A date alone is
/// refused: whether `validUntil: 2026-12-31` includes that day would be a guess.
func parseTimestamp(_ text: String) throws(ValidationFailure) -> Double {
    let example = "e.g. 2026-01-01T00:00:00Z or 2026-01-01T09:00:00+02:00"
    let invalid = ValidationFailure("invalid timestamp \(quoted(text)); expected ISO 8601 with a time zone, \(example)")
    let scalars = Array(text.unicodeScalars)

    var index = 0
    func digits(_ count: Int) -> Int? {
        guard index + count <= scalars.count else { return nil }
        var value = 0
        for scalar in scalars[index..<(index + count)] {
            guard let digit = Int(String(scalar)), scalar.isASCII else { return nil }
            value = value * 10 + digit
        }
        index += count
        return value
    }
    func expect(_ characters: String) -> Bool {
        guard index < scalars.count, characters.unicodeScalars.contains(scalars[index]) else { return false }
        index += 1
        return true
    }

    guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2) else {
        throw invalid
    }
    if index == scalars.count {
        throw ValidationFailure(
            "\(quoted(text)) is a date without a time; write the time and zone, e.g. \(text)T00:00:00Z"
        )
    }
    guard expect("Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
        let second = digits(2)
    else { throw invalid }
    var fraction = 0.0
    if expect(".") {
        var scale = 0.1
        var any = false
        while index < scalars.count, scalars[index].isASCII, let digit = Int(String(scalars[index])) {
            fraction += Double(digit) * scale
            scale /= 10
            index += 1
            any = true
        }
        guard any else { throw invalid }
    }
    var offset = 0
    if expect("Zz") {
        offset = 0
    } else if index < scalars.count, scalars[index] == "+" || scalars[index] == "-" {
        let sign = scalars[index] == "-" ? -1 : 1
        index += 1
        guard let hours = digits(2) else { throw invalid }
        _ = expect(":")
        guard let minutes = digits(2), hours <= 23, minutes <= 59 else { throw invalid }
        offset = sign * (hours * 3600 + minutes * 60)
    } else if index == scalars.count {
        throw ValidationFailure("timestamp \(quoted(text)) has no time zone; add Z (UTC) or an offset, \(example)")
    } else {
        throw invalid
    }
    guard index == scalars.count else { throw invalid }

    guard (1...12).contains(month) else {
        throw ValidationFailure("invalid timestamp \(quoted(text)): there is no month \(month)")
    }
    let date = CivilDate(year: year, month: month, day: day)
    guard date.isValid else {
        throw ValidationFailure(
            "invalid timestamp \(quoted(text)): \(year)-\(String(month).leftPadded(to: 2)) has no day \(day)"
        )
    }
    guard hour <= 23, minute <= 59, second <= 59 else {
        throw ValidationFailure("invalid timestamp \(quoted(text)): the time of day is out of range")
    }
    let seconds = date.daysSince1970 * 86_400 + hour * 3600 + minute * 60 + second - offset
    return Double(seconds) + fraction
}

/// A regular expression Swift's `Regex` accepts (conditions match it against whole values).
func validateRegex(_ pattern: String) throws(ValidationFailure) {
    do {
        _ = try Regex(pattern)
    } catch {
        throw ValidationFailure("invalid regular expression \(quoted(pattern)): \(error)")
    }
}
