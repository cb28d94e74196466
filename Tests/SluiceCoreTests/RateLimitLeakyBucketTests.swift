import Testing
@testable import SluiceCore

/// Seconds to whole nanoseconds, for exact expectations.
private func ns(_ seconds: Double) -> Int64 { Int64((seconds * 1e9).rounded()) }

private struct Step: CustomTestStringConvertible {
    enum Operation { case consume(Int64), peek }
    var time: Double
    var operation: Operation
    var success: Bool
    var level: Int64
    var untilNextDrop: Double
    var blockedFor: Double?

    var testDescription: String { "t=\(time) \(operation)" }
}

/// Replays steps against one key, checking every decision.
private func replay(_ bucket: LeakyBucket, _ steps: [Step]) {
    var key = RateLimitTestKey<LeakyBucketState>()
    for step in steps {
        let now = at(step.time)
        let decision: LeakyBucketDecision
        switch step.operation {
        case .consume(let amount):
            let outcome = bucket.consume(key.read(at: now), amount: amount, now: now)
            key.apply(outcome.write, at: now)
            decision = outcome.decision
        case .peek:
            decision = bucket.peek(key.read(at: now), now: now)
        }
        let expected = LeakyBucketDecision(
            success: step.success,
            level: step.level,
            untilNextDropNanoseconds: ns(step.untilNextDrop),
            blockedForNanoseconds: step.blockedFor.map(ns)
        )
        #expect(decision == expected, "\(step.testDescription)")
    }
}

