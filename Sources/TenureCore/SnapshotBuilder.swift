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
    /// de-duplicated in place and their identities moved into the result, so 100,000 identities are
    /// never copied field by field.
    ///
    /// - Parameter normalizeDN: turns a DN as written in a member or manager value into the
    ///   normalised form of `IdentityEntry.normalizedDN`, or nil when it is not a DN. It is called
    ///   only for values that are not written exactly like an entry's own DN (the common case).
    public static func build(
        identities: consuming [IdentityEntry],
        groups: consuming [GroupEntry],
        nested: Bool,
        normalizeDN: (String) -> String?
    ) throws(SnapshotError) -> DirectorySnapshot {
        var warnings: [String] = []

        // Identities: one per stable id, in id order (so sorted index lists give sorted id lists).
        // The same entry seen twice (overlapping bases) is fine; two entries with one id are not.
        var people = identities
        people.sort { $0.identity.id < $1.identity.id }
        var kept = 0
        for index in people.indices {
            if kept > 0, people[kept - 1].identity.id == people[index].identity.id {
                guard people[kept - 1].normalizedDN == people[index].normalizedDN else {
                    throw SnapshotError(
                        "stable id \(people[index].identity.id) is held by two entries, "
                            + "\"\(people[kept - 1].identity.dn)\" and \"\(people[index].identity.dn)\": "
                            + "the id attribute must be unique"
                    )
                }
                continue
            }
            if kept != index { people.swapAt(kept, index) }
            kept += 1
        }
        people.removeSubrange(kept...)

        // Groups: one per id, in id order.
        var groupEntries = groups
        groupEntries.sort { $0.id < $1.id }
        var keptGroups = 0
        for index in groupEntries.indices {
            if keptGroups > 0, groupEntries[keptGroups - 1].id == groupEntries[index].id {
                guard groupEntries[keptGroups - 1].normalizedDN == groupEntries[index].normalizedDN else {
                    throw SnapshotError(
                        "stable id \(groupEntries[index].id) is held by two groups, "
                            + "\"\(groupEntries[keptGroups - 1].dn)\" and \"\(groupEntries[index].dn)\": "
                            + "the group id attribute must be unique"
                    )
                }
                continue
            }
            if keptGroups != index { groupEntries.swapAt(keptGroups, index) }
            keptGroups += 1
        }
        groupEntries.removeSubrange(keptGroups...)

        // Look-ups by DN: `.person(i)` / `.group(i)`, under both the DN as the server wrote it
        // (which member values nearly always repeat verbatim) and its normalised form.
        var byDN: [String: DNTarget] = [:]
        var identityByUsername: [String: Int] = [:]
        byDN.reserveCapacity(2 * people.count + 2 * groupEntries.count)
        identityByUsername.reserveCapacity(people.count)
        for index in people.indices {
            byDN[people[index].normalizedDN] = .person(index)
            if people[index].identity.dn != people[index].normalizedDN {
                byDN[people[index].identity.dn] = .person(index)
            }
            if let username = people[index].identity.username {
                let key = username.lowercased()
                if let other = identityByUsername.updateValue(index, forKey: key), other != index {
                    warnings.append(
                        "username \"\(username)\" is shared by \"\(people[other].identity.dn)\" and "
                            + "\"\(people[index].identity.dn)\"; memberUid values naming it are ambiguous"
                    )
                }
            } else {
                warnings.append("\"\(people[index].identity.dn)\" has no username attribute")
            }
        }

        for index in groupEntries.indices {
            byDN[groupEntries[index].normalizedDN] = .group(index)
            if groupEntries[index].dn != groupEntries[index].normalizedDN {
                byDN[groupEntries[index].dn] = .group(index)
            }
        }
        func resolve(_ written: String) -> DNTarget? {
            if let target = byDN[written] { return target }
            return normalizeDN(written).flatMap { byDN[$0] }
        }
        for index in people.indices {
            if let manager = people[index].identity.manager, case .person(let boss) = resolve(manager) {
                people[index].identity.managerID = people[boss].identity.id
            }
        }

        // Direct membership, as indices.
        var directPeople: [[Int32]] = Array(repeating: [], count: groupEntries.count)
        var directGroups: [[Int32]] = Array(repeating: [], count: groupEntries.count)
        var unresolved: [[String]] = Array(repeating: [], count: groupEntries.count)
        for index in groupEntries.indices {
            var peopleList: [Int32] = []
            var groupList: [Int32] = []
            peopleList.reserveCapacity(groupEntries[index].memberDNs.count + groupEntries[index].memberUsernames.count)
            for member in groupEntries[index].memberDNs {
                switch resolve(member) {
                case .person(let person): peopleList.append(Int32(person))
                case .group(let child): if nested { groupList.append(Int32(child)) }
                case nil: unresolved[index].append(member)
                }
            }
            for username in groupEntries[index].memberUsernames {
                if let person = identityByUsername[username.lowercased()] {
                    peopleList.append(Int32(person))
                } else {
                    unresolved[index].append(username)
                }
            }
            directPeople[index] = sortedUnique(peopleList)
            directGroups[index] = sortedUnique(groupList)
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
        for index in groupEntries.indices {
            let entry = groupEntries[index]
            // Index lists are sorted and indices follow id order, so the id lists come out sorted.
            resultGroups.append(
                Group(
                    id: entry.id,
                    dn: entry.dn,
                    name: entry.name,
                    directMembers: directPeople[index].map { identityIDs[Int($0)] },
                    directGroups: directGroups[index].map { groupIDs[Int($0)] },
                    transitiveMembers: closure[componentOf[index]].map { identityIDs[Int($0)] },
                    unresolvedMembers: unresolved[index]
                )
            )
        }
        for cycle in cycles {
            warnings.append("nested groups form a cycle: \(cycle.map { "\"\($0)\"" }.joined(separator: " ⇄ "))")
        }
        return DirectorySnapshot(identities: people.map(\.identity), groups: resultGroups, cycles: cycles, warnings: warnings)
    }

    private enum DNTarget {
        case person(Int)
        case group(Int)
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
