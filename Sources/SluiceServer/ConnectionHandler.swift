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
    private var idleCheck: RepeatedTask?

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
        if let client {
            idleCheck = dispatcher.scheduleIdleCheck(client: client, channel: context.channel)
        } else {
            closing = true
            let channel = context.channel
            let refusal = channel.allocator.buffer(string: Dispatcher.maxClientsReply)
            context.writeAndFlush(wrapOutboundOut(refusal)).whenComplete { _ in channel.close(promise: nil) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
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
        var outputOverflow = false
        if !batch.isEmpty {
            let outputLimit = dispatcher.outputBurstLimit
            dispatcher.execute(batch, client: client, now: dispatcher.timeSource.now()) { reply in
                guard out.readableBytes < outputLimit else {
                    outputOverflow = true
                    return
                }
                // Read per reply: HELLO switches the protocol, and its own reply uses the new one.
                out.writeRESPValue(reply, version: client.protocolVersion)
            }
        }
        if outputOverflow { out.clear() }
        var closing = client.closeAfterReply || outputOverflow
        if let protocolError, !closing {
            out.writeRESPValue(.error("ERR Protocol error: \(protocolError.message)"), version: client.protocolVersion)
            closing = true
        }
        batch.removeCompleted()
        if dispatcher.queryBufferExceeded(pending: pending.readableBytes, partial: batch) { closing = true }
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

    /// Replies the peer does not read pile up in the channel; past the output limit
    /// (the high water mark the server sets) the client is dropped, as Redis does.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable && dispatcher.context.configuration.maxOutputBufferBytes > 0 {
            closing = true
            context.close(promise: nil)
        }
        context.fireChannelWritabilityChanged()
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
