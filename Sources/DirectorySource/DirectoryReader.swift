public import LDAPClient
public import Logging
public import TenureConfig
public import TenureCore

/// What a pull reads, reported as it goes (for progress output and tests).
public protocol PullObserver: Sendable {
    /// Called on the connection's queue after each page of a search.
    func pageRead(_ phase: PullPhase, base: String, page: Int, entriesInBase: Int)
}

public enum PullPhase: String, Sendable {
    case users
    case groups
}

/// The directory's data contradicts what Tenure needs to key identities reliably. The pull stops:
/// going on would risk reading a person as gone.
public struct DirectoryDataError: Error, Hashable, Sendable, CustomStringConvertible {
    public var dn: String
    public var message: String

    public init(dn: String, message: String) {
        self.dn = dn
        self.message = message
    }

    public var description: String { "\"\(self.dn)\": \(self.message)" }
}

/// A finished pull: the snapshot and where and how it was read.
public struct PullResult: Sendable {
    public var snapshot: DirectorySnapshot
    /// The server URL that answered.
    public var server: String
    public var entriesRead: Int
    public var seconds: Double

    public init(snapshot: DirectorySnapshot, server: String, entriesRead: Int, seconds: Double) {
        self.snapshot = snapshot
        self.server = server
        self.entriesRead = entriesRead
        self.seconds = seconds
    }
}

/// Reads a complete snapshot of the directory: every configured user and group base, every page.
///
/// Fail-closed by construction: any LDAP error (size or time limit, referral, dropped connection
/// between pages, missing base), an entry without a stable id, or a stable id held by two entries
/// aborts the pull with an error and no snapshot.
public struct DirectoryReader: Sendable {
    public var configuration: TenureConfiguration
    public var password: LDAPSecret?
    public var logger: Logger
    /// Groups the snapshot must include even outside the group bases: the write-back groups (their
    /// members are compared with the roles' holders). Normalised DNs. One that does not exist (or
    /// does not match the group filter) is left out of the snapshot with a warning: the planner
    /// reports it, and the rest of the sync goes on.
    public var requiredGroups: [String]

    public init(
        configuration: TenureConfiguration,
        password: LDAPSecret?,
        logger: Logger,
        requiredGroups: [String] = []
    ) {
        self.configuration = configuration
        self.password = password
        self.logger = logger
        self.requiredGroups = requiredGroups
    }

    /// The connection options the configuration describes.
    public var connectionOptions: LDAPConnectionOptions {
        let ldap = self.configuration.ldap
        let bind: LDAPBindMethod =
            if let dn = ldap.bindDN, !dn.isEmpty { .simple(dn: dn, password: self.password ?? LDAPSecret("")) } else {
                .anonymous
            }
        return LDAPConnectionOptions(
            urls: ldap.urls,
            bind: bind,
            startTLS: ldap.startTLS,
            tls: LDAPTLSOptions(
                caFile: ldap.tls.caFile,
                certFile: ldap.tls.certFile,
                keyFile: ldap.tls.keyFile,
                insecureSkipVerify: ldap.tls.insecureSkipVerify,
                minimumVersion: ldap.tls.minVersion
            ),
            networkTimeout: ldap.networkTimeout,
            operationTimeout: ldap.operationTimeout
        )
    }

