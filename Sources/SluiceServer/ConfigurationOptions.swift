import Logging
import RESP
import SluiceCore
import SluiceRedisBackend

/// One setting: its Redis-style name is the file key, the `CONFIG GET` name and the
/// flag (`--name`); its environment variable is `SLUICE_NAME` with dashes as underscores.
/// Every value arrives as text, from whichever source, and is parsed by `write`.
public struct ConfigurationOption: Sendable {
    public let name: String
    /// Other spellings accepted as flags only (kept for existing scripts).
    public let flagAliases: [String]
    /// Shape of the value in `--help`, e.g. `N`, `BYTES`, `yes|no`.
    public let valueName: String
    public let help: String
    /// Whether `CONFIG SET` may change it while the server runs.
    public let runtime: Bool
    let read: @Sendable (ServerConfiguration) -> String
    let write: @Sendable (inout ServerConfiguration, String) throws(ConfigurationValueError) -> Void

    public var environmentName: String {
        "SLUICE_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    /// The value in `configuration`, as `CONFIG GET` shows it.
    public func value(in configuration: ServerConfiguration) -> String { read(configuration) }

    /// The single table of settings.
    public static let all: [ConfigurationOption] = [
        ConfigurationOption("bind", value: "ADDRESS", "Address to listen on.", read: { $0.host }) { c, text throws(ConfigurationValueError) in
            guard !text.isEmpty else { throw ConfigurationValueError("argument must not be empty") }
            c.host = text
        },
        ConfigurationOption("port", value: "N", "TCP port to listen on (0 picks a free port; 0 with tls-port: TLS only).",
                            read: { String($0.port) }) { c, text throws(ConfigurationValueError) in
            c.port = try integer(text, in: 0...65_535)
        },
        ConfigurationOption("tls-port", value: "N", "TLS port, served beside port on the same address; 0: no TLS.",
                            read: { String($0.tlsPort ?? 0) }) { c, text throws(ConfigurationValueError) in
            let port = try integer(text, in: 0...65_535)
            c.tlsPort = port == 0 ? nil : port
        },
        ConfigurationOption("tls-cert", aliases: ["tls-cert-file"], value: "PATH",
                            "PEM certificate (chain) the TLS port presents.",
                            read: { $0.tlsCertificatePath ?? "" }) { c, text throws(ConfigurationValueError) in
            c.tlsCertificatePath = text.isEmpty ? nil : text
        },
        ConfigurationOption("tls-key", aliases: ["tls-key-file"], value: "PATH", "PEM private key of tls-cert (unencrypted).",
                            read: { $0.tlsKeyPath ?? "" }) { c, text throws(ConfigurationValueError) in
            c.tlsKeyPath = text.isEmpty ? nil : text
        },
        ConfigurationOption("tls-ca-cert", aliases: ["tls-ca-cert-file"], value: "PATH",
                            "PEM CA certificate(s) that client certificates must chain to.",
                            read: { $0.tlsCACertificatePath ?? "" }) { c, text throws(ConfigurationValueError) in
            c.tlsCACertificatePath = text.isEmpty ? nil : text
        },
        ConfigurationOption("tls-auth-clients", value: "no|yes|optional",
                            "Client certificates: no (not asked for), yes (required), optional.",
                            read: { $0.tlsAuthClients.rawValue }) { c, text throws(ConfigurationValueError) in
            c.tlsAuthClients = try oneOf(text)
        },
        ConfigurationOption("io-threads", aliases: ["threads"], value: "N", "Event-loop threads serving connections.",
                            read: { String($0.threads) }) { c, text throws(ConfigurationValueError) in
            c.threads = try integer(text, in: 1...256)
        },
        ConfigurationOption("keyspace-shards", aliases: ["shards"], value: "N",
                            "Keyspace shards, each under its own lock: a power of two up to 256; 0: 1 with one io-thread, else 4 per io-thread.",
                            read: { String($0.keyspaceShards) }) { c, text throws(ConfigurationValueError) in
            let shards = try integer(text, in: 0...ShardedKeyspace.maximumShards)
            guard shards & (shards - 1) == 0 else { throw ConfigurationValueError("argument must be 0 or a power of two") }
            c.keyspaceShards = shards
        },
        ConfigurationOption("requirepass", value: "PASSWORD", "Password for AUTH / HELLO AUTH; empty: none needed.",
                            runtime: true, read: { $0.requirePass ?? "" }) { c, text throws(ConfigurationValueError) in
            c.requirePass = text.isEmpty ? nil : text
        },
        ConfigurationOption("protected-mode", value: "yes|no",
                            "Refuse a non-loopback bind without requirepass.",
                            read: { $0.protectedMode ? "yes" : "no" }) { c, text throws(ConfigurationValueError) in
            c.protectedMode = try boolean(text)
        },
        ConfigurationOption("maxclients", value: "N", "Most connections at once; more are refused.", runtime: true,
                            read: { String($0.maxClients) }) { c, text throws(ConfigurationValueError) in
            c.maxClients = try integer(text, in: 1...1_000_000)
        },
        ConfigurationOption("timeout", value: "SECONDS", "Close clients idle this long; 0: never.", runtime: true,
                            read: { String($0.idleTimeoutSeconds) }) { c, text throws(ConfigurationValueError) in
            c.idleTimeoutSeconds = try integer(text, in: 0...Int(Int32.max))
        },
        ConfigurationOption("client-query-buffer-limit", value: "BYTES",
                            "Incomplete input one client may hold; past it, it is closed.", runtime: true,
                            read: { String($0.maxQueryBufferBytes) }) { c, text throws(ConfigurationValueError) in
            c.maxQueryBufferBytes = try memory(text, in: 1024...Int.max)
        },
        ConfigurationOption("client-output-buffer-limit", value: "BYTES",
                            "Unread replies one client may leave; past it, it is closed. 0: none.",
                            read: { String($0.maxOutputBufferBytes) }) { c, text throws(ConfigurationValueError) in
            c.maxOutputBufferBytes = try memory(text, in: 0...Int.max)
        },
        ConfigurationOption("maxmemory", value: "BYTES",
                            "Most bytes of data (the keyspace's estimate) before maxmemory-policy applies; 0: no limit.",
                            runtime: true, read: { String($0.maxMemoryBytes) }) { c, text throws(ConfigurationValueError) in
            c.maxMemoryBytes = try memory(text, in: 0...Int.max)
        },
        ConfigurationOption("maxmemory-policy", value: "POLICY",
                            "Over maxmemory: noeviction (refuse writes with -OOM), volatile-ttl, volatile-random or allkeys-random.",
                            runtime: true, read: { $0.maxMemoryPolicy.rawValue }) { c, text throws(ConfigurationValueError) in
            c.maxMemoryPolicy = try evictionPolicy(text)
        },
        ConfigurationOption("maxmemory-samples", value: "N", "Keys with a deadline compared per eviction (volatile-ttl).",
                            runtime: true, read: { String($0.maxMemorySamples) }) { c, text throws(ConfigurationValueError) in
            c.maxMemorySamples = try integer(text, in: 1...Int(Int32.max))
        },
        ConfigurationOption("proto-max-bulk-len", value: "BYTES", "Largest bulk string a client may send.",
                            read: { String($0.maxBulkLength) }) { c, text throws(ConfigurationValueError) in
            c.maxBulkLength = try memory(text, in: 1...RESPLimits.defaultMaxBulkLength)
        },
        ConfigurationOption("hz", value: "N", "Active-expiry runs per second (one a millisecond while expired keys pile up).",
                            read: { String(1000 / max($0.expiryIntervalMilliseconds, 1)) }) { c, text throws(ConfigurationValueError) in
            c.expiryIntervalMilliseconds = Int64(1000 / (try integer(text, in: 1...500)))
        },
        ConfigurationOption("enable-debug-command", value: "no|yes|local",
                            "Allow DEBUG (SET-CLOCK): no, yes, or local (loopback clients only).",
                            read: { $0.enableDebugCommand.rawValue }) { c, text throws(ConfigurationValueError) in
            c.enableDebugCommand = try oneOf(text)
        },
        ConfigurationOption("lua-time-limit", value: "MILLISECONDS",
                            "How long a Lua script may run before it is stopped; 0: no limit.",
                            read: { String($0.luaTimeLimitMilliseconds) }) { c, text throws(ConfigurationValueError) in
            c.luaTimeLimitMilliseconds = Int64(try integer(text, in: 0...Int(Int32.max)))
        },
        ConfigurationOption("backend", value: "URL",
                            "Keep limiter state in this Redis: redis://[[user]:password@]host[:port][/db] (preview: not wired yet).",
                            read: { $0.backendURL ?? "" }) { c, text throws(ConfigurationValueError) in
            c.backendURL = text.isEmpty ? nil : text
        },
        ConfigurationOption("backend-password", value: "PASSWORD", "Password for the backend Redis (overrides the URL's).",
                            read: { $0.backendPassword ?? "" }) { c, text throws(ConfigurationValueError) in
            c.backendPassword = text.isEmpty ? nil : text
        },
        ConfigurationOption("backend-pool-size", value: "N", "Connections to the backend Redis.",
                            read: { String($0.backendPoolSize) }) { c, text throws(ConfigurationValueError) in
            c.backendPoolSize = try integer(text, in: 1...256)
        },
        ConfigurationOption("backend-timeout-ms", value: "MILLISECONDS", "Backend connect and reply timeout.",
                            read: { String($0.backendTimeoutMilliseconds) }) { c, text throws(ConfigurationValueError) in
            c.backendTimeoutMilliseconds = try integer(text, in: 1...3_600_000)
        },
        ConfigurationOption("on-backend-failure", value: "fail-closed|fail-open",
                            "When the backend cannot decide: fail-closed (TRYAGAIN) or fail-open (allow).",
                            read: { $0.backendFailurePolicy.rawValue }) { c, text throws(ConfigurationValueError) in
            c.backendFailurePolicy = try oneOf(text)
        },
        ConfigurationOption("snapshot", value: "PATH", "Snapshot file to load at start and write on saves; empty: none.",
                            read: { $0.snapshotPath ?? "" }) { c, text throws(ConfigurationValueError) in
            c.snapshotPath = text.isEmpty ? nil : text
        },
        ConfigurationOption("snapshot-interval", value: "SECONDS", "Seconds between background snapshots; 0: only SAVE/BGSAVE/shutdown.",
                            read: { String($0.snapshotIntervalSeconds) }) { c, text throws(ConfigurationValueError) in
            c.snapshotIntervalSeconds = try integer(text, in: 0...Int(Int32.max))
        },
        ConfigurationOption("snapshot-ignore-corrupt", value: "yes|no",
                            "Start empty (with a warning) on a damaged snapshot instead of exiting.",
                            read: { $0.snapshotIgnoreCorrupt ? "yes" : "no" }) { c, text throws(ConfigurationValueError) in
            c.snapshotIgnoreCorrupt = try boolean(text)
        },
        ConfigurationOption("log-level", value: "LEVEL", "trace, debug, info, notice, warning, error or critical.",
                            read: { $0.logLevel.rawValue }) { c, text throws(ConfigurationValueError) in
            c.logLevel = try oneOf(text)
        },
        ConfigurationOption("log-format", value: "text|json", "Log lines as text, or one JSON object per line.",
                            read: { $0.logFormat.rawValue }) { c, text throws(ConfigurationValueError) in
            c.logFormat = try oneOf(text)
        },
        ConfigurationOption("metrics-port", value: "N", "Port serving Prometheus GET /metrics; 0: off.",
                            read: { String($0.metricsPort ?? 0) }) { c, text throws(ConfigurationValueError) in
            let port = try integer(text, in: 0...65_535)
            c.metricsPort = port == 0 ? nil : port
        },
        ConfigurationOption("metrics-bind", value: "ADDRESS", "Address the metrics port listens on.",
                            read: { $0.metricsHost }) { c, text throws(ConfigurationValueError) in
            guard !text.isEmpty else { throw ConfigurationValueError("argument must not be empty") }
            c.metricsHost = text
        },
        ConfigurationOption("slowlog-log-slower-than", value: "MICROSECONDS",
                            "Log commands charged at least this long in SLOWLOG; -1: none, 0: all.", runtime: true,
                            read: { String($0.slowlogSlowerThanMicroseconds) }) { c, text throws(ConfigurationValueError) in
            c.slowlogSlowerThanMicroseconds = try integer(text, in: -1...Int.max)
        },
        ConfigurationOption("slowlog-max-len", value: "N", "Most SLOWLOG entries kept.", runtime: true,
                            read: { String($0.slowlogMaxLength) }) { c, text throws(ConfigurationValueError) in
            c.slowlogMaxLength = try integer(text, in: 0...Int.max)
        },
        ConfigurationOption("shutdown-timeout", value: "SECONDS",
                            "On SIGTERM/SIGINT, how long open connections may take to finish; 0: close at once.", runtime: true,
                            read: { String($0.shutdownTimeoutSeconds) }) { c, text throws(ConfigurationValueError) in
            c.shutdownTimeoutSeconds = try integer(text, in: 0...Int(Int32.max))
        },
    ]

    static func named(_ name: String) -> ConfigurationOption? {
        let lowered = name.lowercased()
        return all.first { $0.name == lowered }
    }

    init(
        _ name: String, aliases: [String] = [], value: String, _ help: String, runtime: Bool = false,
        read: @escaping @Sendable (ServerConfiguration) -> String,
        write: @escaping @Sendable (inout ServerConfiguration, String) throws(ConfigurationValueError) -> Void
    ) {
        self.name = name
        self.flagAliases = aliases
        self.valueName = value
        self.help = help
        self.runtime = runtime
        self.read = read
        self.write = write
    }

    // MARK: Value parsers; their reasons are Redis's `CONFIG SET` wording.

    static func integer(_ text: String, in range: ClosedRange<Int>) throws(ConfigurationValueError) -> Int {
        guard let value = Int(text) else { throw ConfigurationValueError("argument couldn't be parsed into an integer") }
        guard range.contains(value) else {
            throw ConfigurationValueError("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
        }
        return value
    }

    static func boolean(_ text: String) throws(ConfigurationValueError) -> Bool {
        switch text.lowercased() {
        case "yes": return true
        case "no": return false
        default: throw ConfigurationValueError("argument must be 'yes' or 'no'")
        }
    }

    /// One of an enumeration's names, in any letter case; Redis's error lists them all.
    static func oneOf<Choice: RawRepresentable & CaseIterable>(_ text: String) throws(ConfigurationValueError) -> Choice
    where Choice.RawValue == String {
        if let choice = Choice(rawValue: text.lowercased()) { return choice }
        throw ConfigurationValueError("argument(s) must be one of the following: "
            + Choice.allCases.map(\.rawValue).joined(separator: ", "))
    }

    /// A `maxmemory-policy` name. Redis's LRU and LFU policies need an access time or
    /// counter updated on every read, which Sluice does not keep; they get a reason of their own.
    static func evictionPolicy(_ text: String) throws(ConfigurationValueError) -> EvictionPolicy {
        let lowered = text.lowercased()
        if ["volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu"].contains(lowered) {
            let supported = EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationValueError("\(lowered) is not supported (Sluice keeps no access times); use one of: \(supported)")
        }
        return try oneOf(text)
    }

    /// Redis's memory values: a number with an optional unit, `k`/`m`/`g` (powers of
    /// 1000) or `kb`/`mb`/`gb` (powers of 1024), in any letter case.
    static func memory(_ text: String, in range: ClosedRange<Int>) throws(ConfigurationValueError) -> Int {
        let lowered = text.lowercased()
        let digits = lowered.prefix { $0.isASCII && $0.isNumber }
        let units: [String: Int] = ["": 1, "b": 1, "k": 1_000, "kb": 1_024, "m": 1_000_000, "mb": 1_048_576,
                                    "g": 1_000_000_000, "gb": 1_073_741_824]
        guard !digits.isEmpty, let number = Int(digits), let unit = units[String(lowered.dropFirst(digits.count))] else {
            throw ConfigurationValueError("argument must be a memory value")
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow else { throw ConfigurationValueError("argument must be a memory value") }
        guard range.contains(value) else {
            throw ConfigurationValueError("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
        }
        return value
    }
}

/// Why a value was refused, in Redis's words (`argument must be 'yes' or 'no'`).
public struct ConfigurationValueError: Error, Sendable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Invalid configuration: names the option, where it came from and why.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension ServerConfiguration {
    /// Defaults, then the file, then the environment, then flags: each later source wins.
    ///
    /// - `flags`: `--name value` or `--name=value` words, in order.
    /// - `configPath`: the `--config` file; when nil, `SLUICE_CONFIG` names it, if set.
    /// - `readFile`: injected so tests need no files.
    /// - `validating`: false skips `validate()`, for `--health-check`, which binds nothing.
    public static func load(
        flags: [String],
        configPath: String? = nil,
        environment: [String: String],
        readFile: (String) throws(ConfigurationError) -> String = readTextFile,
        validating: Bool = true
    ) throws(ConfigurationError) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let path = configPath ?? environment["SLUICE_CONFIG"] {
            for entry in try ConfigurationFile.parse(try readFile(path), path: path) {
                guard let option = ConfigurationOption.named(entry.key) else {
                    throw ConfigurationError("\(path) line \(entry.line): unknown option '\(entry.key)'")
                }
                try configuration.apply(option, entry.value, source: "\(path) line \(entry.line)")
            }
        }
        for option in ConfigurationOption.all {
            if let text = environment[option.environmentName] {
                try configuration.apply(option, text, source: "environment variable \(option.environmentName)")
            }
        }
        for (option, text, flag) in try parseFlags(flags) {
            try configuration.apply(option, text, source: "flag --\(flag)")
        }
        // Redis's `port 0` next to `tls-port`: no plain-text port. Alone, 0 still picks a free port.
        if configuration.port == 0 && configuration.tlsPort != nil { configuration.plainTextEnabled = false }
        if validating { try configuration.validate() }
        return configuration
    }

    mutating func apply(_ option: ConfigurationOption, _ text: String, source: String) throws(ConfigurationError) {
        do {
            try option.write(&self, text)
        } catch {
            throw ConfigurationError("invalid \(option.name) '\(text)' (\(source)): \(error.reason)")
        }
    }

    /// `--name value` and `--name=value`, each name a table entry or one of its aliases.
    static func parseFlags(_ words: [String]) throws(ConfigurationError) -> [(ConfigurationOption, String, String)] {
        var result: [(ConfigurationOption, String, String)] = []
        var index = 0
        while index < words.count {
            let word = words[index]
            guard word.hasPrefix("--"), word.count > 2 else { throw ConfigurationError("unexpected argument '\(word)'") }
            var name = String(word.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = ConfigurationOption.all.first(where: { $0.name == name || $0.flagAliases.contains(name) }) else {
                throw ConfigurationError("unknown option '--\(name)' (see --help)")
            }
            if value == nil {
                guard index + 1 < words.count else { throw ConfigurationError("option '--\(name)' needs a value") }
                index += 1
                value = words[index]
            }
            result.append((option, value!, name))
            index += 1
        }
        return result
    }

    /// Checks that span options. Protected mode as in Redis, but enforced at start:
    /// a server reachable from other machines must have a password, unless told otherwise.
    public func validate() throws(ConfigurationError) {
        _ = try backendConfiguration()
        _ = try makeTLSContext()
        if protectedMode && requirePass == nil && !Self.isLoopback(host) {
            throw ConfigurationError(
                "refusing to start: bind \(host) is not a loopback address and no requirepass is set (protected mode). "
                    + "Set requirepass, or pass --protected-mode no to accept clients without a password.")
        }
    }

    /// The backend client's settings; nil without `backend`. The other backend settings
    /// alone are a mistake, reported as one.
    public func backendConfiguration() throws(ConfigurationError) -> RedisBackendConfiguration? {
        guard let backendURL else {
            let defaults = ServerConfiguration()
            guard backendPassword == nil, backendPoolSize == defaults.backendPoolSize,
                  backendTimeoutMilliseconds == defaults.backendTimeoutMilliseconds,
                  backendFailurePolicy == defaults.backendFailurePolicy
            else { throw ConfigurationError("the backend-* and on-backend-failure settings need backend") }
            return nil
        }
        do {
            var configuration = try RedisBackendConfiguration(url: backendURL)
            if let backendPassword { configuration.password = backendPassword }
            configuration.poolSize = backendPoolSize
            configuration.timeoutMilliseconds = backendTimeoutMilliseconds
            configuration.failurePolicy = backendFailurePolicy
            try configuration.validate()
            return configuration
        } catch {
            throw ConfigurationError("invalid backend '\(backendURL)': \(error)")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// `--help` text for every option: flag, environment variable, default, runtime-changeable.
    public static var optionsHelp: String {
        let defaults = ServerConfiguration()
        var lines = ["Settings: flag --NAME, file key NAME, environment SLUICE_NAME (dashes as\nunderscores); flags win over the environment, which wins over the file.\n"]
        for option in ConfigurationOption.all {
            let aliases = option.flagAliases.map { ", --\($0)" }.joined()
            let shown = option.value(in: defaults)
            lines.append("  --\(option.name) <\(option.valueName)>\(aliases)" + (option.runtime ? "  (CONFIG SET)" : ""))
            lines.append("      \(option.help)")
            lines.append("      env \(option.environmentName), default \(shown.isEmpty ? "none" : shown)")
        }
        return lines.joined(separator: "\n")
    }
}
