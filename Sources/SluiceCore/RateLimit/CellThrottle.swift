/// GCRA compatible with redis-cell's `CL.THROTTLE key max_burst count_per_period period [quantity]`.
///
/// The stored state is one integer: the theoretical arrival time (TAT), nanoseconds since
/// the epoch, of the moment the bucket is empty again. `limit` is `max_burst + 1`
/// requests; one request is released every `period / count_per_period` (the emission
/// interval, truncated to whole nanoseconds as redis-cell does).
///
/// Differences from redis-cell, all deliberate:
/// - Seconds in the reply are the exact ceiling of the nanosecond value: redis-cell adds a
///   second only for a remainder of at least 1 ms, so 1.0004 s became 1 and a caller that
///   waited that long was still limited. Whole seconds are never bumped (Dragonfly's
///   off-by-one, dragonflydb/dragonfly#1008 and #8288: 2 s reported as 3).
/// - A stored TAT in the past counts as `now`, so `reset_after` is never negative and
///   `remaining` never exceeds `limit` while an expired TAT lingers.
/// - Negative quantities are rejected (redis-cell accepts them and moves the TAT back).
/// - Ranges are checked instead of wrapping: a rate whose burst window overflows Int64
///   nanoseconds is rejected, and arithmetic on a stored TAT saturates.
public struct CellThrottle: Sendable, Hashable {
    /// `max_burst + 1`: requests allowed at once on a fresh key.
    public let limit: Int64
    /// Nanoseconds between two requests at the sustained rate.
    public let emissionIntervalNanoseconds: Int64
    /// `emission interval × limit`: how far ahead of `now` the TAT may run.
    public let delayVariationToleranceNanoseconds: Int64

    /// Validates the parameters; `period` is in nanoseconds, so fractional seconds work.
    public init(maxBurst: Int64, countPerPeriod: Int64, periodNanoseconds: Int64) throws(RateLimitError) {
        guard maxBurst >= 0 else { throw .notNonNegativeInteger("max_burst") }
        guard maxBurst < Int64.max else { throw .overflow("max_burst") }
        guard countPerPeriod >= 0 else { throw .notPositiveInteger("count_per_period") }
        guard periodNanoseconds >= 0 else { throw .notPositiveInteger("period") }
        guard periodNanoseconds > 0 else { throw .zeroRate("period") }
        guard countPerPeriod > 0 else { throw .zeroRate("count_per_period") }
        let emission = periodNanoseconds / countPerPeriod
        guard emission > 0 else { throw .zeroRate("count_per_period") }
        let (tolerance, overflow) = emission.multipliedReportingOverflow(by: maxBurst + 1)
        guard !overflow else { throw .overflow("max_burst") }
        self.limit = maxBurst + 1
        self.emissionIntervalNanoseconds = emission
        self.delayVariationToleranceNanoseconds = tolerance
    }

    /// Validates the parameters with `period` in whole seconds, as `CL.THROTTLE` takes it.
    public init(maxBurst: Int64, countPerPeriod: Int64, periodSeconds: Int64) throws(RateLimitError) {
        guard periodSeconds <= Int64(RateLimitLimits.maximumSeconds) else {
            throw .tooLarge("period", maximum: "1000000000 seconds")
        }
        try self.init(
            maxBurst: maxBurst,
            countPerPeriod: countPerPeriod,
            periodNanoseconds: periodSeconds.clampedMultiplied(by: 1_000_000_000)
        )
    }

    /// Validates the parameters with `period` in seconds, fractions allowed (Sluice's
    /// `CL.THROTTLE` accepts `0.5` or `1e-3` where redis-cell takes whole seconds only).
    public init(maxBurst: Int64, countPerPeriod: Int64, period periodSeconds: Double) throws(RateLimitError) {
        // Zero goes on to the nanosecond initialiser for redis-cell's "Zero rates" message.
        let period = periodSeconds == 0 ? 0 : try nanoseconds(fromSeconds: periodSeconds, argument: "period", allowZero: false)
        try self.init(maxBurst: maxBurst, countPerPeriod: countPerPeriod, periodNanoseconds: period)
    }

