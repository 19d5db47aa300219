import Foundation

/// An ISO 8601 time with a time zone, with or without fractional seconds (`2026-12-31T17:00:00Z`,
/// `2026-12-31T17:00:00.000Z` as JavaScript's `toISOString` writes it, `…+01:00`), as seconds since
/// 1970; nil for anything else (a time without a zone included: it would be a guess).
public func parseISO8601Time(_ text: String) -> Double? {
    let plain = ISO8601DateFormatter()
    if let date = plain.date(from: text) { return date.timeIntervalSince1970 }
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return fractional.date(from: text)?.timeIntervalSince1970
}
