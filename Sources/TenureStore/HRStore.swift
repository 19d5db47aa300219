/// What a write of an HR user supplies: the values the store indexes, and the whole resource as
/// JSON text. The store knows nothing of SCIM: the caller (the SCIM layer) derives these from the
/// resource it validated, and `resourceJSON` must be a JSON object (it is kept as given, without
/// the server-assigned `id` and `meta`, which are columns).
public struct HRUserFields: Sendable, Hashable {
    /// Unique among live users, ignoring ASCII case (SQLite `NOCASE`).
    public var userName: String
    /// The HR system's id; unique among live users when present, compared exactly.
    public var externalId: String?
    public var employeeNumber: String?
    public var active: Bool
    /// Seconds since 1970.
    public var terminationDate: Double?
    public var resourceJSON: String

    public init(
        userName: String,
        externalId: String? = nil,
        employeeNumber: String? = nil,
        active: Bool,
        terminationDate: Double? = nil,
        resourceJSON: String
    ) {
        self.userName = userName
        self.externalId = externalId
        self.employeeNumber = employeeNumber
        self.active = active
        self.terminationDate = terminationDate
        self.resourceJSON = resourceJSON
    }
}

/// An HR user as stored (table `hr_user`, migration v5).
public struct HRUserRecord: Sendable, Hashable {
    /// The SCIM id, assigned by the store (a lowercase UUID).
    public var id: String
    public var userName: String
    public var externalId: String?
    public var employeeNumber: String?
    public var active: Bool
    /// Seconds since 1970.
    public var terminationDate: Double?
    /// The directory identity the person was matched to, once found.
    public var identityID: String?
    public var resourceJSON: String
    /// 1 at creation, +1 on every change of the resource (the SCIM ETag's version).
    public var version: Int
    /// Seconds since 1970.
    public var created: Double
    public var lastModified: Double

    public init(
        id: String,
        userName: String,
        externalId: String? = nil,
        employeeNumber: String? = nil,
        active: Bool,
        terminationDate: Double? = nil,
        identityID: String? = nil,
        resourceJSON: String,
        version: Int,
        created: Double,
        lastModified: Double
    ) {
        self.id = id
        self.userName = userName
        self.externalId = externalId
        self.employeeNumber = employeeNumber
        self.active = active
        self.terminationDate = terminationDate
        self.identityID = identityID
        self.resourceJSON = resourceJSON
        self.version = version
        self.created = created
        self.lastModified = lastModified
    }

    /// The written values of the record.
    public var fields: HRUserFields {
        HRUserFields(
            userName: self.userName,
            externalId: self.externalId,
            employeeNumber: self.employeeNumber,
            active: self.active,
            terminationDate: self.terminationDate,
            resourceJSON: self.resourceJSON
        )
    }
}

/// Which live users a listing returns. The equalities select in SQL (indexes); `matches` then
/// runs on every selected record, so a caller can pass its whole filter there and the equalities
/// only as a narrowing hint: the result is what `matches` accepts among the equalities' rows.
public struct HRUserQuery: Sendable {
    public var id: String?
    /// Compared ignoring ASCII case.
    public var userName: String?
    /// Compared exactly.
    public var externalId: String?
    /// Compared ignoring ASCII case.
    public var employeeNumber: String?
    public var active: Bool?
    /// A predicate on the record (run inside the read transaction: keep it quick, no I/O).
    public var matches: (@Sendable (HRUserRecord) -> Bool)?

    public init(
        id: String? = nil,
        userName: String? = nil,
        externalId: String? = nil,
        employeeNumber: String? = nil,
        active: Bool? = nil,
        matches: (@Sendable (HRUserRecord) -> Bool)? = nil
    ) {
        self.id = id
        self.userName = userName
        self.externalId = externalId
        self.employeeNumber = employeeNumber
        self.active = active
        self.matches = matches
    }

    /// Every live user.
    public static let all = HRUserQuery()
}

/// One page of a listing.
public struct HRUserPage: Sendable, Hashable {
    /// Every match, not just this page's.
    public var totalResults: Int
    /// 1-based.
    public var startIndex: Int
    public var records: [HRUserRecord]

    public init(totalResults: Int, startIndex: Int, records: [HRUserRecord]) {
        self.totalResults = totalResults
        self.startIndex = startIndex
        self.records = records
    }
}

/// An HR store operation was refused. Messages name users by id and attributes by name, never
/// attribute values.
public struct HRStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// Another live user has the same userName or externalId (`attribute` says which): SCIM 409 `uniqueness`.
        case conflict
        /// No live user with that id: SCIM 404.
        case notFound
        /// The If-Match version is not the current one: SCIM 412.
        case preconditionFailed
        /// A value the store refuses: an empty userName or identity id, a resource that is not a
        /// JSON object, a time that is not finite.
        case invalidValue
    }

    public var code: Code
    public var message: String
    /// The attribute concerned (`userName`, `externalId`), when there is one.
    public var attribute: String?

    public init(_ code: Code, _ message: String, attribute: String? = nil) {
        self.code = code
        self.message = message
        self.attribute = attribute
    }

    public var description: String { self.message }
}

