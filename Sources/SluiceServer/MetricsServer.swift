import NIOCore
import NIOHTTP1
import NIOPosix

/// Answers Prometheus scrapes: `GET /metrics` with the text exposition format, 404 for
/// any other path, 405 for other methods. A scrape is rare next to commands, so it
/// builds the whole body at once; keep-alive is honoured as NIO's HTTP codec reports it.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let dispatcher: Dispatcher
    private var request: HTTPRequestHead?

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // a scrape has no body; anything sent is ignored
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let status: HTTPResponseStatus
        let body: String
        if head.method != .GET && head.method != .HEAD {
            (status, body) = (.methodNotAllowed, "Only GET is served.\n")
        } else if path == "/metrics" {
            (status, body) = (.ok, dispatcher.metricsExposition())
        } else {
            (status, body) = (.notFound, "Not found; metrics are at /metrics.\n")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: status == .ok ? Self.contentType : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Malformed HTTP ends only this connection.
        context.close(promise: nil)
    }
}

/// The metrics port could not be bound; names it, as the Redis port's error does not.
public struct MetricsListenError: Error, CustomStringConvertible {
    let host: String
    let port: Int
    let underlying: any Error

    public var description: String { "cannot listen for metrics on \(host):\(port): \(underlying)" }
}

extension SluiceServer {
    /// Binds the metrics listener on the server's event loops.
    static func bindMetrics(host: String, port: Int, group: EventLoopGroup, dispatcher: Dispatcher) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(dispatcher: dispatcher))
                }
            }
            .bind(host: host, port: port).get()
    }
}
