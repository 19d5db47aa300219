/// A group as read from the directory, before membership is resolved.
public struct GroupEntry: Sendable, Hashable {
    public var id: String
    public var dn: String
    /// The group's own DN in normalised form.
    public var normalizedDN: String
    public var name: String
    /// DN-valued members (`member`, `uniqueMember`) as the directory wrote them.
    public var memberDNs: [String]
    /// Username-valued members (`memberUid`).
    public var memberUsernames: [String]

    public init(
        id: String,
        dn: String,
        normalizedDN: String,
        name: String,
        memberDNs: [String] = [],
        memberUsernames: [String] = []
    ) {
        self.id = id
        self.dn = dn
        self.normalizedDN = normalizedDN
        self.name = name
        self.memberDNs = memberDNs
        self.memberUsernames = memberUsernames
    }
}

/// An identity as read, with its normalised DN (for membership look-ups).
public struct IdentityEntry: Sendable, Hashable {
    public var identity: Identity
    public var normalizedDN: String

    public init(identity: Identity, normalizedDN: String) {
        self.identity = identity
        self.normalizedDN = normalizedDN
    }
}

/// Why a snapshot cannot be built: the directory data contradicts itself in a way that would make
/// any plan built on it wrong.
public struct SnapshotError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}

/// Resolves group membership — direct, nested and transitive — and assembles a snapshot.
/// Pure: no I/O, deterministic output (everything sorted).
public enum SnapshotBuilder {
    /// Builds the snapshot. The inputs are consumed (pass them with `consume`): they are sorted and
    /// de-duplicated in place, never copied field by field.
    ///
    /// Independent stages run as child tasks (after a pull the directory server is idle, so the
    /// second core is free): the DN and username maps; then manager and member resolution over
    /// slices of the data; then the group and identity lists. The result equals a sequential run:
    /// every stage writes only its own output, and everything is ordered by stable id.
    ///
    /// - Parameter normalizeDN: turns a DN as written in a member or manager value into the
    ///   normalised form of `IdentityEntry.normalizedDN`, or nil when it is not a DN. It is called
    ///   only for values that are not written exactly like an entry's own DN (the common case).
    public static func build(
        identities: consuming [IdentityEntry],
        groups: consuming [GroupEntry],
        nested: Bool,
        normalizeDN: @escaping @Sendable (String) -> String?
    ) async throws(SnapshotError) -> DirectorySnapshot {
        // Identities and groups: one per stable id, in id order (so sorted position lists give
        // sorted id lists). The same entry seen twice (overlapping bases) is fine; two with one id
        // are not.
        var sortedPeople = identities
        sortedPeople.sort { $0.identity.id < $1.identity.id }
        try deduplicate(&sortedPeople, id: \.identity.id, dn: \.normalizedDN, shownDN: \.identity.dn, what: "entries")
        var sortedGroups = groups
        sortedGroups.sort { $0.id < $1.id }
        try deduplicate(&sortedGroups, id: \.id, dn: \.normalizedDN, shownDN: \.dn, what: "groups")
        let people = sortedPeople
        let groupEntries = sortedGroups

        // Look-up maps, built concurrently.
        async let personMap = dnMap(people.map { ($0.normalizedDN, $0.identity.dn) })
        async let usernameMap = usernameIndex(people)
        let groupMap = dnMap(groupEntries.map { ($0.normalizedDN, $0.dn) })
        let index = Index(
            people: await personMap,
            groups: groupMap,
            usernames: await usernameMap.index,
            normalizeDN: normalizeDN
        )
        var warnings = await usernameMap.warnings

        // Managers and direct membership (over slices of the groups), concurrently.
        async let managerIDs = resolveManagers(people, index)
        let slices = 8
        let direct = await withTaskGroup(of: (Int, [DirectMembership]).self) { taskGroup in
            for slice in 0..<slices {
                let range = sliceRange(slice, of: slices, count: groupEntries.count)
                taskGroup.addTask {
                    (slice, range.map { resolveMembers(groupEntries[$0], index, nested: nested) })
                }
            }
            var parts = [[DirectMembership]](repeating: [], count: slices)
            for await (slice, part) in taskGroup { parts[slice] = part }
            return parts.flatMap { $0 }
        }

        // Nesting: strongly connected components (iterative Tarjan), so cycles are found and every
        // group in a cycle shares the same transitive membership; then closure over the DAG of
        // components in reverse topological order (Tarjan emits components children-first).
        let directGroups = direct.map(\.groups)
        let components = stronglyConnectedComponents(edges: directGroups)
        var componentOf = [Int](repeating: 0, count: groupEntries.count)
        for (componentIndex, component) in components.enumerated() {
            for node in component { componentOf[node] = componentIndex }
        }
        var cycles: [[String]] = []
        var closure: [[Int32]] = Array(repeating: [], count: components.count)
        for (componentIndex, component) in components.enumerated() {
            let isCycle = component.count > 1 || directGroups[component[0]].contains(Int32(component[0]))
            if isCycle {
                cycles.append(component.map { groupEntries[$0].dn }.sorted())
            }
            var members: [Int32] = []
            for node in component {
                members.append(contentsOf: direct[node].people)
                for child in directGroups[node] where componentOf[Int(child)] != componentIndex {
                    members.append(contentsOf: closure[componentOf[Int(child)]])
                }
            }
            closure[componentIndex] = sortedUnique(members)
        }
        cycles.sort { $0.lexicographicallyPrecedes($1) }
        for cycle in cycles {
            warnings.append("nested groups form a cycle: \(cycle.map { "\"\($0)\"" }.joined(separator: " ⇄ "))")
        }

