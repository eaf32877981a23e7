import Yams

/// A definition's request validators (`x-amazon-apigateway-request-validators`) and the API's
/// default (`x-amazon-apigateway-request-validator` at the top level). Until Sluice validates
/// requests, a method whose validator has something to check is refused (fail closed); one whose
/// validator has nothing to check (no required parameter, no body model) is served.
struct RequestValidators {
    struct Validator {
        var body: Bool
        var parameters: Bool
    }

    var validators: [String: Validator] = [:]
    var defaultName: String?
    var defaultLine = 0

    /// A YAML boolean, in the spellings YAML 1.1 and 1.2 give it; nil for anything else.
    static func boolean(_ text: String?) -> Bool? {
        switch text?.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }

    /// Reads the top level's validators and default. Nil when an error was reported.
    static func read(validators node: Node?, default defaultNode: Node?, file: String,
                     log: DiagnosticLog) -> RequestValidators? {
        var result = RequestValidators()
        if let node, !node.isNull {
            guard let entries = node.entries else {
                log.error(file, node.line, "x-amazon-apigateway-request-validators must be a mapping of validators")
                return nil
            }
            for (nameNode, fields) in entries {
                guard let name = nameNode.text else { continue }
                // A validator that is not a mapping would check nothing: refused, not served unchecked.
                guard let validatorFields = fields.entries else {
                    log.error(file, fields.line, "request validator '\(name)' must be a mapping with "
                              + "validateRequestBody and validateRequestParameters, not \(fields.kindName)")
                    return nil
                }
                func flag(_ key: String) -> Bool? {
                    guard let value = validatorFields.first(where: { $0.key.text == key })?.value else { return false }
                    guard let flag = Self.boolean(value.text) else {
                        log.error(file, value.line, "request validator '\(name)': \(key) must be true or false")
                        return nil
                    }
                    return flag
                }
                guard let body = flag("validateRequestBody"), let parameters = flag("validateRequestParameters") else {
                    return nil
                }
                result.validators[name] = Validator(body: body, parameters: parameters)
            }
        }
        if let defaultNode {
            guard let name = defaultNode.text, result.validators[name] != nil else {
                log.error(file, defaultNode.line, "x-amazon-apigateway-request-validator names '\(defaultNode.text ?? "?")', "
                          + "which x-amazon-apigateway-request-validators does not define")
                return nil
            }
            result.defaultName = name
            result.defaultLine = defaultNode.line
        }
        return result
    }

    /// What an operation's validator would check, as words for `check` ("parameters h1, q1",
    /// "body"), or nil when it checks nothing. `.failure` when the operation names a validator
    /// that does not exist (reported).
    func checks(operation fields: [(key: Node, value: Node)], pathItemParameters: [Node], label: String,
                resolve: (Node) -> Node?, file: String, log: DiagnosticLog) -> Result<String?, ValidatorError> {
        var name = defaultName
        if let own = fields.first(where: { $0.key.text == "x-amazon-apigateway-request-validator" })?.value {
            guard let text = own.text, validators[text] != nil else {
                log.error(file, own.line, "\(label): x-amazon-apigateway-request-validator names '\(own.text ?? "?")', "
                          + "which x-amazon-apigateway-request-validators does not define")
                return .failure(ValidatorError())
            }
            name = text
        }
        guard let name, let validator = validators[name] else { return .success(nil) }
        var parameters = pathItemParameters
        if case .sequence(let list)? = fields.first(where: { $0.key.text == "parameters" })?.value {
            parameters += Array(list)
        }
        var required: [String] = []
        var hasBodyModel = false
        for parameterNode in parameters {
            guard let parameter = resolve(parameterNode)?.entries else { continue }
            func text(_ key: String) -> String? { parameter.first { $0.key.text == key }?.value.text }
            switch text("in") {
            case "query", "header":
                guard let isRequired = text("required").map(Self.boolean) ?? false else {
                    let line = parameter.first { $0.key.text == "required" }?.value.line ?? 0
                    log.error(file, line, "\(label): a parameter's required must be true or false")
                    return .failure(ValidatorError())
                }
                if isRequired, let parameterName = text("name") { required.append(parameterName) }
            case "body":
                if parameter.contains(where: { $0.key.text == "schema" }) { hasBodyModel = true }
            default: break
            }
        }
        if let requestBody = fields.first(where: { $0.key.text == "requestBody" })?.value,
           let content = resolve(requestBody)?.entries?.first(where: { $0.key.text == "content" })?.value {
            for (_, media) in content.entries ?? [] where media.entries?.contains(where: { $0.key.text == "schema" }) ?? false {
                hasBodyModel = true
            }
        }
        var checked: [String] = []
        if validator.parameters && !required.isEmpty { checked.append("parameters " + required.joined(separator: ", ")) }
        if validator.body && hasBodyModel { checked.append("body") }
        return .success(checked.isEmpty ? nil : "the request validator '\(name)' (\(checked.joined(separator: "; ")))")
    }

    struct ValidatorError: Error {}
}
