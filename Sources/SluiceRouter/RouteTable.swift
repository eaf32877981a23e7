import SluiceHTTP1

/// The result of a lookup. One value is kept per worker and reused for every request.
public struct RouteMatch: Sendable {
    /// Index into `Deployment.operations`; -1 before the first successful lookup.
    public var operation: Int
    /// Index into `Deployment.stages`; -1 before the first successful lookup.
    public var stage: Int
    /// After a lookup that failed: the stage under whose URLs the path went deepest (the request
    /// belongs to it though no resource answers), or -1.
    public var enclosingStage: Int
    /// The path parameters' values as ranges into the `path` given to `lookup`, in the order of
    /// the operation's parameter names. A greedy `{proxy+}` value spans several segments (`a/b`).
    ///
    /// The array keeps its capacity across lookups, so a lookup does not allocate as long as the
    /// capacity is at least `RouteTable.parametersMax` and the array is not shared with a copy.
    public var pathParameters: [Range<Int>]

    public init(parametersCapacity: Int = 16) {
        operation = -1
        stage = -1
        enclosingStage = -1
        pathParameters = []
        pathParameters.reserveCapacity(parametersCapacity)
    }
}

/// The compiled, immutable route tree that workers search for every request.
///
/// Nodes live in one flat array and link to each other by index (Hummingbird 2's trie does the
/// same), literal segment bytes live in one byte pool, and method tables are fixed-size slices of
/// one target array. A lookup walks this with byte comparisons over the request's own bytes: it
/// allocates nothing and builds no `String`.
///
/// Matching rules (docs/routing.md has the full story):
/// - The Host (case-insensitive, port ignored) selects a declared host's routes; any other Host,
///   or none, selects the default space.
/// - Path segments are compared byte for byte with the raw, still percent-encoded path.
/// - At each node a literal child is tried first, then the `{param}` child, then the greedy
///   `{proxy+}` child; a branch that fails deeper on backtracks to the next candidate.
/// - A resource answers when it defines the request's method, or else `ANY`; a resource that
///   answers neither is passed over as if the branch had failed.
/// - One trailing `/` is ignored; empty segments (`//`) collapse for matching, and a greedy
///   parameter's value keeps them.
public struct RouteTable: Sendable {
    struct Node: Sendable {
        /// Range of this node's literal children in `literalEdges`, sorted by (length, bytes).
        var literalStart: Int32
        var literalCount: Int32
        /// The `{param}` child, or -1.
        var parameterChild: Int32
        /// The greedy `{proxy+}` child, or -1.
        var greedyChild: Int32
        /// Start of this node's `methodSlots` entries in `targets`, or -1 when it has no methods.
        var methodsBase: Int32
        /// The stage whose URLs begin at this node, or -1.
        var mountedStage: Int32
    }

    struct LiteralEdge: Sendable {
        var bytesStart: Int32
        var bytesCount: Int32
        var child: Int32
    }

    struct Target: Sendable {
        /// -1 when the slot is empty.
        var operation: Int32
        var stage: Int32
    }

    struct HostEntry: Sendable {
        var bytesStart: Int32
        var bytesCount: Int32
        var root: Int32
    }

    /// Slots 0..<7 are the routable methods in `HTTPMethod` order; slot 7 is `ANY`.
    static let exactMethodSlots = 7
    static let anyMethodSlot = 7
    static let methodSlots = 8

    let nodes: [Node]
    let literalEdges: [LiteralEdge]
    let literalBytes: [UInt8]
    let targets: [Target]
    let hosts: [HostEntry]
    let hostBytes: [UInt8]
    let defaultRoot: Int32

    /// The largest number of path parameters of any route: a `RouteMatch` with at least this
    /// capacity never grows.
    public let parametersMax: Int
    /// The number of (URL pattern, method) routes in the table.
    public let routeCount: Int

    init(nodes: [Node], literalEdges: [LiteralEdge], literalBytes: [UInt8], targets: [Target], hosts: [HostEntry],
         hostBytes: [UInt8], defaultRoot: Int32, parametersMax: Int, routeCount: Int) {
        self.nodes = nodes
        self.literalEdges = literalEdges
        self.literalBytes = literalBytes
        self.targets = targets
        self.hosts = hosts
        self.hostBytes = hostBytes
        self.defaultRoot = defaultRoot
        self.parametersMax = parametersMax
        self.routeCount = routeCount
    }

    /// An empty table: every lookup fails.
    public init() {
        self = RouteTableBuilder().build()
    }

    private static let slash = UInt8(ascii: "/")

