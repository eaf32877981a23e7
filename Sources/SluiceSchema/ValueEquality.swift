import SluiceJSON

/// Hashes under which equal JSON values (JSON Schema's equality: 1 == 1.0, objects whatever the
/// order of their members) hash equal. They only pick candidates: every match is confirmed by
/// `ValueEquality.equal`, so a collision costs time, never a wrong answer.
enum ValueHash {
    /// SplitMix64's finalizer.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a over a string's decoded bytes; never 0 (0 marks an empty slot).
    static func string(_ bytes: Span<UInt8>, _ content: Range<Int>, hasEscapes: Bool) -> UInt64 {
        var state: UInt64 = 0xCBF2_9CE4_8422_2325
        if hasEscapes {
            var decoded = UnescapedBytes(content)
            while let byte = decoded.next(bytes) { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        } else {
            var offset = content.lowerBound
            while offset < content.upperBound {
                state = (state ^ UInt64(bytes[offset])) &* 0x0000_0100_0000_01B3
                offset += 1
            }
        }
        return state | 1
    }

    /// FNV-1a over plain bytes, as `string` hashes a string whose decoded bytes they are.
    static func plain(_ bytes: Span<UInt8>) -> UInt64 {
        var state: UInt64 = 0xCBF2_9CE4_8422_2325
        var offset = 0
        while offset < bytes.count {
            state = (state ^ UInt64(bytes[offset])) &* 0x0000_0100_0000_01B3
            offset += 1
        }
        return state | 1
    }

    /// The hash of a value (containers included; their depth is bounded by the scanner).
    static func value(_ bytes: Span<UInt8>, _ value: JSONScanner.Value) -> UInt64 {
        switch value.kind {
        case .null: return 0x6E75_6C6C
        case .trueLiteral: return 0x7472_7565
        case .falseLiteral: return 0x6661_6C73_65
        case .number: return DecimalNumber(bytes, value.range).hash(bytes)
        case .string: return mix(string(bytes, value.content, hasEscapes: value.hasEscapes) ^ 0x22)
        case .array:
            var state: UInt64 = 0x5B
            var elements = JSONElements(value.range)
            while let element = elements.next(bytes) { state = mix(state &* 31 &+ self.value(bytes, element)) }
            return mix(state ^ 0x5D)
        case .object:
            // A sum over the members, so that their order does not matter.
            var sum: UInt64 = 0
            var count: UInt64 = 0
            var members = JSONMembers(value.range)
            while let (key, member) = members.next(bytes) {
                sum &+= mix(string(bytes, key.content, hasEscapes: key.hasEscapes) &* 0x9E37 ^ self.value(bytes, member))
                count += 1
            }
            return mix(sum ^ count ^ 0x7B7D)
        }
    }
}

/// One slot of the scratch hash table: a hash (0 when empty) and the ranges it stands for.
struct HashSlot {
    var hash: UInt64 = 0
    /// A key's content, or a whole value.
    var first: Range<Int> = 0..<0
    /// A member's value.
    var second: Range<Int> = 0..<0
    var hasEscapes = false
}

/// The scratch the validation's hash tables live in, allocated once with the report: a stack of
/// open-addressing tables, pushed for an object or array and popped when done with it, so that a
/// nested comparison can take its own table above its caller's. When the stack has no room left,
/// callers fall back to comparing pairwise: slower, as exact.
struct HashScratch {
    var slots: [HashSlot]
    var top = 0

    init(slotCount: Int) {
        slots = Array(repeating: HashSlot(), count: slotCount)
    }

    var free: Int { slots.count - top }

    /// A table of `count` empty slots on top of the stack.
    mutating func push(_ count: Int) -> Range<Int> {
        precondition(count <= free, "callers check free first")
        let table = top..<top + count
        for index in table { slots[index].hash = 0 }
        top += count
        return table
    }

    mutating func pop(_ table: Range<Int>) {
        precondition(table.upperBound == top, "tables are popped in stack order")
        top = table.lowerBound
    }

