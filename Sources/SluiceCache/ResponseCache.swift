import SluiceHTTP1
import SluiceSharedMemory

/// One stage's response cache, shared by every worker: an index of slots in a `SharedWords`
/// zone and the entries in a `ByteArena`, both mapped by the supervisor before it forks.
///
/// Index slot (four words): a sequence word (odd while a writer changes the slot), the key's
/// hash, a reference (0 empty, 1 being filled, 2 passing: a fill was given up and requests go
/// straight to the integration for a while; else the entry's arena position + 3), and a time on
/// the monotonic clock (when the entry expires, when a fill is given up, or when passing ends). Readers copy a
/// slot between two reads of its sequence word and never wait; a writer claims a slot by
/// compare-and-swap on it. Entries hold their whole key, so a hash that collides is a miss, not
/// a wrong answer; an entry the arena has come round to since is a miss too.
///
/// Word 0 of the index is the generation: a flush adds one, and since keys carry it, every
/// entry before the flush stops matching at once, in every worker.
public final class CacheZones: Sendable {
    public let index: SharedWords
    public let arena: ByteArena
    public let slotCount: Int

    /// One slot per 2 KB of arena, a power of two, at least 1,024. `writers`: the worker slots.
    public init(name: String, capacityBytes: Int, writers: Int) throws(ZoneError) {
        let slots = CacheZones.indexSlots(capacityBytes: capacityBytes)
        slotCount = slots
        index = try SharedWords(name: "\(name)-index", count: 1 + slots * CacheIndex.wordsPerSlot)
        arena = try ByteArena(name: "\(name)-arena", capacity: capacityBytes, writers: writers)
    }

    static func indexSlots(capacityBytes: Int) -> Int {
        var slots = 1_024
        while slots * 2_048 < capacityBytes { slots <<= 1 }
        return slots
    }

    /// The memory a cache of `capacityBytes` takes when full: its arena and its index.
    public static func bytes(capacityBytes: Int) -> Int {
        capacityBytes + (1 + indexSlots(capacityBytes: capacityBytes) * CacheIndex.wordsPerSlot) * 8
    }
}

/// An entry found in the cache: where it is, and its parts' lengths.
public struct CachedEntry: Sendable, Equatable {
    public var position: UInt64
    public var status: Int
    public var keyLength: Int
    public var headLength: Int
    public var bodyLength: Int
    /// When the entry expires (monotonic nanoseconds), as its index slot says: with the TTL it
    /// was stored for, this gives its age.
    public var expiresAt: Int64 = 0

    public init(position: UInt64 = 0, status: Int = 0, keyLength: Int = 0, headLength: Int = 0, bodyLength: Int = 0) {
        self.position = position
        self.status = status
        self.keyLength = keyLength
        self.headLength = headLength
        self.bodyLength = bodyLength
    }

    /// The stored header lines, within the entry.
    public var headRange: Range<Int> {
        let start = CacheIndex.entryHeaderBytes + keyLength
        return start..<(start + headLength)
    }

    /// The body, within the entry.
    public var bodyRange: Range<Int> {
        let start = headRange.upperBound
        return start..<(start + bodyLength)
    }
}

/// What a lookup found.
public enum CacheLookup: Sendable, Equatable {
    case hit(CachedEntry)
    /// Another request (in any worker) is filling this key until `deadline`.
    case filling(deadline: Int64)
    /// A fill of this key was given up a moment ago (its answer was not one to keep): go to the
    /// integration without waiting or filling.
    case pass
    case miss
}

/// What a request that missed got when it asked to fill the key.
public enum FillClaim: Sendable, Equatable {
    case claimed
    /// Another request fills it, or has just stored its answer (look again).
    case taken
    /// A fill was just given up: go to the integration.
    case passing
}

/// The operations on a stage's cache.
public struct CacheIndex: Sendable {
    static let wordsPerSlot = 4
    /// How many slots a key may live in, starting at its hash's.
    static let probes = 8
    static let entryHeaderBytes = 32
    static let entryMagic: UInt32 = 0x5343_4531  // "SCE1"
    static let empty: UInt64 = 0
    static let filling: UInt64 = 1
    static let passing: UInt64 = 2
    static let firstEntry: UInt64 = 3
    /// How many times a slot caught in a writer's change is read again before it is passed over.
    static let settleReads = 256

    public let zones: CacheZones
    let slotMask: Int

    public init(zones: CacheZones) {
        self.zones = zones
        slotMask = zones.slotCount - 1
    }

    var index: SharedWords { zones.index }
    var arena: ByteArena { zones.arena }

    // MARK: Keys

    /// The generation keys carry: a flush moves it on.
    public var generation: UInt64 { index.load(0) }

    /// Makes every entry unreachable, for every worker at once.
    public func flush() { index.add(0, 1) }

