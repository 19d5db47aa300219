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
    func write(group: String, member: String, add: Bool) async throws -> WriteBackOutcome
}

/// Writes write-back groups over LDAP as the `writeBack:` account: a modify adding or deleting one
/// value of the member attribute ("already exists" and "no such value" are success).
///
/// For schemas where a group needs a member (groupOfNames), a configured placeholder DN takes the
/// last member's place in the same modify, and leaves when a real member is added.
public actor LDAPWriteBack: WriteBackExecutor {
    private let options: LDAPConnectionOptions
    private let memberAttribute: String
    private let otherMemberAttributes: [String]
    private let placeholder: String?
    private let logger: Logger
    private var connection: LDAPConnection?

    /// - Parameters:
    ///   - memberAttribute: where members are added (`writeBack.memberAttribute`).
    ///   - otherMemberAttributes: the other DN-valued membership attributes the reader counts
    ///     (`groups.members`): a removal also deletes the member from them, so that someone listed as
    ///     `uniqueMember` of a group written through `member` is not reported removed while they stay.
    public init(
        options: LDAPConnectionOptions,
        memberAttribute: String,
        otherMemberAttributes: [String] = [],
        placeholder: String?,
        logger: Logger
    ) {
        self.options = options
        self.memberAttribute = memberAttribute
        self.otherMemberAttributes = otherMemberAttributes.filter {
            $0.lowercased() != memberAttribute.lowercased()
        }
        self.placeholder = placeholder
        self.logger = logger
    }

    public func write(group: String, member: String, add: Bool) async throws -> WriteBackOutcome {
        do {
            return try await self.attempt(group: group, member: member, add: add)
        } catch let error as LDAPError where error.code.isConnectivityFailure {
            // One reconnect for a connection the server dropped between writes.
            await self.connection?.close()
            self.connection = nil
            return try await self.attempt(group: group, member: member, add: add)
        }
    }

    public func close() async {
        await self.connection?.close()
        self.connection = nil
    }

    private func attempt(group: String, member: String, add: Bool) async throws -> WriteBackOutcome {
        let connection = try await self.connected()
        let attribute = self.memberAttribute
        if add {
            let added = try await connection.addValues(group, attribute: attribute, [member])
            if let placeholder = self.placeholder, placeholder != member {
                try await connection.removeValues(group, attribute: attribute, [placeholder])
            }
            return added > 0 ? .changed : .alreadyInPlace
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
            var elsewhere = 0
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

    private func connected() async throws -> LDAPConnection {
        if let connection = self.connection { return connection }
        let connection = try await LDAPConnection.connect(options: self.options, logger: self.logger)
        self.connection = connection
        return connection
    }
}
