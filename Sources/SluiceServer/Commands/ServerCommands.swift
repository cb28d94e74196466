import RESP
import SluiceCore

#if canImport(Glibc)
import Glibc
#endif

/// COMMAND, INFO, CONFIG, TIME, DBSIZE, FLUSHDB and FLUSHALL: commands about the server.
enum ServerCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("command", arity: -1, flags: ["loading", "stale"], group: "server",
                    summary: "Returns detailed information about all commands.", since: "2.8.13",
                    subcommands: commandSubcommands, handler: command),
        CommandSpec("info", arity: -1, flags: ["loading", "stale"], group: "server",
                    summary: "Returns information and statistics about the server.", handler: info),
        CommandSpec("config", arity: -2, flags: ["noscript"], group: "server", summary: "A container for server configuration commands.",
                    since: "2.0.0", subcommands: configSubcommands, handler: config),
        CommandSpec("time", arity: 1, flags: ["loading", "stale", "fast"], group: "server",
                    summary: "Returns the server time.", since: "2.6.0") { invocation, _ throws(CommandError) in
            let micros = invocation.now.microseconds
            return .array([.bulk(decimal: micros / 1_000_000), .bulk(decimal: micros % 1_000_000)])
        },
        CommandSpec("dbsize", arity: 1, flags: ["readonly", "fast"], group: "server",
                    summary: "Returns the number of keys in the database.") { _, state throws(CommandError) in
            .integer(Int64(state.keyspace.count))
        },
        CommandSpec("flushdb", arity: -1, flags: ["write"], group: "server",
                    summary: "Removes all keys from the current database.", handler: flush),
        CommandSpec("flushall", arity: -1, flags: ["write"], group: "server",
                    summary: "Removes all keys from all databases.", handler: flush),
    ]

    /// FLUSHDB / FLUSHALL [ASYNC|SYNC]: both modes free at once; the table is released in one step.
    private static func flush(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        if !invocation.arguments.isEmpty {
            let mode = try invocation.arguments.nextKeyword()
            guard mode == "ASYNC" || mode == "SYNC" else { throw .syntax }
            try invocation.arguments.finish()
        }
        state.keyspace.removeAll()
        return .ok
    }

    // MARK: COMMAND

    static let commandSubcommands = [
        SubcommandSpec("count", arity: 2, "Returns a count of commands."),
        SubcommandSpec("docs", arity: -2, "Returns documentary information about one, multiple or all commands."),
        SubcommandSpec("info", arity: -2, "Returns information about one, multiple or all commands."),
        SubcommandSpec("list", arity: -2, "Returns a list of command names."),
        SubcommandSpec.help,
    ]

    private static func command(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let table = invocation.server.table
        if invocation.arguments.isEmpty { return .array(table.specs.map(describe)) }
        switch try SubcommandSpec.resolve(&invocation, parent: "command", in: commandSubcommands) {
        case "COUNT":
            return .integer(Int64(table.specs.count))
        case "HELP":
            return SubcommandSpec.helpReply(parent: "command", commandSubcommands)
        case "LIST":
            // Every command and subcommand (`config|get`), as Redis lists them, or those
            // `FILTERBY MODULE name | ACLCAT category | PATTERN glob` keeps.
            var names = table.specs.flatMap { spec in [spec.name] + spec.subcommands.map { "\(spec.name)|\($0.name)" } }
            if !invocation.arguments.isEmpty {
                guard invocation.arguments.remaining == 3, try invocation.arguments.nextKeyword() == "FILTERBY" else { throw .syntax }
                let filter = try invocation.arguments.nextKeyword()
                let argument = try invocation.arguments.next()
                switch filter {
                case "MODULE":
                    names = []
                case "ACLCAT":
                    let category = String(decoding: argument, as: UTF8.self).lowercased()
                    names = table.specs.filter { aclCategories($0).contains(category) }.flatMap { spec in
                        [spec.name] + spec.subcommands.map { "\(spec.name)|\($0.name)" }
                    }
                case "PATTERN":
                    let pattern = GlobPattern(argument, caseInsensitive: true)
                    names = names.filter { pattern.matches(Array($0.utf8)) }
                default:
                    throw .syntax
                }
            }
            return .array(names.map { .bulk($0) })
        case "INFO":
            if invocation.arguments.isEmpty { return .array(table.specs.map(describe)) }
            return .array(invocation.arguments.rest().map { name in
                let name = String(decoding: name, as: UTF8.self)
                // `parent|subcommand` names a subcommand, as in Redis 7.
                if let bar = name.firstIndex(of: "|"), let spec = table.spec(named: String(name[..<bar])),
                   let sub = spec.subcommands.first(where: { $0.name == name[name.index(after: bar)...].lowercased() }) {
                    return describe(sub, of: spec)
                }
                return table.spec(named: name).map(describe) ?? .nullArray
            })
        default:  // DOCS
            let specs = invocation.arguments.isEmpty
                ? table.specs
                : invocation.arguments.rest().compactMap { table.spec(named: String(decoding: $0, as: UTF8.self)) }
            return .map(specs.map { RESPPair(.bulk($0.name), documentation($0)) })
        }
    }

    /// The ACL categories `COMMAND LIST FILTERBY ACLCAT` knows a command by: its group and
    /// what its flags say of it.
    private static func aclCategories(_ spec: CommandSpec) -> [String] {
        let names = ["generic": "keyspace", "sorted_set": "sortedset", "transactions": "transaction"]
        var categories = [names[spec.group] ?? spec.group]
        if spec.flags.contains("write") { categories.append("write") }
        if spec.flags.contains("readonly") { categories.append("read") }
        categories.append(spec.flags.contains("fast") ? "fast" : "slow")
        if spec.flags.contains("blocking") { categories.append("blocking") }
        return categories
    }

    /// Redis 7's ten-field `COMMAND INFO` entry.
    private static func describe(_ spec: CommandSpec) -> RESPValue {
        .array([
            .bulk(spec.name),
            .integer(Int64(spec.arity)),
            .set(spec.flags.map { .simpleString($0) }),
            .integer(Int64(spec.firstKey)),
            .integer(Int64(spec.lastKey)),
            .integer(Int64(spec.keyStep)),
            .set([.simpleString("@" + spec.group)]),
            .set([]),
            .array([]),
            .array(spec.subcommands.map { describe($0, of: spec) }),
        ])
    }

    private static func describe(_ sub: SubcommandSpec, of spec: CommandSpec) -> RESPValue {
        .array([
            .bulk("\(spec.name)|\(sub.name)"), .integer(Int64(sub.arity)), .set([]),
            .integer(0), .integer(0), .integer(0), .set([.simpleString("@" + spec.group)]),
            .set([]), .array([]), .array([]),
        ])
    }

    private static func documentation(_ spec: CommandSpec) -> RESPValue {
        var fields = [
            RESPPair(.bulk("summary"), .bulk(spec.summary)),
            RESPPair(.bulk("since"), .bulk(spec.since)),
            RESPPair(.bulk("group"), .bulk(spec.group)),
        ]
        if !spec.subcommands.isEmpty {
            fields.append(RESPPair(.bulk("subcommands"), .map(spec.subcommands.map { sub in
                RESPPair(.bulk("\(spec.name)|\(sub.name)"), .map([
                    RESPPair(.bulk("summary"), .bulk(sub.summary)),
                    RESPPair(.bulk("since"), .bulk(spec.since)),
                    RESPPair(.bulk("group"), .bulk(spec.group)),
                ]))
            })))
        }
        return .map(fields)
    }

    // MARK: INFO

    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "errorstats", "keyspace", "backend"]
    static let allSections = defaultSections + ["commandstats"]

    private static func info(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        var wanted: [String] = []
        for word in invocation.arguments.rest() {
            switch String(decoding: word, as: UTF8.self).lowercased() {
            case "all", "everything": wanted += allSections
            case "default": wanted += defaultSections
            case let name: wanted.append(name)
            }
        }
        if wanted.isEmpty { wanted = defaultSections }
        state.foldShardStatistics()
        var seen = Set<String>()
        var text = ""
        for section in wanted where seen.insert(section).inserted {
            guard let lines = infoSection(section, invocation, &state) else { continue }
            if !text.isEmpty { text += "\r\n" }
            text += "# \(section.prefix(1).uppercased() + section.dropFirst())\r\n"
            for line in lines { text += line + "\r\n" }
        }
        return .verbatimString(format: "txt", text: Array(text.utf8))
    }

    private static func infoSection(_ section: String, _ invocation: Invocation, _ state: inout DatabaseState) -> [String]? {
        let server = invocation.server
        let now = invocation.now
        switch section {
        case "server":
            let uptime = max(0, (now.nanoseconds - server.startedAt.nanoseconds) / 1_000_000_000)
            return [
                "redis_version:\(ServerContext.redisCompatibilityVersion)",
                "sluice_version:\(ServerContext.version)",
                "redis_mode:standalone",
                "os:Linux",
                "arch_bits:\(Int.bitWidth)",
                "process_id:\(server.processID)",
                "tcp_port:\(server.boundPort.load(ordering: .relaxed))",
                "tls_port:\(server.boundTLSPort.load(ordering: .relaxed))",
                "uptime_in_seconds:\(uptime)",
                "uptime_in_days:\(uptime / 86_400)",
                "hz:\(1000 / max(server.configuration.expiryIntervalMilliseconds, 1))",
                "io_threads_active:\(server.configuration.threads > 1 ? 1 : 0)",
                "event_loop_threads:\(server.configuration.threads)",
                "keyspace_shards:\(server.configuration.shards)",
                "storage_mode:\(server.backend == nil ? "in-memory" : "backend")",
            ]
        case "clients":
            return [
                "connected_clients:\(state.clients.count)", "blocked_clients:\(state.blocking.blockedClients)",
                "maxclients:\(server.settings.maxClients.load(ordering: .relaxed))",
                "watching_clients:\(state.clients.values.count { $0.transaction.watchedCount > 0 })",
                "total_watched_keys:\(state.keyspace.watchedKeyCount)",
            ]
        case "memory":
            // used_memory is the keyspace's estimate of its data, which maxmemory limits
            // (MemoryEstimate.swift); used_memory_rss is the process's resident size.
            let used = state.keyspace.usedMemory
            let rss = residentMemoryBytes()
            let limit = state.memoryLimit
            return [
                "used_memory:\(used)",
                "used_memory_human:\(humanBytes(used))",
                "used_memory_rss:\(rss)",
                "used_memory_rss_human:\(humanBytes(rss))",
                "maxmemory:\(limit.configured)",
                "maxmemory_human:\(humanBytes(limit.configured))",
                "maxmemory_policy:\(limit.policy.rawValue)",
            ]
        case "persistence":
            return PersistenceCommands.info(server, now: now, progress: state.keyspace.captureCounts)
        case "backend":
            // Only in backend mode (BackendMode.swift).
            return server.backend?.info()
        case "stats":
            return [
                "total_connections_received:\(state.stats.connectionsReceived)",
                "total_commands_processed:\(state.stats.commandsProcessed)",
                "expired_keys:\(state.keyspace.stats.expiredKeys)",
                "evicted_keys:\(state.keyspace.stats.evictedKeys)",
                "keyspace_hits:\(state.keyspace.stats.hits)",
                "keyspace_misses:\(state.keyspace.stats.misses)",
                "rejected_connections:\(state.stats.rejectedConnections)",
                "total_error_replies:\(state.stats.errorReplies.values.reduce(0, +))",
            ] + RateLimitCommand.allCases.flatMap { command in
                // The same counters as sluice_ratelimit_decisions_total; `cl.throttle` as `cl_throttle`.
                let name = String(command.name.map { $0 == "." ? "_" : $0 })
                return ["ratelimit_\(name)_allowed:\(state.stats.decisions.allowed[command.rawValue])",
                        "ratelimit_\(name)_denied:\(state.stats.decisions.denied[command.rawValue])"]
            }
        case "errorstats":
            return state.stats.errorReplies.sorted { $0.key < $1.key }.map { "errorstat_\($0.key):count=\($0.value)" }
        case "keyspace":
            guard state.keyspace.count > 0 else { return [] }
            return ["db0:keys=\(state.keyspace.count),expires=\(state.keyspace.volatileCount),avg_ttl=0"]
        case "commandstats":
            return server.table.specs.indices.compactMap { position in
                let stats = state.stats.commands[position]
                guard stats.calls > 0 || stats.rejectedCalls > 0 else { return nil }
                let microseconds = stats.nanoseconds / 1_000
                let perCall = stats.calls > 0 ? Double(microseconds) / Double(stats.calls) : 0
                return "cmdstat_\(server.table.specs[position].name):calls=\(stats.calls),usec=\(microseconds),usec_per_call=\(RESPValue.formatDouble((perCall * 100).rounded() / 100)),rejected_calls=\(stats.rejectedCalls),failed_calls=\(stats.failedCalls)"
            }
        default:
            return nil
        }
    }

    /// Resident set size from /proc/self/statm (second field, in pages); 0 where it cannot be read.
    static func residentMemoryBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = buffer.prefix(count).split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Redis's `*_human` form: bytes, or K, M, G, T with two decimals (`100.00M`).
    static func humanBytes(_ bytes: Int) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        guard unit > 0 else { return "\(bytes)B" }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)\(units[unit])"
    }

    // MARK: CONFIG

    static let configSubcommands = [
        SubcommandSpec("get", arity: -3, "Returns the effective values of configuration parameters."),
        SubcommandSpec("set", arity: -4, "Sets configuration parameters in-flight."),
        SubcommandSpec("resetstat", arity: 2, "Resets the server's statistics."),
        SubcommandSpec.help,
    ]

    /// Parameters Sluice reports for clients that ask but has no setting for.
    static let fixedParameters: [(String, String)] = [
        ("databases", "1"), ("save", ""), ("appendonly", "no"),
    ]

    /// The parameters `CONFIG GET` reports, with their effective values: the option
    /// table's, read from the start-up configuration with run-time changes applied.
    static func configParameters(_ server: ServerContext) -> [(String, String)] {
        var configuration = server.settings.effective(server.configuration)
        configuration.port = server.boundPort.load(ordering: .relaxed)
        let tlsPort = server.boundTLSPort.load(ordering: .relaxed)
        configuration.tlsPort = tlsPort == 0 ? nil : tlsPort
        return ConfigurationOption.all.map { ($0.name, $0.value(in: configuration)) } + fixedParameters
    }

    private static func config(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let server = invocation.server
        switch try SubcommandSpec.resolve(&invocation, parent: "config", in: configSubcommands) {
        case "GET":
            let patterns = invocation.arguments.rest().map { GlobPattern($0, caseInsensitive: true) }
            let matching = configParameters(server).filter { name, _ in patterns.contains { $0.matches(Array(name.utf8)) } }
            return .map(matching.map { RESPPair(.bulk($0.0), .bulk($0.1)) })
        case "SET":
            return try configSet(&invocation, &state)
        case "HELP":
            return SubcommandSpec.helpReply(parent: "config", configSubcommands)
        default:  // RESETSTAT
            state.foldShardStatistics()
            state.forEachLockedShard { shard in
                for position in shard.stats.commands.indices {
                    shard.stats.commands[position].durations?.destroy()
                    shard.stats.commands[position].durations = nil
                }
            }
            state.stats.commandsProcessed = 0
            state.stats.connectionsReceived = 0
            for position in state.stats.commands.indices {
                // The histogram leaves the registry too, so /metrics restarts it from zero.
                state.stats.commands[position].durations?.destroy()
                state.stats.commands[position] = CommandStats()
            }
            state.stats.errorReplies = [:]
            state.stats.decisions = RateLimitDecisions()
            return .ok
        }
    }

    /// CONFIG SET name value [name value ...]: all or nothing, as in Redis.
    private static func configSet(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let words = invocation.arguments.rest().map { String(decoding: $0, as: UTF8.self) }
        guard words.count % 2 == 0 else { throw .syntax }
        let server = invocation.server
        var configuration = server.settings.effective(server.configuration)
        var seen = Set<String>()
        for pair in stride(from: 0, to: words.count, by: 2) {
            let name = words[pair].lowercased()
            func failed(_ reason: String) -> CommandError {
                .err("CONFIG SET failed (possibly related to argument '\(name)') - \(reason)")
            }
            guard let option = ConfigurationOption.named(name) else {
                guard fixedParameters.contains(where: { $0.0 == name }) else {
                    throw .err("Unknown option or number of arguments for CONFIG SET - '\(words[pair])'")
                }
                throw failed("can't set immutable config")
            }
            guard option.runtime else { throw failed("can't set immutable config") }
            guard seen.insert(name).inserted else { throw failed("duplicate parameter") }
            do {
                try option.write(&configuration, words[pair + 1])
            } catch {
                throw failed(error.reason)
            }
        }
        server.settings.apply(configuration)
        state.memoryLimit = MemoryLimit(configuration)
        return .ok
    }
}
