/// Keys are kept as raw bytes: Redis keys are binary-safe and need no text decoding.
public typealias Key = [UInt8]

/// What a key holds. Each command family checks the case it needs and answers
/// `WRONGTYPE` for any other.
///
/// Rate-limit state that is a plain integer (a GCRA TAT, a bounded counter) is a
/// `.string`, as redis-cell and dramatiq store it, so `GET` reads it; state with
/// structure has a case of its own that only its commands accept.
public enum Value: Sendable, Equatable {
    case string([UInt8])
    /// A string that is a canonical decimal integer, kept as the number: counters
    /// change in place without parsing or allocating (Redis's int encoding). Reads as
    /// a string everywhere.
    case integer(Int64)
    /// A leaky bucket (`CONSUME`/`PEEK`).
    case leakyBucket(LeakyBucketState)
    /// A sliding-window log (`ACQUIRE`).
    case slidingWindow(SlidingWindowLog)
    /// A list (`LPUSH`, `RPOP`, ...); never empty: its last pop deletes the key.
    case list(ListValue)
    /// A hash (`HSET`, `HGET`, ...).
    case hash(HashValue)
    /// A sorted set (`ZADD`, `ZRANGE`, ...).
    case sortedSet(SortedSet)

    /// The name `TYPE` reports (and `SCAN ... TYPE` matches).
    public var typeName: String {
        switch self {
        case .string, .integer: "string"
        case .leakyBucket: "leakybucket"
        case .slidingWindow: "slidingwindow"
        case .list: "list"
        case .hash: "hash"
        case .sortedSet: "zset"
        }
    }
}