    /// The hash of a key (FNV-1a over its bytes, then mixed).
    public static func hash(_ key: Span<UInt8>) -> UInt64 {
        var hash = HTTPBytes.fnv1a(key)
        hash ^= hash >> 33
        hash = hash &* 0xFF51_AFD7_ED55_8CCD
        hash ^= hash >> 33
        return hash
    }

    // MARK: Reading

    struct SlotCopy {
        var sequence: UInt64
        var hash: UInt64
        var reference: UInt64
        var time: Int64
    }

    func base(_ slot: Int) -> Int { 1 + slot * CacheIndex.wordsPerSlot }

    /// A consistent copy of a slot, or nil while a writer changes it.
    func read(_ slot: Int) -> SlotCopy? {
        let base = base(slot)
        let sequence = index.load(base)
        guard sequence & 1 == 0 else { return nil }
        SharedWords.acquireFence()
        let copy = SlotCopy(sequence: sequence, hash: index.load(base + 1), reference: index.load(base + 2),
                            time: Int64(bitPattern: index.load(base + 3)))
        SharedWords.acquireFence()
        return index.load(base) == sequence ? copy : nil
    }

    /// A consistent copy of a slot, read again while a writer changes it: a writer holds a slot
    /// for a few stores, and passing over a slot that is being given its entry would miss the
    /// entry (and fill it twice). Nil only when the change lasts (a writer stopped or died
    /// in it): readers never wait for long.
    func readSettled(_ slot: Int) -> SlotCopy? {
        for _ in 0..<CacheIndex.settleReads {
            if let copy = read(slot) { return copy }
        }
        return nil
    }

    /// Looks `key` (whose hash is `hash`) up at monotonic time `now`.
    public func lookup(hash: UInt64, key: Span<UInt8>, now: Int64) -> CacheLookup {
        for probe in 0..<CacheIndex.probes {
            guard let slot = readSettled((Int(truncatingIfNeeded: hash) &+ probe) & slotMask), slot.hash == hash else {
                continue
            }
            switch slot.reference {
            case CacheIndex.empty:
                continue
            case CacheIndex.filling:
                if slot.time > now { return .filling(deadline: slot.time) }
            case CacheIndex.passing:
                if slot.time > now { return .pass }
            default:
                guard slot.time > now,
                      var entry = entry(at: slot.reference - CacheIndex.firstEntry, hash: hash, key: key) else { continue }
                entry.expiresAt = slot.time
                return .hit(entry)
            }
        }
        return .miss
    }

    /// The entry at `position` when it is whole and its key is `key`.
    func entry(at position: UInt64, hash: UInt64, key: Span<UInt8>) -> CachedEntry? {
        let header = arena.withBytes(at: position, range: 0..<CacheIndex.entryHeaderBytes) { bytes -> CachedEntry? in
            guard CacheIndex.uint32(bytes, 0) == CacheIndex.entryMagic, CacheIndex.uint64(bytes, 24) == hash else {
                return nil
            }
            return CachedEntry(position: position, status: Int(CacheIndex.uint32(bytes, 4)),
                               keyLength: Int(CacheIndex.uint32(bytes, 8)), headLength: Int(CacheIndex.uint32(bytes, 12)),
                               bodyLength: Int(CacheIndex.uint32(bytes, 16)))
        }
        guard let found = header ?? nil, found.keyLength == key.count,
              CacheIndex.entryHeaderBytes + found.keyLength + found.headLength + found.bodyLength <= arena.capacity
        else { return nil }
        let sameKey = arena.withBytes(at: position, range: CacheIndex.entryHeaderBytes..<found.headRange.lowerBound) { stored in
            var same = true
            for offset in 0..<stored.count where stored[offset] != key[offset] {
                same = false
                break
            }
            return same
        }
        return sameKey == true ? found : nil
    }

    /// Lends `range` of a found entry to `body`; nil when the arena has come round to the entry
    /// since it was found (what `body` made of the bytes must then be dropped).
    public func withBytes<R>(of entry: CachedEntry, range: Range<Int>, _ body: (Span<UInt8>) -> R) -> R? {
        arena.withBytes(at: entry.position, range: range, body)
    }

    // MARK: Writing

    /// The slot a writer of `hash` takes: the one already holding the hash, else an empty one,
    /// else an expired one, else the one that expires first.
    func chooseSlot(hash: UInt64, now: Int64) -> (slot: Int, copy: SlotCopy)? {
        var choice: (slot: Int, copy: SlotCopy, rank: Int64)?
        for probe in 0..<CacheIndex.probes {
            let slot = (Int(truncatingIfNeeded: hash) &+ probe) & slotMask
            guard let copy = readSettled(slot) else { continue }
            if copy.hash == hash && copy.reference != CacheIndex.empty { return (slot, copy) }
            let rank = copy.reference == CacheIndex.empty ? Int64.min : copy.time <= now ? Int64.min + 1 : copy.time
            if choice == nil || rank < choice!.rank { choice = (slot, copy, rank) }
        }
        return choice.map { ($0.slot, $0.copy) }
    }

