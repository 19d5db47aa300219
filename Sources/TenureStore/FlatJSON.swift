import TenureCore

/// JSON for the flat shapes the store keeps in text columns — string-to-string objects (audit
/// details, identity attributes) and string arrays (groups) — written and read without Foundation.
///
/// Writing is deterministic: object keys in Swift `String` order (the order
/// `AuditRecord.canonicalBytes` uses), only `"`, `\` and control characters escaped. Reading accepts
/// any standard JSON of those shapes (whitespace, every escape, surrogate pairs).
enum FlatJSON {
    // MARK: - Writing

    static func object(_ dictionary: [String: String]) -> String {
        var out: [UInt8] = []
        self.appendObject(dictionary, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendObject(_ dictionary: [String: String], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for key in dictionary.keys.sorted() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            self.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            self.appendString(dictionary[key]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func array(_ items: [String]) -> String {
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            self.appendString(item, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a quoted JSON string (`JSONString`, the one escaper: the audit MACs cover
    /// these bytes, so it must stay the escaping they were made with — lowercase `\u00xx`).
    static func appendString(_ text: String, to out: inout [UInt8]) {
        JSONString.write(text, into: &out)
    }

    // MARK: - Reading

    /// The object in `text`, or nil when it is not a JSON object of strings (later duplicates win).
    static func decodeObject(_ text: UnsafeRawBufferPointer) -> [String: String]? {
        var reader = Reader(text)
        var result: [String: String] = [:]
        var key: [UInt8] = []
        var value: [UInt8] = []
        let ok = reader.readObject { reader in
            key.removeAll(keepingCapacity: true)
            value.removeAll(keepingCapacity: true)
            guard reader.readString(appendingTo: &key), reader.readColon(),
                reader.readString(appendingTo: &value)
            else { return false }
            result[String(decoding: key, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
            return true
        }
        return ok ? result : nil
    }

    static func decodeObject(_ text: String) -> [String: String]? {
        withUTF8(text) { self.decodeObject(UnsafeRawBufferPointer($0)) }
    }

    /// The array of strings in `text`, or nil when it is not one.
    static func decodeArray(_ text: UnsafeRawBufferPointer) -> [String]? {
        var reader = Reader(text)
        var result: [String] = []
        var item: [UInt8] = []
        let ok = reader.readArray { reader in
            item.removeAll(keepingCapacity: true)
            guard reader.readString(appendingTo: &item) else { return false }
            result.append(String(decoding: item, as: UTF8.self))
            return true
        }
        return ok ? result : nil
    }

    static func decodeArray(_ text: String) -> [String]? {
        withUTF8(text) { self.decodeArray(UnsafeRawBufferPointer($0)) }
    }

    /// A forward reader over UTF-8 JSON text.
    struct Reader {
        private let bytes: UnsafeRawBufferPointer
        private var position = 0

        init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        /// Reads `{ member, … }` then the end of the input; `member` reads one `"key": value`.
        mutating func readObject(_ member: (inout Reader) -> Bool) -> Bool {
            self.readContainer(open: UInt8(ascii: "{"), close: UInt8(ascii: "}"), member)
        }

        /// Reads `[ element, … ]` then the end of the input.
        mutating func readArray(_ element: (inout Reader) -> Bool) -> Bool {
            self.readContainer(open: UInt8(ascii: "["), close: UInt8(ascii: "]"), element)
        }

        private mutating func readContainer(open: UInt8, close: UInt8, _ item: (inout Reader) -> Bool) -> Bool {
            guard self.consume(open) else { return false }
            if !self.consume(close) {
                while true {
                    guard item(&self) else { return false }
                    if self.consume(UInt8(ascii: ",")) { continue }
                    if self.consume(close) { break }
                    return false
                }
            }
            self.skipWhitespace()
            return self.position == self.bytes.count
        }

        mutating func readColon() -> Bool {
            self.consume(UInt8(ascii: ":"))
        }

        /// Reads a JSON string, appending its decoded UTF-8 bytes to `out`.
        mutating func readString(appendingTo out: inout [UInt8]) -> Bool {
            guard self.consume(UInt8(ascii: "\"")) else { return false }
            let bytes = self.bytes
            var runStart = self.position
            while self.position < bytes.count {
                let byte = bytes[self.position]
                if byte == UInt8(ascii: "\"") {
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<self.position]))
                    self.position += 1
                    return true
                }
                if byte == UInt8(ascii: "\\") {
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<self.position]))
                    self.position += 1
                    guard self.readEscape(appendingTo: &out) else { return false }
                    runStart = self.position
                    continue
                }
                if byte < 0x20 { return false }
                self.position += 1
            }
            return false
        }

        private mutating func readEscape(appendingTo out: inout [UInt8]) -> Bool {
            guard self.position < self.bytes.count else { return false }
            let byte = self.bytes[self.position]
            self.position += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "u"):
                guard let unit = self.readHex4() else { return false }
                var scalarValue = UInt32(unit)
                if (0xD800...0xDBFF).contains(unit) {
                    guard self.consume(UInt8(ascii: "\\"), skippingWhitespace: false),
                        self.consume(UInt8(ascii: "u"), skippingWhitespace: false),
                        let low = self.readHex4(), (0xDC00...0xDFFF).contains(low)
                    else { return false }
                    scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(unit) {
                    return false
                }
                guard let scalar = Unicode.Scalar(scalarValue) else { return false }
                out.append(contentsOf: UTF8.encode(scalar)!)
            default:
                return false
            }
            return true
        }

        private mutating func readHex4() -> UInt16? {
            guard self.position + 4 <= self.bytes.count else { return nil }
            var value: UInt16 = 0
            for _ in 0..<4 {
                guard let digit = hexDigitValue(self.bytes[self.position]) else { return nil }
                value = value << 4 | UInt16(digit)
                self.position += 1
            }
            return value
        }

        private mutating func consume(_ byte: UInt8, skippingWhitespace: Bool = true) -> Bool {
            if skippingWhitespace { self.skipWhitespace() }
            guard self.position < self.bytes.count, self.bytes[self.position] == byte else { return false }
            self.position += 1
            return true
        }

        private mutating func skipWhitespace() {
            while self.position < self.bytes.count {
                switch self.bytes[self.position] {
                case 0x20, 0x0a, 0x0d, 0x09: self.position += 1
                default: return
                }
            }
        }
    }
}

/// Calls `body` with the UTF-8 bytes of `text` (contiguous; copies only for bridged strings).
@inline(__always)
func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
    if let result = try text.utf8.withContiguousStorageIfAvailable(body) {
        return result
    }
    var copy = text
    return try copy.withUTF8(body)
}

@inline(__always)
func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? value + 0x30 : value - 10 + UInt8(ascii: "a")
}

@inline(__always)
func hexDigitValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
}
