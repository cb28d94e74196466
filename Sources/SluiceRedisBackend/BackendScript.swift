import SluiceLuaScripts

/// One of the lua/ scripts: the single source of backend mode's rate-limit decisions.
///
/// Every script takes an optional trailing `NOW <ns>` (nanoseconds since the epoch) that
/// replaces Redis's `TIME`; the server never sends it, tests do. Every script also has a
/// `BATCH` form (many calls in one run, from lua/prelude/common.lua), which connections
/// use for consecutive calls. See each file's header for its arguments, reply and state
/// encoding.
public enum BackendScript: String, CaseIterable, Sendable, Hashable {
    /// `CONSUME`/`PEEK`: `key` + `consume|peek capacity recharge_s amount block_s`.
    case leakyBucket = "leaky_bucket"
    /// `ADD`/`INCR`/`DECR`/`INCR_AND_SUM`: `key [sumkey...]` + `add value ttl_ms` or
    /// `incr|decr|incr_and_sum amount bound ttl_ms`.
    case boundedCounter = "bounded_counter"
    /// `CL.THROTTLE`: `key` + `max_burst count_per_period period_s quantity`.
    case cellThrottle = "cell_throttle"
    /// `ACQUIRE`: `key` + `weight limit interval_ms [limit interval_ms ...]`.
    case slidingWindow = "sliding_window"

    /// The file under lua/, e.g. `leaky_bucket.lua`.
    public var fileName: String { rawValue + ".lua" }

    /// The script's text, embedded from lua/ at build time.
    public var source: String {
        switch self {
        case .leakyBucket: String(cString: sluice_lua_leaky_bucket())
        case .boundedCounter: String(cString: sluice_lua_bounded_counter())
        case .cellThrottle: String(cString: sluice_lua_cell_throttle())
        case .slidingWindow: String(cString: sluice_lua_sliding_window())
        }
    }
}
