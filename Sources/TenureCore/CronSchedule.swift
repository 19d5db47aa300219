/// A five-field cron expression (minute hour day-of-month month day-of-week), evaluated in UTC:
/// `*/15 * * * *`, `0 2 * * 1-5`, `30 6,18 1 * *`. Each field takes `*`, numbers, ranges `a-b`,
/// lists `a,b` and steps `*/n` or `a-b/n`; day-of-week 0 and 7 are Sunday. As in Vixie cron and
/// cronie, when both day fields are restricted — neither starts with `*` — a day matches either of
/// them; otherwise it must match both (so `0 0 */2 * 1` is an odd-numbered day that is a Monday,
/// while `0 0 1 * 1` is the 1st or any Monday).
public struct CronSchedule: Hashable, Sendable, CustomStringConvertible {
    public let expression: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(_ expression: String) throws(ParseError) {
        let fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(
                description: "cron expression \"\(expression)\" has \(fields.count) field(s); "
                    + "write five: minute hour day-of-month month day-of-week, e.g. \"*/15 * * * *\""
            )
        }
        self.expression = expression
        self.minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        self.hours = try Self.field(fields[1], name: "hour", range: 0...23)
        self.daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31)
        self.months = try Self.field(fields[3], name: "month", range: 1...12)
        var weekdays = try Self.field(fields[4], name: "day-of-week", range: 0...7)
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        self.daysOfWeek = weekdays
        // Vixie cron's DOM_STAR / DOW_STAR: a field that starts with `*` (`*`, `*/2`) is not a
        // restriction for the either-or rule.
        self.dayOfMonthRestricted = !fields[2].hasPrefix("*")
        self.dayOfWeekRestricted = !fields[4].hasPrefix("*")
        guard self.next(after: 0) != nil else {
            throw ParseError(
                description: "cron expression \"\(expression)\" never matches a date (e.g. 30 February, or a "
                    + "day that no month has on that weekday)"
            )
        }
    }

    /// Minutes in 400 Gregorian years (146,097 days): the calendar's whole cycle.
    static let cycleMinutes: Int64 = 146_097 * 24 * 60

    public var description: String { self.expression }

    /// The first matching minute strictly after `time` (seconds since 1970, UTC), or nil when none
    /// ever comes. The search spans one whole Gregorian cycle (400 years, whose weekdays and leap
    /// days repeat), so an expression that matches some day is always found: "a 29 February that
    /// is a Sunday" (`0 0 29 2 */7`) comes 40 years after 2088. Days and months that cannot match
    /// are skipped whole, so a rare expression costs thousands of steps, not millions.
    public func next(after time: Double) -> Double? {
        var minute = Int64((time / 60).rounded(.down)) + 1
        let limit = minute + Self.cycleMinutes
        while minute < limit {
            let civil = CivilTime(minutesSince1970: minute)
            guard self.months.contains(civil.month) else {
                minute =
                    CivilTime.minutesSince1970(year: civil.year, month: civil.month, day: 1)
                    + CivilTime.minutes(
                        inMonth: civil.month,
                        year: civil.year
                    )
                continue
            }
            guard self.dayMatches(civil) else {
                minute += Int64(24 * 60 - civil.hour * 60 - civil.minute)
                continue
            }
            guard self.hours.contains(civil.hour) else {
                minute += Int64(60 - civil.minute)
                continue
            }
            if self.minutes.contains(civil.minute) { return Double(minute * 60) }
            minute += 1
        }
        return nil
    }

    private func dayMatches(_ civil: CivilTime) -> Bool {
        let dom = self.daysOfMonth.contains(civil.day)
        let dow = self.daysOfWeek.contains(civil.weekday)
        return self.dayOfMonthRestricted && self.dayOfWeekRestricted ? dom || dow : dom && dow
    }

    private static func field(_ text: String, name: String, range: ClosedRange<Int>) throws(ParseError) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let base = pieces.first, !base.isEmpty else {
                throw ParseError(
                    description: "cron \(name) field \"\(text)\": \"\(part)\" is not a value, range or step"
                )
            }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else {
                    throw ParseError(
                        description: "cron \(name) field \"\(text)\": step \"\(pieces[1])\" must be a positive number"
                    )
                }
                step = parsed
            }
            let low: Int
            let high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                guard let a = Int(base[..<dash]), let b = Int(base[base.index(after: dash)...]), a <= b else {
                    throw ParseError(
                        description: "cron \(name) field \"\(text)\": \"\(base)\" is not a range a-b with a <= b"
                    )
                }
                (low, high) = (a, b)
            } else {
                guard let value = Int(base) else {
                    throw ParseError(description: "cron \(name) field \"\(text)\": \"\(base)\" is not a number")
                }
                (low, high) = (value, pieces.count == 2 ? range.upperBound : value)
            }
            guard range.contains(low), range.contains(high) else {
                throw ParseError(
                    description: "cron \(name) field \"\(text)\": values must be within "
                        + "\(range.lowerBound)-\(range.upperBound)"
                )
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }
}

/// A UTC calendar minute (proleptic Gregorian; the date arithmetic is ``CivilDate``'s).
struct CivilTime {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    /// 0 = Sunday.
    var weekday: Int

    init(minutesSince1970 total: Int64) {
        let days = Int(total >= 0 ? total / 1440 : (total - 1439) / 1440)
        let inDay = Int(total - Int64(days) * 1440)
        self.hour = inDay / 60
        self.minute = inDay % 60
        self.weekday = CivilDate.weekday(daysSince1970: days)
        let date = CivilDate(daysSince1970: days)
        (self.year, self.month, self.day) = (date.year, date.month, date.day)
    }

    /// Minutes since 1970 at the start of the day.
    static func minutesSince1970(year: Int, month: Int, day: Int) -> Int64 {
        Int64(CivilDate(year: year, month: month, day: day).daysSince1970) * 1440
    }

    static func minutes(inMonth month: Int, year: Int) -> Int64 {
        Int64(CivilDate.daysIn(month: month, year: year) * 1440)
    }
}
