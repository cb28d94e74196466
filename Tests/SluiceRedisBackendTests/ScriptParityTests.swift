import RESP
import SluiceCore
import SluiceRedisBackend
import RedisTestSupport
import Testing

/// Each lua/ script against the Swift algorithm it mirrors: the same sequence of calls at
/// the same times (the scripts' `NOW ns` override) must give the same replies, and the
/// key's deadline in Redis (`PEXPIRETIME`) must be the one in-memory mode would set.
///
/// Times start a day ahead of the real clock so Redis never expires a key on its own;
/// when the in-memory model's deadline passes, the test deletes the key in Redis too.
@Suite("lua scripts match the Swift algorithms", .serialized)
struct ScriptParityTests {
    /// A day from now, plus a sub-millisecond part so deadlines round up.
    static let base = SystemTimeSource().now().nanoseconds / 1_000_000_000 * 1_000_000_000 + 86_400_000_000_000 + 123_456

    /// In-memory mode's view of one key: state and deadline (ms), expiring as the keyspace does.
    struct Model<State: Sendable & Hashable> {
        var entries: [String: (state: State, deadline: Int64)] = [:]

        mutating func state(_ key: String, now: Instant) -> State? {
            guard let entry = entries[key] else { return nil }
            if entry.deadline < now.milliseconds {
                entries[key] = nil
                return nil
            }
            return entry.state
        }

        mutating func apply(_ write: RateLimitWrite<State>, _ key: String, now: Instant) {
            switch write {
            case .keep: break
            case .delete: entries[key] = nil
            case .store(let state, let ttl): entries[key] = (state, Keyspace.deadline(now: now, ttlNanoseconds: ttl))
            }
        }
    }

    /// Drops the keys whose in-memory deadline has passed at `now`, in the model and in Redis.
    static func expire<State: Sendable & Hashable>(
        _ backend: RedisBackend, keys: [String], now: Instant, model: inout Model<State>
    ) async throws {
        for key in keys where model.entries[key] != nil && model.state(key, now: now) == nil {
            _ = try await backend.command([word("DEL"), word(key)])
        }
    }

    /// Runs a script at `now` (after `expire`).
    static func run<State: Sendable & Hashable>(
        _ backend: RedisBackend, _ script: BackendScript, keys: [String], _ arguments: [String],
        now: Instant, model: inout Model<State>
    ) async throws -> RESPValue {
        try await backend.evalScript(
            script, keys: keys.map(word), arguments: (arguments + ["NOW", String(now.nanoseconds)]).map(word))
    }

    static func checkDeadlines<State: Sendable & Hashable>(_ backend: RedisBackend, _ model: Model<State>, keys: [String], step: String) async throws {
        for key in Set(keys) {
            let deadline = try await backend.command([word("PEXPIRETIME"), word(key)])
            let expected = model.entries[key].map { RESPValue.integer($0.deadline) } ?? .integer(-2)
            #expect(deadline == expected, "deadline of \(key) after \(step)")
        }
    }

    @Test("leaky_bucket.lua answers CONSUME and PEEK as SluiceCore.LeakyBucket, with the same TTLs")
    func leakyBucket() async throws {
        // (ms after base, consume or peek, amount); capacity, recharge, block per run.
        let steps: [(Double, String, Int64)] = [
            (0, "consume", 1), (0, "consume", 1), (0.0001, "peek", 1), (0.2, "consume", 1),
            (0.3, "consume", 1), (300, "peek", 1), (499.9999, "consume", 1), (500, "consume", 1),
            (600, "consume", 2), (700, "peek", 1), (1_999, "consume", 1), (2_600, "consume", 1),
            (2_600, "consume", -1), (2_601, "consume", 5), (3_000, "consume", -10), (3_000, "peek", 1),
            (3_000.5, "consume", 3), (3_000.5, "consume", 1), (10_000, "consume", 1), (10_000, "consume", 9_000_000_000_000_000_000),
            (10_001, "consume", -9_000_000_000_000_000_000), (20_000, "peek", 1),
        ]
        // The last one's TTLs end within the millisecond they start in.
        let configurations: [(Int64, String, String)] = [(3, "0.5", "2"), (3, "0.2", "0"), (2, "0.6", "0.75"), (1, "1e-3", "1.5"), (2, "1e-4", "0")]
        try await Self.leakyBucketParity(base: Self.base, steps: steps, configurations: configurations)
    }

