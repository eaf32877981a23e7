import Testing
@testable import SluiceTemplates

/// Renders `text` with the given request values.
func render(_ text: String, body: String = "", parameters: [(TemplateRenderer.ParameterKind, String, String)] = [],
            context: [String: String] = [:], stageVariables: [(String, String)] = []) throws -> String {
    let template = try TemplateCompiler.compile(text)
    var renderer = TemplateRenderer(outputBytesMax: 1 << 16, workBytesMax: 1 << 16)
    let sample = TemplateSample(body: Array(body.utf8), parameters: parameters.map { ($0.0, $0.1, $0.2) },
                                context: context, stageVariables: stageVariables.map { ($0.0, $0.1) })
    #expect(sample.render(template, with: &renderer) == .rendered)
    return String(decoding: renderer.output, as: UTF8.self)
}

@Suite struct TemplateTests {
    @Test func textAndReferences() throws {
        #expect(try render("plain") == "plain")
        #expect(try render("#set($a = 1)$a ${a}x $!a $nope|") == "1 1x 1 |")
        #expect(try render("$ 5 and #not") == "$ 5 and #not")
    }

    @Test func whitespaceAroundDirectives() throws {
        #expect(try render("a\n  #set($x = 1)\nb") == "a\n  b")
        #expect(try render("  #set($x = 1)\nb") == "b")
        #expect(try render("x\n  #if(true)\n  y\n  #end\nz") == "x\n    y\n  z")
        #expect(try render("x  #if(true) y  #else n  #end  w") == "x   y    w")
        #expect(try render("a #* c *# b ## line\nc") == "a  b c")
    }

    @Test func conditionsAndLoops() throws {
        #expect(try render("#if($a)A#elseif(1 < 2)B#{else}C#end") == "B")
        #expect(try render("#foreach($i in [1..3])$i#if($foreach.hasNext),#end#end") == "1,2,3")
        #expect(try render("#foreach($i in [1,2,3])#if($i == 2)#break#end$i$velocityCount#end") == "11")
        #expect(try render("#set($m = {\"a\": 1, \"b\": [1, 2.0, \"s\"]})$m $m.a $m.b.size()") == "{a=1, b=[1, 2.0, s]} 1 3")
        #expect(try render("#foreach($i in [1..2000])#end$foreach.count") == "")
        #expect(try render("#set($n = 0)#foreach($i in [1..2000])#set($n = $n + 1)#end$n") == "1000")
    }

    @Test func input() throws {
        let body = #"{"a": 1, "b": {"c": "x\"y"}, "l": [1, 2.5, true, null], "e": "caf\u00e9"}"#
        #expect(try render("$input.json('$.b')", body: body) == #"{"c":"x\"y"}"#)
        #expect(try render("$input.path('$.b.c') $input.path('$.l[1]') $input.path('$.e')", body: body) == "x\"y 2.5 café")
        #expect(try render("#set($r = $input.path('$'))$r.a $r.l", body: body) == "1 [1, 2.5, true, null]")
        #expect(try render("#foreach($x in $input.path('$.l'))[$x]#end", body: body) == "[1][2.5][true][]")
        #expect(try render("$input.params('id') $input.params('q') $input.params('h') [$input.params('none')]",
                           parameters: [(.path, "id", "7"), (.querystring, "q", "s"), (.header, "h", "v")]) == "7 s v []")
    }

    @Test func util() throws {
        #expect(try render(#"$util.escapeJavaScript('a''b"c/é')"#) == #"a\'b\"c\/\u00E9"#)
        #expect(try render("$util.urlEncode('a b&c=é') $util.urlDecode('a+b%26')") == "a+b%26c%3D%C3%A9 a b&")
        #expect(try render("$util.base64Encode('hello') $util.base64Decode('aGVsbG8=')") == "aGVsbG8= hello")
        #expect(try render("#set($j = $util.parseJson('{\"k\": [1, 2]}'))$j.k.get(1)") == "2")
    }

    @Test func strings() throws {
        #expect(try render("#set($s = ' Hello ')$s.trim().toLowerCase() $s.length() $s.substring(1, 3) $s.indexOf('l')") == "hello 7 He 3")
        #expect(try render("#set($s = 'a,b,,')$s.split(',').size() $s.replaceAll('[ab]', 'x') $s.matches('a.*')") == "2 x,x,, true")
    }

    @Test func numbers() throws {
        #expect(try render("#set($d = 10/4)$d #set($e = 10.0/4)$e #set($f = 1e3)$f $f.toString()") == "22.51000.0 1000.0")
        #expect(JavaNumber.format(1e7) == Array("1.0E7".utf8))
        #expect(JavaNumber.format(0.001) == Array("0.001".utf8))
        #expect(JavaNumber.format(0.0001) == Array("1.0E-4".utf8))
        #expect(JavaNumber.format(123.456) == Array("123.456".utf8))
    }

    @Test func macrosAndDefines() throws {
        #expect(try render("#macro(m $a)[$a]#end#m(1) #m(\"x\")") == "[1] [x]")
        #expect(try render("#define($b)B$x#end#set($x = 1)<$b>") == "<B1>")
    }

    @Test func overrides() throws {
        let template = try TemplateCompiler.compile("#set($context.responseOverride.status = 418)#set($context.responseOverride.header.X-A = 'v')ok")
        var renderer = TemplateRenderer(outputBytesMax: 1024, workBytesMax: 1024)
        renderer.begin(template)
        #expect(renderer.render(template) == .rendered)
        #expect(renderer.statusOverride == 418)
        #expect(String(decoding: renderer.responseHeaderLines, as: UTF8.self) == "X-A: v\r\n")
    }

    @Test func errors() {
        #expect(throws: TemplateError.self) { try TemplateCompiler.compile("#if(true) x") }
        #expect(throws: TemplateError.self) { try TemplateCompiler.compile("#end") }
        #expect(throws: TemplateError.self) { try TemplateCompiler.compile("#set($a = )") }
        #expect(throws: TemplateError.self) { try TemplateCompiler.compile("$input.path('a.b')") }
        #expect(throws: TemplateError.self) { try TemplateCompiler.compile("#include('x')") }
        do {
            _ = try TemplateCompiler.compile("line1\n  #foreach($x [1])")
            Issue.record("compiled")
        } catch {
            #expect(error.line == 2)
        }
    }

    @Test func bounds() throws {
        let template = try TemplateCompiler.compile("#foreach($i in [1..1000])0123456789#end")
        var renderer = TemplateRenderer(outputBytesMax: 100, workBytesMax: 100)
        renderer.begin(template)
        #expect(renderer.render(template) == .tooLarge)
    }
}

