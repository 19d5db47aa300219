/// A calendar date in the proleptic Gregorian calendar (the one ISO 8601 and `xsd:dateTime` use,
/// extended backwards before 1582), and its conversion to and from a day count since 1970-01-01.
///
/// The one implementation of civil-date arithmetic in Tenure, pure and without Foundation: the
/// timestamp formatter (``isoTimestamp(_:milliseconds:)``), cron schedules, the mappings' and
/// SCIM's timestamp parsers all go through it. The conversions are Howard Hinnant's
/// `days_from_civil` and `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>),
/// exact for every year whose day count fits in an `Int`; year 0 is 1 BC, year -1 is 2 BC.
public struct CivilDate: Hashable, Sendable, CustomStringConvertible {
    public var year: Int
    /// 1 (January) … 12 (December).
    public var month: Int
    /// 1 … 31.
    public var day: Int

    /// The date as given, not checked (see ``isValid``).
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01 (before it when negative): `civil_from_days`.
    public init(daysSince1970 days: Int) {
        // Shift the epoch to 0000-03-01, so leap days fall at the end of a (March-based) year.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097  // 0 … 146_096
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0 … 399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0 … 365
        let monthFromMarch = (5 * dayOfYear + 2) / 153  // 0 … 11
        self.day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        self.month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        self.year = yearOfEra + era * 400 + (self.month <= 2 ? 1 : 0)
    }

    /// Days from 1970-01-01 to this date (negative before it): `days_from_civil`. Only meaningful
    /// for a valid date; parsers check ``isValid`` first.
    public var daysSince1970: Int {
        let year = self.month <= 2 ? self.year - 1 : self.year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400  // 0 … 399
        let dayOfYear = (153 * (self.month > 2 ? self.month - 3 : self.month + 9) + 2) / 5 + self.day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Whether the month is 1 … 12 and the day exists in it (no February 30, no 1900-02-29).
    public var isValid: Bool {
        (1...12).contains(self.month) && (1...Self.daysIn(month: self.month, year: self.year)).contains(self.day)
    }

    /// 0 = Sunday … 6 = Saturday.
    public var weekday: Int { Self.weekday(daysSince1970: self.daysSince1970) }

    /// `2024-02-29`; years outside 0000 … 9999 get more digits or a sign.
    public var description: String {
        "\(Self.padded(self.year, 4))-\(Self.padded(self.month, 2))-\(Self.padded(self.day, 2))"
    }

    /// The weekday of the day `days` days after 1970-01-01 (a Thursday): 0 = Sunday … 6 = Saturday.
    public static func weekday(daysSince1970 days: Int) -> Int {
        ((days % 7) + 11) % 7
    }

    /// Gregorian leap years: every fourth, except centuries not divisible by 400.
    public static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days in `month` (1 … 12) of `year`.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return Self.isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `value` in decimal, zero-padded to `width` digits, with a leading `-` when negative.
    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
        return value < 0 ? "-" + padded : padded
    }
}
