import SluiceHTTP1
import Testing
@testable import SluiceLambda

/// What an answer says once written out, for readable assertions.
struct WrittenAnswer: Equatable, CustomStringConvertible {
    var status: Int
    var fields: [String]
    var body: [UInt8]?
    var inferred = false

    var description: String { "\(status) \(fields) \(body.map { string($0).debugDescription } ?? "nil") inferred=\(inferred)" }
}

/// Parses `text` and writes what the worker would send. Checks on the way that the byte counts
/// agree with what is written.
func read(_ text: String, _ format: LambdaPayloadFormat = .version1, rejectsUnknownFields: Bool = false,
          decodingBase64: Bool? = nil, answer: inout FunctionAnswer) -> (FunctionAnswer.Outcome, WrittenAnswer?) {
    read(bytes(text), format, rejectsUnknownFields: rejectsUnknownFields, decodingBase64: decodingBase64, answer: &answer)
}

func read(_ input: [UInt8], _ format: LambdaPayloadFormat = .version1, rejectsUnknownFields: Bool = false,
          decodingBase64: Bool? = nil, answer: inout FunctionAnswer) -> (FunctionAnswer.Outcome, WrittenAnswer?) {
    let outcome = answer.parse(input.span, format: format, rejectsUnknownFields: rejectsUnknownFields)
    guard outcome == .response else { return (outcome, nil) }
    var fields: [String] = []
    for field in answer.fields {
        var name: [UInt8] = []
        var value: [UInt8] = []
        FunctionAnswer.writeName(of: field, in: input.span, to: &name)
        FunctionAnswer.writeValue(field.value, of: input.span, to: &value)
        #expect(FunctionAnswer.byteCount(of: field.value, in: input.span) == value.count)
        fields.append(string(name) + ": " + string(value))
    }
    let decode = decodingBase64 ?? answer.isBase64Encoded
    var body: [UInt8]? = []
    let length = answer.bodyByteCount(of: input.span, decodingBase64: decode)
    if answer.writeBody(of: input.span, decodingBase64: decode, to: &body!) {
        #expect(length == body!.count)
    } else {
        #expect(length == nil)
        body = nil
    }
    return (outcome, WrittenAnswer(status: answer.statusCode, fields: fields, body: body, inferred: answer.isInferred))
}

func read(_ text: String, _ format: LambdaPayloadFormat = .version1, rejectsUnknownFields: Bool = false,
          decodingBase64: Bool? = nil) -> (FunctionAnswer.Outcome, WrittenAnswer?) {
    var answer = FunctionAnswer()
    return read(text, format, rejectsUnknownFields: rejectsUnknownFields, decodingBase64: decodingBase64, answer: &answer)
}

func outcome(_ text: String, _ format: LambdaPayloadFormat = .version1) -> FunctionAnswer.Outcome {
    read(text, format).0
}

@Suite("Function answer")
struct FunctionAnswerTests {
    // MARK: - Valid answers

