import Foundation
import Testing

@testable import TenureCore

@Suite struct CronScheduleTests {
    /// 2026-11-27T10:07:30Z, a Friday.
    static let friday: Double = 1_795_774_050

    static func iso(_ time: Double?) -> String? { time.map { isoTimestamp($0, milliseconds: false) } }

    @Test(
        arguments: [
            ("*/15 * * * *", "2026-11-27T10:15:00Z"),
            ("* * * * *", "2026-11-27T10:08:00Z"),
            ("0 2 * * *", "2026-11-28T02:00:00Z"),
            ("0 2 * * 1-5", "2026-11-30T02:00:00Z"),  // next weekday 02:00 after Friday 10:07 is Monday
            ("30 6,18 1 * *", "2026-12-01T06:30:00Z"),
            ("0 0 29 2 *", "2028-02-29T00:00:00Z"),
            ("0 12 * * 0", "2026-11-29T12:00:00Z"),
            ("0 12 * * 7", "2026-11-29T12:00:00Z"),
            ("0 0 1 1 *", "2027-01-01T00:00:00Z"),
            // Both day fields restricted: either matches (Vixie cron): the 1st, or a Monday.
            ("0 9 1 * 1", "2026-11-30T09:00:00Z"),
            // A day field that starts with `*` is no restriction for that rule: both must match —
            // an odd-numbered day that is a Monday (Nov 30 is even; Dec 7 is the first).
            ("0 0 */2 * 1", "2026-12-07T00:00:00Z"),
            ("0 0 1 * */3", "2027-05-01T00:00:00Z"),  // the 1st on a Sunday, Wednesday or Saturday
            ("5-10/5 10 * * *", "2026-11-27T10:10:00Z"),
        ]
    )
    func next(_ expression: String, _ expected: String) throws {
        let schedule = try CronSchedule(expression)
        #expect(Self.iso(schedule.next(after: Self.friday)) == expected)
    }

    /// An expression that can never fire is refused when it is read, not found out at run time (the
    /// daemon would otherwise fall back to a daily run).
    @Test func expressionsThatNeverMatchAreRefused() {
        for expression in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 */7"] {
            let error = #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(expression) }
            #expect(error?.description.contains("never matches a date") == true, "\(expression)")
        }
    }

    /// Rare but real dates are found however far off: the search covers the whole 400-year cycle.
    @Test func rareDatesAreFoundDecadesAhead() throws {
        let sundayLeapDay = try CronSchedule("0 0 29 2 */7")  // a 29 February that is a Sunday
        func at(_ text: String) throws -> Double {
            try #require(ISO8601DateFormatter().date(from: text)).timeIntervalSince1970
        }
        #expect(Self.iso(sundayLeapDay.next(after: Self.friday)) == "2032-02-29T00:00:00Z")
        #expect(Self.iso(sundayLeapDay.next(after: try at("2033-01-01T00:00:00Z"))) == "2060-02-29T00:00:00Z")
        // 2100 is not a leap year: the gap after 2088 is 40 years.
        #expect(Self.iso(sundayLeapDay.next(after: try at("2089-01-01T00:00:00Z"))) == "2128-02-29T00:00:00Z")
    }

    @Test func agreesWithFoundationCalendarMinuteByMinute() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let schedules = [
            "*/7 3-5 * * *", "0 0 1,15 * *", "45 23 * 2 2", "0 0 * * 6,0", "10 */6 10-12 * *", "0 0 */2 * 1",
            "0 12 13 * 5",
        ]
        for expression in schedules {
            let schedule = try CronSchedule(expression)
            var time = Self.friday
            for _ in 0..<5 {
                let next = try #require(schedule.next(after: time))
                // Brute force: the first minute after `time` whose civil fields match.
                var minute = (time / 60).rounded(.down) * 60 + 60
                while minute < next {
                    let parts = calendar.dateComponents(
                        [.minute, .hour, .day, .month, .weekday],
                        from: Date(timeIntervalSince1970: minute)
                    )
                    #expect(
                        !Self.matches(expression, parts),
                        "\(expression): \(Self.iso(minute)!) matches before \(Self.iso(next)!)"
                    )
                    minute += 60
                }
                let parts = calendar.dateComponents(
                    [.minute, .hour, .day, .month, .weekday],
                    from: Date(timeIntervalSince1970: next)
                )
                #expect(Self.matches(expression, parts), "\(expression): \(Self.iso(next)!) does not match")
                time = next
            }
        }
    }

    /// An independent reading of the test expressions above.
    static func matches(_ expression: String, _ parts: DateComponents) -> Bool {
        let (m, h, d, mo, wd) = (parts.minute!, parts.hour!, parts.day!, parts.month!, parts.weekday! - 1)
        switch expression {
        case "*/7 3-5 * * *": return m % 7 == 0 && (3...5).contains(h)
        case "0 0 1,15 * *": return m == 0 && h == 0 && (d == 1 || d == 15)
        case "45 23 * 2 2": return m == 45 && h == 23 && mo == 2 && wd == 2
        case "0 0 * * 6,0": return m == 0 && h == 0 && (wd == 6 || wd == 0)
        case "10 */6 10-12 * *": return m == 10 && h % 6 == 0 && (10...12).contains(d)
        case "0 0 */2 * 1": return m == 0 && h == 0 && d % 2 == 1 && wd == 1
        case "0 12 13 * 5": return m == 0 && h == 12 && (d == 13 || wd == 5)
        default: return false
        }
    }

    @Test(
        arguments: [
            ("* * * *", "has 4 field(s)"),
            ("60 * * * *", "minute field \"60\": values must be within 0-59"),
            ("* 24 * * *", "hour field \"24\""),
            ("* * 0 * *", "day-of-month field \"0\""),
            ("*/0 * * * *", "step \"0\" must be a positive number"),
            ("5-1 * * * *", "\"5-1\" is not a range"),
            ("a * * * *", "\"a\" is not a number"),
            ("1,,2 * * * *", "is not a value, range or step"),
        ]
    )
    func errors(_ expression: String, _ fragment: String) {
        let error = #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(expression) }
        #expect(error?.description.contains(fragment) == true, "\(error?.description ?? "")")
    }
}
