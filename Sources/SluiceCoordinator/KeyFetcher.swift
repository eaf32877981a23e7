import SluiceAuth
import SluiceConfig
import SluiceHTTP1
import SluiceSharedMemory
import SluiceURing

/// Keeps each `jwt_issuers` entry's signing keys (its JWKS) fresh in shared memory, where the
/// workers read them: read or fetched at start by the supervisor, then by the coordinator every
/// `refresh_s`, and sooner when a worker meets a token signed by a key it does not know (at most
/// every `retrySeconds`). A fetch that fails, or brings something that is not a key set, keeps
/// the keys the workers have and is tried again after `retrySeconds`; it is reported once until
/// a fetch succeeds. Fetching blocks, so it never happens in a worker.
public final class KeyFetcher {
    public static let documentBytesMax = JWTIssuer.keySetBytesMax
    static let timeoutMilliseconds = 2_000
    static let retrySeconds: Int64 = 10

    let issuers: [JWTIssuer]
    public let documents: SharedDocuments
    /// By issuer: when to fetch next, and when it was last fetched (monotonic seconds).
    var due: [Int64]
    var fetchedAt: [Int64]
    var failing: [Bool]
    var published: [[UInt8]]

    public init(issuers: [JWTIssuer]) throws(ZoneError) {
        self.issuers = issuers
        documents = try SharedDocuments(name: "jwks", slots: issuers.count, documentBytesMax: KeyFetcher.documentBytesMax)
        due = Array(repeating: 0, count: issuers.count)
        fetchedAt = Array(repeating: Int64.min / 2, count: issuers.count)
        failing = Array(repeating: false, count: issuers.count)
        published = Array(repeating: [], count: issuers.count)
    }

    public var isNeeded: Bool { !issuers.isEmpty }

    /// Publishes every issuer's keys once, before workers start: the file as `check` read it,
    /// or a fetch (a failure is reported, and the workers refuse tokens until a fetch succeeds).
    public func start(nowSeconds: Int64) {
        for index in issuers.indices {
            if let keys = issuers[index].initialKeys {
                publish(index, keys)
                fetchedAt[index] = nowSeconds
                due[index] = nowSeconds + Int64(issuers[index].refreshSeconds)
            } else {
                refresh(index, nowSeconds: nowSeconds)
            }
        }
    }

    /// Refreshes what is due or asked for.
    public func tick(nowSeconds: Int64) {
        for index in issuers.indices {
            let asked = documents.takeRefreshRequest(index)
            let askedAndAllowed = asked && nowSeconds - fetchedAt[index] >= KeyFetcher.retrySeconds
            if nowSeconds >= due[index] || askedAndAllowed { refresh(index, nowSeconds: nowSeconds) }
        }
    }

    func refresh(_ index: Int, nowSeconds: Int64) {
        let issuer = issuers[index]
        fetchedAt[index] = nowSeconds
        switch load(issuer) {
        case .success(let keys):
            publish(index, keys)
            due[index] = nowSeconds + Int64(issuer.refreshSeconds)
            if failing[index] { StandardError.write("sluice-coord: jwt_issuers '\(issuer.issuer)': keys read again") }
            failing[index] = false
        case .failure(let error):
            let message = error.message
            due[index] = nowSeconds + KeyFetcher.retrySeconds
            if !failing[index] {
                StandardError.write("sluice-coord: jwt_issuers '\(issuer.issuer)': \(message); keeping the keys "
                                    + "already read, retrying every \(KeyFetcher.retrySeconds) s")
            }
            failing[index] = true
        }
    }

    func publish(_ index: Int, _ keys: [UInt8]) {
        guard keys != published[index] else { return }
        documents.publish(index, keys)
        published[index] = keys
    }

    /// The issuer's JWKS, checked to be one.
    func load(_ issuer: JWTIssuer) -> Result<[UInt8], FetchError> {
        let bytes: [UInt8]
        switch issuer.source {
        case .file(let path):
            switch SystemServices.readFile(path, bytesMax: KeyFetcher.documentBytesMax) {
            case .failure(let error): return .failure(FetchError("cannot read \(path): \(error.message)"))
            case .success(let read): bytes = read
            }
        case .url(let url):
            switch KeyFetcher.fetch(url) {
            case .failure(let error): return .failure(FetchError("cannot fetch \(url): \(error.message)"))
            case .success(let body): bytes = body
            }
        }
        guard bytes.count <= KeyFetcher.documentBytesMax else { return .failure(FetchError("the key set is over 256 KiB")) }
        switch KeySet.parse(bytes) {
        case .failure(let error): return .failure(FetchError("not a key set: \(error.message)"))
        case .success: return .success(bytes)
        }
    }

    /// GET over HTTP/1.0 (the server closes after the body): the body of a 200 answer.
    static func fetch(_ url: KeySetURL) -> Result<[UInt8], FetchError> {
        let request = Array("GET \(url.target) HTTP/1.0\r\nHost: \(url.hostHeader)\r\nAccept: application/json\r\n\r\n".utf8)
        let answer: [UInt8]
        switch SystemServices.exchange(host: url.host, port: url.port, request: request,
                                       timeoutMilliseconds: timeoutMilliseconds, bytesMax: documentBytesMax + 16_384) {
        case .failure(let error): return .failure(FetchError(error.message))
        case .success(let bytes): answer = bytes
        }
        var parser = ResponseHeadParser(limits: RequestLimits(headBytesMax: 16_384, headersMax: 100,
                                                              bodyBytesMax: documentBytesMax))
        var head = ResponseHead()
        guard case .complete = parser.parse(answer.span, requestMethod: .get, into: &head) else {
            return .failure(FetchError("the answer is not HTTP"))
        }
        guard head.status == 200 else { return .failure(FetchError("the server answered \(head.status)")) }
        var body = Array(answer[head.headLength...])
        switch head.framing {
        case .length(let length):
            guard body.count >= length else { return .failure(FetchError("the answer ended early")) }
            body = Array(body[0..<length])
        case .chunked:
            var decoder = ChunkedBodyDecoder(bodyBytesMax: documentBytesMax)
            var decoded: [UInt8] = []
            let chunked = body
            let span = chunked.span
            var offset = 0
            while offset < span.count {
                let step = decoder.decode(span.extracting(offset..<span.count))
                if let data = step.data {
                    let piece = span.extracting(offset..<span.count).extracting(data)
                    for index in 0..<piece.count { decoded.append(piece[index]) }
                }
                offset += step.consumed
                if case .done = step.state { break }
                if case .failed = step.state { return .failure(FetchError("the answer's chunked body is malformed")) }
                if step.consumed == 0 { return .failure(FetchError("the answer ended early")) }
            }
            body = decoded
        case .none, .untilClose:
            break
        }
        return .success(body)
    }
}

struct FetchError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
