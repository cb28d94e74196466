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
    /// Unretained: retaining a handler and its context on the way in and again on the
    /// way out cost four reference-count pairs per unpipelined request. A handler leaves
    /// the list when its pipeline lets go of it (`remove`), so every entry is alive.
    private var waiting: [Entry?] = []
    private var spare: [Entry?] = []

    private struct Entry {
        let handler: Unmanaged<ConnectionHandler>
        let context: Unmanaged<ChannelHandlerContext>
    }

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `handler` once this tick's reads are handled.
    func add(_ handler: ConnectionHandler, context: ChannelHandlerContext) {
        if waiting.isEmpty {
            eventLoop.assumeIsolated().execute { self.run() }
        }
        waiting.append(Entry(handler: .passUnretained(handler), context: .passUnretained(context)))
    }

    /// Forgets `handler` before its pipeline lets go of it. Pipelines remove handlers in
    /// a task of their own, so this is not expected while `run` goes through the list;
    /// if it happens, the entry is cleared in place and skipped.
    func remove(_ handler: ConnectionHandler) {
        let target = Unmanaged.passUnretained(handler).toOpaque()
        for index in waiting.indices where waiting[index]?.handler.toOpaque() == target { waiting[index] = nil }
        for index in spare.indices where spare[index]?.handler.toOpaque() == target { spare[index] = nil }
    }

    private func run() {
        // Two arrays take turns, so a tick allocates nothing.
        swap(&waiting, &spare)
        var index = 0
        // By index, reading each entry when its turn comes: `remove` may clear a later one.
        while index < spare.count {
            if let entry = spare[index] {
                entry.handler._withUnsafeGuaranteedRef { handler in
                    entry.context._withUnsafeGuaranteedRef { handler.tickEnded(context: $0) }
                }
            }
            index += 1
        }
        spare.removeAll(keepingCapacity: true)
    }
}
