import NIOCore
import RESP

/// The per-connection limits: `maxclients`, `timeout`, the query buffer and the output
/// buffer. The connection handler calls these at the few points where they apply.
extension Dispatcher {
    static let maxClientsReply = "-ERR max number of clients reached\r\n"

    /// Closes `channel` once its client has been idle longer than `timeout` (read at
    /// each check, so `CONFIG SET timeout` applies to open connections). Idle time runs
    /// on the server's clock, as `CLIENT LIST`'s `idle=` does; the check runs on the
    /// connection's event loop, where `lastInteraction` is written.
    func scheduleIdleCheck(client: Client, channel: Channel) -> RepeatedTask {
        let interval = TimeAmount.milliseconds(context.configuration.idleCheckIntervalMilliseconds)
        return channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            let timeout = context.settings.idleTimeoutSeconds.load(ordering: .relaxed)
            guard timeout > 0 else { return }
            // A client waiting in a blocking command is not idle (Redis exempts it too);
            // its wait is recorded under the lock.
            guard database.state.withLock({ _ in client.blockedRequest == nil }) else { return }
            // Redis's rule: closed once idle for more than `timeout` whole seconds.
            let idle = (timeSource.now().nanoseconds - client.lastInteraction.nanoseconds) / 1_000_000_000
            if idle > Int64(timeout) { channel.close(promise: nil) }
        }
    }

    /// Whether input held for a command still arriving is past `client-query-buffer-limit`.
    func queryBufferExceeded(pending: Int, partial: RESPCommands) -> Bool {
        pending + partial.heldBytes > context.settings.maxQueryBufferBytes.load(ordering: .relaxed)
    }

    /// Most bytes of replies one read burst may produce before the client is closed
    /// instead of answered: the output limit also bounds a single burst of pipelined
    /// commands, not only what the socket has not taken yet.
    var outputBurstLimit: Int {
        let limit = context.configuration.maxOutputBufferBytes
        return limit > 0 ? limit : Int.max
    }
}
