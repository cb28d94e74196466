import Testing
@testable import SluiceCore

/// dramatiq's backend interface over the pure helpers and an expiring dictionary, with a
/// hand-moved clock: the same calls dramatiq's rate limiters make.
private struct Backend {
    var keys: [String: RateLimitTestKey<Int64>] = [:]
    var now = rateLimitEpoch

    mutating func value(_ key: String) -> Int64? {
        keys[key, default: RateLimitTestKey()].read(at: now)
    }

    mutating func apply(_ key: String, _ outcome: BoundedCounterOutcome) -> Bool {
        keys[key, default: RateLimitTestKey()].apply(outcome.write, at: now)
        return outcome.applied
    }

    mutating func add(_ key: String, _ value: Int64, ttl: Int64) throws -> Bool {
        try apply(key, BoundedCounter.add(current: self.value(key), value: value, ttlMilliseconds: ttl, now: now))
    }

    mutating func incr(_ key: String, _ amount: Int64, maximum: Int64, ttl: Int64) throws -> Bool {
        try apply(key, BoundedCounter.incr(current: value(key), amount: amount, maximum: maximum, ttlMilliseconds: ttl, now: now))
    }

    mutating func decr(_ key: String, _ amount: Int64, minimum: Int64, ttl: Int64) throws -> Bool {
        try apply(key, BoundedCounter.decr(current: value(key), amount: amount, minimum: minimum, ttlMilliseconds: ttl, now: now))
    }

    mutating func incrAndSum(_ key: String, _ summed: [String], _ amount: Int64, maximum: Int64, ttl: Int64) throws -> Bool {
        let values = summed.map { value($0) }
        return try apply(key, BoundedCounter.incrAndSum(
            current: value(key), summed: values, amount: amount, maximum: maximum, ttlMilliseconds: ttl, now: now))
    }

    mutating func advance(milliseconds: Int64) {
        now = Instant(nanoseconds: now.nanoseconds + milliseconds * 1_000_000)
    }
}

@Suite("Bounded counters (dramatiq backend semantics)")
struct RateLimitBoundedCounterTests {
    // MARK: dramatiq's own tests, replayed against the pure helpers

    @Test("a barrier of two parties: created once, cleared by the second wait (test_barrier)")
    func barrier() throws {
        var backend = Backend()
        #expect(try backend.add("barrier", 2, ttl: 30_000))
        #expect(try !backend.add("barrier", 10, ttl: 30_000))
        // Barrier.wait: cleared = not decr(key, 1, minimum 1).
        #expect(try backend.decr("barrier", 1, minimum: 1, ttl: 30_000))
        #expect(try !backend.decr("barrier", 1, minimum: 1, ttl: 30_000))
    }

    @Test("a concurrent limiter of 1 acquired and released 8 times succeeds 8 times")
    func concurrentSequential() throws {
        var backend = Backend()
        var calls = 0
        for _ in 0..<8 {
            // ConcurrentRateLimiter._acquire: add(key, 1) or incr(key, 1, limit).
            let acquired = try backend.add("mutex", 1, ttl: 900_000) || backend.incr("mutex", 1, maximum: 1, ttl: 900_000)
            if acquired {
                calls += 1
                #expect(try backend.decr("mutex", 1, minimum: 0, ttl: 900_000))
            }
        }
        #expect(calls == 8)
    }

    @Test("a concurrent limiter of 4 admits 4 holders and refuses the rest")
    func concurrentLimit() throws {
        var backend = Backend()
        var holders = 0
        for _ in 0..<32 {
            if try backend.add("pool", 1, ttl: 900_000) || backend.incr("pool", 1, maximum: 4, ttl: 900_000) {
                holders += 1
            }
        }
        #expect(holders == 4)
        #expect(backend.value("pool") == 4)
        #expect(try !backend.decr("empty", 1, minimum: 0, ttl: 900_000))
    }

    @Test("a bucket limiter of 2 per second admits 2 of 8 calls in each of two buckets")
    func bucketLimiter() throws {
        var backend = Backend()
        var calls = 0
        for second in 0..<2 {
            let key = "bucket@\(second * 1000)"
            for _ in 0..<8 {
                if try backend.add(key, 1, ttl: 1000) || backend.incr(key, 1, maximum: 2, ttl: 1000) {
                    calls += 1
                }
            }
            backend.advance(milliseconds: 1000)
        }
        #expect(calls == 4)
    }

    @Test("a window limiter of 2 per 5 s admits 8 calls over 20 s of 8 tries a second")
    func windowLimiter() throws {
        var backend = Backend()
        var calls = 0
        for second in 0..<20 {
            let keys = (0..<5).map { "window@\(second - $0)" }
            for _ in 0..<8 {
                if try backend.incrAndSum(keys[0], keys, 1, maximum: 2, ttl: 5000) {
                    calls += 1
                }
            }
            backend.advance(milliseconds: 1000)
        }
        #expect(calls == 8)
    }

    // MARK: redis.py's exact rules