/// The HR users pushed over SCIM: the person records a termination turns into leavers. Deletion
/// is soft (a deleted user is gone for every read but `terminatedIdentities`, which must still
/// see a deleted person's identity as a leaver).
///
/// Every mutation, with its audit events, commits in one transaction (`actor` and `time` go into
/// them): `hr.user.created`, `hr.user.updated` (details name the changed attributes, never their
/// values — except `active` and `terminationDate`, the employment status itself), `hr.user.deleted`,
/// `hr.user.linked`. A refused mutation changes nothing and appends nothing.
///
/// Errors: `HRStoreError` for refusals; `StoreError` for rows that do not decode or audit events the
/// log cannot store; an error thrown by a `patchUser` closure is rethrown as it is.
public protocol HRStore: Sendable {
    /// Adds a user (version 1, created = lastModified = `time`) with a new id. `.conflict` when a
    /// live user has the same userName (ignoring ASCII case) or externalId.
    func createHRUser(_ fields: HRUserFields, actor: String, time: Double) async throws -> HRUserRecord

    /// The live user `id`, or nil (never created, or deleted).
    func hrUser(id: String) async throws -> HRUserRecord?

    /// The user `id` as it was when deleted, while its termination is still to be settled (its
    /// DELETE's settling has not finished: `settledDeletedHRUser` not called yet); nil otherwise
    /// (never created, live, or settled). A retried DELETE settles what the first could not, once.
    func deletedHRUserToSettle(id: String) async throws -> HRUserRecord?

    /// Records that the deleted user's termination is settled (offboarded, or found employed
    /// elsewhere): `deletedHRUserToSettle` returns nil from now on.
    func settledDeletedHRUser(id: String) async throws

    /// Every deleted user whose termination is still to be settled, by deletion time then id.
    func deletedHRUsersToSettle() async throws -> [HRUserRecord]

    /// The live users matching `query`, by creation time then id: `count` of them from the
    /// 1-based `startIndex` (below 1 counts as 1; a `count` of 0 or less returns no records, only
    /// `totalResults`).
    func hrUsers(_ query: HRUserQuery, startIndex: Int, count: Int) async throws -> HRUserPage

    /// Replaces the user's values (SCIM PUT). With `ifMatch`, `.preconditionFailed` unless it is the
    /// current version. `.notFound`, `.conflict` as for create. Unchanged values change nothing
    /// (same version, no audit event).
    func replaceHRUser(id: String, with fields: HRUserFields, ifMatch version: Int?, actor: String, time: Double)
        async throws -> HRUserRecord

    /// Read-modify-write in one write transaction (SCIM PATCH): checks `ifMatch`, calls `change`
    /// with the current record, and stores what it returns as `replaceHRUser` does. `change` runs
    /// inside the transaction, on the database writer: it must be quick and do no I/O. Whatever it
    /// throws rolls everything back and is rethrown.
    func patchHRUser(
        id: String,
        ifMatch version: Int?,
        actor: String,
        time: Double,
        _ change: @escaping @Sendable (HRUserRecord) throws -> HRUserFields
    ) async throws -> HRUserRecord

    /// Deletes the user (soft: `deleted = 1`; its userName and externalId become free), its
    /// termination to be settled (`deletedHRUserToSettle`). With `ifMatch`, `.preconditionFailed`
    /// unless current. `.notFound` for no live user `id`.
    func deleteHRUser(id: String, ifMatch version: Int?, actor: String, time: Double) async throws

    /// Records that the user is the directory identity `identityID`. Does not change the version
    /// (the SCIM resource is unchanged). Linking again to the same identity changes nothing.
    func linkHRUser(id: String, to identityID: String, actor: String, time: Double) async throws -> HRUserRecord
    /// Links the user to the identity like `linkHRUser`, unless another live user linked to that
    /// identity employs it open-ended at `time` (active, no termination date): then nothing is
    /// linked, `hr.user.link_refused` is audited (once for the same identity and employing user,
    /// until this user is changed) and nil returned. Two open-ended records on one
    /// identity would let either keep it employed after the other's termination; a terminated one
    /// (a rehire) or one with its end date ahead (a conversion) beside a new one is fine. Checked in
    /// the write transaction.
    ///
    /// `ifLinkedTo`: the link the caller saw (nil: unlinked). When the user is linked otherwise now
    /// (another request linked or moved it meanwhile), nothing is done or audited and nil returned.
    func linkHRUserIfNotEmployedElsewhere(
        id: String,
        to identityID: String,
        ifLinkedTo expected: String?,
        actor: String,
        time: Double
    ) async throws -> HRUserRecord?

    /// Whether linking the user to the identity would be refused (another live user employs it
    /// open-ended at `time`); a refusal is audited as `linkHRUserIfNotEmployedElsewhere` audits it.
    /// Nothing is linked.
    func refuseHRLinkIfEmployedElsewhere(id: String, to identityID: String, actor: String, time: Double)
        async throws -> Bool

    /// The linked identities the HR system says are gone, with a reason each: an identity is
    /// terminated when none of the users linked to it is a live, active user whose termination
    /// date (if any) is after `now` — so a rehire's new record outweighs the old deleted one.
    func terminatedIdentities(asOf now: Double) async throws -> [String: String]

    /// `terminatedIdentities(asOf:)[identityID]`, reading only the users linked to that identity:
    /// the reason HR says the identity is gone (the newest terminated user's), or nil when some
    /// live, active user linked to it still employs it (no termination date, or one after `now`)
    /// or no user is linked to it.
    func terminationReason(identityID: String, asOf now: Double) async throws -> String?

    /// Live users not yet linked to an identity (pre-hires waiting for their directory account), by
    /// creation time then id.
    func unlinkedHRUsers() async throws -> [HRUserRecord]
}

extension HRStore {
    /// Every live user matching `query` (all pages).
    public func findHRUsers(_ query: HRUserQuery) async throws -> [HRUserRecord] {
        try await self.hrUsers(query, startIndex: 1, count: Int.max).records
    }
}
