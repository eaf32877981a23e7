import SluiceJSON

/// Renders compiled templates: one per worker, its buffers sized once and reused, so a template
/// that reads values and writes them (references, `#if`, `#foreach` over JSON, `$util`
/// escaping) renders without allocating. Templates that build lists and maps, or call the string
/// methods that need Java's semantics (`substring`, `replaceAll`, `split`, …), allocate for those.
///
/// Use: `begin(template)`, hand it the request's values (`setBody`, `setExternal`,
/// `addParameter`, `addStageVariable`), then `render(template)`; the answer is in `output`,
/// with the overrides the template set.
public struct TemplateRenderer {
    public enum Outcome: Equatable, Sendable {
        case rendered
        /// The output or the work area would pass its bound.
        case tooLarge
    }

    public enum ParameterKind: Int8, Sendable {
        case path = 0, querystring = 1, header = 2
    }

    /// API Gateway's bound on `#foreach`.
    public static let iterationsMax = 1_000
    /// Comparisons and bytes compared a rendering may spend (see `spend`).
    static let comparisonsMax = 20_000_000
    static let macroDepthMax = 20

    public private(set) var output: [UInt8] = []
    /// `$context.responseOverride.status`, when set to a status 100…599.
    public private(set) var statusOverride: Int?
    /// `$context.responseOverride.header.*` and `requestOverride.header.*`: `Name: value\r\n`
    /// lines, CR and LF dropped from values.
    public private(set) var responseHeaderLines: [UInt8] = []
    public private(set) var requestHeaderLines: [UInt8] = []
    /// `requestOverride.querystring.*`: `name=value` pairs joined by `&`, percent-encoded.
    public private(set) var requestQuery: [UInt8] = []
    /// `requestOverride.path.*`: names and values, where `requestPathEntries` says.
    public private(set) var requestPathParameters: [UInt8] = []
    var requestPathEntries: [(name: Range<Int>, value: Range<Int>)] = []
    /// A query parameter's name as it is being encoded.
    var queryName: [UInt8] = []

    let outputBytesMax: Int
    let workBytesMax: Int

    var input: [UInt8] = []
    var work: [UInt8] = []
    var body = Bytes(.input, 0..<0)
    var externals: [Bytes?] = []
    var parameters: [(kind: Int8, name: Bytes, value: Bytes)] = []
    var stageVariables: [(name: Bytes, value: Bytes)] = []
    var slots: [Value] = []
    var containers: [Container] = []
    var containerCount = 0
    var loops: [Loop] = []
    var savedSlots: [Value] = []
    var overrideValues: [(target: Int, value: Value)] = []
    /// Strings being built, innermost last; each is copied to `work` whole when it is finished,
    /// so a string built while another is open (an argument, a method's answer) never lands
    /// inside it.
    var scratch: [UInt8] = []
    var building = 0
    var comparisons = 0
    var stopped = false
    var breaking = false
    var failed = false
    var macroDepth = 0

    struct Loop {
        var count = 0
        var hasNext = false
    }

    /// - Parameters:
    ///   - outputBytesMax: the largest body a template may render.
    ///   - workBytesMax: room for the request's values and the strings a template computes.
    public init(outputBytesMax: Int, workBytesMax: Int) {
        self.outputBytesMax = outputBytesMax
        self.workBytesMax = workBytesMax
        output.reserveCapacity(outputBytesMax)
        work.reserveCapacity(workBytesMax)
        scratch.reserveCapacity(workBytesMax)
        input.reserveCapacity(workBytesMax)
        responseHeaderLines.reserveCapacity(1024)
        requestHeaderLines.reserveCapacity(1024)
        requestQuery.reserveCapacity(1024)
        requestPathParameters.reserveCapacity(512)
        requestPathEntries.reserveCapacity(16)
        queryName.reserveCapacity(256)
        parameters.reserveCapacity(128)
        stageVariables.reserveCapacity(64)
        externals.reserveCapacity(64)
        slots.reserveCapacity(64)
        loops.reserveCapacity(16)
        savedSlots.reserveCapacity(64)
        overrideValues.reserveCapacity(16)
    }

    // MARK: - Inputs

