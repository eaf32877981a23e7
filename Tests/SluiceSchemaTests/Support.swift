import SluiceSchema
import Testing

/// A schema or document written as JSON in a test.
func node(_ json: String) -> SchemaNode {
    let bytes = Array(json.utf8)
    guard let node = SchemaNode.parse(json: bytes.span) else {
        preconditionFailure("test JSON does not parse: \(json)")
    }
    return node
}

/// Compiles `schema` (JSON text) against `document` (JSON text; the schema itself when nil).
func compile(_ schema: String, document: String? = nil) throws(SchemaError) -> CompiledSchema {
    let schemaNode = node(schema)
    return try CompiledSchema.compile(schemaNode, document: document.map(node) ?? schemaNode)
}

/// The compile error for `schema`, or nil when it compiles.
func compileError(_ schema: String, document: String? = nil) -> SchemaError? {
    do {
        _ = try compile(schema, document: document)
        return nil
    } catch {
        return error
    }
}

/// Validates `body` (raw bytes) and returns the answer and the error string.
func validate(_ schema: CompiledSchema, _ body: [UInt8]) -> (valid: Bool, errors: String) {
    var report = ValidationReport()
    let valid = schema.validate(body.span, report: &report)
    return (valid, report.validationErrorString)
}

func validate(_ schema: CompiledSchema, _ body: String) -> (valid: Bool, errors: String) {
    validate(schema, Array(body.utf8))
}

/// Whether `body` is valid against `schema` (both JSON text).
func isValid(_ schema: String, _ body: String, document: String? = nil) throws -> Bool {
    validate(try compile(schema, document: document), body).valid
}

/// The error string for `body` against `schema`.
func errors(_ schema: String, _ body: String) throws -> String {
    validate(try compile(schema), body).errors
}
