import RESP
import SluiceCore

/// ACQUIRE: pyrate-limiter's sliding-window log under several rates
/// (`SluiceCore.SlidingWindow`) as an atomic, all-or-nothing command.
enum SlidingWindowCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("acquire", arity: -6, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "ratelimit",
                    summary: "Takes a weight under every rate of a sliding-window log, or nothing.",
                    since: "0.1.0") { invocation, state throws(CommandError) in
            let (key, weight, rates) = try parse(&invocation)
            let window = try rateLimited { () throws(RateLimitError) in try SlidingWindow(rates: rates) }
            let now = invocation.now
            let outcome = try invocation.arguments.withKey(key) { key throws(CommandError) in
                try acquire(window, weight: weight, key: key, now: now, keyspace: &state.keyspace)
            }
            state.stats.decisions.record(.acquire, allowed: outcome.acquired)
            return .array([
                .integer(outcome.acquired ? 1 : 0),
                .integer(outcome.waitMilliseconds),
                .integer(Int64(outcome.failingRateIndex)),
            ])
        },
    ]

    /// `key weight RATE limit interval_ms [RATE ...]`: the key's argument index, the
    /// weight and the rates (the algorithm checks the rates themselves).
    static func parse(_ invocation: inout Invocation) throws(CommandError) -> (Int, Int64, [SlidingWindowRate]) {
        let key = try invocation.arguments.nextIndex()
        let weight = try invocation.arguments.nextInteger(orElse: .notNonNegativeInteger("weight"))
        guard weight >= 0 else { throw CommandError(.notNonNegativeInteger("weight")) }
        var rates: [SlidingWindowRate] = []
        rates.reserveCapacity(invocation.arguments.remaining / 3)
        while !invocation.arguments.isEmpty {
            let word = try invocation.arguments.nextKeyword()
            guard word == "RATE" else { throw .unknownOption(word, command: "acquire", expected: "RATE") }
            guard invocation.arguments.remaining >= 2 else { throw .err("RATE needs a limit and an interval in milliseconds") }
            let index = rates.count
            let limit = try invocation.arguments.nextInteger(orElse: .notPositiveInteger("limit of rate \(index)"))
            let interval = try invocation.arguments.nextInteger(orElse: .notPositiveInteger("interval of rate \(index)"))
            rates.append(SlidingWindowRate(limit: limit, intervalMilliseconds: interval))
        }
        return (key, weight, rates)
    }
}

/// Runs the acquire on the stored log in place: the entry lets go of the log while the
/// algorithm changes it, so its array is not shared and is not copied, and gets it back,
/// changed or not.
private func acquire(
    _ window: SlidingWindow, weight: Int64, key: UnsafeRawBufferPointer, now: Instant, keyspace: inout Keyspace
) throws(CommandError) -> SlidingWindowOutcome {
    var result: Result<SlidingWindowOutcome, CommandError> = .failure(.syntax)
    keyspace.withEntry(key, now: now) { value, deadline in
        do throws(CommandError) {
            var log = try windowLog(value)
            if log != nil { value = nil }
            defer { if let log { value = .slidingWindow(log) } }
            let outcome = try rateLimited { () throws(RateLimitError) in try window.acquire(&log, weight: weight, now: now) }
            if case .store(_, let ttl) = outcome.write { deadline = Keyspace.deadline(now: now, ttlNanoseconds: ttl) }
            result = .success(outcome)
        } catch {
            result = .failure(error)
        }
    }
    return try result.get()
}

/// A sliding-window log, nil when the key is absent; `WRONGTYPE` for any other value.
private func windowLog(_ value: Value?) throws(CommandError) -> SlidingWindowLog? {
    switch value {
    case nil: return nil
    case .slidingWindow(let log)?: return log
    default: throw .wrongType
    }
}
