import SluiceJSON

/// Expressions: references, literals, operators, the Java methods, `$input` and `$util`.
extension TemplateRenderer {
    mutating func evaluate(_ template: Template, _ index: Int) -> Value {
        switch template.expressions[index] {
        case .string(let text):
            return .string(Bytes(text))
        case .interpolated(let block):
            let start = startString()
            renderBlock(template, block)
            return finishString(start)
        case .integer(let value):
            return .integer(value)
        case .number(let value):
            return .number(value)
        case .boolean(let value):
            return .boolean(value)
        case .list(let items):
            let container = newContainer(isMap: false)
            for offset in 0..<Int(items.count) {
                let value = evaluate(template, Int(template.children[Int(items.start) + offset]))
                containers[Int(container)].values.append(value)
            }
            return .container(container)
        case .range(let first, let last):
            guard let low = integerValue(evaluate(template, Int(first)), template),
                  let high = integerValue(evaluate(template, Int(last)), template) else { return .null }
            let container = newContainer(isMap: false)
            var cursor = Cursor(range: low, high)
            var count = 0
            while let value = cursor.next(&self), count < Self.iterationsMax {
                containers[Int(container)].values.append(value)
                count += 1
            }
            return .container(container)
        case .map(let items):
            let container = newContainer(isMap: true)
            var offset = 0
            while offset + 1 < Int(items.count) {
                let key = evaluate(template, Int(template.children[Int(items.start) + offset]))
                let value = evaluate(template, Int(template.children[Int(items.start) + offset + 1]))
                put(key, value, in: Int(container), template)
                offset += 2
            }
            return .container(container)
        case .variable(let slot):
            return slots[Int(slot)]
        case .external(let external):
            guard let bytes = externals[Int(external)] else {
                // `$input.params('x')` is empty when the request has no such parameter.
                switch template.externals[Int(external)] {
                case .parameter, .pathParameter, .queryParameter, .header: return .string(Bytes(.input, 0..<0))
                default: return .null
                }
            }
            return .string(bytes)
        case .property(let base, let name):
            let value = evaluate(template, Int(base))
            return property(value, Bytes(name), template)
        case .call(let base, let method, let arguments):
            return call(template, base: Int(base), method, arguments)
        case .index(let base, let indexExpression):
            let value = evaluate(template, Int(base))
            let key = evaluate(template, Int(indexExpression))
            return get(value, key, template)
        case .input(let call, let arguments):
            return input(template, call, arguments)
        case .util(let call, let arguments):
            let argument = evaluate(template, Int(template.children[Int(arguments.start)]))
            return util(call, argument, template)
        case .loopProperty(let property):
            guard let loop = loops.last else { return .null }
            switch property {
            case .hasNext: return .boolean(loop.hasNext)
            case .count: return .integer(Int64(loop.count))
            case .index: return .integer(Int64(loop.count - 1))
            case .first: return .boolean(loop.count == 1)
            case .last: return .boolean(!loop.hasNext)
            }
        case .stageVariables:
            return .stageVariables
        case .overrideValue(let target):
            if case .responseStatus = target, let found = overrideValues.last(where: { $0.target == 0 }) {
                return found.value
            }
            return .null
        case .not(let operand):
            return .boolean(!evaluate(template, Int(operand)).isTrue)
        case .negate(let operand):
            switch evaluate(template, Int(operand)) {
            case .integer(let value): return value == .min ? .number(-Double(value)) : .integer(-value)
            case .number(let value): return .number(-value)
            default: return .null
            }
        case .binary(let operation, let left, let right):
            return binary(template, operation, Int(left), Int(right))
        }
    }

    mutating func newContainer(isMap: Bool) -> Int32 {
        if containerCount == containers.count {
            containers.append(Container(isMap: isMap, keys: [], values: []))
        } else {
            containers[containerCount].isMap = isMap
        }
        containerCount += 1
        return Int32(containerCount - 1)
    }

    // MARK: - Operators

    mutating func binary(_ template: Template, _ operation: BinaryOperator, _ leftIndex: Int,
                         _ rightIndex: Int) -> Value {
        switch operation {
        case .or:
            return .boolean(evaluate(template, leftIndex).isTrue || evaluate(template, rightIndex).isTrue)
        case .and:
            return .boolean(evaluate(template, leftIndex).isTrue && evaluate(template, rightIndex).isTrue)
        default: break
        }
        let left = evaluate(template, leftIndex)
        let right = evaluate(template, rightIndex)
        switch operation {
        case .equal: return .boolean(equals(left, right, template))
        case .notEqual: return .boolean(!equals(left, right, template))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard let order = compareNumbers(left, right) else { return .boolean(false) }
            switch operation {
            case .less: return .boolean(order < 0)
            case .lessOrEqual: return .boolean(order <= 0)
            case .greater: return .boolean(order > 0)
            default: return .boolean(order >= 0)
            }
        case .add:
            if isNumber(left) && isNumber(right) { return arithmetic(.add, left, right) }
            // Velocity 1.7 joins when either side is a string.
            if case .string = left {} else if case .string = right {} else { return .null }
            let start = startString()
            write(left, template)
            write(right, template)
            return finishString(start)
        default:
            return arithmetic(operation, left, right)
        }
    }

