import NIOCore
import RESP
import SluiceCore

/// LPUSH, RPOP, LRANGE and the other list commands, blocking ones included
/// (their waiting is in Blocking.swift). A list is never stored empty: the pop that
/// takes its last element deletes the key.
enum ListCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("lpush", arity: -3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.") { invocation, state throws(CommandError) in
            try push(&invocation, &state, end: .left, onlyExisting: false)
        },
        CommandSpec("rpush", arity: -3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.") { invocation, state throws(CommandError) in
            try push(&invocation, &state, end: .right, onlyExisting: false)
        },
        CommandSpec("lpushx", arity: -3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Prepends one or more elements to a list only when the list exists.", since: "2.2.0") { invocation, state throws(CommandError) in
            try push(&invocation, &state, end: .left, onlyExisting: true)
        },
        CommandSpec("rpushx", arity: -3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Appends one or more elements to a list only when the list exists.", since: "2.2.0") { invocation, state throws(CommandError) in
            try push(&invocation, &state, end: .right, onlyExisting: true)
        },
        CommandSpec("lpop", arity: -2, flags: ["write", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Returns the first elements in a list after removing them. Deletes the list if the last element was popped.") { invocation, state throws(CommandError) in
            try pop(&invocation, &state, end: .left)
        },
        CommandSpec("rpop", arity: -2, flags: ["write", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.") { invocation, state throws(CommandError) in
            try pop(&invocation, &state, end: .right)
        },
        CommandSpec("llen", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "list",
                    summary: "Returns the length of a list.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            return .integer(Int64(try state.keyspace.list(key, now: invocation.now)?.count ?? 0))
        },
        CommandSpec("lrange", arity: 4, flags: ["readonly"], keys: (1, 1, 1), group: "list",
                    summary: "Returns a range of elements from a list.") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let key = try invocation.arguments.nextWord()
            let start = try invocation.arguments.nextInteger()
            let stop = try invocation.arguments.nextInteger()
            guard let list = try state.keyspace.list(key, now: invocation.now),
                  let range = clampedRange(start, stop, count: list.count) else { return .value(.array([])) }
            return .listing(.listRange(list, range))
        },
        CommandSpec("lindex", arity: 3, flags: ["readonly"], keys: (1, 1, 1), group: "list",
                    summary: "Returns an element from a list by its index.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            // As in Redis, the key's type is checked before the index.
            let word = try invocation.arguments.nextWord()
            guard let list = try state.keyspace.list(key, now: invocation.now) else { return .null }
            guard let index = word.withBytes(parseInteger) else { throw .notInteger }
            guard let position = position(index, count: list.count) else { return .null }
            return .bulkString(list[position])
        },
        CommandSpec("lset", arity: 4, flags: ["write", "denyoom"], keys: (1, 1, 1), group: "list",
                    summary: "Sets the value of an element in a list by its index.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let word = try invocation.arguments.next()
            let element = try invocation.arguments.next()
            try state.keyspace.withList(key, now: invocation.now) { list throws(CommandError) in
                // As in Redis, the key is checked before the index.
                guard !list.isEmpty else { throw .err("no such key") }
                guard let index = parseInteger(word) else { throw .notInteger }
                guard let position = position(index, count: list.count) else { throw .err("index out of range") }
                list[position] = element
            }
            // The same element again still counts as a write for WATCH, as in Redis.
            state.keyspace.noteWrite(key)
            return .ok
        },
        CommandSpec("linsert", arity: 5, flags: ["write", "denyoom"], keys: (1, 1, 1), group: "list",
                    summary: "Inserts an element before or after another element in a list.", since: "2.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let after: Bool
            switch try invocation.arguments.nextKeyword() {
            case "BEFORE": after = false
            case "AFTER": after = true
            default: throw .syntax
            }
            let pivot = try invocation.arguments.nextWord()
            let element = try invocation.arguments.nextWord()
            // 0 when the key is missing, -1 when the pivot is not in the list.
            let length = try state.keyspace.withList(key, now: invocation.now) { list -> Int in
                guard !list.isEmpty else { return 0 }
                guard let found = pivot.withBytes({ list.firstIndex(of: $0) }) else { return -1 }
                element.withBytes { list.insert($0, at: after ? found + 1 : found) }
                return list.count
            }
            return .integer(Int64(length))
        },
        CommandSpec("lpos", arity: -3, flags: ["readonly"], keys: (1, 1, 1), group: "list",
                    summary: "Returns the index of matching elements in a list.", since: "6.0.6", handler: lpos),
        CommandSpec("lrem", arity: 4, flags: ["write"], keys: (1, 1, 1), group: "list",
                    summary: "Removes elements from a list. Deletes the list if the last element was removed.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let count = try invocation.arguments.nextInteger()
            let element = try invocation.arguments.nextWord()
            // 0 removes every match; a negative count removes matches from the tail.
            let removed = try state.keyspace.withList(key, now: invocation.now) { list in
                element.withBytes { list.remove($0, limit: count == 0 ? .max : Int(clamping: count.magnitude), fromBack: count < 0) }
            }
            return .integer(Int64(removed))
        },
        CommandSpec("ltrim", arity: 4, flags: ["write"], keys: (1, 1, 1), group: "list",
                    summary: "Removes elements from both ends of a list. Deletes the list if all elements were trimmed.") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let start = try invocation.arguments.nextInteger()
            let stop = try invocation.arguments.nextInteger()
            let existed = try state.keyspace.withList(key, now: invocation.now) { list -> Bool in
                let existed = !list.isEmpty
                guard let range = clampedRange(start, stop, count: list.count) else {
                    list.removeFirst(list.count)
                    return existed
                }
                list.removeLast(list.count - range.upperBound)
                list.removeFirst(range.lowerBound)
                return existed
            }
            // Trimming nothing off a list still counts as a write for WATCH, as in Redis.
            if existed { state.keyspace.noteWrite(key) }
            return .ok
        },
        CommandSpec("rpoplpush", arity: 3, flags: ["write", "denyoom"], keys: (1, 2, 1), group: "list",
                    summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
                    since: "1.2.0") { invocation, state throws(CommandError) in
            let source = try invocation.arguments.nextWord()
            let destination = try invocation.arguments.nextWord()
            return try state.moveListElement(from: source, to: destination, popEnd: .right, pushEnd: .left, now: invocation.now)
                .map(RESPValue.bulkString) ?? .null
        },
        CommandSpec("lmove", arity: 5, flags: ["write", "denyoom"], keys: (1, 2, 1), group: "list",
                    summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
                    since: "6.2.0") { invocation, state throws(CommandError) in
            let source = try invocation.arguments.nextWord()
            let destination = try invocation.arguments.nextWord()
            let from = try invocation.arguments.nextOption(ListEnd.self)
            let to = try invocation.arguments.nextOption(ListEnd.self)
            return try state.moveListElement(from: source, to: destination, popEnd: from, pushEnd: to, now: invocation.now)
                .map(RESPValue.bulkString) ?? .null
        },
        CommandSpec("blpop", arity: -3, flags: ["write", "blocking"], keys: (1, -2, 1), group: "list",
                    summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            try blockingPop(&invocation, &state, end: .left)
        },
        CommandSpec("brpop", arity: -3, flags: ["write", "blocking"], keys: (1, -2, 1), group: "list",
                    summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            try blockingPop(&invocation, &state, end: .right)
        },
        CommandSpec("lmpop", arity: -4, flags: ["write", "movablekeys"], group: "list",
                    summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
                    since: "7.0.0") { invocation, state throws(CommandError) in
            let operation = try multiPopOperation(&invocation)
            return try operation.attempt(&state, now: invocation.now) ?? .nullArray
        },
        CommandSpec("blmpop", arity: -5, flags: ["write", "blocking", "movablekeys"], group: "list",
                    summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
                    since: "7.0.0") { invocation, state throws(CommandError) in
            // As in Redis, the timeout is checked after the keys, the end and COUNT.
            let timeoutWord = try invocation.arguments.next()
            let operation = try multiPopOperation(&invocation)
            let timeout = try blockingTimeout(timeoutWord, now: invocation.now)
            if let reply = try operation.attempt(&state, now: invocation.now) { return reply }
            return state.block(invocation, operation, timeout: timeout)
        },
        CommandSpec("brpoplpush", arity: 4, flags: ["write", "denyoom", "blocking"], keys: (1, 2, 1), group: "list",
                    summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
                    since: "2.2.0") { invocation, state throws(CommandError) in
            let source = try invocation.arguments.next()
            let destination = try invocation.arguments.next()
            let timeout = try blockingTimeout(try invocation.arguments.next(), now: invocation.now)
            return try blockingMove(invocation, &state, .move(source: source, destination: destination, from: .right, to: .left), timeout: timeout)
        },
        CommandSpec("blmove", arity: 6, flags: ["write", "denyoom", "blocking"], keys: (1, 2, 1), group: "list",
                    summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
                    since: "6.2.0") { invocation, state throws(CommandError) in
            let source = try invocation.arguments.next()
            let destination = try invocation.arguments.next()
            let from = try invocation.arguments.nextOption(ListEnd.self)
            let to = try invocation.arguments.nextOption(ListEnd.self)
            let timeout = try blockingTimeout(try invocation.arguments.next(), now: invocation.now)
            return try blockingMove(invocation, &state, .move(source: source, destination: destination, from: from, to: to), timeout: timeout)
        },
    ]

    /// LPUSH/RPUSH/LPUSHX/RPUSHX: the list's length afterwards (0 when X found no list).
    private static func push(_ invocation: inout Invocation, _ state: inout DatabaseState, end: ListEnd, onlyExisting: Bool) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        let elements = invocation.arguments
        let length = try state.keyspace.withList(key, now: invocation.now) { list in
            if onlyExisting && list.isEmpty { return 0 }
            for element in elements.restIndices {
                elements.withWord(element) { end == .left ? list.prepend($0) : list.append($0) }
            }
            return list.count
        }
        if length > 0 { state.blocking.signal(key) }
        return .integer(Int64(length))
    }

    /// LPOP/RPOP key [count]: one element (null when absent), or with a count an array
    /// (a null array when absent).
    private static func pop(_ invocation: inout Invocation, _ state: inout DatabaseState, end: ListEnd) throws(CommandError) -> RESPValue {
        guard invocation.arguments.count <= 3 else {
            throw CommandError(.wrongArity(command: end == .left ? "lpop" : "rpop"))
        }
        let key = try invocation.arguments.nextWord()
        guard !invocation.arguments.isEmpty else {
            return try state.popList(key, end: end, now: invocation.now).map(RESPValue.bulkString) ?? .null
        }
        guard let count = parseInteger(try invocation.arguments.next()), count >= 0 else {
            throw .err("value is out of range, must be positive")
        }
        let popped = try state.keyspace.withList(key, now: invocation.now) { list -> [RESPValue]? in
            guard !list.isEmpty else { return nil }
            var popped: [RESPValue] = []
            popped.reserveCapacity(min(Int(count), list.count))
            while popped.count < count, let element = end == .left ? list.popFirst() : list.popLast() {
                popped.append(.bulkString(element))
            }
            return popped
        }
        return popped.map(RESPValue.array) ?? .nullArray
    }

    /// BLPOP/BRPOP key [key ...] timeout: `[key, element]` from the first key holding
    /// a list, or the client waits.
    private static func blockingPop(_ invocation: inout Invocation, _ state: inout DatabaseState, end: ListEnd) throws(CommandError) -> RESPValue {
        // Redis reads the timeout first, so a bad timeout wins over a wrong-type key.
        let timeout = try blockingTimeout(invocation.arguments[invocation.arguments.count - 1], now: invocation.now)
        var keys: [Key] = []
        for _ in 2..<invocation.arguments.count {
            keys.append(try invocation.arguments.next())
        }
        let operation = BlockingOperation.pop(keys: keys, end: end)
        if let reply = try operation.attempt(&state, now: invocation.now) { return reply }
        return state.block(invocation, operation, timeout: timeout)
    }

    /// LMPOP's and BLMPOP's `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
    private static func multiPopOperation(_ invocation: inout Invocation) throws(CommandError) -> BlockingOperation {
        guard let numberOfKeys = parseInteger(try invocation.arguments.next()), numberOfKeys > 0 else {
            throw .err("numkeys should be greater than 0")
        }
        // The keys, then at least the end: more keys than that leaves room for is a syntax error.
        guard numberOfKeys < invocation.arguments.remaining else { throw .syntax }
        var keys: [Key] = []
        for _ in 0..<numberOfKeys {
            keys.append(try invocation.arguments.next())
        }
        let end = try invocation.arguments.nextOption(ListEnd.self)
        var count: Int?
        while !invocation.arguments.isEmpty {
            guard try invocation.arguments.nextKeyword() == "COUNT", count == nil, !invocation.arguments.isEmpty else {
                throw .syntax
            }
            guard let value = parseInteger(try invocation.arguments.next()), value > 0 else {
                throw .err("count should be greater than 0")
            }
            count = Int(value)
        }
        return .multiPop(keys: keys, end: end, count: count ?? 1)
    }

    private static func blockingMove(_ invocation: Invocation, _ state: inout DatabaseState, _ operation: BlockingOperation, timeout: TimeAmount?) throws(CommandError) -> RESPValue {
        if let reply = try operation.attempt(&state, now: invocation.now) { return reply }
        return state.block(invocation, operation, timeout: timeout)
    }

    /// LPOS key element [RANK rank] [COUNT count] [MAXLEN len]: the position of the
    /// rank-th match (negative ranks count matches from the tail), or with COUNT an
    /// array of up to `count` positions (0: all); MAXLEN bounds the elements compared.
    private static func lpos(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        let element = try invocation.arguments.nextWord()
        var rank: Int64 = 1
        var count: Int64?
        var maxLength: Int64 = 0
        while !invocation.arguments.isEmpty {
            let option = try invocation.arguments.nextKeyword()
            guard !invocation.arguments.isEmpty else { throw .syntax }
            switch option {
            case "RANK":
                rank = try invocation.arguments.nextInteger()
                // Its magnitude is no rank (Redis 7.0 negates it into an overflow; later
                // versions refuse it with this text).
                guard rank != .min else {
                    throw .err("value is out of range, value must between -9223372036854775807 and 9223372036854775807")
                }
                guard rank != 0 else {
                    throw .err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                }
            case "COUNT":
                // Redis reports any bad COUNT or MAXLEN as negative.
                guard let value = parseInteger(try invocation.arguments.next()), value >= 0 else {
                    throw .err("COUNT can't be negative")
                }
                count = value
            case "MAXLEN":
                guard let value = parseInteger(try invocation.arguments.next()), value >= 0 else {
                    throw .err("MAXLEN can't be negative")
                }
                maxLength = value
            default:
                throw .syntax
            }
        }
        let list = try state.keyspace.list(key, now: invocation.now) ?? ListValue()
        let wanted = count.map { $0 == 0 ? Int.max : Int(clamping: $0) } ?? 1
        let limit = maxLength == 0 ? list.count : min(Int(clamping: maxLength), list.count)
        var skip = rank.magnitude - 1
        var found: [RESPValue] = []
        // MAXLEN counts from the end the search starts at.
        let compared = rank > 0 ? 0..<limit : list.count - limit..<list.count
        element.withBytes { element in
            list.visit(matching: element, in: compared, reverse: rank < 0) { position in
                if skip > 0 {
                    skip -= 1
                } else {
                    found.append(.integer(Int64(position)))
                }
                return found.count < wanted
            }
        }
        if count != nil { return .array(found) }
        return found.first ?? .null
    }

    /// The position `index` names (negative counts from the end), nil outside the list.
    private static func position(_ index: Int64, count: Int) -> Int? {
        let position = index < 0 ? Int64(count) + index : index
        return position >= 0 && position < count ? Int(position) : nil
    }

    /// LRANGE/LTRIM's inclusive `start...stop` (negative counts from the end), clamped
    /// to the list; nil when it selects nothing.
    static func clampedRange(_ start: Int64, _ stop: Int64, count: Int) -> Range<Int>? {
        let length = Int64(count)
        var start = start < 0 ? max(length + start, 0) : start
        let stop = stop < 0 ? length + stop : min(stop, length - 1)
        start = max(start, 0)
        guard start <= stop, start < length else { return nil }
        return Int(start)..<Int(stop + 1)
    }
}

