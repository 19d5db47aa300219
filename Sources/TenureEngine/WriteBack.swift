public import LDAPClient
public import Logging

/// What one write-back did to the group.
public enum WriteBackOutcome: String, Sendable, Hashable {
    /// The member was added or removed.
    case changed
    /// Nothing to do: the member was already there (add) or already gone (remove).
    case alreadyInPlace
}

/// Writes the membership of write-back groups. Every write is idempotent, so a resumed plan may
/// repeat one safely.
public protocol WriteBackExecutor: Sendable {
    /// Adds or removes one member. `member` is the value written (a DN; for a drift removal, the
    /// value found in the group, which may be a username). `username` is the member's username when
    /// it is an identity: a removal also takes it out of username-valued attributes (`memberUid`),
    /// which the reader counts as membership too.
    func write(group: String, member: String, username: String?, add: Bool) async throws -> WriteBackOutcome
}

/// Writes write-back groups over LDAP as the `writeBack:` account: a modify adding or deleting one
/// value of the member attribute ("already exists" and "no such value" are success).
///
/// For schemas where a group needs a member (groupOfNames), a configured placeholder DN takes the
/// last member's place in the same modify, and leaves when a real member is added.
///
/// A removal takes the member out of every membership attribute the reader counts: the DN from the
/// DN-valued ones, the username from the username-valued ones (`memberUid`). Usernames are matched
/// without regard to case, as the reader matches them, so the values deleted are the ones the group
/// holds (read first: `memberUid` compares case-exactly on the server).
public actor LDAPWriteBack: WriteBackExecutor {
    private let options: LDAPConnectionOptions
    private let memberAttribute: String
    private let otherMemberAttributes: [String]
    private let usernameAttributes: [String]
    private let placeholder: String?
    private let logger: Logger
    private var connection: LDAPConnection?

    /// - Parameters:
    ///   - memberAttribute: where members are added (`writeBack.memberAttribute`).
    ///   - otherMemberAttributes: the other DN-valued membership attributes the reader counts
    ///     (`groups.members`): a removal also deletes the member from them, so that someone listed as
    ///     `uniqueMember` of a group written through `member` is not reported removed while they stay.
    ///   - usernameAttributes: the username-valued membership attributes the reader counts
    ///     (`groups.members` with `valueIs: username`, e.g. `memberUid`): a removal deletes the
    ///     member's username from them.
    public init(
        options: LDAPConnectionOptions,
        memberAttribute: String,
        otherMemberAttributes: [String] = [],
        usernameAttributes: [String] = [],
        placeholder: String?,
        logger: Logger
    ) {
        self.options = options
        self.memberAttribute = memberAttribute
        self.otherMemberAttributes = otherMemberAttributes.filter {
            $0.lowercased() != memberAttribute.lowercased()
        }
        self.usernameAttributes = usernameAttributes
        self.placeholder = placeholder
        self.logger = logger
    }

    public func write(group: String, member: String, username: String?, add: Bool) async throws -> WriteBackOutcome {
        do {
            return try await self.attempt(group: group, member: member, username: username, add: add)
        } catch let error as LDAPError where error.code.isConnectivityFailure {
            // One reconnect for a connection the server dropped between writes.
            await self.connection?.close()
            self.connection = nil
            return try await self.attempt(group: group, member: member, username: username, add: add)
        }
    }

    public func close() async {
        await self.connection?.close()
        self.connection = nil
    }

    private func attempt(group: String, member: String, username: String?, add: Bool) async throws
        -> WriteBackOutcome
    {
        let connection = try await self.connected()
        let attribute = self.memberAttribute
        if add {
            let added = try await connection.addValues(group, attribute: attribute, [member])
            if let placeholder = self.placeholder, placeholder != member {
                try await connection.removeValues(group, attribute: attribute, [placeholder])
            }
            return added > 0 ? .changed : .alreadyInPlace
        }
        // A value that is no DN (a `memberUid` naming nobody, found as drift) is a username: the
        // DN-valued attributes cannot hold it (the server would refuse its syntax).
        let isDN = (try? DistinguishedName(parsing: member)).map { !$0.isEmpty } ?? false
        var usernames: [String] = []
        if let username, !username.isEmpty { usernames.append(username) }
        if !isDN { usernames.append(member) }
        let byUsername = try await self.removeUsernames(usernames, from: group, on: connection)
        guard isDN else {
            // The reader saw this value: with no username attribute to look in, the writer cannot
            // remove it — a failure, not "already gone". Not found where it looks: gone (a repeated
            // removal is idempotent).
            guard !self.usernameAttributes.isEmpty else {
                throw LDAPError(
                    operation: .modify,
                    code: .noSuchAttribute,
                    server: self.options.urls.first,
                    dn: group,
                    context: "the member \(member) is no DN, and no username attribute is configured to remove it from"
                )
            }
            return byUsername > 0 ? .changed : .alreadyInPlace
        }
        // A `catch … where` on this typed throw crashes Swift 6.3.1's SILGen: the result is checked
        // instead.
        let result: Result<Int, LDAPError>
        do {
            result = .success(try await connection.removeValues(group, attribute: attribute, [member]))
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success(let removed):
            var elsewhere = byUsername
            for other in self.otherMemberAttributes {
                elsewhere += try await connection.removeValues(group, attribute: other, [member])
            }
            return removed + elsewhere > 0 ? .changed : .alreadyInPlace
        case .failure(let error):
            guard error.code == .objectClassViolation, let placeholder = self.placeholder else { throw error }
            // The last member of a group that must have one: the placeholder takes its place, in one
            // modify (both or neither).
            try await connection.modify(
                group,
                [
                    LDAPModification(.add, attribute, strings: [placeholder]),
                    LDAPModification(.delete, attribute, strings: [member]),
                ]
            )
            self.logger.info(
                "write-back group emptied; placeholder written",
                metadata: ["group": "\(group)", "placeholder": "\(placeholder)"]
            )
            return .changed
        }
    }

    /// Deletes the values of the username-valued attributes that name one of `usernames` (any case).
    /// Returns how many were deleted.
    private func removeUsernames(_ usernames: [String], from group: String, on connection: LDAPConnection)
        async throws -> Int
    {
        guard !usernames.isEmpty, !self.usernameAttributes.isEmpty else { return 0 }
        let wanted = Set(usernames.map { $0.lowercased() })
        guard let entry = try await connection.read(group, attributes: self.usernameAttributes) else {
            throw LDAPError(
                operation: .search,
                code: .noSuchObject,
                server: self.options.urls.first,
                dn: group,
                context: "the write-back group does not exist"
            )
        }
        var removed = 0
        for attribute in self.usernameAttributes {
            let values = entry.strings(attribute).filter { wanted.contains($0.lowercased()) }
            if !values.isEmpty {
                removed += try await connection.removeValues(group, attribute: attribute, values)
            }
        }
        return removed
    }

    private func connected() async throws -> LDAPConnection {
        if let connection = self.connection { return connection }
        let connection = try await LDAPConnection.connect(options: self.options, logger: self.logger)
        self.connection = connection
        return connection
    }
}
