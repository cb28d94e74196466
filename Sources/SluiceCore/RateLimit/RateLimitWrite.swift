/// What the caller must do to the stored state after a rate-limit decision.
///
/// The algorithms never touch a keyspace: they take the stored state (nil when the key
/// is absent) and return one of these. `ttlNanoseconds` is positive (0 only when `now`
/// is `Int64.max` ns) and `now + ttl` never overflows; from `now + ttl` on, the stored state may be dropped
/// (see each algorithm for what "may be dropped" means there).
public enum RateLimitWrite<State: Sendable & Hashable>: Sendable, Hashable {
    /// Leave the stored value and its expiry exactly as they are (absent stays absent).
    case keep
    /// Remove the key.
    case delete
    /// Replace the value and set its expiry to `now + ttlNanoseconds`.
    case store(State, ttlNanoseconds: Int64)
}

/// Named bounds shared by the rate-limit algorithms.
public enum RateLimitLimits {
    /// Largest duration accepted where a duration is given in seconds (about 31.7 years),
    /// so every duration fits in Int64 nanoseconds next to an epoch instant.
    public static let maximumSeconds: Double = 1_000_000_000
}

// MARK: - Overflow-free arithmetic used by every algorithm

extension Int64 {
    /// `self + other`, clamped to the Int64 range instead of trapping.
    @inline(__always)
    func clampedAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to the Int64 range instead of trapping.
    @inline(__always)
    func clampedSubtracting(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }

    /// `self * other`, clamped to the Int64 range instead of trapping.
    @inline(__always)
    func clampedMultiplied(by other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        if !overflow { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// Positive `self` nanoseconds rounded up to whole `unit`s; non-positive values truncate toward zero.
    @inline(__always)
    func ceilingDivided(by unit: Int64) -> Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: unit)
        return remainder > 0 ? quotient + 1 : quotient
    }
}

/// A TTL of at least 1 ns that never overflows when added to `now` (so it is 0 only at
/// the very last representable instant).
@inline(__always)
func clampedTTL(_ ttl: Int64, now: Instant) -> Int64 {
    let room = Int64.max.clampedSubtracting(now.nanoseconds)
    return Swift.min(Swift.max(1, ttl), room)
}

/// Converts a validated number of seconds to nanoseconds.
///
/// Rejects NaN, infinities, negatives, values above `RateLimitLimits.maximumSeconds`, zero unless
/// `allowZero`, and positive values that round to 0 ns.
func nanoseconds(fromSeconds seconds: Double, argument: String, allowZero: Bool) throws(RateLimitError) -> Int64 {
    guard seconds.isFinite, allowZero ? seconds >= 0 : seconds > 0 else {
        throw allowZero ? .notNonNegativeNumber(argument) : .notPositiveNumber(argument)
    }
    guard seconds <= RateLimitLimits.maximumSeconds else {
        throw .tooLarge(argument, maximum: "1000000000 seconds")
    }
    let nanoseconds = Int64((seconds * 1e9).rounded())
    if seconds > 0, nanoseconds < 1 { throw .belowOneNanosecond(argument) }
    return nanoseconds
}