extension ShardedKeyspace {
    /// The list under `key`, nil when absent; `WRONGTYPE` for any other kind of value.
    mutating func list<K: KeyBytes>(_ key: K, now: Instant) throws(CommandError) -> ListValue? {
        switch key.withBytes({ value($0, now: now) }) {
        case nil: return nil
        case .list(let list)?: return list
        default: throw .wrongType
        }
    }

    /// Looks `key` up once and lets `body` change its list in place: an absent key reads
    /// as an empty list, and a list left empty deletes the key. `WRONGTYPE`, without
    /// calling `body`, for any other kind of value.
    mutating func withList<K: KeyBytes, R>(_ key: K, now: Instant, _ body: (inout ListValue) throws(CommandError) -> R) throws(CommandError) -> R {
        var result: Result<R, CommandError>?
        key.withBytes { key in withEntry(key, now: now) { value, _ in
            var list: ListValue
            // Taken out of the entry so the list's storage has one owner and changes in place.
            switch value.take() {
            case nil:
                list = ListValue()
            case .list(let stored)?:
                list = stored
            case let other?:
                value = other
                result = .failure(.wrongType)
                return
            }
            do throws(CommandError) {
                result = .success(try body(&list))
            } catch {
                result = .failure(error)
            }
            value = list.isEmpty ? nil : .list(list)
        } }
        return try result!.get()
    }
}

