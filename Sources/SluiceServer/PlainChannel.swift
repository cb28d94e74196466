import CEpoll
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A connected plain-text socket on a `PlainEventLoop`, as a NIO `Channel`, so that
/// `ConnectionHandler` and the server's shutdown drive it as they drive NIO's channels.
/// Reads once per ready event into the loop's shared buffer; writes go out with `send`,
/// and what the socket does not take waits for `EPOLLOUT`. Only what Sluice uses is
/// supported: writes of `ByteBuffer`s, closing both directions, and the write-buffer
/// water mark that reports an unread output past the limit.
final class PlainChannel: Channel, ChannelCore, @unchecked Sendable {
    // @unchecked: after init, everything but the atomics is touched only on `loop`.

    let descriptor: CInt
    private let loop: PlainEventLoop
    private var _pipeline: ChannelPipeline!
    private let closePromise: EventLoopPromise<Void>
    private let local: SocketAddress?
    private let remote: SocketAddress?
    private let waterMark: ChannelOptions.Types.WriteBufferWaterMark
    private let active = Atomic<Bool>(false)
    private let writable = Atomic<Bool>(true)
    private var open = true
    /// Writes the socket has not taken yet, oldest first, and their bytes.
    private var pending = CircularBuffer<(buffer: ByteBuffer, promise: EventLoopPromise<Void>?)>()
    private var pendingBytes = 0
    private var watchingWritable = false
    /// The connection's handler and its context, which take each read straight from the
    /// channel rather than through the pipeline (about 250 instructions and four
    /// reference-count pairs fewer per read). Set by the handler (`attach`); the pipeline
    /// of a plain-text connection holds no other handler. Unretained: the pipeline keeps
    /// both while the channel is open, and retaining them per read cost two more pairs.
    private var reader: (handler: Unmanaged<ConnectionHandler>, context: Unmanaged<ChannelHandlerContext>)?

