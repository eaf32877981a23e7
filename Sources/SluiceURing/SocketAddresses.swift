import CSluiceLinux
import Glibc

/// Upstream socket addresses in memory that stays put, as io_uring's connect needs: the kernel
/// reads the address when the submission is consumed. Built once at worker start.
public final class SocketAddresses {
    private let storage: UnsafeMutableRawPointer
    private let lengths: [Int32]
    private let ipv6: [Bool]
    private let stride: Int

    /// `addresses`: numeric hosts (IPv4 or IPv6 literals) and ports.
    public init(_ addresses: [(host: String, port: UInt16)]) throws(SystemError) {
        stride = Int(sluice_sockaddr_storage_size())
        storage = .allocate(byteCount: max(1, addresses.count) * stride, alignment: 16)
        var lengths: [Int32] = []
        var ipv6: [Bool] = []
        for (index, address) in addresses.enumerated() {
            let length = sluice_make_address(address.host, Int32(address.port), storage + index * stride)
            guard length > 0 else {
                storage.deallocate()
                throw SystemError("address \(address.host):\(address.port)", errno: EINVAL)
            }
            lengths.append(length)
            ipv6.append(address.host.contains(":"))
        }
        self.lengths = lengths
        self.ipv6 = ipv6
    }

    deinit { storage.deallocate() }

    public var count: Int { lengths.count }
    public func isIPv6(_ index: Int) -> Bool { ipv6[index] }

    func address(_ index: Int) -> (UnsafePointer<sockaddr>, socklen_t) {
        precondition(index >= 0 && index < lengths.count)
        return (UnsafePointer((storage + index * stride).assumingMemoryBound(to: sockaddr.self)), socklen_t(lengths[index]))
    }
}

extension Ring {
    /// Connects `socket` to address `index` of `addresses`.
    public func connect(socket: Int32, addresses: SocketAddresses, index: Int, userData: UInt64) {
        if let simulator { return simulator.submit(.connect(socket: socket), userData: userData) }
        let (address, length) = addresses.address(index)
        let sqe = submissionSlotForExtensions()
        io_uring_prep_connect(sqe, socket, address, length)
        io_uring_sqe_set_data64(sqe, userData)
    }
}

extension Socket {
    /// A new nonblocking TCP socket (TCP_NODELAY set) for connecting upstream.
    public static func makeTCP(ipv6: Bool) throws(SystemError) -> Int32 {
        let fd = sluice_tcp_socket(ipv6 ? 1 : 0)
        guard fd >= 0 else { throw SystemError("socket", result: fd) }
        return fd
    }
}
