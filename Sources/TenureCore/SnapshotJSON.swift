/// Writes a snapshot as JSON, streaming, in the shape `JSONEncoder` (sorted keys, nil optionals
/// omitted) would give the `Codable` types — but without building the whole document in memory:
/// bytes go to `sink` in chunks of about 1 MiB. For 100,000 identities this is several times faster
/// than `JSONEncoder` and needs no second copy of the snapshot.
public struct SnapshotJSONWriter {
    private var buffer: [UInt8] = []
    private let sink: ([UInt8]) -> Void
    private let chunk = 1 << 20

    public init(sink: @escaping ([UInt8]) -> Void) {
        self.sink = sink
        self.buffer.reserveCapacity(self.chunk + 4096)
    }

    /// The pull document: `{"cycles","groups","identities","readAt","server","summary","warnings"}`.
    public mutating func writeDocument(
        snapshot: DirectorySnapshot,
        server: String,
        readAt: String,
        entriesRead: Int,
        seconds: Double
    ) {
        self.raw("{\"cycles\":")
        self.array(snapshot.cycles) { writer, cycle in writer.stringArray(cycle) }
        self.raw(",\"groups\":")
        self.array(snapshot.groups) { writer, group in writer.group(group) }
        self.raw(",\"identities\":")
        self.array(snapshot.identities) { writer, identity in writer.identity(identity) }
        self.raw(",\"readAt\":")
        self.string(readAt)
        self.raw(",\"server\":")
        self.string(server)
        self.raw(",\"summary\":{\"cycles\":\(snapshot.cycles.count),\"disabled\":\(snapshot.disabledCount)")
        self.raw(",\"entriesRead\":\(entriesRead),\"groups\":\(snapshot.groups.count)")
        self.raw(",\"identities\":\(snapshot.identities.count),\"seconds\":\(seconds)")
        self.raw(",\"warnings\":\(snapshot.warnings.count)}")
        self.raw(",\"warnings\":")
        self.stringArray(snapshot.warnings)
        self.raw("}\n")
        self.flush()
    }

    public mutating func identity(_ identity: Identity) {
        self.raw("{\"attributes\":{")
        var first = true
        for key in identity.attributes.keys.sorted() {
            if !first { self.byte(UInt8(ascii: ",")) }
            first = false
            self.string(key)
            self.byte(UInt8(ascii: ":"))
            self.stringArray(identity.attributes[key]!)
        }
        self.byte(UInt8(ascii: "}"))
        self.optional("department", identity.department)
        self.raw(identity.disabled ? ",\"disabled\":true" : ",\"disabled\":false")
        self.raw(",\"disabledReasons\":")
        self.stringArray(identity.disabledReasons)
        self.optional("displayName", identity.displayName)
        self.raw(",\"dn\":")
        self.string(identity.dn)
        self.optional("employeeNumber", identity.employeeNumber)
        self.optional("employeeType", identity.employeeType)
        self.raw(",\"id\":")
        self.string(identity.id)
        self.optional("mail", identity.mail)
        self.optional("manager", identity.manager)
        self.optional("managerID", identity.managerID)
        self.optional("title", identity.title)
        self.optional("username", identity.username)
        self.byte(UInt8(ascii: "}"))
    }

    public mutating func group(_ group: Group) {
        self.raw("{\"directGroups\":")
        self.stringArray(group.directGroups)
        self.raw(",\"directMembers\":")
        self.stringArray(group.directMembers)
        self.raw(",\"dn\":")
        self.string(group.dn)
        self.raw(",\"id\":")
        self.string(group.id)
        self.raw(",\"name\":")
        self.string(group.name)
        self.raw(",\"transitiveMembers\":")
        self.stringArray(group.transitiveMembers)
        self.raw(",\"unresolvedMembers\":")
        self.stringArray(group.unresolvedMembers)
        self.byte(UInt8(ascii: "}"))
    }

    /// Sends what is buffered to the sink.
    public mutating func flush() {
        guard !self.buffer.isEmpty else { return }
        self.sink(self.buffer)
        self.buffer.removeAll(keepingCapacity: true)
    }

    // MARK: - Primitives

    private mutating func optional(_ key: String, _ value: String?) {
        guard let value else { return }
        self.raw(",\"\(key)\":")
        self.string(value)
    }

    private mutating func array<T>(_ items: [T], _ body: (inout Self, T) -> Void) {
        self.byte(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { self.byte(UInt8(ascii: ",")) }
            body(&self, item)
            if self.buffer.count >= self.chunk { self.flush() }
        }
        self.byte(UInt8(ascii: "]"))
    }

    private mutating func stringArray(_ items: [String]) {
        self.byte(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { self.byte(UInt8(ascii: ",")) }
            self.string(item)
        }
        self.byte(UInt8(ascii: "]"))
        if self.buffer.count >= self.chunk { self.flush() }
    }

    private mutating func raw(_ text: String) {
        self.buffer.append(contentsOf: text.utf8)
    }

    private mutating func byte(_ byte: UInt8) {
        self.buffer.append(byte)
    }

    /// A JSON string, as ``JSONString`` writes it (`/` and non-ASCII unescaped, as `JSONEncoder`
    /// with `.withoutEscapingSlashes`).
    mutating func string(_ value: String) {
        JSONString.write(value, into: &self.buffer)
    }
}
