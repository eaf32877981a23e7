import Glibc

/// An operating error from the kernel: which call failed and its errno. Callers decide what an
/// operating error means for them; programmer errors (EBADF, EFAULT, EINVAL on our own
/// arguments) are reported the same way and the caller treats them as fatal.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var call: String
    public var errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// Builds an error from a negative result (`-errno`) as io_uring and the shims return them.
    public init(_ call: String, result: Int32) {
        self.init(call, errno: -result)
    }

    public var description: String {
        // errno 0: the call says it all (a refusal of Sluice's own, not the system's).
        guard errno != 0 else { return call }
        guard let text = strerror(errno) else { return "\(call): errno \(errno)" }
        return "\(call): \(String(cString: text))"
    }
}
