/// ECMA 262 regular expressions as JSON Schema's `pattern` and `patternProperties` use them —
/// an unanchored search, no flags — compiled at load into a small program that a Pike VM runs
/// over a string's UTF-8 bytes scalar by scalar, in time linear in the input and without
/// allocating (its lists live in `PatternScratch`, sized once).
///
/// The subset: literals and escaped punctuation; `.`; classes (`[a-z]`, `[^…]`, with `\d \w \s`
/// and their negations inside); `\d \D \w \W \s \S \b \B`; `\t \n \v \f \r \0 \xHH \uHHHH \cX`;
/// `^` and `$` (at the ends of the input only, as without the `m` flag); groups `( )` and `(?: )`;
/// alternation; `* + ? {n} {n,} {n,m}` and their lazy forms (the same for a yes-or-no search).
/// A pattern outside it (backreferences, lookaround, named groups, `\p{…}`, a literal `{` or `]`)
/// compiles to nil, and Swift's Regex runs it instead (`SchemaRegex`).
struct PatternProgram: Sendable {
    enum Instruction: Sendable, Equatable {
        case scalar(UInt32)
        /// Any scalar but a line terminator (`.`).
        case any
        /// One of `classes[index]`'s ranges (or none of them, negated).
        case set(Int32, negated: Bool)
        case split(Int32, Int32)
        case jump(Int32)
        case atStart
        case atEnd
        case wordBoundary(negated: Bool)
        case match
    }

    let instructions: [Instruction]
    let classes: [[ClosedRange<UInt32>]]

    /// Programs beyond this (a large `{n,m}` repeated) run on Swift's Regex instead.
    static let instructionsMax = 2_048

    // MARK: Matching

    /// Whether the pattern matches anywhere in `utf8` (a decoded JSON string).
    func matches(_ utf8: borrowing Span<UInt8>, _ scratch: inout PatternScratch) -> Bool {
        scratch.prepare(instructions.count)
        var position = 0
        var previous: UInt32 = 0xFFFF_FFFF  // none: the start of the input
        // One generation per position: every thread at a position is on the list once.
        scratch.generation &+= 1
        while true {
            let (scalar, length) = position < utf8.count ? Self.decode(utf8, at: position) : (0xFFFF_FFFF, 0)
            // A thread starts at every position: the search is unanchored.
            if add(0, toNext: false, &scratch, previous: previous, next: scalar, atStart: position == 0,
                   atEnd: position >= utf8.count) {
                return true
            }
            guard position < utf8.count else { return false }
            scratch.generation &+= 1
            scratch.next.removeAll(keepingCapacity: true)
            let (nextScalar, _) = position + length < utf8.count ? Self.decode(utf8, at: position + length)
                : (0xFFFF_FFFF, 0)
            for slot in 0..<scratch.current.count {
                let thread = scratch.current[slot]
                let advance: Bool
                switch instructions[Int(thread)] {
                case .scalar(let expected): advance = scalar == expected
                case .any: advance = !Self.isLineTerminator(scalar)
                case .set(let index, let negated): advance = Self.contains(classes[Int(index)], scalar) != negated
                default: advance = false
                }
                if advance && add(thread + 1, toNext: true, &scratch, previous: scalar, next: nextScalar,
                                  atStart: false, atEnd: position + length >= utf8.count) {
                    return true
                }
            }
            swap(&scratch.current, &scratch.next)
            previous = scalar
            position += length
        }
    }

    /// Adds the thread at `pc` and everything it reaches without consuming (splits, jumps,
    /// assertions that hold here) to the current list (or the next), each instruction once per
    /// position. True on a match.
    private func add(_ pc: Int32, toNext: Bool, _ scratch: inout PatternScratch, previous: UInt32,
                     next: UInt32, atStart: Bool, atEnd: Bool) -> Bool {
        scratch.stack.removeAll(keepingCapacity: true)
        scratch.stack.append(pc)
        while let top = scratch.stack.popLast() {
            let index = Int(top)
            guard scratch.marks[index] != scratch.generation else { continue }
            scratch.marks[index] = scratch.generation
            switch instructions[index] {
            case .match:
                return true
            case .jump(let target):
                scratch.stack.append(target)
            case .split(let first, let second):
                scratch.stack.append(second)
                scratch.stack.append(first)
            case .atStart:
                if atStart { scratch.stack.append(top + 1) }
            case .atEnd:
                if atEnd { scratch.stack.append(top + 1) }
            case .wordBoundary(let negated):
                if (Self.isWord(previous) != Self.isWord(next)) != negated { scratch.stack.append(top + 1) }
            case .scalar, .any, .set:
                if toNext { scratch.next.append(top) } else { scratch.current.append(top) }
            }
        }
        return false
    }

