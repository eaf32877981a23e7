import SluiceAuth
import SluiceConfig
import SluiceTLS
import SluiceURing

/// The machine as configuration loading sees it: SluiceURing's system calls behind
/// SluiceConfig's `LoaderEnvironment`, so that the loader itself makes none.
extension LoaderEnvironment {
    static var system: LoaderEnvironment {
        LoaderEnvironment(readFile: { path in
            SystemServices.readFile(path, bytesMax: LoaderEnvironment.fileBytesMax).mapError { FileReadError($0.message) }
        }, allowedCPUs: SystemServices.allowedCPUs(), resolver: .system, inspectCertificate: { chain, key in
            let now = Clock.realtimeNanoseconds() / 1_000_000_000
            return TLSServerContext.inspect(chainPEM: chain, keyPEM: key, nowEpochSeconds: now)
                .mapError { FileReadError($0.message) }
        }, inspectTruststore: { pem in
            TLSDomains.inspectTruststore(pem).mapError { FileReadError($0.message) }
        }).withKeySets
    }

    /// JWKS files are checked with the parser the workers use.
    var withKeySets: LoaderEnvironment {
        var environment = self
        environment.inspectKeySet = { json in
            KeySet.parse(json).map(\.keys.count).mapError { FileReadError($0.message) }
        }
        return environment
    }
}

extension HostResolver {
    /// The system's resolver (`getaddrinfo`).
    static let system = HostResolver { name, port in
        switch SystemServices.resolve(name) {
        case .failure(let message):
            return .failure(HostResolutionError(message.message))
        case .success(let addresses):
            return .success(addresses.map { ResolvedAddress(host: $0.host, port: port, isIPv6: $0.isIPv6) })
        }
    }
}
