import RESP
import SluiceRedisBackend

/// The counters `/metrics` exports, copied under the database lock when a scrape
/// arrives and published to the metrics registry after it is released. Commands bump
/// the plain counters `INFO` also reads (Database.swift, Statistics.swift), so both show
/// the same numbers and counting stays an addition; only the latency histogram is fed
/// per command (Dispatcher.execute), and only while metrics are on.
struct MetricsSnapshot {
    struct Command {
        let name: String
        let calls: Int
    }

    var connectedClients = 0
    var connectionsReceived = 0
    var rejectedConnections = 0
    var commandsProcessed = 0
    var commands: [Command] = []
    var errors: [(kind: String, count: Int)] = []
    var decisions: [(command: String, allowed: Int, denied: Int)] = []
    var keys = 0
    var expiringKeys = 0
    var expiredKeys = 0
    var keyspaceHits = 0
    var keyspaceMisses = 0
    var residentMemoryBytes = 0
    var usedMemoryBytes = 0
    var maxMemoryBytes = 0
    var evictedKeys = 0
    /// Backend mode's client and failure-policy counters; nil in memory mode.
    var backend: (stats: BackendStats, failOpen: Int, failClosed: Int)?

    /// Copies the counters; call with the lock held. Commands never called are left out.
    init(_ state: borrowing DatabaseState, table: CommandTable) {
        connectedClients = state.clients.count
        connectionsReceived = state.stats.connectionsReceived
        rejectedConnections = state.stats.rejectedConnections
        commandsProcessed = state.stats.commandsProcessed
        for position in table.specs.indices {
            let stats = state.stats.commands[position]
            guard stats.calls > 0 else { continue }
            commands.append(Command(name: table.specs[position].name, calls: stats.calls))
        }
        errors = state.stats.errorReplies.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        for command in RateLimitCommand.allCases {
            decisions.append((command.name, state.stats.decisions.allowed[command.rawValue],
                              state.stats.decisions.denied[command.rawValue]))
        }
        keys = state.keyspace.count
        expiringKeys = state.keyspace.volatileCount
        expiredKeys = state.keyspace.stats.expiredKeys
        keyspaceHits = state.keyspace.stats.hits
        keyspaceMisses = state.keyspace.stats.misses
        usedMemoryBytes = state.keyspace.usedMemory
        maxMemoryBytes = state.memoryLimit.configured
        evictedKeys = state.keyspace.stats.evictedKeys
    }

    /// Sets every series to this snapshot's numbers. Counters are set, not added to: the
    /// snapshot holds the running totals, which `CONFIG RESETSTAT` may zero, and the
    /// exported counter follows them (Prometheus reads a drop as a counter reset).
    func publish(to metrics: inout MetricsPublisher) {
        metrics.gauge("sluice_connected_clients", connectedClients)
        metrics.counter("sluice_connections_received_total", connectionsReceived)
        metrics.counter("sluice_rejected_connections_total", rejectedConnections)
        metrics.counter("sluice_commands_processed_total", commandsProcessed)
        for command in commands {
            metrics.counter("sluice_commands_total", [("command", command.name)], command.calls)
        }
        for error in errors {
            metrics.counter("sluice_errors_total", [("kind", Self.escape(error.kind))], error.count)
        }
        for decision in decisions {
            metrics.counter("sluice_ratelimit_decisions_total", [("command", decision.command), ("decision", "allowed")], decision.allowed)
            metrics.counter("sluice_ratelimit_decisions_total", [("command", decision.command), ("decision", "denied")], decision.denied)
        }
        metrics.gauge("sluice_keys", keys)
        metrics.gauge("sluice_expiring_keys", expiringKeys)
        metrics.counter("sluice_expired_keys_total", expiredKeys)
        metrics.counter("sluice_keyspace_hits_total", keyspaceHits)
        metrics.counter("sluice_keyspace_misses_total", keyspaceMisses)
        metrics.gauge("sluice_resident_memory_bytes", residentMemoryBytes)
        metrics.gauge("sluice_used_memory_bytes", usedMemoryBytes)
        metrics.gauge("sluice_maxmemory_bytes", maxMemoryBytes)
        metrics.counter("sluice_evicted_keys_total", evictedKeys)
        if let (stats, failOpen, failClosed) = backend {
            metrics.gauge("sluice_backend_connected_connections", stats.connectedConnections)
            metrics.counter("sluice_backend_requests_total", stats.requests)
            metrics.counter("sluice_backend_failures_total", stats.failures)
            metrics.counter("sluice_backend_policy_replies_total", [("policy", "fail-open")], failOpen)
            metrics.counter("sluice_backend_policy_replies_total", [("policy", "fail-closed")], failClosed)
            metrics.gauge("sluice_backend_round_trip_seconds_avg", Double(stats.averageRoundTripMicroseconds) / 1_000_000)
        }
    }

    /// Label values escape backslash, double quote and newline.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}

extension Dispatcher {
    /// The `/metrics` body: counters copied under the lock, memory read and the registry
    /// updated and written outside it. Empty when metrics are off.
    func metricsExposition() -> String {
        guard let metrics = context.metrics else { return "" }
        var snapshot = database.withExclusive { state in
            state.foldShardStatistics()
            return MetricsSnapshot(state, table: context.table)
        }
        snapshot.residentMemoryBytes = ServerCommands.residentMemoryBytes()
        if let backend = context.backend {
            snapshot.backend = (backend.backend.stats, backend.failOpenReplies.load(ordering: .relaxed),
                                backend.failClosedReplies.load(ordering: .relaxed))
        }
        return metrics.exposition(publishing: snapshot)
    }
}
