import Testing
@testable import SluiceCore

private let second: Int64 = 1_000_000_000
private let millisecond: Int64 = 1_000_000

/// One key throttled through time, like a client calling CL.THROTTLE.
private struct Throttled {
    var key = RateLimitTestKey<Int64>()
    let throttle: CellThrottle

    mutating func call(_ quantity: Int64 = 1, at now: Instant) throws -> ThrottleResult {
        let outcome = try throttle.throttle(tat: key.read(at: now), quantity: quantity, now: now)
        key.apply(outcome.write, at: now)
        return outcome.result
    }
}

/// The five reply integers.
private func reply(_ result: ThrottleResult) -> [Int64] {
    [result.limited ? 1 : 0, result.limit, result.remaining, result.retryAfter, result.resetAfter]
}

@Suite("GCRA (redis-cell CL.THROTTLE semantics)")
struct RateLimitCellThrottleTests {
    @Test("parameters are validated by name")
    func validation() {
        func message(_ body: () throws -> CellThrottle) -> String? {
            do {
                _ = try body()
                return nil
            } catch {
                return (error as? RateLimitError)?.description ?? "unexpected \(error)"
            }
        }
        #expect(message { try CellThrottle(maxBurst: -1, countPerPeriod: 1, periodSeconds: 1) } == "max_burst must be a non-negative integer")
        #expect(message { try CellThrottle(maxBurst: .max, countPerPeriod: 1, periodSeconds: 1) } == "max_burst is out of range for this rate")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: 0, periodSeconds: 1) } == "Zero rates are not supported")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: -3, periodSeconds: 1) } == "count_per_period must be a positive integer")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: 0) } == "Zero rates are not supported")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: -1) } == "period must be a positive integer")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: .min) } == "period must be a positive integer")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: .max) } == "period must be at most 1000000000 seconds")
        #expect(message { try CellThrottle(maxBurst: 1, countPerPeriod: 3, periodNanoseconds: 2) } == "Zero rates are not supported")
        #expect(message { try CellThrottle(maxBurst: 10, countPerPeriod: 1, periodSeconds: 1_000_000_000) } == "max_burst is out of range for this rate")
        #expect(message { try CellThrottle(maxBurst: 0, countPerPeriod: 1, periodSeconds: 1_000_000_000) } == nil)
    }

