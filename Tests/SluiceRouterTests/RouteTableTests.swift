import SluiceHTTP1
import SluiceRouter
import Testing

/// One route for `makeTable`.
private struct R {
    var host: String? = nil
    var prefix: [String] = ["s"]
    var path: String
    var method: RouteMethod = .exact(.get)
    var operation: Int
    var stage: Int = 0
}

private func makeTable(_ routes: [R]) -> RouteTable {
    var builder = RouteTableBuilder()
    for route in routes {
        let conflict = builder.add(host: route.host, prefix: route.prefix, pattern: try! RoutePattern(parsing: route.path),
                                   method: route.method, target: RouteTarget(operation: route.operation, stage: route.stage))
        precondition(conflict == nil, "unexpected conflict for \(route.path)")
    }
    return builder.build()
}

/// What a lookup found, with the parameter values cut out of the path.
private struct Found: Equatable {
    var operation: Int
    var stage: Int
    var parameters: [String]
}

private func find(_ table: RouteTable, _ path: String, _ method: HTTPMethod = .get, host: String = "") -> Found? {
    let pathBytes = Array(path.utf8)
    let hostBytes = Array(host.utf8)
    var match = RouteMatch()
    guard table.lookup(host: hostBytes.span, path: pathBytes.span, method: method, into: &match) else { return nil }
    let parameters = match.pathParameters.map { String(decoding: pathBytes[$0], as: UTF8.self) }
    return Found(operation: match.operation, stage: match.stage, parameters: parameters)
}

@Suite struct PrecedenceTests {
    let table = makeTable([
        R(path: "/a/b", operation: 1),
        R(path: "/a/{x}", operation: 2),
        R(path: "/a/{proxy+}", operation: 3),
    ])

    @Test func literalBeatsParameterBeatsGreedy() {
        #expect(find(table, "/s/a/b") == Found(operation: 1, stage: 0, parameters: []))
        #expect(find(table, "/s/a/c") == Found(operation: 2, stage: 0, parameters: ["c"]))
        #expect(find(table, "/s/a/c/d") == Found(operation: 3, stage: 0, parameters: ["c/d"]))
        #expect(find(table, "/s/a/b/c/d") == Found(operation: 3, stage: 0, parameters: ["b/c/d"]))
    }

    @Test func greedyNeedsAtLeastOneSegment() {
        let table = makeTable([R(path: "/files/{proxy+}", operation: 1)])
        #expect(find(table, "/s/files") == nil)
        #expect(find(table, "/s/files/") == nil)
        #expect(find(table, "/s/files/x") == Found(operation: 1, stage: 0, parameters: ["x"]))
    }

    @Test func rootGreedy() {
        let table = makeTable([R(path: "/", operation: 1), R(path: "/{proxy+}", method: .any, operation: 2)])
        #expect(find(table, "/s") == Found(operation: 1, stage: 0, parameters: []))
        #expect(find(table, "/s/anything/at/all", .delete) == Found(operation: 2, stage: 0, parameters: ["anything/at/all"]))
    }
}

@Suite struct BacktrackingTests {
    @Test func literalBranchFailsDeeperThenParameterBranchMatches() {
        let table = makeTable([
            R(path: "/a/{x}/c", operation: 1),
            R(path: "/a/b/{y}", operation: 2),
        ])
        #expect(find(table, "/s/a/b/c") == Found(operation: 2, stage: 0, parameters: ["c"]))
        #expect(find(table, "/s/a/z/c") == Found(operation: 1, stage: 0, parameters: ["z"]))
        #expect(find(table, "/s/a/z/d") == nil)
    }

    @Test func parametersOfAbandonedBranchesAreDropped() {
        // `/a/b/{y}` exists only as the parent of `/a/b/{y}/e`, so for `/a/b/c` the search enters
        // it, records y = c, finds no method, and must forget y before trying `{x}`.
        let table = makeTable([
            R(path: "/a/{x}/c", operation: 1),
            R(path: "/a/b/{y}/e", operation: 2),
        ])
        #expect(find(table, "/s/a/b/c") == Found(operation: 1, stage: 0, parameters: ["b"]))
        #expect(find(table, "/s/a/b/c/e") == Found(operation: 2, stage: 0, parameters: ["c"]))
    }

    @Test func resourceWithoutTheMethodFallsThroughToALessSpecificOne() {
        let table = makeTable([
            R(path: "/pets", operation: 1),
            R(path: "/{proxy+}", method: .any, operation: 2),
        ])
        #expect(find(table, "/s/pets")?.operation == 1)
        #expect(find(table, "/s/pets", .post) == Found(operation: 2, stage: 0, parameters: ["pets"]))
    }
}

