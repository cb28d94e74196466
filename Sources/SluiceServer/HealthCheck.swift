import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `sluice-server --health-check`: connects to the configured port (the TLS port when
/// the plain one is off), authenticates if a password is set, sends `PING` and expects
/// `+PONG`. It runs alone in its own short-lived process (a container's HEALTHCHECK),
/// not in the server: plain blocking sockets, or a one-thread NIO client for TLS.
public enum HealthCheck {
    /// nil when the server answered PONG, else why not.
    public static func run(_ configuration: ServerConfiguration, timeoutSeconds: Int = 3) async -> String? {
        // A wildcard bind is reached through loopback.
        let host = switch configuration.host {
        case "0.0.0.0", "*": "127.0.0.1"
        case "::": "::1"
        default: configuration.host
        }
        let (request, expected) = exchange(configuration)
        guard configuration.plainTextEnabled else {
            return await runTLS(configuration, host: host, request: request, expected: expected, timeoutSeconds: timeoutSeconds)
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(configuration.port), &hints, &found) == 0, let address = found else {
            return "cannot resolve \(host)"
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return "socket() failed" }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            return "cannot connect to \(host):\(configuration.port): \(String(cString: strerror(errno)))"
        }
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            return "send() failed"
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while reply.count < expected.utf8.count {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            reply += chunk[0..<count]
        }
        return verdict(reply, expected: expected)
    }

    /// `AUTH` when a password is set, then `PING`, and the replies that mean healthy.
    private static func exchange(_ configuration: ServerConfiguration) -> (request: String, expected: String) {
        var request = ""
        var expected = "+PONG\r\n"
        if let password = configuration.requirePass {
            request += "*2\r\n$4\r\nAUTH\r\n$\(password.utf8.count)\r\n\(password)\r\n"
            expected = "+OK\r\n" + expected
        }
        request += "*1\r\n$4\r\nPING\r\n"
        return (request, expected)
    }

    private static func verdict(_ reply: [UInt8], expected: String) -> String? {
        let text = String(decoding: reply, as: UTF8.self)
        return text == expected ? nil : "unexpected reply: \(text.isEmpty ? "(none)" : text)"
    }

    /// The same exchange over TLS. The server's certificate is not checked: the check
    /// asks whether this server answers, on an address it was told, not who it is (and
    /// `tls-ca-cert` is the CA of client certificates, not of the server's). With
    /// `tls-auth-clients yes` it presents `tls-cert`, as Redis's own client connections
    /// do without `tls-client-cert-file`, so that certificate needs the clientAuth usage.
    private static func runTLS(
        _ configuration: ServerConfiguration, host: String, request: String, expected: String, timeoutSeconds: Int
    ) async -> String? {
        guard let port = configuration.tlsPort else { return "neither port nor tls-port is set" }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .none
        if configuration.tlsAuthClients == .yes, let certificate = configuration.tlsCertificatePath, let key = configuration.tlsKeyPath {
            guard let chain = try? NIOSSLCertificate.fromPEMFile(certificate), let privateKey = try? NIOSSLPrivateKey(file: key, format: .pem) else {
                return "cannot read tls-cert '\(certificate)' or tls-key '\(key)'"
            }
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(privateKey)
        }
        // The process ends right after the check, so the shared group's threads need no shutdown.
        let group = MultiThreadedEventLoopGroup.singleton
        do {
            let context = try NIOSSLContext(configuration: tls)
            let reply = group.next().makePromise(of: [UInt8].self)
            let collector = ReplyCollector(length: expected.utf8.count, reply: reply)
            // A failed connect never reaches the collector; the reply must still be completed.
            defer { collector.timedOut() }
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(Int64(timeoutSeconds)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                        try channel.pipeline.syncOperations.addHandler(collector)
                    }
                }
                .connect(host: host, port: port).get()
            defer { channel.close(promise: nil) }
            let timeout = channel.eventLoop.scheduleTask(in: .seconds(Int64(timeoutSeconds))) {
                collector.timedOut()
            }
            defer { timeout.cancel() }
            try await channel.writeAndFlush(channel.allocator.buffer(string: request)).get()
            return verdict(try await reply.futureResult.get(), expected: expected)
        } catch is HealthCheckTimeout {
            return "no reply from \(host):\(port) (TLS) within \(timeoutSeconds) s"
        } catch {
            return "TLS to \(host):\(port) failed: \(error)"
        }
    }
}

private struct HealthCheckTimeout: Error {}

/// Gathers the reply bytes until the expected length arrived, the connection ended or
/// the time ran out; whichever comes first completes the reply, once.
private final class ReplyCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let length: Int
    private let reply: EventLoopPromise<[UInt8]>
    private let state = Mutex<(received: [UInt8], done: Bool)>(([], false))

    init(length: Int, reply: EventLoopPromise<[UInt8]>) {
        self.length = length
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        complete { received in
            received.append(contentsOf: chunk.readableBytesView)
            return received.count >= length ? .success(received) : nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete { .success($0) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete { _ in .failure(error) }
        context.close(promise: nil)
    }

    func timedOut() {
        complete { _ in .failure(HealthCheckTimeout()) }
    }

    private func complete(_ outcome: (inout [UInt8]) -> Result<[UInt8], any Error>?) {
        let result = state.withLock { state -> Result<[UInt8], any Error>? in
            guard !state.done, let result = outcome(&state.received) else { return nil }
            state.done = true
            return result
        }
        if let result { reply.completeWith(result) }
    }
}