    /// The first slot to probe for `hash` in `table`.
    @inline(__always)
    static func start(_ hash: UInt64, _ table: Range<Int>) -> Int {
        table.lowerBound + Int(hash % UInt64(table.count))
    }

    @inline(__always)
    static func next(_ index: Int, _ table: Range<Int>) -> Int {
        index + 1 == table.upperBound ? table.lowerBound : index + 1
    }
}

/// JSON Schema's value equality (draft 4 §3.6, as fge's and jsonschema's `enum` and `uniqueItems`
/// apply it): same type; numbers equal in value; strings equal once decoded; arrays equal element
/// by element; objects with the same keys and equal values, in any order. Works across two texts,
/// so a body's value can be compared with a schema's `enum` values.
enum ValueEquality {
    /// Rebuilds the value whose whole text is `range` (a value the scanner accepted).
    static func value(_ bytes: Span<UInt8>, _ range: Range<Int>, hasEscapes: Bool) -> JSONScanner.Value {
        let kind: JSONScanner.Kind
        var content = range
        switch bytes[range.lowerBound] {
        case 0x22:
            kind = .string
            content = range.lowerBound + 1..<range.upperBound - 1
        case 0x7B: kind = .object
        case 0x5B: kind = .array
        case 0x74: kind = .trueLiteral
        case 0x66: kind = .falseLiteral
        case 0x6E: kind = .null
        default: kind = .number
        }
        return JSONScanner.Value(kind: kind, range: range, content: content, hasEscapes: hasEscapes)
    }

    /// Whether two strings' decoded contents are equal.
    static func stringsEqual(_ left: Span<UInt8>, _ leftContent: Range<Int>, _ leftEscapes: Bool,
                             _ right: Span<UInt8>, _ rightContent: Range<Int>, _ rightEscapes: Bool) -> Bool {
        if !leftEscapes && !rightEscapes {
            guard leftContent.count == rightContent.count else { return false }
            var offset = 0
            while offset < leftContent.count {
                if left[leftContent.lowerBound + offset] != right[rightContent.lowerBound + offset] { return false }
                offset += 1
            }
            return true
        }
        var leftBytes = DecodedBytes(leftContent, hasEscapes: leftEscapes)
        var rightBytes = DecodedBytes(rightContent, hasEscapes: rightEscapes)
        while true {
            let leftByte = leftBytes.next(left)
            let rightByte = rightBytes.next(right)
            if leftByte != rightByte { return false }
            if leftByte == nil { return true }
        }
    }

    static func equal(_ left: Span<UInt8>, _ leftValue: JSONScanner.Value,
                      _ right: Span<UInt8>, _ rightValue: JSONScanner.Value, scratch: inout HashScratch) -> Bool {
        guard leftValue.kind == rightValue.kind else { return false }
        switch leftValue.kind {
        case .null, .trueLiteral, .falseLiteral: return true
        case .number:
            return DecimalNumber(left, leftValue.range).compare(left, to: DecimalNumber(right, rightValue.range), right) == 0
        case .string:
            return stringsEqual(left, leftValue.content, leftValue.hasEscapes, right, rightValue.content, rightValue.hasEscapes)
        case .array:
            var leftElements = JSONElements(leftValue.range)
            var rightElements = JSONElements(rightValue.range)
            while true {
                let leftElement = leftElements.next(left)
                let rightElement = rightElements.next(right)
                guard let leftElement, let rightElement else { return leftElement == nil && rightElement == nil }
                guard equal(left, leftElement, right, rightElement, scratch: &scratch) else { return false }
            }
        case .object:
            return objectsEqual(left, leftValue, right, rightValue, scratch: &scratch)
        }
    }