    /// The scalar whose UTF-8 starts at `position`, and its length (a malformed byte is itself).
    static func decode(_ bytes: borrowing Span<UInt8>, at position: Int) -> (UInt32, Int) {
        let first = bytes[position]
        if first < 0x80 { return (UInt32(first), 1) }
        let length = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1
        guard length > 1, position + length <= bytes.count else { return (UInt32(first), 1) }
        var scalar = UInt32(first) & (0xFF >> (length + 1))
        for offset in 1..<length {
            let byte = bytes[position + offset]
            guard byte & 0xC0 == 0x80 else { return (UInt32(first), 1) }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        return (scalar, length)
    }

    static func isLineTerminator(_ scalar: UInt32) -> Bool {
        scalar == 0x0A || scalar == 0x0D || scalar == 0x2028 || scalar == 0x2029
    }

    static func isWord(_ scalar: UInt32) -> Bool {
        (0x30...0x39).contains(scalar) || (0x41...0x5A).contains(scalar) || (0x61...0x7A).contains(scalar)
            || scalar == 0x5F
    }

    static func contains(_ ranges: [ClosedRange<UInt32>], _ scalar: UInt32) -> Bool {
        for range in ranges where range.contains(scalar) { return true }
        return false
    }
}

/// The Pike VM's lists, one set per worker (in `ValidationReport`): grown to the largest program
/// once, then reused.
struct PatternScratch {
    var current: [Int32] = []
    var next: [Int32] = []
    var stack: [Int32] = []
    var marks: [UInt32] = []
    var generation: UInt32 = 0

    mutating func prepare(_ instructionCount: Int) {
        if marks.count < instructionCount {
            marks = Array(repeating: 0, count: instructionCount)
            current.reserveCapacity(instructionCount)
            next.reserveCapacity(instructionCount)
            stack.reserveCapacity(2 * instructionCount)
            generation = 0
        }
        current.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        // Marks of an earlier match must not look current: a wrap of the generation clears them.
        if generation > UInt32.max - 1 << 20 {
            for index in marks.indices { marks[index] = 0 }
            generation = 0
        }
    }
}

// MARK: Compiling

extension PatternProgram {
    indirect enum Node {
        case empty
        case scalar(UInt32)
        case any
        case set([ClosedRange<UInt32>], negated: Bool)
        case atStart
        case atEnd
        case wordBoundary(negated: Bool)
        case sequence([Node])
        case alternatives([Node])
        case repetition(Node, minimum: Int, maximum: Int?)
    }

    /// The program for `source`, or nil when it is outside the subset (or too large).
    static func compile(_ source: String) -> PatternProgram? {
        var parser = PatternParser(Array(source.unicodeScalars))
        guard let tree = parser.parseAll() else { return nil }
        var emitter = Emitter()
        guard emitter.emit(tree) else { return nil }
        emitter.instructions.append(.match)
        guard emitter.instructions.count <= instructionsMax else { return nil }
        return PatternProgram(instructions: emitter.instructions, classes: emitter.classes)
    }

    struct Emitter {
        var instructions: [Instruction] = []
        var classes: [[ClosedRange<UInt32>]] = []

