import RESP
import SluiceCore

/// GET, SET and the other string and counter commands.
enum StringCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("get", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Returns the string value of a key.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let now = invocation.now
            return try invocation.arguments.withKey(key) { key throws(CommandError) in
                try stringValue(state.keyspace.value(key, now: now)).map(RESPValue.bulkString) ?? .null
            }
        },
        CommandSpec("set", arity: -3, flags: ["write", "denyoom"], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value of a key, ignoring its type.", handler: set),
        CommandSpec("setnx", arity: 3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value of a key only when the key doesn't exist.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.next()
            let value = try invocation.arguments.next()
            if state.keyspace.contains(key, now: invocation.now) { return .integer(0) }
            state.keyspace.set(key, .string(value), now: invocation.now)
            return .integer(1)
        },
        CommandSpec("mget", arity: -2, flags: ["readonly", "fast"], keys: (1, -1, 1), group: "string",
                    summary: "Atomically returns the string values of one or more keys.") { invocation, state throws(CommandError) in
            var replies: [RESPValue] = []
            for key in invocation.arguments.rest() {
                switch state.keyspace.value(key, now: invocation.now) {
                case .string(let bytes)?: replies.append(.bulkString(bytes))
                case .integer(let number)?: replies.append(.bulkString(integerBytes(number)))
                default: replies.append(.null)
                }
            }
            return .array(replies)
        },
        CommandSpec("mset", arity: -3, flags: ["write", "denyoom"], keys: (1, -1, 2), group: "string",
                    summary: "Atomically creates or modifies the string values of one or more keys.") { invocation, state throws(CommandError) in
            guard invocation.arguments.remaining % 2 == 0 else { throw CommandError(.wrongArity(command: "mset")) }
            while !invocation.arguments.isEmpty {
                let key = try invocation.arguments.next()
                state.keyspace.set(key, .string(try invocation.arguments.next()), now: invocation.now)
            }
            return .ok
        },
        // `INCR key` is Redis's; `INCR key amount maximum ttl_ms` is dramatiq's bounded
        // counter (CounterCommands). Same for DECR.
        CommandSpec("incr", arity: -2, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Increments the integer value of a key by one, or by an amount up to a maximum.") { invocation, state throws(CommandError) in
            if invocation.arguments.count == 2 { return try incrementBy(&invocation, &state, 1) }
            return try CounterCommands.boundedIncr(&invocation, &state)
        },
        CommandSpec("decr", arity: -2, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Decrements the integer value of a key by one, or by an amount down to a minimum.") { invocation, state throws(CommandError) in
            if invocation.arguments.count == 2 { return try incrementBy(&invocation, &state, -1) }
            return try CounterCommands.boundedDecr(&invocation, &state)
        },
        CommandSpec("incrby", arity: 3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Increments the integer value of a key by a number.") { invocation, state throws(CommandError) in
            let amount = try integerArgument(invocation, at: 2)
            return try incrementBy(&invocation, &state, amount)
        },
        CommandSpec("decrby", arity: 3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Decrements a number from the integer value of a key.") { invocation, state throws(CommandError) in
            let amount = try integerArgument(invocation, at: 2)
            guard amount != .min else { throw .err("decrement would overflow") }
            return try incrementBy(&invocation, &state, -amount)
        },
    ]

    private static func integerArgument(_ invocation: Invocation, at position: Int) throws(CommandError) -> Int64 {
        guard let value = invocation.arguments.withWord(position, parseInteger) else { throw .notInteger }
        return value
    }

    /// INCR/INCRBY/DECR/DECRBY: an absent key counts as 0; the deadline is kept.
    private static func incrementBy(_ invocation: inout Invocation, _ state: inout DatabaseState, _ amount: Int64) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextIndex()
        let now = invocation.now
        // One look-up; an existing counter changes in place, with no bytes to parse or write.
        return try invocation.arguments.withKey(key) { key throws(CommandError) in
            var result: Result<Int64, CommandError> = .failure(.syntax)
            state.keyspace.withEntry(key, now: now) { value, _ in
                do throws(CommandError) {
                    let (sum, overflow) = (try integerValue(value) ?? 0).addingReportingOverflow(amount)
                    guard !overflow else { throw .overflow }
                    value = .integer(sum)
                    result = .success(sum)
                } catch {
                    result = .failure(error)
                }
            }
            return .integer(try result.get())
        }
    }

    /// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
    static func set(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextIndex()
        let value = try invocation.arguments.next()
        var condition: String?
        var returnOld = false
        var expiry: ExpiryOption?
        while !invocation.arguments.isEmpty {
            let option = try invocation.arguments.nextKeyword()
            switch option {
            case "NX", "XX":
                guard condition == nil || condition == option else { throw .syntax }
                condition = option
            case "GET":
                returnOld = true
            case "KEEPTTL":
                guard expiry == nil || expiry == .keep else { throw .syntax }
                expiry = .keep
            case "EX", "PX", "EXAT", "PXAT":
                guard expiry == nil, !invocation.arguments.isEmpty else { throw .syntax }
                let amount = try invocation.arguments.nextInteger()
                guard let deadline = deadline(option, amount, now: invocation.now) else {
                    throw CommandError(.invalidExpireTime(command: "set"))
                }
                expiry = .at(deadline)
            default:
                throw .syntax
            }
        }
        let now = invocation.now
        return try invocation.arguments.withKey(key) { key throws(CommandError) in
            // SET replaces a value of any type; only GET needs the old one to be a string.
            let old = returnOld ? try stringValue(state.keyspace.value(key, now: now)) : nil
            var blocked = false
            if let condition {
                let exists = returnOld ? old != nil : state.keyspace.contains(key, now: now)
                blocked = (condition == "NX") == exists
            }
            if !blocked {
                switch expiry {
                case .keep?:
                    state.keyspace.set(key, .string(value), keepExpiry: true, now: now)
                case .at(let deadline)? where deadline <= now.milliseconds:
                    // Already past: the write happens and is immediately gone, as in Redis.
                    state.keyspace.remove(key, now: now)
                case .at(let deadline)?:
                    state.keyspace.set(key, .string(value), expiresAt: deadline, now: now)
                case nil:
                    state.keyspace.set(key, .string(value), now: now)
                }
            }
            if returnOld { return old.map(RESPValue.bulkString) ?? .null }
            return blocked ? .null : .ok
        }
    }

    enum ExpiryOption: Equatable {
        case keep
        case at(Int64)
    }

    /// The Unix-millisecond deadline for an expiry option, or nil when it is not
    /// positive or does not fit.
    static func deadline(_ unit: String, _ amount: Int64, now: Instant) -> Int64? {
        guard amount > 0 else { return nil }
        let relative = unit == "EX" || unit == "PX"
        let inSeconds = unit == "EX" || unit == "EXAT"
        var milliseconds = amount
        if inSeconds {
            let (scaled, overflow) = amount.multipliedReportingOverflow(by: 1000)
            guard !overflow else { return nil }
            milliseconds = scaled
        }
        if relative {
            let (sum, overflow) = milliseconds.addingReportingOverflow(now.milliseconds)
            guard !overflow else { return nil }
            milliseconds = sum
        }
        return milliseconds
    }
}

