/// Turns the value of a directory's stable-id attribute into the identity key Tenure uses.
///
/// - `entryUUID` (OpenLDAP, 389-DS; RFC 4530) is a UUID string: lowercased.
/// - `objectGUID` (Active Directory) is 16 raw bytes in Microsoft's GUID layout: the first three
///   fields little-endian, the last eight bytes as stored. `3f2504e0-4f89-11d3-9a0c-0305e82c3301` is
///   stored as `e0 04 25 3f 89 4f d3 11 9a 0c 03 05 e8 2c 33 01`.
/// - Anything else (a configured `uid` or employee number, say) is used as is.
public enum StableID {
    public static func canonical(_ value: [UInt8], attribute: String) -> String {
        if value.count == 16, attribute.lowercased() == "objectguid" || !Self.isPrintable(value) {
            return Self.guid(value)
        }
        let text = String(decoding: value, as: UTF8.self)
        if Self.looksLikeUUID(text) {
            return value.contains(where: { $0 >= 0x41 && $0 <= 0x46 }) ? text.lowercased() : text
        }
        if value.count == 16 { return Self.guid(value) }
        return text
    }

    /// The canonical string of a 16-byte Microsoft GUID.
    public static func guid(_ bytes: [UInt8]) -> String {
        precondition(bytes.count == 16, "a GUID has 16 bytes")
        let ordered =
            [bytes[3], bytes[2], bytes[1], bytes[0], bytes[5], bytes[4], bytes[7], bytes[6]]
            + bytes[8..<16]
        return Self.uuidString(ordered)
    }

    /// The 16 bytes of a Microsoft GUID for a canonical UUID string (inverse of `guid`), for
    /// building `objectGUID` filters.
    public static func guidBytes(_ uuid: String) -> [UInt8]? {
        let hex = uuid.filter { $0 != "-" }
        guard hex.count == 32, Self.looksLikeUUID(uuid) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return [bytes[3], bytes[2], bytes[1], bytes[0], bytes[5], bytes[4], bytes[7], bytes[6]] + bytes[8..<16]
    }

    static func uuidString(_ bytes: [UInt8]) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append("-") }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return text
    }

    static func looksLikeUUID(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                let isHex =
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
                guard isHex else { return false }
            }
        }
        return true
    }

    static func isPrintable(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
    }
}