    /// Starts a rendering of `template`: clears what the previous one left.
    public mutating func begin(_ template: Template) {
        output.removeAll(keepingCapacity: true)
        input.removeAll(keepingCapacity: true)
        work.removeAll(keepingCapacity: true)
        scratch.removeAll(keepingCapacity: true)
        responseHeaderLines.removeAll(keepingCapacity: true)
        requestHeaderLines.removeAll(keepingCapacity: true)
        requestQuery.removeAll(keepingCapacity: true)
        requestPathParameters.removeAll(keepingCapacity: true)
        requestPathEntries.removeAll(keepingCapacity: true)
        parameters.removeAll(keepingCapacity: true)
        stageVariables.removeAll(keepingCapacity: true)
        overrideValues.removeAll(keepingCapacity: true)
        externals.removeAll(keepingCapacity: true)
        for _ in 0..<template.externals.count { externals.append(nil) }
        slots.removeAll(keepingCapacity: true)
        for _ in 0..<template.slotCount { slots.append(.null) }
        loops.removeAll(keepingCapacity: true)
        savedSlots.removeAll(keepingCapacity: true)
        for index in 0..<containerCount {
            containers[index].keys.removeAll(keepingCapacity: true)
            containers[index].values.removeAll(keepingCapacity: true)
        }
        containerCount = 0
        body = Bytes(.input, 0..<0)
        statusOverride = nil
        building = 0
        comparisons = 0
        stopped = false
        breaking = false
        failed = false
        macroDepth = 0
    }

    /// Copies `bytes` into the input area; nil when it is full.
    private mutating func keep(_ bytes: Span<UInt8>) -> Bytes? {
        guard input.count + bytes.count <= workBytesMax else {
            failed = true
            return nil
        }
        let start = input.count
        for index in 0..<bytes.count { input.append(bytes[index]) }
        return Bytes(.input, start..<input.count)
    }

    /// The request body (`$input.body`, `$input.json`, `$input.path`).
    public mutating func setBody(_ bytes: Span<UInt8>) {
        if let kept = keep(bytes) { body = kept }
    }

    /// The value of `template.externals[index]` for this request; not called (or nil) when the
    /// request has none.
    public mutating func setExternal(_ index: Int, _ bytes: Span<UInt8>) {
        guard index < externals.count else { return }
        externals[index] = keep(bytes)
    }

    /// One parameter of the request, for templates that enumerate them (`readsAllParameters`).
    public mutating func addParameter(_ kind: ParameterKind, name: Span<UInt8>, value: Span<UInt8>) {
        guard let name = keep(name), let value = keep(value) else { return }
        parameters.append((kind.rawValue, name, value))
    }

    /// One stage variable, for templates that enumerate them (`readsAllStageVariables`).
    public mutating func addStageVariable(name: Span<UInt8>, value: Span<UInt8>) {
        guard let name = keep(name), let value = keep(value) else { return }
        stageVariables.append((name, value))
    }

    // MARK: - Overrides

    /// Where in `requestPathParameters` the value the template set last for the URI variable
    /// `name` is; nil when it set none.
    public func requestPathOverride(_ name: [UInt8]) -> Range<Int>? {
        for entry in requestPathEntries.reversed()
        where requestPathParameters[entry.name].elementsEqual(name) {
            return entry.value
        }
        return nil
    }

    /// Whether the template set `requestOverride.querystring.NAME` for the name that is the first
    /// `count` bytes of `name` (as the URI writes it, percent-encoded).
    public func overridesRequestQuery(_ name: [UInt8], count: Int) -> Bool {
        var offset = 0
        let pairs = requestQuery
        while offset < pairs.count {
            var nameEnd = offset
            while nameEnd < pairs.count && pairs[nameEnd] != 0x3D { nameEnd += 1 }
            if nameEnd - offset == count && (0..<count).allSatisfy({ pairs[offset + $0] == name[$0] }) {
                return true
            }
            offset = nameEnd
            while offset < pairs.count && pairs[offset] != 0x26 { offset += 1 }
            offset += 1
        }
        return false
    }

    // MARK: - Rendering

    public mutating func render(_ template: Template) -> Outcome {
        guard !failed else { return .tooLarge }
        renderBlock(template, template.root)
        return failed ? .tooLarge : .rendered
    }

