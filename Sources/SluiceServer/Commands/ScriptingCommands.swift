import RESP
import SluiceCore

/// EVAL, EVALSHA, their read-only forms and SCRIPT: Lua scripts run atomically in the
/// server's embedded Lua 5.1 (Scripting/).
enum ScriptingCommands {
    private static let flags = ["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"]

    static let specs: [CommandSpec] = [
        CommandSpec("eval", arity: -3, flags: flags, group: "scripting",
                    summary: "Executes a server-side Lua script.", since: "2.6.0") { invocation, state throws(CommandError) in
            try evaluate(&invocation, &state, bySha: false, readOnly: false)
        },
        CommandSpec("evalsha", arity: -3, flags: flags, group: "scripting",
                    summary: "Executes a server-side Lua script by SHA1 digest.", since: "2.6.0") { invocation, state throws(CommandError) in
            try evaluate(&invocation, &state, bySha: true, readOnly: false)
        },
        CommandSpec("eval_ro", arity: -3, flags: ["readonly"] + flags, group: "scripting",
                    summary: "Executes a read-only server-side Lua script.", since: "7.0.0") { invocation, state throws(CommandError) in
            try evaluate(&invocation, &state, bySha: false, readOnly: true)
        },
        CommandSpec("evalsha_ro", arity: -3, flags: ["readonly"] + flags, group: "scripting",
                    summary: "Executes a read-only server-side Lua script by SHA1 digest.", since: "7.0.0") { invocation, state throws(CommandError) in
            try evaluate(&invocation, &state, bySha: true, readOnly: true)
        },
        CommandSpec("script", arity: -2, flags: ["noscript"], group: "scripting",
                    summary: "A container for Lua scripts management commands.", since: "2.6.0",
                    subcommands: scriptSubcommands, handler: script),
    ]

    /// EVAL script numkeys [key ...] [arg ...], and EVALSHA with a digest for the script.
    private static func evaluate(
        _ invocation: inout Invocation, _ state: inout DatabaseState, bySha: Bool, readOnly: Bool
    ) throws(CommandError) -> RESPValue {
        let script = try invocation.arguments.nextIndex()
        let numberOfKeys = try invocation.arguments.nextInteger()
        guard numberOfKeys <= invocation.arguments.remaining else { throw .err("Number of keys can't be greater than number of args") }
        guard numberOfKeys >= 0 else { throw .err("Number of keys can't be negative") }
        // KEYS and ARGV are read from the command's words in place, not copied out first.
        let keys = invocation.arguments.position..<invocation.arguments.position + Int(numberOfKeys)
        let arguments = keys.upperBound..<invocation.arguments.count
        let body = bySha ? nil : invocation.arguments[script]
        // A SHA that is not 40 hex digits names no script, as in Redis.
        guard let digest = body.map({ ScriptDigest(sha1Of: $0) }) ?? invocation.arguments.withWord(script, ScriptDigest.init(hex:)) else {
            throw .noScript
        }
        let engine = state.scripting
        let context = invocation
        return try withUnsafeMutablePointer(to: &state) { database throws(CommandError) in
            try engine.run(
                digest: digest, body: body, keys: keys, arguments: arguments, readOnly: readOnly,
                invocation: context, database: database)
        }
    }

    static let scriptSubcommands = [
        SubcommandSpec("exists", arity: -3, "Determines whether server-side Lua scripts exist in the script cache."),
        SubcommandSpec("flush", arity: -2, "Removes all server-side Lua scripts from the script cache."),
        SubcommandSpec("help", arity: 2, "Returns helpful text about the different subcommands."),
        SubcommandSpec("kill", arity: 2, "Terminates a server-side Lua script during execution."),
        SubcommandSpec("load", arity: 3, "Loads a server-side Lua script to the script cache."),
    ]

    private static func script(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        switch try SubcommandSpec.resolve(&invocation, parent: "script", in: scriptSubcommands) {
        case "LOAD":
            return .bulk(try state.scripting.load(try invocation.arguments.next()))
        case "EXISTS":
            let shas = invocation.arguments
            return .array(shas.restIndices.map { index in
                .integer(shas.withWord(index, ScriptDigest.init(hex:)).map(state.scripting.contains) == true ? 1 : 0)
            })
        case "FLUSH":
            if !invocation.arguments.isEmpty {
                let mode = invocation.arguments.peekKeyword()
                guard invocation.arguments.remaining == 1, mode == "SYNC" || mode == "ASYNC" else {
                    throw .err("SCRIPT FLUSH only support SYNC|ASYNC option")
                }
            }
            state.scripting.flush()
            return .ok
        case "KILL":
            // A script holds the database lock until it ends, so none is running while
            // this command runs; long scripts are stopped by the time limit instead.
            throw CommandError(.message("NOTBUSY No scripts in execution right now."))
        default:  // HELP
            return .array([
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    For each digest, 1 if the script is in the cache, else 0.",
                "FLUSH [ASYNC|SYNC]",
                "    Empty the script cache (both modes do it at once).",
                "KILL",
                "    Always NOTBUSY: Sluice stops scripts that run past the time limit itself.",
                "LOAD <script>",
                "    Compile a script into the cache and return its SHA1 digest.",
                "HELP",
                "    Print this help.",
            ].map { .simpleString($0) })
        }
    }
}
