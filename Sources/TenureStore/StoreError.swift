/// A store operation was refused or found data it cannot read. Messages name plans, entries and
/// columns; never key material or audit details.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// No plan with that id.
        case unknownPlan
        /// No journal entry with that id in that plan.
        case unknownJournalEntry
        /// The plan is finished (`applied`, `held` or `failed`): nothing more can be applied.
        case planFinished
        /// `finishPlan` was given an open status (`pending` or `applying`).
        case invalidStatus
        /// An audit event the log cannot store faithfully (a NUL character, a time that is not finite).
        case invalidEvent
        /// A row that does not decode (hand-edited or from an incompatible version).
        case corruptData
        /// The database has schema migrations this version does not know.
        case newerSchema
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
