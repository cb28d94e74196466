import RESP

/// SLOWLOG GET/LEN/RESET/HELP over the entries the dispatcher records (SlowLog.swift).
enum SlowlogCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("slowlog", arity: -2, flags: ["admin", "loading", "stale"], group: "server",
                    summary: "A container for slow log commands.", since: "2.2.12",
                    subcommands: subcommands, handler: slowlog),
    ]

    static let subcommands = [
        SubcommandSpec("get", arity: -2, "Returns the slow log's entries."),
        SubcommandSpec("len", arity: 2, "Returns the number of entries in the slow log."),
        SubcommandSpec("reset", arity: 2, "Clears all entries from the slow log."),
        SubcommandSpec("help", arity: 2, "Returns helpful text about the different subcommands."),
    ]

    static let help = [
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ]

    private static func slowlog(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        switch try SubcommandSpec.resolve(&invocation, parent: "slowlog", in: subcommands) {
        case "GET":
            var count = 10
            if !invocation.arguments.isEmpty {
                guard invocation.arguments.remaining == 1 else {
                    let typed = String(decoding: invocation.arguments[1], as: UTF8.self)
                    throw .err("unknown subcommand or wrong number of arguments for '\(typed)'. Try SLOWLOG HELP.")
                }
                let word = try invocation.arguments.next()
                guard let parsed = parseInteger(word), parsed >= -1 else {
                    throw .err("count should be greater than or equal to -1")
                }
                count = parsed == -1 ? Int.max : Int(parsed)
            }
            return .array(state.slowlog.entries.reversed().prefix(count).map(\.reply))
        case "LEN":
            return .integer(Int64(state.slowlog.entries.count))
        case "RESET":
            state.slowlog.reset()
            return .ok
        default:  // HELP
            return .array(help.map { .simpleString($0) })
        }
    }
}
