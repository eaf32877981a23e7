import Yams

/// sluice.yaml's `aws`, `jwt_issuers` and `iam` (Authorizers.swift shows them), and what they
/// make of the definitions' authorizers: a method whose authorizer cannot run here is refused,
/// never opened.
struct AuthorizationSection {
    let reader: ConfigReader
    let environment: LoaderEnvironment
    let configPath: String
    var log: DiagnosticLog { reader.log }

    func readAWS(_ node: Node, into deployment: inout Deployment) {
        guard let entries = reader.mapping(node, "aws") else { return }
        for (key, value) in entries {
            switch key.text {
            case "region":
                guard let region = reader.string(value, "aws.region") else { continue }
                guard region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
                    log.error(reader.file, value.line, "aws.region must be a region name such as us-east-1, not '\(region)'")
                    continue
                }
                deployment.aws.region = region
            case "account_id":
                guard let account = reader.string(value, "aws.account_id") else { continue }
                guard account.count == 12, account.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    log.error(reader.file, value.line, "aws.account_id must be 12 digits, not '\(account)'")
                    continue
                }
                deployment.aws.accountID = account
            default:
                reader.unknownKey(key, in: "aws")
            }
        }
    }

    func readIssuers(_ node: Node, into deployment: inout Deployment) {
        guard case .sequence(let items) = node else {
            if !node.isNull { log.error(reader.file, node.line, "jwt_issuers must be a list, not \(node.kindName)") }
            return
        }
        for item in items {
            guard let entries = reader.mapping(item, "a jwt_issuers entry") else { continue }
            var issuer: String?
            var source: JWTIssuer.Source?
            var refresh = 3_600
            var leeway = 0
            for (key, value) in entries {
                switch key.text {
                case "issuer": issuer = reader.string(value, "jwt_issuers issuer")
                case "jwks":
                    guard let text = reader.string(value, "jwt_issuers jwks") else { continue }
                    if text.hasPrefix("http://") || text.hasPrefix("https://") {
                        guard text.hasPrefix("http://") else {
                            log.error(reader.file, value.line, "jwt_issuers jwks: https:// key sets are not fetched yet; "
                                      + "serve the JWKS over http:// on a trusted network, or give a file")
                            continue
                        }
                        guard case .success(let url) = UpstreamURL.parse(text), !url.hasFragment else {
                            log.error(reader.file, value.line, "jwt_issuers jwks: '\(text)' is not a URL")
                            continue
                        }
                        log.warning(reader.file, value.line, "jwt_issuers jwks: keys fetched over http:// can be "
                                    + "replaced by anyone on the network path, and with them tokens forged: serve "
                                    + "them from this machine or a trusted network")
                        source = .url(KeySetURL(host: url.host, port: Int(url.port), hostHeader: url.hostHeader,
                                                target: url.path + (url.query.map { "?\($0)" } ?? ""), description: text))
                    } else {
                        source = .file(Loader.join(folderOf: configPath, text))
                    }
                case "refresh_s":
                    refresh = reader.integer(value, "jwt_issuers refresh_s", in: 10...86_400) ?? refresh
                case "leeway_s":
                    leeway = reader.integer(value, "jwt_issuers leeway_s", in: 0...300) ?? leeway
                default:
                    reader.unknownKey(key, in: "jwt_issuers")
                }
            }
            guard let issuer else {
                log.error(reader.file, item.line, "a jwt_issuers entry needs issuer (the tokens' iss)")
                continue
            }
            guard let source else {
                log.error(reader.file, item.line, "jwt_issuers '\(issuer)' needs jwks (a file, or an http:// URL)")
                continue
            }
            guard !deployment.jwtIssuers.contains(where: { $0.issuer == issuer }) else {
                log.error(reader.file, item.line, "jwt_issuers lists '\(issuer)' twice")
                continue
            }
            var entry = JWTIssuer(issuer: issuer, source: source, refreshSeconds: refresh, leewaySeconds: leeway)
            if case .file(let path) = source {
                switch environment.readFile(path) {
                case .failure(let error):
                    log.error(reader.file, item.line, "jwt_issuers '\(issuer)': cannot read \(path): \(error.message)")
                    continue
                case .success(let bytes):
                    guard bytes.count <= JWTIssuer.keySetBytesMax else {
                        log.error(reader.file, item.line, "jwt_issuers '\(issuer)': \(path) is larger than "
                                  + "\(JWTIssuer.keySetBytesMax >> 10) KiB; a key set is a few KiB")
                        continue
                    }
                    switch environment.inspectKeySet(bytes) {
                    case .failure(let error):
                        log.error(reader.file, item.line, "jwt_issuers '\(issuer)': \(path): \(error.message)")
                        continue
                    case .success(let count):
                        if count == 0 {
                            log.warning(reader.file, item.line, "jwt_issuers '\(issuer)': \(path) holds no key Sluice "
                                        + "can verify with (RSA or EC P-256/384/521 signing keys); every token is refused")
                        }
                        entry.initialKeys = bytes
                    }
                }
            }
            deployment.jwtIssuers.append(entry)
        }
    }

    func readIAM(_ node: Node, into deployment: inout Deployment) {
        guard let entries = reader.mapping(node, "iam") else { return }
        for (key, value) in entries {
            guard key.text == "credentials" else {
                reader.unknownKey(key, in: "iam")
                continue
            }
            guard case .sequence(let items) = value else {
                if !value.isNull { log.error(reader.file, value.line, "iam.credentials must be a list, not \(value.kindName)") }
                continue
            }
            for item in items {
                if let credential = credential(item, account: deployment.aws.accountID) {
                    if let other = deployment.iamCredentials.first(where: { $0.accessKeyID == credential.accessKeyID }) {
                        log.error(reader.file, item.line, "iam.credentials: '\(credential.name)' has the access key id "
                                  + "of '\(other.name)'")
                        continue
                    }
                    deployment.iamCredentials.append(credential)
                }
            }
        }
    }

    private func credential(_ node: Node, account: String) -> IAMCredential? {
        guard let entries = reader.mapping(node, "an iam.credentials entry") else { return nil }
        var name: String?
        var keyID: String?
        var secret: String?
        var token: String?
        var expires: Int64?
        var userARN: String?
        var principal: String?
        var valid = true
        for (key, value) in entries {
            switch key.text {
            case "name": name = reader.string(value, "iam.credentials name")
            case "access_key_id":
                keyID = reader.string(value, "iam.credentials access_key_id")
                if let text = keyID, !text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                    log.error(reader.file, value.line, "iam.credentials access_key_id must be letters and digits")
                    valid = false
                }
            case "secret_access_key":
                // Never echoed in a message.
                guard let text = value.text, !text.isEmpty else {
                    log.error(reader.file, value.line, "iam.credentials secret_access_key must be a non-empty string")
                    valid = false
                    continue
                }
                secret = text
            case "secret_access_key_file":
                secret = secretFile(value, "secret_access_key_file")
                if secret == nil { valid = false }
            case "session_token_file":
                token = secretFile(value, "session_token_file")
                if token == nil { valid = false }
            case "expires_epoch_s":
                expires = reader.integer(value, "iam.credentials expires_epoch_s", in: 0...Int(Int32.max) * 4)
                    .map(Int64.init)
            case "user_arn": userARN = reader.string(value, "iam.credentials user_arn")
            case "principal_id": principal = reader.string(value, "iam.credentials principal_id")
            default:
                reader.unknownKey(key, in: "iam.credentials")
            }
        }
        guard valid, let name, let keyID else {
            if valid { log.error(reader.file, node.line, "an iam.credentials entry needs name and access_key_id") }
            return nil
        }
        guard let secret else {
            log.error(reader.file, node.line, "iam.credentials '\(name)' needs secret_access_key_file (or secret_access_key)")
            return nil
        }
        return IAMCredential(name: name, accessKeyID: keyID, secretAccessKey: secret, sessionToken: token,
                             expiresEpochSeconds: expires, userARN: userARN ?? "arn:aws:iam::\(account):user/\(name)",
                             principalID: principal ?? name)
    }

    /// A secret read from a file (relative to sluice.yaml), without its trailing newline.
    private func secretFile(_ node: Node, _ what: String) -> String? {
        guard let path = reader.string(node, "iam.credentials \(what)") else { return nil }
        let full = Loader.join(folderOf: configPath, path)
        switch environment.readText(full) {
        case .failure(let error):
            log.error(reader.file, node.line, "iam.credentials \(what): cannot read \(full): \(error.message)")
            return nil
        case .success(var text):
            while text.last == "\n" || text.last == "\r" { text.removeLast() }
            guard !text.isEmpty, !text.contains("\n") else {
                log.error(reader.file, node.line, "iam.credentials \(what): \(full) must hold one line")
                return nil
            }
            return text
        }
    }

    /// Authorizers whose issuers have no keys here are refused, IAM without credentials is noted.
    func resolve(_ deployment: inout Deployment) {
        var unusable: [Int: String] = [:]
        for (index, authorizer) in deployment.authorizers.enumerated() {
            if authorizer.kind == .token || authorizer.kind == .request {
                if authorizer.function == nil {
                    unusable[index] = "the Lambda authorizer '\(authorizer.name)' (its function cannot be invoked)"
                }
                continue
            }
            let missing = authorizer.issuers.filter { issuer in !deployment.jwtIssuers.contains { $0.issuer == issuer } }
            guard !missing.isEmpty else { continue }
            let what = authorizer.kind == .jwt ? "the JWT authorizer" : "the Cognito user pool authorizer"
            log.warning(authorizer.file, authorizer.line, "\(what) '\(authorizer.name)': no jwt_issuers entry in "
                        + "\(configPath) gives the keys of \(missing.joined(separator: ", ")); the methods it protects "
                        + "answer 500 (AuthorizerConfigurationException)")
            unusable[index] = "\(what) '\(authorizer.name)' (no keys for its issuer)"
        }
        var iamMethods = 0
        for index in deployment.operations.indices {
            switch deployment.operations[index].authorization {
            case .authorizer(let authorizer, _):
                if let reason = unusable[authorizer] { deployment.operations[index].authorization = .unenforced(reason) }
            case .iam: iamMethods += 1
            case .none, .unenforced: break
            }
        }
        if iamMethods > 0 && deployment.iamCredentials.isEmpty {
            log.warning(configPath, 1, "\(iamMethods) method(s) require IAM (SigV4) authorization and iam.credentials "
                        + "lists no key: every request to them answers 403")
        }
    }
}
