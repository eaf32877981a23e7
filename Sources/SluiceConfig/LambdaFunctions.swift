/// A Lambda function as an AWS_PROXY integration URI or a `lambda_functions` key names it:
/// `arn:aws:lambda:us-east-1:123456789012:function:NAME[:QUALIFIER]`, or `NAME[:QUALIFIER]`.
struct LambdaFunctionReference: Equatable {
    /// The unqualified function ARN; nil when only a name was written, or when the ARN holds AWS
    /// variables (`${AWS::Region}`), whose values Sluice does not know.
    var arn: String?
    /// The function's name.
    var name: String
    /// An alias or version (`prod`, `7`, `$LATEST`), or nil.
    var qualifier: String?

    /// The `lambda_functions` keys that may name this function, most specific first: the
    /// qualified ARN, the ARN, `NAME:QUALIFIER`, `NAME`.
    var lookupKeys: [String] {
        var keys: [String] = []
        if let arn, let qualifier { keys.append("\(arn):\(qualifier)") }
        if let arn { keys.append(arn) }
        if let qualifier { keys.append("\(name):\(qualifier)") }
        keys.append(name)
        return keys
    }

    /// How this reference is written back (the qualified ARN when known, else `NAME[:QUALIFIER]`).
    var description: String { lookupKeys[0] }

    /// The function of an AWS_PROXY integration URI, stage variables already substituted:
    /// API Gateway's `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations`,
    /// or a bare function ARN (as HTTP API definitions may write it).
    static func fromIntegrationURI(_ uri: String) -> Result<LambdaFunctionReference, URLProblem> {
        let text = withoutAWSVariables(uri)
        if let functions = text.firstRange(of: "/functions/"), text.hasPrefix("arn:"),
           text[..<functions.lowerBound].contains(":apigateway:"),
           text[..<functions.lowerBound].contains(":lambda:path/") {
            let rest = text[functions.upperBound...]
            guard let invocations = rest.ranges(of: "/invocations").last, invocations.upperBound == rest.endIndex else {
                return .failure(URLProblem("it does not end with /invocations"))
            }
            return parse(String(rest[..<invocations.lowerBound]), variablesReplaced: true)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count >= 3, parts[0] == "arn", parts[2] == "lambda" {
            return parse(text, variablesReplaced: true)
        }
        return .failure(URLProblem("it is not a Lambda function ARN (arn:aws:apigateway:REGION:lambda:path/"
                                   + "2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations)"))
    }

    /// A function ARN, or `NAME[:QUALIFIER]`.
    static func parse(_ written: String, variablesReplaced: Bool = false) -> Result<LambdaFunctionReference, URLProblem> {
        let text = variablesReplaced ? written : withoutAWSVariables(written)
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var name: String
        var qualifier: String?
        var arn: String?
        if parts[0] == "arn" {
            guard parts.count == 7 || parts.count == 8, parts[2] == "lambda", parts[5] == "function",
                  !parts[1].isEmpty, !parts[3].isEmpty, !parts[4].isEmpty else {
                return .failure(URLProblem("'\(written)' is not a Lambda function ARN "
                                           + "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:ALIAS])"))
            }
            name = parts[6]
            qualifier = parts.count == 8 ? parts[7] : nil
            let hasVariables = parts[0..<7].contains { $0 == awsVariableMarker }
            arn = hasVariables ? nil : parts[0..<7].joined(separator: ":")
        } else {
            guard parts.count <= 2 else {
                return .failure(URLProblem("'\(written)' is neither a function name (NAME[:ALIAS]) nor a function ARN"))
            }
            name = parts[0]
            qualifier = parts.count == 2 ? parts[1] : nil
        }
        guard isFunctionName(name) else {
            return .failure(URLProblem("'\(name)' is not a Lambda function name (letters, digits, '-' and '_')"))
        }
        if let qualifier, !isQualifier(qualifier) {
            return .failure(URLProblem("'\(qualifier)' is not a Lambda alias or version"))
        }
        return .success(LambdaFunctionReference(arn: arn, name: name, qualifier: qualifier))
    }

    /// What AWS variables (`${AWS::Region}`, `${AWS::AccountId}`, `${AWS::Partition}`, which API
    /// Gateway's importer substitutes) become: a marker that cannot occur in a real ARN.
    static let awsVariableMarker = "*"

    static func withoutAWSVariables(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${AWS::"), let close = rest[start.upperBound...].firstIndex(of: "}") {
            result += rest[..<start.lowerBound]
            result += awsVariableMarker
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    static func isFunctionName(_ text: String) -> Bool {
        (1...64).contains(text.count) && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-"
                               || scalar == "_")
        }
    }

    static func isQualifier(_ text: String) -> Bool {
        (1...128).contains(text.count) && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-"
                               || scalar == "_" || scalar == "$")
        }
    }
}

/// One `lambda_functions` entry of sluice.yaml: where a function's emulator listens.
struct LambdaEndpoint {
    /// The key as written.
    var key: String
    /// Its line in sluice.yaml, where messages about the entry point.
    var line: Int
    var url: UpstreamURL
    /// The path written in the URL, or the emulator's.
    var invocationPath: String
}
