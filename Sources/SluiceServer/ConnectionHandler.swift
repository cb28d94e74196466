import NIOCore
import RESP

/// One connection: decodes requests as bytes arrive, runs each complete command in
/// order, and writes all replies of one read burst with a single flush.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let dispatcher: Dispatcher
    private var decoder: RESPRequestDecoder
    /// Decoded words: each read burst's complete commands, then any command still arriving.
    private var commands = RESPCommands()
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
        // Work on locals and store them back once: every access to a stored property of a
        // class costs a dynamic exclusivity check, and this loop runs per command.
        var incoming = unwrapInboundIn(data)
        var pending: ByteBuffer
        if var buffered = inbound {
            buffered.writeBuffer(&incoming)
            pending = buffered
        } else {
            pending = incoming
        }
        inbound = nil
        var out = outbound ?? context.channel.allocator.buffer(capacity: 256)
        outbound = nil
        var decoder = self.decoder
        self.decoder = RESPRequestDecoder(limits: decoder.limits)
        var batch = self.commands
        self.commands = RESPCommands()
        // Decode every complete command first, then run them all under one lock.
        var protocolError: RESPProtocolError?
        while true {
            do {
                guard try decoder.decode(&pending, into: &batch) else { break }
            } catch {
                protocolError = error
                break
            }
        }
        if !batch.isEmpty {
            dispatcher.execute(batch, client: client, now: dispatcher.timeSource.now()) { reply in
                // Read per reply: HELLO switches the protocol, and its own reply uses the new one.
                out.writeRESPValue(reply, version: client.protocolVersion)
            }
        }
        var closing = client.closeAfterReply
        if let protocolError, !closing {
            out.writeRESPValue(.error("ERR Protocol error: \(protocolError.message)"), version: client.protocolVersion)
            closing = true
        }
        batch.removeCompleted()
        self.commands = batch
        self.decoder = decoder
        self.closing = closing
        outbound = out
        if pending.readableBytes > 0 {
            if pending.readerIndex >= Self.compactionThreshold { pending.discardReadBytes() }
            inbound = pending
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
