import RESP
import SluiceCore

/// Commands on keys of any type: deletion, existence, expiry, type and iteration.
enum KeyCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: ["write"], keys: (1, -1, 1), group: "generic",
                    summary: "Deletes one or more keys.", handler: delete),
        CommandSpec("unlink", arity: -2, flags: ["write", "fast"], keys: (1, -1, 1), group: "generic",
                    summary: "Deletes one or more keys.", since: "4.0.0", handler: delete),
        CommandSpec("exists", arity: -2, flags: ["readonly", "fast"], keys: (1, -1, 1), group: "generic",
                    summary: "Determines whether one or more keys exist.") { invocation, state throws(CommandError) in
            let keys = invocation.arguments
            let now = invocation.now
            return .integer(Int64(keys.restIndices.count { keys.withWord($0) { state.keyspace.contains($0, now: now) } }))
        },
        expireSpec("expire", unit: .seconds, relative: true, since: "1.0.0"),
        expireSpec("pexpire", unit: .milliseconds, relative: true, since: "2.6.0"),
        expireSpec("expireat", unit: .seconds, relative: false, since: "1.2.0"),
        expireSpec("pexpireat", unit: .milliseconds, relative: false, since: "2.6.0"),
        CommandSpec("ttl", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time in seconds of a key.") { invocation, state throws(CommandError) in
            let remaining = try remainingMilliseconds(&invocation, &state)
            return .integer(remaining < 0 ? remaining : roundedSeconds(remaining))
        },
        CommandSpec("pttl", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time in milliseconds of a key.", since: "2.6.0") { invocation, state throws(CommandError) in
            .integer(try remainingMilliseconds(&invocation, &state))
        },
        CommandSpec("expiretime", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time of a key as a Unix timestamp.", since: "7.0.0") { invocation, state throws(CommandError) in
            let deadline = try deadlineMilliseconds(&invocation, &state)
            return .integer(deadline < 0 ? deadline : roundedSeconds(deadline))
        },
        CommandSpec("pexpiretime", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.", since: "7.0.0") { invocation, state throws(CommandError) in
            .integer(try deadlineMilliseconds(&invocation, &state))
        },
        CommandSpec("persist", arity: 2, flags: ["write", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Removes the expiration time of a key.", since: "2.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let now = invocation.now
            guard case .some(.some) = key.withBytes({ state.keyspace.expiry($0, now: now) }) else { return .integer(0) }
            key.withBytes { state.keyspace.setExpiry($0, at: nil, now: now) }
            return .integer(1)
        },
        CommandSpec("type", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Determines the type of value stored at a key.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let now = invocation.now
            return .simpleString(key.withBytes { state.keyspace.value($0, now: now) }?.typeName ?? "none")
        },
        CommandSpec("rename", arity: 3, flags: ["write"], keys: (1, 2, 1), group: "generic",
                    summary: "Renames a key and overwrites the destination.") { invocation, state throws(CommandError) in
            _ = try rename(&invocation, &state, onlyIfAbsent: false)
            return .ok
        },
        CommandSpec("renamenx", arity: 3, flags: ["write", "fast"], keys: (1, 2, 1), group: "generic",
                    summary: "Renames a key only when the target key name doesn't exist.") { invocation, state throws(CommandError) in
            .integer(try rename(&invocation, &state, onlyIfAbsent: true) ? 1 : 0)
        },
        CommandSpec("keys", arity: 2, flags: ["readonly"], group: "generic",
                    summary: "Returns all key names that match a pattern.") { invocation, state throws(CommandError) in
            let pattern = GlobPattern(try invocation.arguments.next())
            let keys = pattern.matchesEverything
                ? state.keyspace.keys(now: invocation.now)
                : state.keyspace.keys(now: invocation.now, where: pattern.matches)
            return .array(keys.map(RESPValue.bulkString))
        },
        CommandSpec("scan", arity: -2, flags: ["readonly"], group: "generic",
                    summary: "Iterates over the key names in the database.", since: "2.8.0", handler: scan),
    ]

    private static func delete(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let keys = invocation.arguments
        let now = invocation.now
        return .integer(Int64(keys.restIndices.count { keys.withWord($0) { state.keyspace.remove($0, now: now) } }))
    }

    /// -2 when absent, -1 when persistent, else milliseconds left.
    private static func remainingMilliseconds(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> Int64 {
        let key = try invocation.arguments.nextWord()
        let now = invocation.now
        switch key.withBytes({ state.keyspace.expiry($0, now: now) }) {
        case nil: return -2
        case .some(nil): return -1
        case .some(.some(let deadline)): return max(deadline - invocation.now.milliseconds, 0)
        }
    }

    /// Non-negative milliseconds as seconds, half a second rounded up. Not `(ms + 500) / 1000`:
    /// a deadline set with `PXAT` near `Int64.max` overflowed that, and trapped.
    private static func roundedSeconds(_ milliseconds: Int64) -> Int64 {
        milliseconds / 1000 + (milliseconds % 1000 >= 500 ? 1 : 0)
    }

    /// The key's deadline in Unix milliseconds; -2 when it is missing, -1 without one.
    private static func deadlineMilliseconds(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> Int64 {
        let key = try invocation.arguments.nextWord()
        let now = invocation.now
        switch key.withBytes({ state.keyspace.expiry($0, now: now) }) {
        case nil: return -2
        case .some(nil): return -1
        case .some(.some(let deadline)): return deadline
        }
    }

    enum TimeUnit {
        case seconds
        case milliseconds
    }

    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT]
    private static func expireSpec(_ name: String, unit: TimeUnit, relative: Bool, since: String) -> CommandSpec {
        CommandSpec(name, arity: -3, flags: ["write", "fast"], keys: (1, 1, 1), group: "generic",
                    summary: "Sets the expiration time of a key.", since: since) { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            // As in Redis, the options are checked before the time, and an unknown one is
            // quoted as sent.
            let time = try invocation.arguments.nextIndex()
            var nx = false, xx = false, gt = false, lt = false
            while !invocation.arguments.isEmpty {
                let sent = invocation.arguments[invocation.arguments.position]
                switch try invocation.arguments.nextKeyword() {
                case "NX": nx = true
                case "XX": xx = true
                case "GT": gt = true
                case "LT": lt = true
                // Up to a NUL, as Redis's "%s".
                default: throw .err("Unsupported option \(String(decoding: sent.prefix { $0 != 0 }, as: UTF8.self))")
                }
            }
            if nx && (xx || gt || lt) { throw .err("NX and XX, GT or LT options at the same time are not compatible") }
            if gt && lt { throw .err("GT and LT options at the same time are not compatible") }
            guard let amount = invocation.arguments.withWord(time, parseInteger) else { throw .notInteger }

            var deadline = amount
            var overflow = false
            if unit == .seconds { (deadline, overflow) = deadline.multipliedReportingOverflow(by: 1000) }
            if relative && !overflow { (deadline, overflow) = deadline.addingReportingOverflow(invocation.now.milliseconds) }
            guard !overflow else { throw CommandError(.invalidExpireTime(command: name)) }

            let now = invocation.now
            guard let current = key.withBytes({ state.keyspace.expiry($0, now: now) }) else { return .integer(0) }
            // A key without a deadline counts as expiring at infinity for GT and LT.
            if nx && current != nil { return .integer(0) }
            if xx && current == nil { return .integer(0) }
            if gt && !(current.map { deadline > $0 } ?? false) { return .integer(0) }
            if lt && !(current.map { deadline < $0 } ?? true) { return .integer(0) }
            key.withBytes { state.keyspace.setExpiry($0, at: deadline, now: now) }
            return .integer(1)
        }
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    private static func scan(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let cursor = try ScanOptions.cursor(&invocation.arguments)
        let options = try ScanOptions(&invocation.arguments, allowsType: true)
        let step = state.keyspace.scan(cursor: cursor, count: options.count, now: invocation.now)
        var keys = step.keys.filter(options.matches)
        if let type = options.type {
            keys = keys.filter { state.keyspace.value($0, now: invocation.now)?.typeName == type }
        }
        return ScanOptions.reply(cursor: step.cursor, keys.map(RESPValue.bulkString))
    }

    /// RENAME/RENAMENX: moves the value and its deadline; false when RENAMENX finds the
    /// destination taken (or source and destination are the same key).
    private static func rename(_ invocation: inout Invocation, _ state: inout DatabaseState, onlyIfAbsent: Bool) throws(CommandError) -> Bool {
        let source = try invocation.arguments.next()
        let destination = try invocation.arguments.next()
        let now = invocation.now
        guard let value = state.keyspace.value(source, now: now), let deadline = state.keyspace.expiry(source, now: now) else {
            throw .err("no such key")
        }
        if source == destination { return !onlyIfAbsent }
        if onlyIfAbsent && state.keyspace.contains(destination, now: now) { return false }
        state.keyspace.remove(source, now: now)
        state.keyspace.set(destination, value, expiresAt: deadline, now: now)
        // A list renamed onto a key that clients wait on serves them, as in Redis.
        state.blocking.signal(destination)
        return true
    }
}
