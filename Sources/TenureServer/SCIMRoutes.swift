import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TenureAccess
import TenureConfig
import TenureCore
import TenureSCIM
import TenureStore

/// A SCIM route handler.
typealias SCIMHandler = @Sendable (Request, TenureRequestContext) async throws -> Response

extension Operations {
    /// The SCIM 2.0 service provider HR systems push people to (RFC 7643/7644), under `/scim/v2`,
    /// scope `hr` (or `admin`):
    ///
    /// - `POST /Users` (201, `Location`, `ETag`), `GET /Users` (`filter`, `startIndex`, `count`,
    ///   `attributes`, `excludedAttributes`), `POST /Users/.search` and `POST /.search`,
    ///   `GET /Users/{id}` (`ETag`; `If-None-Match` → 304), `PUT /Users/{id}` and
    ///   `PATCH /Users/{id}` (200; `If-Match` → 412 when stale), `DELETE /Users/{id}` (204);
    /// - `GET /ServiceProviderConfig`, `/ResourceTypes`, `/ResourceTypes/User`, `/Schemas`,
    ///   `/Schemas/{id}`;
    /// - other methods on these paths: 405 with `Allow`; `/Groups`: 404 (Tenure keeps only Users);
    ///   `/Bulk` and `/Me`: 501; anything else under `/scim/v2`: 404.
    ///
    /// Responses are `application/scim+json`; requests may be `application/scim+json` or
    /// `application/json`. Every error under `/scim/v2` is a SCIM error body (RFC 7644 §3.12) —
    /// including 403 and 413 — except a missing or unknown token: the authentication middleware
    /// answers 401 before the SCIM routes run, with a problem-details body.
    ///
    /// After every write the HR user is linked to its directory identity when it can be, and HR's
    /// word on employment is applied to a linked identity before the response is sent (see
    /// `settleEmployment`).
    func addSCIMRoutes(to router: Router<TenureRequestContext>, api: TenureAPI) {
        let group = router.group("/scim/v2").add(middleware: SCIMMiddleware())

        func route(_ path: RouterPath, _ handlers: [(HTTPRequest.Method, SCIMHandler)]) {
            let allowed = handlers.map(\.0.rawValue).joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
                if let handler = handlers.first(where: { $0.0 == method })?.1 {
                    // A change waits for the sync lock at most `syncLockWait` from its arrival,
                    // however long it waited for its turn among HR's other changes.
                    group.on(path, method: method) { request, context in
                        try await Self.$syncLockDeadline.withValue(.now + self.syncLockWait) {
                            try await handler(request, context)
                        }
                    }
                } else {
                    group.on(path, method: method) { _, _ in
                        SCIMHTTP.error(
                            SCIMError(status: 405, detail: "\(method.rawValue) is not supported here; use \(allowed)"),
                            headers: [.allow: allowed]
                        )
                    }
                }
            }
        }

        route(
            "Users",
            [
                (.get, { request, _ in try await self.scimListUsers(request) }),
                (.post, { request, context in try await self.scimCreateUser(request, context) }),
            ]
        )
        route("Users/.search", [(.post, { request, _ in try await self.scimSearchUsers(request) })])
        route(".search", [(.post, { request, _ in try await self.scimSearchUsers(request) })])
        route(
            "Users/{id}",
            [
                (.get, { request, context in try await self.scimGetUser(request, context) }),
                (.put, { request, context in try await self.scimReplaceUser(request, context) }),
                (.patch, { request, context in try await self.scimPatchUser(request, context) }),
                (.delete, { request, context in try await self.scimDeleteUser(request, context) }),
            ]
        )

        route(
            "ServiceProviderConfig",
            [
                (
                    .get,
                    { request, _ in
                        SCIMHTTP.response(SCIMDiscovery.serviceProviderConfig(baseURL: SCIMHTTP.baseURL(request)))
                    }
                )
            ]
        )
        route(
            "ResourceTypes",
            [
                (
                    .get,
                    { request, _ in SCIMHTTP.response(SCIMDiscovery.resourceTypes(baseURL: SCIMHTTP.baseURL(request))) }
                )
            ]
        )
        route(
            "ResourceTypes/{id}",
            [
                (
                    .get,
                    { request, context in
                        let id = context.parameters.get("id") ?? ""
                        guard id == "User" else {
                            throw SCIMError.notFound("there is no resource type \(id); Tenure serves User")
                        }
                        return SCIMHTTP.response(SCIMDiscovery.userResourceType(baseURL: SCIMHTTP.baseURL(request)))
                    }
                )
            ]
        )
        route(
            "Schemas",
            [(.get, { request, _ in SCIMHTTP.response(SCIMDiscovery.schemas(baseURL: SCIMHTTP.baseURL(request))) })]
        )
        route(
            "Schemas/{id}",
            [
                (
                    .get,
                    { request, context in
                        let id = context.parameters.get("id") ?? ""
                        guard let schema = SCIMDiscovery.schema(id: id, baseURL: SCIMHTTP.baseURL(request)) else {
                            throw SCIMError.notFound("there is no schema \(id)")
                        }
                        return SCIMHTTP.response(schema)
                    }
                )
            ]
        )

