import NIOCore
import RESP
import SluiceCore

/// CONSUME and PEEK: aiosteady's leaky bucket (`SluiceCore.LeakyBucket`) as atomic commands.
enum LeakyBucketCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("consume", arity: -4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "ratelimit",
                    summary: "Adds drops to a leaky bucket if they fit; a failure may block the bucket.",
                    since: "0.1.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let (key, bucket, amount) = try parse(&invocation, command: "consume").memory
            let now = invocation.now
            let decision = try invocation.arguments.withKey(key) { key throws(CommandError) in
                try state.keyspace.decide(key, now: now, read: bucketState, wrap: { Value(leakyBucket: $0) }) { current in
                    let outcome = bucket.consume(current, amount: amount ?? 1, now: now)
                    return (outcome.write, outcome.decision)
                }
            }
            state.stats.decisions.record(.consume, allowed: decision.success)
            return .decision(.leakyBucket(decision))
        },
        CommandSpec("peek", arity: -4, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "ratelimit",
                    summary: "Reports a leaky bucket's level without changing it.",
                    since: "0.1.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let (key, bucket, _) = try parse(&invocation, command: "peek").memory
            let now = invocation.now
            let current = try invocation.arguments.withKey(key) { key throws(CommandError) in
                try bucketState(state.keyspace.value(key, now: now))
            }
            return .decision(.leakyBucket(bucket.peek(current, now: invocation.now)))
        },
    ]

    /// A checked CONSUME or PEEK: the key's argument index (for `withKey`), the bucket,
    /// and the numbers as given, which backend mode passes on to leaky_bucket.lua.
    struct Parsed {
        let key: Int
        let bucket: LeakyBucket
        let capacity: Int64
        let recharge: Double
        let amount: Int64?
        let block: Double?

        var memory: (Int, LeakyBucket, Int64?) { (key, bucket, amount) }
    }

    /// `key capacity recharge [AMOUNT n] [BLOCK seconds]` (`AMOUNT` for CONSUME only).
    static func parse(_ invocation: inout Invocation, command: String) throws(CommandError) -> Parsed {
        let key = try invocation.arguments.nextIndex()
        let capacity = try invocation.arguments.nextInteger(orElse: .notPositiveInteger("capacity"))
        let recharge = try invocation.arguments.nextNumber(orElse: .notPositiveNumber("recharge"))
        var amount: Int64?
        var block: Double?
        while !invocation.arguments.isEmpty {
            let option = try invocation.arguments.nextKeyword()
            switch option {
            case "AMOUNT" where command == "consume":
                amount = try invocation.arguments.optionValue(option, seen: amount) { arguments throws(CommandError) in
                    try arguments.nextInteger(orElse: .notInteger("amount"))
                }
            case "BLOCK":
                block = try invocation.arguments.optionValue(option, seen: block) { arguments throws(CommandError) in
                    try arguments.nextNumber(orElse: .notNonNegativeNumber("block"))
                }
            default:
                throw .unknownOption(option, command: command, expected: command == "consume" ? "AMOUNT or BLOCK" : "BLOCK")
            }
        }
        let bucket = try rateLimited { () throws(RateLimitError) in
            try LeakyBucket(capacity: capacity, recharge: recharge, block: block)
        }
        return Parsed(key: key, bucket: bucket, capacity: capacity, recharge: recharge, amount: amount, block: block)
    }

    /// `reply`'s bytes, written without building it (RESP3's map is built).
    static func write(_ decision: LeakyBucketDecision, _ version: RESPVersion, into buffer: inout ByteBuffer) {
        guard version == .resp2 else { return buffer.writeRESPValue(reply(decision, version), version: version) }
        buffer.writeRESP(version: version, bound: 3 * RESPDirectWriter.headerBound + 2 * RESPDirectWriter.scalarBound) { out in
            out.arrayHeader(4)
            out.integer(decision.success ? 1 : 0)
            out.integer(decision.level)
            out.scalar(.double(decision.untilNextDrop))
            out.scalar(decision.blockedFor.map(RESPValue.double) ?? .null)
        }
    }

    /// RESP2: `[success 1|0, level, until_next_drop, blocked_for|nil]`, seconds as
    /// bulk-string decimals; RESP3: a map with a boolean, an integer and doubles.
    static func reply(_ decision: LeakyBucketDecision, _ version: RESPVersion) -> RESPValue {
        let blockedFor = decision.blockedFor.map(RESPValue.double) ?? .null
        switch version {
        case .resp2:
            return .array([
                .integer(decision.success ? 1 : 0),
                .integer(decision.level),
                .double(decision.untilNextDrop),
                blockedFor,
            ])
        case .resp3:
            return .map([
                RESPPair(.bulk("success"), .boolean(decision.success)),
                RESPPair(.bulk("level"), .integer(decision.level)),
                RESPPair(.bulk("until_next_drop"), .double(decision.untilNextDrop)),
                RESPPair(.bulk("blocked_for"), blockedFor),
            ])
        }
    }
}

/// A leaky bucket's state, nil when the key is absent; `WRONGTYPE` for any other value.
private func bucketState(_ value: Value?) throws(CommandError) -> LeakyBucketState? {
    guard let value else { return nil }
    guard let state = value.leakyBucketState else { throw .wrongType }
    return state
}
