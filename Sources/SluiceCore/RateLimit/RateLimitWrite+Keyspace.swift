extension Keyspace {
    /// Carries out a rate-limit decision's write on `key`: `.store` replaces the value
    /// (wrapped by `wrap`) with the deadline `deadline` gives for `now + ttl`, so a key
    /// never expires before its state may be dropped; `.delete`
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

    /// The deadline for a state that may be dropped `ttl` after `now`: the Unix
    /// millisecond holding `now + ttl`, as Redis's `SET ... PX` sets it (a key lives
    /// through its deadline's millisecond), but never the current one: Redis deletes a
    /// key at once when given a deadline not after its clock, and backend mode sets the
    /// same deadlines.
    public static func deadline(now: Instant, ttlNanoseconds: Int64) -> Int64 {
        let end = Instant(nanoseconds: now.nanoseconds.clampedAdding(max(0, ttlNanoseconds)))
        return max(end.milliseconds, now.milliseconds + 1)
    }
}

extension RateLimitWrite {
    /// Carries out the write on an entry opened with `Keyspace.withEntry`: `.store`
    /// replaces the value (wrapped by `wrap`) and sets the deadline for `now + ttl`
    /// (`Keyspace.deadline`); `.delete` clears the value; `.keep` changes nothing.
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