        // What Tenure does not serve, answered as SCIM errors.
        let groups: SCIMHandler = { _, _ in
            throw SCIMError.notFound("Tenure keeps only Users: there are no Groups (see /ResourceTypes)")
        }
        let bulk: SCIMHandler = { _, _ in
            throw SCIMError(status: 501, detail: "bulk operations are not supported (see /ServiceProviderConfig)")
        }
        let me: SCIMHandler = { _, _ in
            throw SCIMError(status: 501, detail: "/Me is not supported: tokens belong to HR systems, not people")
        }
        let unknown: SCIMHandler = { request, _ in
            throw SCIMError.notFound("there is no SCIM endpoint \(request.uri.path)")
        }
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            group.on("Groups", method: method, use: groups)
            group.on("Groups/**", method: method, use: groups)
            group.on("Bulk", method: method, use: bulk)
            group.on("Me", method: method, use: me)
            group.on("Me/**", method: method, use: me)
            group.on("**", method: method, use: unknown)
        }
    }

    // MARK: - Users

    private func scimCreateUser(_ request: Request, _ context: TenureRequestContext) async throws -> Response {
        let query = SCIMQueryParameters(request.uri.query)
        let selection = try SCIMAttributeSelection(query: query)
        let user = try SCIMUser(json: try await self.scimBody(request))
        let created = try await self.store.createHRUser(HRUserFields(user), actor: context.actor, time: self.now())
        let record = try await self.linkHRUserIfPossible(created, actor: context.actor)
        try await self.settleEmployment(of: record, deleted: false, actor: context.actor, requestID: context.requestID)
        return try self.scimUserResponse(record, request: request, selection: selection, status: .created)
    }

    private func scimGetUser(_ request: Request, _ context: TenureRequestContext) async throws -> Response {
        let query = SCIMQueryParameters(request.uri.query)
        let selection = try SCIMAttributeSelection(query: query)
        let record = try await self.scimRecord(context)
        let etag = SCIMETag.weak(record.version)
        if let header = request.headers[.ifNoneMatch], SCIMHTTP.matches(ifNoneMatch: header, etag: etag) {
            return Response(status: .notModified, headers: [.eTag: etag])
        }
        return try self.scimUserResponse(record, request: request, selection: selection)
    }

    private func scimReplaceUser(_ request: Request, _ context: TenureRequestContext) async throws -> Response {
        let query = SCIMQueryParameters(request.uri.query)
        let selection = try SCIMAttributeSelection(query: query)
        let id = try self.scimID(context)
        let version = try SCIMHTTP.ifMatch(request)
        let user = try SCIMUser(json: try await self.scimBody(request))
        let replaced = try await self.store.replaceHRUser(
            id: id,
            with: HRUserFields(user),
            ifMatch: version,
            actor: context.actor,
            time: self.now()
        )
        let record = try await self.linkHRUser(after: replaced, actor: context.actor, requestID: context.requestID)
        try await self.settleEmployment(of: record, deleted: false, actor: context.actor, requestID: context.requestID)
        return try self.scimUserResponse(record, request: request, selection: selection)
    }

    private func scimPatchUser(_ request: Request, _ context: TenureRequestContext) async throws -> Response {
        let query = SCIMQueryParameters(request.uri.query)
        let selection = try SCIMAttributeSelection(query: query)
        let id = try self.scimID(context)
        let version = try SCIMHTTP.ifMatch(request)
        let patch = try SCIMPatchRequest(json: try await self.scimBody(request))
        // Runs inside the store's write transaction: the PATCH is atomic, any error changes nothing.
        let change: @Sendable (HRUserRecord) throws -> HRUserFields = { current in
            var user = try current.scimUser()
            try user.apply(patch, id: id)
            return HRUserFields(user)
        }
        let patched = try await self.store.patchHRUser(
            id: id,
            ifMatch: version,
            actor: context.actor,
            time: self.now(),
            change
        )
        let record = try await self.linkHRUser(after: patched, actor: context.actor, requestID: context.requestID)
        try await self.settleEmployment(of: record, deleted: false, actor: context.actor, requestID: context.requestID)
        return try self.scimUserResponse(record, request: request, selection: selection)
    }

    private func scimDeleteUser(_ request: Request, _ context: TenureRequestContext) async throws -> Response {
        let version = try SCIMHTTP.ifMatch(request)
        // Read, deleted and settled in one turn with HR's other employment changes: a move of the
        // user to another identity (a PATCH) cannot land between the read and the settling, which
        // would offboard the identity it left.
        try await self.employment.exclusive {
            let id = try self.scimID(context)
            guard let current = try await self.store.hrUser(id: id) else {
                // Deleted already. A client retries a DELETE whose settling failed (a 503 while a
                // sync held the lock): the termination is settled now, and the answer is still 404
                // (RFC 7644 §3.6). Once settled — offboarded, or found employed elsewhere — a
                // deletion is never settled again (the other record may have ended since: its own
                // termination offboarded the identity).
                _ = try await self.settleDeletionIfPending(id: id, actor: context.actor, requestID: context.requestID)
                throw SCIMError.notFound("there is no User \(id)")
            }
            if let version, version != current.version {
                throw SCIMError.preconditionFailed(
                    "User \(current.id) is at version \(current.version), not \(version)"
                )
            }
            _ = try await self.linkHRUserIfPossible(current, actor: context.actor)
            try await self.store.deleteHRUser(id: current.id, ifMatch: version, actor: context.actor, time: self.now())
            // The row as deleted: a link made meanwhile outside this turn (a pre-hire linked by a
            // PATCH or the daemon) is in it, and a deleted row is never linked again.
            let deleted = try await self.store.deletedHRUserToSettle(id: current.id) ?? current
            try await self.settleDeletion(deleted, actor: context.actor, requestID: context.requestID)
        }
        return Response(status: .noContent)
    }

    private func scimListUsers(_ request: Request) async throws -> Response {
        let query = SCIMQueryParameters(request.uri.query)
        let filter = try query["filter"].map { text throws(SCIMError) in try SCIMFilter(parsing: text) }
        return try await self.scimList(
            filter: filter,
            page: try SCIMPageRequest(startIndex: query["startIndex"], count: query["count"]),
            selection: try SCIMAttributeSelection(query: query),
            baseURL: SCIMHTTP.baseURL(request)
        )
    }

    /// `POST /Users/.search` and `POST /.search` (RFC 7644 §3.4.3): the query in a SearchRequest
    /// body. Users are the only resource type, so a search at the root searches Users.
    private func scimSearchUsers(_ request: Request) async throws -> Response {
        let body = try SCIMValue.parse(try await self.scimBody(request))
        guard body.objectValue != nil else {
            throw SCIMError.invalidSyntax("a SearchRequest must be a JSON object")
        }
        func strings(_ name: String) throws(SCIMError) -> [String]? {
            guard let value = body[scim: name], value != .null else { return nil }
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                throw SCIMError.invalidValue(name, "must be an array of strings")
            }
            return items.compactMap(\.stringValue)
        }
        func integer(_ name: String) throws(SCIMError) -> String? {
            guard let value = body[scim: name], value != .null else { return nil }
            guard let number = value.intValue else { throw SCIMError.invalidValue(name, "must be an integer") }
            return String(number)
        }
        var filter: SCIMFilter?
        if let value = body[scim: "filter"], value != .null {
            guard let text = value.stringValue else { throw SCIMError.invalidValue("filter", "must be a string") }
            filter = try SCIMFilter(parsing: text)
        }
        return try await self.scimList(
            filter: filter,
            page: try SCIMPageRequest(startIndex: try integer("startIndex"), count: try integer("count")),
            selection: try SCIMAttributeSelection(
                attributes: try strings("attributes"),
                excludedAttributes: try strings("excludedAttributes")
            ),
            baseURL: SCIMHTTP.baseURL(request)
        )
    }

    private func scimList(
        filter: SCIMFilter?,
        page: SCIMPageRequest,
        selection: SCIMAttributeSelection,
        baseURL: String?
    ) async throws -> Response {
        let result = try await self.store.hrUsers(
            filter.map(HRUserQuery.init) ?? .all,
            startIndex: page.startIndex,
            count: page.count
        )
        let resources = try result.records.map { record throws(SCIMError) in
            selection.apply(try record.scimResource(baseURL: baseURL))
        }
        return SCIMHTTP.response(
            SCIMListResponse(totalResults: result.totalResults, startIndex: page.startIndex, resources: resources).body
        )
    }

    // MARK: - Helpers

    private func scimID(_ context: TenureRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty else {
            throw SCIMError.notFound("no User id in the path")
        }
        return id
    }

    /// The live user the path names; 404 otherwise.
    private func scimRecord(_ context: TenureRequestContext) async throws -> HRUserRecord {
        let id = try self.scimID(context)
        guard let record = try await self.store.hrUser(id: id) else {
            throw SCIMError.notFound("there is no User \(id)")
        }
        return record
    }

    /// The request body: `application/scim+json` or `application/json` (or no content type), at
    /// most `maxBodyBytes`.
    private func scimBody(_ request: Request) async throws -> Data {
        if let contentType = request.headers[.contentType] {
            let mediaType = contentType.split(separator: ";", maxSplits: 1)[0]
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard mediaType == SCIMHTTP.mediaType || mediaType == "application/json" else {
                throw SCIMError(
                    status: 415,
                    detail: "the body must be \(SCIMHTTP.mediaType) or application/json, not \(mediaType)"
                )
            }
        }
        return try await request.bodyBytes(limit: self.settings.maxBodyBytes, as: Data.self)
    }

    private func scimUserResponse(
        _ record: HRUserRecord,
        request: Request,
        selection: SCIMAttributeSelection,
        status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let baseURL = SCIMHTTP.baseURL(request)
        let meta = record.scimMeta(baseURL: baseURL)
        var headers: HTTPFields = [.eTag: meta.etag]
        if status == .created, let location = meta.location { headers[.location] = location }
        let resource = selection.apply(try record.scimUser().resource(id: record.id, meta: meta))
        return SCIMHTTP.response(resource, status: status, headers: headers)
    }
}

