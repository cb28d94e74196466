import RESP
import SluiceCore

/// What a command handler gets: its arguments, the time read once for this command,
/// the calling client and the server's fixed context.
struct Invocation {
    var arguments: Arguments
    let now: Instant
    let client: Client
    let server: ServerContext
}

typealias CommandHandler = @Sendable (inout Invocation, inout DatabaseState) throws(CommandError) -> RESPValue

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

    init(
        _ name: String, arity: Int, flags: [String], keys: (first: Int, last: Int, step: Int) = (0, 0, 0),
        group: String, summary: String, since: String = "1.0.0", subcommands: [SubcommandSpec] = [],
        handler: @escaping CommandHandler
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
    }

    func acceptsArgumentCount(_ count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}

/// All commands, looked up by lower-cased name bytes.
struct CommandTable: Sendable {
    let specs: [CommandSpec]
    private let byName: [HashedBytes: Int]

    init(_ specs: [CommandSpec]) {
        self.specs = specs.sorted { $0.name < $1.name }
        var byName: [HashedBytes: Int] = [:]
        for (position, spec) in self.specs.enumerated() {
            precondition(byName[HashedBytes(Array(spec.name.utf8))] == nil, "command \(spec.name) registered twice")
            byName[HashedBytes(Array(spec.name.utf8))] = position
            // Clients mostly send upper case; finding it directly saves folding every request.
            byName[HashedBytes(Array(spec.name.uppercased().utf8))] = position
        }
        self.byName = byName
    }

    /// The table position of a command named by `name` in any letter case.
    func lookup(_ name: [UInt8]) -> Int? {
        if let position = byName[HashedBytes(name)] { return position }
        return byName[HashedBytes(asciiLowercased(name))]
    }

    func spec(named name: String) -> CommandSpec? {
        lookup(Array(name.utf8)).map { specs[$0] }
    }

    /// Every command Sluice answers.
    static let all = CommandTable(
        ConnectionCommands.specs + ServerCommands.specs + DebugCommands.specs + StringCommands.specs + KeyCommands.specs
            + LeakyBucketCommands.specs + CounterCommands.specs + ThrottleCommands.specs + SlidingWindowCommands.specs
            + ScriptingCommands.specs
    )
}

func asciiLowercased(_ bytes: [UInt8]) -> [UInt8] {
    bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
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
