import SluiceConfig
import SluiceJSON
import Testing

@Suite struct BinaryMediaTypesTests {
    func matches(_ types: [String], _ value: String) -> Bool {
        let bytes = Array(value.utf8)
        return BinaryMediaTypes(types).matches(bytes.span)
    }

    @Test func exactWildcardAndParameters() {
        #expect(matches(["image/png"], "image/png"))
        #expect(matches(["image/png"], "IMAGE/PNG; q=0.9"))
        #expect(matches(["image/png"], " image/png , text/html"))
        #expect(!matches(["image/png"], "image/pngx"))
        #expect(!matches(["image/png"], "text/html, image/png"))
        #expect(matches(["image/*"], "image/webp"))
        #expect(!matches(["image/*"], "imagex/webp"))
        #expect(matches(["*/*"], "application/json"))
        #expect(!matches([], "image/png"))
        #expect(!matches(["*/*"], "nonsense"))
        #expect(!matches(["*/*"], ""))
    }

    @Test func conversionTables() {
        // Requests (API Gateway's first table).
        #expect(PayloadConversion.request(binary: false, handling: nil) == .none)
        #expect(PayloadConversion.request(binary: true, handling: nil) == .none)
        #expect(PayloadConversion.request(binary: false, handling: .convertToBinary) == .base64Decode)
        #expect(PayloadConversion.request(binary: true, handling: .convertToBinary) == .none)
        #expect(PayloadConversion.request(binary: false, handling: .convertToText) == .none)
        #expect(PayloadConversion.request(binary: true, handling: .convertToText) == .base64Encode)
        // Answers (the second): by the answer's type, the request's Accept and the handling.
        #expect(PayloadConversion.response(binary: false, wantsBinary: false, handling: nil) == .none)
        #expect(PayloadConversion.response(binary: false, wantsBinary: true, handling: nil) == .base64Decode)
        #expect(PayloadConversion.response(binary: true, wantsBinary: false, handling: nil) == .base64Encode)
        #expect(PayloadConversion.response(binary: true, wantsBinary: true, handling: nil) == .none)
        #expect(PayloadConversion.response(binary: false, wantsBinary: false, handling: .convertToBinary) == .base64Decode)
        #expect(PayloadConversion.response(binary: true, wantsBinary: false, handling: .convertToBinary) == .none)
        #expect(PayloadConversion.response(binary: false, wantsBinary: true, handling: .convertToText) == .none)
        #expect(PayloadConversion.response(binary: true, wantsBinary: true, handling: .convertToText) == .base64Encode)
    }

    @Test func base64RoundTripsAndRefusesWhatIsNotBase64() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            var encoded: [UInt8] = []
            Base64.encode(bytes.span, into: &encoded)
            #expect(encoded.count == Base64.encodedCount(length))
            var decoded: [UInt8] = []
            #expect(Base64.decode(encoded.span, into: &decoded))
            #expect(decoded == bytes)
            // Without its padding too.
            let unpadded = Array(encoded.prefix { $0 != UInt8(ascii: "=") })
            decoded = []
            #expect(Base64.decode(unpadded.span, into: &decoded))
            #expect(decoded == bytes)
        }
        var encoded: [UInt8] = []
        Base64.encode(Array("any carnal pleas".utf8).span, into: &encoded)
        #expect(String(decoding: encoded, as: UTF8.self) == "YW55IGNhcm5hbCBwbGVhcw==")
        for bad in ["a", "ab=c", "a b=", "YW55*", "YW5=5", "Y===", "YW55IA="] {
            var output: [UInt8] = [7]
            #expect(!Base64.decode(Array(bad.utf8).span, into: &output), "\(bad)")
            #expect(output == [7])
        }
    }
}

@Suite struct BinaryMediaConfigTests {
    func load(_ definition: String) -> LoadResult {
        loadConfig("""
            apis:
              - name: api
                definition: api.yaml
                stages: { prod: {} }
            """, definitions: ["api.yaml": definition])
    }

    @Test func typesAndContentHandlingAreRead() throws {
        let result = load("""
            openapi: 3.0.1
            x-amazon-apigateway-binary-media-types: [image~1png, "application/*"]
            paths:
              /m:
                post:
                  x-amazon-apigateway-integration:
                    type: http
                    httpMethod: POST
                    uri: http://backend.example/m
                    contentHandling: convert_to_text
                    responses:
                      default: {statusCode: "200", contentHandling: CONVERT_TO_BINARY}
            """)
        #expect(result.diagnostics.isEmpty, "\(result.lines)")
        let deployment = try #require(result.deployment)
        #expect(deployment.apis[0].binaryMediaTypes == BinaryMediaTypes(["image/png", "application/*"]))
        let http = try #require(deployment.operations[0].integration.http)
        #expect(http.requestTemplates.contentHandling == .convertToText)
        #expect(http.responses[0].contentHandling == .convertToBinary)
    }

    @Test func mistakesAreErrorsAtTheirLines() {
        let badType = load("""
            openapi: 3.0.1
            x-amazon-apigateway-binary-media-types: [png]
            paths: {}
            """)
        #expect(badType.lines.contains { $0.contains("api.yaml:2") && $0.contains("'png' is not a media type") },
                "\(badType.lines)")
        let badHandling = load("""
            openapi: 3.0.1
            paths:
              /m:
                get:
                  x-amazon-apigateway-integration:
                    type: mock
                    requestTemplates: {application/json: '{"statusCode": 200}'}
                    responses:
                      default: {statusCode: "200", contentHandling: CONVERT_TO_JPEG}
            """)
        #expect(badHandling.lines.contains { $0.contains("api.yaml:9") && $0.contains("contentHandling must be") },
                "\(badHandling.lines)")
    }
}