    /// A byte of what is being written: the output, or the string being built.
    @inline(__always)
    mutating func put(_ byte: UInt8) {
        if building > 0 {
            guard scratch.count < workBytesMax else {
                failed = true
                stopped = true
                return
            }
            scratch.append(byte)
        } else {
            guard output.count < outputBytesMax else {
                failed = true
                stopped = true
                return
            }
            output.append(byte)
        }
    }

    mutating func put(_ bytes: Bytes, _ template: Template) {
        switch bytes.space {
        case .source: put(template.source[bytes.range])
        case .input: put(input[bytes.range])
        case .work: put(work[bytes.range])
        }
    }

    /// Puts a run of bytes at once (a memcpy into reserved room). Past the bounds, what fits is
    /// put and the render fails, as byte by byte.
    mutating func put(_ run: ArraySlice<UInt8>) {
        if building > 0 {
            let fits = min(run.count, max(0, workBytesMax - scratch.count))
            scratch.append(contentsOf: run.prefix(fits))
            if fits < run.count {
                failed = true
                stopped = true
            }
        } else {
            let fits = min(run.count, max(0, outputBytesMax - output.count))
            output.append(contentsOf: run.prefix(fits))
            if fits < run.count {
                failed = true
                stopped = true
            }
        }
    }

    mutating func put(_ text: some Sequence<UInt8>) {
        for byte in text { put(byte) }
    }

    /// Starts a string: what is put until `finishString` is its text.
    mutating func startString() -> Int {
        building += 1
        return scratch.count
    }

    /// The string started at `start`, moved to the work area.
    mutating func finishString(_ start: Int) -> Value {
        building -= 1
        let length = scratch.count - start
        defer { scratch.removeLast(length) }
        guard work.count + length <= workBytesMax else {
            failed = true
            stopped = true
            return .null
        }
        let begin = work.count
        work.append(contentsOf: scratch[start...])
        return .string(Bytes(.work, begin..<work.count))
    }

    mutating func renderBlock(_ template: Template, _ block: Block) {
        var index = Int(block.start)
        let end = index + Int(block.count)
        while index < end && !stopped && !breaking {
            renderNode(template, Int(template.children[index]))
            index += 1
        }
    }

    mutating func renderNode(_ template: Template, _ index: Int) {
        switch template.nodes[index] {
        case .text(let range):
            put(template.source[Int(range.start)..<Int(range.end)])
        case .output(let expression):
            let value = evaluate(template, Int(expression))
            write(value, template)
        case .escapedReference(let expression, let text):
            let value = evaluate(template, Int(expression))
            if value.isNull { put(0x5C) }
            put(Bytes(text), template)
        case .set(let target, let expression):
            let value = evaluate(template, Int(expression))
            assign(target, value, template)
        case .conditional(let start, let count):
            for branchIndex in Int(start)..<Int(start + count) {
                let branch = template.branches[branchIndex]
                if branch.condition < 0 || evaluate(template, Int(branch.condition)).isTrue {
                    renderBlock(template, branch.body)
                    return
                }
            }
        case .loop(let slot, let iterable, let body):
            loop(template, slot: Int(slot), over: evaluate(template, Int(iterable)), body)
        case .breakLoop:
            breaking = true
        case .stop:
            stopped = true
        case .define(let slot, let body):
            slots[Int(slot)] = .block(body)
        case .macroCall(let macroIndex, let arguments):
            callMacro(template, template.macros[Int(macroIndex)], arguments)
        }
    }

    mutating func callMacro(_ template: Template, _ macro: Macro, _ arguments: Block) {
        guard macroDepth < Self.macroDepthMax else { return }
        let savedStart = savedSlots.count
        let count = min(Int(macro.parameters.count), Int(arguments.count))
        for offset in 0..<count {
            let value = evaluate(template, Int(template.children[Int(arguments.start) + offset]))
            let slot = Int(template.children[Int(macro.parameters.start) + offset])
            savedSlots.append(slots[slot])
            slots[slot] = value
        }
        macroDepth += 1
        renderBlock(template, macro.body)
        macroDepth -= 1
        breaking = false
        for offset in (0..<count).reversed() {
            let slot = Int(template.children[Int(macro.parameters.start) + offset])
            slots[slot] = savedSlots.removeLast()
        }
        precondition(savedSlots.count == savedStart)
    }

