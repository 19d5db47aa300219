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
    let date = CivilDate(daysSince1970: Int(days))
    let second = Int(secondOfDay)
    let pad = CivilDate.padded
    return "\(date)T\(pad(second / 3_600, 2)):\(pad(second / 60 % 60, 2)):\(pad(second % 60, 2))"
        + (withMilliseconds ? ".\(pad(Int(millis), 3))Z" : "Z")
}
