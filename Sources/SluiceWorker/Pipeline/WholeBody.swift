import SluiceConfig
import SluiceJSON
import SluiceHTTP1
import SluicePipeline
import SluiceURing

/// The pipeline's whole-body phase. Most requests stream their body through (to an upstream, or
/// away); a step that needs the body whole — an IAM signature over it, a validator, a mapping
/// template — waits for it here. The request's bytes (head and body) gather at the start of its
/// connection's carry slot while they fit; a larger request moves to one of the worker's body
/// buffers (`limits.buffered_bodies` of `limits.buffered_body_bytes`), and moves back once its
/// body has been read. The step runs again each time bytes arrive, and goes on when all are here.
struct WholeBodyState {
    /// The worker's body buffers and the free ones.
    let buffers: ByteSlab
    var free: [Int32]
    /// Requests waiting for their body: at most half the parked slots, so that the other waits
    /// (Lambda authorizers, cache fills) keep theirs.
    var waits = 0

    /// `limits.buffered_body_bytes`: the largest body a step may hold.
    let bodyBytesMax: Int

    init(limits: Limits) throws(SystemError) {
        bodyBytesMax = limits.bufferedBodyBytesMax
        // A request's head comes first in its buffer, so each holds the largest head as well;
        // and a body base64-encoded (contentHandling) is a third longer.
        buffers = try ByteSlab(slotCount: limits.bufferedBodiesMax,
                               slotBytes: limits.request.headBytesMax + Base64.encodedCount(limits.bufferedBodyBytesMax))
        free = (0..<Int32(limits.bufferedBodiesMax)).reversed()
    }
}

/// What a step that needs the whole body learns.
enum BodyWait {
    /// The body is here: its range in the step's bytes.
    case ready(Range<Int>)
    /// It is still arriving: the step returns `.wait`, and runs again as bytes arrive.
    case wait
    /// It cannot be held: too large (413), chunked (411), or no room to wait (503).
    case refuse(GatewayAnswer)
}

extension Worker {
    /// The body of the request whose head is `head` (its bytes are `bytes`, head first), whole.
    func awaitBody(_ index: Int, _ bytes: Span<UInt8>) -> BodyWait {
        let bodyLength: Int
        switch head.framing {
        case .none: bodyLength = 0
        case .length(let length): bodyLength = length
        case .chunked: return .refuse(.lengthRequired)
        }
        if bytes.count - head.headLength >= bodyLength {
            endBodyWait(index)
            return .ready(head.headLength..<(head.headLength + bodyLength))
        }
        let total = head.headLength + bodyLength
        guard bodyLength <= wholeBody.bodyBytesMax, total <= max(carry.slotBytes, wholeBody.buffers.slotBytes) else {
            return .refuse(.bodyTooLarge)
        }
        if !connections[index].request.waitsForBody {
            guard canWait(index), wholeBody.waits < max(1, parkedHeads.count / 2) else { return .refuse(.serviceUnavailable) }
            if total > carry.slotBytes {
                guard let buffer = wholeBody.free.popLast() else { return .refuse(.serviceUnavailable) }
                connections[index].bodyBuffer = buffer
            }
            wholeBody.waits += 1
            connections[index].request.waitsForBody = true
        }
        if head.expectsContinue && !connections[index].request.continueSent {
            connections[index].request.continueSent = true
            write(index, ResponseHead.continueResponse)
        }
        return .wait
    }

    /// The request no longer waits for its body (it is here, or the connection closes).
    func endBodyWait(_ index: Int) {
        guard connections[index].request.waitsForBody else { return }
        connections[index].request.waitsForBody = false
        wholeBody.waits -= 1
    }

    // MARK: Where a connection's unparsed bytes are

    /// The slab and slot that hold the connection's unparsed bytes: its carry slot, or the body
    /// buffer its request moved to.
    @inline(__always)
    func carryLocation(_ index: Int) -> (slab: ByteSlab, slot: Int) {
        connections[index].bodyBufferInUse ? (wholeBody.buffers, Int(connections[index].bodyBuffer))
            : (carry, index)
    }

    /// Before bytes are added to the connection's unparsed ones: a request that claimed a body
    /// buffer moves there now.
    func moveToBodyBuffer(_ index: Int) {
        let buffer = Int(connections[index].bodyBuffer)
        guard buffer >= 0, !connections[index].bodyBufferInUse else { return }
        let count = connections[index].carryCount
        if count > 0 { wholeBody.buffers.copy(from: carry, slot: index, range: 0..<count, toSlot: buffer, offset: 0) }
        connections[index].bodyBufferInUse = true
    }

    /// After parsing: once the request that needed a body buffer no longer waits, what is left
    /// (pipelined requests) goes back to the carry slot when it fits, and the buffer is freed.
    func leaveBodyBuffer(_ index: Int) {
        let buffer = connections[index].bodyBuffer
        guard buffer >= 0, !connections[index].request.waitsForBody else { return }
        if connections[index].bodyBufferInUse {
            let count = connections[index].carryCount
            guard count <= carry.slotBytes else { return }
            if count > 0 { carry.copy(from: wholeBody.buffers, slot: Int(buffer), range: 0..<count, toSlot: index, offset: 0) }
        }
        releaseBodyBuffer(index)
    }

    /// Frees the connection's body buffer (its bytes are elsewhere, or the connection closes).
    func releaseBodyBuffer(_ index: Int) {
        let buffer = connections[index].bodyBuffer
        guard buffer >= 0 else { return }
        wholeBody.free.append(buffer)
        connections[index].bodyBuffer = -1
        connections[index].bodyBufferInUse = false
    }
}