    // MARK: - #foreach

    mutating func loop(_ template: Template, slot: Int, over iterable: Value, _ body: Block) {
        var cursor = Cursor(iterable, self)
        var next = cursor.next(&self)
        guard next != nil else { return }
        let saved = slots[slot]
        loops.append(Loop())
        var iterations = 0
        while let current = next, iterations < Self.iterationsMax, !stopped {
            next = cursor.next(&self)
            iterations += 1
            loops[loops.count - 1].count = iterations
            loops[loops.count - 1].hasNext = next != nil && iterations < Self.iterationsMax
            slots[slot] = current
            renderBlock(template, body)
            if breaking {
                breaking = false
                break
            }
        }
        loops.removeLast()
        slots[slot] = saved
    }

    /// What `#foreach` walks: lists, maps (their values), JSON arrays and objects, parameters,
    /// ranges.
    struct Cursor {
        enum Source {
            case none
            case container(Int32)
            case jsonArray(Space, JSONElements)
            case jsonObject(Space, JSONMembers)
            case parameters(Int8)
            case stageVariables
            case range(Int64, Int64, Int64)
        }

        var source: Source
        var index = 0

        init(_ value: Value, _ renderer: TemplateRenderer) {
            switch value {
            case .container(let container): source = .container(container)
            case .json(let bytes, let isObject):
                source = isObject ? .jsonObject(bytes.space, JSONMembers(bytes.range))
                    : .jsonArray(bytes.space, JSONElements(bytes.range))
            case .parameters(let kind): source = .parameters(kind)
            case .stageVariables: source = .stageVariables
            default: source = .none
            }
        }

        init(range first: Int64, _ last: Int64) {
            source = .range(first, last, first <= last ? 1 : -1)
        }

        mutating func next(_ renderer: inout TemplateRenderer) -> Value? {
            switch source {
            case .none:
                return nil
            case .container(let container):
                let values = renderer.containers[Int(container)].values
                guard index < values.count else { return nil }
                index += 1
                return values[index - 1]
            case .jsonArray(let space, var elements):
                let found = renderer.withSpace(space) { elements.next($0) }
                source = .jsonArray(space, elements)
                guard let found else { return nil }
                return renderer.value(of: found, in: space)
            case .jsonObject(let space, var members):
                let found = renderer.withSpace(space) { members.next($0) }
                source = .jsonObject(space, members)
                guard let found else { return nil }
                return renderer.value(of: found.value, in: space)
            case .parameters(let kind):
                if kind < 0 {
                    guard index < 3 else { return nil }
                    index += 1
                    return .parameters(Int8(index - 1))
                }
                while index < renderer.parameters.count {
                    index += 1
                    if renderer.parameters[index - 1].kind == kind { return .string(renderer.parameters[index - 1].value) }
                }
                return nil
            case .stageVariables:
                guard index < renderer.stageVariables.count else { return nil }
                index += 1
                return .string(renderer.stageVariables[index - 1].value)
            case .range(let current, let last, let step):
                guard step > 0 ? current <= last : current >= last else { return nil }
                let (next, overflow) = current.addingReportingOverflow(step)
                source = overflow ? .none : .range(next, last, step)
                return .integer(current)
            }
        }
    }

    /// Runs `body` with the bytes of `space` (the template's text is not a JSON space).
    func withSpace<T>(_ space: Space, _ body: (Span<UInt8>) -> T) -> T {
        switch space {
        case .input: body(input.span)
        case .work: body(work.span)
        case .source: body(Self.noBytes.span)
        }
    }

    static let noBytes: [UInt8] = []

    // MARK: - Assignments