    func isNumber(_ value: Value) -> Bool {
        switch value {
        case .integer, .number: true
        default: false
        }
    }

    func arithmetic(_ operation: BinaryOperator, _ left: Value, _ right: Value) -> Value {
        if case .integer(let a) = left, case .integer(let b) = right {
            switch operation {
            case .add:
                let (sum, overflow) = a.addingReportingOverflow(b)
                return overflow ? .number(Double(a) + Double(b)) : .integer(sum)
            case .subtract:
                let (difference, overflow) = a.subtractingReportingOverflow(b)
                return overflow ? .number(Double(a) - Double(b)) : .integer(difference)
            case .multiply:
                let (product, overflow) = a.multipliedReportingOverflow(by: b)
                return overflow ? .number(Double(a) * Double(b)) : .integer(product)
            case .divide:
                guard b != 0, !(a == .min && b == -1) else { return .null }
                return .integer(a / b)
            case .remainder:
                guard b != 0, !(a == .min && b == -1) else { return .null }
                return .integer(a % b)
            default: return .null
            }
        }
        guard let a = doubleValue(left), let b = doubleValue(right) else { return .null }
        switch operation {
        case .add: return .number(a + b)
        case .subtract: return .number(a - b)
        case .multiply: return .number(a * b)
        case .divide: return b == 0 ? .null : .number(a / b)
        case .remainder: return b == 0 ? .null : .number(a.truncatingRemainder(dividingBy: b))
        default: return .null
        }
    }

    func doubleValue(_ value: Value) -> Double? {
        switch value {
        case .integer(let number): Double(number)
        case .number(let number): number
        default: nil
        }
    }

    func compareNumbers(_ left: Value, _ right: Value) -> Int? {
        if case .integer(let a) = left, case .integer(let b) = right { return a < b ? -1 : (a == b ? 0 : 1) }
        guard let a = doubleValue(left), let b = doubleValue(right), !a.isNaN, !b.isNaN else { return nil }
        return a < b ? -1 : (a == b ? 0 : 1)
    }

