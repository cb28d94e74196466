import NIOCore
import RESP
import SluiceRedisBackend

/// One event loop's backend requests on their way to Redis and back.
///
/// Requests made while the loop handles one tick's reads are gathered and submitted
/// together to the loop's backend connection when the tick's reads are done: one lock
/// and at most one wake-up of the connection's thread per tick, instead of per request.
/// Each batch's replies come back in one task on the loop, which fills the client
/// connections' reply slots, counts the answers under one lock and flushes each client
/// once.
final class BackendPipeline: @unchecked Sendable {
    // @unchecked: after init, everything is touched only on `eventLoop`.
    private weak var mode: BackendMode?
    private let backend: RedisBackend
    private let eventLoop: any EventLoop
    /// The pool connection this loop sends on.
    private let connection: Int
    /// The commands gathered this tick, and whose replies they are.
    private var commands: [BackendCommand] = []
    private var targets: [Target] = []

    /// Where a reply goes: a connection's reply slot.
    struct Target {
        let handler: ConnectionHandler
        let context: ChannelHandlerContext
        let slot: UInt64
    }

    init(mode: BackendMode, eventLoop: any EventLoop, connection: Int) {
        self.mode = mode
        self.backend = mode.backend
        self.eventLoop = eventLoop
        self.connection = connection
    }

    /// Queues `deferred` for the end of this tick; its answer fills `slot` of `handler`.
    func stage(_ deferred: DeferredReply, slot: UInt64, handler: ConnectionHandler, context: ChannelHandlerContext) {
        if commands.isEmpty {
            // Runs after the tick's I/O events, so every read of this tick is gathered.
            eventLoop.assumeIsolated().execute { self.flush() }
        }
        commands.append(deferred.command)
        targets.append(Target(handler: handler, context: context, slot: slot))
        // A tick of many pipelining clients goes out in parts, so Redis starts sooner.
        if commands.count >= Self.maximumBatch { flush() }
    }

    /// Most commands submitted as one batch.
    static let maximumBatch = 128

    private func flush() {
        guard !commands.isEmpty else { return }
        let batch = commands
        let targets = NIOLoopBound((self, self.targets), eventLoop: eventLoop)
        commands = []
        self.targets = []
        backend.submit(batch, connection: connection) { results in
            targets.eventLoop.execute {
                let (pipeline, targets) = targets.value
                pipeline.deliver(targets, results)
            }
        }
    }

    private func deliver(_ targets: [Target], _ results: [Result<RESPValue, BackendError>]) {
        guard let mode else { return }
        var tally = BackendTally()
        for index in targets.indices {
            let target = targets[index]
            target.handler.backendAnswered(target.slot, results[index], mode: mode, tally: &tally, context: target.context)
            // A client's replies are next to each other in a batch: write them out together.
            if index == targets.count - 1 || targets[index + 1].handler !== target.handler {
                target.handler.writeReadyReplies(context: target.context)
            }
        }
        mode.record(tally)
    }
}
