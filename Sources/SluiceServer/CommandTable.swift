import RESP
import SluiceCore

/// What a command handler gets: its arguments, the time read once for this command,
/// the calling client and the server's fixed context.
struct Invocation {
    var arguments: Arguments
    let now: Instant
    // Not retained: whoever makes an invocation holds the client and the server for
    // as long as it runs, and two reference counts per command are measurable.
    unowned(unsafe) let client: Client
    unowned(unsafe) let server: ServerContext
}

typealias CommandHandler = @Sendable (inout Invocation, inout DatabaseState) throws(CommandError) -> RESPValue

/// The handler of a command whose reply the dispatcher writes as bytes without building a
/// value: a rate-limit decision (`DecisionReply`) or a collection's contents
/// (`CollectionListing`).
typealias DirectHandler = @Sendable (inout Invocation, inout DatabaseState) throws(CommandError) -> Reply

/// A command as data: `COMMAND`, `COMMAND DOCS` and the dispatcher's arity check
/// all come from these. A class so that dispatch holds one reference, not a copy of
/// every field.
final class CommandSpec: Sendable {
    /// Lower-case name, as Redis reports it.
    let name: String
    /// Redis's rule: positive means exactly that many words (name included),
    /// negative means at least that many.
    let arity: Int
    let flags: [String]
    let firstKey: Int
    let lastKey: Int
    let keyStep: Int
    let group: String
    let summary: String
    let since: String
    /// Documented for `COMMAND`; dispatch to them happens inside the parent's handler.
    let subcommands: [SubcommandSpec]
    let handler: CommandHandler
    /// Set for the rate-limit decisions and the commands that list a collection; `handler`
    /// then builds the reply's value (for `EXEC` and scripts).
    let direct: DirectHandler?
    /// Flagged `denyoom`: may add data, so refused over `maxmemory` (MemoryLimit.swift).
    let deniedOverMemoryLimit: Bool
    /// Flagged `write`; and flagged `noscript` or `blocking`, refused to scripts. Read
    /// for every `redis.call`, so kept as flags rather than searched for by name.
    let isWrite: Bool
    let refusedInScripts: Bool
    /// When not empty, the only word counts accepted, for a command that is two in one
    /// (`INCR key` and the bounded `INCR key amount maximum ttl`): checked as arity is,
    /// so a count that fits neither is refused while queuing in `MULTI`, as in Redis.
    let wordCounts: [Int]
    /// Whether the command may run holding only its key's shard's lock (Database.swift):
    /// its key is its first argument and it reads and changes nothing but that key and
    /// the counters. Kept to a list checked by hand, as a handler may reach anything
    /// in `DatabaseState`.
    let runsOnShard: Bool

    /// The commands for `runsOnShard`.
    static let shardCommands: Set<String> = [
        "get", "set", "setnx", "getdel", "getex", "incr", "decr", "incrby", "decrby", "incrbyfloat", "append",
        "strlen", "ttl", "pttl", "expiretime", "pexpiretime", "persist", "type", "consume", "peek", "cl.throttle",
        "acquire", "add", "expire", "pexpire", "expireat", "pexpireat", "setex", "psetex",
        "hset", "hmset", "hsetnx", "hget", "hmget", "hgetall", "hkeys", "hvals", "hlen", "hstrlen", "hexists", "hdel",
        "hincrby", "hincrbyfloat", "zadd", "zincrby", "zcard", "zscore", "zcount", "zrange", "zrevrange",
        "zrangebyscore", "zrevrangebyscore", "zrank", "zrevrank", "zrem", "zremrangebyscore", "zremrangebyrank",
        "zpopmin", "zpopmax", "sadd", "srem", "scard", "sismember", "smismember", "smembers", "spop", "srandmember",
        "hscan", "sscan", "zscan",
    ]

    convenience init(
        _ name: String, arity: Int, flags: [String], keys: (first: Int, last: Int, step: Int) = (0, 0, 0),
        group: String, summary: String, since: String = "1.0.0", subcommands: [SubcommandSpec] = [],
        wordCounts: [Int] = [], handler: @escaping CommandHandler
    ) {
        self.init(name, arity: arity, flags: flags, keys: keys, group: group, summary: summary, since: since,
                  subcommands: subcommands, wordCounts: wordCounts, handler: handler, direct: nil)
    }

