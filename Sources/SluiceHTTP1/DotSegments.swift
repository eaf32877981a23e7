/// Dot-segments in a request path (RFC 3986 §5.2.4): `.` and `..` segments, with any of their
/// dots written as `%2e` or `%2E`. The gateway resolves them before routing, as nginx does, so
/// that no path climbs out of the prefix an integration puts before it (`/tenant-a/{proxy}` with
/// `/../tenant-b/secret`): a path that would rise above its root is refused.
public enum DotSegments {
    /// Whether `path` has a dot-segment. A tight scan that looks closer only after a `/`.
    public static func present(in path: Span<UInt8>) -> Bool {
        var index = 0
        let count = path.count
        while index < count {
            if path[index] == slash && index + 1 < count && (path[index + 1] == dot || path[index + 1] == percent) {
                var end = index + 1
                while end < count && path[end] != slash { end += 1 }
                if dotCount(path, (index + 1)..<end) != nil { return true }
                index = end
            } else {
                index += 1
            }
        }
        return false
    }

    /// Writes `path` (which starts with `/`) with its dot-segments removed into `output`
    /// (emptied first; its capacity is kept). A path that ends in a dot-segment keeps its final
    /// `/` (`/a/b/..` → `/a/`). Returns false when a `..` would rise above the root (`/a/../..`).
    public static func resolve(_ path: Span<UInt8>, into output: inout [UInt8]) -> Bool {
        output.removeAll(keepingCapacity: true)
        let count = path.count
        var index = 0
        while index < count {
            // `index` is at a `/`: the segment runs to the next one.
            var end = index + 1
            while end < count && path[end] != slash { end += 1 }
            switch dotCount(path, (index + 1)..<end) {
            case 1:
                if end == count { output.append(slash) }
            case 2:
                guard !output.isEmpty else { return false }
                while let last = output.last, last != slash { output.removeLast() }
                output.removeLast()
                if end == count { output.append(slash) }
            default:
                for position in index..<end { output.append(path[position]) }
            }
            index = end
        }
        if output.isEmpty { output.append(slash) }
        return true
    }

    /// 1 or 2 when `path[segment]` is `.` or `..` (each dot literal or `%2e`), else nil.
    static func dotCount(_ path: Span<UInt8>, _ segment: Range<Int>) -> Int? {
        var dots = 0
        var index = segment.lowerBound
        while index < segment.upperBound {
            if path[index] == dot {
                index += 1
            } else if path[index] == percent && index + 2 < segment.upperBound
                        && path[index + 1] == 0x32 && path[index + 2] | 0x20 == 0x65 {
                index += 3
            } else {
                return nil
            }
            dots += 1
            if dots > 2 { return nil }
        }
        return dots == 0 ? nil : dots
    }

    static let slash: UInt8 = 0x2F
    static let dot: UInt8 = 0x2E
    static let percent: UInt8 = 0x25
}
