import Yams

// The stage response cache as sluice.yaml declares it (docs/caching.md):
//
//     stages:
//       prod:
//         cache:
//           enabled: true
//           capacity_mb: 64
//           ttl_seconds: 300
//           entry_bytes_max: 1048576
//           fill_wait_ms: 1000
//           require_authorization: true
//           unauthorized: SUCCEED_WITH_RESPONSE_HEADER
//         method_settings:
//           "GET /pets": { caching: { ttl_seconds: 60 } }
//           "POST /search": { caching: { enabled: true } }

/// API Gateway's `unauthorizedCacheControlHeaderStrategy`: what a request that asks to refresh
/// its cache entry (`Cache-Control: max-age=0`) without the right to do so gets.
public enum UnauthorizedCacheControl: String, Sendable, Equatable, CaseIterable {
    /// 403 `{"message":"Forbidden"}`.
    case failWith403 = "FAIL_WITH_403"
    /// The cached answer, with a `Warning` header saying the refresh was ignored.
    case succeedWithResponseHeader = "SUCCEED_WITH_RESPONSE_HEADER"
    /// The cached answer, silently.
    case succeedWithoutResponseHeader = "SUCCEED_WITHOUT_RESPONSE_HEADER"
}

/// `stages.NAME.cache`: the stage's response cache.
public struct StageCache: Sendable, Equatable {
    /// `capacity_mb`: the cache's bytes (all workers share them).
    public var capacityBytes: Int
    /// `ttl_seconds`: 0 … 3600, API Gateway's default 300. 0 caches nothing.
    public var ttlSeconds: Int
    /// `entry_bytes_max`: larger responses are not cached (API Gateway's 1 MB).
    public var entryBytesMax: Int
    /// `fill_wait_ms`: how long requests that miss a key another request is filling wait for it
    /// before they go to the integration themselves.
    public var fillWaitMilliseconds: Int
    /// `require_authorization`: whether `Cache-Control: max-age=0` refreshes an entry only for a
    /// request with an enabled API key of a usage plan that covers the stage.
    public var requireAuthorization: Bool
    public var unauthorized: UnauthorizedCacheControl

    public init(capacityBytes: Int = 64 << 20, ttlSeconds: Int = 300, entryBytesMax: Int = 1 << 20,
                fillWaitMilliseconds: Int = 1_000, requireAuthorization: Bool = true,
                unauthorized: UnauthorizedCacheControl = .succeedWithResponseHeader) {
        self.capacityBytes = capacityBytes
        self.ttlSeconds = ttlSeconds
        self.entryBytesMax = entryBytesMax
        self.fillWaitMilliseconds = fillWaitMilliseconds
        self.requireAuthorization = requireAuthorization
        self.unauthorized = unauthorized
    }
}

extension Stage {
    /// How long this stage's cache keeps answers of `operation`, in seconds; 0 when the method is
    /// not cached here (no cache, another API's method, not enabled, a TTL of 0, or an answer
    /// that is cheaper to make than to look up: MOCK). GET methods are cached unless their
    /// `method_settings` say otherwise; other methods only when theirs enable it, as on API Gateway.
    public func cacheTTLSeconds(operation: Int, in operations: [Operation]) -> Int {
        guard let cache, operations[operation].api == api else { return 0 }
        switch operations[operation].integration {
        case .http, .lambdaProxy: break
        case .mock, .unsupported: return 0
        }
        let method = methodCaching.first { $0.operation == operation }
        let enabled = method?.enabled ?? (operations[operation].method == "GET")
        return enabled ? method?.ttlSeconds ?? cache.ttlSeconds : 0
    }
}

/// `method_settings."METHOD /path".caching`: a method's own caching on a stage.
public struct MethodCaching: Sendable, Equatable {
    /// Index into `Deployment.operations`.
    public var operation: Int
    /// Nil: the stage's rule (GET methods are cached, others are not).
    public var enabled: Bool?
    /// Nil: the stage's `ttl_seconds`.
    public var ttlSeconds: Int?