    /// Takes over `descriptor`, a connected socket, which it makes non-blocking and closes
    /// when the channel closes. Call on `loop`, then `activate`.
    init(descriptor: CInt, loop: PlainEventLoop, waterMark: ChannelOptions.Types.WriteBufferWaterMark) {
        self.descriptor = descriptor
        self.loop = loop
        self.waterMark = waterMark
        self.closePromise = loop.makePromise()
        self.local = socketAddress(of: descriptor, getsockname)
        self.remote = socketAddress(of: descriptor, getpeername)
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var one: CInt = 1
        _ = setsockopt(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        self._pipeline = ChannelPipeline(channel: self)
    }

    /// Starts reading and tells the pipeline the channel is registered and active; closes
    /// the channel if the loop cannot watch it.
    func activate() {
        guard loop.register(self) else {
            close0(error: IOError(errnoCode: errno, reason: "epoll_ctl"), mode: .all, promise: nil)
            return
        }
        active.store(true, ordering: .relaxed)
        pipeline.syncOperations.fireChannelRegistered()
        pipeline.syncOperations.fireChannelActive()
    }

    /// Hands reads to `handler` directly from now on.
    func attach(_ handler: ConnectionHandler, context: ChannelHandlerContext) {
        reader = (.passUnretained(handler), .passUnretained(context))
    }

    /// The loop's report for this channel's descriptor.
    func ready(_ events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 && open { writePending() }
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && open { readable() }
    }

    private func readable() {
        // Fresh storage only if a handler kept the last read's.
        loop.readBuffer.clear()
        var error: CInt = 0
        let count = loop.readBuffer.writeInPlace(minimumWritableBytes: PlainEventLoop.readSize) { raw in
            let count = Glibc.read(descriptor, raw.baseAddress, min(raw.count, PlainEventLoop.readSize))
            if count < 0 { error = errno }
            return max(count, 0)
        }
        if count > 0 {
            if let (handler, context) = reader {
                handler._withUnsafeGuaranteedRef { handler in
                    context._withUnsafeGuaranteedRef { context in
                        handler.read(loop.readBuffer, context: context)
                        if open { handler.channelReadComplete(context: context) }
                    }
                }
            } else {
                pipeline.syncOperations.fireChannelRead(NIOAny(loop.readBuffer))
                if open { pipeline.syncOperations.fireChannelReadComplete() }
            }
            return
        }
        if error == 0 {
            // The peer closed its side; Sluice has nothing to say to a half-closed connection.
            close0(error: ChannelError.eof, mode: .all, promise: nil)
        } else if error != EAGAIN && error != EWOULDBLOCK && error != EINTR {
            let failure = IOError(errnoCode: error, reason: "read")
            pipeline.syncOperations.fireErrorCaught(failure)
            close0(error: failure, mode: .all, promise: nil)
        }
    }

    /// Sends the pending writes, oldest first, until the socket is full.
    private func writePending() {
        while var first = pending.first {
            if first.buffer.readableBytes > 0 {
                let sent = first.buffer.withUnsafeReadableBytes {
                    send(descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL))
                }
                if sent < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    close0(error: IOError(errnoCode: errno, reason: "send"), mode: .all, promise: nil)
                    return
                }
                first.buffer.moveReaderIndex(forwardBy: sent)
                pendingBytes -= sent
                if first.buffer.readableBytes > 0 {
                    pending[pending.startIndex] = first
                    break
                }
            }
            pending.removeFirst()
            first.promise?.succeed(())
        }
        // A completed write's callback may have closed the channel.
        guard open else { return }
        let waiting = !pending.isEmpty
        if waiting != watchingWritable {
            watchingWritable = waiting
            loop.watchWritable(self, waiting)
        }
        if pendingBytes < waterMark.low && !writable.load(ordering: .relaxed) {
            writable.store(true, ordering: .relaxed)
            pipeline.syncOperations.fireChannelWritabilityChanged()
        }
    }

    // MARK: Channel

    var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }
    var pipeline: ChannelPipeline { _pipeline }
    var localAddress: SocketAddress? { local }
    var remoteAddress: SocketAddress? { remote }
    var parent: Channel? { nil }
    var isWritable: Bool { writable.load(ordering: .relaxed) }
    var isActive: Bool { active.load(ordering: .relaxed) }
    var _channelCore: ChannelCore { self }
    var eventLoop: EventLoop { loop }

    func setOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> EventLoopFuture<Void> {
        loop.makeFailedFuture(ChannelError.operationUnsupported)
    }

    func getOption<Option: ChannelOption>(_ option: Option) -> EventLoopFuture<Option.Value> {
        loop.makeFailedFuture(ChannelError.operationUnsupported)
    }

    // MARK: ChannelCore

    func localAddress0() throws -> SocketAddress {
        guard let local else { throw ChannelError.ioOnClosedChannel }
        return local
    }

    func remoteAddress0() throws -> SocketAddress {
        guard let remote else { throw ChannelError.ioOnClosedChannel }
        return remote
    }

    func register0(promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func registerAlreadyConfigured0(promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func bind0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func connect0(to: SocketAddress, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func write0(_ data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard open else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let buffer = unwrapData(data, as: ByteBuffer.self)
        pending.append((buffer, promise))
        pendingBytes += buffer.readableBytes
        if pendingBytes > waterMark.high && writable.load(ordering: .relaxed) {
            writable.store(false, ordering: .relaxed)
            pipeline.syncOperations.fireChannelWritabilityChanged()
        }
    }

    func flush0() {
        if open && !watchingWritable { writePending() }
    }

    func read0() {
        // Always reading: the loop reads whenever the socket is readable.
    }

    func close0(error: Error, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        guard open else {
            promise?.fail(ChannelError.alreadyClosed)
            return
        }
        open = false
        let wasActive = active.exchange(false, ordering: .relaxed)
        loop.unregister(self)
        Glibc.close(descriptor)
        let failed = pending
        pending.removeAll()
        pendingBytes = 0
        for write in failed { write.promise?.fail(error) }
        promise?.succeed(())
        if wasActive {
            pipeline.syncOperations.fireChannelInactive()
            pipeline.syncOperations.fireChannelUnregistered()
        }
        reader = nil
        // Later, as NIO's channels do: the caller may still be walking the pipeline.
        loop.execute {
            self.removeHandlers(pipeline: self.pipeline)
            self.closePromise.succeed(())
        }
    }

    func triggerUserOutboundEvent0(_ event: Any, promise: EventLoopPromise<Void>?) {
        promise?.fail(ChannelError.operationUnsupported)
    }

    func channelRead0(_ data: NIOAny) {
        // Nothing past the handler wants reads.
    }

    func errorCaught0(error: Error) {
        // The handler closes the connection on errors; nothing past it listens.
    }
}

/// A socket's own address (`getsockname`) or its peer's (`getpeername`); nil, with errno
/// set, if the call fails.
func socketAddress(
    of descriptor: CInt, _ call: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
) -> SocketAddress? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let result = withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, &length) }
    }
    guard result == 0 else { return nil }
    let family = CInt(storage.ss_family)
    return withUnsafePointer(to: &storage) { pointer in
        switch family {
        case AF_INET: pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) }
        case AF_INET6: pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) }
        default: nil
        }
    }
}
