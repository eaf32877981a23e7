import SluiceJSON

/// Checks on a body that hold whatever the schema: no object with two members of the same name,
/// and no number whose exponent a BigDecimal cannot hold (see `DecimalNumber`).
///
/// Repeated names: Jackson (under fge) keeps the last member of a name and so validates only it,
/// while a backend may read the first; a body that the gateway validated one way and the backend
/// reads another is a smuggling route, so Sluice refuses such bodies, as a stricter parser would.
enum BodyCheck {
    enum Problem: Equatable {
        case repeatedNames
        case numberOutOfRange
    }

    static func problem(_ bytes: Span<UInt8>, _ value: JSONScanner.Value, depth: Int, scratch: inout HashScratch) -> Problem? {
        switch value.kind {
        case .number:
            return DecimalNumber(bytes, value.range).exponentInRange ? nil : .numberOutOfRange
        case .object:
            let count = ValueEquality.memberCount(bytes, value)
            if ValueEquality.hasDuplicates(bytes, value, count: count, keys: true, scratch: &scratch) { return .repeatedNames }
            var members = JSONMembers(value.range, depth: depth)
            while let (_, member) = members.next(bytes) {
                if let problem = problem(bytes, member, depth: depth + 1, scratch: &scratch) { return problem }
            }
            return nil
        case .array:
            var elements = JSONElements(value.range, depth: depth)
            while let element = elements.next(bytes) {
                if let problem = problem(bytes, element, depth: depth + 1, scratch: &scratch) { return problem }
            }
            return nil
        default:
            return nil
        }
    }
}

extension CompiledSchema {
    /// Validates a request body (its raw bytes) as API Gateway's request validator does: the body
    /// must be one JSON text (strict RFC 8259, UTF-8, nesting at most `JSONScanner.depthMax`,
    /// nothing after it), with no object repeating a member name, and match the schema. On
    /// failure `report` holds fge's messages. Allocates nothing, but for `pattern` and
    /// `patternProperties` (see `ValidationReport`); tools/count-schema-mallocs checks it.
    ///
    /// An empty body is not JSON, so it fails. Cost: each level of a container is read again by the
    /// level above it (SluiceJSON's readers validate as they skip), so the work is bounded by the
    /// body's size times its depth (at most `JSONScanner.depthMax`), not by its size alone.
    public func validate(_ body: Span<UInt8>, report: inout ValidationReport) -> Bool {
        report.reset()
        guard let top = JSONScanner.document(body) else {
            report.begin()
            report.write("instance is not valid JSON")
            report.end()
            return false
        }
        switch BodyCheck.problem(body, top, depth: 1, scratch: &report.scratch) {
        case .repeatedNames?:
            report.begin()
            report.write("object instance has more than one member of the same name")
            report.end()
            return false
        case .numberOutOfRange?:
            report.begin()
            report.write("numeric instance has an exponent out of range")
            report.end()
            return false
        case nil:
            break
        }
        return check(root, top, depth: 1, body, pool.span, &report)
    }

