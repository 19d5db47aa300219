import TenureCore
import Testing

@testable import TenureAccess

@Suite struct BatchTests {
    /// alice: db-read permit, sec-admin deny, db-read permit, then a checkout that overrides
    /// the default resource type and action (permit).
    static func batch(_ semantic: EvaluationsSemantic?, items: [EvaluationItem]? = nil) -> EvaluationsRequest {
        EvaluationsRequest(
            subject: Subject(type: "user", id: "alice"),
            action: Action(name: "assume"),
            context: ["time": "2027-01-15T08:00:00Z"],
            evaluations: items ?? [
                EvaluationItem(resource: Resource(type: "role", id: "db-read")),
                EvaluationItem(resource: Resource(type: "role", id: "sec-admin")),
                EvaluationItem(resource: Resource(type: "role", id: "db-read")),
                EvaluationItem(
                    resource: Resource(type: "credential", id: "pg-prod-ro"),
                    action: Action(name: "checkout")
                ),
            ],
            options: semantic.map { EvaluationsOptions(evaluationsSemantic: $0) }
        )
    }

    static let allow = EvaluationItem(resource: Resource(type: "role", id: "db-read"))
    static let deny = EvaluationItem(resource: Resource(type: "role", id: "sec-admin"))

    struct Case: Sendable, CustomTestStringConvertible {
        var semantic: EvaluationsSemantic?
        var items: [EvaluationItem]?
        var decisions: [Bool]
        var testDescription: String { "\(self.semantic?.rawValue ?? "default") → \(self.decisions)" }
    }

    static let cases: [Case] = [
        Case(semantic: nil, decisions: [true, false, true, true]),
        Case(semantic: .executeAll, decisions: [true, false, true, true]),
        Case(semantic: .denyOnFirstDeny, decisions: [true, false]),
        Case(semantic: .permitOnFirstPermit, decisions: [true]),
        // Nothing to short-circuit on: every item is answered.
        Case(semantic: .denyOnFirstDeny, items: [allow, allow, allow], decisions: [true, true, true]),
        Case(semantic: .permitOnFirstPermit, items: [deny, deny], decisions: [false, false]),
        Case(semantic: .permitOnFirstPermit, items: [deny, deny, allow, deny], decisions: [false, false, true]),
        Case(semantic: .denyOnFirstDeny, items: [deny, allow], decisions: [false]),
    ]

    @Test(arguments: cases)
    func semantics(_ c: Case) throws {
        let response = try World.model.evaluate(Self.batch(c.semantic, items: c.items), now: World.now)
        #expect(response.evaluations.map(\.decision) == c.decisions)
        // Each answer is the one the single endpoint gives.
        let singles = try Self.batch(c.semantic, items: c.items).resolved().prefix(c.decisions.count)
            .map { World.model.evaluate($0, now: World.now).response }
        #expect(response.evaluations == singles)
    }

    @Test func defaultsAreInheritedAndOverridden() throws {
        let request = EvaluationsRequest(
            subject: Subject(type: "user", id: "alice"),
            resource: Resource(type: "role", id: "db-read"),
            action: Action(name: "assume"),
            context: ["time": "t0"],
            evaluations: [
                EvaluationItem(),
                EvaluationItem(subject: Subject(type: "user", id: "bob")),
                EvaluationItem(resource: Resource(type: "role", id: "dba-prod"), context: ["time": "t1"]),
                EvaluationItem(
                    resource: Resource(type: "credential", id: "pg-prod-ro"),
                    action: Action(name: "checkout")
                ),
            ]
        )
        let resolved = try request.resolved()
        #expect(resolved.map(\.subject.id) == ["alice", "bob", "alice", "alice"])
        #expect(resolved.map(\.resource.id) == ["db-read", "db-read", "dba-prod", "pg-prod-ro"])
        #expect(resolved.map(\.action.name) == ["assume", "assume", "assume", "checkout"])
        // An item's context replaces the default whole.
        #expect(resolved.map { $0.context?["time"] } == ["t0", "t0", "t1", "t0"])
        let response = try World.model.evaluate(request, now: World.now)
        #expect(response.evaluations.map(\.decision) == [true, false, false, true])
        #expect(response.evaluations[1].context?["reason"] == "not_eligible")
        #expect(response.evaluations[2].context?["reason"] == "eligible_not_active")
    }

    @Test func withoutEvaluationsTheTopLevelIsOneRequest() throws {
        let request = EvaluationsRequest(
            subject: Subject(type: "user", id: "alice"),
            resource: Resource(type: "role", id: "db-read"),
            action: Action(name: "assume")
        )
        #expect(try request.resolved() == [World.assume("alice", "db-read")])
        #expect(try World.model.evaluate(request, now: World.now).evaluations.map(\.decision) == [true])
        var empty = request
        empty.evaluations = []
        #expect(try empty.resolved() == [World.assume("alice", "db-read")])
    }

    struct Missing: Sendable {
        var request: EvaluationsRequest
        var path: String
    }

    static let missing: [Missing] = [
        Missing(
            request: EvaluationsRequest(
                action: Action(name: "assume"),
                evaluations: [
                    EvaluationItem(subject: Subject(type: "user", id: "a"), resource: Resource(type: "role", id: "r")),
                    EvaluationItem(resource: Resource(type: "role", id: "r")),
                ]
            ),
            path: "evaluations[1].subject"
        ),
        Missing(
            request: EvaluationsRequest(
                subject: Subject(type: "user", id: "a"),
                action: Action(name: "assume"),
                evaluations: [EvaluationItem()]
            ),
            path: "evaluations[0].resource"
        ),
        Missing(
            request: EvaluationsRequest(
                subject: Subject(type: "user", id: "a"),
                resource: Resource(type: "role", id: "r"),
                evaluations: [EvaluationItem(), EvaluationItem(), EvaluationItem()]
            ),
            path: "evaluations[0].action"
        ),
        Missing(request: EvaluationsRequest(subject: Subject(type: "user", id: "a")), path: "resource"),
        Missing(request: EvaluationsRequest(), path: "subject"),
    ]

    @Test(arguments: missing)
    func anIncompleteItemIsAnError(_ c: Missing) {
        #expect(throws: AccessRequestError.self) { try c.request.resolved() }
        do {
            _ = try World.model.evaluate(c.request, now: World.now)
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .missing)
            #expect(error.path == c.path)
        }
    }

    /// The batch reads one snapshot of the index.
    @Test func theIndexAnswersBatches() throws {
        let index = AccessIndex(World.model)
        let response = try index.evaluate(Self.batch(.denyOnFirstDeny), now: World.now)
        #expect(response.evaluations.count == 2)
        let decisions = index.evaluate(try Self.batch(nil).resolved(), semantic: .permitOnFirstPermit, now: World.now)
        #expect(decisions.map(\.reason) == [.activeAssignment])
    }
}
