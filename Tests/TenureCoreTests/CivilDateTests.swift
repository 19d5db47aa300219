import Testing

@testable import TenureCore

/// The one implementation of civil-date arithmetic (timestamps, cron, mappings and SCIM dates).
@Suite struct CivilDateTests {
    /// Known day counts and weekdays (0 = Sunday), from Python's `datetime.date`.
    static let known: [(year: Int, month: Int, day: Int, days: Int, weekday: Int)] = [
        (1970, 1, 1, 0, 4),
        (1969, 12, 31, -1, 3),
        (1900, 2, 28, -25_509, 3),
        (1900, 3, 1, -25_508, 4),
        (1600, 1, 1, -135_140, 6),
        (1600, 2, 29, -135_081, 2),
        (1600, 3, 1, -135_080, 3),
        (1582, 10, 4, -141_438, 1),
        (1582, 10, 15, -141_427, 5),
        (1, 1, 1, -719_162, 1),
        (0, 1, 1, -719_528, 6),
        (2000, 2, 29, 11_016, 2),
        (2000, 3, 1, 11_017, 3),
        (2024, 2, 29, 19_782, 4),
        (2100, 2, 28, 47_540, 0),
        (2100, 3, 1, 47_541, 1),
        (9999, 12, 31, 2_932_896, 5),
    ]

    @Test(arguments: known)
    func knownDatesConvertBothWays(_ entry: (year: Int, month: Int, day: Int, days: Int, weekday: Int)) {
        let date = CivilDate(year: entry.year, month: entry.month, day: entry.day)
        #expect(date.isValid)
        #expect(date.daysSince1970 == entry.days)
        #expect(CivilDate(daysSince1970: entry.days) == date)
        #expect(date.weekday == entry.weekday)
        #expect(CivilDate.weekday(daysSince1970: entry.days) == entry.weekday)
    }

    @Test func theEpochIsAThursday() {
        #expect(CivilDate(daysSince1970: 0) == CivilDate(year: 1970, month: 1, day: 1))
        #expect(CivilDate(year: 1970, month: 1, day: 1).daysSince1970 == 0)
        #expect(CivilDate(daysSince1970: 0).weekday == 4)
        #expect(CivilDate(daysSince1970: 0).description == "1970-01-01")
    }

    @Test(arguments: [(1600, true), (1900, false), (2000, true), (2024, true), (2100, false), (2023, false), (0, true)])
    func leapYears(_ year: Int, _ leap: Bool) {
        #expect(CivilDate.isLeapYear(year) == leap)
        #expect(CivilDate.daysIn(month: 2, year: year) == (leap ? 29 : 28))
        let february29 = CivilDate(year: year, month: 2, day: 29)
        #expect(february29.isValid == leap)
        let february28 = CivilDate(year: year, month: 2, day: 28).daysSince1970
        let march1 = CivilDate(year: year, month: 3, day: 1).daysSince1970
        #expect(march1 - february28 == (leap ? 2 : 1))
        if leap {
            #expect(CivilDate(daysSince1970: february28 + 1) == february29)
            #expect(february29.daysSince1970 == february28 + 1)
        } else {
            #expect(CivilDate(daysSince1970: february28 + 1) == CivilDate(year: year, month: 3, day: 1))
        }
        // 366 or 365 days from this New Year's Day to the next.
        let length =
            CivilDate(year: year + 1, month: 1, day: 1).daysSince1970
            - CivilDate(year: year, month: 1, day: 1).daysSince1970
        #expect(length == (leap ? 366 : 365))
    }

    @Test(arguments: [1600, 1900, 1969, 1970, 2000, 2023, 2024, 2100])
    func theLastDayOfEveryMonth(_ year: Int) {
        let lengths = [31, CivilDate.isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for month in 1...12 {
            let last = CivilDate(year: year, month: month, day: lengths[month - 1])
            #expect(CivilDate.daysIn(month: month, year: year) == lengths[month - 1])
            #expect(last.isValid)
            #expect(!CivilDate(year: year, month: month, day: lengths[month - 1] + 1).isValid)
            #expect(CivilDate(daysSince1970: last.daysSince1970) == last)
            let next =
                month == 12
                ? CivilDate(year: year + 1, month: 1, day: 1) : CivilDate(year: year, month: month + 1, day: 1)
            #expect(CivilDate(daysSince1970: last.daysSince1970 + 1) == next)
        }
    }

    @Test func everyDayFrom1600To2400RoundTripsAgainstANaiveCalendar() {
        // An independent oracle: walk the calendar one day at a time with a month-length table.
        func naiveLeap(_ year: Int) -> Bool { year % 400 == 0 || (year % 4 == 0 && year % 100 != 0) }
        var date = CivilDate(year: 1600, month: 1, day: 1)
        var days = -135_140
        var weekday = 6
        var mismatches = 0
        while date.year <= 2400 {
            if CivilDate(daysSince1970: days) != date || date.daysSince1970 != days
                || CivilDate.weekday(daysSince1970: days) != weekday || !date.isValid
            {
                mismatches += 1
            }
            let length = [31, naiveLeap(date.year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][date.month - 1]
            if date.day < length {
                date.day += 1
            } else if date.month < 12 {
                (date.month, date.day) = (date.month + 1, 1)
            } else {
                (date.year, date.month, date.day) = (date.year + 1, 1, 1)
            }
            days += 1
            weekday = (weekday + 1) % 7
        }
        #expect(mismatches == 0)
        #expect(days == CivilDate(year: 2401, month: 1, day: 1).daysSince1970)
    }

    @Test func invalidDates() {
        #expect(!CivilDate(year: 2026, month: 2, day: 30).isValid)
        #expect(!CivilDate(year: 2026, month: 4, day: 31).isValid)
        #expect(!CivilDate(year: 2026, month: 0, day: 1).isValid)
        #expect(!CivilDate(year: 2026, month: 13, day: 1).isValid)
        #expect(!CivilDate(year: 2026, month: 1, day: 0).isValid)
    }

    @Test func descriptionPadsAndSigns() {
        #expect(CivilDate(year: 2024, month: 2, day: 29).description == "2024-02-29")
        #expect(CivilDate(year: 33, month: 4, day: 3).description == "0033-04-03")
        #expect(CivilDate(year: -1, month: 12, day: 31).description == "-0001-12-31")
        #expect(CivilDate(year: 12_345, month: 1, day: 1).description == "12345-01-01")
    }

    @Test func timestampsBeforeAndAfter1970() {
        #expect(isoTimestamp(0, milliseconds: false) == "1970-01-01T00:00:00Z")
        #expect(isoTimestamp(-1, milliseconds: false) == "1969-12-31T23:59:59Z")
        #expect(isoTimestamp(-0.001, milliseconds: true) == "1969-12-31T23:59:59.999Z")
        #expect(isoTimestamp(-135_140 * 86_400, milliseconds: false) == "1600-01-01T00:00:00Z")
        #expect(isoTimestamp(-25_509 * 86_400 + 86_399, milliseconds: false) == "1900-02-28T23:59:59Z")
        #expect(isoTimestamp(11_016 * 86_400 + 43_200.25, milliseconds: true) == "2000-02-29T12:00:00.250Z")
        #expect(isoTimestamp(47_540 * 86_400, milliseconds: false) == "2100-02-28T00:00:00Z")
        #expect(isoTimestamp(-719_528 * 86_400 - 1, milliseconds: false) == "-0001-12-31T23:59:59Z")
    }
}
