import SluiceCore

/// `maxmemory`, `maxmemory-policy` and `maxmemory-samples` as commands see them: a copy
/// in `DatabaseState`, changed by `CONFIG SET` under the database lock, so the check
/// before each command reads a plain field.
struct MemoryLimit {
    /// The limit in bytes of the keyspace's estimate; `Int.max` when `maxmemory` is 0, so
    /// that the dispatcher's check is one comparison that never holds.
    var bytes = Int.max
    var policy = EvictionPolicy.noEviction
    var samples = 5

    init() {}

    init(_ configuration: ServerConfiguration) {
        bytes = configuration.maxMemoryBytes == 0 ? Int.max : configuration.maxMemoryBytes
        policy = configuration.maxMemoryPolicy
        samples = configuration.maxMemorySamples
    }

    /// The `maxmemory` setting: 0 for none.
    var configured: Int { bytes == Int.max ? 0 : bytes }

    /// Commands that still run inside `MULTI` over the limit; everything else queued
    /// there is refused, since the queue itself grows memory (Redis's rule).
    static let allowedWhileQueuing: Set<String> = ["exec", "discard", "quit", "reset"]
}

extension CommandError {
    /// Redis's reply to a command refused over `maxmemory`.
    static let outOfMemory = CommandError(.message("OOM command not allowed when used memory > 'maxmemory'."))
}

extension DatabaseState {
    /// Whether the data is over `maxmemory`; the dispatcher's check before each command.
    @inline(__always)
    var isOverMemoryLimit: Bool { memoryLimit.bytes != Int.max && keyspace.usedMemory > memoryLimit.bytes }

    /// Called by the dispatcher, before a command runs, only when over the limit: evicts
    /// keys under an evicting policy, and returns `-OOM` when still over and the command
    /// may add data: one flagged `denyoom`, an `EXEC` whose queue holds one, or any
    /// command queued after `MULTI` except EXEC, DISCARD, QUIT and RESET. Reads and
    /// deletions still run, so a client can free memory. As in Redis, eviction runs
    /// before any command, not only before writes.
    mutating func memoryLimitRefusal(_ spec: CommandSpec, client: Client, table: CommandTable, now: Instant) -> CommandError? {
        if memoryLimit.policy != .noEviction,
           keyspace.evict(toFit: memoryLimit.bytes, policy: memoryLimit.policy, samples: memoryLimit.samples, now: now) {
            return nil
        }
        let refused: Bool
        if spec.deniedOverMemoryLimit {
            refused = true
        } else if spec.name == "exec" {
            refused = client.transaction.queueContains { table.specs[$0].deniedOverMemoryLimit }
        } else {
            refused = client.transaction.isQueuing && !MemoryLimit.allowedWhileQueuing.contains(spec.name)
        }
        return refused ? .outOfMemory : nil
    }
}
