extension Keyspace {
    /// Carries out a rate-limit decision's write on `key`: `.store` replaces the value
    /// (wrapped by `wrap`) with the deadline `now + ttl` rounded up to a whole
    /// millisecond, so a key never expires before its state may be dropped; `.delete`
    /// removes the key; `.keep` changes nothing.
    @inlinable
    public mutating func apply<State>(
        _ write: RateLimitWrite<State>,
        to key: Key,
        now: Instant,
        as wrap: (State) -> Value
    ) {
        switch write {
        case .keep:
            return
        case .delete:
            remove(key, now: now)
        case .store(let state, let ttlNanoseconds):
            set(key, wrap(state), expiresAt: Self.deadline(now: now, ttlNanoseconds: ttlNanoseconds), now: now)
        }
    }

    /// `now + ttl` in Unix milliseconds, rounded up (the sum never overflows: see `RateLimitWrite`).
    public static func deadline(now: Instant, ttlNanoseconds: Int64) -> Int64 {
        let end = now.nanoseconds.clampedAdding(max(0, ttlNanoseconds))
        let (quotient, remainder) = end.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder > 0 ? quotient + 1 : quotient
    }
}
