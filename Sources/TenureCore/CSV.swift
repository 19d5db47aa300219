/// RFC 4180 CSV, for exports people open in spreadsheets and tools parse.
public enum CSV {
    /// One record: fields separated by commas, a CRLF line end.
    public static func line(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for (index, field) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            self.appendField(field, to: &out)
        }
        out.append(contentsOf: "\r\n".utf8)
        return out
    }

    /// A field with a comma, a double quote, CR or LF is quoted, its quotes doubled. A field that
    /// starts with `=`, `+`, `-`, `@`, a tab or CR — a formula to a spreadsheet, and the values come
    /// from directory users and API clients — gets a leading `'` (OWASP's CSV injection advice), so it
    /// shows as the text it is; so does one that starts with `'` itself, so a parser that wants the
    /// value always drops one leading `'`.
    public static func appendField(_ field: String, to out: inout [UInt8]) {
        let guarded = field.utf8.first.map { Self.formulaStarts.contains($0) } ?? false
        let needsQuotes = field.utf8.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0a || $0 == 0x0d
        }
        guard needsQuotes else {
            if guarded { out.append(UInt8(ascii: "'")) }
            out.append(contentsOf: field.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        if guarded { out.append(UInt8(ascii: "'")) }
        for byte in field.utf8 {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// First characters a spreadsheet reads as the start of a formula.
    static let formulaStarts: Set<UInt8> = [
        UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0d, UInt8(ascii: "'"),
    ]
}
