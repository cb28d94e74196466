import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import RESP
import SluiceServer

#if canImport(Glibc)
import Glibc
#endif

/// Throwaway certificates from `scripts/make-test-certificates` (the `openssl` CLI),
/// made once per test process in a temporary directory that is removed at exit.
struct TestCertificates: Sendable {
    let directory: String

    /// Awaited by every TLS test; openssl runs without holding a thread of the
    /// concurrency pool, which the other tests need meanwhile.
    static func made() async throws -> TestCertificates { try await making.value }

    private static let making = Task { try await make(into: temporaryDirectory) }

    private static let temporaryDirectory: String = {
        var template = Array((NSTemporaryDirectory() + "/sluice-tls-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        atexit { try? FileManager.default.removeItem(atPath: TestCertificates.temporaryDirectory) }
        return String(cString: made)
    }()

    private static func make(into directory: String) async throws -> TestCertificates {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/make-test-certificates").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", script, directory]
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            process.terminationHandler = { process in
                if process.terminationStatus == 0 {
                    continuation.resume()
                } else {
                    continuation.resume(throwing: TestFailure("\(script) failed; is openssl installed?"))
                }
            }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        return TestCertificates(directory: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    var caCertificate: String { path("ca.crt") }
    var serverCertificate: String { path("server.crt") }
    var serverKey: String { path("server.key") }

    /// The server's TLS settings, on a free port beside the plain one.
    func configure(_ configuration: inout ServerConfiguration) {
        configuration.tlsPort = 0
        configuration.tlsCertificatePath = serverCertificate
        configuration.tlsKeyPath = serverKey
    }
}

/// A TLS client over NIOSSL, trusting the test CA and checking the server's name (by
/// default its IP address, 127.0.0.1): sends commands, reads raw replies. The initializer
/// returns once the handshake is done, and throws its error if it failed.
final class TLSConnection {
    private let channel: Channel
    private var incoming: AsyncThrowingStream<ByteBuffer, Error>.AsyncIterator
    private var pending = ByteBuffer()
    private let decoder = RESPValueDecoder()

    /// - `hostname`: a name the certificate may match (also sent as SNI); NIOSSL accepts a
    ///   certificate whose SAN names this host or holds the address connected to (127.0.0.1).
    /// - `certificate`: a client certificate and key (file names in `certificates`).
    /// - `trusting`: the CA certificate file the client trusts.
    init(
        port: Int, _ certificates: TestCertificates, hostname: String? = nil,
        certificate: (certificate: String, key: String)? = nil, trusting caFile: String = "ca.crt"
    ) async throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificates.path(caFile)))
        if let certificate {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificates.path(certificate.certificate)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: certificates.path(certificate.key), format: .pem))
        }
        let context = try NIOSSLContext(configuration: tls)
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, Error>.makeStream()
        incoming = stream.makeAsyncIterator()
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let handshake = loop.makePromise(of: Void.self)
        channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: hostname))
                    // A reply that never comes fails the test instead of hanging it. Generous: the
                    // time also runs while the test's task waits for a thread of the pool.
                    try pipeline.addHandler(IdleStateHandler(readTimeout: .seconds(60)))
                    try pipeline.addHandler(ReplyStream(continuation, handshake: handshake))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        do {
            try await handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    deinit {
        channel.close(promise: nil)
    }

    func send(_ text: String) async throws {
        try await write(channel.allocator.buffer(string: text))
    }

    /// A write to a closed channel fails with "I/O on closed channel"; the error that
    /// closed it, if any, ended the stream of replies and is the one worth reporting.
    private func write(_ buffer: ByteBuffer) async throws {
        do {
            try await channel.writeAndFlush(buffer).get()
        } catch {
            while try await receive() {}
            throw error
        }
    }

    /// Reads more bytes; false when the server closed the connection.
    private func receive() async throws -> Bool {
        guard var bytes = try await incoming.next() else { return false }
        pending.writeBuffer(&bytes)
        return true
    }

    /// The raw bytes of the next complete reply.
    func readRaw() async throws -> String {
        while true {
            var copy = pending
            if try decoder.decode(&copy) != nil {
                return pending.readString(length: copy.readerIndex - pending.readerIndex)!
            }
            guard try await receive() else { throw TestFailure("connection closed; unread: \(String(buffer: pending))") }
        }
    }

    /// Sends a command as a RESP array and returns the raw reply.
    func command(_ arguments: String...) async throws -> String {
        var buffer = channel.allocator.buffer(capacity: 64)
        buffer.writeRESPCommand(arguments.map { Array($0.utf8) })
        try await write(buffer)
        return try await readRaw()
    }

    /// True once the server has closed the connection (after any unread bytes).
    func isClosedByPeer() async throws -> Bool {
        while try await receive() {}
        return true
    }

    /// Bytes received and not read as replies, once the server has closed the connection.
    func unreadBytesAtClose() async throws -> Int {
        while try await receive() {}
        return pending.readableBytes
    }
}

/// Reports the handshake's outcome and hands the decrypted bytes to the test's task;
/// errors end the stream.
private final class ReplyStream: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let continuation: AsyncThrowingStream<ByteBuffer, Error>.Continuation
    private var handshake: EventLoopPromise<Void>?

    init(_ continuation: AsyncThrowingStream<ByteBuffer, Error>.Continuation, handshake: EventLoopPromise<Void>) {
        self.continuation = continuation
        self.handshake = handshake
    }

    private func handshakeEnded(_ result: Result<Void, Error>) {
        handshake?.completeWith(result)
        handshake = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeEnded(.failure(TestFailure("closed during the TLS handshake")))
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        handshakeEnded(.failure(error))
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshakeEnded(.success(()))
        }
        if event is IdleStateHandler.IdleStateEvent {
            handshakeEnded(.failure(TestFailure("no handshake within 60 s")))
            continuation.finish(throwing: TestFailure("no reply within 60 s"))
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
