/// Connection timeouts without a timer per connection. Every list has one fixed timeout, so
/// appending a connection at the tail with `now + timeout` keeps the list sorted by deadline; the
/// loop's periodic tick pops expired connections from the heads. Moving a connection is O(1)
/// (the links are indices into preallocated arrays), so the request path never allocates for it.
/// Integration timeouts differ per operation, but a deployment has few distinct values: each
/// gets a list of its own (`integration(k)`).
struct DeadlineLists {
    struct List: Equatable {
        let rawValue: UInt8

        static let none = List(rawValue: 0)
        /// Waiting for a request head: the header timeout (408).
        static let header = List(rawValue: 1)
        /// Keep-alive idle, or a body or a response in progress: the idle timeout.
        static let idle = List(rawValue: 2)
        /// After the final response: draining what the client still sends before the close.
        static let linger = List(rawValue: 3)
        /// An upstream connection idle in its pool: the pool's idle timeout.
        static let pool = List(rawValue: 4)
        static let fixedCount = 5

        /// The list of the `k`-th distinct integration timeout.
        static func integration(_ k: Int) -> List { List(rawValue: UInt8(fixedCount + k)) }
    }

    private let listCount: Int
    private var previous: [Int32]
    private var next: [Int32]
    private var deadlines: [Int64]
    private var membership: [List]
    private var heads: [Int32]
    private var tails: [Int32]

    init(capacity: Int, integrationTimeouts: Int = 0) {
        precondition(List.fixedCount + integrationTimeouts <= Int(UInt8.max))
        listCount = List.fixedCount + integrationTimeouts
        previous = Array(repeating: -1, count: capacity)
        next = Array(repeating: -1, count: capacity)
        deadlines = Array(repeating: 0, count: capacity)
        membership = Array(repeating: .none, count: capacity)
        heads = Array(repeating: -1, count: listCount)
        tails = Array(repeating: -1, count: listCount)
    }

    func list(of index: Int) -> List { membership[index] }
    func deadline(of index: Int) -> Int64 { deadlines[index] }

    /// Puts `index` at the tail of `list` with `deadline`, taking it out of any list it was in.
    mutating func schedule(_ index: Int, in list: List, deadline: Int64) {
        remove(index)
        guard list != .none else { return }
        let slot = Int(list.rawValue)
        deadlines[index] = deadline
        membership[index] = list
        previous[index] = tails[slot]
        next[index] = -1
        if tails[slot] >= 0 { next[Int(tails[slot])] = Int32(index) } else { heads[slot] = Int32(index) }
        tails[slot] = Int32(index)
    }

    mutating func remove(_ index: Int) {
        let list = membership[index]
        guard list != .none else { return }
        let slot = Int(list.rawValue)
        let before = previous[index]
        let after = next[index]
        if before >= 0 { next[Int(before)] = after } else { heads[slot] = after }
        if after >= 0 { previous[Int(after)] = before } else { tails[slot] = before }
        previous[index] = -1
        next[index] = -1
        membership[index] = .none
    }

    /// The first connection of `list` whose deadline is at or before `now`, if any.
    func firstExpired(in list: List, now: Int64) -> Int? {
        let head = heads[Int(list.rawValue)]
        guard head >= 0, deadlines[Int(head)] <= now else { return nil }
        return Int(head)
    }
}
