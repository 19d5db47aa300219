import Synchronization
import TenureCore

/// The live model the API server decides against, shared between request handlers.
///
/// Readers copy the model under the lock (a handful of retains: the dictionaries are shared
/// copy-on-write) and evaluate outside it, so a decision never waits on another decision and an
/// update never waits on an evaluation. A writer changes its own copy outside that lock — the
/// dictionaries it changes are copied, O(identities) for a large directory — and only swaps the
/// result in under it, so a decision never waits for that copy either (it would otherwise stall
/// every event loop for the copy's milliseconds). Writers take turns on a lock of their own, so
/// no update is lost.
public final class AccessIndex: Sendable {
    private let model: Mutex<AccessModel>
    private let writer = Mutex(())

    public init(_ model: AccessModel) {
        self.model = Mutex(model)
    }

    /// The current model (a consistent snapshot; later updates do not change it).
    public var snapshot: AccessModel {
        self.model.withLock { $0 }
    }

    /// Decides one request against the current model.
    public func evaluate(_ request: EvaluationRequest, now: Double) -> Decision {
        self.snapshot.evaluate(request, now: now)
    }

    /// Decides a batch against one snapshot: every item sees the same state.
    public func evaluate(_ batch: EvaluationsRequest, now: Double) throws(AccessRequestError) -> EvaluationsResponse {
        try self.snapshot.evaluate(batch, now: now)
    }

    /// Decides resolved requests against one snapshot (for callers that also log each decision).
    public func evaluate(_ requests: [EvaluationRequest], semantic: EvaluationsSemantic, now: Double) -> [Decision] {
        self.snapshot.evaluate(requests, semantic: semantic, now: now)
    }

    /// Applies a change (an assignment granted or revoked, an identity recorded, an HR termination,
    /// new mappings) atomically: readers see the model before or after it, never in between.
    public func update(_ body: (inout AccessModel) -> Void) {
        self.writer.withLock { _ in
            var next = self.snapshot
            body(&next)
            // Swapped, not assigned: the old model leaves in `next` and, when no reader still
            // holds it, is freed after the readers' lock — freeing it is as slow as copying it.
            self.model.withLock { swap(&$0, &next) }
        }
    }
}