    /// Validates `value` (at nesting `depth`, the body's top value at 1) against node `index`.
    /// When `report.isRecording` is false (inside anyOf, oneOf, not, and allOf's count), the
    /// answer is all that is wanted, so the first failure returns.
    func check(_ index: Int, _ value: JSONScanner.Value, depth: Int, _ body: Span<UInt8>, _ pool: Span<UInt8>,
               _ report: inout ValidationReport) -> Bool {
        let node = nodes[index]
        var valid = true
        let number: DecimalNumber? = value.kind == .number ? DecimalNumber(body, value.range) : nil

        // Keywords for every type.
        let instanceType: TypeSet
        switch value.kind {
        case .object: instanceType = .object
        case .array: instanceType = .array
        case .string: instanceType = .string
        case .trueLiteral, .falseLiteral: instanceType = .boolean
        case .null: instanceType = .null
        case .number: instanceType = number!.isIntegerText ? .integer : .number
        }
        if !node.types.contains(instanceType) {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("instance type (")
            writeTypeName(instanceType, &report)
            report.write(") does not match any allowed primitive type (allowed: [")
            var first = true
            for (type, _) in TypeSet.ordered where node.types.contains(type) {
                if !first { report.write(",") }
                first = false
                report.write(byte: UInt8(ascii: "\""))
                writeTypeName(type, &report)
                report.write(byte: UInt8(ascii: "\""))
            }
            report.write("])")
            report.end()
        }
        if node.hasEnum && !inEnum(node, value, body, pool, &report) {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("instance value (")
            report.writeJSON(body, value)
            report.write(") not found in enum (possible values: [")
            for position in node.enumValues {
                if position > node.enumValues.lowerBound { report.write(",") }
                report.write(pool, enumValues[position].text)
            }
            report.write("])")
            report.end()
        }
        if !node.allOf.isEmpty {
            let matched = countMatches(node.allOf, value, depth: depth, body, pool, &report, stopAt: Int.max,
                                       stopOnFailure: !report.isRecording)
            if matched < node.allOf.count {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                report.write("instance failed to match all required schemas (matched only ")
                report.write(matched)
                report.write(" out of ")
                report.write(node.allOf.count)
                report.write(")")
                report.end()
            }
        }
        if !node.anyOf.isEmpty && countMatches(node.anyOf, value, depth: depth, body, pool, &report, stopAt: 1) == 0 {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("instance failed to match at least one required schema among ")
            report.write(node.anyOf.count)
            report.end()
        }
        if !node.oneOf.isEmpty {
            // Without messages, two matches are enough to know; with them, fge says how many.
            let matched = countMatches(node.oneOf, value, depth: depth, body, pool, &report,
                                       stopAt: report.isRecording ? Int.max : 2)
            if matched != 1 {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                report.write("instance failed to match exactly one schema (matched ")
                report.write(matched)
                report.write(" out of ")
                report.write(node.oneOf.count)
                report.write(")")
                report.end()
            }
        }
        if node.not >= 0 && countMatches(node.not..<node.not + 1, value, depth: depth, body, pool, &report, stopAt: 1,
                                         direct: true) == 1 {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("instance matched a schema which it should not have")
            report.end()
        }

        // Keywords for one type, then (when all held, as fge does) the values inside.
        switch value.kind {
        case .object:
            if !checkObject(node, value, depth: depth, body, pool, &report) {
                guard report.isRecording else { return false }
                valid = false
            }
            if valid && !checkMembers(node, value, depth: depth, body, pool, &report) { valid = false }
        case .array:
            if !checkArray(node, value, body, &report) {
                guard report.isRecording else { return false }
                valid = false
            }
            if valid && !checkElements(node, value, depth: depth, body, pool, &report) { valid = false }
        case .string:
            if !checkString(node, value, body, pool, &report) {
                guard report.isRecording else { return false }
                valid = false
            }
        case .number:
            if !checkNumber(node, number!, value, body, pool, &report) {
                guard report.isRecording else { return false }
                valid = false
            }
        default:
            break
        }
        return valid
    }

    private func writeTypeName(_ type: TypeSet, _ report: inout ValidationReport) {
        for (candidate, name) in TypeSet.ordered where candidate == type {
            report.write(name)
            return
        }
    }

    /// How many of the schemas (node indexes in `lists`, or the node range itself when `direct`)
    /// `value` matches, counting until `stopAt`, or until the first failure when `stopOnFailure`.
    /// Their own messages are not recorded.
    private func countMatches(_ schemas: Range<Int>, _ value: JSONScanner.Value, depth: Int, _ body: Span<UInt8>,
                              _ pool: Span<UInt8>, _ report: inout ValidationReport, stopAt: Int,
                              stopOnFailure: Bool = false, direct: Bool = false) -> Int {
        let recording = report.isRecording
        report.isRecording = false
        defer { report.isRecording = recording }
        var matched = 0
        for position in schemas {
            if check(direct ? position : lists[position], value, depth: depth, body, pool, &report) {
                matched += 1
                if matched >= stopAt { break }
            } else if stopOnFailure {
                break
            }
        }
        return matched
    }

    private func inEnum(_ node: Node, _ value: JSONScanner.Value, _ body: Span<UInt8>, _ pool: Span<UInt8>,
                        _ report: inout ValidationReport) -> Bool {
        let hash = ValueHash.value(body, value)
        for position in node.enumValues where enumValues[position].hash == hash {
            let text = enumValues[position].text
            let candidate = ValueEquality.value(pool, text, hasEscapes: ValueEquality.hasEscapes(pool, text))
            if ValueEquality.equal(body, value, pool, candidate, scratch: &report.scratch) { return true }
        }
        return false
    }

    // MARK: Objects

