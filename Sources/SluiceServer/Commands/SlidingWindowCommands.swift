import NIOCore
import RESP
import SluiceCore

/// ACQUIRE: pyrate-limiter's sliding-window log under several rates
/// (`SluiceCore.SlidingWindow`) as an atomic, all-or-nothing command.
enum SlidingWindowCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("acquire", arity: -6, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "ratelimit",
                    summary: "Takes a weight under every rate of a sliding-window log, or nothing.",
                    since: "0.1.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let (key, weight, rates) = try parse(&invocation)
            let now = invocation.now
            let outcome = try invocation.arguments.withKey(key) { key throws(CommandError) in
                try acquire(rates.window, weight: weight, key: key, now: now, keyspace: &state.keyspace)
            }
            state.stats.decisions.record(.acquire, allowed: outcome.acquired)
            return .decision(.acquire(AcquireReply(acquired: outcome.acquired, waitMilliseconds: outcome.waitMilliseconds,
                                                   failingRateIndex: Int64(outcome.failingRateIndex))))
        },
    ]

    /// `[acquired 1|0, wait_ms, failing_rate_index]`.
    static func reply(_ reply: AcquireReply) -> RESPValue {
        .array([.integer(reply.acquired ? 1 : 0), .integer(reply.waitMilliseconds), .integer(reply.failingRateIndex)])
    }

    /// `reply`'s bytes, written without building it.
    static func write(_ reply: AcquireReply, _ version: RESPVersion, into buffer: inout ByteBuffer) {
        buffer.writeRESPIntegerArray(count: 3, version: version) { out in
            out.integer(reply.acquired ? 1 : 0)
            out.integer(reply.waitMilliseconds)
            out.integer(reply.failingRateIndex)
        }
    }

    /// `key weight RATE limit interval_ms [RATE ...]`: the key's argument index, the
    /// weight and the checked rates. A connection's clients send the same rates on every
    /// call, so rates whose words match the connection's last ones are taken as they were
    /// then, neither parsed nor checked again.
    static func parse(_ invocation: inout Invocation) throws(CommandError) -> (Int, Int64, AcquireRates) {
        let key = try invocation.arguments.nextIndex()
        let weight = try invocation.arguments.nextInteger(orElse: .notNonNegativeInteger("weight"))
        guard weight >= 0 else { throw CommandError(.notNonNegativeInteger("weight")) }
        if let last = invocation.client.lastAcquireRates, invocation.arguments.restEquals(last.words) {
            return (key, weight, last)
        }
        let words = invocation.arguments.packedRest()
        let list = try parseRates(&invocation.arguments)
        let rates = AcquireRates(window: try rateLimited { () throws(RateLimitError) in try SlidingWindow(rates: list) }, words: words ?? [])
        if words != nil { invocation.client.lastAcquireRates = rates }
        return (key, weight, rates)
    }

    private static func parseRates(_ arguments: inout Arguments) throws(CommandError) -> [SlidingWindowRate] {
        var rates: [SlidingWindowRate] = []
        rates.reserveCapacity(arguments.remaining / 3)
        while !arguments.isEmpty {
            let word = try arguments.nextKeyword()
            guard word == "RATE" else { throw .unknownOption(word, command: "acquire", expected: "RATE") }
            guard arguments.remaining >= 2 else { throw .err("RATE needs a limit and an interval in milliseconds") }
            let index = rates.count
            let limit = try arguments.nextInteger(orElse: .notPositiveInteger("limit of rate \(index)"))
            let interval = try arguments.nextInteger(orElse: .notPositiveInteger("interval of rate \(index)"))
            rates.append(SlidingWindowRate(limit: limit, intervalMilliseconds: interval))
        }
        return rates
    }
}

/// What an `ACQUIRE` answers.
struct AcquireReply {
    let acquired: Bool
    let waitMilliseconds: Int64
    let failingRateIndex: Int64
}

/// Checked rates and the words they were parsed from (`Arguments.packedRest`). A class,
/// so that a connection's remembered rates are used without copying their arrays.
final class AcquireRates: Sendable {
    let window: SlidingWindow
    let words: [UInt8]

    init(window: SlidingWindow, words: [UInt8]) {
        self.window = window
        self.words = words
    }
}

/// Runs the acquire on the stored log in place: the entry lets go of the log while the
/// algorithm changes it, so its array is not shared and is not copied, and gets it back,
/// changed or not.
private func acquire(
    _ window: SlidingWindow, weight: Int64, key: UnsafeRawBufferPointer, now: Instant, keyspace: inout ShardedKeyspace
) throws(CommandError) -> SlidingWindowOutcome {
    var result: Result<SlidingWindowOutcome, CommandError> = .failure(.syntax)
    keyspace.withEntry(key, now: now) { value, deadline in
        do throws(CommandError) {
            var log = try windowLog(&value)
            defer { if let log { value = .slidingWindow(log) } }
            let outcome = try rateLimited { () throws(RateLimitError) in try window.acquire(&log, weight: weight, now: now) }
            if let ttl = outcome.ttlNanoseconds { deadline = Keyspace.deadline(now: now, ttlNanoseconds: ttl) }
            result = .success(outcome)
        } catch {
            result = .failure(error)
        }
    }
    return try result.get()
}

/// The key's sliding-window log, moved out of `value`; nil when the key is absent;
/// `WRONGTYPE`, leaving `value` alone, for any other value.
private func windowLog(_ value: inout Value?) throws(CommandError) -> SlidingWindowLog? {
    switch value {
    case nil: return nil
    case .slidingWindow?:
        guard case .slidingWindow(let log)? = value.take() else { return nil }
        return log
    default: throw .wrongType
    }
}