extension DatabaseState {
    /// Pops one element from an end of the list under `key`; nil when absent.
    mutating func popList<K: KeyBytes>(_ key: K, end: ListEnd, now: Instant) throws(CommandError) -> [UInt8]? {
        try keyspace.withList(key, now: now) { list in
            end == .left ? list.popFirst() : list.popLast()
        }
    }

    /// RPOPLPUSH/LMOVE: pops from `source` and pushes to `destination` (which may be
    /// the same list); nil when `source` is absent. Both keys are type-checked before
    /// anything changes.
    mutating func moveListElement<S: KeyBytes, D: KeyBytes>(
        from source: S, to destination: D, popEnd: ListEnd, pushEnd: ListEnd, now: Instant
    ) throws(CommandError) -> [UInt8]? {
        if sameBytes(source, destination) {
            // Rotated in place: popping a one-element list must not delete the key and
            // lose its TTL (dramatiq's barrier rotates a list that PEXPIRE set to expire).
            let element = try keyspace.withList(source, now: now) { list -> [UInt8]? in
                guard let element = popEnd == .left ? list.popFirst() : list.popLast() else { return nil }
                pushEnd == .left ? list.prepend(element) : list.append(element)
                return element
            }
            if element != nil {
                // A rotation that leaves the list as it was still counts for WATCH, as in Redis.
                source.withBytes { keyspace.noteWrite($0) }
                blocking.signal(source)
            }
            return element
        }
        // The destination's type is looked at in place, so a move takes three look-ups, not
        // four, and copies neither value. A destination of another type is an error only
        // when there is something to move, as in Redis.
        let destinationIsList = destination.withBytes { key in
            keyspace.inspect(key, now: now) { if case .list = $0 { true } else { false } } ?? true
        }
        if !destinationIsList {
            guard source.withBytes({ keyspace.contains($0, now: now) }) else { return nil }
            throw .wrongType
        }
        guard let element = try popList(source, end: popEnd, now: now) else { return nil }
        try keyspace.withList(destination, now: now) { list in
            pushEnd == .left ? list.prepend(element) : list.append(element)
        }
        blocking.signal(destination)
        return element
    }
}