    @Test("add stores only when absent and sets the TTL only then")
    func addRules() throws {
        let now = rateLimitEpoch
        #expect(try BoundedCounter.add(current: nil, value: 7, ttlMilliseconds: 250, now: now)
            == BoundedCounterOutcome(applied: true, write: .store(7, ttlNanoseconds: 250_000_000)))
        #expect(try BoundedCounter.add(current: 0, value: 7, ttlMilliseconds: 250, now: now)
            == BoundedCounterOutcome(applied: false, write: .keep))
    }

    @Test("incr treats absent as 0, refuses past the maximum and resets the TTL on success")
    func incrRules() throws {
        let now = rateLimitEpoch
        #expect(try BoundedCounter.incr(current: nil, amount: 3, maximum: 3, ttlMilliseconds: 10, now: now)
            == BoundedCounterOutcome(applied: true, write: .store(3, ttlNanoseconds: 10_000_000)))
        #expect(try BoundedCounter.incr(current: 3, amount: 1, maximum: 3, ttlMilliseconds: 10, now: now)
            == BoundedCounterOutcome(applied: false, write: .keep))
        #expect(try BoundedCounter.incr(current: 5, amount: -2, maximum: 3, ttlMilliseconds: 10, now: now).write
            == .store(3, ttlNanoseconds: 10_000_000))
    }

    @Test("decr treats absent as 0, refuses below the minimum and resets the TTL on success")
    func decrRules() throws {
        let now = rateLimitEpoch
        #expect(try BoundedCounter.decr(current: nil, amount: 1, minimum: 0, ttlMilliseconds: 10, now: now)
            == BoundedCounterOutcome(applied: false, write: .keep))
        #expect(try BoundedCounter.decr(current: nil, amount: 1, minimum: -1, ttlMilliseconds: 10, now: now)
            == BoundedCounterOutcome(applied: true, write: .store(-1, ttlNanoseconds: 10_000_000)))
        #expect(try BoundedCounter.decr(current: 2, amount: 2, minimum: 0, ttlMilliseconds: 10, now: now).write
            == .store(0, ttlNanoseconds: 10_000_000))
    }

    @Test("incr_and_sum checks the key's new value and amount plus every listed value")
    func incrAndSumRules() throws {
        let now = rateLimitEpoch
        // Key's own new value over the maximum.
        #expect(try !BoundedCounter.incrAndSum(current: 3, summed: [], amount: 1, maximum: 3, ttlMilliseconds: 10, now: now).applied)
        // amount + sum(listed) = 1 + (1 + 1) = 3 <= 3.
        #expect(try BoundedCounter.incrAndSum(current: 1, summed: [1, nil, 1], amount: 1, maximum: 3, ttlMilliseconds: 10, now: now)
            == BoundedCounterOutcome(applied: true, write: .store(2, ttlNanoseconds: 10_000_000)))
        // amount + sum(listed) = 1 + 3 = 4 > 3, although the key itself would only reach 1.
        #expect(try BoundedCounter.incrAndSum(current: nil, summed: [nil, 3], amount: 1, maximum: 3, ttlMilliseconds: 10, now: now)
            == BoundedCounterOutcome(applied: false, write: .keep))
        // A key listed twice counts twice.
        #expect(try !BoundedCounter.incrAndSum(current: 1, summed: [1, 1], amount: 1, maximum: 2, ttlMilliseconds: 10, now: now).applied)
    }

    @Test("sums past the Int64 range are compared exactly")
    func exactSums() throws {
        let now = rateLimitEpoch
        let outcome = try BoundedCounter.incrAndSum(
            current: 0, summed: [.max, .max, .min, .min], amount: 1, maximum: 1, ttlMilliseconds: 10, now: now)
        // max + max + min + min = -2; 1 + -2 <= 1.
        #expect(outcome.applied)
    }

    @Test("results outside Int64 are refused when over the bound and an error otherwise")
    func overflow() throws {
        let now = rateLimitEpoch
        #expect(try !BoundedCounter.incr(current: .max, amount: 1, maximum: .max, ttlMilliseconds: 1, now: now).applied)
        #expect(try !BoundedCounter.decr(current: .min, amount: 1, minimum: .min, ttlMilliseconds: 1, now: now).applied)
        let incrError = #expect(throws: RateLimitError.self) {
            try BoundedCounter.incr(current: .min, amount: -1, maximum: 0, ttlMilliseconds: 1, now: now)
        }
        #expect(incrError?.description == "increment or decrement would overflow")
        #expect(throws: RateLimitError.counterOverflow("amount")) {
            try BoundedCounter.decr(current: .max, amount: -1, minimum: 0, ttlMilliseconds: 1, now: now)
        }
    }

    @Test("the TTL must be positive and a huge TTL is clamped")
    func ttlValidation() throws {
        let now = rateLimitEpoch
        for ttl: Int64 in [0, -1, .min] {
            let error = #expect(throws: RateLimitError.self) {
                try BoundedCounter.add(current: nil, value: 1, ttlMilliseconds: ttl, now: now)
            }
            #expect(error?.description == "ttl must be a positive integer")
        }
        #expect(try BoundedCounter.add(current: nil, value: 1, ttlMilliseconds: .max, now: now).write
            == .store(1, ttlNanoseconds: Int64.max - now.nanoseconds))
    }

    @Test("a refused operation leaves the existing TTL running")
    func refusalKeepsTTL() throws {
        var backend = Backend()
        #expect(try backend.incr("k", 1, maximum: 1, ttl: 1000))
        backend.advance(milliseconds: 900)
        #expect(try !backend.incr("k", 1, maximum: 1, ttl: 1000))
        backend.advance(milliseconds: 101)
        #expect(backend.value("k") == nil)
    }
}
