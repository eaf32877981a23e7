/// What a route leads to: an operation of the deployment, served through one stage.
public struct RouteTarget: Sendable, Hashable {
    /// Index into `Deployment.operations`.
    public var operation: Int
    /// Index into `Deployment.stages`.
    public var stage: Int

    public init(operation: Int, stage: Int) {
        self.operation = operation
        self.stage = stage
    }
}

/// Two routes that answer the same URL and method. The builder keeps one (`winner`) and reports
/// the other, so the configuration can tell the user which definition is shadowed.
public struct RouteConflict: Sendable, Hashable {
    /// The route that answers requests.
    public var winner: RouteTarget
    /// The route that is never reached.
    public var loser: RouteTarget

    public init(winner: RouteTarget, loser: RouteTarget) {
        self.winner = winner
        self.loser = loser
    }
}

/// The mutable form of the route tree, used once at load time: routes are added one by one, then
/// `build()` compiles them into the immutable, flat `RouteTable` that workers search.
///
/// Each route is placed under a *space* (the default space, or one per declared host), then under
/// a literal *prefix* (the base path segments and, unless a mapping names the stage, the stage
/// name), then under its resource path. A stage's resources are therefore a subtree of their own:
/// the leaves carry the stage, and a lookup needs no separate stage step.
public struct RouteTableBuilder: Sendable {
    struct Node: Sendable {
        var literalChildren: [String: Int] = [:]
        var parameterChild: Int?
        var greedyChild: Int?
        /// Indexed by method slot (`RouteMethod.slot`).
        var targets: [Int: Target] = [:]
        /// The stage mounted here (the node its prefix ends at), or nil.
        var mountedStage: Int?
    }

    struct Target: Sendable {
        var target: RouteTarget
        /// The number of prefix segments (base path and stage) of the mount the route came from;
        /// on a conflict the more specific mount wins.
        var prefixLength: Int
    }

    var nodes: [Node] = [Node()]
    /// Root node of each declared host, keyed by the host in lowercase without a port.
    var hostRoots: [String: Int] = [:]
    var parametersMax = 0
    var routeCount = 0

    static let defaultRoot = 0

    public init() {}

    /// Adds one route.
    ///
    /// - Parameters:
    ///   - host: the host this route answers on (case-insensitive, without a port), or nil for the
    ///     default space, which answers every Host that no API declares.
    ///   - prefix: literal segments before the resource path: base path segments, then the stage
    ///     name when the mapping does not name the stage. Each must be non-empty, without `/`.
    ///   - pattern: the resource path.
    ///   - method: the method, or `ANY`.
    ///   - target: the operation and stage a match reports.
    /// - Returns: nil, or the conflict when an earlier route already answers this URL and method.
    ///   On a conflict the route with the longer prefix wins (a base path mapping is more specific
    ///   than the default space); with equal prefixes the earlier route wins.
    @discardableResult
    public mutating func add(host: String?, prefix: [String], pattern: RoutePattern, method: RouteMethod,
                             target: RouteTarget) -> RouteConflict? {
        var node = root(for: host)
        for literal in prefix {
            precondition(!literal.isEmpty && !literal.contains("/"), "invalid prefix segment '\(literal)'")
            node = literalChild(of: node, literal)
        }
        var parameterCount = 0
        for segment in pattern.segments {
            switch segment {
            case .literal(let literal):
                node = literalChild(of: node, literal)
            case .parameter:
                parameterCount += 1
                if let child = nodes[node].parameterChild {
                    node = child
                } else {
                    let child = newNode()
                    nodes[node].parameterChild = child
                    node = child
                }
            case .greedy:
                parameterCount += 1
                if let child = nodes[node].greedyChild {
                    node = child
                } else {
                    let child = newNode()
                    nodes[node].greedyChild = child
                    node = child
                }
            }
        }
        parametersMax = max(parametersMax, parameterCount)
        let slot = method.slot
        let incoming = Target(target: target, prefixLength: prefix.count)
        guard let existing = nodes[node].targets[slot] else {
            nodes[node].targets[slot] = incoming
            routeCount += 1
            return nil
        }
        if incoming.prefixLength > existing.prefixLength {
            nodes[node].targets[slot] = incoming
            return RouteConflict(winner: target, loser: existing.target)
        }
        return RouteConflict(winner: existing.target, loser: target)
    }

