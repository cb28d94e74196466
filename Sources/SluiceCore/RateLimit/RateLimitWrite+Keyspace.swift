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
        withEntry(key, now: now) { value, deadline in
            write.apply(to: &value, deadline: &deadline, now: now, as: wrap)
        }
    }

    /// `now + ttl` in Unix milliseconds, rounded up (the sum never overflows: see `RateLimitWrite`).
    public static func deadline(now: Instant, ttlNanoseconds: Int64) -> Int64 {
        let end = now.nanoseconds.clampedAdding(max(0, ttlNanoseconds))
        let (quotient, remainder) = end.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder > 0 ? quotient + 1 : quotient
    }
}

extension RateLimitWrite {
    /// Carries out the write on an entry opened with `Keyspace.withEntry`: `.store`
    /// replaces the value (wrapped by `wrap`) and sets the deadline `now + ttl` rounded
    /// up to a whole millisecond; `.delete` clears the value; `.keep` changes nothing.
    @inlinable
    public func apply(to value: inout Value?, deadline: inout Int64?, now: Instant, as wrap: (State) -> Value) {
        switch self {
        case .keep:
            break
        case .delete:
            value = nil
        case .store(let state, let ttlNanoseconds):
            value = wrap(state)
            deadline = Keyspace.deadline(now: now, ttlNanoseconds: ttlNanoseconds)
        }
    }
}