        mutating func emit(_ node: Node) -> Bool {
            guard instructions.count <= PatternProgram.instructionsMax else { return false }
            switch node {
            case .empty: return true
            case .scalar(let scalar): instructions.append(.scalar(scalar))
            case .any: instructions.append(.any)
            case .set(let ranges, let negated):
                classes.append(ranges)
                instructions.append(.set(Int32(classes.count - 1), negated: negated))
            case .atStart: instructions.append(.atStart)
            case .atEnd: instructions.append(.atEnd)
            case .wordBoundary(let negated): instructions.append(.wordBoundary(negated: negated))
            case .sequence(let parts):
                for part in parts where !emit(part) { return false }
            case .alternatives(let branches):
                // split L1, next; L1: a; jump end; next: split L2, …; last branch; end:
                var jumps: [Int] = []
                for (offset, branch) in branches.enumerated() {
                    if offset < branches.count - 1 {
                        let split = instructions.count
                        instructions.append(.split(0, 0))
                        guard emit(branch) else { return false }
                        jumps.append(instructions.count)
                        instructions.append(.jump(0))
                        instructions[split] = .split(Int32(split + 1), Int32(instructions.count))
                    } else {
                        guard emit(branch) else { return false }
                    }
                }
                for jump in jumps { instructions[jump] = .jump(Int32(instructions.count)) }
            case .repetition(let body, let minimum, let maximum):
                for _ in 0..<minimum where !emit(body) { return false }
                if let maximum {
                    // Each optional copy: split into it or past every remaining one.
                    var splits: [Int] = []
                    for _ in minimum..<maximum {
                        splits.append(instructions.count)
                        instructions.append(.split(0, 0))
                        guard emit(body) else { return false }
                    }
                    for split in splits { instructions[split] = .split(Int32(split + 1), Int32(instructions.count)) }
                } else {
                    let loop = instructions.count
                    instructions.append(.split(0, 0))
                    guard emit(body) else { return false }
                    instructions.append(.jump(Int32(loop)))
                    instructions[loop] = .split(Int32(loop + 1), Int32(instructions.count))
                }
            }
            return instructions.count <= PatternProgram.instructionsMax
        }
    }
}

/// Parses the subset; nil for anything outside it.
struct PatternParser {
    typealias Node = PatternProgram.Node
    let scalars: [Unicode.Scalar]
    var position = 0
    /// Groups open around the parser: deeper nesting is left to Swift (the parser recurses).
    var depth = 0
    static let depthMax = 64

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    static let digits: [ClosedRange<UInt32>] = [0x30...0x39]
    static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
    /// ECMA 262's WhiteSpace and LineTerminator.
    static let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680,
                                               0x2000...0x200A, 0x2028...0x2029, 0x202F...0x202F,
                                               0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF]

    var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    mutating func parseAll() -> Node? {
        guard let node = alternatives(), position == scalars.count else { return nil }
        return node
    }

    mutating func alternatives() -> Node? {
        var branches: [Node] = []
        while true {
            guard let branch = sequence() else { return nil }
            branches.append(branch)
            guard peek == "|" else { break }
            position += 1
        }
        return branches.count == 1 ? branches[0] : .alternatives(branches)
    }

