import Foundation
import SluiceCache
import SluiceSharedMemory
import SluiceURing
import Testing

@Suite("Shared response cache: index and arena")
struct ResponseCacheTests {
    static let second: Int64 = 1_000_000_000

    func cache(capacity: Int = 1 << 20) throws -> CacheIndex {
        CacheIndex(zones: try CacheZones(name: "test-cache", capacityBytes: capacity, writers: 2))
    }

    /// A body whose bytes say which key and version they belong to, so a torn copy shows.
    static func body(_ key: Int, length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ key) }
    }

    static func key(_ number: Int) -> [UInt8] { Array("GET /pets/\(number)".utf8) }

    func store(_ cache: CacheIndex, _ number: Int, bodyLength: Int = 100, now: Int64 = 10 * second,
               ttl: Int64 = 60 * second) -> Bool {
        let key = Self.key(number)
        let head = Array("Content-Type: text/plain\r\n".utf8)
        let body = Self.body(number, length: bodyLength)
        return cache.store(hash: CacheIndex.hash(key.span), key: key.span, status: 200, head: head.span, body: body.span,
                           now: now, expiresAt: now + ttl, writer: 0)
    }

    func read(_ cache: CacheIndex, _ number: Int, now: Int64 = 10 * second) -> (status: Int, head: [UInt8], body: [UInt8])? {
        let key = Self.key(number)
        guard case .hit(let entry) = cache.lookup(hash: CacheIndex.hash(key.span), key: key.span, now: now) else { return nil }
        guard let head = cache.withBytes(of: entry, range: entry.headRange, { bytes in (0..<bytes.count).map { bytes[$0] } }),
              let body = cache.withBytes(of: entry, range: entry.bodyRange, { bytes in (0..<bytes.count).map { bytes[$0] } })
        else { return nil }
        return (entry.status, head, body)
    }

    @Test func aStoredAnswerIsFoundWhole() throws {
        let cache = try cache()
        #expect(read(cache, 1) == nil)
        #expect(store(cache, 1))
        let found = try #require(read(cache, 1))
        #expect(found.status == 200)
        #expect(found.head == Array("Content-Type: text/plain\r\n".utf8))
        #expect(found.body == Self.body(1, length: 100))
        #expect(read(cache, 2) == nil)
        // The same hash with another key is a miss, not a wrong answer.
        let other = Self.key(2)
        #expect(cache.lookup(hash: CacheIndex.hash(Self.key(1).span), key: other.span, now: 10 * Self.second) == .miss)
        // Storing again replaces.
        #expect(store(cache, 1, bodyLength: 7))
        #expect(read(cache, 1)?.body == Self.body(1, length: 7))
    }

    @Test func entriesExpireAndAFlushEndsThemAll() throws {
        let cache = try cache()
        #expect(store(cache, 1, ttl: 5 * Self.second))
        #expect(read(cache, 1, now: 15 * Self.second - 1) != nil)
        #expect(read(cache, 1, now: 15 * Self.second) == nil)
        let before = cache.generation
        cache.flush()
        #expect(cache.generation == before + 1)
    }

    @Test func oneRequestFillsAKeyTheOthersWaitForIt() throws {
        let cache = try cache()
        let key = Self.key(3)
        let hash = CacheIndex.hash(key.span)
        let now = 10 * Self.second
        let deadline = now + Self.second
        #expect(cache.claimFill(hash: hash, now: now, deadline: deadline) == .claimed)
        #expect(cache.claimFill(hash: hash, now: now, deadline: deadline) == .taken)
        #expect(cache.lookup(hash: hash, key: key.span, now: now) == .filling(deadline: deadline))
        // Past the deadline the claim is free again (its filler died or is slow).
        #expect(cache.lookup(hash: hash, key: key.span, now: deadline) == .miss)
        let later = deadline + Self.second
        #expect(cache.claimFill(hash: hash, now: deadline, deadline: later) == .claimed)
        // An old claimant giving up leaves the newer claim alone.
        cache.abandonFill(hash: hash, deadline: deadline, now: deadline, passUntil: later)
        #expect(cache.lookup(hash: hash, key: key.span, now: deadline) == .filling(deadline: later))
        // Given up by its holder: requests pass straight through for a while, then claim again.
        cache.abandonFill(hash: hash, deadline: later, now: deadline, passUntil: deadline + 100)
        #expect(cache.lookup(hash: hash, key: key.span, now: deadline) == .pass)
        #expect(cache.claimFill(hash: hash, now: deadline, deadline: later) == .passing)
        #expect(cache.lookup(hash: hash, key: key.span, now: deadline + 100) == .miss)
        // Filled: the claim becomes the entry.
        #expect(cache.claimFill(hash: hash, now: deadline + 100, deadline: later) == .claimed)
        #expect(store(cache, 3, now: deadline + 100))
        #expect(read(cache, 3, now: deadline + 100)?.body == Self.body(3, length: 100))
    }

    @Test func aClaimNeverReplacesAStoredAnswer() throws {
        // A request that missed while another stored the key's answer claims after the store:
        // it must look again, not take the slot (which would fill the key a second time).
        let cache = try cache()
        let key = Self.key(4)
        let hash = CacheIndex.hash(key.span)
        let now = 10 * Self.second
        #expect(store(cache, 4, now: now))
        #expect(cache.claimFill(hash: hash, now: now, deadline: now + Self.second) == .taken)
        #expect(read(cache, 4, now: now)?.body == Self.body(4, length: 100))
        // Once it has expired, the key is claimed again.
        #expect(cache.claimFill(hash: hash, now: now + 60 * Self.second, deadline: now + 61 * Self.second) == .claimed)
    }

    @Test func aSlotLeftInChangeIsPassedOver() throws {
        // A writer that died inside a slot's change leaves its sequence odd for good: readers
        // read it again a bounded number of times, then go on without it.
        let cache = try cache()
        #expect(store(cache, 5))
        let hash = CacheIndex.hash(Self.key(5).span)
        let index = cache.zones.index
        let sequenceWord = 1 + (Int(truncatingIfNeeded: hash) & (cache.zones.slotCount - 1)) * 4
        let sequence = index.load(sequenceWord)
        index.store(sequenceWord, sequence | 1)
        #expect(read(cache, 5) == nil)
        index.store(sequenceWord, sequence)
        #expect(read(cache, 5) != nil)
    }

    @Test func noWriterLapsAWriteInProgress() throws {
        let arena = try ByteArena(name: "test-arena", capacity: 4_096, writers: 2)
        let slow = try #require(arena.reserve(1_000, writer: 1))
        // Writer 0 may fill the rest of the lap, but not reach the slow writer's bytes again.
        #expect(arena.reserve(3_000, writer: 0) != nil)
        arena.finish(writer: 0)
        #expect(arena.reserve(1_000, writer: 0) == nil)
        arena.finish(writer: 0)
        arena.finish(writer: 1)
        #expect(arena.reserve(1_000, writer: 0) != nil)
        arena.finish(writer: 0)
        // A dead writer's announcement, cleared by the supervisor, holds nobody back.
        _ = arena.reserve(100, writer: 1)
        arena.clear(writer: 1)
        for _ in 0..<10 { #expect(arena.reserve(1_000, writer: 0) != nil); arena.finish(writer: 0) }
        _ = slow
    }

    @Test func theArenaComesRoundToTheOldestEntriesFirst() throws {
        let cache = try cache(capacity: 64 << 10)
        for number in 0..<100 { #expect(store(cache, number, bodyLength: 4_000)) }
        // About 15 entries of 4 KB fit in 64 KB: the newest are whole, the oldest are misses.
        for number in 90..<100 { #expect(read(cache, number)?.body == Self.body(number, length: 4_000)) }
        for number in 0..<80 { #expect(read(cache, number) == nil) }
        // An entry larger than half the arena is not stored.
        #expect(!store(cache, 500, bodyLength: 40_000))
    }

    /// The writer runs on a thread of its own, not in a forked child: a child forked from the test
    /// runner's many threads can deadlock on a lock another thread held at the fork. The memory
    /// ordering under test is the same between threads as between processes.
    @Test func readersNeverSeeATornEntryWrittenConcurrently() throws {
        nonisolated(unsafe) let cache = try cache(capacity: 256 << 10)
        let stop = try SharedWords(name: "test-stop", count: 1)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            // The writer: many versions of 64 keys of varying sizes, round and round the arena.
            var round = 0
            while stop.load(0) == 0 && round < 200_000 {
                let number = round % 64
                _ = store(cache, number, bodyLength: 500 + (round % 13) * 700)
                round += 1
            }
            done.signal()
        }
        var hits = 0
        var torn = 0
        let deadline = Clock.monotonicNanoseconds() + 2 * Self.second
        while Clock.monotonicNanoseconds() < deadline {
            for number in 0..<64 {
                guard let found = read(cache, number) else { continue }
                hits += 1
                if found.body != Self.body(number, length: found.body.count) { torn += 1 }
            }
        }
        stop.store(0, 1)
        done.wait()
        #expect(hits > 100)
        #expect(torn == 0)
    }

    func writeHalfAnEntry(_ cache: CacheIndex) {
        let key = Self.key(9)
        if let position = cache.zones.arena.reserve(4_096, writer: 1) { cache.zones.arena.write(key.span, at: position, offset: 0) }
    }

    @Test func aWriterStoppedHalfwayLeavesNothingVisible() throws {
        let cache = try cache()
        // Writer 1 reserves and writes half an entry, then stops (as if killed) before the index
        // points at it.
        writeHalfAnEntry(cache)
        #expect(read(cache, 9) == nil)
        // The supervisor clears a dead writer's announcement before it forks the slot again.
        cache.zones.arena.clear(writer: 1)
        #expect(store(cache, 9))
        #expect(read(cache, 9)?.body == Self.body(9, length: 100))
    }
}
