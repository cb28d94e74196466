import RESP

/// AUTH, and the password rules `HELLO AUTH` and the dispatcher share. Sluice has one
/// user, `default`, whose password is `requirepass`; without one it takes any password.
enum AuthCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("auth", arity: -2, flags: ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], group: "connection",
                    summary: "Authenticates the connection.", since: "1.0.0", handler: auth),
    ]

    static let noAuth = CommandError(.message("NOAUTH Authentication required."))
    static let wrongPass = CommandError(.message("WRONGPASS invalid username-password pair or user is disabled."))

    /// AUTH [username] password
    private static func auth(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        guard invocation.arguments.remaining <= 2 else { throw .syntax }
        if invocation.arguments.remaining == 1 {
            let password = try invocation.arguments.next()
            guard invocation.server.settings.passwordRequired else {
                throw .err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            }
            try authenticate(user: Array("default".utf8), password: password, invocation)
        } else {
            let user = try invocation.arguments.next()
            try authenticate(user: user, password: try invocation.arguments.next(), invocation)
        }
        return .ok
    }

    /// Marks the client authenticated, or throws `WRONGPASS`.
    static func authenticate(user: [UInt8], password: [UInt8], _ invocation: Invocation) throws(CommandError) {
        let accepted = invocation.server.settings.requirePass.withLock { expected in
            // Evaluate the comparison even for a wrong user name, so timing tells nothing.
            let matches = expected.map { constantTimeEquals(password, $0) } ?? true
            return matches && user == Array("default".utf8)
        }
        guard accepted else {
            invocation.server.authFailures.record(
                client: invocation.client.address, user: String(decoding: user.prefix(64), as: UTF8.self),
                now: invocation.now, logger: invocation.server.logger)
            throw wrongPass
        }
        invocation.client.authenticated = true
    }

    /// The error for a command from a client that has not authenticated, or nil when it may run.
    static func refusal(_ spec: CommandSpec, context: ServerContext) -> CommandError? {
        guard context.settings.passwordRequired, !spec.flags.contains("no_auth") else { return nil }
        return noAuth
    }

    /// Whether two byte strings are equal, in a time that depends only on the candidate's
    /// length, never on where the first difference is or on the secret's length.
    static func constantTimeEquals(_ candidate: [UInt8], _ secret: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: candidate.count ^ secret.count)
        guard !secret.isEmpty else { return candidate.isEmpty }
        for index in candidate.indices {
            difference |= UInt(candidate[index] ^ secret[index % secret.count])
        }
        return difference == 0
    }
}
