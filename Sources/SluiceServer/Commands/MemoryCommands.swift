import RESP

/// MEMORY USAGE and HELP: what a key costs in the keyspace's memory estimate
/// (MemoryEstimate.swift), which `redis-cli --memkeys` reads.
enum MemoryCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("memory", arity: -2, flags: [], group: "server",
                    summary: "A container for memory diagnostics commands.", since: "4.0.0",
                    subcommands: subcommands, handler: memory),
    ]

    static let subcommands = [
        SubcommandSpec("usage", arity: -3, "Estimates the memory usage of a key."),
        SubcommandSpec("help", arity: 2, "Returns helpful text about the different subcommands."),
    ]

    static let help = [
        "MEMORY <subcommand> [<arg> ...]. Subcommands are:",
        "USAGE <key> [SAMPLES <count>]",
        "    The bytes <key> takes in the keyspace's memory estimate: its share of the",
        "    tables, the key when longer than 22 bytes, and its value. SAMPLES is",
        "    accepted for compatibility; every element is counted.",
        "HELP",
        "    Print this help.",
    ]

    private static func memory(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        switch try SubcommandSpec.resolve(&invocation, parent: "memory", in: subcommands) {
        case "USAGE":
            let key = try invocation.arguments.nextIndex()
            // `SAMPLES count`: Redis estimates big collections from a sample; the
            // estimate here is exact, so the count is only checked.
            // Read as Redis reads options: repeats allowed, left to right.
            while !invocation.arguments.isEmpty {
                guard invocation.arguments.remaining >= 2, try invocation.arguments.nextKeyword() == "SAMPLES" else { throw .syntax }
                guard try invocation.arguments.nextInteger() >= 0 else { throw .syntax }
            }
            let now = invocation.now
            let bytes = try invocation.arguments.withKey(key) { key in state.keyspace.memoryUsage(key, now: now) }
            return bytes.map { .integer(Int64($0)) } ?? .null
        default:  // HELP
            return .array(help.map { .simpleString($0) })
        }
    }
}
