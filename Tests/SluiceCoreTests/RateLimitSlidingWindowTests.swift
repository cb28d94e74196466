import Testing
@testable import SluiceCore
import SeededRandom

private func rates(_ pairs: [(Int64, Int64)]) -> [SlidingWindowRate] {
    pairs.map { SlidingWindowRate(limit: $0.0, intervalMilliseconds: $0.1) }
}

private func validationMessage(_ pairs: [(Int64, Int64)]) -> String? {
    do {
        _ = try SlidingWindow(rates: rates(pairs))
        return nil
    } catch {
        return error.description
    }
}

extension SlidingWindow {
    /// An acquire on a copy, for checks that look at the outcome only.
    func acquire(_ log: SlidingWindowLog?, weight: Int64 = 1, now: Instant) throws(RateLimitError) -> SlidingWindowOutcome {
        try acquireCopy(log, weight: weight, now: now).outcome
    }

    /// An acquire on a copy, with what to store: the changed copy and its TTL, or nothing.
    func acquireCopy(
        _ log: SlidingWindowLog?, weight: Int64 = 1, now: Instant
    ) throws(RateLimitError) -> (outcome: SlidingWindowOutcome, write: RateLimitWrite<SlidingWindowLog>) {
        var copy = log
        let outcome = try acquire(&copy, weight: weight, now: now)
        guard let ttl = outcome.ttlNanoseconds, let copy else { return (outcome, .keep) }
        return (outcome, .store(copy, ttlNanoseconds: ttl))
    }
}

/// One key acquired through time.
private struct Client {
    var key = RateLimitTestKey<SlidingWindowLog>()
    let window: SlidingWindow

    mutating func acquire(_ weight: Int64, atMs ms: Int64) throws -> SlidingWindowOutcome {
        let now = atMilliseconds(ms)
        var log = key.read(at: now)
        let outcome = try window.acquire(&log, weight: weight, now: now)
        if let ttl = outcome.ttlNanoseconds, let log {
            key.apply(.store(log, ttlNanoseconds: ttl), at: now)
        }
        return outcome
    }

    mutating func answer(_ weight: Int64, atMs ms: Int64) throws -> [Int64] {
        let outcome = try acquire(weight, atMs: ms)
        return [outcome.acquired ? 1 : 0, outcome.waitMilliseconds, Int64(outcome.failingRateIndex)]
    }
}

/// pyrate's answers worked out the plain way: every unit kept, each window summed afresh.
/// Like the log, it forgets units older than the largest window when an acquire passes,
/// which only shows when the clock goes backwards.
private struct NaiveWindow {
    var units: [(milliseconds: Int64, weight: Int64)] = []

    mutating func acquire(_ rates: [SlidingWindowRate], weight: Int64, atMs now: Int64) -> [Int64] {
        guard weight > 0 else { return [1, 0, -1] }
        let order = rates.indices.sorted { (rates[$0].intervalMilliseconds, $0) < (rates[$1].intervalMilliseconds, $1) }
        for index in order {
            let rate = rates[index]
            let window = units.filter { $0.milliseconds >= now - rate.intervalMilliseconds }.sorted { $0.milliseconds < $1.milliseconds }
            guard rate.limit - window.reduce(0, { $0 + $1.weight }) < weight else { continue }
            guard weight <= rate.limit else { return [0, -1, Int64(index)] }
            var newer: Int64 = 0
            for unit in window.reversed() {
                newer += unit.weight
                if newer > rate.limit - weight { return [0, unit.milliseconds + rate.intervalMilliseconds - now + 1, Int64(index)] }
            }
            return [0, 0, Int64(index)]
        }
        let largest = rates.map(\.intervalMilliseconds).max()!
        units.removeAll { $0.milliseconds < now - largest }
        units.append((now, weight))
        return [1, 0, -1]
    }
}

