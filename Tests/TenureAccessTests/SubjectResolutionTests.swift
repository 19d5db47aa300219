import TenureAccess
import TenureCore
import Testing

/// The one subject rule, as the command line meets it (`PIMState.resolveSubject`) and as the
/// access model's index answers it: both must name the same identity for every subject.
@Suite struct SubjectResolutionTests {
    static let state = PIMState(
        identities: [
            World.identity("u-old", "rpatel", .terminated),
            World.identity("u-new", "rpatel"),
            World.identity("u-dis", "lone", .disabled),
            World.identity("u-t1", "twice", .terminated),
            World.identity("u-t2", "Twice", .terminated),
            World.identity("rpatel-id", "other"),
        ].reduce(into: [:]) { $0[$1.id] = $1 },
        assignments: []
    )

    @Test func aStableIdFirstThenTheBestStateThenNobody() {
        let state = Self.state
        // An active identity before a terminated one with the same username.
        #expect(state.resolveSubject("rpatel") == .found(World.identity("u-new", "rpatel")))
        #expect(state.resolveSubject("RPATEL") == .found(World.identity("u-new", "rpatel")))
        // A stable id names its identity, even where a username could mean another.
        #expect(state.resolveSubject("u-old") == .found(World.identity("u-old", "rpatel", .terminated)))
        #expect(state.resolveSubject("rpatel-id") == .found(World.identity("rpatel-id", "other")))
        // A lone disabled identity is found (the caller decides what to do with it).
        #expect(state.resolveSubject("lone") == .found(World.identity("u-dis", "lone", .disabled)))
        // Two in the same best state: nobody, with both ids.
        #expect(state.resolveSubject("twice") == .ambiguous(["u-t1", "u-t2"]))
        #expect(state.resolveSubject("nobody") == .unknown)
        #expect(state.resolveSubject("") == .unknown)
    }

    /// For a change (offboarding, MFA enrolment) a terminated account is passed over, but two that
    /// are not terminated name nobody, whatever their states.
    @Test func aChangeNeedsOneAccountThatIsNotTerminated() {
        var state = Self.state
        // A disabled jsmith (on leave) and an active contractor jsmith.
        state.identities["u-leave"] = World.identity("u-leave", "jsmith", .disabled)
        state.identities["u-contractor"] = World.identity("u-contractor", "JSmith")
        #expect(state.resolveSubject("jsmith") == .found(World.identity("u-contractor", "JSmith")))
        #expect(state.resolveSubject("jsmith", rule: .change) == .ambiguous(["u-contractor", "u-leave"]))
        #expect(
            state.resolveSubject("u-leave", rule: .change) == .found(World.identity("u-leave", "jsmith", .disabled))
        )
        // A terminated predecessor and its active successor: the successor.
        #expect(state.resolveSubject("rpatel", rule: .change) == .found(World.identity("u-new", "rpatel")))
        // Only terminated accounts: one is found, two name nobody.
        #expect(state.resolveSubject("twice", rule: .change) == .ambiguous(["u-t1", "u-t2"]))
        #expect(state.resolveSubject("lone", rule: .change) == .found(World.identity("u-dis", "lone", .disabled)))
        #expect(state.resolveSubject("nobody", rule: .change) == .unknown)
        let model = AccessModel(mappings: World.mappings, state: state)
        for subject in ["jsmith", "rpatel", "twice", "lone", "u-leave", "nobody"] {
            for rule in [SubjectRule.preferActive, .change] {
                #expect(
                    model.resolveSubject(subject, rule: rule) == state.resolveSubject(subject, rule: rule),
                    "\(subject)"
                )
            }
        }
    }

    @Test func theAccessModelAnswersTheSame() {
        let state = Self.state
        let model = AccessModel(mappings: World.mappings, state: state)
        for subject in ["rpatel", "RPATEL", "u-old", "rpatel-id", "lone", "twice", "nobody", "other", "u-t2"] {
            #expect(model.resolveSubject(subject) == state.resolveSubject(subject), "\(subject)")
        }
    }
}