    /// Objects are equal when they have as many members and each of the left's keys has an equal
    /// value on the right. Keys are unique on both sides (bodies with repeated keys are refused,
    /// and so are schemas), so that is enough. The right's members go in a hash table when the
    /// scratch has room, so that large objects cost n rather than n² key comparisons.
    static func objectsEqual(_ left: Span<UInt8>, _ leftValue: JSONScanner.Value,
                             _ right: Span<UInt8>, _ rightValue: JSONScanner.Value, scratch: inout HashScratch) -> Bool {
        let count = memberCount(left, leftValue)
        guard count == memberCount(right, rightValue) else { return false }
        if count == 0 { return true }
        if count > 4 && scratch.free >= 2 * count {
            let table = scratch.push(2 * count)
            var rightMembers = JSONMembers(rightValue.range)
            while let (key, value) = rightMembers.next(right) {
                let hash = ValueHash.string(right, key.content, hasEscapes: key.hasEscapes)
                var index = HashScratch.start(hash, table)
                while scratch.slots[index].hash != 0 { index = HashScratch.next(index, table) }
                scratch.slots[index] = HashSlot(hash: hash, first: key.content, second: value.range, hasEscapes: key.hasEscapes)
            }
            var leftMembers = JSONMembers(leftValue.range)
            var result = true
            members: while let (key, value) = leftMembers.next(left) {
                let hash = ValueHash.string(left, key.content, hasEscapes: key.hasEscapes)
                var index = HashScratch.start(hash, table)
                while scratch.slots[index].hash != 0 {
                    let slot = scratch.slots[index]
                    if slot.hash == hash,
                       stringsEqual(left, key.content, key.hasEscapes, right, slot.first, slot.hasEscapes) {
                        let rightMember = self.value(right, slot.second, hasEscapes: hasEscapes(right, slot.second))
                        if equal(left, value, right, rightMember, scratch: &scratch) { continue members }
                        break
                    }
                    index = HashScratch.next(index, table)
                }
                result = false
                break
            }
            scratch.pop(table)
            return result
        }
        var leftMembers = JSONMembers(leftValue.range)
        members: while let (key, value) = leftMembers.next(left) {
            var rightMembers = JSONMembers(rightValue.range)
            while let (rightKey, rightMember) = rightMembers.next(right) {
                if stringsEqual(left, key.content, key.hasEscapes, right, rightKey.content, rightKey.hasEscapes) {
                    if equal(left, value, right, rightMember, scratch: &scratch) { continue members }
                    return false
                }
            }
            return false
        }
        return true
    }

    static func memberCount(_ bytes: Span<UInt8>, _ object: JSONScanner.Value) -> Int {
        var count = 0
        var members = JSONMembers(object.range)
        while members.next(bytes) != nil { count += 1 }
        return count
    }

    static func elementCount(_ bytes: Span<UInt8>, _ array: JSONScanner.Value) -> Int {
        var count = 0
        var elements = JSONElements(array.range)
        while elements.next(bytes) != nil { count += 1 }
        return count
    }

    /// Whether a value's text holds a backslash (only meaningful for a string).
    static func hasEscapes(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        guard bytes[range.lowerBound] == 0x22 else { return false }
        var offset = range.lowerBound
        while offset < range.upperBound {
            if bytes[offset] == 0x5C { return true }
            offset += 1
        }
        return false
    }