    mutating func sequence() -> Node? {
        var parts: [Node] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            guard let atom = atom() else { return nil }
            guard let quantified = quantifier(atom) else { return nil }
            parts.append(quantified)
        }
        return parts.isEmpty ? .empty : parts.count == 1 ? parts[0] : .sequence(parts)
    }

    mutating func quantifier(_ atom: Node) -> Node? {
        guard let scalar = peek else { return atom }
        var minimum = 0
        var maximum: Int?
        switch scalar {
        case "*": position += 1
        case "+": position += 1; minimum = 1
        case "?": position += 1; maximum = 1
        case "{":
            position += 1
            guard let low = number() else { return nil }
            minimum = low
            maximum = low
            if peek == "," {
                position += 1
                maximum = peek == "}" ? nil : number()
                if maximum == nil && peek != "}" { return nil }
            }
            guard peek == "}" else { return nil }
            position += 1
            if let maximum, maximum < minimum { return nil }
        default:
            return atom
        }
        if peek == "?" { position += 1 }  // lazy: the same for a yes-or-no search
        switch atom {
        case .atStart, .atEnd, .wordBoundary: return nil  // a quantified assertion: left to Swift
        default: break
        }
        // Bounded so that the program stays small (a larger count is left to Swift).
        guard minimum <= 1_000, (maximum ?? 0) <= 1_000 else { return nil }
        return .repetition(atom, minimum: minimum, maximum: maximum)
    }

    mutating func number() -> Int? {
        var value = 0
        var digits = 0
        while let scalar = peek, ("0"..."9").contains(scalar) {
            value = value * 10 + Int(scalar.value - 0x30)
            digits += 1
            position += 1
            guard value <= 100_000 else { return nil }
        }
        return digits > 0 ? value : nil
    }

    mutating func atom() -> Node? {
        guard let scalar = peek else { return nil }
        position += 1
        switch scalar {
        case "(":
            guard depth < Self.depthMax else { return nil }
            depth += 1
            defer { depth -= 1 }
            if peek == "?" {
                // Only a non-capturing group; lookaround and named groups are left to Swift.
                guard position + 1 < scalars.count, scalars[position + 1] == ":" else { return nil }
                position += 2
            }
            guard let inner = alternatives(), peek == ")" else { return nil }
            position += 1
            return inner
        case "[": return characterClass()
        case ".": return .any
        case "^": return .atStart
        case "$": return .atEnd
        case "\\": return escape()
        case "*", "+", "?", "{", "}", "]", ")": return nil
        default: return .scalar(scalar.value)
        }
    }

    mutating func escape() -> Node? {
        guard let scalar = peek else { return nil }
        position += 1
        switch scalar {
        case "d": return .set(Self.digits, negated: false)
        case "D": return .set(Self.digits, negated: true)
        case "w": return .set(Self.word, negated: false)
        case "W": return .set(Self.word, negated: true)
        case "s": return .set(Self.space, negated: false)
        case "S": return .set(Self.space, negated: true)
        case "b": return .wordBoundary(negated: false)
        case "B": return .wordBoundary(negated: true)
        default:
            position -= 1
            return characterEscape().map { .scalar($0) }
        }
    }

    /// An escape that stands for one scalar (after the backslash).
    mutating func characterEscape() -> UInt32? {
        guard let scalar = peek else { return nil }
        position += 1
        switch scalar {
        case "t": return 0x09
        case "n": return 0x0A
        case "v": return 0x0B
        case "f": return 0x0C
        case "r": return 0x0D
        case "0":
            // `\0` not followed by a digit (a digit would make it an octal or a backreference).
            if let next = peek, ("0"..."9").contains(next) { return nil }
            return 0
        case "x": return hex(count: 2)
        case "u": return hex(count: 4)
        case "c":
            guard let letter = peek, ("a"..."z").contains(letter) || ("A"..."Z").contains(letter) else { return nil }
            position += 1
            return letter.value % 32
        default:
            // Punctuation stands for itself; letters and digits mean something else in ECMA 262.
            guard scalar.value < 0x80, !scalar.properties.isAlphabetic, !("0"..."9").contains(scalar) else {
                return scalar.value >= 0x80 ? scalar.value : nil
            }
            return scalar.value
        }
    }

    mutating func hex(count: Int) -> UInt32? {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let scalar = peek, let digit = Int(String(scalar), radix: 16) else { return nil }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    mutating func characterClass() -> Node? {
        var negated = false
        if peek == "^" {
            negated = true
            position += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while let scalar = peek {
            if scalar == "]" && !first { break }
            if scalar == "]" { return nil }  // `[]` and `[^]`: left to Swift
            first = false
            guard let low = classAtom(&ranges) else { return nil }
            guard let lowScalar = low else { continue }  // a class escape such as \d, already added
            if peek == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                position += 1
                guard let high = classAtom(&ranges), let highScalar = high, lowScalar <= highScalar else { return nil }
                ranges.append(lowScalar...highScalar)
            } else {
                ranges.append(lowScalar...lowScalar)
            }
        }
        guard peek == "]" else { return nil }
        position += 1
        return .set(ranges, negated: negated)
    }

    /// One scalar of a class (`.some(scalar)`), or a class escape added to `ranges` (`.some(nil)`);
    /// nil when outside the subset.
    mutating func classAtom(_ ranges: inout [ClosedRange<UInt32>]) -> UInt32?? {
        guard let scalar = peek else { return nil }
        position += 1
        guard scalar == "\\" else { return .some(scalar.value) }
        guard let escaped = peek else { return nil }
        switch escaped {
        case "d", "w", "s":
            position += 1
            ranges += escaped == "d" ? Self.digits : escaped == "w" ? Self.word : Self.space
            return .some(nil)
        case "D", "W", "S":
            // A negated class escape inside a class: its complement, as ranges.
            position += 1
            ranges += Self.complement(escaped == "D" ? Self.digits : escaped == "W" ? Self.word : Self.space)
            return .some(nil)
        case "b":
            position += 1
            return .some(0x08)
        case "-":
            position += 1
            return .some(0x2D)
        default:
            guard let value = characterEscape() else { return nil }
            return .some(value)
        }
    }

    static func complement(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = max(next, range.upperBound + 1)
        }
        if next <= 0x10FFFF { result.append(next...0x10FFFF) }
        return result
    }
}