@Suite struct MethodTests {
    let table = makeTable([
        R(path: "/r", method: .exact(.get), operation: 1),
        R(path: "/r", method: .any, operation: 2),
        R(path: "/only-post", method: .exact(.post), operation: 3),
    ])

    @Test func exactMethodBeatsAny() {
        #expect(find(table, "/s/r", .get)?.operation == 1)
    }

    @Test func anyAnswersTheOtherRoutableMethods() {
        for method in [HTTPMethod.head, .post, .put, .delete, .patch, .options] {
            #expect(find(table, "/s/r", method)?.operation == 2)
        }
    }

    @Test func unroutableMethodsNeverMatch() {
        for method in [HTTPMethod.connect, .trace, .other] {
            #expect(find(table, "/s/r", method) == nil)
        }
    }

    @Test func undefinedMethodWithoutAnyDoesNotMatch() {
        #expect(find(table, "/s/only-post", .get) == nil)
        #expect(find(table, "/s/only-post", .post)?.operation == 3)
    }
}

@Suite struct PathShapeTests {
    let table = makeTable([
        R(path: "/", operation: 1),
        R(path: "/pets", operation: 2),
        R(path: "/files/{proxy+}", operation: 3),
    ])

    @Test func rootResource() {
        #expect(find(table, "/s")?.operation == 1)
        #expect(find(table, "/s/")?.operation == 1)
        #expect(find(table, "/") == nil)
        #expect(find(table, "") == nil)
    }

    @Test func trailingSlashesAreIgnored() {
        #expect(find(table, "/s/pets/")?.operation == 2)
        #expect(find(table, "/s/pets//")?.operation == 2)
    }

    /// Empty segments collapse for matching, as API Gateway matches resources; a greedy
    /// parameter's value keeps them as sent.
    @Test func emptySegmentsCollapse() {
        #expect(find(table, "//s/pets")?.operation == 2)
        #expect(find(table, "/s//pets")?.operation == 2)
        #expect(find(table, "/s///pets")?.operation == 2)
        #expect(find(table, "/s/files/a//b")?.parameters == ["a//b"])
        #expect(find(table, "/s/files//a")?.parameters == ["a"])
        #expect(find(table, "/s/files/a/b")?.parameters == ["a/b"])
        // A run of slashes costs no recursion.
        #expect(find(table, "/s" + String(repeating: "/", count: 5_000) + "pets")?.operation == 2)
    }

    @Test func unknownStageMatchesNothing() {
        #expect(find(table, "/prod/pets") == nil)
        #expect(find(table, "/pets") == nil)
    }

    @Test func pathMustBeOriginForm() {
        #expect(find(table, "*") == nil)
        #expect(find(table, "s/pets") == nil)
    }

    @Test func comparisonIsOnRawBytesAndCaseSensitive() {
        let table = makeTable([R(path: "/caf%C3%A9", operation: 1), R(path: "/items/{id}", operation: 2)])
        #expect(find(table, "/s/caf%C3%A9")?.operation == 1)
        #expect(find(table, "/s/caf%c3%a9") == nil)
        #expect(find(table, "/s/Caf%C3%A9") == nil)
        #expect(find(table, "/s/items/a%2Fb")?.parameters == ["a%2Fb"])
    }

    @Test func parameterRangesAreExact() {
        let table = makeTable([R(path: "/users/{userId}/orders/{orderId}", operation: 1)])
        let path = Array("/s/users/42/orders/7".utf8)
        var match = RouteMatch()
        let found = table.lookup(host: Array<UInt8>().span, path: path.span, method: .get, into: &match)
        #expect(found)
        #expect(match.pathParameters == [9..<11, 19..<20])
    }

    @Test func manyLiteralSiblingsAreAllFound() {
        // Enough siblings that the binary search over (length, bytes) takes several steps.
        var routes: [R] = []
        for index in 0..<200 { routes.append(R(path: "/r\(index)", operation: index)) }
        let table = makeTable(routes)
        for index in 0..<200 { #expect(find(table, "/s/r\(index)")?.operation == index) }
        #expect(find(table, "/s/r200") == nil)
        #expect(find(table, "/s/r") == nil)
        #expect(table.routeCount == 200)
    }
}

@Suite struct MountTests {
    @Test func hostMappingIsCaseInsensitiveAndIgnoresThePort() {
        let table = makeTable([
            R(host: "api.example.com", prefix: [], path: "/pets", operation: 1, stage: 3),
            R(prefix: ["prod"], path: "/pets", operation: 2, stage: 4),
        ])
        #expect(find(table, "/pets", host: "api.example.com") == Found(operation: 1, stage: 3, parameters: []))
        #expect(find(table, "/pets", host: "API.Example.COM:8443")?.operation == 1)
        #expect(find(table, "/pets", host: "") == nil)
        #expect(find(table, "/prod/pets", host: "other.example.com")?.operation == 2)
        #expect(find(table, "/prod/pets", host: "")?.operation == 2)
        // A declared host sees only its own routes.
        #expect(find(table, "/prod/pets", host: "api.example.com") == nil)
    }