    /// Rewrites a slot whose copy is still current; false when another writer got there first.
    func rewrite(_ slot: Int, from copy: SlotCopy, hash: UInt64, reference: UInt64, time: Int64) -> Bool {
        let base = base(slot)
        guard index.compareExchange(base, expected: copy.sequence, desired: copy.sequence &+ 1).exchanged else {
            return false
        }
        SharedWords.releaseFence()
        index.store(base + 1, hash)
        index.store(base + 2, reference)
        index.store(base + 3, UInt64(bitPattern: time))
        SharedWords.releaseFence()
        index.store(base, copy.sequence &+ 2)
        return true
    }

    /// Claims the filling of `hash` until `deadline`. An answer stored since the caller's lookup
    /// is never replaced by a claim: the caller is told to look again (`.taken`).
    public func claimFill(hash: UInt64, now: Int64, deadline: Int64) -> FillClaim {
        for _ in 0..<2 {
            guard let (slot, copy) = chooseSlot(hash: hash, now: now) else { return .claimed }
            if copy.hash == hash && copy.reference != CacheIndex.empty && copy.time > now {
                if copy.reference == CacheIndex.passing { return .passing }
                return .taken
            }
            if rewrite(slot, from: copy, hash: hash, reference: CacheIndex.filling, time: deadline) { return .claimed }
        }
        // Two other writers raced for the slot: fill without a claim rather than wait.
        return .claimed
    }

    /// Gives up the claim made with `deadline` (the answer was not one to keep): until
    /// `passUntil`, requests for the key go to the integration without waiting. A claim taken
    /// over by another request since is left alone.
    public func abandonFill(hash: UInt64, deadline: Int64, now: Int64, passUntil: Int64) {
        for probe in 0..<CacheIndex.probes {
            let slot = (Int(truncatingIfNeeded: hash) &+ probe) & slotMask
            guard let copy = readSettled(slot), copy.hash == hash, copy.reference == CacheIndex.filling,
                  copy.time == deadline else { continue }
            _ = rewrite(slot, from: copy, hash: hash, reference: CacheIndex.passing, time: passUntil)
            return
        }
    }

    /// Stores an answer under `key` until `expiresAt`: its status, its header lines and its
    /// body. The bytes go to the arena first; the index points at them only once they are all
    /// written. False when it could not be stored (too large, or a writer race).
    @discardableResult
    public func store(hash: UInt64, key: Span<UInt8>, status: Int, head: Span<UInt8>, body: Span<UInt8>,
                      now: Int64, expiresAt: Int64, writer: Int) -> Bool {
        let length = CacheIndex.entryHeaderBytes + key.count + head.count + body.count
        guard length <= arena.capacity / 2, let position = arena.reserve((length + 7) & ~7, writer: writer) else {
            return false
        }
        defer { arena.finish(writer: writer) }
        var header = InlineArray<32, UInt8>(repeating: 0)
        CacheIndex.put(CacheIndex.entryMagic, into: &header, at: 0)
        CacheIndex.put(UInt32(truncatingIfNeeded: status), into: &header, at: 4)
        CacheIndex.put(UInt32(key.count), into: &header, at: 8)
        CacheIndex.put(UInt32(head.count), into: &header, at: 12)
        CacheIndex.put(UInt32(body.count), into: &header, at: 16)
        for byte in 0..<8 { header[24 + byte] = UInt8(truncatingIfNeeded: hash >> (UInt64(byte) * 8)) }
        arena.write(header.span, at: position, offset: 0)
        arena.write(key, at: position, offset: CacheIndex.entryHeaderBytes)
        arena.write(head, at: position, offset: CacheIndex.entryHeaderBytes + key.count)
        arena.write(body, at: position, offset: CacheIndex.entryHeaderBytes + key.count + head.count)
        guard arena.isIntact(position) else { return false }
        for _ in 0..<2 {
            guard let (slot, copy) = chooseSlot(hash: hash, now: now) else { return false }
            if rewrite(slot, from: copy, hash: hash, reference: position + CacheIndex.firstEntry, time: expiresAt) {
                return true
            }
        }
        return false
    }

    // MARK: Bytes

    static func put(_ value: UInt32, into header: inout InlineArray<32, UInt8>, at offset: Int) {
        for byte in 0..<4 { header[offset + byte] = UInt8(truncatingIfNeeded: value >> (UInt32(byte) * 8)) }
    }

    static func uint32(_ bytes: Span<UInt8>, _ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for byte in 0..<4 { value |= UInt32(bytes[offset + byte]) << (UInt32(byte) * 8) }
        return value
    }

    static func uint64(_ bytes: Span<UInt8>, _ offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in 0..<8 { value |= UInt64(bytes[offset + byte]) << (UInt64(byte) * 8) }
        return value
    }
}