    /// Marks where a stage's URLs begin, so that a request under it that matches no route is
    /// still known to be the stage's (its metrics count it there, as CloudWatch does). The first
    /// stage mounted at a node keeps it.
    public mutating func mount(host: String?, prefix: [String], stage: Int) {
        var node = root(for: host)
        for literal in prefix { node = literalChild(of: node, literal) }
        if nodes[node].mountedStage == nil { nodes[node].mountedStage = stage }
    }

    /// Compiles the routes added so far into an immutable table.
    public func build() -> RouteTable {
        var compiled: [RouteTable.Node] = []
        compiled.reserveCapacity(nodes.count)
        var edges: [RouteTable.LiteralEdge] = []
        var literalBytes: [UInt8] = []
        var targets: [RouteTable.Target] = []
        let noTarget = RouteTable.Target(operation: -1, stage: -1)

        // Node indices stay those of the builder, so children can be linked by index directly.
        for node in nodes {
            // Literal children are sorted by (length, bytes) so that a lookup can binary-search
            // them and reject most candidates on the length alone.
            let sorted = node.literalChildren.map { (bytes: Array($0.key.utf8), child: $0.value) }
                .sorted { lhs, rhs in
                    if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
                    return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
                }
            let edgesStart = edges.count
            for entry in sorted {
                edges.append(RouteTable.LiteralEdge(bytesStart: Int32(literalBytes.count),
                                                    bytesCount: Int32(entry.bytes.count),
                                                    child: Int32(entry.child)))
                literalBytes.append(contentsOf: entry.bytes)
            }
            var methodsBase: Int32 = -1
            if !node.targets.isEmpty {
                methodsBase = Int32(targets.count)
                for slot in 0..<RouteTable.methodSlots {
                    if let target = node.targets[slot]?.target {
                        targets.append(RouteTable.Target(operation: Int32(target.operation),
                                                         stage: Int32(target.stage)))
                    } else {
                        targets.append(noTarget)
                    }
                }
            }
            compiled.append(RouteTable.Node(literalStart: Int32(edgesStart),
                                            literalCount: Int32(edges.count - edgesStart),
                                            parameterChild: Int32(node.parameterChild ?? -1),
                                            greedyChild: Int32(node.greedyChild ?? -1),
                                            methodsBase: methodsBase,
                                            mountedStage: Int32(node.mountedStage ?? -1)))
        }

        var hostBytes: [UInt8] = []
        var hosts: [RouteTable.HostEntry] = []
        for (host, root) in hostRoots.sorted(by: { $0.key < $1.key }) {
            let bytes = Array(host.utf8)
            hosts.append(RouteTable.HostEntry(bytesStart: Int32(hostBytes.count), bytesCount: Int32(bytes.count),
                                              root: Int32(root)))
            hostBytes.append(contentsOf: bytes)
        }
        return RouteTable(nodes: compiled, literalEdges: edges, literalBytes: literalBytes, targets: targets,
                          hosts: hosts, hostBytes: hostBytes, defaultRoot: Int32(Self.defaultRoot),
                          parametersMax: parametersMax, routeCount: routeCount)
    }

    private mutating func root(for host: String?) -> Int {
        guard let host else { return Self.defaultRoot }
        let key = RouteTable.normalizedHost(host)
        if let root = hostRoots[key] { return root }
        let root = newNode()
        hostRoots[key] = root
        return root
    }

    private mutating func literalChild(of node: Int, _ literal: String) -> Int {
        if let child = nodes[node].literalChildren[literal] { return child }
        let child = newNode()
        nodes[node].literalChildren[literal] = child
        return child
    }

    private mutating func newNode() -> Int {
        nodes.append(Node())
        return nodes.count - 1
    }
}
