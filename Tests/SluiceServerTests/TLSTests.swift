import NIOSSL
import RESP
import SluiceServer
import Testing

@Suite("TLS port")
struct TLSTests {
    @Test("PING, SET and GET over TLS answer as on the plain port, on the same keyspace")
    func commandsOverTLS() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let tlsPort = try #require(server.server.tlsPort)
            #expect(tlsPort != server.port)
            let tls = try await TLSConnection(port: tlsPort, certs)
            #expect(try await tls.command("PING") == "+PONG\r\n")
            #expect(try await tls.command("SET", "k", "over tls") == "+OK\r\n")
            #expect(try await tls.command("GET", "k") == "$8\r\nover tls\r\n")
            let plain = try server.connect()
            #expect(try plain.command("GET", "k") == "$8\r\nover tls\r\n")
            #expect(try await tls.command("HELLO", "3").hasPrefix("%7\r\n"))
            #expect(try await tls.command("PING") == "+PONG\r\n")
        }
    }

    @Test("the server's certificate names localhost and 127.0.0.1; one for another host fails the client's name check")
    func hostnameChecked() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let byName = try await TLSConnection(port: try #require(server.server.tlsPort), certs, hostname: "localhost")
            #expect(try await byName.command("PING") == "+PONG\r\n")
        }
        try await withServer(configure: {
            certs.configure(&$0)
            $0.tlsCertificatePath = certs.path("wrong-host.crt")
            $0.tlsKeyPath = certs.path("wrong-host.key")
        }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            await #expect(throws: NIOSSLExtraError.self) { try await TLSConnection(port: tlsPort, certs) }
            // Same CA: only the name was wrong.
            let named = try await TLSConnection(port: tlsPort, certs, hostname: "sluice.invalid")
            #expect(try await named.command("PING") == "+PONG\r\n")
        }
    }

    @Test("a client that does not trust the server's CA fails the handshake")
    func untrustedServer() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let tlsPort = try #require(server.server.tlsPort)
            await #expect(throws: NIOSSLError.self) {
                try await TLSConnection(port: tlsPort, certs, trusting: "other-ca.crt")
            }
            #expect(try await TLSConnection(port: tlsPort, certs).command("PING") == "+PONG\r\n")
        }
    }

    @Test("requirepass over TLS: NOAUTH before AUTH, WRONGPASS for a wrong password, then commands run")
    func authOverTLS() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: { certs.configure(&$0); $0.requirePass = "tls-s3cret" }) { server in
            let tls = try await TLSConnection(port: try #require(server.server.tlsPort), certs)
            #expect(try await tls.command("GET", "k") == "-NOAUTH Authentication required.\r\n")
            #expect(try await tls.command("AUTH", "wrong")
                == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            #expect(try await tls.command("AUTH", "tls-s3cret") == "+OK\r\n")
            #expect(try await tls.command("SET", "k", "v") == "+OK\r\n")
            #expect(try await tls.command("GET", "k") == "$1\r\nv\r\n")
        }
    }

    @Test("bad commands over TLS get Redis errors and the connection keeps working")
    func errorsKeepConnection() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let tls = try await TLSConnection(port: try #require(server.server.tlsPort), certs)
            #expect(try await tls.command("NOPE", "x")
                == "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n")
            #expect(try await tls.command("GET") == "-ERR wrong number of arguments for 'get' command\r\n")
            #expect(try await tls.command("HSET", "h", "f", "v") == ":1\r\n")
            #expect(try await tls.command("GET", "h")
                == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try await tls.command("PING") == "+PONG\r\n")
        }
    }

    @Test("malformed RESP over TLS: a protocol error, the connection closed, new TLS connections served")
    func protocolErrorOverTLS() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let tls = try await TLSConnection(port: tlsPort, certs)
            try await tls.send("*1\r\n$blabla\r\n")
            #expect(try await tls.readRaw() == "-ERR Protocol error: invalid bulk length\r\n")
            #expect(try await tls.isClosedByPeer())
            let next = try await TLSConnection(port: tlsPort, certs)
            #expect(try await next.command("PING") == "+PONG\r\n")
        }
    }

    @Test("a plain-text client on the TLS port fails the handshake; TLS and plain clients are still served")
    func plainTextOnTLSPort() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let confused = try RawConnection(port: tlsPort, timeoutSeconds: 5)
            try confused.send("*1\r\n$4\r\nPING\r\n")
            // The server answers with a TLS alert (never +PONG) and closes.
            #expect(confused.closedOrReset())
            let tls = try await TLSConnection(port: tlsPort, certs)
            #expect(try await tls.command("PING") == "+PONG\r\n")
            #expect(try server.connect().command("PING") == "+PONG\r\n")
        }
    }

    @Test("maxclients counts TLS connections with plain ones, and the refusal arrives over TLS")
    func maxClientsOverTLS() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: { certs.configure(&$0); $0.maxClients = 2 }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let plain = try server.connect()
            #expect(try plain.command("PING") == "+PONG\r\n")
            let first = try await TLSConnection(port: tlsPort, certs)
            #expect(try await first.command("PING") == "+PONG\r\n")
            let refused = try await TLSConnection(port: tlsPort, certs)
            #expect(try await refused.readRaw() == "-ERR max number of clients reached\r\n")
            #expect(try await refused.isClosedByPeer())
        }
    }

    @Test("timeout closes an idle TLS client and spares an active one")
    func idleTimeoutOverTLS() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: {
            certs.configure(&$0)
            $0.idleTimeoutSeconds = 2
            $0.idleCheckIntervalMilliseconds = 10
        }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let idle = try await TLSConnection(port: tlsPort, certs)
            let active = try await TLSConnection(port: tlsPort, certs)
            #expect(try await idle.command("PING") == "+PONG\r\n")
            server.clock.advance(milliseconds: 2_000)
            #expect(try await active.command("PING") == "+PONG\r\n")
            server.clock.advance(milliseconds: 1_000)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await idle.isClosedByPeer())
            #expect(try await active.command("PING") == "+PONG\r\n")
        }
    }

    @Test("a TLS read burst whose replies pass client-output-buffer-limit closes the client without answering")
    func outputLimitOverTLS() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: { certs.configure(&$0); $0.maxOutputBufferBytes = 1024 * 1024 }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let tls = try await TLSConnection(port: tlsPort, certs)
            #expect(try await tls.command("SET", "big", String(repeating: "v", count: 300_000)) == "+OK\r\n")
            try await tls.send(String(repeating: "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", count: 10))
            #expect(try await tls.unreadBytesAtClose() == 0)
            #expect(try await TLSConnection(port: tlsPort, certs).command("PING") == "+PONG\r\n")
        }
    }

    @Test("INFO server shows tls_port and CONFIG GET tls-port the bound port; without TLS both say 0")
    func reportsTLSPort() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: certs.configure) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let tls = try await TLSConnection(port: tlsPort, certs)
            #expect(try await tls.command("CONFIG", "GET", "tls-port")
                == "*2\r\n$8\r\ntls-port\r\n$\(String(tlsPort).utf8.count)\r\n\(tlsPort)\r\n")
            let info = try await tls.command("INFO", "server")
            #expect(info.contains("\r\ntcp_port:\(server.port)\r\ntls_port:\(tlsPort)\r\n"))
            #expect(try await tls.command("CONFIG", "GET", "tls-cert")
                == "*2\r\n$8\r\ntls-cert\r\n$\(certs.serverCertificate.utf8.count)\r\n\(certs.serverCertificate)\r\n")
        }
        try await withServer { server in
            let plain = try server.connect()
            #expect(try plain.command("CONFIG", "GET", "tls-port") == "*2\r\n$8\r\ntls-port\r\n$1\r\n0\r\n")
            #expect(try plain.command("INFO", "server").contains("\r\ntls_port:0\r\n"))
        }
    }

    @Test("TLS only: no plain-text listener, port reported as 0, commands served over TLS")
    func tlsOnly() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: { certs.configure(&$0); $0.plainTextEnabled = false }) { server in
            #expect(server.port == 0)
            let tls = try await TLSConnection(port: try #require(server.server.tlsPort), certs)
            #expect(try await tls.command("CONFIG", "GET", "port") == "*2\r\n$4\r\nport\r\n$1\r\n0\r\n")
            #expect(try await tls.command("INFO", "server").contains("\r\ntcp_port:0\r\n"))
            #expect(try await tls.command("PING") == "+PONG\r\n")
        }
    }

    @Test("TLS only: with no plain-text loops, active expiry runs on SwiftNIO's and reclaims keys nobody reads")
    func tlsOnlyExpiry() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: { certs.configure(&$0); $0.plainTextEnabled = false; $0.expiryIntervalMilliseconds = 20 }) { server in
            let tls = try await TLSConnection(port: try #require(server.server.tlsPort), certs)
            for i in 0..<50 { #expect(try await tls.command("SET", "k\(i)", "v", "PX", "100") == "+OK\r\n") }
            #expect(try await tls.command("SET", "keep", "v") == "+OK\r\n")
            server.clock.advance(milliseconds: 1_000)
            var size = ""
            for _ in 0..<250 {
                size = try await tls.command("DBSIZE")
                if size == ":1\r\n" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(size == ":1\r\n")
            #expect(try await tls.command("INFO", "stats").contains("\r\nexpired_keys:50\r\n"))
        }
    }

    @Test("tls-auth-clients yes: a client without a certificate or with one from another CA is refused, the CA's client is served")
    func clientCertificatesRequired() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: {
            certs.configure(&$0)
            $0.tlsAuthClients = .yes
            $0.tlsCACertificatePath = certs.caCertificate
        }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            #expect(await Self.refused(port: tlsPort, certs, certificate: nil))
            #expect(await Self.refused(port: tlsPort, certs, certificate: ("other-client.crt", "other-client.key")))
            let known = try await TLSConnection(port: tlsPort, certs, certificate: ("client.crt", "client.key"))
            #expect(try await known.command("PING") == "+PONG\r\n")
        }
    }

    @Test("tls-auth-clients optional: clients without a certificate are served, a certificate from another CA is refused")
    func clientCertificatesOptional() async throws {
        let certs = try await TestCertificates.made()
        try await withServer(configure: {
            certs.configure(&$0)
            $0.tlsAuthClients = .optional
            $0.tlsCACertificatePath = certs.caCertificate
        }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            let anonymous = try await TLSConnection(port: tlsPort, certs)
            #expect(try await anonymous.command("PING") == "+PONG\r\n")
            let known = try await TLSConnection(port: tlsPort, certs, certificate: ("client.crt", "client.key"))
            #expect(try await known.command("PING") == "+PONG\r\n")
            #expect(await Self.refused(port: tlsPort, certs, certificate: ("other-client.crt", "other-client.key")))
        }
    }

    @Test("--health-check uses the TLS port when the plain one is off: PONG passes, a wrong password, a missing client certificate and a closed port fail")
    func healthCheckOverTLS() async throws {
        let certs = try await TestCertificates.made()
        var check = ServerConfiguration()
        certs.configure(&check)
        check.plainTextEnabled = false
        try await withServer(configure: { certs.configure(&$0); $0.plainTextEnabled = false }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            check.tlsPort = tlsPort
            #expect(await HealthCheck.run(check) == nil)
        }
        // That server has stopped: nothing listens there now.
        #expect(await HealthCheck.run(check)?.hasPrefix("TLS to 127.0.0.1:\(check.tlsPort!) failed: ") == true)
        try await withServer(configure: {
            certs.configure(&$0)
            $0.plainTextEnabled = false
            $0.requirePass = "hc-s3cret"
            $0.tlsAuthClients = .yes
            $0.tlsCACertificatePath = certs.caCertificate
        }) { server in
            let tlsPort = try #require(server.server.tlsPort)
            check.tlsPort = tlsPort
            check.requirePass = "hc-s3cret"
            check.tlsAuthClients = .yes
            check.tlsCACertificatePath = certs.caCertificate
            // The server's own certificate, which has the clientAuth usage, is presented.
            #expect(await HealthCheck.run(check) == nil)
            check.requirePass = "wrong"
            #expect(await HealthCheck.run(check)
                == "unexpected reply: -WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n")
            check.requirePass = "hc-s3cret"
            check.tlsAuthClients = .no
            #expect(await HealthCheck.run(check) != nil)
        }
    }

    /// Whether the server refused this client certificate (or none). With TLS 1.3 the
    /// client's own handshake ends before the server checks its certificate, so the
    /// refusal may arrive as the answer to the first command.
    static func refused(port: Int, _ certs: TestCertificates, certificate: (certificate: String, key: String)?) async -> Bool {
        do {
            let connection = try await TLSConnection(port: port, certs, certificate: certificate)
            _ = try await connection.command("PING")
            return false
        } catch {
            return true
        }
    }
}

