import Yams

/// Reads a MOCK `x-amazon-apigateway-integration` the way API Gateway runs it:
///
/// 1. the request template (`{"statusCode": 200}`) gives the integration's status code;
/// 2. that code, as a string, selects the integration response whose key (a selection pattern,
///    a regular expression matched against the whole string) matches, or else `default`;
/// 3. the selected response's `statusCode` is the status, its response template is the body and
///    its template's key the Content-Type, and its static `responseParameters` are headers.
///
/// A MOCK whose templates are plain text is decided once, at load time (`response`). One whose
/// templates use Velocity, or that chooses among several by content type, is rendered per request
/// by the worker from the compiled templates, the per-status table of integration responses and
/// the passthrough behaviour kept in `MockIntegration`.
struct MockImport {
    let file: String
    let log: DiagnosticLog
    let patterns: SelectionPatternCache

    /// The status MOCK assumes when the request template gives none.
    static let defaultIntegrationStatus = 200

    /// What API Gateway answers when no integration response matches and there is no default.
    static let internalServerError = MockResponse(status: 500, contentType: "application/json",
                                                  body: Array(#"{"message": "Internal server error"}"#.utf8))

    /// One integration response and the warnings that matter only if it is the one selected.
    private struct Candidate {
        var response: IntegrationResponse
        var regex: Regex<AnyRegexOutput>?
        var notes: [Note]
    }

    private struct Note {
        var line: Int
        var message: String
    }

    /// - Parameters:
    ///   - integration: the integration object's entries.
    ///   - label: `GET /pets`, to prefix messages.
    /// - Returns: nil when an error was reported.
    func read(_ integration: [(key: Node, value: Node)], label: String, line: Int) -> MockIntegration? {
        func entry(_ name: String) -> Node? { integration.first { $0.key.text == name }?.value }

        // 1. The request template and the status code it yields.
        let reader = TemplateReader(file: file, log: log)
        guard let compiled = reader.read(entry("requestTemplates"), label: label, what: "requestTemplates"),
              let passthrough = reader.passthrough(entry("passthroughBehavior"), label: label) else { return nil }
        let requestTemplates = RequestTemplates(templates: compiled, passthrough: passthrough)
        var requestTemplate: String?
        var requestTemplateLine = line
        if let templates = entry("requestTemplates"), let pairs = templates.entries, !pairs.isEmpty {
            let chosen = pairs.first { $0.key.text?.lowercased() == "application/json" } ?? pairs[0]
            requestTemplate = chosen.value.text ?? ""
            requestTemplateLine = chosen.value.line
        }
        let dynamicRequest = compiled.count > 1 || compiled.contains { !$0.template.isStatic }
        let status = dynamicRequest ? Self.defaultIntegrationStatus
            : integrationStatus(requestTemplate, label: label, line: requestTemplateLine)

        // 2. Every integration response, in definition order.
        var candidates: [Candidate] = []
        var valid = true
        if let responses = entry("responses") {
            guard let pairs = responses.entries else {
                if !responses.isNull {
                    log.error(file, responses.line, "\(label): integration 'responses' must be a mapping")
                    return nil
                }
                return finish(requestTemplate, requestTemplates, [], status, dynamic: dynamicRequest, label: label, line: line)
            }
            for (key, value) in pairs {
                guard let candidate = readResponse(key: key, value: value, label: label) else {
                    valid = false
                    continue
                }
                candidates.append(candidate)
            }
        }
        guard valid else { return nil }
        return finish(requestTemplate, requestTemplates, candidates, status, dynamic: dynamicRequest, label: label,
                      line: line)
    }

    private func finish(_ requestTemplate: String?, _ requestTemplates: RequestTemplates, _ candidates: [Candidate],
                        _ status: Int, dynamic dynamicRequest: Bool, label: String, line: Int) -> MockIntegration {
        let responses = candidates.map(\.response)
        let dynamic = dynamicRequest || responses.contains { response in
            response.compiledTemplates.count > 1 || response.compiledTemplates.contains { !$0.template.isStatic }
                || response.contentHandling != nil
        }
        // Per request: the first response whose pattern matches the status, else the default.
        let defaultIndex = candidates.firstIndex { $0.response.selectionPattern == nil } ?? -1
        let matches = candidates.map { candidate in
            candidate.response.selectionPattern.map { patterns.statuses(matching: $0) ?? [] }
        }
        let responseForStatus = (0...(HTTPIntegration.statusMax - HTTPIntegration.statusMin)).map { offset in
            matches.firstIndex { ($0?.count ?? 0) > offset && $0![offset] } ?? defaultIndex
        }
        if dynamic {
            // Notes about the load-time choice do not apply: every response may be chosen.
            for candidate in candidates {
                for note in candidate.notes { log.warning(file, note.line, note.message) }
            }
            return MockIntegration(requestTemplate: requestTemplate, integrationResponses: responses,
                                   response: Self.internalServerError, requestTemplates: requestTemplates,
                                   responseForStatus: responseForStatus, isDynamic: true)
        }
        let statusText = String(status)
        let selected = candidates.first { candidate in
            guard candidate.response.selectionPattern != nil, let regex = candidate.regex else { return false }
            return (try? regex.wholeMatch(in: statusText)) != nil
        } ?? candidates.first { $0.response.selectionPattern == nil }

        guard let selected else {
            log.warning(file, line, "\(label): no integration response matches status \(status) and there is "
                        + "no default response; answers 500")
            return MockIntegration(requestTemplate: requestTemplate, integrationResponses: responses,
                                   response: Self.internalServerError, requestTemplates: requestTemplates,
                                   responseForStatus: responseForStatus)
        }
        for note in selected.notes { log.warning(file, note.line, note.message) }
        return MockIntegration(requestTemplate: requestTemplate, integrationResponses: responses,
                               response: Self.response(for: selected.response), requestTemplates: requestTemplates,
                               responseForStatus: responseForStatus)
    }

    /// The response a selected integration response sends while templates are not evaluated.
    static func response(for integrationResponse: IntegrationResponse) -> MockResponse {
        // API Gateway prefers the application/json template; otherwise the only or first one. With
        // no template the body is empty and the Content-Type is API Gateway's default.
        let template = integrationResponse.templates.first { $0.contentType.lowercased() == "application/json" }
            ?? integrationResponse.templates.first
        var contentType = template?.contentType ?? "application/json"
        var headers: [ResponseHeader] = []
        for header in integrationResponse.headers {
            // A static Content-Type mapping wins over the template's key, and is sent once.
            if header.name.lowercased() == "content-type" {
                contentType = header.value
            } else {
                headers.append(header)
            }
        }
        return MockResponse(status: integrationResponse.statusCode, headers: headers, contentType: contentType,
                            body: Array((template?.template ?? "").utf8))
    }

    private func readResponse(key: Node, value: Node, label: String) -> Candidate? {
        let keyText = key.text ?? ""
        let pattern: String? = keyText == "default" || keyText.isEmpty ? nil : keyText
        guard let fields = value.entries else {
            log.error(file, value.line, "\(label): integration response '\(keyText)' must be a mapping, "
                      + "not \(value.kindName)")
            return nil
        }
        func field(_ name: String) -> Node? { fields.first { $0.key.text == name }?.value }

        guard let statusNode = field("statusCode") else {
            log.error(file, key.line, "\(label): integration response '\(keyText)' has no statusCode")
            return nil
        }
        guard let statusText = statusNode.text, let status = ConfigReader.parseInteger(statusText),
              (200...599).contains(status) else {
            // A 1xx is never a final answer: a client would wait for the real one.
            log.error(file, statusNode.line, "\(label): statusCode must be an HTTP status between 200 and 599, "
                      + "not '\(statusNode.text ?? statusNode.kindName)'")
            return nil
        }

        var notes: [Note] = []
        var regex: Regex<AnyRegexOutput>?
        if let pattern {
            do {
                regex = try Regex(pattern)
            } catch {
                log.warning(file, key.line, "\(label): selection pattern '\(pattern)' is not a regular expression "
                            + "Sluice can read; it never matches")
            }
        }

        var headers: [ResponseHeader] = []
        if let parameters = field("responseParameters"), let pairs = parameters.entries {
            for (parameterKey, parameterValue) in pairs {
                let name = parameterKey.text ?? ""
                let prefix = "method.response.header."
                guard name.hasPrefix(prefix), name.count > prefix.count else {
                    notes.append(Note(line: parameterKey.line, message: "\(label): response parameter '\(name)' is ignored"))
                    continue
                }
                let headerName = String(name.dropFirst(prefix.count))
                let source = parameterValue.text ?? ""
                // A static value is a single-quoted literal: `'*'`. Anything else maps a value from
                // the integration response, which a MOCK integration does not have.
                if source.count >= 2, source.hasPrefix("'"), source.hasSuffix("'") {
                    headers.append(ResponseHeader(name: headerName, value: String(source.dropFirst().dropLast())))
                } else {
                    notes.append(Note(line: parameterValue.line, message: "\(label): response header \(headerName) maps "
                                      + "'\(source)', which a MOCK integration does not have; the header is not sent"))
                }
            }
        }

        var templates: [ResponseTemplate] = []
        if let templateNode = field("responseTemplates"), let pairs = templateNode.entries {
            for (contentTypeNode, templateValue) in pairs {
                let template = ResponseTemplate(contentType: contentTypeNode.text ?? "application/json",
                                                template: templateValue.text ?? "")
                templates.append(template)
            }
        }
        guard let compiled = TemplateReader(file: file, log: log).read(field("responseTemplates"), label: label,
                                                                       what: "responseTemplates") else { return nil }

        guard case .success(let handling) = ContentHandling.read(field("contentHandling"), label: label, file: file,
                                                                 log: log) else { return nil }
        var response = IntegrationResponse(selectionPattern: pattern, statusCode: status, headers: headers,
                                           templates: templates, compiledTemplates: compiled)
        response.contentHandling = handling
        return Candidate(response: response, regex: regex, notes: notes)
    }

    /// The status code a plain (Velocity-free) MOCK request template yields: its `statusCode`,
    /// or 200.
    func integrationStatus(_ template: String?, label: String, line: Int) -> Int {
        guard let template, !template.trimmingWhitespace.isEmpty else { return Self.defaultIntegrationStatus }
        guard let literal = Self.firstStatusCodeLiteral(in: template) else {
            log.warning(file, line, "\(label): the request template has no \"statusCode\"; status "
                        + "\(Self.defaultIntegrationStatus) is used")
            return Self.defaultIntegrationStatus
        }
        return literal
    }

    /// The first `"statusCode": NNN` (or `"statusCode": "NNN"`) in the text.
    static func firstStatusCodeLiteral(in text: String) -> Int? {
        let bytes = Array(text.utf8)
        let key = Array("\"statusCode\"".utf8)
        var index = 0
        while index + key.count <= bytes.count {
            guard bytes[index..<index + key.count].elementsEqual(key) else {
                index += 1
                continue
            }
            var cursor = index + key.count
            func skipSpaces() {
                while cursor < bytes.count, bytes[cursor] == 0x20 || bytes[cursor] == 0x09
                    || bytes[cursor] == 0x0A || bytes[cursor] == 0x0D { cursor += 1 }
            }
            skipSpaces()
            if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") {
                cursor += 1
                skipSpaces()
                if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\"") { cursor += 1 }
                var value = 0
                var digits = 0
                while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9"),
                      digits < 4 {
                    value = value * 10 + Int(bytes[cursor] - UInt8(ascii: "0"))
                    digits += 1
                    cursor += 1
                }
                if digits == 3 { return value }
            }
            index += key.count
        }
        return nil
    }

}