    @Test func version1Answer() {
        let (result, written) = read(#"""
            {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Id": "7"},
             "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "created", "isBase64Encoded": false}
            """#)
        #expect(result == .response)
        #expect(written == WrittenAnswer(status: 201, fields: ["Set-Cookie: a=1", "Set-Cookie: b=2",
                                                               "Content-Type: text/plain", "X-Id: 7"],
                                         body: bytes("created")))
    }

    @Test func version2Answer() {
        var answer = FunctionAnswer()
        let (result, written) = read(#"""
            {"cookies": ["s=1; Path=/", "t=2"], "isBase64Encoded": false, "statusCode": 404,
             "headers": {"content-type": "application/json", "x-multi": "a,b"}, "body": "{\"error\":\"nope\"}",
             "multiValueHeaders": {"Ignored": ["in 2.0"]}, "extra": {"ignored": [1, 2, {"deep": null}]}}
            """#, .version2, answer: &answer)
        #expect(result == .response)
        #expect(written == WrittenAnswer(status: 404, fields: ["content-type: application/json", "x-multi: a,b",
                                                               "Set-Cookie: s=1; Path=/", "Set-Cookie: t=2"],
                                         body: bytes(#"{"error":"nope"}"#)))
        #expect(answer.hasContentType)
        #expect(answer.fields.map(\.role) == [.contentType, .ordinary, .setCookie, .setCookie])
    }

    @Test func minimalAnswerHasNoBodyAndNoContentType() {
        var answer = FunctionAnswer()
        let (result, written) = read(#"{"statusCode":204}"#, answer: &answer)
        #expect(result == .response)
        #expect(written == WrittenAnswer(status: 204, fields: [], body: []))
        #expect(answer.body == .none)
        #expect(!answer.hasContentType)
        #expect(read(#"{"statusCode":200,"body":null,"headers":null,"multiValueHeaders":null,"isBase64Encoded":null}"#).1
            == WrittenAnswer(status: 200, fields: [], body: []))
    }

    @Test(arguments: [#"{"statusCode":"200"}"#, #"{"statusCode":200}"#, " \t\r\n{ \"statusCode\" : 200 } \n"])
    func statusCodeAsNumberOrString(text: String) {
        #expect(read(text).1?.status == 200)
    }

    @Test(arguments: ["99", "600", "200.0", "2e2", "-200", "0200", "\"abc\"", "\"20\"", "true", "[200]", "{}",
                      "\"2\\u00300\""])
    func invalidStatusCodesAreMalformed(value: String) {
        #expect(outcome(#"{"statusCode":\#(value)}"#) == .malformed)
        #expect(outcome(#"{"statusCode":\#(value)}"#, .version2) == .malformed)
    }

    @Test func headerValuesMayBeNumbersOrBooleansAndNullIsSkipped() {
        let (_, written) = read(#"""
            {"statusCode":200,"headers":{"X-Count":42,"X-Ratio":-1.5e3,"X-On":true,"X-Off":false,"X-None":null},
             "multiValueHeaders":{"X-List":[1,"two",null,false]}}
            """#)
        #expect(written?.fields == ["X-List: 1", "X-List: two", "X-List: false", "X-Count: 42", "X-Ratio: -1.5e3",
                                    "X-On: true", "X-Off: false"])
    }

    // MARK: - Merging headers and multiValueHeaders

    /// API Gateway: "If the same key-value pair is specified in both, only the values from
    /// multiValueHeaders will appear in the merged list." Names compare ignoring case, values
    /// exactly; multiValueHeaders come first.
    @Test func mergeKeepsMultiValueHeadersAndAddsTheRest() {
        let (_, written) = read(#"""
            {"statusCode":200,
             "headers":{"X":"1","Y":"2","set-cookie":"a=1","Z":"A"},
             "multiValueHeaders":{"Set-Cookie":["a=1","b=2"],"X":["1"],"Z":["a"]}}
            """#)
        #expect(written?.fields == ["Set-Cookie: a=1", "Set-Cookie: b=2", "X: 1", "Z: a", "Y: 2", "Z: A"])
    }

    @Test func aNameRepeatedInOneObjectKeepsItsLastValue() {
        let (_, written) = read(#"""
            {"statusCode":200,"headers":{"A":"1","B":"x","A":"2","\u0041":"3"},
             "multiValueHeaders":{"M":["1","2"],"M":["3"]}}
            """#)
        #expect(written?.fields == ["M: 3", "B: x", "A: 3"])
    }

    @Test func aRepeatedMemberReplacesTheEarlierOne() {
        let (_, written) = read(#"""
            {"statusCode":500,"headers":{"A":"1"},"body":"x","statusCode":201,"headers":{"B":"2"},"body":"y"}
            """#)
        #expect(written == WrittenAnswer(status: 201, fields: ["B: 2"], body: bytes("y")))
        // A bad value replaced by a good one is fine, and the other way round is not.
        #expect(outcome(#"{"statusCode":999,"statusCode":200}"#) == .response)
        #expect(outcome(#"{"statusCode":200,"statusCode":999}"#) == .malformed)
        #expect(outcome(#"{"statusCode":200,"body":{},"body":"ok"}"#) == .response)
    }

    // MARK: - Strings and escapes

    @Test func everyEscapeIsDecoded() {
        let (_, written) = read(#"""
            {"statusCode":200,"body":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00\uD834\uDD1E end"}
            """#)
        #expect(written?.body == bytes("\"\\/\u{8}\u{C}\n\r\tAé€😀𝄞 end"))
    }

    @Test func loneSurrogatesBecomeReplacementCharacters() {
        let cases: [(String, String)] = [
            (#"\ud83d"#, "\u{FFFD}"), (#"\ude00"#, "\u{FFFD}"), (#"\ud83dx"#, "\u{FFFD}x"),
            (#"\ud83d\u0041"#, "\u{FFFD}A"), (#"\ud83d\ud83d\ude00"#, "\u{FFFD}😀"), (#"\ude00\ud83d"#, "\u{FFFD}\u{FFFD}"),
        ]
        for (escaped, expected) in cases {
            #expect(read(#"{"statusCode":200,"body":"\#(escaped)"}"#).1?.body == bytes(expected), "\(escaped)")
        }
    }

    @Test func rawUTF8InStringsIsKept() {
        #expect(read(#"{"statusCode":200,"body":"żółw 🐢"}"#).1?.body == bytes("żółw 🐢"))
    }

    @Test(arguments: [
        #"{"statusCode":200,"body":"\x"}"#, #"{"statusCode":200,"body":"\u12G4"}"#,
        #"{"statusCode":200,"body":"\u123"}"#, #"{"statusCode":200,"body":"\"#, #"{"statusCode":200,"body":"abc}"#,
        "{\"statusCode\":200,\"body\":\"tab\there\"}", "{\"statusCode\":200,\"body\":\"nul\u{0}\"}",
        "{\"statusCode\":200,\"body\":\"\u{1F}\"}", #"{"statusCode":200,"body":'single'}"#,
        #"{"statusCode":200,"body":"\U0041"}"#,
    ])
    func invalidStringsAreMalformed(text: String) {
        #expect(outcome(text) == .malformed)
        #expect(outcome(text, .version2) == .malformed)
    }

    @Test(arguments: [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]] as [[UInt8]])
    func invalidUTF8InStringsIsMalformed(sequence: [UInt8]) {
        let input = bytes(#"{"statusCode":200,"body":"a"#) + sequence + bytes(#"b"}"#)
        var answer = FunctionAnswer()
        #expect(answer.parse(input.span, format: .version1) == .malformed)
        #expect(answer.parse(input.span, format: .version2) == .malformed)
    }

    // MARK: - JSON syntax

    @Test(arguments: [
        "", " ", "{", "}", "{\"statusCode\":200", "{\"statusCode\":200,}", "{\"statusCode\" 200}",
        "{statusCode:200}", "{\"statusCode\":200}}", "{\"statusCode\":200} x", "{\"statusCode\":200}{}",
        "{\"statusCode\":200,\"x\":[1,]}", "{\"statusCode\":200,\"x\":01}", "{\"statusCode\":200,\"x\":1.}",
        "{\"statusCode\":200,\"x\":-}", "{\"statusCode\":200,\"x\":1e}", "{\"statusCode\":200,\"x\":.5}",
        "{\"statusCode\":200,\"x\":+1}", "{\"statusCode\":200,\"x\":tru}", "{\"statusCode\":200,\"x\":nul}",
        "{\"statusCode\":200,\"x\":NaN}", "{\"statusCode\":200,\"x\":[}", "\u{FEFF}{\"statusCode\":200}",
        "{\"statusCode\":200}\u{0}", "{\"statusCode\":200,\"x\":True}", "{\"statusCode\":200\u{B}}",
    ])
    func syntaxErrorsAreMalformed(text: String) {
        #expect(outcome(text) == .malformed, "\(text.debugDescription)")
        #expect(outcome(text, .version2) == .malformed, "\(text.debugDescription)")
    }

    @Test func validNumbersInUnknownMembersAreAccepted() {
        for number in ["0", "-0", "1", "-1.5", "1e10", "1E+2", "2.5e-3", "123456789012345678901234567890"] {
            #expect(outcome(#"{"statusCode":200,"x":\#(number)}"#) == .response, "\(number)")
        }
    }

    @Test func nestingIsLimitedTo64() {
        // The answer object is depth 1, so 63 arrays inside it reach depth 64.
        let fits = #"{"statusCode":200,"x":"# + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}"
        let tooDeep = #"{"statusCode":200,"x":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}"
        #expect(outcome(fits) == .response)
        #expect(outcome(tooDeep) == .malformed)
        let objects = #"{"statusCode":200,"x":"# + String(repeating: #"{"a":"#, count: 63) + "1"
            + String(repeating: "}", count: 63) + "}"
        #expect(outcome(objects) == .response)
        let deeperObjects = #"{"statusCode":200,"x":"# + String(repeating: #"{"a":"#, count: 64) + "1"
            + String(repeating: "}", count: 64) + "}"
        #expect(outcome(deeperObjects) == .malformed)
        // A hostile depth does not exhaust the stack.
        #expect(outcome(String(repeating: "[", count: 200_000), .version2) == .malformed)
    }

    // MARK: - Types

    @Test(arguments: [
        #"{"statusCode":200,"headers":[]}"#, #"{"statusCode":200,"headers":"x"}"#,
        #"{"statusCode":200,"headers":{"A":{}}}"#, #"{"statusCode":200,"headers":{"A":["1"]}}"#,
        #"{"statusCode":200,"multiValueHeaders":{"A":"1"}}"#, #"{"statusCode":200,"multiValueHeaders":{"A":[[]]}}"#,
        #"{"statusCode":200,"multiValueHeaders":[]}"#, #"{"statusCode":200,"body":42}"#,
        #"{"statusCode":200,"body":{"a":1}}"#, #"{"statusCode":200,"body":["a"]}"#, #"{"statusCode":200,"body":true}"#,
        #"{"statusCode":200,"isBase64Encoded":1}"#, #"{"statusCode":200,"isBase64Encoded":"yes"}"#,
        #"{"statusCode":200,"isBase64Encoded":{}}"#,
    ])
    func wrongTypesAreMalformed(text: String) {
        #expect(outcome(text) == .malformed)
        #expect(outcome(text, .version2) == (text.contains("multiValueHeaders") ? .response : .malformed))
    }

    @Test func version2CookiesMustBeStrings() {
        #expect(outcome(#"{"statusCode":200,"cookies":"a=1"}"#, .version2) == .malformed)
        #expect(outcome(#"{"statusCode":200,"cookies":[1]}"#, .version2) == .malformed)
        #expect(outcome(#"{"statusCode":200,"cookies":[null,"a=1"]}"#, .version2) == .response)
        #expect(outcome(#"{"statusCode":200,"cookies":null}"#, .version2) == .response)
        // In 1.0, `cookies` is not a member API Gateway reads.
        #expect(outcome(#"{"statusCode":200,"cookies":7}"#, .version1) == .response)
    }

    @Test func isBase64EncodedAcceptsBooleanText() {
        var answer = FunctionAnswer()
        #expect(answer.parse(bytes(#"{"statusCode":200,"isBase64Encoded":"TRUE"}"#).span, format: .version1) == .response)
        #expect(answer.isBase64Encoded)
        #expect(answer.parse(bytes(#"{"statusCode":200,"isBase64Encoded":"false"}"#).span, format: .version1) == .response)
        #expect(!answer.isBase64Encoded)
    }

    // MARK: - Unknown members

    @Test func unknownMembersAreIgnoredUnlessRejected() {
        let text = #"{"statusCode":200,"cookies":["a=1"],"extra":{"x":[1]}}"#
        #expect(read(text).0 == .response)
        #expect(read(text, rejectsUnknownFields: true).0 == .malformed)
        #expect(read(#"{"statusCode":200,"body":"x","headers":{},"multiValueHeaders":{},"isBase64Encoded":false}"#,
                     rejectsUnknownFields: true).0 == .response)
        // HTTP APIs ignore unknown members whatever the option says.
        #expect(read(text, .version2, rejectsUnknownFields: true).0 == .response)
    }

    // MARK: - Missing statusCode

    /// 1.0 without `statusCode`: 200 with an empty body, as API Gateway answers it (recorded); a
    /// REST API's unknown member still makes it malformed, and a value that is not an object does.
    @Test func version1WithoutStatusCodeIs200WithAnEmptyBody() {
        let empty = WrittenAnswer(status: 200, fields: [], body: [])
        #expect(read(#"{"body":"hi","headers":{"X-A":"b"}}"#).1 == empty)
        #expect(read(#"{"statusCode":null,"body":"hi"}"#).1 == empty)
        #expect(read(#"{}"#).1 == empty)
        #expect(outcome(#"{"body":{"not":"a string"}}"#) == .malformed)
        #expect(read(#"{"body":"hi","extra":1}"#, rejectsUnknownFields: true).0 == .malformed)
        #expect(outcome(#""hi""#) == .malformed)
        #expect(outcome("[1]") == .malformed)
        #expect(outcome("null") == .malformed)
    }

    /// AWS: "API Gateway makes the following assumptions if your Lambda function returns valid
    /// JSON and doesn't return a statusCode": 200, application/json, the answer is the body.
    @Test func version2InfersTheResponseWithoutStatusCode() {
        let object = #"{ "message": "Hello from Lambda!" }"#
        #expect(read(object, .version2).1 == WrittenAnswer(status: 200, fields: [], body: bytes(object), inferred: true))
        #expect(read("  \"Hello from Lambda!\"\n", .version2).1
            == WrittenAnswer(status: 200, fields: [], body: bytes("Hello from Lambda!"), inferred: true))
        #expect(read(#""a\nb\u00e9""#, .version2).1?.body == bytes("a\nbé"))
        #expect(read(" 42 ", .version2).1?.body == bytes("42"))
        #expect(read("[1, {\"a\": null}]", .version2).1?.body == bytes("[1, {\"a\": null}]"))
        #expect(read("null", .version2).1?.body == bytes("null"))
        #expect(read("true", .version2).1?.body == bytes("true"))
        // Members that would be wrong in a response do not matter once the answer is the body.
        let loose = #"{"headers":{"X":"a\r\nInjected: 1"},"body":{"nested":true},"isBase64Encoded":true}"#
        var answer = FunctionAnswer()
        #expect(read(loose, .version2, answer: &answer).1 == WrittenAnswer(status: 200, fields: [], body: bytes(loose),
                                                                         inferred: true))
        #expect(!answer.isBase64Encoded)
        // But the whole answer must still be JSON.
        #expect(outcome(#"{"body":"x"} trailing"#, .version2) == .malformed)
        #expect(outcome("Task timed out after 3.00 seconds", .version2) == .malformed)
    }

    @Test func aFunctionErrorIsReportedAsSuch() {
        let python = #"{"errorMessage": "boom", "errorType": "Exception", "requestId": "r", "stackTrace": ["  File x"]}"#
        let node = #"{"errorType":"Error","errorMessage":"boom","trace":["Error: boom","    at f"]}"#
        for text in [python, node] {
            #expect(outcome(text, .version1) == .functionError)
            #expect(outcome(text, .version2) == .functionError)
        }
        // With a statusCode it is an ordinary answer, and one of the two members alone is not an error.
        #expect(outcome(#"{"statusCode":200,"errorMessage":"m","errorType":"t"}"#, .version2) == .response)
        #expect(read(#"{"errorMessage":"m"}"#, .version2).1?.inferred == true)
        #expect(read(#"{"errorMessage":"m"}"#, .version1).1 == WrittenAnswer(status: 200, fields: [], body: []))
    }

    // MARK: - Response splitting

    @Test(arguments: [
        #"{"X":"a\r\nInjected: 1"}"#, #"{"X":"a\nb"}"#, #"{"X":"a\rb"}"#, #"{"X":"nul\u0000"}"#, #"{"X":"del\u007f"}"#,
        #"{"X":"bell\u0007"}"#, #"{"Bad Name":"v"}"#, #"{"":"v"}"#, #"{"X\r\nY":"v"}"#, #"{"Na:me":"v"}"#,
        #"{"é":"v"}"#, #"{"X\u000a":"v"}"#,
    ])
    func headersThatAreNotHTTPFieldsAreMalformed(headers: String) {
        #expect(outcome(#"{"statusCode":200,"headers":\#(headers)}"#) == .malformed)
        #expect(outcome(#"{"statusCode":200,"headers":\#(headers)}"#, .version2) == .malformed)
        let multi = headers.replacing(":\"", with: ":[\"").replacing("\"}", with: "\"]}")
        #expect(outcome(#"{"statusCode":200,"multiValueHeaders":\#(multi)}"#) == .malformed, "\(multi)")
    }

    @Test func cookiesThatAreNotFieldValuesAreMalformed() {
        #expect(outcome(#"{"statusCode":200,"cookies":["a=1\r\nX-Injected: 1"]}"#, .version2) == .malformed)
        #expect(outcome(#"{"statusCode":200,"cookies":["a=1\u0000"]}"#, .version2) == .malformed)
    }

    @Test func tabsAndNonASCIIAreValidValues() {
        #expect(read(#"{"statusCode":200,"headers":{"X":"a\tb","Y":"café"}}"#).1?.fields == ["X: a\tb", "Y: café"])
    }

    // MARK: - Roles

    @Test func fieldsAreClassified() {
        var answer = FunctionAnswer()
        let text = #"""
            {"statusCode":200,"headers":{"content-type":"a","Content-Length":"5","Transfer-Encoding":"chunked",
             "Keep-Alive":"x","Proxy-Connection":"x","TE":"x","Trailer":"x","Upgrade":"x",
             "Date":"x","X-Amzn-RequestId":"x","X-Other":"x","Content\u002DType":"b","C\u006fnnection":"x",
             "Server":"x","W\u0057W-Authenticate":"x","Host":"x"}}
            """#
        #expect(answer.parse(bytes(text).span, format: .version1) == .response)
        #expect(answer.fields.map(\.role) == [.contentType, .remapped, .dropped, .dropped, .dropped, .dropped, .remapped,
                                              .remapped, .remapped, .remapped, .ordinary,
                                              .contentType, .remapped, .remapped, .remapped, .remapped])
        #expect(answer.hasContentType)
    }

    @Test func escapedMemberNamesAreRecognized() {
        #expect(read(#"{"status\u0043ode":201,"b\u006fdy":"x"}"#).1 == WrittenAnswer(status: 201, fields: [],
                                                                                     body: bytes("x")))
    }

    // MARK: - Base64 bodies

    @Test(arguments: [
        ("aGVsbG8=", "hello"), ("aGVsbG8", "hello"), ("aGVsbA==", "hell"), ("aGVsbA", "hell"), ("aGVs", "hel"),
        ("", ""), ("\\/w==", "\u{FF}"), ("\\u0061GVsbG8=", "hello"),
    ])
    func base64BodiesAreDecoded(encoded: String, decoded: String) {
        var answer = FunctionAnswer()
        let input = bytes(#"{"statusCode":200,"isBase64Encoded":true,"body":"\#(encoded)"}"#)
        #expect(answer.parse(input.span, format: .version1) == .response)
        #expect(answer.isBase64Encoded)
        // "\u{FF}" stands for the single byte 0xFF here.
        let expected = decoded == "\u{FF}" ? [UInt8(0xFF)] : bytes(decoded)
        #expect(answer.bodyByteCount(of: input.span, decodingBase64: true) == expected.count)
        var output: [UInt8] = []
        #expect(answer.writeBody(of: input.span, decodingBase64: true, to: &output))
        #expect(output == expected)
        // Not decoding (a REST API whose response is not a binary media type) gives the text.
        var text: [UInt8] = []
        #expect(answer.writeBody(of: input.span, decodingBase64: false, to: &text))
        #expect(answer.bodyByteCount(of: input.span, decodingBase64: false) == text.count)
    }

    @Test(arguments: ["a", "aGVsbG8=x", "aGVsbA=", "aGVsbG8==", "aGVs bG8=", "aGVs\\nbG8=", "aGVs-_==", "=", "==",
                      "aGVsbG8=====", "aGVsbG8=aGVs", "aGV=bG8=", "aGVsb", "aGVsbG8\\u0000"])
    func invalidBase64IsRefused(encoded: String) {
        var answer = FunctionAnswer()
        let input = bytes(#"{"statusCode":200,"isBase64Encoded":true,"body":"\#(encoded)"}"#)
        #expect(answer.parse(input.span, format: .version2) == .response)
        #expect(answer.bodyByteCount(of: input.span, decodingBase64: true) == nil)
        var output: [UInt8] = []
        #expect(!answer.writeBody(of: input.span, decodingBase64: true, to: &output))
    }

    @Test func base64OfBinaryRoundTrips() {
        var generator = SeededGenerator(seed: 99)
        for count in [0, 1, 2, 3, 4, 5, 100, 1000, 1001, 1002] {
            let binary = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let input = bytes(#"{"statusCode":200,"isBase64Encoded":true,"body":""#) + referenceBase64(binary) + bytes(#""}"#)
            var answer = FunctionAnswer()
            #expect(answer.parse(input.span, format: .version1) == .response)
            #expect(answer.bodyByteCount(of: input.span, decodingBase64: true) == count)
            var output: [UInt8] = []
            #expect(answer.writeBody(of: input.span, decodingBase64: true, to: &output))
            #expect(output == binary)
        }
    }

    @Test func unescapedByteCountMatchesWhatIsWritten() {
        let input = bytes(#""plain \"q\" \u00e9\u20ac\ud83d\ude00\ud800 end""#)
        let token = 1..<(input.count - 1)
        var output: [UInt8] = []
        FunctionAnswer.writeUnescaped(stringToken: token, of: input.span, to: &output)
        #expect(output == bytes("plain \"q\" é€😀\u{FFFD} end"))
        #expect(FunctionAnswer.unescapedByteCount(stringToken: token, of: input.span) == output.count)
    }

    // MARK: - Limits and reuse

    @Test func tooManyFieldsIsMalformed() {
        var answer = FunctionAnswer(fieldsMax: 4)
        let four = #"{"statusCode":200,"headers":{"A":"1","B":"2"},"multiValueHeaders":{"C":["1","2"]}}"#
        #expect(answer.parse(bytes(four).span, format: .version1) == .response)
        #expect(answer.fields.count == 4)
        let five = #"{"statusCode":200,"headers":{"A":"1","B":"2","E":"5"},"multiValueHeaders":{"C":["1","2"]}}"#
        #expect(answer.parse(bytes(five).span, format: .version1) == .malformed)
        // In 2.0 without statusCode the answer is a body, whatever it holds.
        let inferred = #"{"headers":{"A":"1","B":"2","C":"3","D":"4","E":"5"}}"#
        #expect(answer.parse(bytes(inferred).span, format: .version2) == .response)
    }

    @Test func oneValueIsReusedFromAnswerToAnswer() {
        var answer = FunctionAnswer()
        let first = read(#"{"statusCode":200,"headers":{"A":"1"},"body":"x","isBase64Encoded":true}"#, answer: &answer)
        #expect(first.1?.fields == ["A: 1"])
        #expect(read("nonsense", answer: &answer).0 == .malformed)
        let second = read(#"{"statusCode":201}"#, answer: &answer)
        #expect(second.1 == WrittenAnswer(status: 201, fields: [], body: []))
        #expect(!answer.isBase64Encoded)
        #expect(answer.fields.isEmpty)
    }

    @Test func aLargeBodyIsParsedAndWritten() {
        var generator = SeededGenerator(seed: 3)
        let text = String((0..<1_000_000).map { _ in "abcdefghij\"\\\n é€😀".randomElement(using: &generator)! })
        let escaped = referenceEscaped(text)
        let input = bytes(#"{"statusCode":200,"body":""#) + escaped + bytes(#""}"#)
        var answer = FunctionAnswer()
        #expect(answer.parse(input.span, format: .version1) == .response)
        var output: [UInt8] = []
        #expect(answer.writeBody(of: input.span, decodingBase64: false, to: &output))
        #expect(output == bytes(text))
        #expect(answer.bodyByteCount(of: input.span, decodingBase64: false) == output.count)
    }
}
