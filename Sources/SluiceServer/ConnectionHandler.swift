import NIOCore
import RESP

/// One connection: decodes requests as bytes arrive, runs each complete command in
/// order, and writes all replies of one read burst with a single flush.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let dispatcher: Dispatcher
    private var decoder: RESPRequestDecoder
    private var client: Client?
    /// Bytes received but not yet decoded.
    private var inbound: ByteBuffer?
    /// Replies waiting for the flush at the end of the read burst.
    private var outbound: ByteBuffer?
    private var closing = false

    /// Consumed bytes are discarded from the inbound buffer once this many pile up.
    static let compactionThreshold = 64 * 1024

    init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
        self.decoder = RESPRequestDecoder(limits: dispatcher.context.configuration.limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        let remote = context.channel.remoteAddress.map(Self.describe) ?? "?"
        let local = context.channel.localAddress.map(Self.describe) ?? "?"
        client = dispatcher.connect(address: remote, localAddress: local)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let client {
            dispatcher.disconnect(client)
            self.client = nil
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, let client else { return }
        var incoming = unwrapInboundIn(data)
        if inbound == nil {
            inbound = incoming
        } else {
            inbound!.writeBuffer(&incoming)
        }
        var out = outbound ?? context.channel.allocator.buffer(capacity: 256)
        defer { outbound = out }
        while !closing {
            let arguments: [[UInt8]]?
            do {
                arguments = try decoder.decode(&inbound!)
            } catch {
                out.writeRESPValue(.error("ERR Protocol error: \(error.message)"), version: client.protocolVersion)
                closing = true
                break
            }
            guard let arguments else { break }
            let reply = dispatcher.execute(arguments, client: client)
            out.writeRESPValue(reply, version: client.protocolVersion)
            if client.closeAfterReply { closing = true }
        }
        if inbound!.readableBytes == 0 {
            inbound = nil
        } else if inbound!.readerIndex >= Self.compactionThreshold {
            inbound!.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let out = outbound, out.readableBytes > 0 {
            outbound = nil
            if closing {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else if closing {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset or broken pipe ends only this connection.
        context.close(promise: nil)
    }

    private static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4, .v6:
            return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        case .unixDomainSocket:
            return address.pathname ?? "unix"
        }
    }
}
