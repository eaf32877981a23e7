import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceSchema
import SluiceURing

/// Request validation (`x-amazon-apigateway-request-validator`), as API Gateway runs it: the
/// required query parameters and headers must be present and not blank, and the body must match
/// the model for its content type (JSON Schema draft 4, compiled at load; SluiceSchema). A
/// request that fails gets 400 with `x-amzn-ErrorType: BadRequestException` and never reaches the
/// integration; the detail is `$context.error.validationErrorString`.
struct ValidationState {
    /// By operation: what its validator checks, with header names lowercased for lookups.
    let validations: [RequestValidation?]
    let requiredNames: [[[UInt8]]]
    /// The detail of each client connection's last refusal (`$context.error.validationErrorString`),
    /// for its access-log line: one slot per client; empty when no method validates anything.
    let details: ByteSlab
    static let detailBytesMax = 1_024
    var report: ValidationReport
    /// The missing parameters' answer as it is being written.
    var message: [UInt8] = []

    init(deployment: Deployment, clientSlots: Int) throws(SystemError) {
        validations = deployment.operations.map(\.requestValidation)
        requiredNames = deployment.operations.map { operation in
            (operation.requestValidation?.requiredParameters ?? []).map { parameter in
                Array((parameter.isHeader ? parameter.name.lowercased() : parameter.name).utf8)
            }
        }
        let any = validations.contains { $0 != nil }
        details = try ByteSlab(slotCount: any ? clientSlots : 1, slotBytes: any ? Self.detailBytesMax : 1)
        report = ValidationReport(messageBytesMax: Self.detailBytesMax)
        message.reserveCapacity(Self.detailBytesMax + 64)
    }

    static let missingPrefix: [UInt8] = Array("Missing required request parameters: [".utf8)
    static let messageOpen: [UInt8] = Array(#"{"message": ""#.utf8)
    static let messageClose: [UInt8] = Array(#""}"#.utf8)
    static let errorTypeLine = ResponseHead.headerLine("x-amzn-ErrorType", "BadRequestException")
}

extension Worker {
    /// Step 9: request validation.
    func validationStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        let operation = match.operation
        guard let validation = validating.validations[operation] else { return .proceed }
        connections[index].request.record.validationErrorLength = 0
        if validation.validatesParameters, let refused = checkParameters(index, bytes, validation, operation: operation) {
            return refused
        }
        guard !validation.bodyModels.isEmpty else { return .proceed }
        let model: Int?
        let contentTypeName = Worker.contentTypeName
        if let contentType = head.value(ofHeader: contentTypeName.span, in: bytes) {
            model = validation.model(for: bytes.extracting(contentType))
        } else {
            model = validation.model(for: nil)
        }
        // A content type without a model is not validated (API Gateway's rule).
        guard let model else { return .proceed }
        let content: RequestContent
        switch awaitContent(index, bytes) {
        case .ready(let body): content = body
        case .wait: return .wait
        case .refuse(let answer): return .refuse(answer)
        }
        let schema = validation.bodyModels[model].schema
        let valid = withContent(content, in: bytes) { body in schema.validate(body, report: &validating.report) }
        guard !valid else { return .proceed }
        keepValidationDetail(index, validating.report.validationErrorBytes)
        rejections.countValidation(slot: slot, stage: match.stage)
        return .refuse(.badRequestBody)
    }

    /// The required parameters: nil when all are there; else the refusal, its message naming
    /// the missing ones (`Missing required request parameters: [q1, h1]`).
    private func checkParameters(_ index: Int, _ bytes: Span<UInt8>, _ validation: RequestValidation,
                                 operation: Int) -> StepOutcome? {
        let names = validating.requiredNames[operation]
        var missing = 0
        validating.message.removeAll(keepingCapacity: true)
        for (position, parameter) in validation.requiredParameters.enumerated() {
            let name = names[position]
            var present = false
            if parameter.isHeader {
                if let value = head.value(ofHeader: name.span, in: bytes) {
                    present = !HTTPBytes.trimmingWhitespace(bytes, value).isEmpty
                }
            } else if let value = QueryString.value(of: name, in: bytes.extracting(head.query)) {
                present = !value.isEmpty
            }
            guard !present else { continue }
            validating.message.append(contentsOf: missing == 0 ? ValidationState.missingPrefix : [0x2C, 0x20])
            validating.message.append(contentsOf: parameter.name.utf8)
            missing += 1
        }
        guard missing > 0 else { return nil }
        validating.message.append(0x5D)
        let message = validating.message
        keepValidationDetail(index, message)
        rejections.countValidation(slot: slot, stage: match.stage)
        // An API that shapes BAD_REQUEST_PARAMETERS answers with its gateway response.
        let group = Int(connections[index].request.group)
        if group >= 0, catalog.shapedIndex(of: .badRequestParameters, api: Int(stageAPIs[group])) != nil {
            return .refuse(.badRequestParameters)
        }
        // Otherwise API Gateway's body, naming the missing parameters.
        validating.message.insert(contentsOf: ValidationState.messageOpen, at: 0)
        validating.message.append(contentsOf: ValidationState.messageClose)
        let body = validating.message
        connections[index].request.record.answer = Int16(GatewayAnswer.badRequestParameters.rawValue)
        if let failure = writeRendered(index, status: 400, lines: ValidationState.errorTypeLine.span,
                                       contentTypeLine: Worker.jsonContentTypeLine, body: body.span, overrides: false,
                                       traced: false) {
            return .refuse(failure)
        }
        connections[index].request.id = 0
        requestAnswered(index)
        connections[index].request.pending.response = Worker.answeredByStep
        if !connections[index].request.pending.keepAlive { connections[index].closeAfterFlush = true }
        return .done
    }

    /// Keeps a refusal's detail for `$context.error.validationErrorString`.
    private func keepValidationDetail(_ index: Int, _ detail: [UInt8]) {
        guard index < validating.details.slotCount else { return }
        let length = min(detail.count, ValidationState.detailBytesMax)
        _ = validating.details.write(slot: index, offset: 0) { writer in writer.append(detail.span.extracting(0..<length)) }
        connections[index].request.record.validationErrorLength = Int16(length)
    }
}
