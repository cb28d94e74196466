import RESP
import SluiceRedisBackend

/// The counters `/metrics` exports, copied under the database lock when a scrape
/// arrives and formatted after it is released. Commands never call into a metrics
/// library: they bump the plain counters `INFO` also reads (Database.swift,
/// Statistics.swift), so both show the same numbers and the hot path stays additions.
struct MetricsSnapshot {
    struct Command {
        let name: String
        let calls: Int
        let nanoseconds: Int
        let latency: [Int]
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
            commands.append(Command(name: table.specs[position].name, calls: stats.calls,
                                    nanoseconds: stats.nanoseconds, latency: stats.latency.counts))
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

    /// The Prometheus text exposition format, version 0.0.4.
    func exposition() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func line(_ name: String, _ labels: String, _ value: String) {
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
        }
        func sample(_ name: String, _ labels: String = "", value: Int) { line(name, labels, String(value)) }
        /// A family with one unlabelled sample.
        func single(_ name: String, _ type: String, _ help: String, value: Int) {
            family(name, type, help)
            sample(name, value: value)
        }
        single("sluice_connected_clients", "gauge", "Client connections open now.", value: connectedClients)
        single("sluice_connections_received_total", "counter", "Client connections accepted since start.", value: connectionsReceived)
        single("sluice_rejected_connections_total", "counter", "Connections refused because maxclients were connected.", value: rejectedConnections)
        single("sluice_commands_processed_total", "counter", "Commands received, including rejected ones (INFO total_commands_processed).", value: commandsProcessed)

        family("sluice_commands_total", "counter", "Calls per command that passed the checks (INFO commandstats calls).")
        for command in commands {
            sample("sluice_commands_total", "command=\"\(Self.escape(command.name))\"", value: command.calls)
        }
        family("sluice_command_duration_seconds", "histogram",
               "Time charged per command: its equal share of the read burst it arrived in.")
        for command in commands where !command.latency.isEmpty {
            let label = "command=\"\(Self.escape(command.name))\""
            var cumulative = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += command.latency[index]
                sample("sluice_command_duration_seconds_bucket", "\(label),le=\"\(Self.seconds(bound))\"", value: cumulative)
            }
            cumulative += command.latency[LatencyHistogram.bounds.count]
            sample("sluice_command_duration_seconds_bucket", "\(label),le=\"+Inf\"", value: cumulative)
            line("sluice_command_duration_seconds_sum", label, Self.seconds(command.nanoseconds))
            sample("sluice_command_duration_seconds_count", label, value: cumulative)
        }

        family("sluice_errors_total", "counter", "Error replies by prefix (INFO errorstats).")
        for error in errors {
            sample("sluice_errors_total", "kind=\"\(Self.escape(error.kind))\"", value: error.count)
        }
        family("sluice_ratelimit_decisions_total", "counter", "Decisions of the native rate-limit commands.")
        for decision in decisions {
            let command = "command=\"\(decision.command)\""
            sample("sluice_ratelimit_decisions_total", "\(command),decision=\"allowed\"", value: decision.allowed)
            sample("sluice_ratelimit_decisions_total", "\(command),decision=\"denied\"", value: decision.denied)
        }

        single("sluice_keys", "gauge", "Keys in the keyspace, expired ones not yet removed included.", value: keys)
        single("sluice_expiring_keys", "gauge", "Keys with a time to live.", value: expiringKeys)
        single("sluice_expired_keys_total", "counter", "Keys removed because their time to live passed.", value: expiredKeys)
        single("sluice_keyspace_hits_total", "counter", "Key look-ups that found the key.", value: keyspaceHits)
        single("sluice_keyspace_misses_total", "counter", "Key look-ups that did not find the key.", value: keyspaceMisses)
        single("sluice_resident_memory_bytes", "gauge", "Resident set size of the process (/proc/self/statm).", value: residentMemoryBytes)
        single("sluice_used_memory_bytes", "gauge", "Estimated bytes of the keys and values, which maxmemory limits.", value: usedMemoryBytes)
        single("sluice_maxmemory_bytes", "gauge", "The maxmemory setting; 0: no limit.", value: maxMemoryBytes)
        single("sluice_evicted_keys_total", "counter", "Keys evicted to get under maxmemory.", value: evictedKeys)
        if let (stats, failOpen, failClosed) = backend {
            single("sluice_backend_connected_connections", "gauge", "Backend mode: pooled connections to Redis open now.", value: stats.connectedConnections)
            single("sluice_backend_requests_total", "counter", "Backend mode: requests sent to Redis, retries included.", value: stats.requests)
            single("sluice_backend_failures_total", "counter", "Backend mode: requests Redis could not answer (down or too slow).", value: stats.failures)
            family("sluice_backend_policy_replies_total", "counter", "Backend mode: replies given by the failure policy.")
            sample("sluice_backend_policy_replies_total", "policy=\"fail-open\"", value: failOpen)
            sample("sluice_backend_policy_replies_total", "policy=\"fail-closed\"", value: failClosed)
            family("sluice_backend_round_trip_seconds_avg", "gauge", "Backend mode: mean time to write a batch and read its replies.")
            line("sluice_backend_round_trip_seconds_avg", "", Self.seconds(stats.averageRoundTripMicroseconds * 1_000))
        }
        return out
    }

    /// Nanoseconds as seconds in decimal, without floating-point noise (`0.00025`).
    static func seconds(_ nanoseconds: Int) -> String {
        let whole = nanoseconds / 1_000_000_000
        var fraction = String(nanoseconds % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
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
    /// The `/metrics` body: counters copied under the lock, memory read and text built outside it.
    func metricsExposition() -> String {
        var snapshot = database.state.withLock { MetricsSnapshot($0, table: context.table) }
        snapshot.residentMemoryBytes = ServerCommands.residentMemoryBytes()
        if let backend = context.backend {
            snapshot.backend = (backend.backend.stats, backend.failOpenReplies.load(ordering: .relaxed),
                                backend.failClosedReplies.load(ordering: .relaxed))
        }
        return snapshot.exposition()
    }
}
