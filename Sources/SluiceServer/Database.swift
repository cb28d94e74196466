import Synchronization
import CoreMetrics
import SluiceCore

/// Everything commands read and change, behind one lock.
///
/// A plain mutex rather than an actor or async lock: every command is short and
/// CPU-bound, and holding one lock for a whole command is what makes each command
/// atomic across connections on different event loops.
struct DatabaseState: ~Copyable {
    var keyspace = Keyspace()
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

final class Database: Sendable {
    let state: Mutex<DatabaseState>

    init(commandCount: Int) {
        var initial = DatabaseState()
        initial.stats.commands = Array(repeating: CommandStats(), count: commandCount)
        self.state = Mutex(initial)
    }
}
