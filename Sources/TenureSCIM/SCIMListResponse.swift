import Foundation
public import TenureCore

/// `startIndex` and `count` of a list or search (RFC 7644 §3.4.2.4).
public struct SCIMPageRequest: Hashable, Sendable {
    /// The most resources one page returns (also `filter.maxResults` in ServiceProviderConfig).
    public static let maximumCount = 200
    /// The page size when the client gives no `count`.
    public static let defaultCount = 100

    /// 1-based.
    public var startIndex: Int
    /// 0 ... `maximumCount`; 0 asks for `totalResults` only.
    public var count: Int

    /// RFC 7644 §3.4.2.4: a `startIndex` below 1 is 1, a negative `count` is 0; Tenure caps
    /// `count` at `maximumCount` (the RFC lets a server return fewer than asked).
    public init(startIndex: Int = 1, count: Int? = nil) {
        self.startIndex = max(1, startIndex)
        self.count = min(max(0, count ?? Self.defaultCount), Self.maximumCount)
    }

    /// From the query parameters as given (nil when absent). A value that is not an integer is
    /// `invalidValue`.
    public init(startIndex startText: String?, count countText: String?) throws(SCIMError) {
        func integer(_ text: String?, _ name: String) throws(SCIMError) -> Int? {
            guard let text else { return nil }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let value = Int(trimmed) { return value }
            // An integer too large for Int is still "a lot".
            guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            else {
                throw SCIMError.invalidValue(name, "must be an integer")
            }
            return Int.max
        }
        self.init(startIndex: try integer(startText, "startIndex") ?? 1, count: try integer(countText, "count"))
    }

    /// The 0-based offset of the first resource.
    public var offset: Int { self.startIndex - 1 }
}

/// A list or search result (RFC 7644 §3.4.2): `totalResults` counts every match, `Resources`
/// holds the page.
public struct SCIMListResponse: Hashable, Sendable {
    public var totalResults: Int
    public var startIndex: Int
    public var resources: [SCIMValue]

    public init(totalResults: Int, startIndex: Int, resources: [SCIMValue]) {
        self.totalResults = totalResults
        self.startIndex = startIndex
        self.resources = resources
    }

    /// `itemsPerPage` is the number of resources returned in this page.
    public var body: SCIMValue {
        [
            "schemas": [.string(SCIMSchema.listResponse)],
            "totalResults": .integer(self.totalResults),
            "startIndex": .integer(self.startIndex),
            "itemsPerPage": .integer(self.resources.count),
            "Resources": .array(self.resources),
        ]
    }
}
