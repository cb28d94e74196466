import NIOCore
import RESP
import SluiceCore

/// CL.THROTTLE: redis-cell's GCRA (`SluiceCore.CellThrottle`) as an atomic command.
/// The state is the TAT in nanoseconds since the epoch, a decimal string as redis-cell
/// stores it, with a TTL until the bucket is full again.
enum ThrottleCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("cl.throttle", arity: -5, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "ratelimit",
                    summary: "Applies GCRA rate limiting to a key, as redis-cell does.",
                    since: "0.1.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let (key, throttle, quantity) = try parse(&invocation).memory
            let now = invocation.now
            let result = try invocation.arguments.withKey(key) { key throws(CommandError) in
                try state.keyspace.decideInteger(key, now: now) { tat throws(CommandError) in
                    let outcome = try rateLimited { () throws(RateLimitError) in
                        try throttle.throttle(tat: tat, quantity: quantity, now: now)
                    }
                    return (outcome.write, outcome.result)
                }
            }
            state.stats.decisions.record(.clThrottle, allowed: !result.limited)
            return .decision(.throttle(result))
        },
    ]

    /// A checked CL.THROTTLE: the key's argument index, the throttle, and the numbers
    /// as given, which backend mode passes on to cell_throttle.lua.
    struct Parsed {
        let key: Int
        let throttle: CellThrottle
        let maxBurst: Int64
        let countPerPeriod: Int64
        let period: Double
        let quantity: Int64

        var memory: (Int, CellThrottle, Int64) { (key, throttle, quantity) }
    }

    /// `key max_burst count_per_period period [quantity]`.
    static func parse(_ invocation: inout Invocation) throws(CommandError) -> Parsed {
        let key = try invocation.arguments.nextIndex()
        let maxBurst = try invocation.arguments.nextInteger(orElse: .notNonNegativeInteger("max_burst"))
        let count = try invocation.arguments.nextInteger(orElse: .notPositiveInteger("count_per_period"))
        let period = try invocation.arguments.nextNumber(orElse: .notPositiveNumber("period"))
        var quantity: Int64 = 1
        if !invocation.arguments.isEmpty {
            quantity = try invocation.arguments.nextInteger(orElse: .notNonNegativeInteger("quantity"))
        }
        guard invocation.arguments.isEmpty else { throw CommandError(.wrongArity(command: "cl.throttle")) }
        guard quantity >= 0 else { throw CommandError(.notNonNegativeInteger("quantity")) }
        let throttle = try rateLimited { () throws(RateLimitError) in
            try CellThrottle(maxBurst: maxBurst, countPerPeriod: count, period: period)
        }
        return Parsed(key: key, throttle: throttle, maxBurst: maxBurst, countPerPeriod: count, period: period, quantity: quantity)
    }

    /// `reply`'s bytes, written without building it.
    static func write(_ result: ThrottleResult, _ version: RESPVersion, into buffer: inout ByteBuffer) {
        buffer.writeRESPIntegerArray(count: 5, version: version) { out in
            out.integer(result.limited ? 1 : 0)
            out.integer(result.limit)
            out.integer(result.remaining)
            out.integer(result.retryAfter)
            out.integer(result.resetAfter)
        }
    }

    /// redis-cell's five integers.
    static func reply(_ result: ThrottleResult) -> RESPValue {
        .array([
            .integer(result.limited ? 1 : 0),
            .integer(result.limit),
            .integer(result.remaining),
            .integer(result.retryAfter),
            .integer(result.resetAfter),
        ])
    }
}
