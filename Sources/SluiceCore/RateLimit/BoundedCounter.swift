/// Bounded integer counters with the semantics of dramatiq's `RedisBackend` (2.x,
/// `dramatiq/rate_limits/backends/redis.py`), which its bucket, window and concurrent
/// rate limiters and its barrier are built on.
///
/// The caller reads the current integer value of each key (nil when the key is absent;
/// dramatiq also reads an empty string as 0) and applies the returned write. TTLs are
/// milliseconds, as dramatiq passes them to `SET ... PX`:
/// - `add` sets the TTL only when it creates the key;
/// - `incr`, `decr` and `incrAndSum` replace the value *and* reset the TTL to `ttl` when
///   they succeed, and leave value and TTL untouched when they refuse.
public enum BoundedCounter {
    /// `add(key, value, ttl)`: store `value` only if the key is absent.
    public static func add(current: Int64?, value: Int64, ttlMilliseconds: Int64, now: Instant) throws(RateLimitError) -> BoundedCounterOutcome {
        let ttl = try ttlNanoseconds(ttlMilliseconds, now: now)
        guard current == nil else { return .refused }
        return BoundedCounterOutcome(applied: true, write: .store(value, ttlNanoseconds: ttl))
    }

    /// `incr(key, amount, maximum, ttl)`: add `amount` (absent counts as 0) unless the
    /// result would exceed `maximum`.
    public static func incr(
        current: Int64?,
        amount: Int64,
        maximum: Int64,
        ttlMilliseconds: Int64,
        now: Instant
    ) throws(RateLimitError) -> BoundedCounterOutcome {
        let ttl = try ttlNanoseconds(ttlMilliseconds, now: now)
        let value = Int128(current ?? 0) + Int128(amount)
        guard value <= Int128(maximum) else { return .refused }
        return try store(value, ttl: ttl)
    }

    /// `decr(key, amount, minimum, ttl)`: subtract `amount` (absent counts as 0) unless
    /// the result would fall below `minimum`.
    public static func decr(
        current: Int64?,
        amount: Int64,
        minimum: Int64,
        ttlMilliseconds: Int64,
        now: Instant
    ) throws(RateLimitError) -> BoundedCounterOutcome {
        let ttl = try ttlNanoseconds(ttlMilliseconds, now: now)
        let value = Int128(current ?? 0) - Int128(amount)
        guard value >= Int128(minimum) else { return .refused }
        return try store(value, ttl: ttl)
    }

    /// `incr_and_sum(key, keys, amount, maximum, ttl)`: add `amount` to the key unless
    /// either the key's new value or `amount` plus the sum of `summed` exceeds `maximum`.
    ///
    /// `summed` holds the current values of the keys to sum, one per listed key in the
    /// order listed (dramatiq's window limiter lists the key itself among them; a key
    /// listed twice counts twice); absent keys are nil and add nothing.
    public static func incrAndSum(
        current: Int64?,
        summed: [Int64?],
        amount: Int64,
        maximum: Int64,
        ttlMilliseconds: Int64,
        now: Instant
    ) throws(RateLimitError) -> BoundedCounterOutcome {
        let ttl = try ttlNanoseconds(ttlMilliseconds, now: now)
        let value = Int128(current ?? 0) + Int128(amount)
        guard value <= Int128(maximum) else { return .refused }
        // Int128 cannot overflow here: it would take 2^63 summed values.
        var total = Int128(amount)
        for case let summand? in summed {
            total += Int128(summand)
        }
        guard total <= Int128(maximum) else { return .refused }
        return try store(value, ttl: ttl)
    }

    private static func ttlNanoseconds(_ milliseconds: Int64, now: Instant) throws(RateLimitError) -> Int64 {
        guard milliseconds > 0 else { throw .notPositiveInteger("ttl") }
        return clampedTTL(milliseconds.clampedMultiplied(by: 1_000_000), now: now)
    }

    /// Python's integers are unbounded; a result outside Int64 cannot be stored here.
    private static func store(_ value: Int128, ttl: Int64) throws(RateLimitError) -> BoundedCounterOutcome {
        guard let stored = Int64(exactly: value) else { throw .counterOverflow("amount") }
        return BoundedCounterOutcome(applied: true, write: .store(stored, ttlNanoseconds: ttl))
    }
}

/// The answer of a bounded-counter operation and what to store.
public struct BoundedCounterOutcome: Sendable, Hashable {
    /// dramatiq's boolean reply: whether the operation took effect.
    public var applied: Bool
    /// `.store(newValue, ttl)` when applied, `.keep` when refused.
    public var write: RateLimitWrite<Int64>

    public init(applied: Bool, write: RateLimitWrite<Int64>) {
        self.applied = applied
        self.write = write
    }

    static var refused: Self { Self(applied: false, write: .keep) }
}