@Suite("TLS configuration")
struct TLSConfigurationTests {
    /// The error `load` reports for these flags, or "no error".
    func loadError(_ flags: [String]) -> String {
        do {
            _ = try ServerConfiguration.load(flags: flags, environment: [:])
            return "no error"
        } catch {
            return error.description
        }
    }

    func valid(_ certs: TestCertificates) -> [String] {
        ["--tls-port", "6390", "--tls-cert", certs.serverCertificate, "--tls-key", certs.serverKey]
    }

    @Test("the TLS options come from flags, the environment and Redis's flag names; CONFIG GET names")
    func sources() async throws {
        let certs = try await TestCertificates.made()
        let fromFlags = try ServerConfiguration.load(flags: valid(certs), environment: [:])
        #expect(fromFlags.tlsPort == 6390)
        #expect(fromFlags.tlsCertificatePath == certs.serverCertificate)
        #expect(fromFlags.tlsKeyPath == certs.serverKey)
        #expect(fromFlags.tlsAuthClients == .no)
        #expect(fromFlags.plainTextEnabled)
        let fromEnvironment = try ServerConfiguration.load(flags: [], environment: [
            "SLUICE_TLS_PORT": "6391", "SLUICE_TLS_CERT": certs.serverCertificate,
            "SLUICE_TLS_KEY": certs.serverKey, "SLUICE_TLS_CA_CERT": certs.caCertificate,
            "SLUICE_TLS_AUTH_CLIENTS": "optional",
        ])
        #expect(fromEnvironment.tlsPort == 6391)
        #expect(fromEnvironment.tlsAuthClients == .optional)
        #expect(fromEnvironment.tlsCACertificatePath == certs.caCertificate)
        let redisNames = try ServerConfiguration.load(flags: [
            "--tls-port", "6392", "--tls-cert-file", certs.serverCertificate,
            "--tls-key-file", certs.serverKey, "--tls-ca-cert-file", certs.caCertificate,
            "--tls-auth-clients", "yes",
        ], environment: [:])
        #expect(redisNames.tlsAuthClients == .yes)
        #expect(redisNames.tlsCACertificatePath == certs.caCertificate)
    }

