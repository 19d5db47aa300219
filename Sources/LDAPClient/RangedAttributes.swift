/// Range retrieval of large multi-valued attributes, as Active Directory does it
/// ([MS-ADTS] 3.1.1.3.1.3.3): asked for `member`, AD returns at most `MaxValRange` values as
/// `member;range=0-1499`; the client then asks for `member;range=1500-*` and so on until the server
/// answers with an upper bound of `*`. OpenLDAP and 389-DS return the attribute whole.
public enum RangedAttributes {
    /// A parsed `name;range=low-high` attribute description; `high == nil` stands for `*`.
    public struct Range: Hashable, Sendable {
        public var attribute: String
        public var low: Int
        public var high: Int?
    }

    /// Parses `member;range=0-1499` (options in any position, case-insensitive). Nil when the
    /// description has no range option.
    public static func parse(_ description: String) -> Range? {
        let parts = description.split(separator: ";", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        var others: [Substring] = [parts[0]]
        var found: (Int, Int?)?
        for option in parts.dropFirst() {
            let lower = option.lowercased()
            if lower.hasPrefix("range=") {
                let bounds = lower.dropFirst("range=".count).split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count == 2, let low = Int(bounds[0]) else { return nil }
                if bounds[1] == "*" {
                    found = (low, nil)
                } else if let high = Int(bounds[1]), high >= low {
                    found = (low, high)
                } else {
                    return nil
                }
            } else {
                others.append(option)
            }
        }
        guard let found else { return nil }
        return Range(attribute: others.joined(separator: ";").lowercased(), low: found.0, high: found.1)
    }

    /// Completes every ranged attribute of `entry` in place. `fetch` reads the entry again asking
    /// for one attribute description (e.g. `member;range=1500-2999`) and returns what the server
    /// sent. Each request asks for `step` values (0: as many as the server will give, `low-*`); the
    /// server may return fewer, and its answer decides where the next request starts.
    ///
    /// Fails — never returns a short list — when the server answers with a range that does not start
    /// where the previous one ended, or with no progress.
    public static func complete(
        _ entry: inout LDAPEntry,
        step: Int = 0,
        fetch: (_ dn: String, _ attributeDescription: String) throws -> LDAPEntry
    ) throws {
        let ranged = entry.attributes.keys.compactMap { key in Self.parse(key).map { (key, $0) } }
        for (key, first) in ranged {
            var collected = entry.values(key)
            entry.removeAttribute(key)
            guard first.low == 0 else {
                throw LDAPError(
                    operation: .search,
                    code: .decodingError,
                    dn: entry.dn,
                    context: "range retrieval of \(first.attribute) started at \(first.low), not 0"
                )
            }
            var next = first.high.map { $0 + 1 }
            while let low = next {
                let request = "\(first.attribute);range=\(low)-\(step > 0 ? String(low + step - 1) : "*")"
                let answer = try fetch(entry.dn, request)
                guard
                    let (answerKey, range) = answer.attributes.keys.lazy
                        .compactMap({ key in Self.parse(key).map { (key, $0) } })
                        .first(where: { $0.1.attribute == first.attribute })
                else {
                    throw LDAPError(
                        operation: .search,
                        code: .decodingError,
                        dn: entry.dn,
                        context: "range retrieval of \(request) returned no ranged values"
                    )
                }
                let values = answer.values(answerKey)
                guard range.low == low, range.high == nil || !values.isEmpty else {
                    throw LDAPError(
                        operation: .search,
                        code: .decodingError,
                        dn: entry.dn,
                        context: "range retrieval asked for \(request) and got \(answerKey)"
                    )
                }
                collected.append(contentsOf: values)
                next = range.high.map { $0 + 1 }
            }
            entry.append(collected, to: first.attribute)
        }
    }
}