    /// A command whose reply is written without a value: a rate-limit decision, or a
    /// collection's contents.
    convenience init(
        _ name: String, arity: Int, flags: [String], keys: (first: Int, last: Int, step: Int) = (0, 0, 0),
        group: String, summary: String, since: String = "1.0.0", direct: @escaping DirectHandler
    ) {
        self.init(name, arity: arity, flags: flags, keys: keys, group: group, summary: summary, since: since,
                  subcommands: [], wordCounts: [], handler: { invocation, state throws(CommandError) in
                      try direct(&invocation, &state).value(invocation.client.protocolVersion)
                  }, direct: direct)
    }

    private init(
        _ name: String, arity: Int, flags: [String], keys: (first: Int, last: Int, step: Int),
        group: String, summary: String, since: String, subcommands: [SubcommandSpec], wordCounts: [Int],
        handler: @escaping CommandHandler, direct: DirectHandler?
    ) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.firstKey = keys.first
        self.lastKey = keys.last
        self.keyStep = keys.step
        self.group = group
        self.summary = summary
        self.since = since
        self.subcommands = subcommands
        self.handler = handler
        self.direct = direct
        self.deniedOverMemoryLimit = flags.contains("denyoom")
        self.isWrite = flags.contains("write")
        // A blocking command would wait with the database lock held; Redis flags those noscript too.
        self.refusedInScripts = flags.contains("noscript") || flags.contains("blocking")
        self.wordCounts = wordCounts
        self.runsOnShard = Self.shardCommands.contains(name)
    }

    func acceptsArgumentCount(_ count: Int) -> Bool {
        if !wordCounts.isEmpty { return wordCounts.contains(count) }
        return arity >= 0 ? count == arity : count >= -arity
    }
}

/// All commands, looked up by lower-cased name bytes.
final class CommandTable: Sendable {
    let specs: [CommandSpec]
    private let byName: CommandNameIndex
    /// The position of `ACQUIRE`, the one command whose key holds a sliding-window log
    /// (whose newest entries the dispatcher prefetches); -1 in a table without it.
    let logCommand: Int

    init(_ specs: [CommandSpec]) {
        self.specs = specs.sorted { $0.name < $1.name }
        self.byName = CommandNameIndex(self.specs.map(\.name))
        self.logCommand = self.specs.firstIndex { $0.name == "acquire" } ?? -1
    }

    /// The table position of a command named by `name` in any letter case.
    func lookup(_ name: UnsafeRawBufferPointer) -> Int? {
        byName.lookup(name)
    }

    func lookup(_ name: [UInt8]) -> Int? {
        name.withUnsafeBytes { byName.lookup($0) }
    }

    func spec(named name: String) -> CommandSpec? {
        lookup(Array(name.utf8)).map { specs[$0] }
    }

    /// Every command Sluice answers.
    static let all = CommandTable(
        ConnectionCommands.specs + ServerCommands.specs + DebugCommands.specs + StringCommands.specs + KeyCommands.specs
            + LeakyBucketCommands.specs + CounterCommands.specs + ThrottleCommands.specs + SlidingWindowCommands.specs
            + TransactionCommands.specs + HashCommands.specs + SortedSetCommands.specs + SetCommands.specs + AuthCommands.specs
            + ListCommands.specs
            + ScriptingCommands.specs + SlowlogCommands.specs
            + PersistenceCommands.specs + MemoryCommands.specs
    )
}

/// A subcommand such as `CLIENT SETNAME`: arity counts the parent's name too.
struct SubcommandSpec: Sendable {
    let name: String
    let arity: Int
    let summary: String

    init(_ name: String, arity: Int, _ summary: String) {
        self.name = name
        self.arity = arity
        self.summary = summary
    }

    /// `HELP`, for a command whose help lists its subcommands (`helpReply`).
    static let help = SubcommandSpec("help", arity: 2, "Returns helpful text about the different subcommands.")

    /// The lines `<COMMAND> HELP` answers, as Redis's: a heading, then each subcommand and
    /// what it does.
    static func helpReply(parent: String, _ subcommands: [SubcommandSpec]) -> RESPValue {
        var lines = ["\(parent.uppercased()) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
        for subcommand in subcommands where subcommand.name != "help" {
            lines += [subcommand.name.uppercased(), "    " + subcommand.summary]
        }
        lines += ["HELP", "    Print this help."]
        return .array(lines.map { .simpleString($0) })
    }

    /// Reads the subcommand word, checks it is known and that the argument count fits.
    /// Returns the subcommand's upper-case name for the handler to switch on.
    static func resolve(_ invocation: inout Invocation, parent: String, in subcommands: [SubcommandSpec]) throws(CommandError) -> String {
        let word = try invocation.arguments.nextKeyword()
        guard let spec = subcommands.first(where: { $0.name.uppercased() == word }) else {
            throw CommandError(.unknownSubcommand(command: parent, subcommand: String(decoding: invocation.arguments[1], as: UTF8.self)))
        }
        let count = invocation.arguments.count
        guard spec.arity >= 0 ? count == spec.arity : count >= -spec.arity else {
            throw CommandError(.wrongArity(command: "\(parent)|\(spec.name)"))
        }
        return word
    }
}

/// Command names to table positions, looked up straight from the request's bytes in
/// any letter case: no copy, no lower-cased duplicate, no `Hasher`.
struct CommandNameIndex: Sendable {
    /// A name lower-cased, as its first and last 8 bytes (overlapping when shorter than
    /// 16; when shorter than 8, its first and last 4 or 2 bytes in `head`) and its length. For a name of at most 16
    /// bytes, which every command has, that is the whole name, so a look-up compares
    /// two words and a length instead of byte by byte.
    private struct Words: Equatable {
        var head: UInt64
        var tail: UInt64
        var count: Int
    }