    /// Finds the operation and stage for a request.
    ///
    /// - Parameters:
    ///   - host: the request's Host header value (may include `:port`; empty if none).
    ///   - path: the raw request path, without the query.
    ///   - method: the request method; `CONNECT`, `TRACE` and unknown methods never match, as on
    ///     API Gateway.
    ///   - match: receives the operation, the stage and the path parameters' ranges into `path`.
    /// - Returns: false when nothing matches (API Gateway answers 403 Missing Authentication
    ///   Token); `match` is then unspecified.
    public func lookup(host: Span<UInt8>, path: Span<UInt8>, method: HTTPMethod, into match: inout RouteMatch) -> Bool {
        match.pathParameters.removeAll(keepingCapacity: true)
        match.enclosingStage = -1
        // HTTPMethod lists the seven routable methods first, so its raw value is the slot; the
        // router tests pin that order down.
        let slot = Int(method.rawValue)
        guard slot < Self.exactMethodSlots else { return false }
        guard path.count > 0, path[0] == Self.slash else { return false }
        // One trailing slash is ignored, so `/prod/pets/` is `/prod/pets` and `/prod/` is `/prod`.
        var end = path.count
        if end > 1 && path[end - 1] == Self.slash { end -= 1 }
        let root = spaceRoot(host: host)
        // `start > end` means every segment has been consumed; the path `/` has none.
        let start = end == 1 ? end + 1 : 1
        return matchNode(Int(root), path: path, start: start, end: end, slot: slot, match: &match)
    }

    /// Selects the root of the declared host named by `host`, or the default space's root.
    private func spaceRoot(host: Span<UInt8>) -> Int32 {
        if hosts.isEmpty { return defaultRoot }
        let hostEnd = Self.hostEnd(host)
        for entry in hosts where Int(entry.bytesCount) == hostEnd {
            let base = Int(entry.bytesStart)
            var index = 0
            while index < hostEnd {
                if Self.lowercased(host[index]) != hostBytes[base + index] { break }
                index += 1
            }
            if index == hostEnd { return entry.root }
        }
        return defaultRoot
    }

    /// The length of the host name in a Host value, without `:port`; an IPv6 literal keeps its
    /// brackets (`[::1]:8080` → `[::1]`).
    private static func hostEnd(_ host: Span<UInt8>) -> Int { HTTPBytes.hostEnd(host) }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// The host key the builder stores: lowercase ASCII, without `:port`.
    static func normalizedHost(_ host: String) -> String {
        let bytes = Array(host.utf8)
        let end = hostEnd(bytes.span)
        return String(decoding: bytes[..<end].map(lowercased), as: UTF8.self)
    }

    /// Matches the segments from `start` on against the subtree at `nodeIndex`, trying literal,
    /// then parameter, then greedy children, and backtracking when a branch fails.
    ///
    /// The recursion depth is bounded by the depth of the tree, which the configuration fixes, not
    /// by the request: a segment that no child accepts ends the branch.
    private func matchNode(_ nodeIndex: Int, path: Span<UInt8>, start: Int, end: Int, slot: Int,
                           match: inout RouteMatch) -> Bool {
        let node = nodes[nodeIndex]
        if node.mountedStage >= 0 { match.enclosingStage = Int(node.mountedStage) }
        // Empty segments (`//`) collapse, as API Gateway matches resources: skipped here, in a
        // loop, so that a run of slashes costs no recursion.
        var start = start
        while start < end && path[start] == Self.slash { start += 1 }
        if start >= end {
            return resolve(node, slot: slot, match: &match)
        }
        var segmentEnd = start
        while segmentEnd < end && path[segmentEnd] != Self.slash { segmentEnd += 1 }

        if node.literalCount > 0,
           let child = literalChild(node, path: path, start: start, end: segmentEnd),
           matchNode(child, path: path, start: segmentEnd + 1, end: end, slot: slot, match: &match) {
            return true
        }
        if node.parameterChild >= 0 {
            match.pathParameters.append(start..<segmentEnd)
            if matchNode(Int(node.parameterChild), path: path, start: segmentEnd + 1, end: end, slot: slot,
                         match: &match) {
                return true
            }
            match.pathParameters.removeLast()
        }
        if node.greedyChild >= 0 {
            // The greedy parameter takes every remaining segment as sent, empty ones included.
            if resolve(nodes[Int(node.greedyChild)], slot: slot, match: &match) {
                match.pathParameters.append(start..<end)
                return true
            }
        }
        return false
    }

    /// Picks the node's target for the method slot, or else its `ANY` target.
    private func resolve(_ node: Node, slot: Int, match: inout RouteMatch) -> Bool {
        guard node.methodsBase >= 0 else { return false }
        let base = Int(node.methodsBase)
        var target = targets[base + slot]
        if target.operation < 0 { target = targets[base + Self.anyMethodSlot] }
        guard target.operation >= 0 else { return false }
        match.operation = Int(target.operation)
        match.stage = Int(target.stage)
        return true
    }

    /// Binary search over the node's literal children, ordered by (length, bytes).
    private func literalChild(_ node: Node, path: Span<UInt8>, start: Int, end: Int) -> Int? {
        var low = Int(node.literalStart)
        var high = low + Int(node.literalCount)
        let length = end - start
        while low < high {
            let middle = (low + high) / 2
            let edge = literalEdges[middle]
            var order = Int(edge.bytesCount) - length
            if order == 0 {
                let base = Int(edge.bytesStart)
                var index = 0
                while index < length {
                    let lhs = literalBytes[base + index]
                    let rhs = path[start + index]
                    if lhs != rhs {
                        order = lhs < rhs ? -1 : 1
                        break
                    }
                    index += 1
                }
            }
            if order == 0 { return Int(edge.child) }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return nil
    }
}