// MARK: - Linking and employment

extension Operations {
    /// Links every HR user still waiting for its directory identity (a pre-hire whose account now
    /// exists) and applies HR's word on employment to the ones linked. The daemon calls it after
    /// each sync (the index then holds the new identities). Returns how many were linked.
    public func linkPendingHRUsers() async throws -> Int {
        let pending = try await self.store.unlinkedHRUsers()
        guard !pending.isEmpty else { return 0 }
        let matcher = HRIdentityMatcher(self.index.snapshot)
        var linked = 0
        for listed in pending {
            // As stored now (a request may have changed, linked or deleted it since the list was
            // read); the link below happens only while it is still unlinked.
            guard let record = try? await self.store.hrUser(id: listed.id), record.identityID == nil else { continue }
            // A record HR terminated before its identity could be found links by externalId only:
            // an account that appears since, with that number or name, may be someone else's.
            let now = self.now()
            let strongOnly = HRIdentityMatcher.isTerminated(record, now: now)
            guard let identityID = matcher.identityID(for: record, now: now, strongOnly: strongOnly) else { continue }
            // One record that fails is logged; the others are still linked (the next pass retries).
            do {
                guard
                    let updated = try await self.store.linkHRUserIfNotEmployedElsewhere(
                        id: record.id,
                        to: identityID,
                        ifLinkedTo: nil,
                        actor: Self.linkActor,
                        time: self.now()
                    )
                else { continue }
                linked += 1
                try await self.settleEmployment(of: updated, deleted: false, actor: Self.linkActor, requestID: nil)
            } catch {
                self.logger.error(
                    "an HR user could not be linked or settled; the next pass tries again",
                    metadata: ["hrUser": "\(record.id)", "identity": "\(identityID)", "error": "\(error)"]
                )
            }
        }
        return linked
    }

