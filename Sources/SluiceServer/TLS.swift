import NIOCore
import NIOSSL

/// `tls-auth-clients`: whether TLS clients must present a certificate that chains to
/// `tls-ca-cert`. Redis's default is `yes`; Sluice's is `no`, so that `tls-port`,
/// `tls-cert` and `tls-key` alone give the TLS most clients expect (the server proves
/// who it is, clients authenticate with `AUTH`).
public enum TLSClientAuthentication: String, Sendable, CaseIterable {
    /// No client certificate is asked for.
    case no
    /// A client without a valid certificate fails the handshake.
    case yes
    /// A certificate is checked when the client sends one; clients without one are accepted.
    case optional
}

extension ServerConfiguration {
    /// The TLS port's context, nil without `tls-port`. Checks the TLS options together and
    /// reads the PEM files; every problem is reported naming its option. `validate()` calls
    /// it before anything binds, and `start()` again for the context it serves with.
    func makeTLSContext() throws(ConfigurationError) -> NIOSSLContext? {
        guard let tlsPort else {
            let set = [("tls-cert", tlsCertificatePath != nil), ("tls-key", tlsKeyPath != nil),
                       ("tls-ca-cert", tlsCACertificatePath != nil), ("tls-auth-clients", tlsAuthClients != .no)]
            if let name = set.first(where: \.1)?.0 {
                // Serving plain text only while the user believes TLS is on would be the worse surprise.
                throw ConfigurationError("\(name) is set but tls-port is not: set tls-port to serve TLS")
            }
            return nil
        }
        guard let certificatePath = tlsCertificatePath, let keyPath = tlsKeyPath else {
            throw ConfigurationError("tls-port needs tls-cert and tls-key (PEM files)")
        }
        if tlsPort != 0 {
            if plainTextEnabled && tlsPort == port {
                throw ConfigurationError("tls-port \(tlsPort) is the same as port: give TLS its own port, or port 0 for TLS only")
            }
            if tlsPort == metricsPort { throw ConfigurationError("tls-port \(tlsPort) is the same as metrics-port") }
        }
        if tlsAuthClients == .no, tlsCACertificatePath != nil {
            throw ConfigurationError("tls-ca-cert is only used to check client certificates: set tls-auth-clients yes or optional")
        }
        if tlsAuthClients != .no, tlsCACertificatePath == nil {
            throw ConfigurationError("tls-auth-clients \(tlsAuthClients.rawValue) needs tls-ca-cert, the CA that signs client certificates")
        }

        let chain = try Self.certificates(at: certificatePath, option: "tls-cert")
        let keyBytes = try Self.read(keyPath, option: "tls-key")
        guard let key = try? NIOSSLPrivateKey(bytes: keyBytes, format: .pem) else {
            throw ConfigurationError("invalid tls-key '\(keyPath)': no unencrypted PEM private key in the file")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // Redis's default `tls-protocols`: TLS 1.2 and 1.3.
        tls.minimumTLSVersion = .tlsv12
        // When the server closes a connection it sends close_notify and, like Redis, hardly
        // waits for the client's: swift-nio-ssl's 5 s default would keep an idle client's
        // slot (and a graceful shutdown) waiting that long.
        tls.shutdownTimeout = .milliseconds(100)
        if let caPath = tlsCACertificatePath {
            tls.trustRoots = .certificates(try Self.certificates(at: caPath, option: "tls-ca-cert"))
            // A server cannot check a client's host name, only that its certificate chains to the CA.
            tls.certificateVerification = tlsAuthClients == .yes ? .noHostnameVerification : .optionalVerification
            tls.sendCANameList = true
        }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // Both files parsed, so BoringSSL refused the pair.
            throw ConfigurationError("tls-key '\(keyPath)' does not match the certificate in tls-cert '\(certificatePath)'")
        } catch {
            throw ConfigurationError("cannot use tls-cert '\(certificatePath)' and tls-key '\(keyPath)': \(error)")
        }
    }

    private static func read(_ path: String, option: String) throws(ConfigurationError) -> [UInt8] {
        do {
            return try readSmallFile(path)
        } catch {
            throw ConfigurationError("invalid \(option) '\(path)': cannot read it: \(error.reason)")
        }
    }

    /// The PEM certificates in a file, in order; at least one.
    private static func certificates(at path: String, option: String) throws(ConfigurationError) -> [NIOSSLCertificate] {
        let bytes = try read(path, option: option)
        let certificates = try? NIOSSLCertificate.fromPEMBytes(bytes)
        guard let certificates, !certificates.isEmpty else {
            throw ConfigurationError("invalid \(option) '\(path)': no PEM certificate in the file")
        }
        return certificates
    }
}