    /// Deadlines, the tick phase and the end of a block all pass the largest instant here,
    /// and both modes clamp them to it.
    @Test("leaky_bucket.lua clamps instants past the end of the Int64 range as SluiceCore.LeakyBucket does")
    func leakyBucketAtTheEndOfTime() async throws {
        let steps: [(Double, String, Int64)] = [
            (0, "consume", 1), (0, "consume", 1), (0.5, "consume", 5), (1, "peek", 1), (2, "consume", 1), (2.5, "consume", -3),
        ]
        try await Self.leakyBucketParity(base: Int64.max - 300_000_000, steps: steps, configurations: [(3, "0.5", "2"), (2, "1e-3", "0")])
    }

    static func leakyBucketParity(base: Int64, steps: [(Double, String, Int64)], configurations: [(Int64, String, String)]) async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        for (index, (capacity, recharge, block)) in configurations.enumerated() {
            let bucket = try LeakyBucket(capacity: capacity, recharge: Double(recharge)!, block: Double(block)!)
            let key = "bucket\(index)"
            var model = Model<LeakyBucketState>()
            for (offset, mode, amount) in steps {
                let now = Instant(nanoseconds: base + Int64(offset * 1_000_000))
                try await Self.expire(backend, keys: [key], now: now, model: &model)
                let current = model.state(key, now: now)
                let decision: LeakyBucketDecision
                if mode == "consume" {
                    let outcome = bucket.consume(current, amount: amount, now: now)
                    decision = outcome.decision
                    model.apply(outcome.write, key, now: now)
                } else {
                    decision = bucket.peek(current, now: now)
                }
                let reply = try await Self.run(
                    backend, .leakyBucket, keys: [key], [mode, String(capacity), recharge, String(amount), block], now: now, model: &model)
                let expected = RESPValue.array([
                    .integer(decision.success ? 1 : 0), .integer(decision.level), .integer(decision.untilNextDropNanoseconds),
                    decision.blockedForNanoseconds.map(RESPValue.integer) ?? .null,
                ])
                let step = "\(mode) \(amount) at +\(offset) ms with \(capacity) \(recharge) \(block)"
                #expect(reply == expected, "\(step)")
                #expect(LeakyBucketDecision(backendReply: reply) == decision, "\(step)")
                try await Self.checkDeadlines(backend, model, keys: [key], step: step)
            }
        }
    }

    @Test("bounded_counter.lua answers ADD, INCR, DECR and INCR_AND_SUM as SluiceCore.BoundedCounter, with the same TTLs")
    func boundedCounter() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        let max = String(Int64.max)
        let min = String(Int64.min)
        // (ms after base, operation, keys, arguments)
        let steps: [(Double, String, [String], [String])] = [
            (0, "add", ["{c}a"], ["5", "1000"]), (0.5, "add", ["{c}a"], ["7", "1000"]),
            (1, "incr", ["{c}a"], ["3", "10", "2000"]), (1, "incr", ["{c}a"], ["3", "10", "2000"]),
            (2, "decr", ["{c}a"], ["4", "0", "1500"]), (3, "decr", ["{c}a"], ["5", "0", "1500"]),
            (4, "incr_and_sum", ["{c}b", "{c}a", "{c}b"], ["2", "10", "3000"]),
            (5, "incr_and_sum", ["{c}b", "{c}a", "{c}b"], ["2", "10", "3000"]),
            (6, "incr_and_sum", ["{c}b", "{c}a", "{c}b"], ["1", "10", "3000"]),
            (1_504.5, "incr", ["{c}a"], ["1", "1", "100"]), (3_100, "incr", ["{c}b"], ["-5", "0", "10"]),
            (3_200, "add", ["{c}d"], [min, "1"]), (3_200.1, "decr", ["{c}d"], ["1", min, "5"]),
            (3_200.2, "incr", ["{c}d"], ["-1", max, "5"]), (3_200.3, "incr", ["{c}d"], [max, max, "5"]),
            (3_200.4, "incr", ["{c}e"], [max, max, max]), (3_200.5, "incr", ["{c}e"], ["1", max, "5"]),
            // An amount above the maximum fits when the counter is below zero.
            (3_300, "add", ["{c}f"], ["-100", "10000"]), (3_300.1, "incr", ["{c}f"], ["10", "1", "10000"]),
            (3_300.2, "add", ["{c}g"], ["-1", "10000"]), (3_300.3, "incr", ["{c}g"], ["1", "0", "10000"]),
            (3_300.4, "incr", ["{c}g"], ["1", "0", "10000"]),
        ]
        var model = Model<Int64>()
        for (offset, operation, keys, arguments) in steps {
            let now = Instant(nanoseconds: Self.base + Int64(offset * 1_000_000))
            try await Self.expire(backend, keys: keys, now: now, model: &model)
            let key = keys[0]
            let current = model.state(key, now: now)
            let numbers = arguments.map { Int64($0)! }
            let expected: RESPValue
            do {
                let outcome = switch operation {
                case "add": try BoundedCounter.add(current: current, value: numbers[0], ttlMilliseconds: numbers[1], now: now)
                case "incr": try BoundedCounter.incr(current: current, amount: numbers[0], maximum: numbers[1], ttlMilliseconds: numbers[2], now: now)
                case "decr": try BoundedCounter.decr(current: current, amount: numbers[0], minimum: numbers[1], ttlMilliseconds: numbers[2], now: now)
                default: try BoundedCounter.incrAndSum(
                    current: current, summed: keys.dropFirst().map { model.state($0, now: now) },
                    amount: numbers[0], maximum: numbers[1], ttlMilliseconds: numbers[2], now: now)
                }
                model.apply(outcome.write, key, now: now)
                expected = .integer(outcome.applied ? 1 : 0)
            } catch {
                expected = .error("ERR \(error)")
            }
            let reply: RESPValue
            do {
                reply = try await Self.run(backend, .boundedCounter, keys: keys, [operation] + arguments, now: now, model: &model)
            } catch let error as BackendError {
                guard case .replyError(let text) = error else { throw error }
                reply = .error(text)
            }
            let step = "\(operation) \(keys) \(arguments) at +\(offset) ms"
            #expect(reply == expected, "\(step)")
            if let entry = model.entries[key] {
                #expect(try await backend.command([word("GET"), word(key)]) == .bulkString(word(String(entry.state))), "\(step)")
            }
            try await Self.checkDeadlines(backend, model, keys: keys, step: step)
        }
    }

    @Test("cell_throttle.lua answers CL.THROTTLE as SluiceCore.CellThrottle, with the same TTLs and stored TAT")
    func cellThrottle() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        // (ms after base, quantity)
        let steps: [(Double, Int64)] = [
            (0, 1), (0, 1), (0, 1), (0.5, 1), (0.5, 0), (100, 1), (333.333, 1), (333.334, 1), (400, 3),
            (400, 4), (1_000, 2), (1_000, 0), (5_000, 0), (5_000, 3), (5_000.000001, 1), (9_000, 1),
        ]
        let configurations: [(Int64, Int64, String)] = [(2, 3, "1"), (0, 1, "0.25"), (15, 30, "60"), (4, 7, "1e-2")]
        for (index, (maxBurst, count, period)) in configurations.enumerated() {
            let throttle = try CellThrottle(maxBurst: maxBurst, countPerPeriod: count, period: Double(period)!)
            let key = "tat\(index)"
            var model = Model<Int64>()
            for (offset, quantity) in steps {
                let now = Instant(nanoseconds: Self.base + Int64(offset * 1_000_000))
                try await Self.expire(backend, keys: [key], now: now, model: &model)
                let outcome = try throttle.throttle(tat: model.state(key, now: now), quantity: quantity, now: now)
                model.apply(outcome.write, key, now: now)
                let reply = try await Self.run(
                    backend, .cellThrottle, keys: [key], [String(maxBurst), String(count), period, String(quantity)], now: now, model: &model)
                let result = outcome.result
                let expected = RESPValue.array([
                    .integer(result.limited ? 1 : 0), .integer(result.limit), .integer(result.remaining),
                    .integer(result.retryAfter), .integer(result.resetAfter),
                    .integer(result.retryAfterNanoseconds), .integer(result.resetAfterNanoseconds),
                ])
                let step = "quantity \(quantity) at +\(offset) ms with \(maxBurst) \(count) \(period)"
                #expect(reply == expected, "\(step)")
                #expect(ThrottleResult(backendReply: reply) == result, "\(step)")
                if let entry = model.entries[key] {
                    #expect(try await backend.command([word("GET"), word(key)]) == .bulkString(word(String(entry.state))), "\(step)")
                }
                try await Self.checkDeadlines(backend, model, keys: [key], step: step)
            }
        }
    }

    @Test("cell_throttle.lua answers a stored TAT written by hand months or centuries ahead as CellThrottle, to the second")
    func cellThrottleFarTAT() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        let now = Instant(nanoseconds: Self.base)
        let second: Int64 = 1_000_000_000
        // Around 2^53 ns ahead, where a Lua number stops being exact, and the end of Int64.
        let tats = [now.nanoseconds + (1 << 53) - 1, now.nanoseconds + (1 << 53), now.nanoseconds + 9_007_199 * second + 1,
                    now.nanoseconds + 9_007_200 * second + 1, now.nanoseconds + 7_223_372_030 * second,
                    9_223_372_035_000_000_000, .max]
        let configurations: [(Int64, Int64, String)] = [(0, 1, "1"), (2, 1, "1"), (0, 1000, "9007199"), (5, 7, "9007199")]
        for tat in tats {
            for (maxBurst, count, period) in configurations {
                for quantity: Int64 in [0, 1, 3, 7] {
                    let throttle = try CellThrottle(maxBurst: maxBurst, countPerPeriod: count, period: Double(period)!)
                    let result = try throttle.throttle(tat: tat, quantity: quantity, now: now).result
                    _ = try await backend.command([word("SET"), word("far"), word(String(tat))])
                    let reply = try await backend.evalScript(
                        .cellThrottle, keys: [word("far")],
                        arguments: [String(maxBurst), String(count), period, String(quantity), "NOW", String(now.nanoseconds)].map(word))
                    let step = "TAT \(tat), \(maxBurst) \(count) \(period), quantity \(quantity)"
                    let answered = try #require(ThrottleResult(backendReply: reply), "\(step): \(reply)")
                    #expect([answered.limited ? 1 : 0, answered.limit, answered.remaining, answered.retryAfter, answered.resetAfter]
                        == [result.limited ? 1 : 0, result.limit, result.remaining, result.retryAfter, result.resetAfter], "\(step)")
                    #expect(try await backend.command([word("GET"), word("far")]) == .bulkString(word(String(tat))), "\(step)")
                }
            }
        }
    }

    @Test("sliding_window.lua's deadline ends where in-memory mode's do, at the last millisecond of Int64 nanoseconds")
    func slidingWindowLastDeadline() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        let now = Instant(nanoseconds: Self.base)
        // The end of Int64 nanoseconds as a millisecond deadline.
        let last: Int64 = 9_223_372_036_854
        for interval: Int64 in [last - now.milliseconds - 2, last - now.milliseconds - 1, last - now.milliseconds, 9_007_199_254_740_991] {
            let window = try SlidingWindow(rates: [SlidingWindowRate(limit: 1, intervalMilliseconds: interval)])
            var log: SlidingWindowLog?
            let ttl = try #require(try window.acquire(&log, weight: 1, now: now).ttlNanoseconds)
            let key = "window\(interval)"
            _ = try await backend.evalScript(
                .slidingWindow, keys: [word(key)], arguments: ["1", "1", String(interval), "NOW", String(now.nanoseconds)].map(word))
            let deadline = try await backend.command([word("PEXPIRETIME"), word(key)])
            #expect(deadline == .integer(Keyspace.deadline(now: now, ttlNanoseconds: ttl)), "interval \(interval)")
            #expect(deadline == .integer(min(now.milliseconds + interval, last)), "interval \(interval)")
        }
    }

    @Test("sliding_window.lua answers ACQUIRE as SluiceCore.SlidingWindow, with the same TTLs")
    func slidingWindow() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        // (ms after base, weight); a step back in time checks a clock that went backwards.
        let steps: [(Double, Int64)] = [
            (0, 2), (0.4, 2), (0.9, 1), (1, 1), (500, 0), (999, 1), (1_000, 1), (1_000.7, 3), (1_001, 1),
            (1_500, 9), (2_100, 4), (2_050, 1), (3_000, 2), (4_002, 5), (4_003, 1), (60_000, 1),
        ]
        let configurations: [[SlidingWindowRate]] = [
            [SlidingWindowRate(limit: 5, intervalMilliseconds: 1_000), SlidingWindowRate(limit: 8, intervalMilliseconds: 3_000)],
            [SlidingWindowRate(limit: 8, intervalMilliseconds: 3_000), SlidingWindowRate(limit: 5, intervalMilliseconds: 1_000)],
            [SlidingWindowRate(limit: 3, intervalMilliseconds: 100), SlidingWindowRate(limit: 6, intervalMilliseconds: 1_000),
             SlidingWindowRate(limit: 10, intervalMilliseconds: 4_000)],
        ]
        for (index, rates) in configurations.enumerated() {
            let window = try SlidingWindow(rates: rates)
            let key = "window\(index)"
            var model = Model<SlidingWindowLog>()
            for (offset, weight) in steps {
                let now = Instant(nanoseconds: Self.base + Int64(offset * 1_000_000))
                try await Self.expire(backend, keys: [key], now: now, model: &model)
                var log = model.state(key, now: now)
                let outcome = try window.acquire(&log, weight: weight, now: now)
                if let ttl = outcome.ttlNanoseconds, let log {
                    model.apply(.store(log, ttlNanoseconds: ttl), key, now: now)
                }
                let arguments = [String(weight)] + rates.flatMap { [String($0.limit), String($0.intervalMilliseconds)] }
                let reply = try await Self.run(backend, .slidingWindow, keys: [key], arguments, now: now, model: &model)
                let expected = RESPValue.array([
                    .integer(outcome.acquired ? 1 : 0), .integer(outcome.waitMilliseconds), .integer(Int64(outcome.failingRateIndex)),
                ])
                let step = "weight \(weight) at +\(offset) ms with rates \(index)"
                #expect(reply == expected, "\(step)")
                try await Self.checkDeadlines(backend, model, keys: [key], step: step)
            }
        }
    }

    @Test("the scripts refuse bad arguments with in-memory mode's error texts and change nothing")
    func argumentErrors() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        let cases: [(BackendScript, [String], String)] = [
            (.leakyBucket, ["consume", "0", "1", "1", "0"], "ERR capacity must be a positive integer"),
            (.leakyBucket, ["consume", "x", "1", "1", "0"], "ERR capacity must be a positive integer"),
            (.leakyBucket, ["consume", "3", "0", "1", "0"], "ERR recharge must be a positive number"),
            (.leakyBucket, ["consume", "3", "inf", "1", "0"], "ERR recharge must be a positive number"),
            (.leakyBucket, ["consume", "3", "1e-10", "1", "0"], "ERR recharge must be at least one nanosecond"),
            (.leakyBucket, ["consume", "3", "2e9", "1", "0"], "ERR recharge must be at most 1000000000 seconds"),
            (.leakyBucket, ["consume", "3", "1", "1.5", "0"], "ERR amount must be an integer"),
            (.leakyBucket, ["consume", "3", "1", "1", "-1"], "ERR block must be a non-negative number"),
            (.boundedCounter, ["incr", "1", "x", "10"], "ERR maximum must be an integer"),
            (.boundedCounter, ["decr", "1", "0", "0"], "ERR ttl must be a positive integer"),
            (.boundedCounter, ["add", "01", "10"], "ERR value must be an integer"),
            (.cellThrottle, ["-1", "1", "1", "1"], "ERR max_burst must be a non-negative integer"),
            (.cellThrottle, ["1", "1", "0", "1"], "ERR Zero rates are not supported"),
            (.cellThrottle, ["1", "10", "1e-9", "1"], "ERR Zero rates are not supported"),
            (.cellThrottle, ["1", "1", "1", "-1"], "ERR quantity must be a non-negative integer"),
            // A burst window of 2^53 ns or more: refused only in backend mode, and said so.
            (.cellThrottle, ["60000", "5", "86400", "1"], "ERR max_burst is out of range for this rate in backend mode"),
            (.cellThrottle, ["9223372036854775806", "1", "1", "1"], "ERR max_burst is out of range for this rate"),
            (.slidingWindow, ["-1", "5", "1000"], "ERR weight must be a non-negative integer"),
            (.slidingWindow, ["1", "5", "1000", "5", "2000"], "ERR a rate with a longer interval must have a larger limit: rate 1 does not exceed rate 0"),
            (.slidingWindow, ["1", "5", "1000", "10", "1000"], "ERR rates must have distinct intervals: rate 1 repeats the interval of rate 0"),
            (.slidingWindow, ["1", "5", "1000", "600", "60000"], "ERR a rate with a longer interval must not allow more per millisecond: rate 1 is denser than rate 0"),
            (.slidingWindow, ["1", "0", "1000"], "ERR limit of rate 0 must be a positive integer"),
        ]
        for (script, arguments, message) in cases {
            await #expect(throws: BackendError.replyError(message), "\(script) \(arguments)") {
                try await backend.evalScript(script, keys: [word("bad")], arguments: arguments.map(word))
            }
        }
        _ = try await backend.command([word("HSET"), word("hash"), word("f"), word("v")])
        for script in [BackendScript.boundedCounter, .cellThrottle] {
            let arguments = script == .boundedCounter ? ["incr", "1", "5", "100"] : ["1", "1", "1", "1"]
            await #expect(throws: BackendError.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")) {
                try await backend.evalScript(script, keys: [word("hash")], arguments: arguments.map(word))
            }
        }
        _ = try await backend.command([word("SET"), word("string"), word("v")])
        let onString: [(BackendScript, [String])] = [
            (.leakyBucket, ["consume", "3", "1", "1", "0"]), (.slidingWindow, ["1", "5", "1000"]),
            // Weight 0 records nothing, but the key must still be a window.
            (.slidingWindow, ["0", "5", "1000"]),
        ]
        // A sorted set that is not a window, even one whose members are all older than the
        // window, is refused and left whole, not trimmed.
        _ = try await backend.command(["ZADD", "zset", "1", "m", "2", "n"].map(word))
        for weight in ["1", "0"] {
            await #expect(throws: BackendError.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")) {
                try await backend.evalScript(.slidingWindow, keys: [word("zset")], arguments: [weight, "5", "1000"].map(word))
            }
        }
        #expect(try await backend.command(["ZCARD", "zset"].map(word)) == .integer(2))
        #expect(try await backend.command(["PTTL", "zset"].map(word)) == .integer(-1))
        _ = try await backend.command(["DEL", "zset"].map(word))
        for (script, arguments) in onString {
            await #expect(throws: BackendError.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")) {
                try await backend.evalScript(script, keys: [word("string")], arguments: arguments.map(word))
            }
        }
        await #expect(throws: BackendError.replyError("ERR value is not an integer or out of range")) {
            try await backend.evalScript(.cellThrottle, keys: [word("string")], arguments: ["1", "1", "1", "1"].map(word))
        }
        #expect(try await backend.command([word("DBSIZE")]) == .integer(2))
    }
}
