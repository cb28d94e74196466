#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RESP
import SluiceCore

/// ZADD, ZRANGE and the other sorted-set commands (`SluiceCore.SortedSet`). Members are
/// raw bytes ordered by (score, member); a sorted set left without members is deleted.
/// Scores are sent as RESP3 doubles, or in RESP2 as bulk strings of the same text.
enum SortedSetCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("zadd", arity: -4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Adds one or more members to a sorted set, or updates their scores.",
                    since: "1.2.0", handler: add),
        CommandSpec("zincrby", arity: 4, flags: ["write", "denyoom", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Increments the score of a member in a sorted set.", since: "1.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            guard let increment = try invocation.arguments.nextParsed(parseScore) else { throw .notFloat }
            let member = try invocation.arguments.nextWord()
            let score = try state.keyspace.modifyCollection(key, SortedSet.self, now: invocation.now, create: true) { set throws(CommandError) in
                let score = (member.withBytes { set.score(of: $0) } ?? 0) + increment
                guard !score.isNaN else { throw .err("resulting score is not a number (NaN)") }
                member.withBytes { set.set($0, score: score) }
                return score
            }
            return .double(score!)
        },
        CommandSpec("zscan", arity: -3, flags: ["readonly"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Iterates over members and scores of a sorted set.", since: "2.8.0") { invocation, state throws(CommandError) in
            try ScanOptions.scan(&invocation, &state, SortedSet.self) { set, cursor, options in
                let step = set.scan(cursor: cursor, count: options.count)
                var items: [RESPValue] = []
                // Scores as bulk strings even in RESP3, as Redis sends them here.
                for element in step.elements where options.matches(element.member) {
                    items.append(.bulkString(element.member))
                    items.append(.bulk(RESPValue.formatDouble(element.score)))
                }
                return (step.cursor, items)
            }
        },
        CommandSpec("zcard", arity: 2, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the number of members in a sorted set.", since: "1.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            return .integer(Int64(try sortedSet(key, &invocation, &state)?.count ?? 0))
        },
        CommandSpec("zscore", arity: 3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the score of a member in a sorted set.", since: "1.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let member = try invocation.arguments.nextWord()
            let set = try sortedSet(key, &invocation, &state)
            return member.withBytes { set?.score(of: $0) }.map(RESPValue.double) ?? .null
        },
        CommandSpec("zcount", arity: 4, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the count of members in a sorted set that have scores within a range.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let (minimum, maximum) = try scoreRange(try invocation.arguments.nextWord(), try invocation.arguments.nextWord())
            let set = try sortedSet(key, &invocation, &state)
            return .integer(Int64(set?.ranks(from: minimum, to: maximum).count ?? 0))
        },
        CommandSpec("zrange", arity: -4, flags: ["readonly"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns members in a sorted set within a range of indexes, scores or members.",
                    since: "1.2.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            try range(&invocation, &state, by: nil, reverse: nil)
        },
        CommandSpec("zrevrange", arity: -4, flags: ["readonly"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns members in a sorted set within a range of indexes in reverse order.",
                    since: "1.2.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            try range(&invocation, &state, by: .rank, reverse: true)
        },
        CommandSpec("zrangebyscore", arity: -4, flags: ["readonly"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns members in a sorted set within a range of scores.", since: "1.0.5") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            try range(&invocation, &state, by: .score, reverse: false)
        },
        CommandSpec("zrevrangebyscore", arity: -4, flags: ["readonly"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns members in a sorted set within a range of scores in reverse order.",
                    since: "2.2.0") { (invocation: inout Invocation, state: inout DatabaseState) throws(CommandError) -> Reply in
            try range(&invocation, &state, by: .score, reverse: true)
        },
        CommandSpec("zrank", arity: -3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the index of a member in a sorted set ordered by ascending scores.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            try rank(&invocation, &state, reverse: false)
        },
        CommandSpec("zrevrank", arity: -3, flags: ["readonly", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the index of a member in a sorted set ordered by descending scores.",
                    since: "2.0.0") { invocation, state throws(CommandError) in
            try rank(&invocation, &state, reverse: true)
        },
        CommandSpec("zrem", arity: -3, flags: ["write", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Removes one or more members from a sorted set.", since: "1.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let members = invocation.arguments
            let removed = try state.keyspace.modifyCollection(key, SortedSet.self, now: invocation.now, create: false) { set in
                members.restIndices.reduce(0) { count, member in
                    members.withWord(member) { set.remove($0) } ? count + 1 : count
                }
            }
            return .integer(Int64(removed ?? 0))
        },
        CommandSpec("zremrangebyscore", arity: 4, flags: ["write"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Removes members in a sorted set within a range of scores.", since: "1.2.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let (minimum, maximum) = try scoreRange(try invocation.arguments.nextWord(), try invocation.arguments.nextWord())
            let removed = try state.keyspace.modifyCollection(key, SortedSet.self, now: invocation.now, create: false) { set in
                set.removeRanks(set.ranks(from: minimum, to: maximum))
            }
            return .integer(Int64(removed ?? 0))
        },
        CommandSpec("zremrangebyrank", arity: 4, flags: ["write"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Removes members in a sorted set within a range of indexes.", since: "2.0.0") { invocation, state throws(CommandError) in
            let key = try invocation.arguments.nextWord()
            let start = try invocation.arguments.nextInteger()
            let stop = try invocation.arguments.nextInteger()
            let removed = try state.keyspace.modifyCollection(key, SortedSet.self, now: invocation.now, create: false) { set in
                set.removeRanks(rankRange(start, stop, count: set.count))
            }
            return .integer(Int64(removed ?? 0))
        },
        CommandSpec("zpopmin", arity: -2, flags: ["write", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
                    since: "5.0.0") { invocation, state throws(CommandError) in
            try pop(&invocation, &state, highest: false)
        },
        CommandSpec("zpopmax", arity: -2, flags: ["write", "fast"], keys: (1, 1, 1), group: "sorted_set",
                    summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
                    since: "5.0.0") { invocation, state throws(CommandError) in
            try pop(&invocation, &state, highest: true)
        },
    ]

    private static func sortedSet<K: KeyBytes>(_ key: K, _ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> SortedSet? {
        try state.keyspace.collection(key, SortedSet.self, now: invocation.now)
    }

    // MARK: ZADD

    private static let addOptions: Set<String> = ["NX", "XX", "GT", "LT", "CH", "INCR"]

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
    private static func add(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = false
        while let option = invocation.arguments.peekOption(), addOptions.contains(option) {
            _ = try invocation.arguments.next()
            switch option {
            case "NX": nx = true
            case "XX": xx = true
            case "GT": gt = true
            case "LT": lt = true
            case "CH": ch = true
            default: incr = true
            }
        }
        let words = invocation.arguments.remaining
        guard words > 0, words % 2 == 0 else { throw .syntax }
        if nx && xx { throw .err("XX and NX options at the same time are not compatible") }
        if (gt && nx) || (lt && nx) || (gt && lt) { throw .err("GT, LT, and/or NX options at the same time are not compatible") }
        if incr && words > 2 { throw .err("INCR option supports a single increment-element pair") }
        // Each member by its argument's index, read in place from `arguments`.
        var pairs: [(score: Double, member: Int)] = []
        pairs.reserveCapacity(words / 2)
        while !invocation.arguments.isEmpty {
            guard let score = try invocation.arguments.nextParsed(parseScore) else { throw .notFloat }
            pairs.append((score, try invocation.arguments.nextIndex()))
        }
        let arguments = invocation.arguments

        var added = 0, updated = 0
        var incremented: Double?
        _ = try state.keyspace.modifyCollection(key, SortedSet.self, now: invocation.now, create: !xx) { set throws(CommandError) in
            for (given, member) in pairs {
                if !(xx || nx || incr || lt || gt) {
                    // A plain ZADD, as rate limiters send it: one look-up sets the score
                    // and tells whether the member is new or changed.
                    let old = arguments.withWord(member) { set.replaceScore(of: $0, with: given) }
                    if old == nil { added += 1 } else if old != given { updated += 1 }
                    continue
                }
                guard let current = arguments.withWord(member, { set.score(of: $0) }) else {
                    if xx { continue }
                    arguments.withWord(member) { set.set($0, score: given) }
                    added += 1
                    incremented = given
                    continue
                }
                if nx { continue }
                var score = given
                if incr {
                    score += current
                    guard !score.isNaN else { throw .err("resulting score is not a number (NaN)") }
                }
                if (lt && score >= current) || (gt && score <= current) { continue }
                incremented = score
                if score != current {
                    arguments.withWord(member) { set.set($0, score: score) }
                    updated += 1
                }
            }
        }
        if incr { return incremented.map(RESPValue.double) ?? .null }
        return .integer(Int64(ch ? added + updated : added))
    }

    // MARK: Ranges

    enum RangeKind {
        case rank
        case score
        case lex
    }

    /// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES], and
    /// ZREVRANGE, ZRANGEBYSCORE and ZREVRANGEBYSCORE, which fix the kind and direction
    /// (`nil` leaves them to the options), as Redis's shared implementation does.
    private static func range(
        _ invocation: inout Invocation, _ state: inout DatabaseState, by fixedKind: RangeKind?, reverse fixedReverse: Bool?
    ) throws(CommandError) -> Reply {
        let key = try invocation.arguments.nextWord()
        var start = try invocation.arguments.nextWord()
        var stop = try invocation.arguments.nextWord()
        var kind = fixedKind
        var reverse = fixedReverse
        var withScores = false
        var offset: Int64 = 0
        var limit: Int64 = -1
        while !invocation.arguments.isEmpty {
            let option = try invocation.arguments.nextKeyword()
            if option == "WITHSCORES" {
                withScores = true
            } else if option == "LIMIT" && invocation.arguments.remaining >= 2 {
                offset = try invocation.arguments.nextInteger()
                limit = try invocation.arguments.nextInteger()
            } else if option == "REV" && reverse == nil {
                reverse = true
            } else if option == "BYSCORE" && kind == nil {
                kind = .score
            } else if option == "BYLEX" && kind == nil {
                kind = .lex
            } else {
                throw .syntax
            }
        }
        let rangeKind = kind ?? .rank
        let isReverse = reverse ?? false
        // Redis treats `LIMIT offset -1` as no LIMIT at all.
        if limit != -1 && rangeKind == .rank {
            throw .err("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if withScores && rangeKind == .lex { throw .err("syntax error, WITHSCORES not supported in combination with BYLEX") }
        // Score and member ranges are given high to low when reversed.
        if isReverse && rangeKind != .rank { swap(&start, &stop) }

        var ranks: (SortedSet) -> Range<Int>
        switch rangeKind {
        case .rank:
            guard let first = start.withBytes(parseInteger), let last = stop.withBytes(parseInteger) else { throw .notInteger }
            ranks = { set in
                // Positions count from the end when reversed.
                let forward = rankRange(first, last, count: set.count)
                return isReverse ? (set.count - forward.upperBound)..<(set.count - forward.lowerBound) : forward
            }
        case .score:
            let (minimum, maximum) = try scoreRange(start, stop)
            ranks = { $0.ranks(from: minimum, to: maximum) }
        case .lex:
            guard let minimum = lexBound(start.array), let maximum = lexBound(stop.array) else {
                throw .err("min or max not valid string range item")
            }
            ranks = { $0.ranks(from: minimum, to: maximum) }
        }

        guard let set = try sortedSet(key, &invocation, &state) else { return .value(.array([])) }
        var selected = ranks(set)
        if rangeKind != .rank {
            // LIMIT counts along the direction of the reply; a negative offset selects nothing
            // and a negative count means all, as in Redis.
            if offset < 0 || offset >= Int64(selected.count) {
                selected = selected.lowerBound..<selected.lowerBound
            } else {
                let available = selected.count - Int(offset)
                let taken = limit < 0 ? available : min(available, Int(clamping: limit))
                selected = isReverse
                    ? (selected.upperBound - Int(offset) - taken)..<(selected.upperBound - Int(offset))
                    : (selected.lowerBound + Int(offset))..<(selected.lowerBound + Int(offset) + taken)
            }
        }
        // Written from the set into the reply, not through element values.
        return .listing(.sortedRange(set, ranks: selected.clamped(to: 0..<set.count), reverse: isReverse, withScores: withScores))
    }

    /// Members, or with scores: RESP2 a flat array of member, score; RESP3 an array of
    /// [member, double] pairs, as Redis 7 sends.
    static func reply(_ elements: [SortedSet.Element], withScores: Bool, _ version: RESPVersion) -> RESPValue {
        guard withScores else { return .array(elements.map { .bulkString($0.member) }) }
        if version == .resp3 {
            return .array(elements.map { .array([.bulkString($0.member), .double($0.score)]) })
        }
        var flat: [RESPValue] = []
        flat.reserveCapacity(elements.count * 2)
        for element in elements {
            flat.append(.bulkString(element.member))
            flat.append(.double(element.score))
        }
        return .array(flat)
    }

    /// ZPOPMIN / ZPOPMAX key [count]: the popped members and scores, lowest (highest)
    /// first. Without a count a flat `[member, score]`; with one, in RESP3 an array of
    /// pairs, as ZRANGE WITHSCORES replies; empty when the key is missing.
    private static func pop(_ invocation: inout Invocation, _ state: inout DatabaseState, highest: Bool) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        var count: Int64 = 1
        let counted = !invocation.arguments.isEmpty
        if counted {
            // As in Redis, a third argument is a syntax error before the count is read.
            let word = try invocation.arguments.next()
            try invocation.arguments.finish()
            guard let value = parseInteger(word), value >= 0 else {
                throw .err("value is out of range, must be positive")
            }
            count = value
        }
        let popped = try state.keyspace.modifyCollection(key, SortedSet.self, now: invocation.now, create: false) { set -> [SortedSet.Element] in
            let ranks = highest ? max(0, set.count - Int(clamping: count))..<set.count : 0..<min(set.count, Int(clamping: count))
            let elements = set.elements(ranks: ranks, reverse: highest)
            set.removeRanks(ranks)
            return elements
        } ?? []
        guard counted else {
            return .array(popped.flatMap { [RESPValue.bulkString($0.member), .double($0.score)] })
        }
        return reply(popped, withScores: true, invocation.client.protocolVersion)
    }

    /// ZRANK / ZREVRANK key member [WITHSCORE]
    private static func rank(_ invocation: inout Invocation, _ state: inout DatabaseState, reverse: Bool) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.nextWord()
        let member = try invocation.arguments.nextWord()
        var withScore = false
        if !invocation.arguments.isEmpty {
            guard try invocation.arguments.nextKeyword() == "WITHSCORE" else { throw .syntax }
            try invocation.arguments.finish()
            withScore = true
        }
        guard let set = try sortedSet(key, &invocation, &state), let rank = member.withBytes({ set.rank(of: $0) }) else {
            return withScore ? .nullArray : .null
        }
        let position = Int64(reverse ? set.count - 1 - rank : rank)
        guard withScore else { return .integer(position) }
        return .array([.integer(position), .double(member.withBytes { set.score(of: $0) }!)])
    }

    /// Redis's rank arithmetic: negative positions count from the end; the range is
    /// clamped to the set and empty when start is past stop.
    static func rankRange(_ start: Int64, _ stop: Int64, count: Int) -> Range<Int> {
        let count = Int64(count)
        var first = start < 0 ? count + start : start
        var last = stop < 0 ? count + stop : stop
        if first < 0 { first = 0 }
        guard first <= last, first < count else { return 0..<0 }
        if last >= count { last = count - 1 }
        return Int(first)..<Int(last + 1)
    }

    /// A `min max` score range as ZRANGEBYSCORE, ZCOUNT and ZREMRANGEBYSCORE take it, read
    /// where the two words lie.
    private static func scoreRange(_ minimum: ArgumentWord, _ maximum: ArgumentWord) throws(CommandError) -> (SortedSet.ScoreBound, SortedSet.ScoreBound) {
        guard let low = minimum.withBytes(scoreBound), let high = maximum.withBytes(scoreBound) else {
            throw .err("min or max is not a float")
        }
        return (low, high)
    }

    /// `1.5`, `(1.5` (exclusive), `-inf`, `+inf`. Parsed with C's `strtod` as Redis does,
    /// so its corner cases match (an empty number reads as 0, leading spaces pass).
    /// Integers and infinities, what limiters send, are read directly: `strtod` gives the
    /// same doubles at about 600 instructions a bound.
    static func scoreBound(_ bytes: UnsafeRawBufferPointer) -> SortedSet.ScoreBound? {
        let exclusive = bytes.first == UInt8(ascii: "(")
        let number = exclusive ? UnsafeRawBufferPointer(rebasing: bytes.dropFirst()) : bytes
        if let integer = parseInteger(number), integer.magnitude < 1 << 53 {
            return SortedSet.ScoreBound(Double(integer), exclusive: exclusive)
        }
        if number.elementsEqual("-inf".utf8) { return SortedSet.ScoreBound(-.infinity, exclusive: exclusive) }
        if number.elementsEqual("+inf".utf8) || number.elementsEqual("inf".utf8) {
            return SortedSet.ScoreBound(.infinity, exclusive: exclusive)
        }
        guard let (value, _) = parseCString(number, { strtod($0, $1) }), !value.isNaN else { return nil }
        return SortedSet.ScoreBound(value, exclusive: exclusive)
    }

    /// A score as ZADD and ZINCRBY take it, by Redis's rule: all of the text is a number
    /// C's `strtod` reads (decimal, exponent, hex, `inf`), no leading space, not NaN, and
    /// not out of range (`1e400` and `1e-400` are refused, not rounded to inf or 0).
    static func parseScore(_ bytes: UnsafeRawBufferPointer) -> Double? {
        guard let first = bytes.first, first != UInt8(ascii: " "), !(9...13).contains(first), !bytes.contains(0) else {
            return nil
        }
        if let integer = parseInteger(bytes), integer.magnitude < 1 << 53 { return Double(integer) }
        guard let (value, outOfRange) = parseCString(bytes, { strtod($0, $1) }), !value.isNaN else { return nil }
        if outOfRange && (value.isInfinite || value == 0) { return nil }
        return value
    }

    /// `-`, `+`, `[member` (inclusive) or `(member` (exclusive).
    static func lexBound(_ bytes: [UInt8]) -> SortedSet.LexBound? {
        switch bytes.first {
        case UInt8(ascii: "-") where bytes.count == 1: .minimum
        case UInt8(ascii: "+") where bytes.count == 1: .maximum
        case UInt8(ascii: "["): .inclusive(Array(bytes.dropFirst()))
        case UInt8(ascii: "("): .exclusive(Array(bytes.dropFirst()))
        default: nil
        }
    }
}
