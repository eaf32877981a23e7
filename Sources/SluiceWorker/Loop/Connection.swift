import SluiceCache
import SluiceConfig
import SluiceHTTP1

/// Where a connection is in reading its current request.
enum ReadPhase: UInt8 {
    /// Waiting for (the rest of) a request head.
    case head
    /// Reading a `Content-Length` body; `bodyRemaining` bytes to go.
    case body
    /// Reading a chunked body through `chunked`.
    case chunkedBody
}

/// Which side of the gateway a connection is on.
enum Role: UInt8 {
    /// Accepted from a client.
    case client
    /// Opened to an upstream for an HTTP, HTTP_PROXY or AWS_PROXY integration; pooled between exchanges.
    case upstream
}

/// Where an upstream connection is in reading an answer.
enum ResponsePhase: UInt8 {
    case head
    case length
    case chunked
    case untilClose
}

/// One client connection's state. Lives in a preallocated array indexed by connection slot; the
/// byte buffers it uses are the same slot of the worker's carry and output slabs.
struct Connection {
    var role = Role.client
    var fd: Int32 = -1
    /// Bumped whenever the slot is released, so late completions for an old connection are ignored.
    var generation: UInt32 = 0
    var isOpen = false
    var closing = false
    var cancelRequested = false
    var lingering = false
    var peerClosed = false

    /// Client: the listener (`listen` entry) it was accepted on.
    var listener: UInt8 = 0
    // TLS (TLSTransport.swift), on a connection accepted by a TLS listener.
    var secure = false
    /// Plaintext at the start of the output whose ciphertext is being sent: it counts as sent
    /// once all of that ciphertext is.
    var tlsPlaintextInFlight = 0
    /// The session failed (a refused handshake, a bad record): its alert goes out, then the
    /// connection closes.
    var tlsFailed = false
    /// close_notify was queued after the last answer.
    var tlsShutdownQueued = false
    /// The answer was cut short (its upstream failed): the connection closes without close_notify.
    var tlsTruncated = false

    var receiveArmed = false
    /// Reading stopped because the output buffer is full; resumes when sends drain it.
    var receivePaused = false
    /// Paused at least once during the current request (client) or answer (upstream): receive
    /// one buffer at a time until it is done, so that held buffers cannot pile up.
    var flowControlled = false
    var sendInFlight = false
    var closeAfterFlush = false

    var phase = ReadPhase.head
    /// This connection's head parser: it remembers how far it scanned a head that arrives in
    /// pieces, so its state belongs to the connection, not to the worker.
    var parser = RequestHeadParser(limits: RequestLimits())
    /// Unparsed bytes at the start of this connection's carry slot.
    var carryCount = 0
    /// A head at the start of the carry slot whose path has dot-segments: its path's range, to
    /// be replaced by `Worker.resolvedPath` before the head is parsed again.
    var pathRewrite: Range<Int>? = nil
    var bodyRemaining = 0
    var chunked = ChunkedBodyDecoder(bodyBytesMax: 0)
    var requestsServed = 0
    /// The current request (Pipeline.swift). On an upstream connection: what it carries of its
    /// client's request (the metrics groups), kept even if the client leaves.
    var request = RequestContext()
    /// Upstream: when the current exchange was handed to the integration.
    var exchangeStartedNanoseconds: Int64 = 0

    // An exchange with an upstream.
    /// The other side of the exchange in flight: a client's upstream connection, an upstream
    /// connection's client; -1 when none.
    var peer: Int32 = -1
    /// Client: an upstream is answering the current request; later pipelined requests wait.
    var awaitingUpstream = false
    /// Client: a request template made the body the upstream gets: the client's is read and dropped.
    var bodyReplaced = false
    /// Client: an HTTP integration's response template renders the answer (Templating.swift): the
    /// body buffer holding the request's head, the answer's header lines and the upstream's body,
    /// their lengths, and the integration response selected (-1 before the answer).
    var answerBuffer: Int32 = -1
    /// How the gathered answer's body is converted before its template reads it or it is sent.
    var answerConversion = PayloadConversion.none
    var answerHeadLength: Int32 = 0
    var answerLinesLength: Int32 = 0
    var answerBodyLength: Int32 = 0
    var answerResponse: Int32 = -1
    /// Upstream: the answer's body is gathered for a response template rather than relayed.
    var bufferingAnswer = false
    /// Client: bytes of the upstream's answer have been written, so a failure can no longer be
    /// answered with a status of our own.
    var answerStarted = false
    /// Client: the peer address as text for X-Forwarded-For, in the worker's address slab; 0 until
    /// the first proxied request asks for it.
    var peerAddressLength = 0
    /// Client: the peer's address for resource policies, read once (`peerIPKnown`).
    var peerIP = IPAddress(high: 0, low: 0)
    var peerIPKnown = false

    /// The slot of the worker's `invocations` of a Lambda invocation in flight, or -1. The client
    /// owns it (and frees it); its upstream connection refers to it for the exchange.
    var invocation: Int32 = -1

