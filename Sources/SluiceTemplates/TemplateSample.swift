/// A request's values given by hand rather than by a request: what `sluice template` renders
/// with, and what tests use.
public struct TemplateSample {
    public var body: [UInt8]
    public var parameters: [(kind: TemplateRenderer.ParameterKind, name: String, value: String)]
    public var context: [String: String]
    public var stageVariables: [(name: String, value: String)]

    public init(body: [UInt8] = [], parameters: [(kind: TemplateRenderer.ParameterKind, name: String, value: String)] = [],
                context: [String: String] = [:], stageVariables: [(name: String, value: String)] = []) {
        self.body = body
        self.parameters = parameters
        self.context = context
        self.stageVariables = stageVariables
    }

    /// The last value of a parameter of `kind` named `name` (headers without regard to case).
    func parameter(_ kind: TemplateRenderer.ParameterKind, _ name: String) -> String? {
        parameters.last { $0.kind == kind && (kind == .header ? $0.name.lowercased() == name.lowercased() : $0.name == name) }?.value
    }

    /// Renders `template` with these values.
    public func render(_ template: Template, with renderer: inout TemplateRenderer) -> TemplateRenderer.Outcome {
        renderer.begin(template)
        renderer.setBody(body.span)
        for (index, external) in template.externals.enumerated() {
            let value: String? = switch external {
            case .context(let name): context[name]
            case .stageVariable(let name): stageVariables.last { $0.name == name }?.value
            case .parameter(let name): parameter(.path, name) ?? parameter(.querystring, name) ?? parameter(.header, name)
            case .pathParameter(let name): parameter(.path, name)
            case .queryParameter(let name): parameter(.querystring, name)
            case .header(let name): parameter(.header, name)
            }
            if let value { renderer.setExternal(index, Array(value.utf8).span) }
        }
        if template.readsAllParameters {
            for parameter in parameters {
                renderer.addParameter(parameter.kind, name: Array(parameter.name.utf8).span, value: Array(parameter.value.utf8).span)
            }
        }
        if template.readsAllStageVariables {
            for variable in stageVariables {
                renderer.addStageVariable(name: Array(variable.name.utf8).span, value: Array(variable.value.utf8).span)
            }
        }
        return renderer.render(template)
    }
}
