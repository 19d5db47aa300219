import Dispatch

/// A serial executor backed by a private `DispatchQueue` (GRDB's `DispatchQueueActor` shape).
///
/// An `LDAPConnection` actor runs on one of these, so every blocking libldap call executes on the
/// queue's thread — never on Swift's cooperative thread pool — and the `LDAP*` handle has exactly
/// one serial owner.
final class SerialQueueExecutor: SerialExecutor {
    private let queue: DispatchQueue

    init(label: String) {
        self.queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedSerialExecutor()
        self.queue.async {
            job.runSynchronously(on: executor)
        }
    }
}
