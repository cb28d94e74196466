import RESP
import SluiceCore

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH: Redis transactions with optimistic locking.
///
/// After `MULTI` the dispatcher hands every command except these (and `QUIT`) to
/// `enqueue`; `EXEC` runs the queue inside its own handler, so the database lock held
/// for `EXEC` covers the whole queue and no other connection's command interleaves.
enum TransactionCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("multi", arity: 1, flags: ["noscript", "loading", "stale", "fast", "allow_busy"], group: "transactions",
                    summary: "Starts a transaction.", since: "1.2.0") { invocation, _ throws(CommandError) in
            switch invocation.client.transaction.multi() {
            case .begin: return .ok
            case .alreadyQueuing: throw .err("MULTI calls can not be nested")
            }
        },
        CommandSpec("exec", arity: 1, flags: ["noscript", "loading", "stale", "skip_slowlog"], group: "transactions",
                    summary: "Executes all commands in a transaction.", since: "1.2.0", handler: exec),
        CommandSpec("discard", arity: 1, flags: ["noscript", "loading", "stale", "fast", "allow_busy"], group: "transactions",
                    summary: "Discards a transaction.", since: "2.0.0") { invocation, state throws(CommandError) in
            switch invocation.client.transaction.discard() {
            case .notQueuing:
                throw .err("DISCARD without MULTI")
            case .discarded(let watched):
                release(watched, from: &state.keyspace)
                return .ok
            }
        },
        CommandSpec("watch", arity: -2, flags: ["noscript", "loading", "stale", "fast", "allow_busy"], keys: (1, -1, 1),
                    group: "transactions", summary: "Monitors changes to keys to determine the execution of a transaction.",
                    since: "2.2.0") { invocation, state throws(CommandError) in
            let client = invocation.client
            guard !client.transaction.isQueuing else { throw .err("WATCH inside MULTI is not allowed") }
            // Watching a key twice keeps the first version: a change in between still counts.
            for key in invocation.arguments.rest() where !client.transaction.isWatching(key) {
                client.transaction.watch(key, version: state.keyspace.watch(key, now: invocation.now))
            }
            return .ok
        },
        CommandSpec("unwatch", arity: 1, flags: ["noscript", "loading", "stale", "fast", "allow_busy"], group: "transactions",
                    summary: "Forgets about watched keys of a transaction.", since: "2.2.0") { invocation, state throws(CommandError) in
            release(invocation.client.transaction.takeWatched(), from: &state.keyspace)
            return .ok
        },
    ]

    /// EXEC: EXECABORT when a command was rejected while queuing; nil when a watched key
    /// changed (or expired) since WATCH; otherwise every queued command's reply, errors
    /// included: one failing command does not stop the others.
    private static func exec(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let client = invocation.client
        switch client.transaction.exec() {
        case .notQueuing:
            throw .err("EXEC without MULTI")
        case .abort(let watched):
            release(watched, from: &state.keyspace)
            throw CommandError(.message("EXECABORT Transaction discarded because of previous errors."))
        case .execute(let queue, let watched):
            var changed = false
            for (key, version) in watched where !changed {
                changed = state.keyspace.hasChanged(key, since: version, now: invocation.now)
            }
            release(watched, from: &state.keyspace)
            guard !changed else {
                client.transaction.finishExecution()
                return .nullArray
            }
            // Blocking commands (BLPOP...) answer at once here, as after their timeout.
            let deniedBlocking = client.denyBlocking
            client.denyBlocking = true
            defer { client.denyBlocking = deniedBlocking }
            var replies: [RESPValue] = []
            replies.reserveCapacity(queue.count)
            let table = invocation.server.table
            for command in queue {
                // Every queued command sees EXEC's time, so nothing expires halfway through.
                var queued = Invocation(arguments: command.arguments, now: invocation.now, client: client, server: invocation.server)
                replies.append(Dispatcher.call(table.specs[command.position], at: command.position, &queued, &state))
            }
            client.transaction.finishExecution()
            return .array(replies)
        }
    }

    /// Queues a command after MULTI, or rejects it (and dooms the transaction) when Redis
    /// would refuse it before running: a command not allowed in transactions, an unknown
    /// subcommand or a subcommand's wrong arity.
    static func enqueue(_ spec: CommandSpec, at position: Int, _ invocation: Invocation) throws(CommandError) -> RESPValue {
        do throws(CommandError) {
            if spec.flags.contains("no_multi") { throw .err("Command not allowed inside a transaction") }
            // Redis checks a container's subcommand before queuing; DEBUG is one command there.
            if !spec.subcommands.isEmpty && invocation.arguments.count > 1 && spec.name != "debug" {
                var probe = invocation
                _ = try SubcommandSpec.resolve(&probe, parent: spec.name, in: spec.subcommands)
            }
        } catch {
            invocation.client.transaction.commandRejected()
            throw error
        }
        invocation.client.transaction.enqueue(Transaction.QueuedCommand(position: position, arguments: invocation.arguments))
        return .simpleString("QUEUED")
    }

    /// The error for a command rejected before running (wrong arity). Inside MULTI it
    /// dooms the transaction; a rejected EXEC discards the transaction (in or out of MULTI)
    /// and answers EXECABORT, as Redis does.
    static func rejected(_ error: CommandError, spec: CommandSpec, client: Client, state: inout DatabaseState) -> CommandError {
        guard spec.name == "exec" else {
            client.transaction.commandRejected()
            return error
        }
        release(client.transaction.abortByRejectedExec(), from: &state.keyspace)
        var reason = error.message
        if reason.hasPrefix("ERR ") { reason.removeFirst(4) }
        return CommandError(.message("EXECABORT Transaction discarded because of: \(reason)"))
    }

    /// Ends this connection's watch on each key.
    static func release(_ watched: [Key: UInt64], from keyspace: inout ShardedKeyspace) {
        for key in watched.keys { keyspace.unwatch(key) }
    }
}

extension CommandSpec {
    /// The commands Redis runs at once after MULTI instead of queuing them.
    static let runWhileQueuing: Set<String> = ["multi", "exec", "discard", "watch", "quit", "reset"]

    var runsWhileQueuing: Bool { Self.runWhileQueuing.contains(name) }
}