    public init(operation: Int, enabled: Bool? = nil, ttlSeconds: Int? = nil) {
        self.operation = operation
        self.enabled = enabled
        self.ttlSeconds = ttlSeconds
    }
}

/// A request value that varies a cache key: an integration's `cacheKeyParameters`.
public enum CacheKeyParameter: Sendable, Equatable {
    /// `method.request.querystring.NAME`.
    case query(String)
    /// `method.request.header.NAME`, lowercased.
    case header(String)
    /// `method.request.path.NAME`, as the index of the operation's path parameter.
    case path(Int)
}

/// A method's caching as written, before its "METHOD /path" is resolved.
struct MethodCachingEntry {
    var enabled: Bool?
    var ttlSeconds: Int?
}

/// Reads `cache:` and `caching:` mappings.
struct CacheReader {
    let reader: ConfigReader

    static let ttlMax = 3_600

    func stageCache(_ node: Node, _ what: String) -> StageCache?? {
        guard let entries = reader.mapping(node, what) else { return nil }
        var cache = StageCache()
        var enabled = true
        var valid = true
        for (key, value) in entries {
            let name = key.text ?? ""
            switch name {
            case "enabled":
                if let flag = reader.boolean(value, "\(what).enabled") { enabled = flag } else { valid = false }
            case "capacity_mb":
                if let megabytes = reader.integer(value, "\(what).capacity_mb", in: 1...65_536) {
                    cache.capacityBytes = megabytes << 20
                } else { valid = false }
            case "ttl_seconds":
                if let seconds = reader.integer(value, "\(what).ttl_seconds", in: 0...Self.ttlMax) {
                    cache.ttlSeconds = seconds
                } else { valid = false }
            case "entry_bytes_max":
                if let bytes = reader.integer(value, "\(what).entry_bytes_max", in: 1...(64 << 20)) {
                    cache.entryBytesMax = bytes
                } else { valid = false }
            case "fill_wait_ms":
                if let milliseconds = reader.integer(value, "\(what).fill_wait_ms", in: 0...60_000, unit: "ms") {
                    cache.fillWaitMilliseconds = milliseconds
                } else { valid = false }
            case "require_authorization":
                if let flag = reader.boolean(value, "\(what).require_authorization") {
                    cache.requireAuthorization = flag
                } else { valid = false }
            case "unauthorized":
                if let strategy = value.text.flatMap({ UnauthorizedCacheControl(rawValue: $0.uppercased()) }) {
                    cache.unauthorized = strategy
                } else {
                    reader.log.error(reader.file, value.line, "\(what).unauthorized must be "
                                     + UnauthorizedCacheControl.allCases.map(\.rawValue).joined(separator: ", ")
                                     + ", not '\(value.text ?? value.kindName)'")
                    valid = false
                }
            default:
                reader.unknownKey(key, in: what)
            }
        }
        guard valid else { return nil }
        if cache.entryBytesMax > cache.capacityBytes / 4 {
            reader.log.error(reader.file, node.line, "\(what).entry_bytes_max (\(cache.entryBytesMax)) must be at most a "
                             + "quarter of capacity_mb")
            return nil
        }
        return .some(enabled ? cache : nil)
    }

    func methodCaching(_ node: Node, _ what: String) -> MethodCachingEntry? {
        guard let entries = reader.mapping(node, what) else { return nil }
        var entry = MethodCachingEntry()
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "enabled":
                entry.enabled = reader.boolean(value, "\(what).enabled")
                valid = valid && entry.enabled != nil
            case "ttl_seconds":
                entry.ttlSeconds = reader.integer(value, "\(what).ttl_seconds", in: 0...Self.ttlMax)
                valid = valid && entry.ttlSeconds != nil
            default:
                reader.unknownKey(key, in: what)
            }
        }
        return valid ? entry : nil
    }
}
