/// A leaky bucket with aiosteady's semantics (`aiosteady.Throttler`, 22.1.0).
///
/// The bucket holds up to `capacity` drops and starts empty. Consuming adds drops; one
/// drop leaks out every `recharge`, on a tick schedule that starts when an empty key is
/// first filled and keeps its phase until the key expires. A consume that would
/// overflow fails; with a `block` duration it also blocks the bucket, and every consume
/// fails until the block ends. A negative amount removes drops, down to zero.
///
/// Time is integer nanoseconds throughout, so a tick that lands exactly on `now` always
/// leaks (aiosteady divides floats, and e.g. 0.6 / 0.2 floors to 2).
public struct LeakyBucket: Sendable, Hashable {
    /// Most drops the bucket holds.
    public let capacity: Int64
    /// Nanoseconds for one drop to leak out.
    public let rechargeNanoseconds: Int64
    /// Nanoseconds a failed consume blocks the bucket for; nil when failures do not block.
    public let blockNanoseconds: Int64?

    /// Validates the parameters.
    ///
    /// - Parameters:
    ///   - capacity: drops the bucket holds; must be positive.
    ///   - recharge: seconds per leaked drop; positive, finite, fractions allowed.
    ///   - block: seconds a failed consume blocks the bucket; nil or 0 for no blocking.
    public init(capacity: Int64, recharge: Double, block: Double? = nil) throws(RateLimitError) {
        guard capacity > 0 else { throw .notPositiveInteger("capacity") }
        self.capacity = capacity
        self.rechargeNanoseconds = try nanoseconds(fromSeconds: recharge, argument: "recharge", allowZero: false)
        if let block {
            let blockNanoseconds = try nanoseconds(fromSeconds: block, argument: "block", allowZero: true)
            self.blockNanoseconds = blockNanoseconds == 0 ? nil : blockNanoseconds
        } else {
            self.blockNanoseconds = nil
        }
    }

    /// Tries to add `amount` drops (negative removes drops, never below zero).
    public func consume(_ state: LeakyBucketState?, amount: Int64 = 1, now: Instant) -> LeakyBucketOutcome {
        guard let state else {
            return fill(level: 0, lastLeak: now, amount: amount, now: now)
        }
        let (level, lastLeak) = leaked(state, now: now)
        if let blockedUntil = state.blockedUntil, blockedUntil > now {
            let decision = LeakyBucketDecision(
                success: false,
                level: level,
                untilNextDropNanoseconds: untilNextDrop(lastLeak: lastLeak, now: now),
                blockedForNanoseconds: blockedUntil.nanoseconds.clampedSubtracting(now.nanoseconds)
            )
            return LeakyBucketOutcome(decision: decision, write: .keep)
        }
        return fill(level: level, lastLeak: lastLeak, amount: amount, now: now)
    }

    /// The bucket as it is at `now`, without changing it. `success` tells whether one
    /// more drop would fit (not blocked and below capacity).
    public func peek(_ state: LeakyBucketState?, now: Instant) -> LeakyBucketDecision {
        guard let state else {
            return LeakyBucketDecision(
                success: true,
                level: 0,
                untilNextDropNanoseconds: rechargeNanoseconds,
                blockedForNanoseconds: nil
            )
        }
        let (level, lastLeak) = leaked(state, now: now)
        let blockedFor: Int64? =
            if let blockedUntil = state.blockedUntil, blockedUntil > now {
                blockedUntil.nanoseconds.clampedSubtracting(now.nanoseconds)
            } else {
                nil
            }
        return LeakyBucketDecision(
            success: blockedFor == nil && level < capacity,
            level: level,
            untilNextDropNanoseconds: untilNextDrop(lastLeak: lastLeak, now: now),
            blockedForNanoseconds: blockedFor
        )
    }

    /// Level and tick phase after leaking up to `now`. A clock that went backwards
    /// leaks nothing and restarts the phase at `now`, so the bucket cannot freeze.
    private func leaked(_ state: LeakyBucketState, now: Instant) -> (level: Int64, lastLeak: Instant) {
        let level = max(0, state.level)
        guard state.lastLeak <= now else { return (level, now) }
        let elapsed = now.nanoseconds.clampedSubtracting(state.lastLeak.nanoseconds)
        let ticks = elapsed / rechargeNanoseconds
        guard ticks > 0 else { return (level, state.lastLeak) }
        // ticks * recharge <= elapsed, so this stays at or before `now`.
        let lastLeak = Instant(nanoseconds: state.lastLeak.nanoseconds + ticks * rechargeNanoseconds)
        return (ticks >= level ? 0 : level - ticks, lastLeak)
    }

    private func untilNextDrop(lastLeak: Instant, now: Instant) -> Int64 {
        lastLeak.nanoseconds.clampedAdding(rechargeNanoseconds).clampedSubtracting(now.nanoseconds)
    }

