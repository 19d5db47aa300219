/// A group as read from the directory, before membership is resolved.
public struct GroupEntry: Sendable, Hashable {
    public var id: String
    public var dn: String
    /// The group's own DN in normalised form.
    public var normalizedDN: String
    public var name: String
    /// DN-valued members (`member`, `uniqueMember`), normalised; nil where a value is not a DN.
    public var memberDNs: [MemberValue]
    /// Username-valued members (`memberUid`).
    public var memberUsernames: [String]

    public init(
        id: String,
        dn: String,
        normalizedDN: String,
        name: String,
        memberDNs: [MemberValue] = [],
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

/// A DN-valued member as read (`raw`) and normalised (`normalized`, nil if it does not parse).
public struct MemberValue: Sendable, Hashable {
    public var raw: String
    public var normalized: String?

    public init(raw: String, normalized: String?) {
        self.raw = raw
        self.normalized = normalized
    }
}

/// An identity as read, with its normalised DN (for membership look-ups).
public struct IdentityEntry: Sendable, Hashable {
    public var identity: Identity
    public var normalizedDN: String
    /// The manager's DN normalised, when it parses.
    public var normalizedManagerDN: String?

    public init(identity: Identity, normalizedDN: String, normalizedManagerDN: String? = nil) {
        self.identity = identity
        self.normalizedDN = normalizedDN
        self.normalizedManagerDN = normalizedManagerDN
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
    public static func build(
        identities: [IdentityEntry],
        groups: [GroupEntry],
        nested: Bool
    ) throws(SnapshotError) -> DirectorySnapshot {
        var warnings: [String] = []

        // Identities: one per stable id; the same entry seen twice (overlapping bases) is fine.
        var identityIndexByID: [String: Int] = [:]
        var people: [IdentityEntry] = []
        people.reserveCapacity(identities.count)
        for entry in identities {
            if let existing = identityIndexByID[entry.identity.id] {
                guard people[existing].normalizedDN == entry.normalizedDN else {
                    throw SnapshotError(
                        "stable id \(entry.identity.id) is held by two entries, \"\(people[existing].identity.dn)\" "
                            + "and \"\(entry.identity.dn)\": the id attribute must be unique"
                    )
                }
                continue
            }
            identityIndexByID[entry.identity.id] = people.count
            people.append(entry)
        }
        var identityByDN: [String: Int] = [:]
        var identityByUsername: [String: Int] = [:]
        identityByDN.reserveCapacity(people.count)
        for (index, entry) in people.enumerated() {
            identityByDN[entry.normalizedDN] = index
            if let username = entry.identity.username {
                let key = username.lowercased()
                if let other = identityByUsername[key], other != index {
                    warnings.append(
                        "username \"\(username)\" is shared by \"\(people[other].identity.dn)\" and "
                            + "\"\(entry.identity.dn)\"; memberUid values naming it are ambiguous"
                    )
                }
                identityByUsername[key] = index
            } else {
                warnings.append("\"\(entry.identity.dn)\" has no username attribute")
            }
        }
        for index in people.indices {
            if let manager = people[index].normalizedManagerDN, let managerIndex = identityByDN[manager] {
                people[index].identity.managerID = people[managerIndex].identity.id
            }
        }

        // Groups: one per id.
        var groupIndexByID: [String: Int] = [:]
        var groupEntries: [GroupEntry] = []
        for group in groups {
            if let existing = groupIndexByID[group.id] {
                guard groupEntries[existing].normalizedDN == group.normalizedDN else {
                    throw SnapshotError(
                        "stable id \(group.id) is held by two groups, \"\(groupEntries[existing].dn)\" and "
                            + "\"\(group.dn)\": the group id attribute must be unique"
                    )
                }
                continue
            }
            groupIndexByID[group.id] = groupEntries.count
            groupEntries.append(group)
        }
        var groupByDN: [String: Int] = [:]
        for (index, group) in groupEntries.enumerated() {
            groupByDN[group.normalizedDN] = index
        }

        // Direct membership, as indices.
        var directPeople: [[Int32]] = Array(repeating: [], count: groupEntries.count)
        var directGroups: [[Int32]] = Array(repeating: [], count: groupEntries.count)
        var unresolved: [[String]] = Array(repeating: [], count: groupEntries.count)
        for (index, group) in groupEntries.enumerated() {
            var peopleSet = Set<Int32>()
            var groupSet = Set<Int32>()
            for member in group.memberDNs {
                if let normalized = member.normalized {
                    if let person = identityByDN[normalized] {
                        peopleSet.insert(Int32(person))
                        continue
                    }
                    if let child = groupByDN[normalized] {
                        if nested { groupSet.insert(Int32(child)) }
                        continue
                    }
                }
                unresolved[index].append(member.raw)
            }
            for username in group.memberUsernames {
                if let person = identityByUsername[username.lowercased()] {
                    peopleSet.insert(Int32(person))
                } else {
                    unresolved[index].append(username)
                }
            }
            directPeople[index] = peopleSet.sorted()
            directGroups[index] = groupSet.sorted()
        }

        // Nesting: strongly connected components (iterative Tarjan), so cycles are found and every
        // group in a cycle shares the same transitive membership; then closure over the DAG of
        // components in reverse topological order (Tarjan emits components children-first).
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
            var members = Set<Int32>()
            for node in component {
                members.formUnion(directPeople[node])
                for child in directGroups[node] {
                    let childComponent = componentOf[Int(child)]
                    if childComponent != componentIndex {
                        members.formUnion(closure[childComponent])
                    }
                }
            }
            closure[componentIndex] = members.sorted()
        }
        cycles.sort { $0.lexicographicallyPrecedes($1) }

        let identityIDs = people.map(\.identity.id)
        let groupIDs = groupEntries.map(\.id)
        var resultGroups: [Group] = []
        resultGroups.reserveCapacity(groupEntries.count)
        for (index, entry) in groupEntries.enumerated() {
            resultGroups.append(
                Group(
                    id: entry.id,
                    dn: entry.dn,
                    name: entry.name,
                    directMembers: directPeople[index].map { identityIDs[Int($0)] }.sorted(),
                    directGroups: directGroups[index].map { groupIDs[Int($0)] }.sorted(),
                    transitiveMembers: closure[componentOf[index]].map { identityIDs[Int($0)] }.sorted(),
                    unresolvedMembers: unresolved[index]
                )
            )
        }
        resultGroups.sort { $0.id < $1.id }
        for cycle in cycles {
            warnings.append("nested groups form a cycle: \(cycle.map { "\"\($0)\"" }.joined(separator: " ⇄ "))")
        }
        return DirectorySnapshot(
            identities: people.map(\.identity).sorted { $0.id < $1.id },
            groups: resultGroups,
            cycles: cycles,
            warnings: warnings
        )
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