    /// Who links HR users outside a request.
    static let linkActor = "tenure:hr-link"

    /// Settles the deletions whose DELETE could not (a 503 while a sync held the lock), each as
    /// that DELETE would have, once: the client's retry is not waited for (it then gets 404 and
    /// changes nothing). The daemon's sweeper calls it. While a command-line sync holds the lock,
    /// the pass stops at the first deletion that waited for it (the next sweep goes on). One that
    /// fails otherwise is logged and tried again with a growing delay (15 s doubling to an hour):
    /// each try may audit its termination again. Returns how many were settled.
    public func settlePendingDeletions() async throws -> Int {
        let pending = try await self.store.deletedHRUsersToSettle()
        var settled = 0
        for listed in pending where self.settleRetries.isDue(listed.id, now: self.now()) {
            do {
                // Settled meanwhile (the client's retry) or not: read again in this turn.
                let done = try await self.employment.exclusive {
                    try await self.settleDeletionIfPending(id: listed.id, actor: Self.settleActor, requestID: nil)
                }
                self.settleRetries.succeeded(listed.id)
                if done { settled += 1 }
            } catch let problem as Problem where problem.slug == "sync-running" {
                self.logger.notice(
                    "deleted HR users wait for a sync that holds the lock; the next sweep settles them",
                    metadata: ["hrUser": "\(listed.id)", "error": "\(problem)"]
                )
                break
            } catch {
                let delay = self.settleRetries.failed(listed.id, now: self.now())
                self.logger.error(
                    "a deleted HR user's termination could not be settled; tried again later",
                    metadata: ["hrUser": "\(listed.id)", "retryInSeconds": "\(Int(delay))", "error": "\(error)"]
                )
            }
        }
        return settled
    }