extension Keyspace {
    /// The bytes of a string key, nil when absent; `WRONGTYPE` for any other kind of value.
    mutating func string(_ key: Key, now: Instant) throws(CommandError) -> [UInt8]? {
        try stringValue(value(key, now: now))
    }
}

/// The bytes of a string value, nil when absent; `WRONGTYPE` for any other kind of value.
func stringValue(_ value: Value?) throws(CommandError) -> [UInt8]? {
    switch value {
    case nil: return nil
    case .string(let bytes)?: return bytes
    case .integer(let number)?: return integerBytes(number)
    case .leakyBucket?, .slidingWindow?: throw .wrongType
    }
}

/// The integer a counter or TAT value holds: nil when absent, `WRONGTYPE` for another
/// kind of value and Redis's not-an-integer error for other bytes. With `emptyAsZero`,
/// an empty string reads as 0, as dramatiq's `int(value or 0)` does.
func integerValue(_ value: Value?, emptyAsZero: Bool = false) throws(CommandError) -> Int64? {
    switch value {
    case nil: return nil
    case .integer(let number)?: return number
    case .string(let bytes)?:
        if emptyAsZero && bytes.isEmpty { return 0 }
        guard let number = parseInteger(bytes) else { throw .notInteger }
        return number
    case .leakyBucket?, .slidingWindow?: throw .wrongType
    }
}
