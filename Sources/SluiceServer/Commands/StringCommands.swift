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
                try stringBytes(state.keyspace.value(key, now: now)).map(RESPValue.bulkString) ?? .null
            }
        },
        CommandSpec("set", arity: -3, flags: ["write", "denyoom"], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value of a key, ignoring its type.", handler: set),
        CommandSpec("setnx", arity: 3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value of a key only when the key doesn't exist.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let value = try invocation.arguments.nextIndex()
            let now = invocation.now
            let arguments = invocation.arguments
            // The value is copied only when it is stored.
            return try arguments.withKey(key) { key in
                if state.keyspace.contains(key, now: now) { return .integer(0) }
                state.keyspace.set(key, .string(arguments[value]), now: now)
                return .integer(1)
            }
        },
        CommandSpec("mget", arity: -2, flags: ["readonly", "fast"], keys: (1, -1, 1), group: "string",
                    summary: "Atomically returns the string values of one or more keys.") { invocation, state throws(CommandError) in
            let keys = invocation.arguments
            let now = invocation.now
            return .array(keys.restIndices.map { index in
                switch keys.withWord(index, { state.keyspace.value($0, now: now) }) {
                case .string(let bytes)?: .bulkString(bytes)
                case .integer(let number)?: .bulkString(integerBytes(number))
                default: .null
                }
            })
        },
        CommandSpec("mset", arity: -3, flags: ["write", "denyoom"], keys: (1, -1, 2), group: "string",
                    summary: "Atomically creates or modifies the string values of one or more keys.") { invocation, state throws(CommandError) in
            guard invocation.arguments.remaining % 2 == 0 else { throw CommandError(.wrongArity(command: "mset")) }
            let now = invocation.now
            while !invocation.arguments.isEmpty {
                let key = try invocation.arguments.nextIndex()
                let value = Value.string(try invocation.arguments.next())
                invocation.arguments.withWord(key) { state.keyspace.set($0, value, now: now) }
            }
            return .ok
        },
        // `INCR key` is Redis's; `INCR key amount maximum ttl_ms` is dramatiq's bounded
        // counter (CounterCommands). Same for DECR.
        CommandSpec("incr", arity: -2, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Increments the integer value of a key by one, or by an amount up to a maximum.",
                    wordCounts: [2, 5]) { invocation, state throws(CommandError) in
            if invocation.arguments.count == 2 { return try incrementBy(&invocation, &state, 1) }
            return try CounterCommands.boundedIncr(&invocation, &state)
        },
        CommandSpec("decr", arity: -2, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Decrements the integer value of a key by one, or by an amount down to a minimum.",
                    wordCounts: [2, 5]) { invocation, state throws(CommandError) in
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
        CommandSpec("incrbyfloat", arity: 3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Increment the floating point value of a key by a number.", since: "2.6.0", handler: incrementByFloat),
        CommandSpec("getdel", arity: 2, flags: ["write", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Returns the string value of a key after deleting the key.", since: "6.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let now = invocation.now
            return try invocation.arguments.withKey(key) { key throws(CommandError) in
                guard let value = try state.keyspace.string(key, now: now) else { return .null }
                state.keyspace.remove(key, now: now)
                return .bulkString(value)
            }
        },
        CommandSpec("getex", arity: -2, flags: ["write", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Returns the string value of a key after setting its expiration time.", since: "6.2.0", handler: getex),
        setexSpec("setex", unit: .ex, since: "2.0.0"),
        setexSpec("psetex", unit: .px, since: "2.6.0"),
        CommandSpec("append", arity: 3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let suffix = try invocation.arguments.nextIndex()
            let now = invocation.now
            let arguments = invocation.arguments
            return try arguments.withKey(key) { key throws(CommandError) in
                try arguments.withKey(suffix) { suffix throws(CommandError) in
                    // In place, so the deadline stays, as in Redis.
                    let length = try state.keyspace.update(key, now: now) { value throws(CommandError) -> Int in
                        guard var bytes = try stringBytes(value) else { throw .wrongType }
                        value = .string([])
                        bytes.append(contentsOf: suffix)
                        value = .string(bytes)
                        return bytes.count
                    }
                    if let length { return .integer(Int64(length)) }
                    state.keyspace.set(key, .string(Array(suffix)), now: now)
                    return .integer(Int64(suffix.count))
                }
            }
        },
        CommandSpec("strlen", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "string",
                    summary: "Returns the length of a string value.", since: "2.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let now = invocation.now
            return .integer(Int64(try invocation.arguments.withKey(key) { key throws(CommandError) in
                try state.keyspace.string(key, now: now)?.count ?? 0
            }))
        },
    ]

    /// INCRBYFLOAT key increment: computed in `long double` and stored as Redis formats
    /// it (`FloatIncrement.swift`); the deadline is kept.
    private static func incrementByFloat(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextIndex()
        let increment = try invocation.arguments.nextParsed(parseLongDouble)
        let now = invocation.now
        return try invocation.arguments.withKey(key) { key throws(CommandError) in
            // Redis checks the type and the current value before the increment.
            let current = try state.keyspace.string(key, now: now)
            var base: LongDouble = 0
            if let current {
                guard let parsed = parseLongDouble(current) else { throw .notFloat }
                base = parsed
            }
            guard let increment else { throw .notFloat }
            let result = base + increment
            guard result.isFinite else { throw .err("increment would produce NaN or Infinity") }
            let text = formatLongDouble(result)
            state.keyspace.set(key, .string(text), keepExpiry: current != nil, now: now)
            return .bulkString(text)
        }
    }

    /// GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]. As in Redis, a repeated option
    /// is allowed (the last wins) and the time is checked only once the key is found.
    private static func getex(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextIndex()
        var unit: ExpiryUnit?
        var amount: Int64?
        var persist = false
        while !invocation.arguments.isEmpty {
            let name = try invocation.arguments.nextOptionName()
            if let given = ExpiryUnit(rawValue: name) {
                guard !persist, unit == nil || unit == given, !invocation.arguments.isEmpty else { throw .syntax }
                unit = given
                amount = try invocation.arguments.nextParsed(parseInteger)
            } else if GetexOption(rawValue: name) == .persist {
                guard unit == nil else { throw .syntax }
                persist = true
            } else {
                throw .syntax
            }
        }
        let now = invocation.now
        return try invocation.arguments.withKey(key) { key throws(CommandError) in
            guard let value = try state.keyspace.string(key, now: now) else { return .null }
            if let unit {
                let deadline = try deadline(unit, amount, command: "getex", now: now)
                // A deadline already past deletes the key (setExpiry does), after the read.
                state.keyspace.setExpiry(key, at: deadline, now: now)
            } else if persist, case .some(.some) = state.keyspace.expiry(key, now: now) {
                // Only a deadline removed is a change (for WATCH), as in Redis.
                state.keyspace.setExpiry(key, at: nil, now: now)
            }
            return .bulkString(value)
        }
    }

    /// SETEX key seconds value / PSETEX key milliseconds value.
    private static func setexSpec(_ name: String, unit: ExpiryUnit, since: String) -> CommandSpec {
        CommandSpec(name, arity: 4, flags: ["write", "denyoom"], keys: (1, 1, 1), group: "string",
                    summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
                    since: since) { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextIndex()
            let amount = try invocation.arguments.nextInteger()
            let value = Value.string(try invocation.arguments.next())
            guard let deadline = deadline(unit, amount, now: invocation.now) else {
                throw CommandError(.invalidExpireTime(command: name))
            }
            let now = invocation.now
            invocation.arguments.withWord(key) { state.keyspace.set($0, value, expiresAt: deadline, now: now) }
            return .ok
        }
    }

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
            let sum = try result.get()
            // INCRBY 0 still counts as a write for WATCH, as in Redis.
            state.keyspace.noteWrite(key)
            return .integer(sum)
        }
    }

    /// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]. As in Redis, every
    /// option is read before the time is: an option may repeat (a repeated time, the last
    /// wins), and a syntax error comes before a bad number.
    static func set(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextIndex()
        let value = try invocation.arguments.next()
        var condition: SetOption?
        var returnOld = false
        var keep = false
        var unit: ExpiryUnit?
        // Parsed in place; not an integer is an error only once every option is read.
        var amount: Int64?
        while !invocation.arguments.isEmpty {
            let name = try invocation.arguments.nextOptionName()
            if let given = ExpiryUnit(rawValue: name) {
                guard !keep, unit == nil || unit == given, !invocation.arguments.isEmpty else { throw .syntax }
                unit = given
                amount = try invocation.arguments.nextParsed(parseInteger)
                continue
            }
            switch SetOption(rawValue: name) {
            case let option? where option == .nx || option == .xx:
                guard condition == nil || condition == option else { throw .syntax }
                condition = option
            case .get?:
                returnOld = true
            case .keepttl?:
                guard unit == nil else { throw .syntax }
                keep = true
            default:
                throw .syntax
            }
        }
        var expiry: ExpiryOption? = keep ? .keep : nil
        if let unit {
            expiry = .at(try deadline(unit, amount, command: "set", now: invocation.now))
        }
        let now = invocation.now
        return try invocation.arguments.withKey(key) { key throws(CommandError) in
            // SET replaces a value of any type; only GET needs the old one to be a string.
            let old = returnOld ? try stringBytes(state.keyspace.value(key, now: now)) : nil
            var blocked = false
            if let condition {
                let exists = returnOld ? old != nil : state.keyspace.contains(key, now: now)
                blocked = (condition == .nx) == exists
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

    /// The units of an expiry option, which SET and GETEX share (`PackedOption`: each
    /// raw value is the name's bytes, the first lowest).
    enum ExpiryUnit: UInt64, PackedOption {
        case ex = 0x58_45
        case px = 0x58_50
        case exat = 0x54_41_58_45
        case pxat = 0x54_41_58_50
    }

    /// SET's other options.
    enum SetOption: UInt64, PackedOption {
        case nx = 0x58_4E
        case xx = 0x58_58
        case get = 0x54_45_47
        case keepttl = 0x4C_54_54_50_45_45_4B
    }

    /// GETEX's other option.
    enum GetexOption: UInt64, PackedOption {
        case persist = 0x54_53_49_53_52_45_50
    }

    /// The Unix-millisecond deadline for an expiry option's time (nil when it was not an
    /// integer), with Redis's errors: not an integer, or not positive or past what fits.
    static func deadline(_ unit: ExpiryUnit, _ amount: Int64?, command: String, now: Instant) throws(CommandError) -> Int64 {
        guard let amount else { throw .notInteger }
        guard let deadline = deadline(unit, amount, now: now) else { throw CommandError(.invalidExpireTime(command: command)) }
        return deadline
    }

    /// The Unix-millisecond deadline for an expiry option, or nil when it is not
    /// positive or does not fit.
    static func deadline(_ unit: ExpiryUnit, _ amount: Int64, now: Instant) -> Int64? {
        guard amount > 0 else { return nil }
        let relative = unit == .ex || unit == .px
        let inSeconds = unit == .ex || unit == .exat
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

extension ShardedKeyspace {
    /// The bytes of a string key, nil when absent; `WRONGTYPE` for any other kind of value.
    mutating func string(_ key: Key, now: Instant) throws(CommandError) -> [UInt8]? {
        try stringBytes(value(key, now: now))
    }

    mutating func string(_ key: UnsafeRawBufferPointer, now: Instant) throws(CommandError) -> [UInt8]? {
        try stringBytes(value(key, now: now))
    }
}

/// The bytes of a string value, nil when absent; `WRONGTYPE` for any other kind of value.
func stringBytes(_ value: Value?) throws(CommandError) -> [UInt8]? {
    switch value {
    case nil: return nil
    case .string(let bytes)?: return bytes
    case .integer(let number)?: return integerBytes(number)
    default: throw .wrongType
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
    default: throw .wrongType
    }
}
