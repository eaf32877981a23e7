/// Java's `String` methods on template strings. Comparisons and searches work on the bytes;
/// methods whose answer depends on UTF-16 indices or regular expressions (`substring`,
/// `indexOf`, `replaceAll`, `split`, `matches`, …) go through Swift strings and allocate.
extension TemplateRenderer {
    mutating func stringMethod(_ template: Template, _ bytes: Bytes, _ method: Method, _ count: Int,
                               _ argument: (inout TemplateRenderer, Int) -> Value) -> Value {
        switch (method, count) {
        case (.length, 0):
            return .integer(Int64(string(bytes, template).utf16.count))
        case (.isEmpty, 0):
            return .boolean(bytes.count == 0)
        case (.toString, 0):
            return .string(bytes)
        case (.trim, 0):
            // Java trims every character up to U+0020 at both ends.
            var start = Int(bytes.start)
            var end = Int(bytes.end)
            while start < end && byte(bytes.space, start, template) <= 0x20 { start += 1 }
            while end > start && byte(bytes.space, end - 1, template) <= 0x20 { end -= 1 }
            return .string(Bytes(bytes.space, start..<end))
        case (.equals, 1):
            guard case .string(let other) = argument(&self, 0) else { return .boolean(false) }
            return .boolean(bytesEqual(bytes, other, template))
        case (.equalsIgnoreCase, 1):
            guard case .string(let other) = argument(&self, 0) else { return .boolean(false) }
            return .boolean(string(bytes, template).lowercased() == string(other, template).lowercased())
        case (.startsWith, 1), (.endsWith, 1), (.contains, 1):
            guard let other = text(argument(&self, 0), template) else { return .null }
            let value = string(bytes, template)
            switch method {
            case .startsWith: return .boolean(value.utf8.starts(with: other.utf8))
            case .endsWith: return .boolean(value.utf8.reversed().starts(with: other.utf8.reversed()))
            default: return .boolean(other.isEmpty || value.utf8.firstRange(of: other.utf8) != nil)
            }
        case (.concat, 1):
            let other = argument(&self, 0)
            let start = startString()
            put(bytes, template)
            write(other, template)
            return finishString(start)
        case (.toLowerCase, 0), (.toUpperCase, 0):
            let value = string(bytes, template)
            return make(method == .toLowerCase ? value.lowercased() : value.uppercased())
        case (.substring, 1), (.substring, 2):
            let units = Array(string(bytes, template).utf16)
            guard let begin = integerValue(argument(&self, 0), template) else { return .null }
            let end = count == 2 ? integerValue(argument(&self, 1), template) : Int64(units.count)
            // Java throws on indices out of range; the reference renders as nothing.
            guard let end, begin >= 0, end <= units.count, begin <= end else { return .null }
            return make(String(decoding: units[Int(begin)..<Int(end)], as: UTF16.self))
        case (.charAt, 1):
            let units = Array(string(bytes, template).utf16)
            guard let index = integerValue(argument(&self, 0), template), index >= 0, index < units.count else { return .null }
            return make(String(decoding: [units[Int(index)]], as: UTF16.self))
        case (.indexOf, 1), (.indexOf, 2), (.lastIndexOf, 1):
            guard let needle = text(argument(&self, 0), template) else { return .null }
            let units = Array(string(bytes, template).utf16)
            let target = Array(needle.utf16)
            var from = 0
            if count == 2, let given = integerValue(argument(&self, 1), template) { from = Int(max(0, given)) }
            guard target.count <= units.count else { return .integer(-1) }
            let candidates = from > units.count - target.count ? [] : Array(from...(units.count - target.count))
            let ordered = method == .lastIndexOf ? candidates.reversed() : candidates
            for index in ordered where units[index..<index + target.count].elementsEqual(target) {
                return .integer(Int64(index))
            }
            return .integer(-1)
        case (.replace, 2):
            guard let target = text(argument(&self, 0), template), let replacement = text(argument(&self, 1), template) else {
                return .null
            }
            let value = string(bytes, template)
            guard !target.isEmpty else {
                // Java inserts the replacement around every character.
                var result = replacement
                for character in value { result += String(character) + replacement }
                return make(result)
            }
            return make(value.replacing(target, with: replacement))
        case (.replaceAll, 2), (.replaceFirst, 2):
            guard let pattern = text(argument(&self, 0), template), let replacement = text(argument(&self, 1), template),
                  let regex = try? Regex(pattern) else { return .null }
            let value = string(bytes, template)
            var result = ""
            var last = value.startIndex
            for match in value.matches(of: regex) {
                result += value[last..<match.range.lowerBound]
                result += Self.expand(replacement, match)
                last = match.range.upperBound
                if method == .replaceFirst { break }
            }
            result += value[last...]
            return make(result)
        case (.matches, 1):
            guard let pattern = text(argument(&self, 0), template), let regex = try? Regex(pattern) else { return .null }
            return .boolean((try? regex.wholeMatch(in: string(bytes, template))) != nil)
        case (.split, 1), (.split, 2):
            guard let pattern = text(argument(&self, 0), template), let regex = try? Regex(pattern) else { return .null }
            return split(string(bytes, template), regex)
        default:
            return .null
        }
    }

    func string(_ bytes: Bytes, _ template: Template) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        for offset in bytes.range { result.append(byte(bytes.space, offset, template)) }
        return String(decoding: result, as: UTF8.self)
    }

    func text(_ value: Value, _ template: Template) -> String? {
        switch value {
        case .string(let bytes): string(bytes, template)
        case .integer(let number): String(number)
        case .number(let number): String(decoding: JavaNumber.format(number), as: UTF8.self)
        case .boolean(let flag): flag ? "true" : "false"
        default: nil
        }
    }

    mutating func make(_ text: String) -> Value {
        let start = startString()
        put(text.utf8)
        return finishString(start)
    }

    /// Java's replacement syntax: `$n` is a group, `\x` is `x`.
    static func expand(_ replacement: String, _ match: Regex<AnyRegexOutput>.Match) -> String {
        var result = ""
        var characters = replacement.makeIterator()
        while let character = characters.next() {
            if character == "\\" {
                if let escaped = characters.next() { result.append(escaped) }
            } else if character == "$" {
                guard let digit = characters.next(), let group = digit.wholeNumberValue else { continue }
                if group < match.output.count, let substring = match.output[group].substring { result += substring }
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Java's `split`: pieces between matches, trailing empty pieces dropped, and no empty first
    /// piece for a match of nothing at the start.
    mutating func split(_ value: String, _ regex: Regex<AnyRegexOutput>) -> Value {
        var pieces: [String] = []
        var last = value.startIndex
        var matched = false
        for match in value.matches(of: regex) {
            if match.range.isEmpty && match.range.lowerBound == value.startIndex { continue }
            if match.range.isEmpty && match.range.lowerBound == value.endIndex { break }
            matched = true
            pieces.append(String(value[last..<match.range.lowerBound]))
            last = match.range.upperBound
        }
        pieces.append(String(value[last...]))
        if matched {
            while pieces.last == "" { pieces.removeLast() }
        }
        let list = newContainer(isMap: false)
        for piece in pieces {
            let item = make(piece)
            containers[Int(list)].values.append(item)
        }
        return .container(list)
    }
}