    /// Who settles HR deletions outside a request.
    static let settleActor = "tenure:hr-settle"

    /// Links an unlinked HR user to its directory identity when one matches (`HRIdentityMatcher`);
    /// otherwise it stays a pre-hire.
    func linkHRUserIfPossible(_ record: HRUserRecord, actor: String) async throws -> HRUserRecord {
        guard record.identityID == nil,
            let identityID = HRIdentityMatcher(self.index.snapshot).identityID(for: record, now: self.now())
        else { return record }
        // Another HR user still employing that identity: not linked (audited), it stays a pre-hire.
        return try await self.store.linkHRUserIfNotEmployedElsewhere(
            id: record.id,
            to: identityID,
            ifLinkedTo: nil,
            actor: actor,
            time: self.now()
        ) ?? record
    }

    /// After a PUT or PATCH: an unlinked user is linked when it now can be
    /// (`linkHRUserIfPossible`). A linked user whose `externalId` or employee number names another
    /// identity — HR corrected it — moves there (`HRIdentityMatcher.identityID(byKeysOf:)`: never by
    /// userName, and by `externalId` only for a user HR has terminated), unless another HR user
    /// employs that identity (refused and audited, the link stays). The identity it leaves no
    /// longer follows this user's employment: this user's offboardings of it (scheduled or done) are
    /// cancelled and its index entry rebuilt; nothing is granted back there until the next sync.
    /// Keys that name no identity keep the link: HR's termination still reaches the account it
    /// was matched to (fail closed). Decided from the stored user, not from what changed, so a
    /// client's retry after a 503 (the sync lock was busy) still moves it.
    func linkHRUser(after written: HRUserRecord, actor: String, requestID: String?) async throws -> HRUserRecord {
        guard written.identityID != nil else { return try await self.linkHRUserIfPossible(written, actor: actor) }
        guard self.relinkTarget(of: written) != nil else { return written }
        return try await self.employment.exclusive {
            // As stored now: another request may have moved or deleted it since.
            guard let record = try await self.store.hrUser(id: written.id), let linked = record.identityID,
                let target = self.relinkTarget(of: record)
            else { return written }
            let now = self.now()
            // Refused (another HR user employs the target; audited once): nothing moves, so no
            // turn with offboardings is needed.
            if try await self.store.refuseHRLinkIfEmployedElsewhere(id: record.id, to: target, actor: actor, time: now)
            {
                return record
            }
            // The move and the cancellation at the old identity in one turn with offboardings: a
            // 503 waiting for the lock changes nothing, and nothing lands between the two.
            return try await self.withSyncLock(purpose: "tenure serve (HR user moves to another identity)") {
                guard
                    let moved = try await self.store.linkHRUserIfNotEmployedElsewhere(
                        id: record.id,
                        to: target,
                        ifLinkedTo: linked,
                        actor: actor,
                        time: now
                    )
                else { return record }
                var details = ["hrUser": record.id, "identity": target]
                if let requestID { details["request"] = requestID }
                try await self.cancelHROffboardings(
                    linked,
                    requester: "scim:\(record.id)",
                    reason: "HR: user \(record.id) now names another identity",
                    actor: actor,
                    details: details,
                    time: now
                )
                try await self.refreshIndex(identityID: linked)
                return moved
            }
        }
    }