    /// The node's name entry for a member's key, or nil.
    private func lookup(_ node: Node, _ key: JSONScanner.Value, _ body: Span<UInt8>, _ pool: Span<UInt8>) -> Int? {
        guard !node.names.isEmpty else { return nil }
        let hash = ValueHash.string(body, key.content, hasEscapes: key.hasEscapes)
        var low = node.names.lowerBound
        var high = node.names.upperBound
        while low < high {
            let middle = (low + high) / 2
            if names[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        while low < node.names.upperBound && names[low].hash == hash {
            if ValueEquality.stringsEqual(body, key.content, key.hasEscapes, pool, names[low].bytes, false) { return low }
            low += 1
        }
        return nil
    }

    /// Whether the object has a member named by name entry `name`: its presence bit when it has
    /// one, else a scan of the members (for the 65th and later names a schema asks about).
    private func isPresent(_ name: Int, bits: UInt64, _ object: JSONScanner.Value, _ body: Span<UInt8>,
                           _ pool: Span<UInt8>) -> Bool {
        let presence = names[name].presence
        if presence >= 0 && presence < 64 { return bits & (1 << UInt64(presence)) != 0 }
        var members = JSONMembers(object.range)
        while let (key, _) = members.next(body) {
            if ValueEquality.stringsEqual(body, key.content, key.hasEscapes, pool, names[name].bytes, false) { return true }
        }
        return false
    }

    /// A string's decoded bytes into `report.decoded`, for the patterns.
    private func decode(_ string: JSONScanner.Value, _ body: Span<UInt8>, _ report: inout ValidationReport) {
        report.decoded.removeAll(keepingCapacity: true)
        var bytes = DecodedBytes(string.content, hasEscapes: string.hasEscapes)
        while let byte = bytes.next(body) { report.decoded.append(byte) }
    }

    private func matchesPattern(_ position: Int, _ string: JSONScanner.Value, _ body: Span<UInt8>,
                                _ report: inout ValidationReport) -> Bool {
        decode(string, body, &report)
        return matches(position, &report)
    }

    /// Whether any of the node's `patternProperties` matches `key`.
    private func matchesAnyPattern(_ node: Node, _ key: JSONScanner.Value, _ body: Span<UInt8>,
                                   _ report: inout ValidationReport) -> Bool {
        decode(key, body, &report)
        for position in node.patternProperties where matches(position, &report) { return true }
        return false
    }

    /// Whether pattern `position` matches the string last decoded into `report.decoded`.
    private func matches(_ position: Int, _ report: inout ValidationReport) -> Bool {
        patterns[position].regex.matches(report.decoded, &report.patternScratch)
    }

    /// minProperties, maxProperties, required, dependencies, additionalProperties.
    private func checkObject(_ node: Node, _ object: JSONScanner.Value, depth: Int, _ body: Span<UInt8>,
                             _ pool: Span<UInt8>, _ report: inout ValidationReport) -> Bool {
        var valid = true
        var count = 0
        var bits: UInt64 = 0
        var additionalCount = 0
        let checksAdditional = node.additionalProperties == CompiledSchema.forbidden
        var members = JSONMembers(object.range, depth: depth)
        while let (key, _) = members.next(body) {
            count += 1
            let name = lookup(node, key, body, pool)
            if let name {
                let presence = names[name].presence
                if presence >= 0 && presence < 64 { bits |= 1 << UInt64(presence) }
            }
            if checksAdditional && (name == nil || names[name!].property < 0)
                && (node.patternProperties.isEmpty || !matchesAnyPattern(node, key, body, &report)) {
                additionalCount += 1
            }
        }
        if checksAdditional && additionalCount > 0 {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("object instance has properties which are not allowed by the schema: [")
            var written = 0
            var again = JSONMembers(object.range, depth: depth)
            while let (key, _) = again.next(body) {
                let name = lookup(node, key, body, pool)
                if (name == nil || names[name!].property < 0)
                    && (node.patternProperties.isEmpty || !matchesAnyPattern(node, key, body, &report)) {
                    if written > 0 { report.write(",") }
                    written += 1
                    report.writeQuoted(body, key.content, decode: key.hasEscapes)
                }
            }
            report.write("]")
            report.end()
        }
        if !node.dependencies.isEmpty {
            // Indexes, not a slice: iterating an ArraySlice of structs allocates in a debug build.
            for position in node.dependencies where isPresent(dependencies[position].trigger, bits: bits, object, body, pool) {
                let dependency = dependencies[position]
                if dependency.schema >= 0 {
                    if !check(dependency.schema, object, depth: depth, body, pool, &report) {
                        guard report.isRecording else { return false }
                        valid = false
                    }
                    continue
                }
                var missing = 0
                for position in dependency.required where !isPresent(lists[position], bits: bits, object, body, pool) {
                    missing += 1
                }
                guard missing > 0 else { continue }
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                report.write("property ")
                report.writeQuoted(pool, names[dependency.trigger].bytes, decode: false)
                report.write(" of object has missing property dependencies (schema requires ")
                writeNames(dependency.required, missingOnly: false, bits: bits, object, body, pool, &report)
                report.write("; missing: ")
                writeNames(dependency.required, missingOnly: true, bits: bits, object, body, pool, &report)
                report.write(")")
                report.end()
            }
        }
        if count > node.maxProperties {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("object has too many properties (found ")
            report.write(count)
            report.write(" but schema requires at most ")
            report.write(node.maxProperties)
            report.write(")")
            report.end()
        }
        if count < node.minProperties {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("object has too few properties (found ")
            report.write(count)
            report.write(" but schema requires at least ")
            report.write(node.minProperties)
            report.write(")")
            report.end()
        }
        if !node.required.isEmpty {
            var missing = 0
            for position in node.required where !isPresent(lists[position], bits: bits, object, body, pool) { missing += 1 }
            if missing > 0 {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                report.write("object has missing required properties (")
                writeNames(node.required, missingOnly: true, bits: bits, object, body, pool, &report)
                report.write(")")
                report.end()
            }
        }
        return valid
    }

    /// `["a","b"]`: the names of name entries listed at `positions` in `lists`.
    private func writeNames(_ positions: Range<Int>, missingOnly: Bool, bits: UInt64, _ object: JSONScanner.Value,
                            _ body: Span<UInt8>, _ pool: Span<UInt8>, _ report: inout ValidationReport) {
        report.write("[")
        var written = 0
        for position in positions {
            let name = lists[position]
            if missingOnly && isPresent(name, bits: bits, object, body, pool) { continue }
            if written > 0 { report.write(",") }
            written += 1
            report.writeQuoted(pool, names[name].bytes, decode: false)
        }
        report.write("]")
    }

    /// Each member's value against its property's schema, the schemas of the patterns its name
    /// matches, or else additionalProperties' schema.
    private func checkMembers(_ node: Node, _ object: JSONScanner.Value, depth: Int, _ body: Span<UInt8>,
                              _ pool: Span<UInt8>, _ report: inout ValidationReport) -> Bool {
        guard !node.names.isEmpty || !node.patternProperties.isEmpty || node.additionalProperties >= 0 else { return true }
        var valid = true
        var members = JSONMembers(object.range, depth: depth)
        while let (key, member) = members.next(body) {
            var matched = false
            if let name = lookup(node, key, body, pool), names[name].property >= 0 {
                matched = true
                if !check(names[name].property, member, depth: depth + 1, body, pool, &report) {
                    guard report.isRecording else { return false }
                    valid = false
                }
            }
            if !node.patternProperties.isEmpty {
                decode(key, body, &report)
                for position in node.patternProperties where matches(position, &report) {
                    matched = true
                    if !check(patterns[position].schema, member, depth: depth + 1, body, pool, &report) {
                        guard report.isRecording else { return false }
                        valid = false
                    }
                }
            }
            if !matched && node.additionalProperties >= 0
                && !check(node.additionalProperties, member, depth: depth + 1, body, pool, &report) {
                guard report.isRecording else { return false }
                valid = false
            }
        }
        return valid
    }

    // MARK: Arrays

    /// additionalItems (false with tuple items), maxItems, minItems, uniqueItems.
    private func checkArray(_ node: Node, _ array: JSONScanner.Value, _ body: Span<UInt8>,
                            _ report: inout ValidationReport) -> Bool {
        guard node.tupleItems != nil || node.minItems > 0 || node.maxItems < Int.max || node.uniqueItems else { return true }
        var valid = true
        let count = ValueEquality.elementCount(body, array)
        if let tuple = node.tupleItems, node.additionalItems == CompiledSchema.forbidden, count > tuple.count {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("schema only allows ")
            report.write(tuple.count)
            report.write(" elements in array but instance has ")
            report.write(count)
            report.write(" elements")
            report.end()
        }
        if count > node.maxItems {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("array is too long: must have at most ")
            report.write(node.maxItems)
            report.write(" elements but instance has ")
            report.write(count)
            report.write(" elements")
            report.end()
        }
        if count < node.minItems {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("array is too short: must have at least ")
            report.write(node.minItems)
            report.write(" elements but instance has ")
            report.write(count)
            report.write(" elements")
            report.end()
        }
        if node.uniqueItems && ValueEquality.hasDuplicates(body, array, count: count, keys: false, scratch: &report.scratch) {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("array must not contain duplicate elements")
            report.end()
        }
        return valid
    }

    private func checkElements(_ node: Node, _ array: JSONScanner.Value, depth: Int, _ body: Span<UInt8>,
                               _ pool: Span<UInt8>, _ report: inout ValidationReport) -> Bool {
        guard node.items >= 0 || node.tupleItems != nil else { return true }
        var valid = true
        var elements = JSONElements(array.range, depth: depth)
        var index = 0
        while let element = elements.next(body) {
            defer { index += 1 }
            let schema: Int
            if let tuple = node.tupleItems {
                schema = index < tuple.count ? lists[tuple.lowerBound + index] : node.additionalItems
            } else {
                schema = node.items
            }
            guard schema >= 0 else { continue }
            if !check(schema, element, depth: depth + 1, body, pool, &report) {
                guard report.isRecording else { return false }
                valid = false
            }
        }
        return valid
    }

    // MARK: Strings and numbers

    /// maxLength, minLength (in code points, as fge and jsonschema count), pattern.
    private func checkString(_ node: Node, _ string: JSONScanner.Value, _ body: Span<UInt8>, _ pool: Span<UInt8>,
                             _ report: inout ValidationReport) -> Bool {
        var valid = true
        if node.minLength > 0 || node.maxLength < Int.max {
            var length = 0
            var bytes = DecodedBytes(string.content, hasEscapes: string.hasEscapes)
            while let byte = bytes.next(body) {
                if byte & 0xC0 != 0x80 { length += 1 }
            }
            if length > node.maxLength {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                report.write("string \"")
                report.writeContent(body, string)
                report.write("\" is too long (length: ")
                report.write(length)
                report.write(", maximum allowed: ")
                report.write(node.maxLength)
                report.write(")")
                report.end()
            }
            if length < node.minLength {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                report.write("string \"")
                report.writeContent(body, string)
                report.write("\" is too short (length: ")
                report.write(length)
                report.write(", required minimum: ")
                report.write(node.minLength)
                report.write(")")
                report.end()
            }
        }
        if node.pattern >= 0 && !matchesPattern(node.pattern, string, body, &report) {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("ECMA 262 regex \"")
            report.write(pool, patterns[node.pattern].source)
            report.write("\" does not match input string \"")
            report.writeContent(body, string)
            report.write("\"")
            report.end()
        }
        return valid
    }

    /// maximum (and exclusiveMaximum), minimum (and exclusiveMinimum), multipleOf, all exact.
    private func checkNumber(_ node: Node, _ number: DecimalNumber, _ value: JSONScanner.Value, _ body: Span<UInt8>,
                             _ pool: Span<UInt8>, _ report: inout ValidationReport) -> Bool {
        var valid = true
        if node.maximum >= 0 {
            let order = number.compare(body, to: decimals[node.maximum], pool)
            if order > 0 || (order == 0 && node.exclusiveMaximum) {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                if order > 0 {
                    report.write("numeric instance is greater than the required maximum (maximum: ")
                    report.write(pool, decimalTexts[node.maximum])
                    report.write(", found: ")
                    report.write(body, value.range)
                    report.write(")")
                } else {
                    report.write("numeric instance is not strictly lower than the required maximum ")
                    report.write(pool, decimalTexts[node.maximum])
                }
                report.end()
            }
        }
        if node.minimum >= 0 {
            let order = number.compare(body, to: decimals[node.minimum], pool)
            if order < 0 || (order == 0 && node.exclusiveMinimum) {
                guard report.isRecording else { return false }
                valid = false
                report.begin()
                if order < 0 {
                    report.write("numeric instance is lower than the required minimum (minimum: ")
                    report.write(pool, decimalTexts[node.minimum])
                    report.write(", found: ")
                    report.write(body, value.range)
                    report.write(")")
                } else {
                    report.write("numeric instance is not strictly greater than the required minimum ")
                    report.write(pool, decimalTexts[node.minimum])
                }
                report.end()
            }
        }
        if node.multipleOf >= 0 && !divisors[node.multipleOf].divides(number, body) {
            guard report.isRecording else { return false }
            valid = false
            report.begin()
            report.write("remainder of division is not zero (")
            report.write(body, value.range)
            report.write(" / ")
            report.write(pool, divisors[node.multipleOf].text)
            report.write(")")
            report.end()
        }
        return valid
    }
}
