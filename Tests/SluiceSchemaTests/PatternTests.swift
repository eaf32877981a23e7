@testable import SluiceSchema
import Testing

/// `PatternProgram` against Swift's Regex (with the semantics `SchemaCompiler.regex` gives it):
/// the same answer for every pattern of its subset on every input; patterns outside the subset
/// compile to nil (and run on Swift's Regex).
@Suite("Patterns: the Pike VM agrees with Swift's Regex")
struct PatternTests {
    static let patterns = [
        "^[a-z]{2}-[0-9]{4}$", "^[A-Z]{2}-\\d{4}$", "abc", "a.c", "^$", "^", "$", "x*", "^a*$", "^(ab|cd)+$",
        "^(?:ab|c)*d?$", "[^aeiou]", "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", "\\bcat\\b", "\\Bat", "^\\w+$", "\\W",
        "^\\s*$", "\\S+", "^.{3,5}$", "^a{2,}$", "^a{0,1}b$", "colou?r", "^(a|b|)c$", "[\\d-]+", "[a\\-z]",
        "^[-a]+$", "^[a-]+$", "\\.", "\\x41", "\\u00e9", "[\\u00e0-\\u00ff]+", "^\\t$", "a+?b", "a*?$", "(a|ab)(c|bcd)",
        "^[\\w.+-]+$", "[\\D]", "[\\W\\d]", "é+", "^日本$", ".", "^.$", "^(x|y)*z$", "(?:)", "a|", "|b",
    ]
    static let unsupported = ["(a)\\1", "(?=a)", "(?!a)b", "(?<=a)b", "(?<name>a)", "\\p{L}", "a{", "]", "[]", "\\k<a>",
                              "a{2,1}", "^*"]
    static let inputs = [
        "", "a", "ab", "abc", "AB-1234", "ab-1234", "ab-12345", "cd", "abab", "abcd", "d", "x", "xxx", "aaa",
        "ana@example.com", "a b@c.de", "the cat sat", "concat", "bat", "hello_world", "hello world", "  ", "\t",
        "\n", "a\nb", "color", "colour", "colouur", "c", "ac", "bc", "12-34", "a-z", "-", "a.b", "A", "é", "àéï",
        "日本", "日本語", "\u{2028}", "abcd\n", "aab", "ab", "abcbcd", "x.y+z", "1", "+1", "z", "xyxyz", "\r\n",
        "é é", "\u{1F600}", "\u{1F600}x", "ab\u{301}c",
    ]

    @Test func theSubsetMatchesAsSwiftsRegexDoes() throws {
        var scratch = PatternScratch()
        for source in Self.patterns {
            let program = try #require(PatternProgram.compile(source), "\(source) should be in the subset")
            let regex = try SchemaCompiler.regex(source, line: 1, keyword: "pattern")
            for input in Self.inputs {
                let bytes = Array(input.utf8)
                #expect(program.matches(bytes.span, &scratch) == regex.matches(input), "\(source) on \(input.debugDescription)")
            }
        }
    }

    /// ECMA 262's `\b`: between an ASCII word character and anything else (or an end), never at
    /// an end next to a non-word character. (Swift's Regex, which finds Unicode's word boundaries,
    /// says yes for `\b` on "" and on " é".)
    @Test func wordBoundariesFollowECMA262() throws {
        var scratch = PatternScratch()
        for (source, input, expected) in [("\\b", "", false), ("\\b", "a", true), ("\\b", " é", false), ("\\B", "", true),
                                          ("\\B", "a", false), ("a\\b", "ab", false), ("a\\b", "a b", true),
                                          ("\\bcat\\b", "the cat", true), ("\\bcat\\b", "concat", false),
                                          ("\\Bat", "cat", true), ("\\Bat", "at", false), ("é\\b", "é", false)] {
            let program = try #require(PatternProgram.compile(source))
            let bytes = Array(input.utf8)
            #expect(program.matches(bytes.span, &scratch) == expected, "\(source) on \(input.debugDescription)")
        }
    }

    @Test func patternsOutsideTheSubsetAreLeftToSwift() {
        for source in Self.unsupported { #expect(PatternProgram.compile(source) == nil, "\(source)") }
        // Too large a program.
        #expect(PatternProgram.compile("(abcdefghij){500}") == nil)
    }

    @Test func longInputsStayLinear() throws {
        let program = try #require(PatternProgram.compile("^(a|a)*(a|a)*b$"))
        var scratch = PatternScratch()
        let input = Array(String(repeating: "a", count: 20_000).utf8)
        #expect(!program.matches(input.span, &scratch))
        #expect(program.matches(Array("aaab".utf8).span, &scratch))
    }
}

/// Random patterns of the subset over a small alphabet, against Swift's Regex on random inputs
/// (a fixed seed: the same cases every run).
@Suite("Patterns: random differential against Swift's Regex")
struct RandomPatternTests {
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
    }

    static func atom(_ random: inout Generator, depth: Int) -> String {
        switch random.next(depth > 2 ? 9 : 11) {
        case 0, 1, 2: return ["a", "b", "c"][random.next(3)]
        case 3: return "."
        case 4: return ["[ab]", "[^a]", "[a-c]", "[\\d]", "[\\s]", "[^\\w]", "[-a]"][random.next(7)]
        case 5: return ["\\d", "\\w", "\\s", "\\W", "\\S", "\\D"][random.next(6)]
        // (`\b` and `\B` are left out: Swift's Regex finds Unicode word boundaries, UAX #29, where
        // ECMA 262 compares ASCII word characters; `wordBoundariesFollowECMA262` checks those.)
        case 6: return ["^", "$"][random.next(2)]
        case 7: return ["\\n", "\\.", "\\x61", "\\u0062"][random.next(4)]
        case 8: return "1"
        default: return "(" + (random.next(2) == 0 ? "?:" : "") + pattern(&random, depth: depth + 1) + ")"
        }
    }

    static func pattern(_ random: inout Generator, depth: Int) -> String {
        var branches: [String] = []
        for _ in 0...(random.next(4) == 0 ? 1 : 0) {
            var branch = ""
            for _ in 0..<random.next(4) {
                let atom = atom(&random, depth: depth)
                branch += atom
                // Quantifiers only after what ECMA 262 lets them follow (not after assertions).
                guard !["^", "$"].contains(atom) else { continue }
                branch += ["", "", "*", "+", "?", "{2}", "{1,2}", "{0,}", "*?", "+?"][random.next(10)]
            }
            branches.append(branch)
        }
        return branches.joined(separator: "|")
    }

    @Test func randomPatternsAgree() throws {
        var random = Generator(state: 0x9E37_79B9_7F4A_7C15)
        var scratch = PatternScratch()
        var compared = 0
        for _ in 0..<1_500 {
            let source = Self.pattern(&random, depth: 0)
            guard let program = PatternProgram.compile(source),
                  let regex = try? SchemaCompiler.regex(source, line: 1, keyword: "pattern") else { continue }
            for _ in 0..<12 {
                let input = String((0..<random.next(7)).map { _ in ["a", "b", "c", "1", " ", "\n", "_", "é"][random.next(8)] })
                let bytes = Array(input.utf8)
                #expect(program.matches(bytes.span, &scratch) == regex.matches(input),
                        "\(source) on \(input.debugDescription)")
                compared += 1
            }
        }
        #expect(compared > 10_000)
    }
}
