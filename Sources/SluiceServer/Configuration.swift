import Logging
import RESP
import SluiceCore
import SluiceRedisBackend

/// How a Sluice server runs. `ConfigurationOption.all` maps file keys, environment
/// variables, flags and `CONFIG GET` names onto these fields.
public struct ServerConfiguration: Sendable {
    /// Address to listen on; loopback unless told otherwise.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free one (see `SluiceServer.port`).
    public var port: Int = 6380
    /// Whether `port` is served at all; false for Redis's `port 0` next to `tls-port` (TLS only).
    public var plainTextEnabled = true
    /// TLS port, served beside `port` on the same address (Redis's `tls-port`); nil: no TLS.
    /// 0 picks a free port (tests); the `tls-port` option's 0 means off.
    public var tlsPort: Int? = nil
    /// PEM certificate chain the TLS port presents, leaf first.
    public var tlsCertificatePath: String? = nil
    /// PEM private key of that certificate (unencrypted).
    public var tlsKeyPath: String? = nil
    /// PEM CA certificates that client certificates must chain to; used with `tlsAuthClients`.
    public var tlsCACertificatePath: String? = nil
    /// Whether TLS clients must present a certificate (Redis's `tls-auth-clients`, whose default is yes).
    public var tlsAuthClients: TLSClientAuthentication = .no
    /// Event-loop threads serving connections.
    public var threads: Int = 1
    /// Keyspace shards, each under its own lock (a power of two); 0 picks `shards`.
    public var keyspaceShards: Int = 0

    /// The keyspace shards the server runs with: `keyspaceShards`, or when 0 one with a
    /// single event loop (nothing runs beside it) or in backend mode (whose bursts take
    /// every lock, the rate-limit commands being Redis's), and else four per event loop,
    /// so that lone commands of different loops seldom want the same shard.
    public var shards: Int {
        if keyspaceShards > 0 { return keyspaceShards }
        guard threads > 1, backendURL == nil else { return 1 }
        var count = 1
        while count < threads * 4 && count < ShardedKeyspace.maximumShards { count *= 2 }
        return count
    }
    /// Largest bulk string a client may send, in bytes (Redis's `proto-max-bulk-len`).
    public var maxBulkLength: Int = RESPLimits.defaultMaxBulkLength
    /// Largest number of arguments in one command.
    public var maxArguments: Int = RESPLimits.defaultMaxArrayCount
    /// How often active expiry runs, in milliseconds.
    public var expiryIntervalMilliseconds: Int64 = 100
    /// Longest one active-expiry run may take from the event loop it runs on, in
    /// microseconds (Redis's fast cycle takes 1,000); 0 runs one step of 1,000 checks.
    public var expirySliceMicroseconds: Int64 = 1_000
    /// Longest a Lua script may run before it is stopped with an error, in milliseconds
    /// (Redis's `lua-time-limit`); 0 never stops scripts.
    public var luaTimeLimitMilliseconds: Int64 = 5_000

    /// Who may run `DEBUG` (Redis's `enable-debug-command`); with `.no`, the clock is never wrapped.
    public var enableDebugCommand: DebugCommandAccess = .no
    /// Backend mode's Redis, `redis://[[user]:password@]host[:port][/db]`; nil keeps
    /// limiter state in memory.
    public var backendURL: String? = nil
    /// Password for the backend Redis, overriding the URL's.
    public var backendPassword: String? = nil
    /// Connections to the backend Redis.
    public var backendPoolSize: Int = RedisBackendConfiguration().poolSize
    /// Backend connect and reply timeout, in milliseconds.
    public var backendTimeoutMilliseconds: Int = RedisBackendConfiguration().timeoutMilliseconds
    /// What a native command answers when the backend cannot decide.
    public var backendFailurePolicy: BackendFailurePolicy = RedisBackendConfiguration().failurePolicy

    /// The default user's password (Redis's `requirepass`); nil: connections need no `AUTH`.
    public var requirePass: String? = nil
    /// Refuse to start bound to a non-loopback address without a password.
    public var protectedMode = true
    /// Most connections served at once; one more gets `-ERR max number of clients reached`.
    public var maxClients = 10_000
    /// Seconds a client may stay idle before it is closed; 0 never closes.
    public var idleTimeoutSeconds = 0
    /// Most bytes of not-yet-complete input one client may hold (Redis's `client-query-buffer-limit`).
    public var maxQueryBufferBytes = 1024 * 1024 * 1024
    /// Most bytes of replies a client may leave unread before it is disconnected; 0: no limit.
    public var maxOutputBufferBytes = 256 * 1024 * 1024
    /// Most bytes of data, as the keyspace estimates them, before `maxMemoryPolicy`
    /// applies (Redis's `maxmemory`); 0: no limit.
    public var maxMemoryBytes = 0
    /// Over `maxMemoryBytes`: refuse commands that add data, or evict keys.
    public var maxMemoryPolicy: EvictionPolicy = .noEviction
    /// Keys with a deadline sampled per eviction (Redis's `maxmemory-samples`).
    public var maxMemorySamples = 5
    /// How often each connection checks its idle time, in milliseconds (tests shorten it).
    public var idleCheckIntervalMilliseconds: Int64 = 1_000
    /// Snapshot file: loaded at start, written on SAVE, BGSAVE, the timer and shutdown; nil: no persistence.
    public var snapshotPath: String? = nil
    /// Seconds between background snapshots; 0 writes only on SAVE, BGSAVE and shutdown.
    public var snapshotIntervalSeconds = 60
    /// Start empty, with a warning, when the snapshot is damaged, instead of refusing to start.
    public var snapshotIgnoreCorrupt = false
    /// Lowest level logged.
    public var logLevel: Logger.Level = .info
    /// How log lines look: swift-log's text, or one JSON object per line.
    public var logFormat: LogFormat = .text
    /// Port serving Prometheus `GET /metrics`; nil: none. 0 picks a free port (tests);
    /// the `metrics-port` option's 0 means off.
    public var metricsPort: Int? = nil
    /// Address the metrics listener binds.
    public var metricsHost: String = "127.0.0.1"
    /// Commands charged at least this many microseconds go to `SLOWLOG`; negative: none.
    public var slowlogSlowerThanMicroseconds = 10_000
    /// Most `SLOWLOG` entries kept.
    public var slowlogMaxLength = 128
    /// Seconds a graceful shutdown waits for open connections to finish before closing
    /// them (Redis's `shutdown-timeout`); 0 closes them at once.
    public var shutdownTimeoutSeconds = 10

    public init() {}

    var limits: RESPLimits {
        RESPLimits(maxBulkLength: maxBulkLength, maxArrayCount: maxArguments)
    }
}

/// `log-format`: `text` (swift-log's stream handler) or `json` (`JSONLogHandler`).
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// Redis's `enable-debug-command`: `no`, `yes`, or `local` (loopback connections only).
public enum DebugCommandAccess: String, Sendable, CaseIterable {
    case no
    case yes
    case local
}