@Suite("Sliding window log (pyrate-limiter semantics)")
struct RateLimitSlidingWindowTests {
    @Test("rate lists are validated with pyrate's ordering rules and say why")
    func validation() {
        #expect(validationMessage([]) == "rates must not be empty")
        #expect(validationMessage([(0, 1000)]) == "limit of rate 0 must be a positive integer")
        #expect(validationMessage([(1, 1000), (5, -1)]) == "interval of rate 1 must be a positive integer")
        #expect(validationMessage([(5, 1000), (6, 1000)])
            == "rates must have distinct intervals: rate 1 repeats the interval of rate 0")
        #expect(validationMessage([(5, 1000), (5, 2000)])
            == "a rate with a longer interval must have a larger limit: rate 1 does not exceed rate 0")
        #expect(validationMessage([(20, 2000), (5, 1000)])
            == "a rate with a longer interval must not allow more per millisecond: rate 0 is denser than rate 1")
        // Equal density is allowed, and the caller's order does not matter (pyrate's buckets sort first).
        #expect(validationMessage([(10, 2000), (5, 1000)]) == nil)
        #expect(validationMessage([(10, 60000), (2, 100)]) == nil)
        // The density comparison is exact at the extremes.
        #expect(validationMessage([(.max - 1, .max - 1), (.max, .max)]) == nil)
        #expect(validationMessage([(1, .max - 1), (2, .max)]) == "a rate with a longer interval must not allow more per millisecond: rate 1 is denser than rate 0")
    }

    @Test("a negative weight is refused by name")
    func negativeWeight() throws {
        let window = try SlidingWindow(rates: rates([(1, 1)]))
        #expect(throws: RateLimitError.notNonNegativeInteger("weight")) {
            try window.acquire(nil, weight: -1, now: rateLimitEpoch)
        }
    }

    @Test("pyrate's answers for a two-rate sequence, with indices in the caller's order")
    func pyrateSequence() throws {
        var client = Client(window: try SlidingWindow(rates: rates([(5, 5000), (3, 1000)])))
        #expect(try client.answer(1, atMs: 0) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 0) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 0) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 0) == [0, 1001, 1])
        // The window's start is inclusive: units stamped 0 still count at 1000.
        #expect(try client.answer(1, atMs: 1000) == [0, 1, 1])
        #expect(try client.answer(1, atMs: 1001) == [1, 0, -1])
        #expect(try client.answer(2, atMs: 1001) == [0, 4000, 0])
        // More than the failing rate's limit can never pass.
        #expect(try client.answer(4, atMs: 1001) == [0, -1, 1])
        #expect(try client.answer(0, atMs: 1001) == [1, 0, -1])
        #expect(try client.answer(2, atMs: 5001) == [1, 0, -1])
        #expect(try client.answer(2, atMs: 5002) == [0, 1000, 1])
    }

    @Test("exactly at the limit the last unit passes and the wait ends one millisecond after the window")
    func exactlyAtLimit() throws {
        var client = Client(window: try SlidingWindow(rates: rates([(4, 100)])))
        #expect(try client.answer(4, atMs: 10) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 10) == [0, 101, 0])
        #expect(try client.answer(1, atMs: 110) == [0, 1, 0])
        #expect(try client.answer(4, atMs: 111) == [1, 0, -1])
    }

    @Test("a weight equal to a limit waits for the newest unit to leave")
    func weightEqualToLimit() throws {
        var client = Client(window: try SlidingWindow(rates: rates([(3, 50), (6, 1000)])))
        #expect(try client.answer(1, atMs: 0) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 20) == [1, 0, -1])
        #expect(try client.answer(3, atMs: 30) == [0, 41, 0])
        #expect(try client.answer(3, atMs: 71) == [1, 0, -1])
        #expect(try client.answer(2, atMs: 72) == [0, 50, 0])
    }

    @Test("the log keeps one entry per millisecond and nothing older than the largest window")
    func memoryBound() throws {
        var client = Client(window: try SlidingWindow(rates: rates([(1_000_000, 1000)])))
        for ms: Int64 in 0..<5000 {
            _ = try client.acquire(1, atMs: ms)
            _ = try client.acquire(2, atMs: ms)
        }
        let stored = client.key.read(at: atMilliseconds(4999))
        let log = try #require(stored)
        #expect(log.entries.count == 1001)
        #expect(log.entries.first == SlidingWindowLog.Entry(timestampMilliseconds: atMilliseconds(3999).milliseconds, weight: 3))
        #expect(log.totalWeight == 3003)
    }

    @Test("the TTL ends at the last nanosecond the newest entry counts in the largest window")
    func ttlRule() throws {
        let window = try SlidingWindow(rates: rates([(2, 10), (3, 700)]))
        let now = Instant(nanoseconds: atMilliseconds(100).nanoseconds + 250_000)
        guard case .store(let log, let ttl) = try window.acquireCopy(nil, weight: 2, now: now).write else {
            Issue.record("expected a store")
            return
        }
        #expect(ttl == 701 * 1_000_000 - 250_000 - 1)
        let expiry = Instant(nanoseconds: now.nanoseconds + ttl)
        #expect(try window.acquire(log, weight: 2, now: expiry).acquired == false)
        let justAfter = Instant(nanoseconds: expiry.nanoseconds + 1)
        #expect(try window.acquire(log, weight: 2, now: justAfter).acquired)
    }

    @Test("weight 0 passes without storing anything, even on a full window")
    func weightZero() throws {
        let window = try SlidingWindow(rates: rates([(1, 1000)]))
        let full = SlidingWindowLog(entries: [.init(timestampMilliseconds: atMilliseconds(0).milliseconds, weight: 1)])
        let outcome = try window.acquire(full, weight: 0, now: atMilliseconds(1))
        #expect(outcome == SlidingWindowOutcome(acquired: true, waitMilliseconds: 0, failingRateIndex: -1, ttlNanoseconds: nil))
    }

    @Test("a refused acquire stores nothing")
    func refusalKeeps() throws {
        let window = try SlidingWindow(rates: rates([(1, 1000)]))
        let full = SlidingWindowLog(entries: [.init(timestampMilliseconds: atMilliseconds(0).milliseconds, weight: 1)])
        #expect(try window.acquireCopy(full, now: atMilliseconds(1)).write == .keep)
    }

    @Test("an acquire changes the log in place, dropping old entries without a new array; a refusal leaves it as it was")
    func inPlace() throws {
        let window = try SlidingWindow(rates: rates([(3, 100)]))
        var log: SlidingWindowLog?
        for ms: Int64 in [0, 10, 20] { _ = try window.acquire(&log, now: atMilliseconds(ms)) }
        let storage = log?.entries.withUnsafeBufferPointer { $0.baseAddress }
        let refused = try window.acquire(&log, now: atMilliseconds(30))
        #expect(refused.acquired == false && refused.ttlNanoseconds == nil)
        #expect(log?.entries.map(\.timestampMilliseconds) == [0, 10, 20].map { atMilliseconds($0).milliseconds })
        // At 105 the entry at 0 has left the 100 ms window: dropped, and 105 recorded in the same array.
        let taken = try window.acquire(&log, now: atMilliseconds(105))
        #expect(taken.acquired)
        #expect(log?.entries.map(\.timestampMilliseconds) == [10, 20, 105].map { atMilliseconds($0).milliseconds })
        #expect(log?.entries.withUnsafeBufferPointer { $0.baseAddress } == storage)
        #expect(taken.ttlNanoseconds == Int64(101 * 1_000_000 - 1))
    }

    @Test("a new log has room for its first entries: they are recorded without the array growing")
    func newLogCapacity() throws {
        let window = try SlidingWindow(rates: rates([(100, 60000)]))
        var log: SlidingWindowLog?
        _ = try window.acquire(&log, now: atMilliseconds(0))
        let storage = log?.entries.withUnsafeBufferPointer { $0.baseAddress }
        #expect((log?.entries.capacity ?? 0) >= SlidingWindow.newLogCapacity)
        for ms in 1..<Int64(SlidingWindow.newLogCapacity) { _ = try window.acquire(&log, now: atMilliseconds(ms)) }
        #expect(log?.entries.count == SlidingWindow.newLogCapacity)
        #expect(log?.entries.withUnsafeBufferPointer { $0.baseAddress } == storage)
    }

    @Test("a clock that does not move admits up to the limit and then waits a whole window")
    func clockNotMoving() throws {
        var client = Client(window: try SlidingWindow(rates: rates([(5, 1000)])))
        var admitted = 0
        for _ in 0..<20 where try client.acquire(1, atMs: 42).acquired {
            admitted += 1
        }
        #expect(admitted == 5)
        #expect(try client.answer(1, atMs: 42) == [0, 1001, 0])
        #expect(client.key.read(at: atMilliseconds(42))?.entries.count == 1)
    }

    @Test("a clock going backwards still counts later units and inserts in order")
    func clockBackwards() throws {
        var client = Client(window: try SlidingWindow(rates: rates([(3, 1000), (4, 5000)])))
        #expect(try client.answer(2, atMs: 1000) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 500) == [1, 0, -1])
        #expect(try client.answer(1, atMs: 400) == [0, 1101, 0])
        let stored = client.key.read(at: atMilliseconds(400))
        let log = try #require(stored)
        #expect(log.entries.map(\.timestampMilliseconds) == [500, 1000].map { atMilliseconds($0).milliseconds })
    }

    @Test("random rates, weights and clocks give the answers of a log summed afresh every time", arguments: [1, 2, 3] as [UInt64])
    func agreesWithNaiveWindow(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for _ in 0..<40 {
            // Up to three valid rates: longer intervals, larger limits, no denser; given in any order.
            var pairs: [(Int64, Int64)] = [(Int64.random(in: 1...8, using: &random), Int64.random(in: 5...40, using: &random))]
            for _ in 0..<Int.random(in: 0...2, using: &random) {
                let (limit, interval) = pairs[pairs.count - 1]
                let stretch = Int64.random(in: 2...6, using: &random)
                pairs.append((Int64.random(in: (limit + 1)...(limit * stretch), using: &random), interval * stretch))
            }
            pairs.shuffle(using: &random)
            let window = try SlidingWindow(rates: rates(pairs))
            var log: SlidingWindowLog?
            var naive = NaiveWindow()
            var now: Int64 = 1_000
            let largestLimit = pairs.map(\.0).max()!
            for _ in 0..<300 {
                now += Bool.random(using: &random) && Int.random(in: 0..<20, using: &random) == 0
                    ? -Int64.random(in: 0...5, using: &random)
                    : Int64.random(in: 0...(pairs.map(\.1).max()! / 8), using: &random)
                let weight = Int64.random(in: 0...(largestLimit + 1), using: &random) / (Bool.random(using: &random) ? 1 : 3)
                let outcome = try window.acquire(&log, weight: weight, now: atMilliseconds(now))
                let answer = [outcome.acquired ? 1 : 0, outcome.waitMilliseconds, Int64(outcome.failingRateIndex)]
                #expect(answer == naive.acquire(rates(pairs), weight: weight, atMs: now), "rates \(pairs), weight \(weight) at \(now)")
                #expect(log.map { $0.totalWeight == $0.entries.reduce(0) { $0 + $1.weight } } ?? true)
            }
        }
    }

    @Test("a log whose weights add up past Int64.max is counted entry by entry until the excess leaves")
    func saturatedTotal() throws {
        let window = try SlidingWindow(rates: rates([(.max, 1_000)]))
        let epochMs = atMilliseconds(0).nanoseconds / 1_000_000
        var log: SlidingWindowLog? = SlidingWindowLog(entries: [
            .init(timestampMilliseconds: epochMs, weight: .max - 1),
            .init(timestampMilliseconds: epochMs + 950, weight: 5),
        ])
        #expect(log?.totalWeight == .max)
        // The window holds both entries: full, and the oldest must leave first.
        let refused = try window.acquire(&log, weight: 1, now: atMilliseconds(990))
        #expect([refused.acquired ? 1 : 0, refused.waitMilliseconds, Int64(refused.failingRateIndex)] == [0, 11, 0])
        // Past its window the big entry is dropped and the total is exact again.
        let passed = try window.acquire(&log, weight: 1, now: atMilliseconds(1_001))
        #expect(passed.acquired)
        #expect(log?.entries.map(\.weight) == [5, 1])
        #expect(log?.totalWeight == 6)
    }

    @Test("a stored log is normalised: sorted, merged and without empty entries")
    func logNormalisation() {
        let log = SlidingWindowLog(entries: [
            .init(timestampMilliseconds: 9, weight: 1),
            .init(timestampMilliseconds: 3, weight: 2),
            .init(timestampMilliseconds: 9, weight: 4),
            .init(timestampMilliseconds: 5, weight: 0),
            .init(timestampMilliseconds: 1, weight: -3),
        ])
        #expect(log.entries == [.init(timestampMilliseconds: 3, weight: 2), .init(timestampMilliseconds: 9, weight: 5)])
    }

    @Test("extreme limits, weights, intervals and clocks never trap")
    func extremes() throws {
        let window = try SlidingWindow(rates: rates([(.max - 1, 1), (.max, .max)]))
        let nows = [Int64.min, -1, 0, rateLimitEpoch.nanoseconds, .max].map(Instant.init(nanoseconds:))
        var log: SlidingWindowLog? = SlidingWindowLog(entries: [
            .init(timestampMilliseconds: .max, weight: .max),
            .init(timestampMilliseconds: .min, weight: .max),
        ])
        for now in nows {
            for weight: Int64 in [0, 1, .max - 1, .max] {
                let (outcome, write) = try window.acquireCopy(log, weight: weight, now: now)
                #expect(outcome.waitMilliseconds >= -1)
                if case .store(let stored, let ttl) = write {
                    #expect(ttl > 0 || now.nanoseconds == .max)
                    #expect(now.nanoseconds.addingReportingOverflow(ttl).overflow == false)
                    log = stored
                }
            }
        }
    }
}
