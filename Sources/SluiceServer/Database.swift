import Synchronization
import CoreMetrics
import SluiceCore

/// Everything commands read and change, behind one lock.
///
/// A plain mutex rather than an actor or async lock: every command is short and
/// CPU-bound, and holding one lock for a whole command is what makes each command
/// atomic across connections on different event loops.
struct DatabaseState: ~Copyable {
    var keyspace = ShardedKeyspace()
    var stats = ServerStats()
    var clients: [Int64: Client] = [:]
    var nextClientID: Int64 = 1
    /// Clients parked in blocking list commands (Blocking.swift).
    var blocking = BlockingState()
    /// The Lua state and script cache; under this lock because Lua is not thread-safe.
    var scripting = ScriptingEngine()
    /// Commands slower than `slowlog-log-slower-than` (SlowLog.swift).
    var slowlog = SlowLog()
    /// `maxmemory` and its policy (MemoryLimit.swift).
    var memoryLimit = MemoryLimit()
    /// Random picks of commands (`SPOP`, `SRANDMEMBER`); one per shard's state, as each is
    /// changed only under its lock.
    var random = FastRandom()
    /// With more than one shard, while every lock is held (`Database.withExclusive`): each
    /// shard's own state's address, whose counters `foldShardStatistics` takes.
    var lockedShards: [Int] = []
}

/// Counters `INFO` reports.
struct ServerStats {
    var connectionsReceived = 0
    /// Connections refused because `maxclients` were connected.
    var rejectedConnections = 0
    var commandsProcessed = 0
    /// Per command table entry, indexed by `CommandSpec.statsIndex`.
    var commands: [CommandStats] = []
    /// Error replies by prefix (`ERR`, `WRONGTYPE`, ...), as `INFO errorstats` shows them.
    var errorReplies: [String: Int] = [:]
    /// Allowed/denied decisions of the native rate-limit commands (Statistics.swift).
    var decisions = RateLimitDecisions()
}

struct CommandStats {
    var calls = 0
    var nanoseconds = 0
    var failedCalls = 0
    var rejectedCalls = 0
    /// Charged times (the burst's share) for `sluice_command_duration_seconds`; made on
    /// the first call while metrics are on.
    var durations: CoreMetrics.Timer?
}

/// The database's locks. With one shard (one event loop, the default) every command runs
/// under `state`'s lock. With more, the keys are split over independently locked shards
/// (`ShardedKeyspace`): a run of commands on one key each that touch nothing but their
/// keys and the counters (`CommandSpec.runsOnShard`) holds only their shards' locks
/// (`withShards`), against the first shard's own `DatabaseState`, whose counters are
/// added into `state`'s when they are read (`foldShardStatistics`); every other command
/// runs holding `state`'s lock and every shard's (`withExclusive`), so `MULTI`, scripts
/// and multi-key commands stay atomic. Locks are always taken in that order, `state`'s
/// first, then shards by number, and a shards' holder takes no other, so no two threads
/// wait on each other.
final class Database: Sendable {
    let state: Mutex<DatabaseState>
    /// Each shard's state when there is more than one shard; empty with one.
    let shards: [Shard]
    /// The view of every shard, which `state` holds too: what a run of single-key commands
    /// on several shards uses while it holds their locks.
    let keyspace: ShardedKeyspace

    final class Shard: Sendable {
        let state: Mutex<DatabaseState>
        init(_ state: consuming sending DatabaseState) { self.state = Mutex(state) }
    }

    init(commandCount: Int, shards shardCount: Int = 1) {
        var initial = DatabaseState()
        initial.keyspace = ShardedKeyspace(shards: shardCount)
        initial.stats.commands = Array(repeating: CommandStats(), count: commandCount)
        let keyspace = initial.keyspace
        self.keyspace = keyspace
        self.state = Mutex(initial)
        self.shards = shardCount == 1 ? [] : (0..<shardCount).map { index in
            var shard = DatabaseState()
            shard.keyspace = keyspace.shard(index)
            shard.stats.commands = Array(repeating: CommandStats(), count: commandCount)
            return Shard(shard)
        }
    }

