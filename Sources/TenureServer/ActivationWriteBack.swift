import LDAPClient
import Logging
import TenureAccess
import TenureCore
import TenureEngine
import TenureStore

/// Write-back follows activations: when the role has a `writeBackGroup` and a write-back executor is
/// configured, the identity's DN is added when an activation starts and removed when it ends or
/// expires; the store remembers what Tenure wrote (`writeback_member`). A failed write is audited
/// (`writeback.add` / `writeback.remove`, outcome failure) and does not undo the activation: the
/// next sync plans the write again.
extension Operations {
    /// Adds the identity to the role's write-back group (the activation started).
    func writeBackStarted(_ record: ActivationRecord, actor: String) async {
        guard let executor = self.engine.writeBack, let group = self.writeBackGroup(of: record.role) else { return }
        guard let identity = self.index.snapshot.identities[record.identityID] else {
            self.logger.warning(
                "write-back skipped: the identity is not in the model",
                metadata: ["identity": "\(record.identityID)", "role": "\(record.role)"]
            )
            return
        }
        var event = self.writeBackEvent(add: true, record, group: group, member: identity.dn, actor: actor)
        do {
            let outcome = try await executor.write(group: group, member: identity.dn, username: nil, add: true)
            event.details["result"] = outcome == .changed ? "added" : "already in place"
            let member = WriteBackMember(
                group: group,
                identityID: record.identityID,
                member: identity.dn,
                role: record.role,
                since: event.time
            )
            do {
                try await self.store.recordWriteBackMember(member, audit: [event])
            } catch {
                // A member Tenure added but cannot record would never be removed by Tenure (it
                // removes only what it knows it wrote): take it out again. Fail closed — the next
                // sync writes it back once the store works, as a missing member of an active holder.
                self.logger.error(
                    "a write-back member could not be recorded; undoing the add",
                    metadata: ["group": "\(group)", "identity": "\(record.identityID)", "error": "\(error)"]
                )
                var undone = "added but not recorded (\(error)); "
                if outcome == .changed {
                    do {
                        _ = try await executor.write(group: group, member: identity.dn, username: nil, add: false)
                        undone += "removed again"
                    } catch {
                        undone += "removing it again failed: \(error)"
                    }
                } else {
                    undone += "it was already a member, left as it was"
                }
                await self.writeBackFailed(&event, result: undone)
            }
        } catch {
            await self.writeBackFailed(&event, result: "\(error)")
        }
    }

    /// Removes the member Tenure wrote for the identity from the role's write-back group (the
    /// activation ended or expired), unless the identity still holds a role written to that group.
    /// Only the DN Tenure wrote: a `memberUid` someone added by hand is the next sync's drift, handled
    /// by the role's drift policy.
    func writeBackEnded(_ record: ActivationRecord, actor: String, reason: String) async {
        guard let executor = self.engine.writeBack, let group = self.writeBackGroup(of: record.role) else { return }
        let model = self.index.snapshot
        let now = self.now()
        let stillHeld = model.roles.values.contains { role in
            role.writeBackGroup.map(Self.normalizedDN) == group
                && model.holding(of: record.identityID, role: role.name)?.activeAssignment(at: now) != nil
        }
        guard !stillHeld else { return }
        let written: WriteBackMember?
        do {
            written = try await self.store.writeBackMember(group: group, identityID: record.identityID)
        } catch {
            self.logger.error("write-back members cannot be read", metadata: ["error": "\(error)"])
            return
        }
        // Nothing Tenure wrote (the add failed and no sync has written it since): nothing to remove.
        guard let written else { return }
        var event = self.writeBackEvent(add: false, record, group: group, member: written.member, actor: actor)
        event.details["reason"] = "activation \(reason)"
        do {
            let outcome = try await executor.write(group: group, member: written.member, username: nil, add: false)
            event.details["result"] = outcome == .changed ? "removed" : "already in place"
            do {
                try await self.store.forgetWriteBackMember(group: group, identityID: record.identityID, audit: [event])
            } catch {
                // The member is out of the group, but the store still says Tenure wrote it: the
                // removal is audited on its own (it changed a privileged group), as a failure of the
                // bookkeeping; the next sync finds the member gone and forgets it.
                let done = event.details["result"] ?? "removed"
                await self.writeBackFailed(&event, result: "\(done), but not recorded as removed (\(error))")
            }
        } catch {
            await self.writeBackFailed(&event, result: "\(error)")
        }
    }

    /// Audits a write-back that failed, or whose bookkeeping did (outcome failure, `result` says
    /// what happened), and logs it; when even the audit cannot be written, that is logged too.
    private func writeBackFailed(_ event: inout AuditEvent, result: String) async {
        event.outcome = "failure"
        event.details["result"] = result
        self.logger.error(
            "write-back failed",
            metadata: ["group": "\(event.details["group"] ?? "")", "error": "\(result)"]
        )
        do {
            _ = try await self.store.appendAudit([event])
        } catch {
            self.logger.error("a write-back failure could not be audited", metadata: ["error": "\(error)"])
        }
    }

    private func writeBackEvent(
        add: Bool,
        _ record: ActivationRecord,
        group: String,
        member: String,
        actor: String
    ) -> AuditEvent {
        AuditEvent(
            time: self.now(),
            actor: actor,
            type: add ? "writeback.add" : "writeback.remove",
            subject: record.identityID,
            object: record.role,
            details: [
                "group": group, "member": member, "operation": add ? "add" : "remove",
                "reason": add ? "activation started" : "activation ended", "activation": record.id,
                "username": self.index.snapshot.identities[record.identityID]?.username ?? "",
            ]
        )
    }

    /// The role's write-back group, normalised (as the planner and `writeback_member` have it).
    private func writeBackGroup(of role: String) -> String? {
        self.index.snapshot.roles[role]?.writeBackGroup.map(Self.normalizedDN)
    }

    static func normalizedDN(_ dn: String) -> String {
        (try? DistinguishedName.normalize(dn)) ?? dn.lowercased()
    }
}
