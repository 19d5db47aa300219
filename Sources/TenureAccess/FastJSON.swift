import Foundation
import TenureCore

/// A small, strict JSON reader and writer for the decision hot path (RFC 8259). Foundation's
/// `JSONDecoder`/`JSONEncoder` cost more than the decision itself; these produce the same values.
/// Anything the fast path does not accept falls back to the decoder, which also names the JSON
/// path of a bad field — so errors are identical either way.
enum FastJSON {
    /// Nesting deeper than this is refused (a hostile body must not exhaust the stack).
    static let maximumDepth = 64

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func skipWhitespace() {
            while self.position < self.bytes.count {
                switch self.bytes[self.position] {
                case 0x20, 0x09, 0x0A, 0x0D: self.position += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth <= FastJSON.maximumDepth else { return nil }
            self.skipWhitespace()
            guard self.position < self.bytes.count else { return nil }
            switch self.bytes[self.position] {
            case UInt8(ascii: "{"): return self.object(depth: depth)
            case UInt8(ascii: "["): return self.array(depth: depth)
            case UInt8(ascii: "\""): return self.string().map(JSONValue.string)
            case UInt8(ascii: "t"): return self.literal("true", .bool(true))
            case UInt8(ascii: "f"): return self.literal("false", .bool(false))
            case UInt8(ascii: "n"): return self.literal("null", .null)
            default: return self.number()
            }
        }

        mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
            let count = word.utf8CodeUnitCount
            guard self.position + count <= self.bytes.count else { return nil }
            for index in 0..<count where self.bytes[self.position + index] != word.utf8Start[index] { return nil }
            self.position += count
            return value
        }

        mutating func object(depth: Int) -> JSONValue? {
            var object: [String: JSONValue] = [:]
            let complete = self.members(depth: depth) { reader, key in
                // A key given twice is the decoder's to refuse (it names the key).
                guard let value = reader.value(depth: depth + 1) else { return false }
                return object.updateValue(value, forKey: key) == nil
            }
            return complete ? .object(object) : nil
        }

        mutating func array(depth: Int) -> JSONValue? {
            var array: [JSONValue] = []
            let complete = self.elements(depth: depth) { reader, _ in
                guard let value = reader.value(depth: depth + 1) else { return false }
                array.append(value)
                return true
            }
            return complete ? .array(array) : nil
        }

        /// A string starting at the opening quote; escapes decoded, UTF-8 validated.
        mutating func string() -> String? {
            self.position += 1
            var start = self.position
            var scalars: [UInt8] = []
            var escaped = false
            while self.position < self.bytes.count {
                let byte = self.bytes[self.position]
                if byte == UInt8(ascii: "\"") {
                    let tail = UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position])
                    self.position += 1
                    if !escaped { return String(validating: tail, as: UTF8.self) }
                    scalars.append(contentsOf: tail)
                    return String(validating: scalars, as: UTF8.self)
                }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    scalars.append(contentsOf: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position]))
                    self.position += 1
                    guard self.position < self.bytes.count else { return nil }
                    let code = self.bytes[self.position]
                    self.position += 1
                    switch code {
                    case UInt8(ascii: "\""): scalars.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): scalars.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): scalars.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var unit = self.hex4() else { return nil }
                        if (0xD800...0xDBFF).contains(unit) {
                            // A high surrogate must be followed by an escaped low one.
                            guard self.position + 1 < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "\\"),
                                self.bytes[self.position + 1] == UInt8(ascii: "u")
                            else { return nil }
                            self.position += 2
                            guard let low = self.hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            return nil
                        }
                        guard let scalar = Unicode.Scalar(unit) else { return nil }
                        scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default:
                        return nil
                    }
                    start = self.position
                    continue
                }
                self.position += 1
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard self.position + 4 <= self.bytes.count else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = self.bytes[self.position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
                self.position += 1
            }
            return value
        }

        /// A number as RFC 8259 writes it; an integral value that fits an `Int` is `.integer` (as the
        /// decoder would give), anything else `.number`.
        mutating func number() -> JSONValue? {
            let start = self.position
            func digits() -> Int {
                var count = 0
                while self.position < self.bytes.count, (0x30...0x39).contains(self.bytes[self.position]) {
                    self.position += 1
                    count += 1
                }
                return count
            }
            if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "-") { self.position += 1 }
            let integerStart = self.position
            guard digits() > 0 else { return nil }
            if self.bytes[integerStart] == UInt8(ascii: "0"), self.position - integerStart > 1 { return nil }
            var fractional = false
            if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: ".") {
                self.position += 1
                fractional = true
                guard digits() > 0 else { return nil }
            }
            if self.position < self.bytes.count, self.bytes[self.position] | 0x20 == UInt8(ascii: "e") {
                self.position += 1
                fractional = true
                if self.position < self.bytes.count,
                    self.bytes[self.position] == UInt8(ascii: "+") || self.bytes[self.position] == UInt8(ascii: "-")
                {
                    self.position += 1
                }
                guard digits() > 0 else { return nil }
            }
            let text = String(
                decoding: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position]),
                as: UTF8.self
            )
            if !fractional, let integer = Int(text) { return .integer(integer) }
            guard let double = Double(text), double.isFinite else { return nil }
            if double == double.rounded(), abs(double) < 9.0e18, let integer = Int(exactly: double) {
                return .integer(integer)
            }
            return .number(double)
        }
    }

    // MARK: - Writing

    /// Appends `value` as JSON, object keys sorted (the encoder's `.sortedKeys`), `/` not escaped.
    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let integer): out.append(contentsOf: String(integer).utf8)
        case .number(let double):
            if double.isFinite {
                out.append(
                    contentsOf: (double == double.rounded() && abs(double) < 1e15 ? String(Int(double)) : "\(double)")
                        .utf8
                )
            } else {
                JSONString.write(double.isNaN ? "NaN" : (double > 0 ? "Infinity" : "-Infinity"), into: &out)
            }
        case .string(let text): JSONString.write(text, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                self.write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object): self.write(object: object, into: &out)
        }
    }

    static func write(object: [String: JSONValue], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.write(key, into: &out)
            out.append(UInt8(ascii: ":"))
            self.write(object[key] ?? .null, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

extension AuthZEN {
    /// `POST /access/v1/evaluation`'s body, read on the fast path when it is well formed; anything
    /// else goes through `decodeEvaluation`, which names the bad field.
    public static func decodeEvaluationFast(_ body: [UInt8]) throws(AccessRequestError) -> EvaluationRequest {
        if let request = body.withUnsafeBytes({ FastJSON.evaluationRequest($0) }) { return request }
        return try self.decodeEvaluation(Data(body))
    }

    /// A decision's answer, `{"context":{…},"decision":…}`, byte for byte as `encode(decision.response)`
    /// writes it, without building the response's context object first.
    public static func encodeFast(_ decision: Decision) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        self.write(decision, into: &out)
        return out
    }

    /// A batch's answer, `{"evaluations":[…]}`, as `encode` writes the decisions' responses.
    public static func encodeFast(_ decisions: [Decision]) -> [UInt8] {
        var out: [UInt8] = Array(#"{"evaluations":["#.utf8)
        for (index, decision) in decisions.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            self.write(decision, into: &out)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    private static func write(_ decision: Decision, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"context":{"#.utf8)
        // The context's keys: the details' (the two a decision sets itself replace theirs), sorted.
        var keys = decision.details.keys.filter { $0 != Self.reasonKey && $0 != Self.reasonAdminKey }
        keys.append(Self.reasonKey)
        keys.append(Self.reasonAdminKey)
        keys.sort()
        for (index, key) in keys.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.write(key, into: &out)
            out.append(UInt8(ascii: ":"))
            switch key {
            case Self.reasonKey:
                JSONString.write(decision.reason.rawValue, into: &out)
            case Self.reasonAdminKey:
                out.append(contentsOf: #"{"en":"#.utf8)
                JSONString.write(decision.reasonAdmin, into: &out)
                out.append(UInt8(ascii: "}"))
            default:
                FastJSON.write(decision.details[key] ?? .null, into: &out)
            }
        }
        out.append(contentsOf: #"},"decision":"#.utf8)
        out.append(contentsOf: (decision.allowed ? "true" : "false").utf8)
        out.append(UInt8(ascii: "}"))
    }

    private static let reasonKey = "reason"
    private static let reasonAdminKey = "reason_admin"
}

extension FastJSON {
    /// An evaluation body read straight into the request, without building the document's objects
    /// first (they cost more than the decision); nil for anything it cannot read — a missing or
    /// mistyped field, a key given twice in any object (skipped members included) — which the
    /// decoder then refuses, naming the field. Members
    /// other than the AuthZEN ones are read, checked as JSON and skipped; `properties` and
    /// `context` are kept as parsed. (FastJSONTests holds it to the reader it replaced.)
    static func evaluationRequest(_ bytes: UnsafeRawBufferPointer) -> EvaluationRequest? {
        var reader = Reader(bytes: bytes)
        var subject: (type: String, id: String, properties: JSONObject?)?
        var resource: (type: String, id: String, properties: JSONObject?)?
        var action: (name: String, properties: JSONObject?)?
        var context: JSONObject??
        var skipped = Set<String>()  // (no allocation until a member is skipped)
        let complete = reader.members(depth: 0) { reader, key in
            switch key {
            case "subject":
                guard subject == nil, let entity = reader.entity(depth: 1, name: "id") else { return false }
                subject = (entity.type, entity.name, entity.properties)
            case "resource":
                guard resource == nil, let entity = reader.entity(depth: 1, name: "id") else { return false }
                resource = (entity.type, entity.name, entity.properties)
            case "action":
                guard action == nil, let entity = reader.entity(depth: 1, name: "name", typed: false) else {
                    return false
                }
                action = (entity.name, entity.properties)
            case "context":
                guard context == nil, let value = reader.optionalObject(depth: 1) else { return false }
                context = .some(value)
            default:
                return skipped.insert(key).inserted && reader.value(depth: 1) != nil
            }
            return true
        }
        reader.skipWhitespace()
        guard complete, reader.position == bytes.count, let subject, let resource, let action else { return nil }
        return EvaluationRequest(
            subject: Subject(type: subject.type, id: subject.id, properties: subject.properties),
            resource: Resource(type: resource.type, id: resource.id, properties: resource.properties),
            action: Action(name: action.name, properties: action.properties),
            context: context ?? nil
        )
    }
}

extension FastJSON {
    /// The JSON path (`evaluations[1].subject.id`, as `AuthZEN.path` writes it) of the first key an
    /// object of the document gives twice; nil when none does, or when the document is not JSON
    /// (the decoder reports that). Parsers disagree on which of the two values counts (Foundation's
    /// the first, most others the last), so a request that repeats a key is refused rather than read
    /// one way here and another by the gateway that sent it.
    static func duplicateKeyPath(in bytes: UnsafeRawBufferPointer) -> String? {
        var reader = Reader(bytes: bytes)
        var found: String?
        _ = reader.scanForDuplicates(depth: 0, path: "", found: &found)
        return found
    }
}

extension FastJSON.Reader {
    /// Reads one value, recording in `found` the path of the first key repeated in an object of it.
    /// False when the value is malformed or a repeat was found (the scan stops).
    mutating func scanForDuplicates(depth: Int, path: String, found: inout String?) -> Bool {
        guard depth <= FastJSON.maximumDepth else { return false }
        self.skipWhitespace()
        guard self.position < self.bytes.count else { return false }
        switch self.bytes[self.position] {
        case UInt8(ascii: "{"):
            var keys = Set<String>()
            return self.members(depth: depth) { reader, key in
                let keyPath = AuthZEN.path(appending: key, to: path)
                guard keys.insert(key).inserted else {
                    found = keyPath
                    return false
                }
                return reader.scanForDuplicates(depth: depth + 1, path: keyPath, found: &found)
            }
        case UInt8(ascii: "["):
            return self.elements(depth: depth) { reader, index in
                reader.scanForDuplicates(depth: depth + 1, path: path + "[\(index)]", found: &found)
            }
        default:
            return self.value(depth: depth) != nil
        }
    }

    /// Reads an object at the current position member by member: `member` is called with the
    /// reader at each value and must read it whole (false: the document is refused). False when
    /// there is no object here or it is malformed.
    mutating func members(depth: Int, _ member: (inout Self, String) -> Bool) -> Bool {
        self.delimited(UInt8(ascii: "{"), UInt8(ascii: "}"), depth: depth) { reader, _ in
            reader.skipWhitespace()
            guard reader.position < reader.bytes.count, reader.bytes[reader.position] == UInt8(ascii: "\""),
                let key = reader.string()
            else { return false }
            reader.skipWhitespace()
            guard reader.position < reader.bytes.count, reader.bytes[reader.position] == UInt8(ascii: ":") else {
                return false
            }
            reader.position += 1
            return member(&reader, key)
        }
    }

    /// Reads an array at the current position element by element: `element` is called with the
    /// reader at each element and its index, and must read it whole (false: refused). False when
    /// there is no array here or it is malformed.
    mutating func elements(depth: Int, _ element: (inout Self, Int) -> Bool) -> Bool {
        self.delimited(UInt8(ascii: "["), UInt8(ascii: "]"), depth: depth, element)
    }

    /// `open`, items separated by commas (each read whole by `item`, given its index), `close`.
    private mutating func delimited(
        _ open: UInt8,
        _ close: UInt8,
        depth: Int,
        _ item: (inout Self, Int) -> Bool
    ) -> Bool {
        guard depth <= FastJSON.maximumDepth else { return false }
        self.skipWhitespace()
        guard self.position < self.bytes.count, self.bytes[self.position] == open else { return false }
        self.position += 1
        self.skipWhitespace()
        if self.position < self.bytes.count, self.bytes[self.position] == close {
            self.position += 1
            return true
        }
        var index = 0
        while true {
            guard item(&self, index) else { return false }
            index += 1
            self.skipWhitespace()
            guard self.position < self.bytes.count else { return false }
            switch self.bytes[self.position] {
            case UInt8(ascii: ","): self.position += 1
            case close:
                self.position += 1
                return true
            default: return false
            }
        }
    }

    /// A subject, resource (`type`, and `name` = "id") or action (`name` = "name", no type): the
    /// strings required, `properties` an object or null; other members skipped. Nil when not so.
    mutating func entity(
        depth: Int,
        name nameKey: String,
        typed: Bool = true
    ) -> (type: String, name: String, properties: JSONObject?)? {
        var type: String?
        var name: String?
        var properties: JSONObject??
        var skipped = Set<String>()
        let complete = self.members(depth: depth) { reader, key in
            switch key {
            case "type" where typed:
                guard type == nil, let value = reader.stringValue() else { return false }
                type = value
            case nameKey:
                guard name == nil, let value = reader.stringValue() else { return false }
                name = value
            case "properties":
                guard properties == nil, let value = reader.optionalObject(depth: depth + 1) else { return false }
                properties = .some(value)
            default:
                return skipped.insert(key).inserted && reader.value(depth: depth + 1) != nil
            }
            return true
        }
        guard complete, let name, !typed || type != nil else { return nil }
        return (type ?? "", name, properties ?? nil)
    }

    /// A string value (after whitespace), or nil for anything else.
    mutating func stringValue() -> String? {
        self.skipWhitespace()
        guard self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "\"") else { return nil }
        return self.string()
    }

    /// An object or `null` (`.some(nil)`); nil for anything else or malformed JSON.
    mutating func optionalObject(depth: Int) -> JSONObject?? {
        switch self.value(depth: depth) {
        case .object(let object)?: return .some(object)
        case .null?: return .some(nil)
        default: return nil
        }
    }
}