    /// Velocity 1.7's `==`: numbers by value, values of one kind by `equals`, and otherwise their
    /// `toString`s.
    mutating func equals(_ left: Value, _ right: Value, _ template: Template) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case (.null, _), (_, .null): return false
        case (.boolean(let a), .boolean(let b)): return a == b
        default: break
        }
        if let order = compareNumbers(left, right) { return order == 0 }
        if case .string(let a) = left, case .string(let b) = right {
            guard a.count == b.count else { return false }
            return spend(a.count) && bytesEqual(a, b, template)
        }
        // Compare the two texts, built one after the other and taken back.
        let first = startString()
        write(left, template)
        let second = scratch.count
        write(right, template)
        building -= 1
        let length = second - first
        let same = spend(scratch.count - first) && scratch.count - second == length
            && (0..<length).allSatisfy { scratch[first + $0] == scratch[second + $0] }
        scratch.removeLast(scratch.count - first)
        return same
    }

    func integerValue(_ value: Value, _ template: Template) -> Int64? {
        switch value {
        case .integer(let number): return number
        case .number(let number): return number.isFinite && number.magnitude < 9e18 ? Int64(number) : nil
        case .string(let bytes):
            var result: Int64 = 0
            var negative = false
            var digits = 0
            for offset in bytes.range {
                let byte = self.byte(bytes.space, offset, template)
                if offset == bytes.range.lowerBound && byte == 0x2D { negative = true; continue }
                guard byte >= 0x30 && byte <= 0x39, digits < 18 else { return nil }
                result = result * 10 + Int64(byte - 0x30)
                digits += 1
            }
            return digits > 0 ? (negative ? -result : result) : nil
        default: return nil
        }
    }

    @inline(__always)
    func byte(_ space: Space, _ offset: Int, _ template: Template) -> UInt8 {
        switch space {
        case .source: template.source[offset]
        case .input: input[offset]
        case .work: work[offset]
        }
    }

    func bytesEqual(_ a: Bytes, _ b: Bytes, _ template: Template) -> Bool {
        guard a.count == b.count else { return false }
        for offset in 0..<a.count where byte(a.space, Int(a.start) + offset, template) != byte(b.space, Int(b.start) + offset, template) {
            return false
        }
        return true
    }

    // MARK: - Writing values (Java's toString)

    mutating func write(_ value: Value, _ template: Template) {
        switch value {
        case .null: break
        case .boolean(let flag): put(flag ? TemplateUtil.trueText : TemplateUtil.falseText)
        case .integer(let number): writeInteger(number)
        case .number(let number): put(JavaNumber.format(number))
        case .string(let bytes): put(bytes, template)
        case .json(let bytes, let isObject):
            put(isObject ? 0x7B : 0x5B)
            var first = true
            if isObject {
                var members = JSONMembers(bytes.range)
                while let member = withSpace(bytes.space, { members.next($0) }) {
                    if !first { put(contentsOf: TemplateUtil.separator) }
                    first = false
                    write(self.value(of: member.key, in: bytes.space), template)
                    put(0x3D)
                    writeElement(self.value(of: member.value, in: bytes.space), template)
                }
            } else {
                var elements = JSONElements(bytes.range)
                while let element = withSpace(bytes.space, { elements.next($0) }) {
                    if !first { put(contentsOf: TemplateUtil.separator) }
                    first = false
                    writeElement(self.value(of: element, in: bytes.space), template)
                }
            }
            put(isObject ? 0x7D : 0x5D)
        case .container(let index):
            let isMap = containers[Int(index)].isMap
            put(isMap ? 0x7B : 0x5B)
            for offset in 0..<containers[Int(index)].values.count {
                if offset > 0 { put(contentsOf: TemplateUtil.separator) }
                if isMap {
                    writeElement(containers[Int(index)].keys[offset], template)
                    put(0x3D)
                }
                writeElement(containers[Int(index)].values[offset], template)
            }
            put(isMap ? 0x7D : 0x5D)
        case .block(let block):
            renderBlock(template, block)
        case .parameters(let kind):
            put(0x7B)
            if kind < 0 {
                for other in 0..<3 {
                    if other > 0 { put(contentsOf: TemplateUtil.separator) }
                    put(TemplateUtil.parameterKinds[other])
                    put(0x3D)
                    write(.parameters(Int8(other)), template)
                }
            } else {
                var first = true
                for parameter in parameters where parameter.kind == kind {
                    if !first { put(contentsOf: TemplateUtil.separator) }
                    first = false
                    put(parameter.name, template)
                    put(0x3D)
                    put(parameter.value, template)
                }
            }
            put(0x7D)
        case .stageVariables:
            put(0x7B)
            for (offset, variable) in stageVariables.enumerated() {
                if offset > 0 { put(contentsOf: TemplateUtil.separator) }
                put(variable.name, template)
                put(0x3D)
                put(variable.value, template)
            }
            put(0x7D)
        }
    }

    /// A value inside a list or map: Java writes a null element as `null`.
    mutating func writeElement(_ value: Value, _ template: Template) {
        if value.isNull {
            put(contentsOf: TemplateUtil.nullText)
        } else {
            write(value, template)
        }
    }

    mutating func put(contentsOf bytes: [UInt8]) {
        for byte in bytes { put(byte) }
    }

    mutating func writeInteger(_ number: Int64) {
        if number < 0 { put(0x2D) }
        var magnitude = number.magnitude
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            put(UInt8(truncatingIfNeeded: magnitude / divisor) + 0x30)
            magnitude %= divisor
            divisor /= 10
        }
    }

    // MARK: - JSON

    /// A JSON value of `space` as a template value: scalars become strings and numbers, objects
    /// and arrays stay text.
    mutating func value(of json: JSONScanner.Value, in space: Space) -> Value {
        switch json.kind {
        case .string:
            guard json.hasEscapes else { return .string(Bytes(space, json.content)) }
            let start = startString()
            var decoded = UnescapedBytes(json.content)
            while let byte = withSpace(space, { decoded.next($0) }) { put(byte) }
            return finishString(start)
        case .number:
            return withSpace(space) { bytes in
                if let integer = JSONScanner.integer(bytes, json), !Self.hasFraction(bytes, json.range) {
                    return .integer(integer)
                }
                var text = ""
                for offset in json.range { text.unicodeScalars.append(Unicode.Scalar(bytes[offset])) }
                return Double(text).map(Value.number) ?? .null
            }
        case .trueLiteral: return .boolean(true)
        case .falseLiteral: return .boolean(false)
        case .null: return .null
        case .object: return .json(Bytes(space, json.range), isObject: true)
        case .array: return .json(Bytes(space, json.range), isObject: false)
        }
    }

    static func hasFraction(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        for offset in range where bytes[offset] == 0x2E || bytes[offset] == 0x65 || bytes[offset] == 0x45 { return true }
        return false
    }

    /// The JSON text of `bytes` as one document, or nil.
    func parseDocument(_ bytes: Bytes) -> JSONScanner.Value? {
        guard bytes.space != .source else { return nil }
        return withSpace(bytes.space) { span in
            guard let found = JSONScanner.document(span.extracting(bytes.range)) else { return nil }
            // Back to offsets in the whole space.
            let shift = Int(bytes.start)
            return JSONScanner.Value(kind: found.kind, range: found.range.lowerBound + shift..<found.range.upperBound + shift,
                                     content: found.content.lowerBound + shift..<found.content.upperBound + shift,
                                     hasEscapes: found.hasEscapes)
        }
    }

    /// A string value kept where JSON can be read from it: the template's own text is copied to
    /// the input area (not the work area, where a string may be under construction).
    mutating func readable(_ bytes: Bytes, _ template: Template) -> Bytes {
        guard bytes.space == .source else { return bytes }
        guard input.count + bytes.count <= workBytesMax else {
            failed = true
            stopped = true
            return Bytes(.input, 0..<0)
        }
        let start = input.count
        for offset in bytes.range { input.append(template.source[offset]) }
        return Bytes(.input, start..<input.count)
    }
}
