import CSluiceLinux
import Glibc

/// What loading a configuration asks of the operating system, for the executable to hand to
/// SluiceConfig (which makes no system calls of its own): whole files, the CPUs this process may
/// run on, and host name lookups. Blocking calls, made before any worker exists.
public enum SystemServices {
    /// The file's bytes, or the system's reason it cannot be read.
    public static func readFile(_ path: String, bytesMax: Int) -> Result<[UInt8], SystemServiceError> {
        do throws(SystemError) {
            guard let bytes = try Files.read(path, bytesMax: bytesMax) else {
                return .failure(SystemServiceError(String(cString: strerror(ENOENT))))
            }
            return .success(bytes)
        } catch {
            if error.errno == 0 { return .failure(SystemServiceError("not a regular file (a FIFO, a device or a folder)")) }
            return .failure(SystemServiceError(error.errno == EFBIG ? "the file is larger than \(bytesMax >> 20) MiB"
                                                : String(cString: strerror(error.errno))))
        }
    }

    /// Sends `request` to `host`:`port` over TCP and returns everything the peer answered until
    /// it closed (at most `bytesMax`), each step bounded by `timeoutMilliseconds`. Blocking: for
    /// processes off the request path (fetching an issuer's keys).
    public static func exchange(host: String, port: Int, request: [UInt8], timeoutMilliseconds: Int,
                                bytesMax: Int) -> Result<[UInt8], SystemServiceError> {
        var buffer = [UInt8](repeating: 0, count: bytesMax)
        let count = request.withUnsafeBytes { request in
            buffer.withUnsafeMutableBufferPointer { output in
                sluice_http_exchange(host, String(port), request.baseAddress, request.count, Int32(timeoutMilliseconds),
                                     output.baseAddress, output.count)
            }
        }
        guard count >= 0 else { return .failure(SystemServiceError(String(cString: strerror(Int32(-count))))) }
        return .success(Array(buffer[0..<count]))
    }

    /// The machine's memory (`MemTotal` of /proc/meminfo) in bytes; 0 when unknown.
    public static func memoryBytes() -> Int {
        guard case .success(let bytes) = readFile("/proc/meminfo", bytesMax: 1 << 20) else { return 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let digits = line.dropFirst("MemTotal:".count).filter(\.isNumber)
            return (Int(digits) ?? 0) * 1_024
        }
        return 0
    }

    /// The CPUs this process may run on, in ascending order.
    ///
    /// `sched_getaffinity` does not import into Swift (glibc declares it only under _GNU_SOURCE),
    /// so this reads the same mask from the kernel's text form, `Cpus_allowed_list:` in
    /// /proc/self/status (`0-3,6`). Without /proc it falls back to every online CPU.
    public static func allowedCPUs() -> [Int] {
        if case .success(let bytes) = readFile("/proc/self/status", bytesMax: 1 << 20) {
            let status = String(decoding: bytes, as: UTF8.self)
            for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
                if let cpus = parseCPUList(line.dropFirst("Cpus_allowed_list:".count)), !cpus.isEmpty {
                    return cpus
                }
            }
        }
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return Array(0..<max(1, online))
    }

    /// Parses a kernel cpu list: `0-3,6,8-9`.
    public static func parseCPUList(_ text: Substring) -> [Int]? {
        var cpus: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", maxSplits: 1).map { Int($0.filter { !$0.isWhitespace }) }
            guard let low = bounds.first ?? nil else { return nil }
            let high = bounds.count == 2 ? bounds[1] : low
            guard let high, high >= low else { return nil }
            cpus.append(contentsOf: low...high)
        }
        return cpus.sorted()
    }

    /// The addresses of a host name through the system's resolver (`getaddrinfo`: /etc/hosts,
    /// then DNS as nsswitch.conf says), in its order of preference (RFC 6724), without repeats;
    /// link-local IPv6 addresses with a zone are left out. Or the resolver's reason for none.
    public static func resolve(_ name: String) -> Result<[(host: String, isIPv6: Bool)], SystemServiceError> {
        var text = [CChar](repeating: 0, count: 4096)
        let count = sluice_resolve(name, &text, Int32(text.count))
        let output = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard count >= 0 else { return .failure(SystemServiceError(output)) }
        var addresses: [(host: String, isIPv6: Bool)] = []
        for line in output.split(separator: "\n") {
            let address = (host: String(line.dropFirst(2)), isIPv6: line.hasPrefix("6"))
            if !addresses.contains(where: { $0 == address }) { addresses.append(address) }
        }
        if addresses.isEmpty { return .failure(SystemServiceError("no IPv4 or IPv6 address")) }
        return .success(addresses)
    }
}

/// Why a system service could not answer, in the system's words (`No such file or directory`).
public struct SystemServiceError: Error, Sendable, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}