    @Test("port 0 next to tls-port serves TLS only; port 0 alone still picks a free port")
    func tlsOnlyFromPortZero() async throws {
        let certs = try await TestCertificates.made()
        #expect(try ServerConfiguration.load(flags: ["--port", "0"] + valid(certs), environment: [:]).plainTextEnabled == false)
        #expect(try ServerConfiguration.load(flags: ["--port", "0"], environment: [:]).plainTextEnabled == true)
        #expect(try ServerConfiguration.load(flags: ["--port", "0", "--tls-port", "0"], environment: [:]).plainTextEnabled == true)
    }

    @Test("inconsistent TLS options are refused, naming the option")
    func inconsistent() async throws {
        let certs = try await TestCertificates.made()
        let cert = certs.serverCertificate
        let key = certs.serverKey
        let ca = certs.caCertificate
        #expect(loadError(["--tls-port", "6390"]) == "tls-port needs tls-cert and tls-key (PEM files)")
        #expect(loadError(["--tls-port", "6390", "--tls-cert", cert]) == "tls-port needs tls-cert and tls-key (PEM files)")
        #expect(loadError(["--tls-cert", cert, "--tls-key", key])
            == "tls-cert is set but tls-port is not: set tls-port to serve TLS")
        #expect(loadError(valid(certs) + ["--port", "6390"])
            == "tls-port 6390 is the same as port: give TLS its own port, or port 0 for TLS only")
        #expect(loadError(valid(certs) + ["--metrics-port", "6390"]) == "tls-port 6390 is the same as metrics-port")
        #expect(loadError(valid(certs) + ["--tls-auth-clients", "yes"])
            == "tls-auth-clients yes needs tls-ca-cert, the CA that signs client certificates")
        #expect(loadError(valid(certs) + ["--tls-ca-cert", ca])
            == "tls-ca-cert is only used to check client certificates: set tls-auth-clients yes or optional")
        #expect(loadError(valid(certs) + ["--tls-auth-clients", "maybe"])
            == "invalid tls-auth-clients 'maybe' (flag --tls-auth-clients): argument(s) must be one of the following: no, yes, optional")
        #expect(loadError(["--tls-port", "70000"])
            == "invalid tls-port '70000' (flag --tls-port): argument must be between 0 and 65535 inclusive")
    }

    @Test("unreadable or invalid PEM files and a key that is not the certificate's are refused, naming the option and file")
    func badFiles() async throws {
        let certs = try await TestCertificates.made()
        let cert = certs.serverCertificate
        let key = certs.serverKey
        let missing = certs.path("missing.pem")
        #expect(loadError(["--tls-port", "6390", "--tls-cert", missing, "--tls-key", key])
            == "invalid tls-cert '\(missing)': cannot read it: No such file or directory")
        #expect(loadError(["--tls-port", "6390", "--tls-cert", cert, "--tls-key", missing])
            == "invalid tls-key '\(missing)': cannot read it: No such file or directory")
        #expect(loadError(["--tls-port", "6390", "--tls-cert", certs.directory, "--tls-key", key])
            == "invalid tls-cert '\(certs.directory)': cannot read it: Is a directory")
        // A key where the certificate belongs, and the other way round.
        #expect(loadError(["--tls-port", "6390", "--tls-cert", key, "--tls-key", key])
            == "invalid tls-cert '\(key)': no PEM certificate in the file")
        #expect(loadError(["--tls-port", "6390", "--tls-cert", cert, "--tls-key", cert])
            == "invalid tls-key '\(cert)': no unencrypted PEM private key in the file")
        let other = certs.path("other.key")
        #expect(loadError(["--tls-port", "6390", "--tls-cert", cert, "--tls-key", other])
            == "tls-key '\(other)' does not match the certificate in tls-cert '\(cert)'")
        #expect(loadError(valid(certs) + ["--tls-auth-clients", "yes", "--tls-ca-cert", key])
            == "invalid tls-ca-cert '\(key)': no PEM certificate in the file")
    }
}