    public func pull(observer: (any PullObserver)? = nil, now: Double) async throws -> PullResult {
        let started = ContinuousClock.now
        let connection = try await LDAPConnection.connect(options: self.connectionOptions, logger: self.logger)
        let users = self.configuration.users
        let groups = self.configuration.groups
        let people: [IdentityEntry]
        var groupEntries: [GroupEntry]
        var warnings: [String] = []
        do {
            let lowercasedUsers = users.lowercasedNames
            people = try await self.read(
                "users",
                bases: users.baseDNs,
                scope: users.scope,
                filter: users.filter,
                attributes: users.requestedAttributes,
                on: connection
            ) { base in
                UserVisitor(
                    settings: lowercasedUsers,
                    idAttribute: users.attributes.id,
                    base: base,
                    now: now,
                    observer: observer
                )
            } entries: {
                $0.entries
            }
            let lowercasedGroups = groups.lowercasedNames
            groupEntries = try await self.read(
                "groups",
                bases: groups.baseDNs,
                scope: groups.scope,
                filter: groups.filter,
                attributes: groups.requestedAttributes,
                on: connection
            ) { base in
                GroupVisitor(settings: lowercasedGroups, idAttribute: groups.id, base: base, observer: observer)
            } entries: {
                $0.entries
            }
            let found = Set(groupEntries.map(\.normalizedDN))
            for dn in Set(self.requiredGroups).subtracting(found).sorted() {
                let read: [GroupEntry]
                do {
                    read = try await self.read(
                        "write-back group",
                        bases: [dn],
                        scope: .base,
                        filter: groups.filter,
                        attributes: groups.requestedAttributes,
                        on: connection
                    ) { base in
                        GroupVisitor(settings: lowercasedGroups, idAttribute: groups.id, base: base, observer: nil)
                    } entries: {
                        $0.entries
                    }
                } catch let error as LDAPError where error.code == .noSuchObject {
                    read = []
                }
                if read.isEmpty {
                    let warning = "write-back group \(dn) does not exist or does not match groups.filter"
                    self.logger.warning("\(warning)")
                    warnings.append(warning)
                }
                groupEntries.append(contentsOf: read)
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        let entriesRead = people.count + groupEntries.count
        let read = ContinuousClock.now
        // Member and manager values not written exactly like an entry's DN: other spacing or case,
        // uniqueMember's optional UID, or DNs outside the snapshot.
        var snapshot = try await SnapshotBuilder.build(
            identities: consume people,
            groups: consume groupEntries,
            nested: groups.nested,
            normalizeDN: { try? DistinguishedName.normalize(stripOptionalUID($0)) }
        )
        snapshot.warnings.append(contentsOf: warnings)
        self.logger.debug(
            "snapshot built",
            metadata: [
                "pull.read_seconds": "\(seconds(read - started))",
                "pull.build_seconds": "\(seconds(ContinuousClock.now - read))",
            ]
        )
        let elapsed = ContinuousClock.now - started
        return PullResult(
            snapshot: snapshot,
            server: connection.url,
            entriesRead: entriesRead,
            seconds: seconds(elapsed)
        )
    }
}

extension DirectoryReader {
    /// Reads every base with a fresh visitor per base, page by page, and collects what the visitors
    /// made of the entries.
    func read<V: LDAPSearchVisitor, T>(
        _ what: String,
        bases: [String],
        scope: LDAPSearchScope,
        filter: String,
        attributes: [String],
        on connection: LDAPConnection,
        visitor: (String) -> V,
        entries: (V) -> [T]
    ) async throws -> [T] {
        let ldap = self.configuration.ldap
        var collected: [T] = []
        for base in bases {
            let request = LDAPSearchRequest(
                base: base,
                scope: scope,
                filter: filter,
                attributes: attributes,
                pageSize: ldap.pageSize,
                rangeSize: ldap.rangeSize
            )
            let read = entries(try await connection.search(request, visitor: visitor(base)))
            self.logger.debug("read \(what)", metadata: ["ldap.base": "\(base)", "ldap.entries": "\(read.count)"])
            collected.append(contentsOf: read)
        }
        return collected
    }
}

extension UserSettings {
    /// The same settings with every attribute name lowercased, as `LDAPEntry` keys are: looking
    /// values up then needs no case folding per entry.
    var lowercasedNames: UserSettings {
        var copy = self
        let map = self.attributes
        copy.attributes.id = map.id.lowercased()
        copy.attributes.username = map.username.lowercased()
        copy.attributes.mail = map.mail?.lowercased()
        copy.attributes.displayName = map.displayName?.lowercased()
        copy.attributes.employeeNumber = map.employeeNumber?.lowercased()
        copy.attributes.department = map.department?.lowercased()
        copy.attributes.title = map.title?.lowercased()
        copy.attributes.manager = map.manager?.lowercased()
        copy.attributes.employeeType = map.employeeType?.lowercased()
        copy.extraAttributes = self.extraAttributes.map { $0.lowercased() }
        return copy
    }
}

extension GroupSettings {
    var lowercasedNames: GroupSettings {
        var copy = self
        copy.id = self.id.lowercased()
        copy.name = self.name.lowercased()
        copy.members = self.members.map { MemberAttribute(attribute: $0.attribute.lowercased(), valueIs: $0.valueIs) }
        return copy
    }
}

/// Turns user entries into identities as they arrive (the raw entry is dropped at once).
struct UserVisitor: LDAPSearchVisitor {
    /// Settings with attribute names lowercased (for look-ups).
    let settings: UserSettings
    /// The id attribute as configured (for messages).
    let idAttribute: String
    let base: String
    let now: Double
    let observer: (any PullObserver)?
    var entries: [IdentityEntry] = []

    mutating func visit(_ entry: LDAPEntry) throws {
        let map = self.settings.attributes
        guard let rawID = entry.firstValue(map.id), !rawID.isEmpty else {
            throw DirectoryDataError(
                dn: entry.dn,
                message: "no \(self.idAttribute) value: the identity cannot be keyed, so the pull stops rather than "
                    + "treat it as gone (check users.attributes.id and that the bind DN may read it)"
            )
        }
        let idCount = entry.count(map.id)
        guard idCount == 1 else {
            throw DirectoryDataError(
                dn: entry.dn,
                message: "\(self.idAttribute) has \(idCount) values; a stable id has one"
            )
        }
        let normalizedDN = try normalizedDN(of: entry)
        var reasons: [String] = []
        for rule in self.settings.disabled {
            if let reason = rule.reason(values: { entry.strings($0) }, normalizedDN: normalizedDN, now: self.now) {
                reasons.append(reason)
            }
        }
        var extra: [String: [String]] = [:]
        for name in self.settings.extraAttributes {
            let values = entry.strings(name)
            if !values.isEmpty { extra[name] = values }
        }
        func single(_ attribute: String?) -> String? {
            attribute.flatMap { entry.string($0) }
        }
        let manager = single(map.manager)
        let identity = Identity(
            id: StableID.canonical(rawID, attribute: self.idAttribute),
            dn: entry.dn,
            username: single(map.username),
            mail: single(map.mail),
            displayName: single(map.displayName),
            employeeNumber: single(map.employeeNumber),
            department: single(map.department),
            title: single(map.title),
            manager: manager,
            employeeType: single(map.employeeType),
            attributes: extra,
            disabled: !reasons.isEmpty,
            disabledReasons: reasons
        )
        self.entries.append(IdentityEntry(identity: identity, normalizedDN: normalizedDN))
    }

    mutating func pageCompleted(pageNumber: Int, entriesSoFar: Int) throws {
        self.observer?.pageRead(.users, base: self.base, page: pageNumber, entriesInBase: entriesSoFar)
    }
}

/// Turns group entries into `GroupEntry` values as they arrive.
struct GroupVisitor: LDAPSearchVisitor {
    /// Settings with attribute names lowercased (for look-ups).
    let settings: GroupSettings
    /// The id attribute as configured (for messages).
    let idAttribute: String
    let base: String
    let observer: (any PullObserver)?
    var entries: [GroupEntry] = []

    mutating func visit(_ entry: LDAPEntry) throws {
        guard let rawID = entry.firstValue(self.settings.id), !rawID.isEmpty else {
            throw DirectoryDataError(
                dn: entry.dn,
                message: "group has no \(self.idAttribute) value (check groups.id and the bind DN's read rights)"
            )
        }
        let normalizedDN = try normalizedDN(of: entry)
        var memberDNs: [String] = []
        var memberUsernames: [String] = []
        for member in self.settings.members {
            switch member.valueIs {
            case .dn:
                // Resolved by the snapshot builder.
                memberDNs.append(contentsOf: entry.strings(member.attribute))
            case .username:
                memberUsernames.append(contentsOf: entry.strings(member.attribute))
            }
        }
        self.entries.append(
            GroupEntry(
                id: StableID.canonical(rawID, attribute: self.idAttribute),
                dn: entry.dn,
                normalizedDN: normalizedDN,
                name: entry.string(self.settings.name) ?? entry.dn,
                memberDNs: memberDNs,
                memberUsernames: memberUsernames
            )
        )
    }

    mutating func pageCompleted(pageNumber: Int, entriesSoFar: Int) throws {
        self.observer?.pageRead(.groups, base: self.base, page: pageNumber, entriesInBase: entriesSoFar)
    }
}

/// The entry's own DN normalised; a DN the server sent that does not parse stops the pull.
private func normalizedDN(of entry: LDAPEntry) throws(DirectoryDataError) -> String {
    do {
        return try DistinguishedName.normalize(entry.dn)
    } catch {
        throw DirectoryDataError(dn: entry.dn, message: "the server returned a DN that does not parse: \(error)")
    }
}

/// `uniqueMember` has Name-and-Optional-UID syntax (RFC 4517 §3.3.21): `dn#'0101'B`. The `#` of the
/// optional UID is the last one, followed by a quoted bit string; a `#` inside a DN value is escaped.
func stripOptionalUID(_ value: String) -> String {
    guard value.hasSuffix("'B"), let hash = value.lastIndex(of: "#") else { return value }
    let bits = value[value.index(after: hash)...]
    guard bits.count >= 3, bits.first == "'",
        bits.dropFirst().dropLast(2).allSatisfy({ $0 == "0" || $0 == "1" })
    else { return value }
    // An escaped `\#` belongs to the DN.
    if hash > value.startIndex, value[value.index(before: hash)] == "\\" { return value }
    return String(value[..<hash])
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
