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

/// The answer decided when a head was complete, sent once the body has been read.
struct PendingAnswer {
    var response: Int = 0
    var keepAlive = true
    var omitBody = false
    /// HTTP/1.0 clients need `Connection: keep-alive` to keep the connection open.
    var http10 = false
}

/// One client connection's state. Lives in a preallocated array indexed by connection slot; the
/// byte buffers it uses are the same slot of the worker's carry and output slabs.
struct Connection {
    var fd: Int32 = -1
    /// Bumped whenever the slot is released, so late completions for an old connection are ignored.
    var generation: UInt32 = 0
    var isOpen = false
    var closing = false
    var cancelRequested = false
    var lingering = false
    var peerClosed = false

    var receiveArmed = false
    /// Reading stopped because the output buffer is full; resumes when sends drain it.
    var receivePaused = false
    var sendInFlight = false
    var closeAfterFlush = false

    var phase = ReadPhase.head
    /// This connection's head parser: it remembers how far it scanned a head that arrives in
    /// pieces, so its state belongs to the connection, not to the worker.
    var parser = RequestHeadParser(limits: RequestLimits())
    /// Unparsed bytes at the start of this connection's carry slot.
    var carryCount = 0
    var bodyRemaining = 0
    var chunked = ChunkedBodyDecoder(bodyBytesMax: 0)
    var pending = PendingAnswer()
    var requestsServed = 0

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

    /// A response body larger than the free output space, still to be copied: response index
    /// and offset into its body; -1 when none.
    var streamingResponse = -1
    var streamingOffset = 0

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

    var hasOutput: Bool { outputEnd > outputStart || streamingResponse >= 0 }

    /// Between requests with nothing in flight: safe to close when draining or idle.
    var isIdle: Bool {
        phase == .head && carryCount == 0 && !hasOutput && !sendInFlight
    }
}