    /// The identity a linked user's own keys name, when it is not the one the user is linked to.
    private func relinkTarget(of record: HRUserRecord) -> String? {
        let strongOnly = HRIdentityMatcher.isTerminated(record, now: self.now())
        guard let linked = record.identityID,
            let target = HRIdentityMatcher(self.index.snapshot).identityID(byKeysOf: record, strongOnly: strongOnly),
            target != linked
        else { return nil }
        return target
    }

    /// Settles a deleted user's termination and records that it is settled, never to be settled
    /// again. The caller holds the employment lock.
    private func settleDeletion(_ deleted: HRUserRecord, actor: String, requestID: String?) async throws {
        try await self.settleEmploymentUnlocked(of: deleted, deleted: true, actor: actor, requestID: requestID)
        try await self.store.settledDeletedHRUser(id: deleted.id)
    }

    /// `settleDeletion` for the user `id` if it is deleted and still to settle; whether it was.
    private func settleDeletionIfPending(id: String, actor: String, requestID: String?) async throws -> Bool {
        guard let deleted = try await self.store.deletedHRUserToSettle(id: id) else { return false }
        try await self.settleDeletion(deleted, actor: actor, requestID: requestID)
        return true
    }

    /// HR is authoritative for employment. For a linked HR user, after a change:
    /// - terminated (active false, a termination date that has passed, or deleted) and no other
    ///   live HR record still employs the identity: the identity's leaver plan runs now
    ///   (`offboardNow`, requested by `scim:<hr user id>`, audited `hr.termination`), unless this
    ///   HR user already offboarded it;
    /// - a termination date in the future: an offboarding is scheduled for that date (the
    ///   sweeper carries it out), replacing one scheduled for another date; other HR records'
    ///   offboardings of the identity are cancelled, as for an open-ended rehire;
    /// - employed again: this HR user's offboardings (scheduled or done) are cancelled and the
    ///   index rebuilt. Nothing is granted back here: the next sync grants what the directory and
    ///   the rules say.
    ///
    /// The user is read again once it is this change's turn: what another request stored meanwhile
    /// is what is settled (a deleted user is settled as given, by its `DELETE`).
    func settleEmployment(of record: HRUserRecord, deleted: Bool, actor: String, requestID: String?) async throws {
        try await self.employment.exclusive {
            let current: HRUserRecord
            if deleted {
                current = record
            } else {
                // Deleted meanwhile: that DELETE settles it.
                guard let stored = try await self.store.hrUser(id: record.id) else { return }
                current = stored
            }
            try await self.settleEmploymentUnlocked(of: current, deleted: deleted, actor: actor, requestID: requestID)
        }
    }

