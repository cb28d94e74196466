import RESP
import SluiceCore

/// DEBUG, off unless the server runs with `--enable-debug-command yes|local`.
/// Only `SET-CLOCK` (pin or release the server's clock, for replaying exact times in
/// tests) and `HELP` exist.
enum DebugCommands {
    static let subcommands = [
        SubcommandSpec("help", arity: 2, "Shows the DEBUG subcommands."),
        SubcommandSpec("set-clock", arity: 3, "Pins the server clock to a Unix time in milliseconds, or REAL to release it."),
    ]

    static let specs: [CommandSpec] = [
        CommandSpec("debug", arity: -2, flags: ["admin", "noscript", "loading", "stale", "protected"], group: "server",
                    summary: "A container for debugging commands.", subcommands: subcommands) { invocation, _ throws(CommandError) in
            guard let clock = invocation.server.debugClock, allowed(invocation) else {
                // Redis's text for a protected command that its configuration does not allow.
                throw CommandError(.message(
                    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
                        + "you can run it from a local connection, otherwise you need to set this option in the "
                        + "configuration file, and then restart the server."))
            }
            switch try SubcommandSpec.resolve(&invocation, parent: "debug", in: subcommands) {
            case "SET-CLOCK":
                let argument = try invocation.arguments.next()
                if String(decoding: argument, as: UTF8.self).uppercased() == "REAL" {
                    clock.pin(nil)
                } else {
                    guard let milliseconds = parseInteger(argument), milliseconds >= 0,
                          milliseconds <= Int64.max / 1_000_000
                    else { throw .err("SET-CLOCK takes a Unix time in milliseconds (0 or more) or REAL") }
                    clock.pin(Instant(milliseconds: milliseconds))
                }
                return .ok
            default:
                return .array([
                    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "SET-CLOCK <unix-ms>|REAL",
                    "    Pin the server clock to a Unix time in milliseconds, or follow the real clock again.",
                    "HELP",
                    "    Print this help.",
                ].map(RESPValue.simpleString))
            }
        },
    ]

    /// `local` admits loopback connections only (Unix sockets count as local).
    private static func allowed(_ invocation: Invocation) -> Bool {
        switch invocation.server.configuration.enableDebugCommand {
        case .yes: return true
        case .no: return false
        case .local:
            let address = invocation.client.address
            return address.hasPrefix("127.") || address.hasPrefix("::1") || !address.contains(":")
        }
    }
}
