/// `2026-11-27T08:21:23.456Z` (or without the milliseconds): UTC, truncated, so a time never rounds
/// into the next second. Times outside years 0000–9999 keep the same shape with more digits or a
/// sign. Pure (no Foundation), shared by plan reasons and audit exports.
public func isoTimestamp(_ time: Double, milliseconds withMilliseconds: Bool) -> String {
    // Round to the microsecond first, so binary noise (x.999999999) does not lose a millisecond.
    let milliseconds =
        abs(time) < 9.0e9 ? ((time * 1_000_000).rounded() / 1_000).rounded(.down) : (time * 1_000).rounded(.down)
    guard milliseconds.isFinite, abs(milliseconds) < 9.0e15 else { return String(time) }
    let total = Int64(milliseconds)
    var seconds = total / 1_000
    var millis = total % 1_000
    if millis < 0 {
        millis += 1_000
        seconds -= 1
    }
    var days = seconds / 86_400
    var secondOfDay = seconds % 86_400
    if secondOfDay < 0 {
        secondOfDay += 86_400
        days -= 1
    }
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
        return value < 0 ? "-" + padded : padded
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):"
        + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        + (withMilliseconds ? ".\(pad(millis, 3))Z" : "Z")
}
