import SluiceJSON

/// Properties and methods: maps, lists and strings as Java has them, and `$input`, `$util`.
extension TemplateRenderer {
    // MARK: - Maps and lists

    /// `$value.name`: a map's entry, `empty` as `isEmpty()`; nothing for other values.
    mutating func property(_ value: Value, _ name: Bytes, _ template: Template) -> Value {
        switch value {
        case .container(let index) where !containers[Int(index)].isMap:
            return nameIs(name, "empty", template) ? .boolean(containers[Int(index)].values.isEmpty) : .null
        case .json(let bytes, false):
            guard nameIs(name, "empty", template) else { return .null }
            var elements = JSONElements(bytes.range)
            return .boolean(withSpace(bytes.space) { elements.next($0) } == nil)
        case .container, .json, .parameters, .stageVariables:
            return get(value, .string(name), template)
        case .string(let bytes):
            return nameIs(name, "empty", template) ? .boolean(bytes.count == 0) : .null
        default:
            return .null
        }
    }

    func nameIs(_ name: Bytes, _ expected: StaticString, _ template: Template) -> Bool {
        guard name.count == expected.utf8CodeUnitCount else { return false }
        var offset = 0
        var matches = true
        expected.withUTF8Buffer { text in
            for byte in text {
                if self.byte(name.space, Int(name.start) + offset, template) != byte { matches = false }
                offset += 1
            }
        }
        return matches
    }

    /// `map.get(key)` and `list.get(index)`, `$value[key]`.
    mutating func get(_ value: Value, _ key: Value, _ template: Template) -> Value {
        switch value {
        case .container(let index):
            if containers[Int(index)].isMap {
                guard let position = mapIndex(Int(index), key, template) else { return .null }
                return containers[Int(index)].values[position]
            }
            guard let position = integerValue(key, template), position >= 0,
                  position < containers[Int(index)].values.count else { return .null }
            return containers[Int(index)].values[Int(position)]
        case .json(let bytes, let isObject):
            if isObject {
                guard case .string(var name) = key else { return .null }
                name = readable(name, template)
                var members = JSONMembers(bytes.range)
                var found: JSONScanner.Value?
                while let member = withSpace(bytes.space, { members.next($0) }) {
                    if keyMatches(member.key, in: bytes.space, name) { found = member.value }
                }
                guard let found else { return .null }
                return self.value(of: found, in: bytes.space)
            }
            guard let position = integerValue(key, template), position >= 0 else { return .null }
            var elements = JSONElements(bytes.range)
            var remaining = position
            while let element = withSpace(bytes.space, { elements.next($0) }) {
                if remaining == 0 { return self.value(of: element, in: bytes.space) }
                remaining -= 1
            }
            return .null
        case .parameters(let kind):
            guard case .string(let name) = key else { return .null }
            if kind < 0 {
                for other in 0..<3 where nameEquals(name, TemplateUtil.parameterKinds[other], template) {
                    return .parameters(Int8(other))
                }
                return .null
            }
            // Header names are matched without regard to case, as HTTP has them.
            for parameter in parameters.reversed() where parameter.kind == kind {
                if kind == 2 ? bytesEqualIgnoringCase(parameter.name, name, template) : bytesEqual(parameter.name, name, template) {
                    return .string(parameter.value)
                }
            }
            return .null
        case .stageVariables:
            guard case .string(let name) = key else { return .null }
            for variable in stageVariables where bytesEqual(variable.name, name, template) { return .string(variable.value) }
            return .null
        default:
            return .null
        }
    }

    func keyMatches(_ key: JSONScanner.Value, in space: Space, _ name: Bytes) -> Bool {
        withSpace(space) { json in
            withSpace(name.space) { nameBytes in
                JSONScanner.string(json, key, equals: nameBytes.extracting(name.range))
            }
        }
    }