        // The output lists, concurrently.
        let transitive = closure
        let componentOfGroup = componentOf
        async let resultGroups = makeGroups(groupEntries, direct, transitive, componentOfGroup, people)
        let managers = await managerIDs
        var resultIdentities: [Identity] = []
        resultIdentities.reserveCapacity(people.count)
        for position in people.indices {
            var identity = people[position].identity
            identity.managerID = managers[position]
            resultIdentities.append(identity)
        }
        return DirectorySnapshot(
            identities: resultIdentities,
            groups: await resultGroups,
            cycles: cycles,
            warnings: warnings
        )
    }

    /// Where a DN (as written, or normalised) or a username points.
    struct Index: Sendable {
        var people: [String: Int32]
        var groups: [String: Int32]
        var usernames: [String: Int32]
        var normalizeDN: @Sendable (String) -> String?

        func resolve(_ written: String) -> DNTarget? {
            if let person = self.people[written] { return .person(person) }
            if let group = self.groups[written] { return .group(group) }
            guard let normalized = self.normalizeDN(written) else { return nil }
            if let person = self.people[normalized] { return .person(person) }
            if let group = self.groups[normalized] { return .group(group) }
            return nil
        }
    }

    enum DNTarget {
        case person(Int32)
        case group(Int32)
    }

    struct DirectMembership: Sendable {
        var people: [Int32]
        var groups: [Int32]
        var unresolved: [String]
    }

    /// Removes repeated ids from an id-sorted array; throws when one id names two different DNs.
    private static func deduplicate<T>(
        _ items: inout [T],
        id: KeyPath<T, String>,
        dn: KeyPath<T, String>,
        shownDN: KeyPath<T, String>,
        what: String
    ) throws(SnapshotError) {
        var kept = 0
        for index in items.indices {
            if kept > 0, items[kept - 1][keyPath: id] == items[index][keyPath: id] {
                guard items[kept - 1][keyPath: dn] == items[index][keyPath: dn] else {
                    throw SnapshotError(
                        "stable id \(items[index][keyPath: id]) is held by two \(what), "
                            + "\"\(items[kept - 1][keyPath: shownDN])\" and \"\(items[index][keyPath: shownDN])\": "
                            + "the id attribute must be unique"
                    )
                }
                continue
            }
            if kept != index { items.swapAt(kept, index) }
            kept += 1
        }
        items.removeSubrange(kept...)
    }

    /// DN → position, under the normalised DN and, when it differs, the DN as the server wrote it
    /// (member values nearly always repeat it verbatim).
    private static func dnMap(_ dns: [(normalized: String, written: String)]) -> [String: Int32] {
        var map: [String: Int32] = [:]
        map.reserveCapacity(dns.count)
        for (position, dn) in dns.enumerated() {
            map[dn.normalized] = Int32(position)
            if dn.written != dn.normalized { map[dn.written] = Int32(position) }
        }
        return map
    }

    private static func usernameIndex(_ people: [IdentityEntry]) -> (index: [String: Int32], warnings: [String]) {
        var index: [String: Int32] = [:]
        var warnings: [String] = []
        index.reserveCapacity(people.count)
        for position in people.indices {
            guard let username = people[position].identity.username else {
                warnings.append("\"\(people[position].identity.dn)\" has no username attribute")
                continue
            }
            if let other = index.updateValue(Int32(position), forKey: username.lowercased()) {
                warnings.append(
                    "username \"\(username)\" is shared by \"\(people[Int(other)].identity.dn)\" and "
                        + "\"\(people[position].identity.dn)\"; memberUid values naming it are ambiguous"
                )
            }
        }
        return (index, warnings)
    }

    private static func resolveManagers(_ people: [IdentityEntry], _ index: Index) -> [String?] {
        people.map { entry in
            guard let manager = entry.identity.manager, case .person(let boss) = index.resolve(manager) else {
                return nil
            }
            return people[Int(boss)].identity.id
        }
    }

    private static func resolveMembers(_ group: GroupEntry, _ index: Index, nested: Bool) -> DirectMembership {
        var people: [Int32] = []
        var groups: [Int32] = []
        var unresolved: [String] = []
        people.reserveCapacity(group.memberDNs.count + group.memberUsernames.count)
        for member in group.memberDNs {
            switch index.resolve(member) {
            case .person(let person): people.append(person)
            // Not followed when nesting is off, but kept as a value: a group nested in a write-back
            // group still gives its members access, and must show (as drift).
            case .group(let child): if nested { groups.append(child) } else { unresolved.append(member) }
            case nil: unresolved.append(member)
            }
        }
        for username in group.memberUsernames {
            if let person = index.usernames[username.lowercased()] {
                people.append(person)
            } else {
                unresolved.append(username)
            }
        }
        return DirectMembership(people: sortedUnique(people), groups: sortedUnique(groups), unresolved: unresolved)
    }

    private static func makeGroups(
        _ entries: [GroupEntry],
        _ direct: [DirectMembership],
        _ closure: [[Int32]],
        _ componentOf: [Int],
        _ people: [IdentityEntry]
    ) -> [Group] {
        // Position lists are sorted and positions follow id order, so the id lists come out sorted.
        func ids(_ positions: [Int32]) -> [String] { positions.map { people[Int($0)].identity.id } }
        return entries.indices.map { position in
            Group(
                id: entries[position].id,
                dn: entries[position].dn,
                name: entries[position].name,
                directMembers: ids(direct[position].people),
                directGroups: direct[position].groups.map { entries[Int($0)].id },
                transitiveMembers: ids(closure[componentOf[position]]),
                unresolvedMembers: direct[position].unresolved
            )
        }
    }

    private static func sliceRange(_ slice: Int, of slices: Int, count: Int) -> Range<Int> {
        let size = (count + slices - 1) / slices
        let lower = min(count, slice * size)
        return lower..<min(count, lower + size)
    }

    /// Tarjan's algorithm without recursion (nesting depth must not overflow the stack).
    /// Components come out in reverse topological order: a component after all it points to.
    static func stronglyConnectedComponents(edges: [[Int32]]) -> [[Int]] {
        let count = edges.count
        var index = [Int](repeating: -1, count: count)
        var lowLink = [Int](repeating: 0, count: count)
        var onStack = [Bool](repeating: false, count: count)
        var stack: [Int] = []
        var components: [[Int]] = []
        var nextIndex = 0
        for root in 0..<count where index[root] == -1 {
            // Each frame: node and the position of the next edge to look at.
            var frames: [(node: Int, edge: Int)] = [(root, 0)]
            index[root] = nextIndex
            lowLink[root] = nextIndex
            nextIndex += 1
            stack.append(root)
            onStack[root] = true
            while let frame = frames.last {
                let node = frame.node
                if frame.edge < edges[node].count {
                    frames[frames.count - 1].edge += 1
                    let next = Int(edges[node][frame.edge])
                    if index[next] == -1 {
                        index[next] = nextIndex
                        lowLink[next] = nextIndex
                        nextIndex += 1
                        stack.append(next)
                        onStack[next] = true
                        frames.append((next, 0))
                    } else if onStack[next] {
                        lowLink[node] = min(lowLink[node], index[next])
                    }
                } else {
                    frames.removeLast()
                    if let parent = frames.last {
                        lowLink[parent.node] = min(lowLink[parent.node], lowLink[node])
                    }
                    if lowLink[node] == index[node] {
                        var component: [Int] = []
                        while let top = stack.popLast() {
                            onStack[top] = false
                            component.append(top)
                            if top == node { break }
                        }
                        components.append(component.sorted())
                    }
                }
            }
        }
        return components
    }
}

/// Sorted, without repeats (a member listed twice, or by DN and by username).
private func sortedUnique(_ values: [Int32]) -> [Int32] {
    var values = values
    values.sort()
    var kept = 0
    for index in values.indices where kept == 0 || values[kept - 1] != values[index] {
        values[kept] = values[index]
        kept += 1
    }
    values.removeSubrange(kept...)
    return values
}
