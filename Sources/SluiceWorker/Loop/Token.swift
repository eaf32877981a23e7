/// What an io_uring submission was for, packed into its 64-bit user data: the kind in the top
/// byte, the connection's generation in the next 24 bits and the connection index in the low 32.
/// The generation lets a completion that arrives after its connection slot was reused be
/// recognized and ignored (its receive buffer is still given back).
enum Token {
    enum Kind: UInt8 {
        case accept = 1
        case receive
        case send
        case tick
        case signal
        case cancel
        case connect
        /// Requests waiting for another request's cache fill look again.
        case cacheWait
        /// An access-log write completed; the connection field is the file.
        case logWrite
    }

    static func make(_ kind: Kind, connection: Int = 0, generation: UInt32 = 0) -> UInt64 {
        UInt64(kind.rawValue) << 56 | UInt64(generation & 0xFF_FFFF) << 32 | UInt64(UInt32(truncatingIfNeeded: connection))
    }

    static func kind(_ userData: UInt64) -> Kind? { Kind(rawValue: UInt8(truncatingIfNeeded: userData >> 56)) }
    static func connection(_ userData: UInt64) -> Int { Int(UInt32(truncatingIfNeeded: userData)) }
    static func generation(_ userData: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: userData >> 32) & 0xFF_FFFF }
}
