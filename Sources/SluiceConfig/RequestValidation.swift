import SluiceHTTP1
import SluiceSchema
import Yams

/// What a method's request validator checks (`x-amazon-apigateway-request-validator`):
/// required query parameters and headers (present and not blank), and the body against the
/// JSON Schema draft 4 model for its content type, compiled at load.
public struct RequestValidation: Sendable {
    /// The validator's name, for messages.
    public var validator: String
    public var validatesParameters = false
    /// In definition order (path item's parameters, then the operation's).
    public var requiredParameters: [RequiredParameter] = []
    /// By content type, lowercased (`application/json`, or `$default` for any); none: the body is
    /// not validated.
    public var bodyModels: [BodyModel] = []

    public init(validator: String) {
        self.validator = validator
    }

    /// The model for a request's Content-Type (none counts as `application/json`): the exact
    /// media type's, else `$default`'s; nil when the request's body is not validated (API
    /// Gateway: "If no matching content type is found, request validation is not performed").
    public func model(for contentType: Span<UInt8>?) -> Int? {
        for (index, model) in bodyModels.enumerated()
        where model.contentType != "$default" && MappingTemplates.mediaType(contentType, is: model.contentType) {
            return index
        }
        return bodyModels.firstIndex { $0.contentType == "$default" }
    }
}

public struct RequiredParameter: Sendable, Equatable {
    public var name: String
    public var isHeader: Bool

    public init(name: String, isHeader: Bool) {
        self.name = name
        self.isHeader = isHeader
    }
}

public struct BodyModel: Sendable {
    public var contentType: String
    public var schema: CompiledSchema
}

/// YAML (or JSON read as YAML) as the schema compiler's tree: plain scalars typed as JSON would
/// read them (`true`, `null`, numbers), quoted ones as strings.
enum SchemaDocument {
    static func convert(_ node: Node) -> SchemaNode {
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            guard scalar.style == .plain else { return SchemaNode(.string(text), line: node.line) }
            switch text {
            case "true", "True", "TRUE": return SchemaNode(.bool(true), line: node.line)
            case "false", "False", "FALSE": return SchemaNode(.bool(false), line: node.line)
            case "null", "Null", "NULL", "~", "": return SchemaNode(.null, line: node.line)
            default:
                return isJSONNumber(text) ? SchemaNode(.number(text), line: node.line) : SchemaNode(.string(text), line: node.line)
            }
        case .mapping(let mapping):
            return SchemaNode(.object(mapping.map { SchemaNode.Member(key: $0.key.text ?? "", value: convert($0.value)) }),
                              line: node.line)
        case .sequence(let sequence):
            return SchemaNode(.array(sequence.map(convert)), line: node.line)
        case .alias:
            return SchemaNode(.null, line: node.line)
        }
    }

    /// JSON's number grammar.
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        guard let first = bytes.first, first >= 0x30 && first <= 0x39 else { return false }
        if first == 0x30 { bytes = bytes.dropFirst() } else { while let digit = bytes.first, digit >= 0x30 && digit <= 0x39 { bytes = bytes.dropFirst() } }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard let digit = bytes.first, digit >= 0x30 && digit <= 0x39 else { return false }
            while let digit = bytes.first, digit >= 0x30 && digit <= 0x39 { bytes = bytes.dropFirst() }
        }
        if let exponent = bytes.first, exponent == UInt8(ascii: "e") || exponent == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard let digit = bytes.first, digit >= 0x30 && digit <= 0x39 else { return false }
            while let digit = bytes.first, digit >= 0x30 && digit <= 0x39 { bytes = bytes.dropFirst() }
        }
        return bytes.isEmpty
    }
}

/// A definition's request validators (`x-amazon-apigateway-request-validators`) and the API's
/// default (`x-amazon-apigateway-request-validator` at the top level).
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

    /// What an operation's validator checks: its required query parameters and headers, and
    /// the body's models by content type. Nil when it checks nothing; `.failure` when the
    /// operation names a validator that does not exist, or a model does not compile (reported).
    func compile(operation fields: [(key: Node, value: Node)], pathItemParameters: [Node], label: String,
                 consumes: [String], resolve: (Node) -> Node?, document: () -> SchemaNode,
                 file: String, log: DiagnosticLog) -> Result<RequestValidation?, ValidatorError> {
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
        var validation = RequestValidation(validator: name)
        var bodySchemas: [(contentType: String, schema: Node)] = []
        var operationConsumes = consumes
        if case .sequence(let list)? = fields.first(where: { $0.key.text == "consumes" })?.value {
            operationConsumes = list.compactMap { $0.text?.lowercased() }
        }
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
                guard isRequired, let parameterName = text("name") else { continue }
                validation.requiredParameters.append(RequiredParameter(name: parameterName, isHeader: text("in") == "header"))
            case "body":
                // Swagger 2: the body's model, for each content type the operation consumes.
                guard let schema = parameter.first(where: { $0.key.text == "schema" })?.value else { continue }
                for contentType in operationConsumes.isEmpty ? ["application/json"] : operationConsumes {
                    bodySchemas.append((contentType, schema))
                }
            default: break
            }
        }
        if let requestBody = fields.first(where: { $0.key.text == "requestBody" })?.value,
           let content = resolve(requestBody)?.entries?.first(where: { $0.key.text == "content" })?.value {
            for (typeNode, media) in content.entries ?? [] {
                guard let schema = media.entries?.first(where: { $0.key.text == "schema" })?.value else { continue }
                bodySchemas.append(((typeNode.text ?? "").lowercased(), schema))
            }
        }
        validation.validatesParameters = validator.parameters && !validation.requiredParameters.isEmpty
        if !validation.validatesParameters { validation.requiredParameters = [] }
        if validator.body {
            let whole = document()
            for (contentType, schemaNode) in bodySchemas {
                do {
                    let compiled = try CompiledSchema.compile(SchemaDocument.convert(schemaNode), document: whole)
                    validation.bodyModels.append(BodyModel(contentType: contentType, schema: compiled))
                } catch {
                    log.error(file, error.line, "\(label): the \(contentType) model: \(error.message)")
                    return .failure(ValidatorError())
                }
            }
        }
        return .success(validation.validatesParameters || !validation.bodyModels.isEmpty ? validation : nil)
    }

    struct ValidatorError: Error {}
}
