import TenureCore

/// `xsd:dateTime` values (RFC 7643 §2.3.5), as seconds since 1970. Pure: no Foundation formatter.
public enum SCIMDateTime {
    /// Parses `2026-03-31T17:00:00Z`, with optional fractional seconds and a `Z` or `±hh:mm` offset.
    /// A time without an offset is taken as UTC. A bare date (`2026-03-31`), which HR systems and
    /// mapped custom attributes often send, is midnight UTC at the start of that day. Nil for
    /// anything else (including impossible dates such as February 30).
    public static func parse(_ text: String) -> Double? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(4), scanner.take(UInt8(ascii: "-")),
            let month = scanner.digits(2), scanner.take(UInt8(ascii: "-")),
            let day = scanner.digits(2)
        else { return nil }
        let date = CivilDate(year: year, month: month, day: day)
        guard date.isValid else { return nil }
        let days = date.daysSince1970
        if scanner.atEnd { return Double(days) * 86_400 }
        guard scanner.take(UInt8(ascii: "T")) || scanner.take(UInt8(ascii: "t")),
            let hour = scanner.digits(2), scanner.take(UInt8(ascii: ":")),
            let minute = scanner.digits(2), scanner.take(UInt8(ascii: ":")),
            let second = scanner.digits(2),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var fraction = 0.0
        if scanner.take(UInt8(ascii: ".")) {
            var scale = 0.1
            var any = false
            while let digit = scanner.digit() {
                fraction += Double(digit) * scale
                scale /= 10
                any = true
            }
            guard any else { return nil }
        }
        var offset = 0
        if scanner.take(UInt8(ascii: "Z")) || scanner.take(UInt8(ascii: "z")) {
            offset = 0
        } else if let sign = scanner.sign() {
            guard let hours = scanner.digits(2), scanner.take(UInt8(ascii: ":")), let minutes = scanner.digits(2),
                hours < 24, minutes < 60
            else { return nil }
            offset = sign * (hours * 3_600 + minutes * 60)
        }
        guard scanner.atEnd else { return nil }
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Double(seconds) + fraction
    }

    /// `2026-03-31T17:00:00Z` (with milliseconds when the time has a fraction of a second).
    public static func format(_ time: Double) -> String {
        isoTimestamp(time, milliseconds: time.rounded(.down) != time)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { self.index == self.bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
            self.index += 1
            return true
        }

        mutating func digit() -> Int? {
            guard self.index < self.bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index])
            else { return nil }
            defer { self.index += 1 }
            return Int(self.bytes[self.index] - UInt8(ascii: "0"))
        }

        mutating func digits(_ count: Int) -> Int? {
            let start = self.index
            var value = 0
            for _ in 0..<count {
                guard let digit = self.digit() else {
                    self.index = start
                    return nil
                }
                value = value * 10 + digit
            }
            return value
        }

        mutating func sign() -> Int? {
            if self.take(UInt8(ascii: "+")) { return 1 }
            if self.take(UInt8(ascii: "-")) { return -1 }
            return nil
        }
    }
}