    /// `settleEmployment` for a caller that holds the employment lock (a DELETE).
    func settleEmploymentUnlocked(of record: HRUserRecord, deleted: Bool, actor: String, requestID: String?)
        async throws
    {
        let now = self.now()
        let status: HRStatus =
            deleted ? .terminated(reason: "HR: the user was deleted") : try record.hrStatus(asOf: now)
        guard let identityID = record.identityID else {
            // HR says this person is gone (or not yet started), but no directory identity matched:
            // nobody is offboarded. Said loudly — if the account exists under another number or
            // name, its access stays until someone links it (or offboards it by hand).
            if case .terminated(let reason) = status {
                self.logger.warning(
                    "HR user terminated but linked to no directory identity: nothing offboarded",
                    metadata: ["hrUser": "\(record.id)", "userName": "\(record.userName)"]
                )
                var details = ["hrUser": record.id, "userName": record.userName, "reason": reason]
                if let requestID { details["request"] = requestID }
                _ = try await self.store.appendAudit([
                    AuditEvent(
                        time: now,
                        actor: actor,
                        type: "hr.termination.unmatched",
                        object: record.id,
                        outcome: "unmatched",
                        details: details
                    )
                ])
            }
            return
        }
        let requester = "scim:\(record.id)"
        // HR's offboardings of this identity (any HR record), and this record's among them.
        let byHR = try await self.store.offboardings(identityID: identityID).filter {
            $0.requestedBy.hasPrefix("scim:")
        }
        let mine = byHR.filter { $0.requestedBy == requester }
        let done = mine.filter { $0.state == .done }
        let scheduled = mine.filter { $0.state == .scheduled }
        var details = ["hrUser": record.id]
        if let requestID { details["request"] = requestID }
        // The `hr.termination` record of this change, immediate or scheduled.
        func termination(_ details: [String: String]) -> AuditEvent {
            AuditEvent(
                time: now,
                actor: actor,
                type: "hr.termination",
                subject: identityID,
                object: record.id,
                details: details
            )
        }

        switch status {
        case .terminated(let reason):
            guard done.isEmpty else { return }
            guard try await self.store.terminationReason(identityID: identityID, asOf: now) != nil else {
                self.logger.info(
                    "HR user terminated, but another HR record still employs the identity: not offboarded",
                    metadata: ["hrUser": "\(record.id)", "identity": "\(identityID)"]
                )
                return
            }
            // One turn with offboardings for all of it: no CLI sync between the cancellation and
            // the offboarding, and a 503 waiting for the lock has audited nothing (the client's
            // retry audits the termination once).
            try await self.withSyncLock(purpose: "tenure serve (HR termination)") {
                if !scheduled.isEmpty {
                    try await self.cancelHROffboardings(
                        identityID,
                        requester: requester,
                        reason: "superseded by an immediate termination",
                        actor: actor,
                        details: details,
                        time: now
                    )
                }
                var details = details
                details["reason"] = reason
                _ = try await self.store.appendAudit([termination(details)])
                _ = try await self.offboardNow(identityID, reason: reason, requestedBy: requester)
            }

        case .employed:
            guard let date = record.terminationDate, !deleted else {
                // Employed with no end date: HR's terminations of this person no longer hold —
                // this record's, and (a rehire under a new HR record) other HR records' too.
                // Operators' offboardings stay: only an operator takes those back.
                let hrHeld = byHR.filter { $0.state != .cancelled }
                if !hrHeld.isEmpty {
                    let rehire = hrHeld.contains { $0.requestedBy != requester }
                    try await self.cancelHROffboardings(
                        identityID,
                        requester: "scim:",
                        reason: rehire ? "HR: employed again (rehired as HR user \(record.id))" : "HR: employed again",
                        actor: actor,
                        details: details,
                        time: now
                    )
                    try await self.refreshIndex(identityID: identityID)
                }
                return
            }
            // Employed until a date (a fixed-term rehire under a new HR record, or a new contract):
            // other HR records' terminations no longer hold either, as for an open-ended one; this
            // record's own end is scheduled below.
            let othersHeld = byHR.filter { $0.requestedBy != requester && $0.state != .cancelled }
            for other in Set(othersHeld.map(\.requestedBy)).sorted() {
                try await self.cancelHROffboardings(
                    identityID,
                    requester: other,
                    reason: "HR: employed again (rehired as HR user \(record.id))",
                    actor: actor,
                    details: details,
                    time: now
                )
            }
            let leaverUntilNow = !done.isEmpty || othersHeld.contains { $0.state == .done }
            if done.isEmpty, scheduled.count == 1, scheduled[0].effectiveAt == date {
                if leaverUntilNow { try await self.refreshIndex(identityID: identityID) }
                return
            }
            if !done.isEmpty || !scheduled.isEmpty {
                try await self.cancelHROffboardings(
                    identityID,
                    requester: requester,
                    reason: "HR: the termination date changed",
                    actor: actor,
                    details: details,
                    time: now
                )
            }
            if leaverUntilNow { try await self.refreshIndex(identityID: identityID) }
            let reason = "HR: terminationDate \(SCIMDateTime.format(date))"
            let offboarding = Offboarding(
                id: "off-\(UUID().uuidString.lowercased())",
                identityID: identityID,
                effectiveAt: date,
                reason: reason,
                requestedBy: requester,
                requestedAt: now
            )
            details["reason"] = reason
            details["effectiveAt"] = isoDate(date)
            try await self.store.addOffboarding(
                offboarding,
                audit: [
                    termination(details),
                    AuditEvent(
                        time: now,
                        actor: actor,
                        type: "offboarding.scheduled",
                        subject: identityID,
                        object: "offboarding:\(offboarding.id)",
                        details: details
                    ),
                ]
            )
            self.metrics.offboarding("scheduled")
        }
    }