    /// Open addressing, linear probing; -1 marks an empty slot.
    private let slots: [Int]
    private let words: [Words]
    /// The lower-cased names, compared byte by byte only past their 16th byte.
    private let names: [[UInt8]]
    private let mask: Int

    init(_ names: [String]) {
        self.names = names.map { Array($0.lowercased().utf8) }
        self.words = self.names.map { name in name.withUnsafeBytes { Self.words($0) } }
        var capacity = 16
        while capacity < names.count * 4 { capacity *= 2 }
        var slots = [Int](repeating: -1, count: capacity)
        for (position, name) in self.names.enumerated() {
            var slot = Self.hash(self.words[position]) & (capacity - 1)
            while slots[slot] >= 0 {
                precondition(self.names[slots[slot]] != name, "command \(names[position]) registered twice")
                slot = (slot + 1) & (capacity - 1)
            }
            slots[slot] = position
        }
        self.slots = slots
        self.mask = capacity - 1
    }

    func lookup(_ name: UnsafeRawBufferPointer) -> Int? {
        let key = Self.words(name)
        var slot = Self.hash(key) & mask
        while true {
            let position = slots[slot]
            if position < 0 { return nil }
            if words[position] == key && (key.count <= 16 || Self.equalFolded(names[position], name)) {
                return position
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private static func words(_ bytes: UnsafeRawBufferPointer) -> Words {
        let count = bytes.count
        var head: UInt64 = 0
        var tail: UInt64 = 0
        if count >= 8 {
            head = bytes.loadUnaligned(as: UInt64.self)
            tail = bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        } else if count >= 4 {
            // Two overlapping loads instead of a loop per byte; with the length they still
            // say every byte, which is all the look-up needs of them.
            head = UInt64(bytes.loadUnaligned(as: UInt32.self))
                | UInt64(bytes.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)) << 32
        } else if count >= 2 {
            head = UInt64(bytes.loadUnaligned(as: UInt16.self))
                | UInt64(bytes.loadUnaligned(fromByteOffset: count - 2, as: UInt16.self)) << 16
        } else if count == 1 {
            head = UInt64(bytes[0])
        }
        return Words(head: lowercased(head), tail: lowercased(tail), count: count)
    }

    /// ASCII capitals to lower case in all 8 bytes at once; every other byte, those
    /// with the high bit set included, is left as it is.
    @inline(__always)
    private static func lowercased(_ word: UInt64) -> UInt64 {
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        // Bit 7 of each byte: set where the byte (high bit cleared) is at least 'A',
        // and where it is past 'Z'; no byte carries into the next.
        let atLeastA = low &+ 0x3F3F_3F3F_3F3F_3F3F
        let pastZ = low &+ 0x2525_2525_2525_2525
        let capitals = atLeastA & ~pastZ & ~word & 0x8080_8080_8080_8080
        return word | (capitals >> 2)
    }

    /// Mixes the length with the lower-cased first and last 8 bytes: two multiplies
    /// instead of one per byte, as a pipelined burst looks up every command's name.
    @inline(__always)
    private static func hash(_ words: Words) -> Int {
        var hash = words.head &* 0x9E37_79B9_7F4A_7C15
        hash ^= words.tail &* 0xC2B2_AE3D_27D4_EB4F
        hash ^= UInt64(words.count) &* 0x1656_67B1_9E37_79F9
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    @inline(__always)
    private static func folded(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte | 0x20 : byte
    }

    private static func equalFolded(_ lower: [UInt8], _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard lower.count == bytes.count else { return false }
        for index in 0..<lower.count where lower[index] != folded(bytes[index]) {
            return false
        }
        return true
    }
}