    /// Upstream: the target (ProxyTargets index) of the exchange in flight.
    var target: Int32 = -1
    /// Upstream: the pool (Deployment.upstreams index) this connection belongs to.
    var upstream: Int32 = -1
    var connecting = false
    var pooled = false
    var responsePhase = ResponsePhase.head
    var responseParser = ResponseHeadParser(limits: RequestLimits())
    var responseRemaining = 0
    /// Upstream: the request's method (HEAD answers have no body) and how the client's copy of the
    /// answer is framed.
    var requestMethod = HTTPMethod.get
    var relayChunked = false
    /// Upstream: the client gets no body (it asked HEAD, or its status is 204 or 304): the
    /// upstream's body is read and dropped.
    var discardAnswerBody = false
    var relayKeepAlive = true
    var requestSent = false
    /// Upstream: taken from the pool (rather than connected for this exchange).
    var reused = false
    /// Upstream: the request can be sent again on a fresh connection if this one turns out to be
    /// stale: idempotent, not tried twice, and all of it still at the start of the output slot.
    var retryable = false
    var requestLength = 0
    /// Upstream: a byte of the answer has arrived (a failure after that is not a stale connection).
    var answerBytesReceived = false

    /// Output bytes waiting in this connection's output slot: [outputStart, outputEnd).
    var outputStart = 0
    var outputEnd = 0
    /// Receive buffers that arrived while reading was paused, kept in order (linked through the
    /// worker's `heldNext`) and replayed when output drains: first and last buffer id, or -1.
    var heldFirst: Int32 = -1
    var heldLast: Int32 = -1
    var heldCount = 0
    /// The receive ended because the buffer ring was empty; it is armed again once buffers are back.
    var starved = false

    /// Bytes larger than the free output space, still to be copied into it: a prepared
    /// response's body (`streamingResponse`, its index) or a range of an invocation's slot
    /// (`streamingInvocation`, up to `streamingEnd`); -1 when none. `streamingOffset` is where
    /// the copy goes on from.
    var streamingResponse = -1
    var streamingInvocation: Int32 = -1
    var streamingOffset = 0
    var streamingEnd = 0
    /// A cached answer's body streaming from the stage cache: the stage, and the entry.
    var streamingCacheStage: Int32 = -1
    var streamingEntry = CachedEntry()

    // The stage cache (Caching.swift), on a client connection.
    /// The fill this client's exchange makes: its capture slot (or -1), stage, key hash, the
    /// time to keep the answer, and what was captured so far (after the key, at the slot's
    /// start: the answer's header lines, then its body).
    var capture: Int32 = -1
    var capturing = false
    /// Whether the fill holds the key's claim (a refresh fills without one), and its deadline.
    var cacheClaimed = false
    var cacheDeadline: Int64 = 0
    /// When a request waiting for fills stops waiting (0 before it first waits).
    var cacheWaitUntil: Int64 = 0
    /// In the worker's list of requests waiting for a fill.
    var queuedForFill = false
    var cacheStage: Int32 = -1
    var cacheHash: UInt64 = 0
    var cacheTTL: Int64 = 0
    var cacheStatus: Int32 = 0
    var cacheKeyLength: Int32 = 0
    var cacheHeadLength: Int32 = 0
    var cacheBodyLength: Int32 = 0

    // A Lambda authorizer's invocation (LambdaAuthorization.swift), on a client connection: the
    // hash of its result's key and, when this request claimed the key's filling, the claim's
    // deadline (0: no claim).
    var authorizerHash: UInt64 = 0
    var authorizerClaim: Int64 = 0

    // The whole-body phase (WholeBody.swift), on a client connection: the body buffer its request
    // claimed (-1: none), and whether its unparsed bytes are there now rather than in its carry slot.
    var bodyBuffer: Int32 = -1
    var bodyBufferInUse = false
    /// A rendered answer's body (Templating.swift) streaming from a body buffer, up to
    /// `streamingEnd`; -1 when none.
    var streamingBuffer: Int32 = -1

    mutating func open(fd: Int32, limits: RequestLimits) {
        let generation = self.generation
        self = Connection()
        self.generation = generation
        self.fd = fd
        parser = RequestHeadParser(limits: limits)
        isOpen = true
    }

    mutating func reset() {
        let generation = (self.generation &+ 1) & 0xFF_FFFF
        self = Connection()
        self.generation = generation
    }

    var isStreaming: Bool {
        streamingResponse >= 0 || streamingInvocation >= 0 || streamingCacheStage >= 0 || streamingBuffer >= 0
    }

    var hasOutput: Bool { outputEnd > outputStart || isStreaming }

    /// io_uring operations that still refer to this connection's socket.
    var hasOperationsInFlight: Bool { receiveArmed || sendInFlight || connecting }

    /// A client between requests with nothing in flight, or an upstream connection idle in its
    /// pool: safe to close when draining.
    var isIdle: Bool {
        switch role {
        case .client: phase == .head && carryCount == 0 && !hasOutput && !sendInFlight && !awaitingUpstream
        case .upstream: pooled
        }
    }
}
