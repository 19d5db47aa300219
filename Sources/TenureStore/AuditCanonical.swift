import TenureCore
import TenureCrypto

/// Builds the bytes an audit MAC covers — exactly `AuditRecord.canonicalBytes(sequence:event:previousHash:)`
/// — into a reused buffer, from an event (when appending) or from a row's raw column bytes (when
/// verifying, without decoding the row into an `AuditEvent`).
struct CanonicalWriter {
    private(set) var bytes: [UInt8] = []
    /// The details pairs while their count is not known yet.
    private var pairs: [UInt8] = []

    init() {
        self.bytes.reserveCapacity(512)
        self.pairs.reserveCapacity(256)
    }

    mutating func reset() {
        self.bytes.removeAll(keepingCapacity: true)
    }

    /// The canonical bytes of `event` at `sequence` after `previousHash`; also writes the event's
    /// details JSON (keys in the same order) to `detailsJSON`.
    mutating func write(sequence: Int64, event: AuditEvent, previousHash: String, detailsJSON: inout [UInt8]) {
        withUTF8(previousHash) {
            self.write(
                sequence: sequence,
                event: event,
                previousHash: UnsafeRawBufferPointer($0),
                detailsJSON: &detailsJSON
            )
        }
    }

    mutating func write(
        sequence: Int64,
        event: AuditEvent,
        previousHash: UnsafeRawBufferPointer,
        detailsJSON: inout [UInt8]
    ) {
        self.reset()
        self.decimalField(sequence)
        self.hexField(event.time.bitPattern)
        self.field(event.actor)
        self.field(event.type)
        self.field(event.subject)
        self.field(event.object)
        self.field(event.outcome)
        self.decimalField(Int64(event.details.count))
        detailsJSON.removeAll(keepingCapacity: true)
        detailsJSON.append(UInt8(ascii: "{"))
        for (index, key) in event.details.keys.sorted().enumerated() {
            let value = event.details[key]!
            self.field(key)
            self.field(value)
            if index > 0 { detailsJSON.append(UInt8(ascii: ",")) }
            FlatJSON.appendString(key, to: &detailsJSON)
            detailsJSON.append(UInt8(ascii: ":"))
            FlatJSON.appendString(value, to: &detailsJSON)
        }
        detailsJSON.append(UInt8(ascii: "}"))
        self.field(previousHash)
    }

    // MARK: - Fields

    mutating func null() {
        self.bytes.append(0)
    }

    mutating func field(_ text: String?) {
        guard let text else {
            self.null()
            return
        }
        withUTF8(text) { self.field(UnsafeRawBufferPointer($0)) }
    }

    mutating func field(_ raw: UnsafeRawBufferPointer) {
        Self.appendHeader(count: raw.count, to: &self.bytes)
        self.bytes.append(contentsOf: raw.bindMemory(to: UInt8.self))
    }

    /// `String(value)`.
    mutating func decimalField(_ value: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for "-9223372036854775808"
        withUnsafeMutableBytes(of: &digits) { buffer in
            var magnitude = value.magnitude
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                index -= 1
                buffer[index] = UInt8(ascii: "-")
            }
            self.field(UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// `String(value, radix: 16)`.
    mutating func hexField(_ value: UInt64) {
        var digits: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var rest = value
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = hexDigit(UInt8(rest & 0xf))
                rest >>= 4
            } while rest > 0
            self.field(UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// The details pairs of a stored details JSON object, in stored order, preceded by their count.
    /// False when the JSON is not an object of strings.
    mutating func detailsFields(json: UnsafeRawBufferPointer) -> Bool {
        self.pairs.removeAll(keepingCapacity: true)
        var reader = FlatJSON.Reader(json)
        var count: Int64 = 0
        var pairs = self.pairs
        self.pairs = []
        defer { self.pairs = pairs }
        let ok = reader.readObject { reader in
            count += 1
            return Self.readStringField(&reader, into: &pairs) && reader.readColon()
                && Self.readStringField(&reader, into: &pairs)
        }
        guard ok else { return false }
        self.decimalField(count)
        self.bytes.append(contentsOf: pairs)
        return true
    }

    private static func readStringField(_ reader: inout FlatJSON.Reader, into out: inout [UInt8]) -> Bool {
        // The header (present marker, 8-byte length) is written first and its length patched after.
        let header = out.count
        out.append(1)
        withUnsafeBytes(of: UInt64(0)) { out.append(contentsOf: $0.bindMemory(to: UInt8.self)) }
        guard reader.readString(appendingTo: &out) else { return false }
        let length = UInt64(out.count - header - 9).bigEndian
        out.withUnsafeMutableBytes { buffer in
            withUnsafeBytes(of: length) {
                UnsafeMutableRawBufferPointer(rebasing: buffer[(header + 1)..<(header + 9)]).copyMemory(from: $0)
            }
        }
        return true
    }

    @inline(__always)
    private static func appendHeader(count: Int, to out: inout [UInt8]) {
        out.append(1)
        withUnsafeBytes(of: UInt64(count).bigEndian) { out.append(contentsOf: $0.bindMemory(to: UInt8.self)) }
    }
}

/// 0-9 or a-f.
@inline(__always)
func isLowercaseHexDigit(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
}

/// Lowercase hex of a 32-byte MAC into a reused 64-byte buffer, and comparisons against stored hex.
struct MACHex {
    var hex = [UInt8](repeating: 0, count: 64)

    mutating func set(_ mac: UnsafeRawBufferPointer) {
        precondition(mac.count >= 32 && self.hex.count == 64)
        self.hex.withUnsafeMutableBufferPointer { hex in
            for index in 0..<32 {
                hex[2 * index] = hexDigit(mac[index] >> 4)
                hex[2 * index + 1] = hexDigit(mac[index] & 0x0f)
            }
        }
    }

    func equals(_ stored: UnsafeRawBufferPointer) -> Bool {
        guard stored.count == 64 else { return false }
        return self.hex.withUnsafeBytes { mine in
            var difference: UInt8 = 0
            for index in 0..<64 { difference |= mine[index] ^ stored[index] }
            return difference == 0
        }
    }
}

/// The previous hash of the first record.
let genesisHash = String(repeating: "0", count: 64)
