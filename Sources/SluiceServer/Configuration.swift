import RESP
import SluiceRedisBackend

/// How a Sluice server runs. Flags and environment map onto this in the executable.
public struct ServerConfiguration: Sendable {
    /// Address to listen on; loopback unless told otherwise.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free one (see `SluiceServer.port`).
    public var port: Int = 6380
    /// Event-loop threads serving connections.
    public var threads: Int = 1
    /// Largest bulk string a client may send, in bytes (Redis's `proto-max-bulk-len`).
    public var maxBulkLength: Int = RESPLimits.defaultMaxBulkLength
    /// Largest number of arguments in one command.
    public var maxArguments: Int = RESPLimits.defaultMaxArrayCount
    /// How often active expiry runs, in milliseconds.
    public var expiryIntervalMilliseconds: Int64 = 100
    /// Longest time one active-expiry run may hold the keyspace, in milliseconds.
    public var expiryBudgetMilliseconds: Int64 = 25

    /// Who may run `DEBUG` (Redis's `enable-debug-command`); with `.no`, the clock is never wrapped.
    public var enableDebugCommand: DebugCommandAccess = .no
    /// Backend mode's Redis (`--backend`); nil keeps limiter state in memory.
    /// Preview: validated but not used by command dispatch yet.
    public var backend: RedisBackendConfiguration? = nil

    public init() {}

    var limits: RESPLimits {
        RESPLimits(maxBulkLength: maxBulkLength, maxArrayCount: maxArguments)
    }
}

/// Redis's `enable-debug-command`: `no`, `yes`, or `local` (loopback connections only).
public enum DebugCommandAccess: String, Sendable, CaseIterable {
    case no
    case yes
    case local
}