    func nameEquals(_ name: Bytes, _ expected: [UInt8], _ template: Template) -> Bool {
        guard name.count == expected.count else { return false }
        for offset in 0..<expected.count where byte(name.space, Int(name.start) + offset, template) != expected[offset] {
            return false
        }
        return true
    }

    func bytesEqualIgnoringCase(_ a: Bytes, _ b: Bytes, _ template: Template) -> Bool {
        guard a.count == b.count else { return false }
        for offset in 0..<a.count {
            let x = byte(a.space, Int(a.start) + offset, template)
            let y = byte(b.space, Int(b.start) + offset, template)
            if TemplateUtil.lowercase(x) != TemplateUtil.lowercase(y) { return false }
        }
        return true
    }

    mutating func mapIndex(_ container: Int, _ key: Value, _ template: Template) -> Int? {
        for position in 0..<containers[container].keys.count {
            guard spend(1) else { return nil }
            if equals(containers[container].keys[position], key, template) { return position }
        }
        return nil
    }

    /// Maps are searched key by key and values compared byte by byte; a template that would
    /// spend more than the bound on it (a map of many thousands of long keys, filled or read)
    /// fails as too large rather than hold the worker. `units`: comparisons and bytes compared.
    mutating func spend(_ units: Int) -> Bool {
        comparisons += units
        guard comparisons > Self.comparisonsMax else { return true }
        failed = true
        stopped = true
        return false
    }

    /// `map.put(key, value)`; the previous value.
    @discardableResult
    mutating func put(_ key: Value, _ value: Value, in container: Int, _ template: Template) -> Value {
        if let position = mapIndex(container, key, template) {
            let previous = containers[container].values[position]
            containers[container].values[position] = value
            return previous
        }
        containers[container].keys.append(key)
        containers[container].values.append(value)
        return .null
    }

    /// Turns JSON text (or parameters) into a container that methods can change; a variable that
    /// held it holds the container from then on.
    mutating func materialize(_ value: inout Value, base: Int, _ template: Template) {
        let container: Int32
        switch value {
        case .json(let bytes, let isObject):
            container = newContainer(isMap: isObject)
            if isObject {
                var members = JSONMembers(bytes.range)
                while let member = withSpace(bytes.space, { members.next($0) }) {
                    let key = self.value(of: member.key, in: bytes.space)
                    let item = self.value(of: member.value, in: bytes.space)
                    put(key, item, in: Int(container), template)
                }
            } else {
                var elements = JSONElements(bytes.range)
                while let element = withSpace(bytes.space, { elements.next($0) }) {
                    let item = self.value(of: element, in: bytes.space)
                    containers[Int(container)].values.append(item)
                }
            }
        default:
            return
        }
        value = .container(container)
        if case .variable(let slot) = template.expressions[base] { slots[Int(slot)] = value }
    }

    /// The keys of a map-like value, as a list.
    mutating func keys(_ value: Value, _ template: Template) -> Value {
        let list = newContainer(isMap: false)
        switch value {
        case .container(let index) where containers[Int(index)].isMap:
            for position in 0..<containers[Int(index)].keys.count {
                let key = containers[Int(index)].keys[position]
                containers[Int(list)].values.append(key)
            }
        case .json(let bytes, true):
            var members = JSONMembers(bytes.range)
            while let member = withSpace(bytes.space, { members.next($0) }) {
                let key = self.value(of: member.key, in: bytes.space)
                // A key written twice is one key of the map.
                if !containers[Int(list)].values.contains(where: { spend(1) && equals($0, key, template) }) {
                    containers[Int(list)].values.append(key)
                }
            }
        case .parameters(let kind):
            if kind < 0 {
                for other in 0..<3 {
                    let start = startString()
                    put(contentsOf: TemplateUtil.parameterKinds[other])
                    containers[Int(list)].values.append(finishString(start))
                }
            } else {
                for parameter in parameters where parameter.kind == kind {
                    let name = Value.string(parameter.name)
                    if !containers[Int(list)].values.contains(where: { spend(1) && equals($0, name, template) }) {
                        containers[Int(list)].values.append(name)
                    }
                }
            }
        case .stageVariables:
            for variable in stageVariables { containers[Int(list)].values.append(.string(variable.name)) }
        default:
            return .null
        }
        return .container(list)
    }

