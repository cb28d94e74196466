import RESP
import SluiceCore

/// A command's failure, turned into a RESP error reply in exactly one place
/// (`CommandError.reply`), with Redis's wording where clients match on it.
public struct CommandError: Error, Hashable, Sendable {
    enum Kind: Hashable, Sendable {
        case wrongType
        case notInteger
        case notFloat
        case overflow
        case syntax
        case wrongArity(command: String)
        case unknownCommand(name: [UInt8], arguments: [[UInt8]])
        case unknownSubcommand(command: String, subcommand: String)
        case invalidExpireTime(command: String)
        /// Any other message; carries its own prefix (`ERR ...`, `NOPROTO ...`).
        case message(String)
    }

    let kind: Kind
    /// Set for an error already counted in `INFO errorstats` where it arose (a command a
    /// script called), so that relaying it as the reply does not count it again.
    let alreadyCounted: Bool

    init(_ kind: Kind, alreadyCounted: Bool = false) {
        self.kind = kind
        self.alreadyCounted = alreadyCounted
    }

    static let wrongType = CommandError(.wrongType)
    static let notInteger = CommandError(.notInteger)
    static let notFloat = CommandError(.notFloat)
    static let overflow = CommandError(.overflow)
    static let syntax = CommandError(.syntax)
    /// EVALSHA of a script the cache does not hold.
    static let noScript = CommandError(.message("NOSCRIPT No matching script. Please use EVAL."))

    /// `ERR <text>`.
    static func err(_ text: String) -> CommandError {
        CommandError(.message("ERR " + text))
    }

    /// A rate-limit argument that cannot be used: `ERR <argument> must be ...`.
    init(_ error: RateLimitError) {
        self = .err(error.description)
    }

    /// The full error text, prefix included.
    public var message: String {
        switch kind {
        case .wrongType:
            return "WRONGTYPE Operation against a key holding the wrong kind of value"
        case .notInteger:
            return "ERR value is not an integer or out of range"
        case .notFloat:
            return "ERR value is not a valid float"
        case .overflow:
            return "ERR increment or decrement would overflow"
        case .syntax:
            return "ERR syntax error"
        case .wrongArity(let command):
            return "ERR wrong number of arguments for '\(command)' command"
        case .unknownCommand(let name, let arguments):
            // As Redis's `'%.128s'` and `'%.*s' `: each word up to a NUL, the name up to 128
            // bytes, the quoted arguments until 128 bytes are shown.
            var list: [UInt8] = []
            for argument in arguments where list.count < 128 {
                list += [UInt8(ascii: "'")] + argument.prefix { $0 != 0 }.prefix(128 - list.count) + Array("' ".utf8)
            }
            let shown = String(decoding: name.prefix { $0 != 0 }.prefix(128), as: UTF8.self)
            return "ERR unknown command '\(shown)', with args beginning with: \(String(decoding: list, as: UTF8.self))"
        case .unknownSubcommand(let command, let subcommand):
            let shown = String(decoding: subcommand.utf8.prefix { $0 != 0 }.prefix(128), as: UTF8.self)
            return "ERR unknown subcommand '\(shown)'. Try \(command.uppercased()) HELP."
        case .invalidExpireTime(let command):
            return "ERR invalid expire time in '\(command)' command"
        case .message(let text):
            return text
        }
    }

    var reply: RESPValue { .error(message) }
}
