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