    /// How many entries or elements a value has (`size()`); nil for values without.
    func size(_ value: Value) -> Int? {
        switch value {
        case .container(let index): return containers[Int(index)].values.count
        case .json(let bytes, let isObject):
            var count = 0
            if isObject {
                var members = JSONMembers(bytes.range)
                while withSpace(bytes.space, { members.next($0) }) != nil { count += 1 }
            } else {
                var elements = JSONElements(bytes.range)
                while withSpace(bytes.space, { elements.next($0) }) != nil { count += 1 }
            }
            return count
        case .parameters(let kind):
            return kind < 0 ? 3 : parameters.count(where: { $0.kind == kind })
        case .stageVariables: return stageVariables.count
        default: return nil
        }
    }

    // MARK: - Method calls

    mutating func call(_ template: Template, base: Int, _ method: Method, _ arguments: Block) -> Value {
        var value = evaluate(template, base)
        func argument(_ renderer: inout TemplateRenderer, _ position: Int) -> Value {
            guard position < Int(arguments.count) else { return .null }
            return renderer.evaluate(template, Int(template.children[Int(arguments.start) + position]))
        }
        let count = Int(arguments.count)
        if case .string(let bytes) = value {
            return stringMethod(template, bytes, method, count, { renderer, position in argument(&renderer, position) })
        }
        switch (method, count) {
        case (.size, 0):
            return size(value).map { .integer(Int64($0)) } ?? .null
        case (.isEmpty, 0):
            return size(value).map { .boolean($0 == 0) } ?? .null
        case (.get, 1):
            return get(value, argument(&self, 0), template)
        case (.containsKey, 1):
            let key = argument(&self, 0)
            switch value {
            case .container(let index) where containers[Int(index)].isMap:
                return .boolean(mapIndex(Int(index), key, template) != nil)
            case .json(_, true), .parameters, .stageVariables:
                let found = keys(value, template)
                guard case .container(let list) = found else { return .boolean(false) }
                return .boolean(containers[Int(list)].values.contains { equals($0, key, template) })
            default: return .null
            }
        case (.contains, 1), (.containsValue, 1):
            let needle = argument(&self, 0)
            var cursor = Cursor(value, self)
            while let item = cursor.next(&self) {
                if equals(item, needle, template) { return .boolean(true) }
            }
            return .boolean(false)
        case (.keySet, 0):
            return keys(value, template)
        case (.values, 0):
            let list = newContainer(isMap: false)
            var cursor = Cursor(value, self)
            while let item = cursor.next(&self) { containers[Int(list)].values.append(item) }
            return .container(list)
        case (.put, 2):
            let key = argument(&self, 0)
            let item = argument(&self, 1)
            materialize(&value, base: base, template)
            guard case .container(let index) = value, containers[Int(index)].isMap else { return .null }
            return put(key, item, in: Int(index), template)
        case (.putAll, 1):
            let other = argument(&self, 0)
            materialize(&value, base: base, template)
            guard case .container(let index) = value, containers[Int(index)].isMap,
                  case .container(let list) = keys(other, template) else { return .null }
            for position in 0..<containers[Int(list)].values.count {
                let key = containers[Int(list)].values[position]
                put(key, get(other, key, template), in: Int(index), template)
            }
            return .null
        case (.add, 1):
            let item = argument(&self, 0)
            materialize(&value, base: base, template)
            guard case .container(let index) = value, !containers[Int(index)].isMap else { return .null }
            containers[Int(index)].values.append(item)
            return .boolean(true)
        case (.remove, 1):
            let key = argument(&self, 0)
            materialize(&value, base: base, template)
            guard case .container(let index) = value else { return .null }
            if containers[Int(index)].isMap {
                guard let position = mapIndex(Int(index), key, template) else { return .null }
                containers[Int(index)].keys.remove(at: position)
                return containers[Int(index)].values.remove(at: position)
            }
            guard let position = integerValue(key, template), position >= 0,
                  position < containers[Int(index)].values.count else { return .null }
            return containers[Int(index)].values.remove(at: Int(position))
        case (.toString, 0):
            let start = startString()
            write(value, template)
            return finishString(start)
        case (.equals, 1):
            return .boolean(equals(value, argument(&self, 0), template))
        default:
            return .null
        }
    }