    /// Whether an array holds two equal elements (`uniqueItems`), or an object two equal keys
    /// (`keys: true`). Elements are hashed into a table from the scratch; when the container is
    /// larger than the room, it is done in blocks: each block's elements go in the table and every
    /// later element is looked up in it, so the cost grows as n²/room rather than n².
    static func hasDuplicates(_ bytes: Span<UInt8>, _ container: JSONScanner.Value, count: Int, keys: Bool,
                              scratch: inout HashScratch) -> Bool {
        if count < 2 { return false }
        // Leave room above the table for the comparisons that confirm a match.
        let blockMax = keys ? scratch.free / 2 : scratch.free / 4
        if count <= 4 || blockMax < 2 { return hasDuplicatesPairwise(bytes, container, keys: keys, scratch: &scratch) }
        let blockCount = min(count, blockMax)
        var blockStart = 0
        while blockStart < count {
            let blockEnd = min(blockStart + blockCount, count)
            let table = scratch.push(2 * (blockEnd - blockStart))
            var index = 0
            var found = false
            var cursor = Cursor(container)
            while let (content, escapes, range) = cursor.next(bytes) {
                defer { index += 1 }
                if index < blockStart { continue }
                let hash = keys ? ValueHash.string(bytes, content, hasEscapes: escapes)
                    : ValueHash.value(bytes, value(bytes, range, hasEscapes: escapes)) | 1
                var slot = HashScratch.start(hash, table)
                while scratch.slots[slot].hash != 0 {
                    let other = scratch.slots[slot]
                    if other.hash == hash {
                        let same = keys ? stringsEqual(bytes, content, escapes, bytes, other.first, other.hasEscapes)
                            : equal(bytes, value(bytes, range, hasEscapes: escapes), bytes,
                                    value(bytes, other.first, hasEscapes: other.hasEscapes), scratch: &scratch)
                        if same {
                            found = true
                            break
                        }
                    }
                    slot = HashScratch.next(slot, table)
                }
                if found { break }
                if index < blockEnd {
                    scratch.slots[slot] = HashSlot(hash: hash, first: keys ? content : range, second: 0..<0, hasEscapes: escapes)
                }
            }
            scratch.pop(table)
            if found { return true }
            blockStart = blockEnd
        }
        return false
    }

    private static func hasDuplicatesPairwise(_ bytes: Span<UInt8>, _ container: JSONScanner.Value, keys: Bool,
                                              scratch: inout HashScratch) -> Bool {
        var outer = Cursor(container)
        var index = 0
        while let (content, escapes, range) = outer.next(bytes) {
            index += 1
            var inner = Cursor(container)
            var skipped = 0
            while skipped < index, inner.next(bytes) != nil { skipped += 1 }
            while let (otherContent, otherEscapes, otherRange) = inner.next(bytes) {
                let same = keys ? stringsEqual(bytes, content, escapes, bytes, otherContent, otherEscapes)
                    : equal(bytes, value(bytes, range, hasEscapes: escapes), bytes,
                            value(bytes, otherRange, hasEscapes: otherEscapes), scratch: &scratch)
                if same { return true }
            }
        }
        return false
    }

    /// An object's keys or an array's elements, one by one: (string content, escapes, whole range).
    struct Cursor {
        var members: JSONMembers?
        var elements: JSONElements?

        init(_ container: JSONScanner.Value) {
            if container.kind == .object {
                members = JSONMembers(container.range)
            } else {
                elements = JSONElements(container.range)
            }
        }

        mutating func next(_ bytes: Span<UInt8>) -> (Range<Int>, Bool, Range<Int>)? {
            if members != nil {
                guard let (key, _) = members!.next(bytes) else { return nil }
                return (key.content, key.hasEscapes, key.range)
            }
            guard let element = elements!.next(bytes) else { return nil }
            return (element.content, element.hasEscapes, element.range)
        }
    }
}

/// A string's decoded bytes: through `UnescapedBytes` when it has escapes, as they stand when it
/// has none (a pool name's bytes are already decoded, and may hold a backslash).
struct DecodedBytes {
    private var escaped: UnescapedBytes
    private var position: Int
    private let end: Int
    private let hasEscapes: Bool

    init(_ range: Range<Int>, hasEscapes: Bool) {
        escaped = UnescapedBytes(range)
        position = range.lowerBound
        end = range.upperBound
        self.hasEscapes = hasEscapes
    }

    @inline(__always)
    mutating func next(_ bytes: Span<UInt8>) -> UInt8? {
        if hasEscapes { return escaped.next(bytes) }
        guard position < end else { return nil }
        position += 1
        return bytes[position - 1]
    }
}
