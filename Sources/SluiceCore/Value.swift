/// Keys are kept as raw bytes: Redis keys are binary-safe and need no text decoding.
public typealias Key = [UInt8]

/// What a key holds. Each command family checks the case it needs and answers
/// `WRONGTYPE` for any other.
///
/// Rate-limit state that is a plain integer (a GCRA TAT, a bounded counter) is a
/// `.string`, as redis-cell and dramatiq store it, so `GET` reads it; state with
/// structure has a case of its own that only its commands accept.
///
/// Every case's payload fits in 16 bytes, so a value is 17 and a keyspace entry 48
/// (Keyspace.swift). Wider state is boxed (`indirect`): a blocked leaky bucket, as blocks
/// are rare. Lists, hashes, sorted sets and sets keep their contents in a byte array or
/// a class of their own, which they change in place.
public enum Value: Sendable, Equatable {
    case string([UInt8])
    /// A string that is a canonical decimal integer, kept as the number: counters
    /// change in place without parsing or allocating (Redis's int encoding). Reads as
    /// a string everywhere.
    case integer(Int64)
    /// A leaky bucket (`CONSUME`/`PEEK`) that no failed consume has blocked: its level
    /// and tick phase. Build and read buckets with `init(leakyBucket:)` and
    /// `leakyBucketState`, which pick between this case and the blocked one.
    case leakyBucket(level: Int64, lastLeak: Instant)
    /// A leaky bucket with a block deadline.
    indirect case blockedLeakyBucket(LeakyBucketState)
    /// A sliding-window log (`ACQUIRE`).
    case slidingWindow(SlidingWindowLog)
    /// A list (`LPUSH`, `RPOP`, ...); never empty: its last pop deletes the key.
    case list(ListValue)
    /// A hash (`HSET`, `HGET`, ...); one reference to its contents (HashValue.swift).
    case hash(HashValue)
    /// A sorted set (`ZADD`, `ZRANGE`, ...); one reference to its contents (SortedSet.swift).
    case sortedSet(SortedSet)
    /// A set (`SADD`, `SMEMBERS`, ...); one reference to its contents (SetValue.swift).
    case set(SetValue)

    /// The name `TYPE` reports (and `SCAN ... TYPE` matches).
    public var typeName: String {
        switch self {
        case .string, .integer: "string"
        case .leakyBucket, .blockedLeakyBucket: "leakybucket"
        case .slidingWindow: "slidingwindow"
        case .list: "list"
        case .hash: "hash"
        case .sortedSet: "zset"
        case .set: "set"
        }
    }
}

extension Value {
    /// Whether the payload is a reference to heap storage (an array's or a box's), the
    /// value's first word (`Keyspace.prefetchValue`).
    @inline(__always)
    var pointsToStorage: Bool {
        switch self {
        case .integer, .leakyBucket: false
        case .string, .slidingWindow, .blockedLeakyBucket, .list, .hash, .sortedSet, .set: true
        }
    }

    @inline(__always)
    var isSlidingWindow: Bool {
        if case .slidingWindow = self { true } else { false }
    }

    /// A leaky bucket's value: inline unless it is blocked.
    public init(leakyBucket state: LeakyBucketState) {
        if state.blockedUntil == nil {
            self = .leakyBucket(level: state.level, lastLeak: state.lastLeak)
        } else {
            self = .blockedLeakyBucket(state)
        }
    }

    /// The leaky bucket this value holds, nil for any other kind.
    public var leakyBucketState: LeakyBucketState? {
        switch self {
        case .leakyBucket(let level, let lastLeak): LeakyBucketState(level: level, lastLeak: lastLeak)
        case .blockedLeakyBucket(let state): state
        default: nil
        }
    }
}
