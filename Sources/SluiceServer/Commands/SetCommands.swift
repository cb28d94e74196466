import RESP
import SluiceCore

/// SADD, SMEMBERS and the other set commands (`SluiceCore.SetValue`). Members are raw
/// bytes; a set left without members is deleted. Sets of members are sent as RESP3
/// sets, or in RESP2 as arrays.
enum SetCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("sadd", arity: -3, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "set",
                    summary: "Adds one or more members to a set.", since: "1.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let added = try state.keyspace.modifyCollection(key, SetValue.self, now: invocation.now, create: true) { set throws(CommandError) in
                var added = 0
                while !invocation.arguments.isEmpty {
                    if try invocation.arguments.nextWord().withBytes({ set.insert($0) }) { added += 1 }
                }
                return added
            }
            return .integer(Int64(added ?? 0))
        },
        CommandSpec("srem", arity: -3, flags: ["write", "fast"], keys: (1, 1, 1), group: "set",
                    summary: "Removes one or more members from a set.", since: "1.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let members = invocation.arguments
            let removed = try state.keyspace.modifyCollection(key, SetValue.self, now: invocation.now, create: false) { set in
                members.restIndices.reduce(0) { count, member in
                    members.withWord(member) { set.remove($0) } ? count + 1 : count
                }
            }
            return .integer(Int64(removed ?? 0))
        },
        CommandSpec("sscan", arity: -3, flags: ["readonly"], keys: (1, 1, 1), group: "set",
                    summary: "Iterates over members of a set.", since: "2.8.0") { invocation, state throws(CommandError) in
            try ScanOptions.scan(&invocation, &state, SetValue.self) { set, cursor, options in
                var items: [RESPValue] = []
                let next = set.scan(cursor: cursor, count: options.count) { member in
                    if options.matches(member) { items.append(.bulkString(member)) }
                }
                return (next, items)
            }
        },
        CommandSpec("scard", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "set",
                    summary: "Returns the number of members in a set.", since: "1.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            return .integer(Int64(try set(key, &invocation, &state)?.count ?? 0))
        },
        CommandSpec("sismember", arity: 3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "set",
                    summary: "Determines whether a member belongs to a set.", since: "1.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let member = try invocation.arguments.nextWord()
            let set = try set(key, &invocation, &state)
            return .integer(member.withBytes { set?.contains($0) } == true ? 1 : 0)
        },
        CommandSpec("smismember", arity: -3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "set",
                    summary: "Determines whether multiple members belong to a set.", since: "6.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let set = try set(key, &invocation, &state)
            let arguments = invocation.arguments
            return .array(arguments.restIndices.map { member in
                .integer(arguments.withWord(member) { set?.contains($0) } == true ? 1 : 0)
            })
        },
        CommandSpec("smembers", arity: 2, flags: ["readonly"], keys: (1, 1, 1), group: "set",
                    summary: "Returns all members of a set.", since: "1.0.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            let key = try invocation.arguments.nextWord()
            return .listing(.setMembers(try set(key, &invocation, &state) ?? SetValue()))
        },
        CommandSpec("spop", arity: -2, flags: ["write", "fast"], keys: (1, 1, 1), group: "set",
                    summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
                    since: "1.0.0", handler: pop),
        CommandSpec("srandmember", arity: -2, flags: ["readonly"], keys: (1, 1, 1), group: "set",
                    summary: "Gets one or multiple random members from a set.", since: "1.0.0", handler: randomMembers),
        CommandSpec("smove", arity: 4, flags: ["write", "fast"], keys: (1, 2, 1), group: "set",
                    summary: "Moves a member from one set to another.", since: "1.0.0", handler: move),
        CommandSpec("sintercard", arity: -3, flags: ["readonly", "movablekeys"], group: "set",
                    summary: "Returns the number of members of the intersect of multiple sets.", since: "7.0.0",
                    handler: intersectionCardinality),
    ]
        + algebra("sinter", "intersect") { intersection($0) }
        + algebra("sunion", "union", union)
        + algebra("sdiff", "difference", difference)

    /// How many members `SRANDMEMBER` with a negative count (members may repeat, so the
    /// set does not bound the reply) picks at most; the reply is built whole in memory.
    static let maximumRepeatedPicks: Int64 = 10_000_000

    private static func set<K: KeyBytes>(_ key: K, _ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> SetValue? {
        try state.keyspace.collection(key, SetValue.self, now: invocation.now)
    }

    /// The set under each remaining key, nil for a missing one. Every key is checked, so a
    /// key of another type is `WRONGTYPE` even after a missing one, as in Redis.
    private static func sets(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> [SetValue?] {
        var sets: [SetValue?] = []
        while !invocation.arguments.isEmpty {
            sets.append(try set(try invocation.arguments.nextWord(), &invocation, &state))
        }
        return sets
    }

    // MARK: Random members

    /// SPOP key [count]: one member (null when absent), or with a count a set of up to
    /// that many, all of them (and the key) when the count reaches the set's size.
    private static func pop(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        // A copy, put back after: the closures below change the keyspace, also in `state`.
        var generator = state.random
        defer { state.random = generator }
        guard !invocation.arguments.isEmpty else {
            let popped = try state.keyspace.modifyCollection(key, SetValue.self, now: invocation.now, create: false) { set in
                set.popRandom(using: &generator)
            }
            return popped?.map(RESPValue.bulkString) ?? .null
        }
        // As in Redis, a third argument is a syntax error before the count is read.
        let word = try invocation.arguments.next()
        try invocation.arguments.finish()
        guard let count = parseInteger(word), count >= 0 else {
            throw .err("value is out of range, must be positive")
        }
        let popped = try state.keyspace.modifyCollection(key, SetValue.self, now: invocation.now, create: false) { set in
            guard count < set.count else {
                defer { set = SetValue() }
                return set.members
            }
            var popped: [[UInt8]] = []
            popped.reserveCapacity(Int(count))
            while popped.count < count, let member = set.popRandom(using: &generator) {
                popped.append(member)
            }
            return popped
        }
        return .set((popped ?? []).map(RESPValue.bulkString))
    }

    /// SRANDMEMBER key [count]: one member (null when absent); with a positive count up
    /// to that many distinct members; with a negative count exactly its magnitude, which
    /// may repeat.
    private static func randomMembers(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        var generator = state.random
        defer { state.random = generator }
        guard !invocation.arguments.isEmpty else {
            return try set(key, &invocation, &state)?.randomMember(using: &generator).map(RESPValue.bulkString) ?? .null
        }
        let word = try invocation.arguments.next()
        try invocation.arguments.finish()
        guard let count = parseInteger(word) else { throw .notInteger }
        guard count != .min else {
            throw .err("value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        guard count >= -maximumRepeatedPicks else {
            throw .err("value is out of range, a negative count must be at least -\(maximumRepeatedPicks)")
        }
        guard let set = try set(key, &invocation, &state), count != 0 else { return .array([]) }
        if count < 0 {
            return .array(set.randomMembers(Int(-count), using: &generator).map(RESPValue.bulkString))
        }
        return .array(distinctRandomMembers(of: set, count: Int(count), using: &generator).map(RESPValue.bulkString))
    }

    /// Up to `count` distinct members picked at random. A count near the set's size
    /// shuffles all of them; a small one draws members until it has enough distinct
    /// ones, which takes about `count` draws and never reads the whole set.
    static func distinctRandomMembers<G: RandomNumberGenerator>(of set: SetValue, count: Int, using generator: inout G) -> [[UInt8]] {
        if count >= set.count { return set.members }
        if count * 3 > set.count {
            var members = set.members
            for index in 0..<count {
                members.swapAt(index, Int.random(in: index..<members.count, using: &generator))
            }
            return Array(members[0..<count])
        }
        var picked: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        while picked.count < count {
            let member = set.randomMember(using: &generator)!
            if seen.insert(member).inserted { picked.append(member) }
        }
        return picked
    }

    // MARK: Moving

    /// SMOVE source destination member: 1 when the member moved (or, with source and
    /// destination the same key, is there), else 0.
    private static func move(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let source = try invocation.arguments.nextWord()
        let destination = try invocation.arguments.nextWord()
        let member = try invocation.arguments.nextWord()
        let now = invocation.now
        if sameBytes(source, destination) {
            guard let set = try set(source, &invocation, &state) else { return .integer(0) }
            return .integer(member.withBytes { set.contains($0) } ? 1 : 0)
        }
        // The destination's type is looked at in place, without copying its value. As in
        // Redis, a missing source is 0 before a destination of another type is an error.
        let destinationIsSet = destination.withBytes { key in
            state.keyspace.inspect(key, now: now) { if case .set = $0 { true } else { false } } ?? true
        }
        if !destinationIsSet {
            guard source.withBytes({ state.keyspace.contains($0, now: now) }) else { return .integer(0) }
            throw .wrongType
        }
        let removed = try state.keyspace.modifyCollection(source, SetValue.self, now: now, create: false) { set in
            member.withBytes { set.remove($0) }
        }
        guard removed == true else { return .integer(0) }
        _ = try state.keyspace.modifyCollection(destination, SetValue.self, now: now, create: true) { set in
            member.withBytes { set.insert($0) }
        }
        return .integer(1)
    }

    // MARK: Set algebra

    /// The members in every set; none when a set is missing. The smallest set is walked
    /// and the others looked up, largest last, so a miss is found soonest; the walk stops
    /// once a nonzero `limit` is reached.
    static func intersection(_ sets: [SetValue?], limit: Int = 0) -> SetValue {
        var result = SetValue()
        guard !sets.isEmpty, case let present = sets.compactMap({ $0 }), present.count == sets.count else { return result }
        let ordered = present.sorted { $0.count < $1.count }
        _ = ordered[0].allSatisfy { bytes in
            let member = Array(bytes)
            if ordered.dropFirst().allSatisfy({ $0.contains(member) }) { result.insert(member) }
            return limit == 0 || result.count < limit
        }
        return result
    }

    /// The members in any set.
    static func union(_ sets: [SetValue?]) -> SetValue {
        var result = SetValue()
        for set in sets { set?.forEach { result.insert(Array($0)) } }
        return result
    }

    /// The members of the first set that are in none of the others.
    static func difference(_ sets: [SetValue?]) -> SetValue {
        var result = SetValue()
        guard let first = sets.first ?? nil else { return result }
        let others = sets.dropFirst().compactMap { $0 }
        first.forEach { bytes in
            let member = Array(bytes)
            if !others.contains(where: { $0.contains(member) }) { result.insert(member) }
        }
        return result
    }

    /// SINTER, SUNION or SDIFF (`name`), which reply with the set `operation` makes of their
    /// keys' sets, and its STORE form, which stores it.
    private static func algebra(
        _ name: String, _ noun: String, _ operation: @escaping @Sendable ([SetValue?]) -> SetValue
    ) -> [CommandSpec] {
        [
            CommandSpec(name, arity: -2, flags: ["readonly"], keys: (1, -1, 1), group: "set",
                        summary: "Returns the \(noun) of multiple sets.", since: "1.0.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
                .listing(.setMembers(operation(try sets(&invocation, &state))))
            },
            CommandSpec(name + "store", arity: -3, flags: ["write", "denyoom"], keys: (1, -1, 1), group: "set",
                        summary: "Stores the \(noun) of multiple sets in a key.", since: "1.0.0") { invocation, state throws(CommandError) in
                let destination = try invocation.arguments.next()
                return store(operation(try sets(&invocation, &state)), at: destination, &invocation, &state)
            },
        ]
    }

    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: `result` replaces `destination` (and its
    /// deadline), or deletes it when empty; replies with its size.
    private static func store(_ result: SetValue, at destination: Key, _ invocation: inout Invocation, _ state: inout DatabaseState) -> RESPValue {
        if result.isEmpty {
            state.keyspace.remove(destination, now: invocation.now)
        } else {
            state.keyspace.set(destination, .set(result), now: invocation.now)
        }
        return .integer(Int64(result.count))
    }

    /// SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's size, counted
    /// no further than a nonzero limit.
    private static func intersectionCardinality(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        guard let keyCount = parseInteger(try invocation.arguments.next()), keyCount > 0 else {
            throw .err("numkeys should be greater than 0")
        }
        guard keyCount <= invocation.arguments.remaining else {
            throw .err("Number of keys can't be greater than number of args")
        }
        var keys: [Key] = []
        for _ in 0..<keyCount { keys.append(try invocation.arguments.next()) }
        var limit = 0
        while !invocation.arguments.isEmpty {
            guard try invocation.arguments.nextKeyword() == "LIMIT", !invocation.arguments.isEmpty else { throw .syntax }
            // Redis gives this one text for a negative LIMIT and for one that is no integer.
            guard let value = parseInteger(try invocation.arguments.next()), value >= 0 else {
                throw .err("LIMIT can't be negative")
            }
            limit = Int(clamping: value)
        }
        var sets: [SetValue?] = []
        for key in keys { sets.append(try set(key, &invocation, &state)) }
        return .integer(Int64(intersection(sets, limit: limit).count))
    }
}
