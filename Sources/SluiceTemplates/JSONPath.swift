import SluiceJSON

/// The JSONPath that `$input.json(…)` and `$input.path(…)` take, in the forms API Gateway's
/// documentation and templates use: `$`, `.name`, `['name']` (or `["name"]`) and `[index]`
/// steps. A path is read straight from its bytes each time it is used (no compiled form to keep),
/// walking the JSON text with `JSONScanner`.
enum JSONPath {
    enum Step {
        case member(Range<Int>)
        case element(Int)
    }

    /// Whether `path` is one Sluice reads (for `check`: a literal path is verified at load).
    static func compile(_ path: ArraySlice<UInt8>) -> Bool? {
        let bytes = Array(path)
        let span = bytes.span
        var position = 0
        guard startsAtRoot(span, &position) else { return nil }
        while position < span.count {
            guard next(span, &position) != nil else { return nil }
        }
        return true
    }

    static func startsAtRoot(_ path: Span<UInt8>, _ position: inout Int) -> Bool {
        var cursor = 0
        while cursor < path.count, path[cursor] == 0x20 { cursor += 1 }
        guard cursor < path.count, path[cursor] == 0x24 else { return false }
        position = cursor + 1
        return true
    }

    /// The step at `position`, which moves past it; nil when the text there is not a step.
    static func next(_ path: Span<UInt8>, _ position: inout Int) -> Step? {
        guard position < path.count else { return nil }
        if path[position] == 0x2E {  // .name
            let start = position + 1
            var cursor = start
            while cursor < path.count, path[cursor] != 0x2E, path[cursor] != 0x5B { cursor += 1 }
            guard cursor > start else { return nil }
            position = cursor
            return .member(start..<cursor)
        }
        guard path[position] == 0x5B, position + 1 < path.count else { return nil }  // [
        let quote = path[position + 1]
        if quote == 0x27 || quote == 0x22 {
            let start = position + 2
            var cursor = start
            while cursor < path.count, path[cursor] != quote { cursor += 1 }
            guard cursor + 1 < path.count, path[cursor + 1] == 0x5D else { return nil }
            position = cursor + 2
            return .member(start..<cursor)
        }
        var cursor = position + 1
        var index = 0
        var digits = 0
        while cursor < path.count, path[cursor] >= 0x30, path[cursor] <= 0x39, digits < 9 {
            index = index * 10 + Int(path[cursor] - 0x30)
            digits += 1
            cursor += 1
        }
        guard digits > 0, cursor < path.count, path[cursor] == 0x5D else { return nil }
        position = cursor + 1
        return .element(index)
    }

    /// The value `path` selects in `json` (a whole document), or nil: not JSON, a step that is
    /// not there, or a path Sluice does not read.
    static func select(_ path: Span<UInt8>, in json: Span<UInt8>) -> JSONScanner.Value? {
        guard var value = JSONScanner.document(json) else { return nil }
        var position = 0
        guard startsAtRoot(path, &position) else { return nil }
        var depth = 1
        while position < path.count {
            guard let step = next(path, &position) else { return nil }
            switch step {
            case .member(let name):
                guard value.kind == .object else { return nil }
                var members = JSONMembers(value.range, depth: depth)
                var found: JSONScanner.Value?
                // The last of duplicate keys wins, as a map built from the text would keep it.
                while let (key, member) = members.next(json) {
                    if JSONScanner.string(json, key, equals: path.extracting(name)) { found = member }
                }
                guard let found else { return nil }
                value = found
            case .element(let index):
                guard value.kind == .array else { return nil }
                var elements = JSONElements(value.range, depth: depth)
                var remaining = index
                var found: JSONScanner.Value?
                while let element = elements.next(json) {
                    if remaining == 0 {
                        found = element
                        break
                    }
                    remaining -= 1
                }
                guard let found else { return nil }
                value = found
            }
            depth += 1
        }
        return value
    }
}