    @Test func ipv6HostKeepsItsBrackets() {
        let table = makeTable([R(host: "[::1]", prefix: [], path: "/x", operation: 1)])
        #expect(find(table, "/x", host: "[::1]:8080")?.operation == 1)
        #expect(find(table, "/x", host: "[::1]")?.operation == 1)
        #expect(find(table, "/x", host: "[::2]") == nil)
    }

    @Test func basePathWithMappedStage() {
        // base_path: v1, stage: prod → /v1/pets
        let table = makeTable([R(prefix: ["v1"], path: "/pets/{id}", operation: 1, stage: 7)])
        #expect(find(table, "/v1/pets/9") == Found(operation: 1, stage: 7, parameters: ["9"]))
        #expect(find(table, "/v1/prod/pets/9") == nil)
    }

    @Test func basePathWithStageSegment() {
        // base_path: shop/v2, stages prod and beta → /shop/v2/{stage}/...
        let table = makeTable([
            R(prefix: ["shop", "v2", "prod"], path: "/", operation: 1, stage: 0),
            R(prefix: ["shop", "v2", "beta"], path: "/", operation: 1, stage: 1),
        ])
        #expect(find(table, "/shop/v2/prod") == Found(operation: 1, stage: 0, parameters: []))
        #expect(find(table, "/shop/v2/beta/") == Found(operation: 1, stage: 1, parameters: []))
        #expect(find(table, "/shop/v2/gamma") == nil)
        #expect(find(table, "/shop/v2") == nil)
    }

    @Test func twoAPIsShareTheDefaultSpace() {
        let table = makeTable([
            R(prefix: ["prod"], path: "/pets", operation: 1, stage: 0),
            R(prefix: ["dev"], path: "/pets", operation: 1, stage: 1),
            R(prefix: ["orders"], path: "/{id}", operation: 2, stage: 2),
        ])
        #expect(find(table, "/prod/pets") == Found(operation: 1, stage: 0, parameters: []))
        #expect(find(table, "/dev/pets") == Found(operation: 1, stage: 1, parameters: []))
        #expect(find(table, "/orders/5") == Found(operation: 2, stage: 2, parameters: ["5"]))
        #expect(find(table, "/test/pets") == nil)
    }

    @Test func emptyTableMatchesNothing() {
        #expect(find(RouteTable(), "/") == nil)
        #expect(find(RouteTable(), "/s/x") == nil)
    }
}

@Suite struct BuilderTests {
    @Test func conflictKeepsTheLongerPrefix() {
        var builder = RouteTableBuilder()
        let pattern = try! RoutePattern(parsing: "/pets")
        // Default-space API whose stage is `v1`, resource /prod/pets…
        let first = builder.add(host: nil, prefix: ["v1"], pattern: try! RoutePattern(parsing: "/prod/pets"),
                                method: .exact(.get), target: RouteTarget(operation: 1, stage: 1))
        #expect(first == nil)
        // …and an API at base path v1, stage prod, resource /pets: the same URL.
        let second = builder.add(host: nil, prefix: ["v1", "prod"], pattern: pattern, method: .exact(.get),
                                 target: RouteTarget(operation: 2, stage: 2))
        #expect(second == RouteConflict(winner: RouteTarget(operation: 2, stage: 2),
                                        loser: RouteTarget(operation: 1, stage: 1)))
        let table = builder.build()
        #expect(find(table, "/v1/prod/pets")?.operation == 2)
    }

    @Test func conflictWithEqualPrefixKeepsTheFirst() {
        var builder = RouteTableBuilder()
        builder.add(host: nil, prefix: ["s"], pattern: try! RoutePattern(parsing: "/pets/{id}"), method: .exact(.get),
                    target: RouteTarget(operation: 1, stage: 0))
        let conflict = builder.add(host: nil, prefix: ["s"], pattern: try! RoutePattern(parsing: "/pets/{petId}"),
                                   method: .exact(.get), target: RouteTarget(operation: 2, stage: 0))
        #expect(conflict?.winner.operation == 1)
        #expect(conflict?.loser.operation == 2)
    }

    @Test func lookupDoesNotGrowTheParameterArray() {
        let table = makeTable([
            R(path: "/a/{x}/b/{y}/c/{z}", operation: 1),
            R(path: "/a/{x}/b/{y}/c/{z}/{proxy+}", operation: 2),
            R(path: "/a/{x}/{y}", operation: 3),
        ])
        #expect(table.parametersMax == 4)
        var match = RouteMatch(parametersCapacity: table.parametersMax)
        let capacity = match.pathParameters.capacity
        let paths = ["/s/a/1/b/2/c/3", "/s/a/1/b/2/c/3/d/e/f", "/s/a/1/2", "/s/a/1/b/2/x", "/s/nothing"]
        for _ in 0..<1_000 {
            for path in paths {
                let bytes = Array(path.utf8)
                _ = table.lookup(host: Array<UInt8>().span, path: bytes.span, method: .get, into: &match)
                #expect(match.pathParameters.capacity == capacity)
            }
        }
        let bytes = Array("/s/a/1/b/2/c/3/d/e/f".utf8)
        #expect(table.lookup(host: Array<UInt8>().span, path: bytes.span, method: .get, into: &match))
        #expect(match.pathParameters == [5..<6, 9..<10, 13..<14, 15..<20])
    }
}