    /// Runs `body` with the locks of `set`'s shards held, taken in order, on the first one's state.
    func withShards<R>(_ set: ShardSet, _ body: (inout DatabaseState) -> R) -> R {
        let first = set.first(from: 0)!
        var result: R?
        shards[first].state.withLock { state in
            result = lockShards(set, after: first, addresses: nil) { body(&state) }
        }
        return result!
    }

    /// Holds the locks of `set`'s shards after `previous`, in order, while `body` runs;
    /// with `addresses`, puts each shard's state's address at the shard's number.
    private func lockShards<R>(
        _ set: ShardSet, after previous: Int, addresses: UnsafeMutableBufferPointer<Int>?, _ body: () -> R
    ) -> R {
        guard let index = set.first(from: previous + 1) else { return body() }
        var result: R?
        shards[index].state.withLock { (shard: inout DatabaseState) in
            guard let addresses else { return result = lockShards(set, after: index, addresses: nil, body) }
            withUnsafeMutablePointer(to: &shard) { pointer in
                // An address, not the pointer: the state stays in the lock's region.
                addresses[index] = Int(bitPattern: pointer)
                result = lockShards(set, after: index, addresses: addresses, body)
            }
        }
        return result!
    }

    /// Runs `body` with every lock held: what commands other than single-key ones run under.
    func withExclusive<R>(_ body: (inout DatabaseState) -> R) -> R {
        // Through a local, as `withLock` would have a generic result `sending`.
        var result: R?
        state.withLock { state in
            guard !shards.isEmpty else { return result = body(&state) }
            withUnsafeTemporaryAllocation(of: Int.self, capacity: shards.count) { locked in
                result = lockShards(ShardSet(below: shards.count), after: -1, addresses: locked) {
                    state.lockedShards = Array(locked)
                    defer { state.lockedShards = [] }
                    return body(&state)
                }
            }
        }
        return result!
    }
}

extension DatabaseState {
    /// Moves the counters single-key commands kept in their shards into these, for what
    /// reads them (`INFO`, `CONFIG RESETSTAT`, metrics); with every lock held.
    mutating func foldShardStatistics() {
        for address in lockedShards {
            stats.add(taking: &UnsafeMutablePointer<DatabaseState>(bitPattern: address)!.pointee.stats)
        }
    }

    /// Calls `body` with each shard's own state; with every lock held.
    func forEachLockedShard(_ body: (inout DatabaseState) -> Void) {
        for address in lockedShards { body(&UnsafeMutablePointer<DatabaseState>(bitPattern: address)!.pointee) }
    }
}

extension ServerStats {
    /// Adds `other`'s counts to these and zeroes them there.
    mutating func add(taking other: inout ServerStats) {
        commandsProcessed += other.commandsProcessed
        other.commandsProcessed = 0
        for index in other.commands.indices where other.commands[index].calls != 0 || other.commands[index].rejectedCalls != 0 {
            commands[index].calls += other.commands[index].calls
            commands[index].nanoseconds += other.commands[index].nanoseconds
            commands[index].failedCalls += other.commands[index].failedCalls
            commands[index].rejectedCalls += other.commands[index].rejectedCalls
            other.commands[index].calls = 0
            other.commands[index].nanoseconds = 0
            other.commands[index].failedCalls = 0
            other.commands[index].rejectedCalls = 0
        }
        for (prefix, count) in other.errorReplies { errorReplies[prefix, default: 0] += count }
        other.errorReplies = [:]
        decisions.add(taking: &other.decisions)
    }
}

/// Shard numbers, below `ShardedKeyspace.maximumShards`.
struct ShardSet {
    private var words = InlineArray<4, UInt64>(repeating: 0)

    init() {}

    /// Shards 0 up to `count`.
    init(below count: Int) {
        for shard in 0..<count { insert(shard) }
    }

    mutating func insert(_ shard: Int) {
        words[shard >> 6] |= 1 << UInt64(shard & 63)
    }

    /// The smallest shard in the set at or after `shard`.
    func first(from shard: Int) -> Int? {
        var word = shard >> 6
        guard word < 4 else { return nil }
        var bits = words[word] & (~0 << UInt64(shard & 63))
        while bits == 0 {
            word += 1
            guard word < 4 else { return nil }
            bits = words[word]
        }
        return word << 6 + bits.trailingZeroBitCount
    }
}
