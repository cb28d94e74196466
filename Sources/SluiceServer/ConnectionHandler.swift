import NIOCore
import RESP
import SluiceRedisBackend

#if canImport(Glibc)
import Glibc
#endif

/// One connection: decodes requests as bytes arrive, runs each complete command in
/// order, and writes the replies of one event-loop tick with a single flush at the
/// tick's end (`TickFlush`).
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let dispatcher: Dispatcher
    /// Used in place. Taken out and stored back, it cost 62 instructions per read: the
    /// store destroyed the nil left behind through its type's value witnesses.
    private var decoder: RESPRequestDecoder
    /// Decoded words: each read burst's complete commands, then any command still
    /// arriving. Optional only so that `run` can take it out and put it back without
    /// copying it (a copy of a struct holding arrays retains each of them, twice per read).
    private var commands: RESPCommands? = RESPCommands()
    private var client: Client?
    /// Bytes received but not yet decoded.
    private var inbound: ByteBuffer?
    /// Replies waiting for the flush at the end of the tick.
    private var outbound: ByteBuffer?
    /// The last flushed buffer, reused for the next replies once the channel has written
    /// it (until then, clearing it gives new storage): a buffer per read cost two
    /// allocations per request at `-P 1`.
    private var spare: ByteBuffer?
    private var closing = false
    /// Set while the client waits in a blocking command: input is kept but not run.
    private var parkedToken: UInt64?
    /// Where to resume in `commands` once the parked command is answered.
    private var parkedNext = 0
    private var parkTimeout: Scheduled<Void>?
    /// Malformed input that followed a parked command: reported after the commands before it.
    private var parkedProtocolError: RESPProtocolError?
    private var idleCheck: RepeatedTask?
    /// Backend mode: replies held in request order behind ones Redis has yet to give.
    private var replyQueue = ReplyQueue()
    /// Fires at the earliest deadline of an awaited backend reply.
    private var replyTimer: Scheduled<Void>?
    /// Set when the server shuts down: the connection closes once it is done (`Drain`).
    private var draining = false
    private var drainCheck: Scheduled<Void>?
    /// Backend mode: this event loop's way to Redis, set on the first backend command.
    private var backendPipeline: BackendPipeline?
    /// Backend mode: `deferredStarter`'s closure, once made.
    private var deferredStart: ((DeferredReply) -> Bool)?
    /// This event loop's end-of-tick flush, and whether this connection is in it.
    /// Unretained: `dispatcher.tickFlushes` keeps it for as long as the server runs.
    private var tickFlush: Unmanaged<TickFlush>?
    private var flushQueued = false
    /// The socket, for a plain-text connection while its channel is open (-1 otherwise):
    /// replies are sent on it directly, which took a quarter of a `-P 1` `GET`'s
    /// instructions off the channel's write path (callgrind, 10,161 to 7,452).
    private var descriptor: CInt
    /// Writes handed to the channel and not yet done: while there are any, later replies
    /// go the same way, behind them.
    private var channelWrites = 0

    /// Backend replies one connection may await; past it, its later commands wait (as a
    /// parked client's do) until half have arrived, so a pipelining client cannot queue
    /// requests without bound.
    static let maxAwaitedReplies = 1024

    /// Consumed bytes are discarded from the inbound buffer once this many pile up.
    static let compactionThreshold = 64 * 1024

    /// Buffers up to this size are kept as they are (`kept`).
    static let keptCopyLimit = 4 * 1024

    /// `descriptor`: the connection's socket when nothing stands between it and this
    /// handler (no TLS); its channel still owns it.
    init(dispatcher: Dispatcher, descriptor: CInt? = nil) {
        self.dispatcher = dispatcher
        self.descriptor = descriptor ?? -1
        self.decoder = RESPRequestDecoder(limits: dispatcher.context.configuration.limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        let remote = context.channel.remoteAddress.map(Self.describe) ?? "?"
        let local = context.channel.localAddress.map(Self.describe) ?? "?"
        // A parked client's reply may come from a command on another event loop.
        let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        client = dispatcher.connect(address: remote, localAddress: local) { reply in
            handler.eventLoop.execute {
                let (handler, context) = handler.value
                handler.resume(reply, context: context)
            }
        }
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
        // Closed: the number may soon belong to another connection.
        descriptor = -1
        deferredStart = nil
        parkTimeout?.cancel()
        parkTimeout = nil
        idleCheck?.cancel()
        replyTimer?.cancel()
        replyTimer = nil
        drainCheck?.cancel()
        drainCheck = nil
        if let client {
            dispatcher.disconnect(client)
            self.client = nil
        }
        context.fireChannelInactive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        (context.channel as? PlainChannel)?.attach(self, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The end-of-tick flush holds it unretained.
        if flushQueued {
            tickFlush?._withUnsafeGuaranteedRef { $0.remove(self) }
            flushQueued = false
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read(unwrapInboundIn(data), context: context)
    }

    /// A read's bytes; a `PlainChannel` calls this directly.
    func read(_ bytes: consuming ByteBuffer, context: ChannelHandlerContext) {
        guard !closing, let client else { return }
        // Work on locals and store them back once: every access to a stored property of a
        // class costs a dynamic exclusivity check, and this loop runs per command.
        var incoming = consume bytes
        let pending = Self.joined(&inbound, &incoming)
        // A parked client's input waits, as Redis leaves it in the query buffer.
        if parkedToken != nil {
            guard !dispatcher.queryBufferExceeded(pending: pending.readableBytes, partial: commands ?? RESPCommands()) else {
                context.close(promise: nil)
                return
            }
            inbound = Self.kept(pending, allocator: context.channel.allocator)
            return
        }
        run(consume pending, context: context, client: client)
    }

    /// Bytes to keep for a later read, copied to a buffer of their own when the one they
    /// are in is mostly something else (the event loop's 64 KiB read buffer, say, for the
    /// start of a command), so that an idle connection does not hold the whole of it and
    /// the loop reuses it. A buffer they fill at least a quarter of is kept as it is: one
    /// that grows as a long command arrives is never copied again and again.
    static func kept(_ pending: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard pending.capacity > Self.keptCopyLimit, pending.readableBytes * 4 < pending.capacity else { return pending }
        var copy = allocator.buffer(capacity: pending.readableBytes)
        copy.writeImmutableBuffer(pending)
        return copy
    }

    /// `incoming` after the bytes kept from earlier reads, which `kept` gives up. Taken
    /// out before appending: while `kept` still held them, every read copied all of them,
    /// and a 32 MiB argument took seconds to arrive.
    static func joined(_ kept: inout ByteBuffer?, _ incoming: inout ByteBuffer) -> ByteBuffer {
        guard var buffered = kept.take() else { return incoming }
        buffered.writeBuffer(&incoming)
        return buffered
    }

    /// Decodes the complete commands in `pending` and runs them (after any a parked
    /// command held back), keeping the replies for the next flush.
    /// `pending` is taken, not copied: a copy retained and released the read's storage.
    private func run(_ pending: consuming ByteBuffer, context: ChannelHandlerContext, client: Client) {
        var out = outbound.take() ?? reusedBuffer(context: context)
        var batch = self.commands.take()!
        // Decode every complete command first, then run them all under one lock.
        var protocolError = parkedProtocolError
        parkedProtocolError = nil
        while protocolError == nil {
            do {
                guard try self.decoder.decode(&pending, into: &batch) else { break }
            } catch {
                protocolError = error
                break
            }
        }
        let start = parkedNext
        parkedNext = 0
        var parked: ParkedBatch?
        var outputOverflow = false
        if batch.count > start {
            let outputLimit = dispatcher.outputBurstLimit
            let deferred = dispatcher.context.backend == nil ? nil : deferredStarter(context: context)
            parked = dispatcher.execute(&batch, from: start, client: client, now: dispatcher.now(), deferred: deferred) { reply, version in
                // Once a reply is awaited, later replies queue behind it.
                if !self.replyQueue.isEmpty {
                    self.replyQueue.append(reply.value(version), version: version, allocator: context.channel.allocator)
                    return
                }
                guard out.readableBytes < outputLimit else {
                    outputOverflow = true
                    return
                }
                reply.write(into: &out, version)
            }
        }
        if let parked {
            // The commands after the parked one stay in `batch`, to run after its reply.
            park(parked, context: context, client: client)
            parkedProtocolError = protocolError
            protocolError = nil
        } else {
            batch.removeCompleted()
        }
        if outputOverflow { out.clear() }
        var closing = client.closeAfterReply || outputOverflow
        if let protocolError, !closing {
            let reply = RESPValue.error("ERR Protocol error: \(protocolError.message)")
            if replyQueue.isEmpty {
                out.writeRESPValue(reply, version: client.protocolVersion)
            } else {
                replyQueue.append(reply, version: client.protocolVersion, allocator: context.channel.allocator)
            }
            closing = true
        }
        if parked == nil && dispatcher.queryBufferExceeded(pending: pending.readableBytes, partial: batch) { closing = true }
        self.commands = consume batch
        self.closing = closing
        outbound = consume out
        if pending.readableBytes > 0 {
            if pending.readerIndex >= Self.compactionThreshold { pending.discardReadBytes() }
            inbound = Self.kept(pending, allocator: context.channel.allocator)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !flushQueued {
            flushQueued = true
            let tickFlush = self.tickFlush
                ?? .passUnretained(dispatcher.tickFlushes.value(for: context.eventLoop) { loop, _ in TickFlush(eventLoop: loop) })
            self.tickFlush = tickFlush
            tickFlush._withUnsafeGuaranteedRef { $0.add(self, context: context) }
        }
    }

    /// The end of the event loop's tick (`TickFlush`): writes this tick's replies.
    func tickEnded(context: ChannelHandlerContext) {
        flushQueued = false
        flush(context: context)
        if draining { scheduleDrainCheck(context: context) }
    }

    /// The spare buffer emptied, or a new one.
    private func reusedBuffer(context: ChannelHandlerContext) -> ByteBuffer {
        guard var buffer = spare else { return context.channel.allocator.buffer(capacity: 256) }
        spare = nil
        buffer.clear()
        return buffer
    }

    /// Largest flushed buffer kept as `spare`: a connection that once got a huge reply
    /// does not hold on to its memory.
    static let spareCapacity = 64 * 1024

    /// Writes the replies kept since the last flush with one syscall, closing afterwards
    /// if asked (once no backend reply is awaited).
    private func flush(context: ChannelHandlerContext) {
        if var out = outbound, out.readableBytes > 0 {
            outbound = nil
            if closing && replyQueue.isEmpty {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            if descriptor >= 0 && channelWrites == 0 {
                guard Self.send(&out, on: descriptor) else {
                    context.close(promise: nil)
                    return
                }
                if out.readableBytes == 0 {
                    if out.capacity <= Self.spareCapacity { spare = out }
                    return
                }
            }
            // What the socket did not take, replies behind earlier ones still in the
            // channel, or a connection without a descriptor.
            if descriptor >= 0 {
                channelWrites += 1
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.assumeIsolated().whenComplete { _ in self.channelWrites -= 1 }
                context.writeAndFlush(wrapOutboundOut(out), promise: written)
            } else {
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
            if out.capacity <= Self.spareCapacity { spare = out }
        } else if closing && replyQueue.isEmpty {
            context.close(promise: nil)
        }
    }

    /// Sends as much of `out` as the socket takes now, moving its reader index past it;
    /// false when the connection is broken (reset, or closed by the peer).
    static func send(_ out: inout ByteBuffer, on descriptor: CInt) -> Bool {
        let sent = out.withUnsafeReadableBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
        if sent >= 0 {
            out.moveReaderIndex(forwardBy: sent)
            return true
        }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
    }

    // MARK: Backend replies

    /// What the dispatcher calls for a command whose reply comes from the backend:
    /// reserves its place in the reply order and hands it to the event loop's pipeline;
    /// false asks it to stop for this burst. Made once per connection (a closure is a
    /// heap allocation); the cycle it makes with the handler ends in `channelInactive`.
    private func deferredStarter(context: ChannelHandlerContext) -> (DeferredReply) -> Bool {
        if let deferredStart { return deferredStart }
        let start: (DeferredReply) -> Bool = { reply in
            self.startDeferred(reply, context: context)
            return self.replyQueue.waiting < Self.maxAwaitedReplies
        }
        deferredStart = start
        return start
    }

    private func startDeferred(_ reply: DeferredReply, context: ChannelHandlerContext) {
        let timeout = TimeAmount.milliseconds(Int64(dispatcher.context.configuration.backendTimeoutMilliseconds))
        let deadline = NIODeadline.now() + timeout
        let id = replyQueue.reserve(reply, deadline: deadline)
        if replyTimer == nil { scheduleReplyTimer(at: deadline, context: context) }
        let pipeline = backendPipeline ?? dispatcher.context.backend!.pipeline(for: context.eventLoop)
        backendPipeline = pipeline
        pipeline.stage(reply, slot: id, handler: self, context: context)
    }

    /// Redis's answer for slot `id` (BackendPipeline), unless the timeout answered first.
    func backendAnswered(
        _ id: UInt64, _ result: Result<RESPValue, BackendError>, mode: BackendMode, tally: inout BackendTally,
        context: ChannelHandlerContext
    ) {
        var out = outbound.take() ?? reusedBuffer(context: context)
        _ = replyQueue.fill(id, into: &out, allocator: context.channel.allocator) { mode.reply(result, for: $0, tally: &tally) }
        outbound = consume out
    }

    /// No client waits past the backend timeout, whatever the backend does. The timer
    /// is left running when the queue empties: it then finds nothing to expire and
    /// stops, which costs less than cancelling and scheduling it for every reply.
    private func scheduleReplyTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        replyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.replyTimer = nil
            guard self.client != nil, let mode = self.dispatcher.context.backend else { return }
            var tally = BackendTally()
            let next = self.replyQueue.expire(now: .now(), allocator: context.channel.allocator) {
                mode.timeoutReply(for: $0, tally: &tally)
            }
            mode.record(tally)
            if let next { self.scheduleReplyTimer(at: next, context: context) }
            self.writeReadyReplies(context: context)
        }
    }

    /// Writes the backend replies that are ready, in order; goes on with a burst paused
    /// for too many awaited replies once half have arrived.
    func writeReadyReplies(context: ChannelHandlerContext) {
        guard client != nil else { return }
        var out = outbound.take() ?? reusedBuffer(context: context)
        replyQueue.drain(into: &out)
        outbound = consume out
        if parkedToken == ParkedBatch.backendPause, replyQueue.waiting <= Self.maxAwaitedReplies / 2, let client {
            parkedToken = nil
            let pending = inbound ?? context.channel.allocator.buffer(capacity: 0)
            inbound = nil
            if !closing { run(pending, context: context, client: client) }
        }
        flush(context: context)
    }

    /// The burst parked the client: remember where to resume and start the timer.
    private func park(_ parked: ParkedBatch, context: ChannelHandlerContext, client: Client) {
        parkedToken = parked.token
        parkedNext = parked.next
        guard let timeout = parked.timeout else { return }
        let dispatcher = self.dispatcher
        let token = parked.token
        parkTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            if let reply = dispatcher.timeOut(client, token: token) {
                self.resume(reply, context: context)
            }
        }
    }

    /// A parked command's late reply (served by a push, timed out or unblocked): write
    /// it, then run what the connection sent meanwhile.
    private func resume(_ reply: RESPValue, context: ChannelHandlerContext) {
        guard parkedToken != nil, let client else { return }
        parkedToken = nil
        parkTimeout?.cancel()
        parkTimeout = nil
        var out = outbound.take() ?? reusedBuffer(context: context)
        out.writeRESPValue(reply, version: client.protocolVersion)
        outbound = consume out
        let pending = inbound ?? context.channel.allocator.buffer(capacity: 0)
        inbound = nil
        if !closing { run(pending, context: context, client: client) }
        flush(context: context)
    }

    // MARK: Shutdown

    /// Sent by the server's shutdown to every open connection.
    struct Drain: Sendable {}

    /// How long a draining connection must send nothing before it counts as done: the
    /// server cannot see bytes still in the socket, so a pipeline still arriving shows
    /// up as reads, and a gap this long means the client is waiting for replies.
    static let drainQuietTime = TimeAmount.milliseconds(100)

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Drain else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        draining = true
        scheduleDrainCheck(context: context)
    }

    /// (Re)starts the quiet period: every read burst of a draining connection pushes it back.
    private func scheduleDrainCheck(context: ChannelHandlerContext) {
        drainCheck?.cancel()
        drainCheck = context.eventLoop.assumeIsolated().scheduleTask(in: Self.drainQuietTime) {
            self.drainCheck = nil
            self.closeIfDone(context: context)
        }
    }

    /// After a quiet period: closes once every command received has its reply written
    /// (a client parked in a blocking command is not waited for); otherwise looks again
    /// after another quiet period (a backend reply awaited, a command half received).
    private func closeIfDone(context: ChannelHandlerContext) {
        guard client != nil, !closing else { return }
        let parkedInBlockingCommand = parkedToken != nil && parkedToken != ParkedBatch.backendPause
        guard replyQueue.isEmpty, parkedInBlockingCommand || (parkedToken == nil && inbound == nil && (commands?.heldBytes ?? 0) == 0) else {
            scheduleDrainCheck(context: context)
            return
        }
        closing = true
        // Written after the replies still queued in the channel, so the close waits for them.
        let last = outbound ?? context.channel.allocator.buffer(capacity: 0)
        outbound = nil
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(last)).whenComplete { _ in channel.close(promise: nil) }
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
