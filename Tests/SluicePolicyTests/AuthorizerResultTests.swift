import SluicePolicy
import Testing

@Suite struct AuthorizerResultTests {
    static let arn = "arn:aws:execute-api:us-east-1:123456789012:petstore/prod/GET/pets/7"

    func compiled(_ answer: String, simple: Bool = false) -> [UInt8]? {
        var output: [UInt8] = []
        let bytes = Array(answer.utf8)
        guard case .success = AuthorizerResult.compile(bytes.span, simple: simple, into: &output) else { return nil }
        return output
    }

    func decide(_ answer: String, arn: String = AuthorizerResultTests.arn, simple: Bool = false) -> PolicyDecision? {
        guard let result = compiled(answer, simple: simple) else { return nil }
        let text = Array(arn.utf8)
        guard let reader = AuthorizerResultReader(result.span) else { return nil }
        return reader.decide(result.span, methodARN: text.span)
    }

    static func policy(_ statements: String) -> String {
        #"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":"# + statements + "}}"
    }

    @Test func allowDenyAndWildcards() {
        let allowAll = Self.policy(#"[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:*"}]"#)
        #expect(decide(allowAll) == .allow)
        let allowOther = Self.policy(#"{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:123456789012:petstore/prod/POST/*"}"#)
        #expect(decide(allowOther) == .implicitDeny)
        let question = Self.policy(#"[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":["x","arn:aws:execute-api:us-east-1:123456789012:petstore/prod/GET/pets/?"]}]"#)
        #expect(decide(question) == .allow)
        #expect(decide(question, arn: Self.arn + "7") == .implicitDeny)
        let denyWins = Self.policy(#"[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"},{"Action":"execute-api:*","Effect":"Deny","Resource":"*/GET/pets/*"}]"#)
        #expect(decide(denyWins) == .explicitDeny)
        let notResource = Self.policy(#"[{"Action":"*","Effect":"Allow","NotResource":"*/admin"}]"#)
        #expect(decide(notResource) == .allow)
        #expect(decide(notResource, arn: "arn:aws:execute-api:r:a:api/prod/GET/admin") == .implicitDeny)
        // A statement about another action cannot apply.
        let otherAction = Self.policy(#"[{"Action":"s3:GetObject","Effect":"Allow","Resource":"*"}]"#)
        #expect(decide(otherAction) == .implicitDeny)
        // Actions are case-insensitive; effects are IAM's `Allow` and `Deny` exactly.
        let lowercaseAction = Self.policy(#"[{"Action":"execute-api:invoke","Effect":"Allow","Resource":"*"}]"#)
        #expect(decide(lowercaseAction) == .allow)
        #expect(decide(Self.policy(#"[{"Action":"*","Effect":"allow","Resource":"*"}]"#)) == nil)
    }

    @Test func simpleAnswersAndContext() throws {
        #expect(decide(#"{"isAuthorized":true}"#, simple: true) == .allow)
        #expect(decide(#"{"isAuthorized":false,"context":{"a":"b"}}"#, simple: true) == .implicitDeny)
        let result = try #require(compiled(#"{"principalId":"alice","usageIdentifierKey":"k1","context":{"team":"pay\"ments","n":42,"ok":true,"gone":null},"# +
                                           #""policyDocument":{"Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}"#))
        let parsed = AuthorizerResultReader(result.span)
        let reader = try #require(parsed)
        #expect(Array(result[reader.principal]) == Array("alice".utf8))
        #expect(Array(result[reader.usageKey]) == Array("k1".utf8))
        var seen: [String] = []
        reader.forEachContext(result.span) { key, kind, value in
            seen.append("\(String(decoding: result[key], as: UTF8.self))=\(kind)=\(String(decoding: result[value], as: UTF8.self))")
        }
        #expect(seen == ["team=string=pay\"ments", "n=number=42", "ok=trueLiteral=true"])
        let name = Array("n".utf8)
        let found = reader.context(result.span, named: name.span)
        #expect(found?.0 == .number)
    }

    @Test func malformedAnswers() {
        #expect(compiled("not json") == nil)
        #expect(compiled(#"{"policyDocument":{"Statement":[]}}"#) == nil)  // no principal
        #expect(compiled(#"{"principalId":"u"}"#) == nil)  // no policy
        #expect(compiled(Self.policy(#"[{"Action":"execute-api:Invoke","Effect":"Maybe","Resource":"*"}]"#)) == nil)
        #expect(compiled(#"{"principalId":"u","policyDocument":{"Statement":[]},"context":{"o":{"x":1}}}"#) == nil)
        #expect(compiled(#"{"isAuthorized":"yes"}"#, simple: true) == nil)
        #expect(compiled(#"{}"#, simple: true) == nil)
    }
}