    /// Applies `quantity` requests at `now` to the stored TAT (nil when the key is absent).
    /// Quantity 0 only looks. A limited request changes nothing.
    ///
    /// TTL rule: after an allowed request the new TAT is stored with TTL `newTat - now`;
    /// from then on a TAT at or before `now` answers exactly like an absent key.
    public func throttle(tat: Int64?, quantity: Int64 = 1, now: Instant) throws(RateLimitError) -> ThrottleOutcome {
        guard quantity >= 0 else { throw .notNonNegativeInteger("quantity") }
        let now = now.nanoseconds
        // Worked as durations from `now`: a TAT near the end of Int64 saturated
        // `tat + increment`, which understated the retry time by what was cut off.
        let pending = max(0, (tat ?? now).clampedSubtracting(now))

        let limited: Bool
        let retryAfter: Int64
        let ttl: Int64
        var write: RateLimitWrite<Int64> = .keep
        if quantity > limit {
            // Larger than the whole burst: can never pass, so no retry time.
            limited = true
            retryAfter = -1
            ttl = pending
        } else {
            // quantity <= limit, so this is at most the tolerance and cannot overflow.
            let increment = emissionIntervalNanoseconds * quantity
            // How long until the new TAT is within the tolerance: pending + increment -
            // tolerance, taken in an order that cannot overflow.
            let wait = pending - (delayVariationToleranceNanoseconds - increment)
            if wait > 0 {
                limited = true
                retryAfter = wait
                ttl = pending
            } else {
                limited = false
                retryAfter = -1
                // At most the tolerance, as wait <= 0.
                ttl = pending + increment
                if quantity > 0 {
                    write = .store(now.clampedAdding(ttl), ttlNanoseconds: clampedTTL(ttl, now: Instant(nanoseconds: now)))
                }
            }
        }
        // ttl >= 0 and the tolerance > 0, so this cannot overflow.
        let next = delayVariationToleranceNanoseconds - ttl
        let result = ThrottleResult(
            limited: limited,
            limit: limit,
            remaining: next > 0 ? next / emissionIntervalNanoseconds : 0,
            retryAfterNanoseconds: retryAfter,
            resetAfterNanoseconds: ttl
        )
        return ThrottleOutcome(result: result, write: write)
    }
}

/// `CL.THROTTLE`'s five reply fields, with the precise durations behind the last two.
public struct ThrottleResult: Sendable, Hashable {
    /// Reply field 1 (as 0/1): whether the request was refused.
    public var limited: Bool
    /// Reply field 2: `max_burst + 1`.
    public var limit: Int64
    /// Reply field 3: requests that would still pass now.
    public var remaining: Int64
    /// Nanoseconds until this request would pass; -1 when it passed or can never pass.
    public var retryAfterNanoseconds: Int64
    /// Nanoseconds until the bucket is full again (the key's TTL); never negative.
    public var resetAfterNanoseconds: Int64

    public init(limited: Bool, limit: Int64, remaining: Int64, retryAfterNanoseconds: Int64, resetAfterNanoseconds: Int64) {
        self.limited = limited
        self.limit = limit
        self.remaining = remaining
        self.retryAfterNanoseconds = retryAfterNanoseconds
        self.resetAfterNanoseconds = resetAfterNanoseconds
    }

    /// Reply field 4: whole seconds, rounded up; -1 when not applicable.
    public var retryAfter: Int64 {
        retryAfterNanoseconds < 0 ? -1 : retryAfterNanoseconds.ceilingDivided(by: 1_000_000_000)
    }

    /// Reply field 5: whole seconds, rounded up.
    public var resetAfter: Int64 { resetAfterNanoseconds.ceilingDivided(by: 1_000_000_000) }

    /// `retryAfter` in whole milliseconds, rounded up; -1 when not applicable.
    public var retryAfterMilliseconds: Int64 {
        retryAfterNanoseconds < 0 ? -1 : retryAfterNanoseconds.ceilingDivided(by: 1_000_000)
    }

    /// `resetAfter` in whole milliseconds, rounded up.
    public var resetAfterMilliseconds: Int64 { resetAfterNanoseconds.ceilingDivided(by: 1_000_000) }
}

/// A throttle's answer and what to do with the stored TAT.
public struct ThrottleOutcome: Sendable, Hashable {
    public var result: ThrottleResult
    /// `.store(newTat, ttl)` after an allowed request with quantity > 0, otherwise `.keep`.
    public var write: RateLimitWrite<Int64>

    public init(result: ThrottleResult, write: RateLimitWrite<Int64>) {
        self.result = result
        self.write = write
    }
}
