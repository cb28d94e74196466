import NIOCore

/// One event loop's connections whose replies wait for the end of the loop's tick.
///
/// Redis writes every client's replies just before its event loop sleeps. Writing each
/// connection's replies as soon as its read is handled instead wakes a client waiting in
/// `epoll_wait` once per connection: on a busy server most of those wake-ups were paid
/// for in the kernel's socket code (`sock_def_readable`), a tenth of the CPU of
/// pipelined commands. The flushes run in one task after the tick's I/O events.
final class TickFlush: @unchecked Sendable {
    // @unchecked: after init, everything is touched only on `eventLoop`.
    private let eventLoop: any EventLoop
    private var waiting: [(handler: ConnectionHandler, context: ChannelHandlerContext)] = []
    private var spare: [(handler: ConnectionHandler, context: ChannelHandlerContext)] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `handler` once this tick's reads are handled.
    func add(_ handler: ConnectionHandler, context: ChannelHandlerContext) {
        if waiting.isEmpty {
            eventLoop.assumeIsolated().execute { self.run() }
        }
        waiting.append((handler, context))
    }

    private func run() {
        // Two arrays take turns, so a tick allocates nothing.
        swap(&waiting, &spare)
        for entry in spare { entry.handler.tickEnded(context: entry.context) }
        spare.removeAll(keepingCapacity: true)
    }
}