    private func cancelHROffboardings(
        _ identityID: String,
        requester: String,
        reason: String,
        actor: String,
        details: [String: String],
        time: Double
    ) async throws {
        var details = details
        details["reason"] = reason
        let audit = [
            AuditEvent(
                time: time,
                actor: actor,
                type: "offboarding.cancelled",
                subject: identityID,
                object: details["hrUser"],
                details: details
            )
        ]
        // Taking turns with offboardings — the sync lock, as `tenure sync` carrying out due
        // offboardings in another process holds it, then the coordinator, as this server's own
        // take it: one that was due and had checked it was still scheduled runs to its end before
        // this cancels, and one that comes after sees it cancelled — never half of each.
        _ = try await self.withSyncLock(purpose: "tenure serve (HR cancels an offboarding)") {
            try await self.coordinator.exclusive {
                try await self.store.cancelOffboardings(
                    identityID: identityID,
                    requestedByPrefix: requester,
                    audit: audit
                )
            }
        }
        self.metrics.offboarding("cancelled")
    }
}

// MARK: - HTTP

/// SCIM responses and request headers.
enum SCIMHTTP {
    /// RFC 7644 §8.1.
    static let mediaType = "application/scim+json"

    static func response(_ value: SCIMValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:])
        -> Response
    {
        var headers = headers
        headers[.contentType] = Self.mediaType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.jsonData())))
    }

    static func error(_ error: SCIMError, headers: HTTPFields = [:]) -> Response {
        Self.response(error.body, status: HTTPResponse.Status(code: error.status), headers: headers)
    }

    /// The SCIM root as the client reached it (`http://host:port/scim/v2`), for `Location` and
    /// `meta.location`: the `Host` authority, and `https` when a proxy says so
    /// (`X-Forwarded-Proto`). nil when the request names no sane host.
    static func baseURL(_ request: Request) -> String? {
        guard let host = request.head.authority, !host.isEmpty, host.utf8.count <= 255,
            host.unicodeScalars.allSatisfy({
                ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || ".-:[]_".unicodeScalars.contains($0)
            })
        else { return nil }
        let proto = request.headers[Self.forwardedProto]?.lowercased() == "https" ? "https" : "http"
        return "\(proto)://\(host)/scim/v2"
    }

    private static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    /// The version `If-Match` requires (nil: no header, or `*`); 412 for a tag Tenure never issued.
    static func ifMatch(_ request: Request) throws(SCIMError) -> Int? {
        guard let header = request.headers[.ifMatch] else { return nil }
        return try SCIMETag.version(ifMatch: header)
    }

    /// Whether `If-None-Match` names the current tag (weak comparison) or is `*`.
    static func matches(ifNoneMatch header: String, etag: String) -> Bool {
        func opaque(_ tag: Substring) -> Substring {
            let trimmed = tag.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("W/") ? Substring(trimmed.dropFirst(2)) : Substring(trimmed)
        }
        let current = opaque(Substring(etag))
        return header.split(separator: ",").contains { tag in
            tag.trimmingCharacters(in: .whitespaces) == "*" || opaque(tag) == current
        }
    }
}

/// Under `/scim/v2`: requires the `hr` scope (or `admin`), and answers every error as a SCIM error
/// body (RFC 7644 §3.12: `schemas`, `status` as a string, `scimType`, `detail`). Problems (403,
/// 413, 503) keep their status and headers; store refusals map to 404/409/412/400; anything else is
/// a 500 whose body says nothing of the cause (the log does).
struct SCIMMiddleware: RouterMiddleware {
    typealias Context = TenureRequestContext

    /// Whether `path` is served by the SCIM service (its errors are SCIM error bodies).
    static func isSCIM(_ path: String) -> Bool { path == "/scim/v2" || path.hasPrefix("/scim/v2/") }

    /// A problem as a SCIM error: its status, detail and headers (e.g. `WWW-Authenticate`).
    static func scimError(_ problem: Problem) -> Response {
        var headers = problem.headers
        headers[.contentType] = nil
        return SCIMHTTP.error(SCIMError(status: Int(problem.status.code), detail: problem.detail), headers: headers)
    }

    func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            try context.require(.hr)
            return try await next(request, context)
        } catch let error as SCIMError {
            return SCIMHTTP.error(error)
        } catch let error as HRStoreError {
            return SCIMHTTP.error(SCIMError(error))
        } catch let problem as Problem {
            return Self.scimError(problem)
        } catch let error as any HTTPResponseError {
            return SCIMHTTP.error(
                SCIMError(status: Int(error.status.code), detail: error.status.reasonPhrase)
            )
        } catch {
            context.logger.error("SCIM request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return SCIMHTTP.error(
                SCIMError(
                    status: 500,
                    detail: "the request could not be completed; see the server log for request \(context.requestID)"
                )
            )
        }
    }
}