@Suite struct TemplateRegressionTests {
    /// A property name read while an interpolated string is being built must not land in it.
    @Test func propertyInsideInterpolation() throws {
        #expect(try render(##"#set($o = $input.path('$'))#set($x = "$o.items.size()")[$x] "$o.k"#set($j = $util.parseJson('{"a": 1}'))"$j.a""##,
                           body: #"{"items": [1, 2], "k": "v"}"#) == #"[2] "v""1""#)
    }

    /// Comparing keys is bounded by the bytes compared, not only by the number of comparisons:
    /// a map of long keys fails as too large instead of holding the worker.
    @Test func keyComparisonsAreBounded() throws {
        let key = String(repeating: "k", count: 4_000)
        let members = (0..<3_000).map { "\"\(key)\($0)\": 1" }.joined(separator: ", ")
        let template = try TemplateCompiler.compile("#set($o = $input.path('$'))$o.keySet().size()")
        var renderer = TemplateRenderer(outputBytesMax: 1 << 16, workBytesMax: 1 << 26)
        let sample = TemplateSample(body: Array("{\(members)}".utf8))
        #expect(sample.render(template, with: &renderer) == .tooLarge)
    }

    /// Overrides set twice keep the last value; a path value may hold any byte.
    @Test func overridesSetTwice() throws {
        let template = try TemplateCompiler.compile("""
            #set($context.requestOverride.querystring.a = "1")#set($context.requestOverride.querystring.b = "x")\
            #set($context.requestOverride.querystring.a = "2")#set($context.requestOverride.path.p = $util.urlDecode('a%00b'))\
            #set($context.requestOverride.header.X-A = "1")#set($context.requestOverride.header.x-a = "2")\
            #set($context.requestOverride.header.Content-Length = "9")
            """)
        var renderer = TemplateRenderer(outputBytesMax: 1 << 16, workBytesMax: 1 << 16)
        #expect(TemplateSample().render(template, with: &renderer) == .rendered)
        #expect(String(decoding: renderer.requestQuery, as: UTF8.self) == "b=x&a=2")
        let value = try #require(renderer.requestPathOverride(Array("p".utf8)))
        #expect(Array(renderer.requestPathParameters[value]) == [0x61, 0, 0x62])
        #expect(renderer.requestPathOverride(Array("q".utf8)) == nil)
        #expect(String(decoding: renderer.requestHeaderLines, as: UTF8.self) == "x-a: 2\r\n")
        #expect(renderer.overridesRequestQuery(Array("a".utf8), count: 1))
        #expect(!renderer.overridesRequestQuery(Array("c".utf8), count: 1))
    }
}