    /// The consume itself, on a bucket that is not blocked.
    private func fill(level: Int64, lastLeak: Instant, amount: Int64, now: Instant) -> LeakyBucketOutcome {
        let (sum, overflow) = level.addingReportingOverflow(amount)
        // Overflow can only happen past either end: above capacity or below zero.
        let fits = overflow ? amount < 0 : sum <= capacity
        let emptied = overflow ? amount < 0 : sum <= 0
        if emptied {
            // aiosteady deletes the key and reports a full recharge until the next drop.
            let decision = LeakyBucketDecision(
                success: true,
                level: 0,
                untilNextDropNanoseconds: rechargeNanoseconds,
                blockedForNanoseconds: nil
            )
            return LeakyBucketOutcome(decision: decision, write: .delete)
        }
        let untilNext = untilNextDrop(lastLeak: lastLeak, now: now)
        if fits {
            let state = LeakyBucketState(level: sum, lastLeak: lastLeak, blockedUntil: nil)
            let decision = LeakyBucketDecision(
                success: true,
                level: sum,
                untilNextDropNanoseconds: untilNext,
                blockedForNanoseconds: nil
            )
            let ttl = clampedTTL(sum.clampedMultiplied(by: rechargeNanoseconds), now: now)
            return LeakyBucketOutcome(decision: decision, write: .store(state, ttlNanoseconds: ttl))
        }
        guard let block = blockNanoseconds else {
            let decision = LeakyBucketDecision(
                success: false,
                level: level,
                untilNextDropNanoseconds: untilNext,
                blockedForNanoseconds: nil
            )
            return LeakyBucketOutcome(decision: decision, write: .keep)
        }
        let blockedUntil = Instant(nanoseconds: now.nanoseconds.clampedAdding(block))
        let state = LeakyBucketState(level: level, lastLeak: lastLeak, blockedUntil: blockedUntil)
        let decision = LeakyBucketDecision(
            success: false,
            level: level,
            untilNextDropNanoseconds: untilNext,
            blockedForNanoseconds: block
        )
        let ttl = clampedTTL(max(block, level.clampedMultiplied(by: rechargeNanoseconds)), now: now)
        return LeakyBucketOutcome(decision: decision, write: .store(state, ttlNanoseconds: ttl))
    }
}

/// What a leaky-bucket key stores.
public struct LeakyBucketState: Sendable, Hashable {
    /// Drops in the bucket as of `lastLeak`.
    public var level: Int64
    /// The most recent leak tick (or when the key was first filled); the tick phase.
    public var lastLeak: Instant
    /// When a block set by a failed consume ends; nil when never blocked.
    public var blockedUntil: Instant?

    public init(level: Int64, lastLeak: Instant, blockedUntil: Instant? = nil) {
        self.level = level
        self.lastLeak = lastLeak
        self.blockedUntil = blockedUntil
    }
}

/// The answer to a consume or peek, field for field aiosteady's `ThrottleResult`.
public struct LeakyBucketDecision: Sendable, Hashable {
    /// Consume: whether the drops were added. Peek: whether one more drop would fit now.
    public var success: Bool
    /// Drops in the bucket after this call (after leaking, and after adding on success).
    public var level: Int64
    /// Nanoseconds until the next leak tick; a full recharge when the bucket was just emptied or is fresh.
    public var untilNextDropNanoseconds: Int64
    /// Nanoseconds the bucket stays blocked; nil when it is not blocked.
    public var blockedForNanoseconds: Int64?

    public init(success: Bool, level: Int64, untilNextDropNanoseconds: Int64, blockedForNanoseconds: Int64?) {
        self.success = success
        self.level = level
        self.untilNextDropNanoseconds = untilNextDropNanoseconds
        self.blockedForNanoseconds = blockedForNanoseconds
    }

    /// `untilNextDropNanoseconds` in seconds, as aiosteady reports it.
    public var untilNextDrop: Double { Double(untilNextDropNanoseconds) / 1e9 }

    /// `blockedForNanoseconds` in seconds, as aiosteady reports it.
    public var blockedFor: Double? { blockedForNanoseconds.map { Double($0) / 1e9 } }
}

/// A consume's answer and what to do with the stored state.
///
/// TTL rule: aiosteady's key lifetime, measured from `now`: `level × recharge` after a
/// successful consume, `max(block, level × recharge)` when a consume starts a block.
/// By then the bucket has drained and any block has ended; dropping the key then also
/// resets the tick phase, exactly as aiosteady's key expiry does.
public struct LeakyBucketOutcome: Sendable, Hashable {
    public var decision: LeakyBucketDecision
    public var write: RateLimitWrite<LeakyBucketState>

    public init(decision: LeakyBucketDecision, write: RateLimitWrite<LeakyBucketState>) {
        self.decision = decision
        self.write = write
    }
}
