
extension ListenAddress {
    /// Parses `HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT` (both meaning `0.0.0.0:PORT`).
    ///
    /// HOST is a numeric address, or `localhost` (taken as 127.0.0.1): the supervisor binds before
    /// any resolver could be trusted, and a listen address that silently depended on DNS would be a
    /// surprise. Port 0 asks the kernel for an ephemeral port (tests use it).
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        let trimmed = text.trimmingWhitespace
        var host: String
        var portText: Substring
        var isIPv6 = false
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else {
                return .failure(ListenAddressError("'\(text)': missing ']' after the IPv6 address"))
            }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else {
                return .failure(ListenAddressError("'\(text)': expected ':PORT' after ']'"))
            }
            portText = rest.dropFirst()
            isIPv6 = true
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = String(trimmed[..<colon])
            portText = trimmed[trimmed.index(after: colon)...]
            if host.contains(":") {
                return .failure(ListenAddressError("'\(text)': write an IPv6 address in brackets, as in [::]:8080"))
            }
        } else {
            host = ""
            portText = Substring(trimmed)
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port <= 65_535 else {
            return .failure(ListenAddressError("'\(text)': the port must be a number between 0 and 65535"))
        }
        if host.isEmpty { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        if isIPv6 {
            guard host.contains(":"), IPAddress(parsing: Substring(host)) != nil else {
                return .failure(ListenAddressError("'\(text)': '\(host)' is not an IPv6 address"))
            }
        } else {
            guard UpstreamURL.isIPv4Literal(host) else {
                return .failure(ListenAddressError(
                    "'\(text)': '\(host)' is not an IPv4 address (host names are not resolved; use a numeric address)"))
            }
        }
        return .success(ListenAddress(host: host, port: UInt16(port), isIPv6: isIPv6))
    }
}

/// Why a listen address was refused; `message` is meant for the user.
public struct ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks (Foundation-free).
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
