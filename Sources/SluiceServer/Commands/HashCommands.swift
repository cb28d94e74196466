import RESP
import SluiceCore

/// HSET, HGET and the other hash commands (`SluiceCore.HashValue`). Fields and values
/// are raw bytes; a hash left without fields is deleted.
enum HashCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("hset", arity: -4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Creates or modifies the value of a field in a hash.", since: "2.0.0") { invocation, state throws(CommandError) in
            .integer(Int64(try setFields(&invocation, &state, command: "hset")))
        },
        CommandSpec("hmset", arity: -4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Sets the values of multiple fields.", since: "2.0.0") { invocation, state throws(CommandError) in
            _ = try setFields(&invocation, &state, command: "hmset")
            return .ok
        },
        CommandSpec("hsetnx", arity: 4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Sets the value of a field in a hash only when the field doesn't exist.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let field = try invocation.arguments.nextWord()
            let value = try invocation.arguments.nextWord()
            let added = try state.keyspace.modifyCollection(key, HashValue.self, now: invocation.now, create: true) { hash in
                field.withBytes { field in !hash.contains(field) && value.withBytes { hash.set(field, $0) } }
            }
            return .integer(added == true ? 1 : 0)
        },
        CommandSpec("hget", arity: 3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns the value of a field in a hash.", since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let field = try invocation.arguments.nextWord()
            let hash = try hash(key, &invocation, &state)
            return field.withBytes { hash?[$0] }.map(RESPValue.bulkString) ?? .null
        },
        CommandSpec("hmget", arity: -3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns the values of all fields in a hash.", since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let hash = try hash(key, &invocation, &state)
            let arguments = invocation.arguments
            return .array(arguments.restIndices.map { field in
                arguments.withWord(field) { hash?[$0] }.map(RESPValue.bulkString) ?? .null
            })
        },
        CommandSpec("hgetall", arity: 2, flags: ["readonly"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns all fields and values in a hash.", since: "2.0.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let key = try invocation.arguments.nextWord()
            return .listing(.hashPairs(try hash(key, &invocation, &state) ?? HashValue()))
        },
        CommandSpec("hkeys", arity: 2, flags: ["readonly"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns all fields in a hash.", since: "2.0.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let key = try invocation.arguments.nextWord()
            return .listing(.hashFields(try hash(key, &invocation, &state) ?? HashValue()))
        },
        CommandSpec("hvals", arity: 2, flags: ["readonly"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns all values in a hash.", since: "2.0.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let key = try invocation.arguments.nextWord()
            return .listing(.hashValues(try hash(key, &invocation, &state) ?? HashValue()))
        },
        CommandSpec("hscan", arity: -3, flags: ["readonly"], keys: (1, 1, 1), group: "hash",
                    summary: "Iterates over fields and values of a hash.", since: "2.8.0") { invocation, state throws(CommandError) in
            try ScanOptions.scan(&invocation, &state, HashValue.self) { hash, cursor, options in
                var items: [RESPValue] = []
                let next = hash.scan(cursor: cursor, count: options.count) { field, value in
                    guard options.matches(field) else { return }
                    items.append(.bulkString(field))
                    items.append(.bulkString(value))
                }
                return (next, items)
            }
        },
        CommandSpec("hlen", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns the number of fields in a hash.", since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            return .integer(Int64(try hash(key, &invocation, &state)?.count ?? 0))
        },
        CommandSpec("hstrlen", arity: 3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Returns the length of the value of a field.", since: "3.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let field = try invocation.arguments.nextWord()
            let hash = try hash(key, &invocation, &state)
            return .integer(Int64(field.withBytes { hash?[$0] }?.count ?? 0))
        },
        CommandSpec("hexists", arity: 3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Determines whether a field exists in a hash.", since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let field = try invocation.arguments.nextWord()
            let hash = try hash(key, &invocation, &state)
            return .integer(field.withBytes { hash?[$0] } != nil ? 1 : 0)
        },
        CommandSpec("hdel", arity: -3, flags: ["write", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Deletes one or more fields and their values from a hash.", since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let fields = invocation.arguments
            let removed = try state.keyspace.modifyCollection(key, HashValue.self, now: invocation.now, create: false) { hash in
                fields.restIndices.reduce(0) { count, field in
                    fields.withWord(field) { hash.remove($0) } ? count + 1 : count
                }
            }
            return .integer(Int64(removed ?? 0))
        },
        CommandSpec("hincrby", arity: 4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Increments the integer value of a field in a hash by a number.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let field = try invocation.arguments.nextWord()
            let increment = try invocation.arguments.nextInteger()
            // One look-up, and the value's digits rewritten in its own array.
            let sum = try changeField(key, field, &invocation, &state) { value throws(CommandError) in
                var current: Int64 = 0
                if let bytes = value {
                    guard let number = parseInteger(bytes) else { throw .err("hash value is not an integer") }
                    current = number
                }
                let (sum, overflow) = current.addingReportingOverflow(increment)
                guard !overflow else { throw .overflow }
                if value == nil { value = [] }
                value!.removeAll(keepingCapacity: true)
                appendDecimal(sum, to: &value!)
                return sum
            }
            return .integer(sum)
        },
        CommandSpec("hincrbyfloat", arity: 4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "hash",
                    summary: "Increments the floating point value of a field by a number.",
                    since: "2.6.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let field = try invocation.arguments.nextWord()
            guard let increment = try invocation.arguments.nextParsed(parseLongDouble) else { throw .notFloat }
            guard increment.isFinite else { throw .err("value is NaN or Infinity") }
            let text = try changeField(key, field, &invocation, &state) { value throws(CommandError) in
                var current: LongDouble = 0
                if let bytes = value {
                    guard let number = parseLongDouble(bytes) else { throw .err("hash value is not a float") }
                    current = number
                }
                let sum = current + increment
                guard sum.isFinite else { throw .err("increment would produce NaN or Infinity") }
                let text = formatLongDouble(sum)
                value = text
                return text
            }
            return .bulkString(text)
        },
    ]

    /// HSET / HMSET key field value [field value ...]; returns how many fields are new.
    private static func setFields(_ invocation: inout Invocation, _ state: inout DatabaseState, command: String) throws(CommandError) -> Int {
        guard invocation.arguments.count % 2 == 0 else { throw CommandError(.wrongArity(command: command)) }
        let key = try invocation.arguments.nextWord()
        // The pairs are taken one by one, not as an array of them: one allocation less.
        let added = try state.keyspace.modifyCollection(key, HashValue.self, now: invocation.now, create: true) { hash throws(CommandError) in
            var added = 0
            while !invocation.arguments.isEmpty {
                let field = try invocation.arguments.nextWord()
                let value = try invocation.arguments.nextWord()
                if field.withBytes({ field in value.withBytes { hash.set(field, $0) } }) { added += 1 }
            }
            return added
        }
        // A field set to the value it had still counts as a write for WATCH, as in Redis.
        state.keyspace.noteWrite(key)
        return added ?? 0
    }

    /// HINCRBY / HINCRBYFLOAT: finds `field` once and lets `change` rewrite its value (nil
    /// when new), creating the hash if needed. The write counts for WATCH even when the
    /// value comes out the same, as in Redis.
    private static func changeField<R>(
        _ key: ArgumentWord, _ field: ArgumentWord, _ invocation: inout Invocation, _ state: inout DatabaseState,
        _ change: (inout [UInt8]?) throws(CommandError) -> R
    ) throws(CommandError) -> R {
        let result = try state.keyspace.modifyCollection(key, HashValue.self, now: invocation.now, create: true) { hash throws(CommandError) in
            try field.withBytes { field throws(CommandError) in try hash.update(field, change) }
        }
        state.keyspace.noteWrite(key)
        return result!
    }

    private static func hash(_ key: ArgumentWord, _ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> HashValue? {
        try state.keyspace.collection(key, HashValue.self, now: invocation.now)
    }
}