@Suite("Leaky bucket (aiosteady semantics)")
struct RateLimitLeakyBucketTests {
    @Test("parameters are validated by name")
    func validation() throws {
        for capacity: Int64 in [0, -1, .min] {
            #expect(throws: RateLimitError.notPositiveInteger("capacity")) {
                try LeakyBucket(capacity: capacity, recharge: 1)
            }
        }
        for recharge in [Double.nan, .infinity, -.infinity, 0, -0.0, -1] {
            #expect(throws: RateLimitError.notPositiveNumber("recharge")) {
                try LeakyBucket(capacity: 1, recharge: recharge)
            }
        }
        #expect(throws: RateLimitError.tooLarge("recharge", maximum: "1000000000 seconds")) {
            try LeakyBucket(capacity: 1, recharge: 1e10)
        }
        for block in [Double.nan, .infinity, -1] {
            #expect(throws: RateLimitError.notNonNegativeNumber("block")) {
                try LeakyBucket(capacity: 1, recharge: 1, block: block)
            }
        }
        #expect(try LeakyBucket(capacity: 1, recharge: 1, block: 0).blockNanoseconds == nil)
        #expect(try LeakyBucket(capacity: 1, recharge: 0.2).rechargeNanoseconds == 200_000_000)
        #expect(throws: RateLimitError.notPositiveInteger("capacity")) {
            try LeakyBucket(capacity: 0, recharge: 1)
        }
        let error = #expect(throws: RateLimitError.self) { try LeakyBucket(capacity: 0, recharge: 1) }
        #expect(error?.description == "capacity must be a positive integer")
    }

    @Test("aiosteady reference sequence without blocking")
    func referenceSequenceWithoutBlock() throws {
        let bucket = try LeakyBucket(capacity: 3, recharge: 2)
        replay(bucket, [
            Step(time: 0.0, operation: .consume(1), success: true, level: 1, untilNextDrop: 2.0),
            Step(time: 0.5, operation: .consume(1), success: true, level: 2, untilNextDrop: 1.5),
            Step(time: 1.0, operation: .consume(1), success: true, level: 3, untilNextDrop: 1.0),
            Step(time: 1.5, operation: .consume(1), success: false, level: 3, untilNextDrop: 0.5),
            Step(time: 2.0, operation: .peek, success: true, level: 2, untilNextDrop: 2.0),
            // aiosteady reports level 3 (the capacity) for a refused consume.
            Step(time: 2.0, operation: .consume(2), success: false, level: 2, untilNextDrop: 2.0),
            Step(time: 3.9, operation: .consume(1), success: true, level: 3, untilNextDrop: 0.1),
            Step(time: 4.0, operation: .consume(-5), success: true, level: 0, untilNextDrop: 2.0),
            Step(time: 4.0, operation: .consume(0), success: true, level: 0, untilNextDrop: 2.0),
            Step(time: 10.0, operation: .consume(3), success: true, level: 3, untilNextDrop: 2.0),
            Step(time: 13.0, operation: .peek, success: true, level: 2, untilNextDrop: 1.0),
            Step(time: 15.9, operation: .peek, success: true, level: 1, untilNextDrop: 0.1),
            // The key expired at 16 (lifetime 6 s from t=10): fresh again, phase reset.
            Step(time: 16.5, operation: .peek, success: true, level: 0, untilNextDrop: 2.0),
            Step(time: 20.0, operation: .consume(1), success: true, level: 1, untilNextDrop: 2.0),
            Step(time: 21.0, operation: .consume(1), success: true, level: 2, untilNextDrop: 1.0),
            // Drained but not yet expired (lifetime 4 s from t=21): the tick phase is kept.
            Step(time: 24.5, operation: .peek, success: true, level: 0, untilNextDrop: 1.5),
            Step(time: 24.6, operation: .consume(1), success: true, level: 1, untilNextDrop: 1.4),
            // aiosteady reports level 3 (the capacity) for a refused consume.
            Step(time: 24.7, operation: .consume(4), success: false, level: 1, untilNextDrop: 1.3),
        ])
    }

    @Test("aiosteady reference sequence with blocking reports the true level and next drop")
    func referenceSequenceWithBlock() throws {
        let bucket = try LeakyBucket(capacity: 2, recharge: 1, block: 3)
        replay(bucket, [
            Step(time: 0.0, operation: .consume(2), success: true, level: 2, untilNextDrop: 1.0),
            // aiosteady: level 0.
            Step(time: 0.25, operation: .consume(1), success: false, level: 2, untilNextDrop: 0.75, blockedFor: 3.0),
            // aiosteady: level 0, untilNextDrop 0.
            Step(time: 1.0, operation: .consume(1), success: false, level: 1, untilNextDrop: 1.0, blockedFor: 2.25),
            // aiosteady: untilNextDrop 0.
            Step(time: 1.5, operation: .peek, success: false, level: 1, untilNextDrop: 0.5, blockedFor: 1.75),
            // aiosteady: untilNextDrop 0.
            Step(time: 3.0, operation: .consume(1), success: false, level: 0, untilNextDrop: 1.0, blockedFor: 0.25),
            // The block and the key both ended at 3.25.
            Step(time: 3.5, operation: .consume(1), success: true, level: 1, untilNextDrop: 1.0),
            // aiosteady: level 0.
            Step(time: 3.5, operation: .consume(5), success: false, level: 1, untilNextDrop: 1.0, blockedFor: 3.0),
            // aiosteady: untilNextDrop 0.
            Step(time: 4.0, operation: .peek, success: false, level: 1, untilNextDrop: 0.5, blockedFor: 2.5),
        ])
    }

    @Test("a fractional recharge leaks exactly on its ticks")
    func fractionalRecharge() throws {
        let bucket = try LeakyBucket(capacity: 5, recharge: 0.2)
        replay(bucket, [
            Step(time: 0.0, operation: .consume(5), success: true, level: 5, untilNextDrop: 0.2),
            // 0.6 / 0.2 is exactly 3 ticks (aiosteady's floats find 2).
            Step(time: 0.6, operation: .peek, success: true, level: 2, untilNextDrop: 0.2),
            // aiosteady fails here: SETEX rejects its 0.2 s lifetime.
            Step(time: 0.6, operation: .consume(-1), success: true, level: 1, untilNextDrop: 0.2),
            Step(time: 0.79, operation: .peek, success: true, level: 1, untilNextDrop: 0.01),
            Step(time: 0.8, operation: .peek, success: true, level: 0, untilNextDrop: 0.2),
        ])
    }

    @Test("filling exactly to capacity succeeds and one more drop fails")
    func exactlyAtCapacity() throws {
        let bucket = try LeakyBucket(capacity: 4, recharge: 1)
        let full = bucket.consume(nil, amount: 4, now: at(0))
        #expect(full.decision.success)
        #expect(full.decision.level == 4)
        guard case .store(let state, _) = full.write else {
            Issue.record("expected a store, got \(full.write)")
            return
        }
        #expect(!bucket.peek(state, now: at(0)).success)
        let over = bucket.consume(state, amount: 1, now: at(0))
        #expect(!over.decision.success)
        #expect(over.write == .keep)
    }

    @Test("a drop leaks exactly at its tick, not a nanosecond before")
    func exactlyAtTick() throws {
        let bucket = try LeakyBucket(capacity: 1, recharge: 1)
        let state = LeakyBucketState(level: 1, lastLeak: at(0))
        #expect(!bucket.consume(state, now: Instant(nanoseconds: at(1).nanoseconds - 1)).decision.success)
        let atTick = bucket.consume(state, now: at(1))
        #expect(atTick.decision.success)
        #expect(atTick.write == .store(LeakyBucketState(level: 1, lastLeak: at(1)), ttlNanoseconds: ns(1)))
    }

    @Test("an amount larger than the capacity fails on an empty bucket without storing anything")
    func amountLargerThanCapacity() throws {
        let bucket = try LeakyBucket(capacity: 3, recharge: 1)
        let outcome = bucket.consume(nil, amount: 4, now: at(0))
        #expect(outcome.decision == LeakyBucketDecision(success: false, level: 0, untilNextDropNanoseconds: ns(1), blockedForNanoseconds: nil))
        #expect(outcome.write == .keep)
    }

    @Test("an amount larger than the capacity blocks an empty bucket for the block duration")
    func amountLargerThanCapacityBlocks() throws {
        let bucket = try LeakyBucket(capacity: 3, recharge: 1, block: 10)
        let outcome = bucket.consume(nil, amount: 4, now: at(0))
        #expect(outcome.decision.blockedForNanoseconds == ns(10))
        #expect(outcome.write == .store(LeakyBucketState(level: 0, lastLeak: at(0), blockedUntil: at(10)), ttlNanoseconds: ns(10)))
    }

    @Test("the TTL is level times recharge on success and the longer of block and drain time on a block")
    func ttlRules() throws {
        let bucket = try LeakyBucket(capacity: 10, recharge: 0.5, block: 2)
        let success = bucket.consume(LeakyBucketState(level: 3, lastLeak: at(0)), amount: 5, now: at(0.25))
        #expect(success.write == .store(LeakyBucketState(level: 8, lastLeak: at(0)), ttlNanoseconds: ns(4)))
        let blockedShort = bucket.consume(LeakyBucketState(level: 9, lastLeak: at(0)), amount: 5, now: at(0.25))
        #expect(blockedShort.write == .store(LeakyBucketState(level: 9, lastLeak: at(0), blockedUntil: at(2.25)), ttlNanoseconds: ns(4.5)))
        let blockedLong = bucket.consume(LeakyBucketState(level: 1, lastLeak: at(0)), amount: 50, now: at(0.25))
        #expect(blockedLong.write == .store(LeakyBucketState(level: 1, lastLeak: at(0), blockedUntil: at(2.25)), ttlNanoseconds: ns(2)))
    }

    @Test("a state dropped at its TTL is drained and unblocked")
    func drainedAtTTL() throws {
        let bucket = try LeakyBucket(capacity: 10, recharge: 0.3, block: 1)
        for (level, amount) in [(Int64(0), Int64(3)), (4, 2), (9, 5), (0, 11)] {
            let start = LeakyBucketState(level: level, lastLeak: at(-0.1))
            let outcome = bucket.consume(start, amount: amount, now: at(0))
            guard case .store(let state, let ttl) = outcome.write else { continue }
            let expiry = Instant(nanoseconds: at(0).nanoseconds + ttl)
            let decision = bucket.peek(state, now: expiry)
            #expect(decision.level == 0)
            #expect(decision.blockedForNanoseconds == nil)
        }
    }

    @Test("a clock that does not move fills the bucket and never leaks")
    func clockNotMoving() throws {
        let bucket = try LeakyBucket(capacity: 3, recharge: 1)
        var key = RateLimitTestKey<LeakyBucketState>()
        var successes = 0
        for _ in 0..<10 {
            let outcome = bucket.consume(key.read(at: at(5)), now: at(5))
            key.apply(outcome.write, at: at(5))
            if outcome.decision.success { successes += 1 }
        }
        #expect(successes == 3)
    }

    @Test("a clock going backwards neither leaks, raises the level nor reports a negative or over-long wait")
    func clockBackwards() throws {
        let bucket = try LeakyBucket(capacity: 5, recharge: 2, block: 1)
        let state = LeakyBucketState(level: 3, lastLeak: at(100), blockedUntil: at(50))
        let peeked = bucket.peek(state, now: at(10))
        #expect(peeked.level == 3)
        #expect(peeked.untilNextDropNanoseconds == ns(2))
        let consumed = bucket.consume(state, amount: 1, now: at(10))
        #expect(consumed.decision.success == false)
        #expect(consumed.decision.level == 3)
        #expect(consumed.decision.blockedForNanoseconds == ns(40))
        let unblocked = LeakyBucketState(level: 3, lastLeak: at(100))
        let later = bucket.consume(unblocked, amount: 1, now: at(10))
        #expect(later.decision == LeakyBucketDecision(success: true, level: 4, untilNextDropNanoseconds: ns(2), blockedForNanoseconds: nil))
        #expect(later.write == .store(LeakyBucketState(level: 4, lastLeak: at(10)), ttlNanoseconds: ns(8)))
    }

    @Test("extreme amounts and states never trap")
    func extremes() throws {
        let bucket = try LeakyBucket(capacity: .max, recharge: 1_000_000_000, block: 1_000_000_000)
        let huge = bucket.consume(nil, amount: .max, now: at(0))
        #expect(huge.decision.success)
        guard case .store(let state, let ttl) = huge.write else {
            Issue.record("expected a store")
            return
        }
        #expect(ttl == Int64.max - at(0).nanoseconds)
        let overflow = bucket.consume(state, amount: .max, now: at(0))
        #expect(!overflow.decision.success)
        let refund = bucket.consume(state, amount: .min, now: at(0))
        #expect(refund.decision.level == 0)
        #expect(refund.write == .delete)

        let small = try LeakyBucket(capacity: 2, recharge: 1e-9)
        let garbage = LeakyBucketState(level: -7, lastLeak: Instant(nanoseconds: .min), blockedUntil: Instant(nanoseconds: .max))
        let blocked = small.peek(garbage, now: Instant(nanoseconds: .max))
        #expect(blocked.level == 0)
        let farFuture = small.consume(garbage, amount: 1, now: Instant(nanoseconds: .min))
        #expect(farFuture.decision.level == 0)
        #expect(farFuture.decision.blockedForNanoseconds == .max)
    }
}
