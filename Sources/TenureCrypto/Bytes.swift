import COpenSSL

/// True when `a` and `b` hold the same bytes. When the lengths are equal the comparison takes the same
/// time whatever the contents (CRYPTO_memcmp); the lengths themselves are not secret.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in
            CRYPTO_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0
        }
    }
}

/// Overwrites `bytes` with zeros in a way the optimiser cannot remove (OPENSSL_cleanse).
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress, buffer.count > 0 {
            copenssl_cleanse(base, buffer.count)
        }
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Lowercase hexadecimal of `bytes`.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    var output: [UInt8] = []
    output.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        output.append(hexDigits[Int(byte >> 4)])
        output.append(hexDigits[Int(byte & 0x0f)])
    }
    return String(decoding: output, as: UTF8.self)
}

/// The bytes spelled by `text` (hex digits in either case, two per byte); nil when `text` has an odd
/// length or a character that is not a hex digit.
public func bytes(fromHex text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    var output: [UInt8] = []
    output.reserveCapacity(utf8.count / 2)
    var index = 0
    while index < utf8.count {
        guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
        output.append(high << 4 | low)
        index += 2
    }
    return output
}

@inline(__always)
func hexValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
}