@Suite struct RoutePatternTests {
    @Test func validPatterns() throws {
        #expect(try RoutePattern(parsing: "/").segments.isEmpty)
        let pattern = try RoutePattern(parsing: "/pets/{petId}/toys/{proxy+}")
        #expect(pattern.segments == [.literal("pets"), .parameter("petId"), .literal("toys"), .greedy("proxy")])
        #expect(pattern.parameterNames == ["petId", "proxy"])
        #expect(pattern.description == "/pets/{petId}/toys/{proxy+}")
        #expect(try RoutePattern(parsing: "/pets/").description == "/pets")
    }

    @Test(arguments: [
        "pets", "/pets//toys", "/{", "/{petId", "/pets}", "/file.{ext}", "/{}", "/{+}", "/{proxy+}/x", "/{a}/{a}",
        "/{a{b}}",
    ])
    func invalidPatterns(_ path: String) {
        #expect(throws: RoutePatternError.self) { try RoutePattern(parsing: path) }
    }

    @Test func methodsFromOpenAPIKeys() {
        #expect(RouteMethod(openAPIKey: "get") == .exact(.get))
        #expect(RouteMethod(openAPIKey: "x-amazon-apigateway-any-method") == .any)
        #expect(RouteMethod(openAPIKey: "trace") == nil)
        #expect(RouteMethod(openAPIKey: "parameters") == nil)
        #expect(RouteMethod.any.description == "ANY")
        #expect(RouteMethod.exact(.patch).description == "PATCH")
        // The method table is indexed by raw value: the routable methods must come first.
        #expect(RouteMethod.routableMethods.map(\.rawValue) == Array(0..<7))
    }
}

/// A request that no route answers still belongs to the stage whose URLs it is under.
struct EnclosingStageTests {
    func enclosing(_ table: RouteTable, _ path: String, host: String = "") -> Int {
        let pathBytes = Array(path.utf8)
        let hostBytes = Array(host.utf8)
        var match = RouteMatch()
        let found = table.lookup(host: hostBytes.span, path: pathBytes.span, method: .get, into: &match)
        #expect(!found)
        return match.enclosingStage
    }

    @Test func unmatchedPathsUnderAStageNameIt() {
        var builder = RouteTableBuilder()
        builder.mount(host: nil, prefix: ["prod"], stage: 0)
        builder.mount(host: nil, prefix: ["beta"], stage: 1)
        builder.mount(host: nil, prefix: ["v2"], stage: 2)
        builder.mount(host: "api.example.com", prefix: [], stage: 3)
        builder.add(host: nil, prefix: ["prod"], pattern: try! RoutePattern(parsing: "/pets/{id}"), method: .exact(.get),
                    target: RouteTarget(operation: 0, stage: 0))
        builder.add(host: nil, prefix: ["beta"], pattern: try! RoutePattern(parsing: "/pets"), method: .exact(.get),
                    target: RouteTarget(operation: 1, stage: 1))
        let table = builder.build()
        #expect(enclosing(table, "/prod/nothing") == 0)
        #expect(enclosing(table, "/prod/pets/1/deeper") == 0)
        #expect(enclosing(table, "/prod") == 0)
        #expect(enclosing(table, "/beta/pets/1") == 1)
        // A stage without routes is still mounted.
        #expect(enclosing(table, "/v2/anything") == 2)
        #expect(enclosing(table, "/other/pets") == -1)
        #expect(enclosing(table, "/") == -1)
        #expect(enclosing(table, "/x", host: "API.example.com:8080") == 3)
    }
}