    @Test("a negative quantity is refused by name")
    func negativeQuantity() throws {
        let throttle = try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: 1)
        #expect(throws: RateLimitError.notNonNegativeInteger("quantity")) {
            try throttle.throttle(tat: nil, quantity: -1, now: rateLimitEpoch)
        }
    }

    @Test("redis-cell's own rate-limit cases give the same precise answers")
    func redisCellCases() throws {
        var client = Throttled(throttle: try CellThrottle(maxBurst: 4, countPerPeriod: 1, periodSeconds: 1))
        // (ms after start, quantity, limited, remaining, reset after ms, retry after ms or -1)
        let cases: [(Int64, Int64, Bool, Int64, Int64, Int64)] = [
            (0, 6, true, 5, 0, -1),
            (0, 1, false, 4, 1000, -1),
            (0, 1, false, 3, 2000, -1),
            (0, 1, false, 2, 3000, -1),
            (0, 1, false, 1, 4000, -1),
            (0, 1, false, 0, 5000, -1),
            (0, 1, true, 0, 5000, 1000),
            (3000, 1, false, 2, 3000, -1),
            (3100, 1, false, 1, 3900, -1),
            (4000, 1, false, 1, 4000, -1),
            (8000, 1, false, 4, 1000, -1),
            (9500, 1, false, 4, 1000, -1),
            (9500, 0, false, 4, 1000, -1),
            (9500, 2, false, 2, 3000, -1),
            (9500, 5, true, 2, 3000, 3000),
        ]
        for (index, (ms, quantity, limited, remaining, reset, retry)) in cases.enumerated() {
            let result = try client.call(quantity, at: atMilliseconds(ms))
            let expected = ThrottleResult(
                limited: limited,
                limit: 5,
                remaining: remaining,
                retryAfterNanoseconds: retry < 0 ? -1 : retry * millisecond,
                resetAfterNanoseconds: reset * millisecond
            )
            #expect(result == expected, "case \(index)")
        }
    }

    @Test("whole seconds are not rounded up: 15 burst, 30 per 60 s replies 0 16 15 -1 2 (dragonfly#1008)")
    func wholeSecondReset() throws {
        var client = Throttled(throttle: try CellThrottle(maxBurst: 15, countPerPeriod: 30, periodSeconds: 60))
        #expect(reply(try client.call(at: at(0))) == [0, 16, 15, -1, 2])
    }

    @Test("one per two seconds without burst replies reset 2, then retry 2 (dragonfly#8288)")
    func wholeSecondRetry() throws {
        var client = Throttled(throttle: try CellThrottle(maxBurst: 0, countPerPeriod: 1, periodSeconds: 2))
        #expect(reply(try client.call(at: at(0))) == [0, 1, 0, -1, 2])
        #expect(reply(try client.call(at: at(0))) == [1, 1, 0, 2, 2])
        #expect(reply(try client.call(at: at(1.5))) == [1, 1, 0, 1, 1])
        #expect(reply(try client.call(at: at(2))) == [0, 1, 0, -1, 2])
    }

    @Test("any fraction of a second rounds up, even below a millisecond")
    func fractionsRoundUp() {
        let result = ThrottleResult(limited: true, limit: 1, remaining: 0, retryAfterNanoseconds: second + 400_000, resetAfterNanoseconds: 1)
        #expect(result.retryAfter == 2)
        #expect(result.resetAfter == 1)
        #expect(result.retryAfterMilliseconds == 1001)
        #expect(result.resetAfterMilliseconds == 1)
        let none = ThrottleResult(limited: false, limit: 1, remaining: 0, retryAfterNanoseconds: -1, resetAfterNanoseconds: 0)
        #expect(none.retryAfter == -1)
        #expect(none.retryAfterMilliseconds == -1)
        #expect(none.resetAfter == 0)
    }

    @Test("a fractional emission interval is truncated to whole nanoseconds")
    func fractionalPeriod() throws {
        let throttle = try CellThrottle(maxBurst: 2, countPerPeriod: 3, periodNanoseconds: second)
        #expect(throttle.emissionIntervalNanoseconds == 333_333_333)
        var client = Throttled(throttle: throttle)
        for expected: Int64 in [2, 1, 0] {
            #expect(try client.call(at: at(0)).remaining == expected)
        }
        let limited = try client.call(at: at(0))
        #expect(limited.limited)
        #expect(limited.retryAfterNanoseconds == 333_333_333)
        #expect(limited.retryAfterMilliseconds == 334)
        #expect(try client.call(at: Instant(nanoseconds: at(0).nanoseconds + 333_333_333)).limited == false)
    }

    @Test("quantity 0 peeks without storing anything")
    func peek() throws {
        let throttle = try CellThrottle(maxBurst: 4, countPerPeriod: 1, periodSeconds: 1)
        let fresh = try throttle.throttle(tat: nil, quantity: 0, now: at(0))
        #expect(fresh.write == .keep)
        #expect(reply(fresh.result) == [0, 5, 5, -1, 0])
        let busy = try throttle.throttle(tat: at(3).nanoseconds, quantity: 0, now: at(0))
        #expect(busy.write == .keep)
        #expect(reply(busy.result) == [0, 5, 2, -1, 3])
    }

    @Test("a quantity above the limit is refused forever without a retry time")
    func quantityAboveLimit() throws {
        let throttle = try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: 1)
        let outcome = try throttle.throttle(tat: nil, quantity: .max, now: at(0))
        #expect(reply(outcome.result) == [1, 2, 2, -1, 0])
        #expect(outcome.write == .keep)
    }

    @Test("exactly at the burst the last request passes and the next is limited")
    func exactlyAtBurst() throws {
        var client = Throttled(throttle: try CellThrottle(maxBurst: 2, countPerPeriod: 1, periodSeconds: 10))
        #expect(try client.call(3, at: at(0)).limited == false)
        let next = try client.call(at: at(0))
        #expect(next.limited)
        #expect(next.retryAfterNanoseconds == 10 * second)
        #expect(try client.call(at: Instant(nanoseconds: at(10).nanoseconds - 1)).limited)
        #expect(try client.call(at: at(10)).limited == false)
    }

    @Test("the stored TAT's TTL ends when the key would answer like an absent one")
    func ttlRule() throws {
        let throttle = try CellThrottle(maxBurst: 3, countPerPeriod: 7, periodSeconds: 3)
        let outcome = try throttle.throttle(tat: nil, quantity: 2, now: at(0))
        guard case .store(let tat, let ttl) = outcome.write else {
            Issue.record("expected a store")
            return
        }
        #expect(ttl == tat - at(0).nanoseconds)
        #expect(ttl == outcome.result.resetAfterNanoseconds)
        let expiry = Instant(nanoseconds: at(0).nanoseconds + ttl)
        #expect(try throttle.throttle(tat: tat, now: expiry) == throttle.throttle(tat: nil, now: expiry))
    }

    @Test("a stored TAT in the past counts as now: reset never negative, remaining never above the limit")
    func staleTat() throws {
        let throttle = try CellThrottle(maxBurst: 4, countPerPeriod: 1, periodSeconds: 1)
        let outcome = try throttle.throttle(tat: at(-10).nanoseconds, quantity: 6, now: at(0))
        #expect(reply(outcome.result) == [1, 5, 5, -1, 0])
    }

    @Test("a clock that does not move allows the burst and then only limits")
    func clockNotMoving() throws {
        var client = Throttled(throttle: try CellThrottle(maxBurst: 9, countPerPeriod: 1, periodSeconds: 60))
        var allowed = 0
        for _ in 0..<50 where try !client.call(at: at(7)).limited {
            allowed += 1
        }
        #expect(allowed == 10)
    }

    @Test("a clock going backwards limits without negative or overflowing values")
    func clockBackwards() throws {
        var client = Throttled(throttle: try CellThrottle(maxBurst: 1, countPerPeriod: 1, periodSeconds: 1))
        _ = try client.call(2, at: at(100))
        let earlier = try client.call(at: at(40))
        #expect(earlier.limited)
        #expect(earlier.retryAfterNanoseconds == 61 * second)
        #expect(earlier.remaining == 0)
        #expect(earlier.resetAfterNanoseconds == 62 * second)
    }

    @Test("a stored TAT at the end of Int64 gives the exact retry time, not one cut short by saturation")
    func tatAtTheLimit() throws {
        let now = rateLimitEpoch.nanoseconds
        let pending = Int64.max - now
        let burst = try CellThrottle(maxBurst: 2, countPerPeriod: 1, periodSeconds: 1)
        let limited = try burst.throttle(tat: .max, quantity: 1, now: rateLimitEpoch).result
        #expect(limited.limited)
        #expect(limited.retryAfterNanoseconds == pending - 2 * second)
        #expect(limited.resetAfterNanoseconds == pending)
        // Without a burst the retry time is the reset time, however large the increment.
        let single = try CellThrottle(maxBurst: 0, countPerPeriod: 1000, periodSeconds: 9_007_199)
        let outcome = try single.throttle(tat: .max, quantity: 1, now: rateLimitEpoch)
        #expect(outcome.result.retryAfterNanoseconds == pending)
        #expect(outcome.result.retryAfter == outcome.result.resetAfter)
        #expect(outcome.write == .keep)
    }

    @Test("extreme stored values and clocks never trap")
    func extremes() throws {
        let throttle = try CellThrottle(maxBurst: 0, countPerPeriod: 1, periodSeconds: 1_000_000_000)
        for tat in [Int64.min, -1, 0, .max] {
            for now in [Int64.min, 0, rateLimitEpoch.nanoseconds, .max] {
                for quantity: Int64 in [0, 1, 2, .max] {
                    let outcome = try throttle.throttle(tat: tat, quantity: quantity, now: Instant(nanoseconds: now))
                    #expect(outcome.result.remaining >= 0)
                    #expect(outcome.result.remaining <= outcome.result.limit)
                    #expect(outcome.result.resetAfterNanoseconds >= 0)
                    if case .store(_, let ttl) = outcome.write {
                        #expect(ttl > 0 || now == .max)
                        #expect(now.addingReportingOverflow(ttl).overflow == false)
                    }
                }
            }
        }
    }
}
