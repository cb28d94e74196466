import RESP
import SluiceCore

/// dramatiq's rate-limit backend operations (`SluiceCore.BoundedCounter`) as atomic
/// commands replying 1 (done) or 0 (refused, nothing changed). Values are decimal
/// strings, readable with `GET`; TTLs are milliseconds.
///
/// `INCR key amount maximum ttl_ms` and `DECR key amount minimum ttl_ms` share their
/// names with Redis's one-argument `INCR`/`DECR`, whose specs (in StringCommands) call
/// `boundedIncr`/`boundedDecr` when given more arguments.
enum CounterCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("add", arity: 4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "ratelimit",
                    summary: "Sets an integer with a TTL in milliseconds only if the key is absent.",
                    since: "0.1.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let value = try invocation.arguments.nextInteger(orElse: .notInteger("value"))
            let ttl = try ttlArgument(&invocation)
            let now = invocation.now
            return try decide(key, &invocation, &state, command: .add) { current throws(CommandError) in
                try rateLimited { () throws(RateLimitError) in
                    try BoundedCounter.add(current: current, value: value, ttlMilliseconds: ttl, now: now)
                }
            }
        },
        CommandSpec("incr_and_sum", arity: -6, flags: ["write", "denyoom"], keys: (1, -1, 1), group: "ratelimit",
                    summary: "Increments an integer unless it or its sum with other keys would exceed a maximum.",
                    since: "0.1.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let (amount, maximum, ttl) = try amountLimitTTL(&invocation, limit: "maximum")
            let keys = invocation.arguments
            let now = invocation.now
            // Read before the key's own look-up, which holds the keyspace; a summed key's
            // error is raised after the key's, in argument order, as if read after it.
            let summed = keys.restIndices.map { index in
                keys.withWord(index) { key in
                    Result { () throws(CommandError) in try integerValue(state.keyspace.value(key, now: now), emptyAsZero: true) }
                }
            }
            return try decide(key, &invocation, &state, command: .incrAndSum) { current throws(CommandError) in
                let summed = try summed.map { result throws(CommandError) in try result.get() }
                return try rateLimited { () throws(RateLimitError) in
                    try BoundedCounter.incrAndSum(
                        current: current, summed: summed, amount: amount, maximum: maximum, ttlMilliseconds: ttl, now: now)
                }
            }
        },
    ]

    /// `INCR key amount maximum ttl_ms`.
    static func boundedIncr(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        try bounded(&invocation, &state, command: .incr, limit: "maximum", BoundedCounter.incr)
    }

    /// `DECR key amount minimum ttl_ms`.
    static func boundedDecr(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        try bounded(&invocation, &state, command: .decr, limit: "minimum", BoundedCounter.decr)
    }

    private typealias Operation = (Int64?, Int64, Int64, Int64, Instant) throws(RateLimitError) -> BoundedCounterOutcome

    /// `key amount maximum|minimum ttl_ms` with exactly these arguments, then `operation`.
    private static func bounded(
        _ invocation: inout Invocation, _ state: inout DatabaseState, command: RateLimitCommand, limit: String, _ operation: Operation
    ) throws(CommandError) -> RESPValue {
        guard invocation.arguments.count == 5 else { throw CommandError(.wrongArity(command: command.name)) }
        let key = try invocation.arguments.nextIndex()
        let (amount, bound, ttl) = try amountLimitTTL(&invocation, limit: limit)
        let now = invocation.now
        return try decide(key, &invocation, &state, command: command) { current throws(CommandError) in
            try rateLimited { () throws(RateLimitError) in try operation(current, amount, bound, ttl, now) }
        }
    }

    /// Reads the counter named by the argument at `key` where it lies, decides with
    /// `operation`, and writes the outcome, all with one look-up; replies 1 or 0.
    private static func decide(
        _ key: Int, _ invocation: inout Invocation, _ state: inout DatabaseState, command: RateLimitCommand,
        _ operation: (Int64?) throws(CommandError) -> BoundedCounterOutcome
    ) throws(CommandError) -> RESPValue {
        let now = invocation.now
        let applied = try invocation.arguments.withKey(key) { key throws(CommandError) in
            try state.keyspace.decideInteger(key, now: now, emptyAsZero: true) { current throws(CommandError) in
                let outcome = try operation(current)
                return (outcome.write, outcome.applied)
            }
        }
        state.stats.decisions.record(command, allowed: applied)
        return .integer(applied ? 1 : 0)
    }

    /// `amount maximum|minimum ttl_ms`, checked before any state is read.
    static func amountLimitTTL(_ invocation: inout Invocation, limit: String) throws(CommandError) -> (Int64, Int64, Int64) {
        let amount = try invocation.arguments.nextInteger(orElse: .notInteger("amount"))
        let bound = try invocation.arguments.nextInteger(orElse: .notInteger(limit))
        return (amount, bound, try ttlArgument(&invocation))
    }

    /// `ttl_ms`: positive, checked here too so a bad TTL is reported before the key's type.
    static func ttlArgument(_ invocation: inout Invocation) throws(CommandError) -> Int64 {
        let ttl = try invocation.arguments.nextInteger(orElse: .notPositiveInteger("ttl"))
        guard ttl > 0 else { throw CommandError(.notPositiveInteger("ttl")) }
        return ttl
    }
}