    // MARK: - $input

    mutating func input(_ template: Template, _ call: InputCall, _ arguments: Block) -> Value {
        switch call {
        case .body:
            return .string(body)
        case .json, .path:
            let pathValue = evaluate(template, Int(template.children[Int(arguments.start)]))
            guard case .string(var path) = pathValue else { return .null }
            path = readable(path, template)
            let bodyBytes = body
            let selected: JSONScanner.Value? = withSpace(.input) { inputBytes in
                withSpace(path.space) { pathBytes in
                    JSONPath.select(pathBytes.extracting(path.range), in: inputBytes.extracting(bodyBytes.range))
                }
            }
            guard var found = selected else {
                return call == .json ? .string(Bytes(.source, 0..<0)) : .null
            }
            found = JSONScanner.Value(kind: found.kind,
                                      range: found.range.lowerBound + Int(bodyBytes.start)..<found.range.upperBound + Int(bodyBytes.start),
                                      content: found.content.lowerBound + Int(bodyBytes.start)..<found.content.upperBound + Int(bodyBytes.start),
                                      hasEscapes: found.hasEscapes)
            if call == .path { return value(of: found, in: .input) }
            // $input.json: the selected value as compact JSON text.
            let start = startString()
            var inString = false
            var escaped = false
            for offset in found.range {
                let byte = input[offset]
                if inString {
                    if escaped { escaped = false } else if byte == 0x5C { escaped = true } else if byte == 0x22 { inString = false }
                    put(byte)
                } else {
                    if byte == 0x22 { inString = true }
                    if byte != 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D { put(byte) }
                }
            }
            return finishString(start)
        case .parameters:
            return .parameters(-1)
        case .parameter:
            let name = evaluate(template, Int(template.children[Int(arguments.start)]))
            for kind in 0..<3 {
                let found = get(.parameters(Int8(kind)), name, template)
                if !found.isNull { return found }
            }
            return .string(Bytes(.source, 0..<0))
        case .parametersOfKind:
            return .null
        }
    }

    // MARK: - $util

    mutating func util(_ call: UtilCall, _ argument: Value, _ template: Template) -> Value {
        guard !argument.isNull else { return .null }
        var text: Bytes
        if case .string(let bytes) = argument {
            text = bytes
        } else {
            let start = startString()
            write(argument, template)
            guard case .string(let written) = finishString(start) else { return .null }
            text = written
        }
        switch call {
        case .escapeJavaScript:
            let start = startString()
            TemplateUtil.escapeJavaScript(text, &self, template)
            return finishString(start)
        case .urlEncode:
            let start = startString()
            for offset in text.range { TemplateUtil.formEncode(byte(text.space, offset, template), &self) }
            return finishString(start)
        case .urlDecode:
            let start = startString()
            guard TemplateUtil.formDecode(text, &self, template) else {
                _ = finishString(start)
                return .null
            }
            return finishString(start)
        case .base64Encode:
            let start = startString()
            TemplateUtil.base64Encode(text, &self, template)
            return finishString(start)
        case .base64Decode:
            let start = startString()
            guard TemplateUtil.base64Decode(text, &self, template) else {
                _ = finishString(start)
                return .null
            }
            return finishString(start)
        case .parseJson:
            text = readable(text, template)
            guard let document = parseDocument(text) else { return .null }
            return value(of: document, in: text.space)
        }
    }
}