    mutating func assign(_ target: SetTarget, _ value: Value, _ template: Template) {
        switch target {
        case .slot(let slot):
            // Velocity 1.7 leaves the variable as it was when the value is null.
            if !value.isNull { slots[Int(slot)] = value }
        case .property(let base, let name):
            let key = Value.string(Bytes(name))
            var map = evaluate(template, Int(base))
            materialize(&map, base: Int(base), template)
            if case .container(let container) = map, containers[Int(container)].isMap {
                put(key, value, in: Int(container), template)
            }
        case .responseStatus:
            // A final status: an interim one (1xx) would break the answer's framing.
            if let status = integerValue(value, template), (200...599).contains(status) { statusOverride = Int(status) }
            overrideValues.append((0, value))
        case .responseHeader(let name):
            appendHeaderLine(name, value, template, to: \.responseHeaderLines)
        case .requestHeader(let name):
            appendHeaderLine(name, value, template, to: \.requestHeaderLines)
        case .requestQuery(let name):
            let start = startString()
            write(value, template)
            let text = finishString(start)
            queryName.removeAll(keepingCapacity: true)
            for offset in Int(name.start)..<Int(name.end) { TemplateUtil.percentEncode(template.source[offset], into: &queryName) }
            // Set twice, the last value stands.
            removeQueryPair(named: queryName)
            if !requestQuery.isEmpty { requestQuery.append(0x26) }
            requestQuery.append(contentsOf: queryName)
            requestQuery.append(0x3D)
            if case .string(let bytes) = text {
                for offset in bytes.range { TemplateUtil.percentEncode(work[offset], into: &requestQuery) }
            }
        case .requestPath(let name):
            let start = startString()
            write(value, template)
            let text = finishString(start)
            let nameStart = requestPathParameters.count
            requestPathParameters.append(contentsOf: template.source[Int(name.start)..<Int(name.end)])
            let valueStart = requestPathParameters.count
            if case .string(let bytes) = text {
                for offset in bytes.range { requestPathParameters.append(work[offset]) }
            }
            requestPathEntries.append((nameStart..<valueStart, valueStart..<requestPathParameters.count))
        }
    }

    /// Removes the `name=value` pair of `requestQuery` named `name` (and its `&`), if any.
    mutating func removeQueryPair(named name: [UInt8]) {
        var start = 0
        while start < requestQuery.count {
            var end = start
            while end < requestQuery.count && requestQuery[end] != 0x26 { end += 1 }
            let nameEnd = start + name.count
            if nameEnd < end && requestQuery[nameEnd] == 0x3D && requestQuery[start..<nameEnd].elementsEqual(name) {
                // The pair, and the `&` after it (or, for the last pair, the one before it).
                if end < requestQuery.count {
                    requestQuery.removeSubrange(start...end)
                } else {
                    requestQuery.removeSubrange(max(0, start - 1)..<end)
                }
                return
            }
            start = end + 1
        }
    }

    mutating func appendHeaderLine(_ name: TextRange, _ value: Value, _ template: Template,
                                   to lines: WritableKeyPath<TemplateRenderer, [UInt8]>) {
        let start = startString()
        write(value, template)
        let text = finishString(start)
        guard case .string(let bytes) = text else { return }
        let nameBytes = template.source[Int(name.start)..<Int(name.end)]
        // A header name is a token: anything else would let a template write another line.
        guard !nameBytes.isEmpty, nameBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x3A }),
              !Self.framingNames.contains(where: { Self.sameName($0[...], nameBytes) }) else { return }
        // Set twice, the last value stands.
        var offset = 0
        while offset < self[keyPath: lines].count {
            var end = offset
            while self[keyPath: lines][end] != 0x0A { end += 1 }
            var colon = offset
            while self[keyPath: lines][colon] != 0x3A { colon += 1 }
            if Self.sameName(self[keyPath: lines][offset..<colon], nameBytes) {
                self[keyPath: lines].removeSubrange(offset...end)
            } else {
                offset = end + 1
            }
        }
        self[keyPath: lines].append(contentsOf: nameBytes)
        self[keyPath: lines].append(contentsOf: [0x3A, 0x20])
        for offset in bytes.range where work[offset] != 0x0D && work[offset] != 0x0A {
            self[keyPath: lines].append(work[offset])
        }
        self[keyPath: lines].append(contentsOf: [0x0D, 0x0A])
    }

    /// Headers that frame the message or name its host: the gateway writes them, never a template.
    static let framingNames: [[UInt8]] = ["content-length", "transfer-encoding", "connection", "keep-alive",
                                          "proxy-connection", "upgrade", "te", "trailer", "host", "date",
                                          "x-amzn-requestid", "x-amz-apigw-id"].map { Array($0.utf8) }

    /// Header names compare without regard to ASCII case.
    static func sameName(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lowercased($0) == lowercased($1) }
    }

    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }
}
