import SluiceCore

/// One connection's `MULTI`/`EXEC` state and the keys it `WATCH`es.
///
/// A value type whose transitions return what the caller must do (reply, release watched
/// keys, run the queue); the keyspace and the replies stay with the commands.
///
/// MULTI, EXEC and DISCARD are never queued, so they cannot run while EXEC runs the
/// queue; should one arrive there anyway (say, from a script), it gets an error rather
/// than a crash.
struct Transaction {
    /// A command accepted after `MULTI`: its table position and its words.
    struct QueuedCommand {
        let position: Int
        let arguments: Arguments
    }

    private enum State {
        case idle
        /// After `MULTI`; `failed` once a command was rejected while queuing.
        case queuing([QueuedCommand], failed: Bool)
        /// `EXEC` is running the queue.
        case executing
    }

    private var state = State.idle {
        didSet { isQueuing = if case .queuing = state { true } else { false } }
    }
    /// Watched keys and the version each had when watched.
    private var watched: [Key: UInt64] = [:]

    /// Between `MULTI` and `EXEC`/`DISCARD`: commands are queued, not run. Stored, as every
    /// command asks: matching the state's case copied the queue, a retain and a release.
    private(set) var isQueuing = false

    /// While `EXEC` runs the queue. Commands that would block must answer at once then,
    /// as Redis does for a client inside a transaction.
    var isExecuting: Bool {
        if case .executing = state { return true }
        return false
    }

    /// Queued commands, -1 outside `MULTI` (`CLIENT LIST`'s `multi=`).
    var queuedCount: Int {
        if case .queuing(let queue, _) = state { return queue.count }
        return -1
    }

    /// Whether a queued command's table position satisfies `predicate` (false outside `MULTI`).
    func queueContains(where predicate: (Int) -> Bool) -> Bool {
        if case .queuing(let queue, _) = state { return queue.contains { predicate($0.position) } }
        return false
    }

    /// How many keys this connection watches.
    var watchedCount: Int { watched.count }

    func isWatching(_ key: Key) -> Bool {
        watched[key] != nil
    }

    // MARK: Transitions

    enum MultiAction {
        case begin
        case alreadyQueuing
    }

    mutating func multi() -> MultiAction {
        switch state {
        case .idle:
            state = .queuing([], failed: false)
            return .begin
        case .queuing, .executing:
            return .alreadyQueuing
        }
    }

    mutating func enqueue(_ command: QueuedCommand) {
        guard case .queuing(var queue, let failed) = state else { preconditionFailure("enqueue outside MULTI") }
        state = .idle  // Lets the array below be appended to without a copy.
        queue.append(command)
        state = .queuing(queue, failed: failed)
    }

    /// A command was rejected before running: inside `MULTI` that dooms the `EXEC` to come.
    mutating func commandRejected() {
        if case .queuing(let queue, _) = state { state = .queuing(queue, failed: true) }
    }

    enum ExecAction {
        case notQueuing
        /// Reply EXECABORT; release `unwatch`.
        case abort(unwatch: [Key: UInt64])
        /// Check `watched` (and release them): reply nil when any changed, else run
        /// `queue`; then call `finishExecution`.
        case execute([QueuedCommand], watched: [Key: UInt64])
    }

    mutating func exec() -> ExecAction {
        switch state {
        case .idle, .executing:
            return .notQueuing
        case .queuing(_, failed: true):
            state = .idle
            return .abort(unwatch: takeWatched())
        case .queuing(let queue, failed: false):
            state = .executing
            return .execute(queue, watched: takeWatched())
        }
    }

    mutating func finishExecution() {
        guard case .executing = state else { preconditionFailure("no EXEC is running") }
        state = .idle
    }

    enum DiscardAction {
        case notQueuing
        /// Reply OK; release `unwatch`.
        case discarded(unwatch: [Key: UInt64])
    }

    mutating func discard() -> DiscardAction {
        switch state {
        case .idle, .executing:
            return .notQueuing
        case .queuing:
            state = .idle
            return .discarded(unwatch: takeWatched())
        }
    }

    /// A rejected `EXEC` (wrong arity) discards the transaction, in or out of `MULTI`,
    /// as Redis does. Returns the keys to release.
    mutating func abortByRejectedExec() -> [Key: UInt64] {
        if case .executing = state { return [:] }
        state = .idle
        return takeWatched()
    }

    /// Records a watched key and the version the keyspace gave it.
    mutating func watch(_ key: Key, version: UInt64) {
        precondition(!isQueuing && watched[key] == nil, "WATCH inside MULTI or twice on a key")
        watched[key] = version
    }

    /// Forgets every watched key (UNWATCH, disconnect); returns them for the caller to release.
    mutating func takeWatched() -> [Key: UInt64] {
        defer { watched = [:] }
        return watched
    }
}
