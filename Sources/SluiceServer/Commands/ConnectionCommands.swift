import RESP
import SluiceCore

/// PING, ECHO, HELLO, QUIT, SELECT and CLIENT: commands about the connection itself.
enum ConnectionCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: ["fast", "stale"], group: "connection",
                    summary: "Returns the server's liveliness response.") { invocation, _ throws(CommandError) in
            if invocation.arguments.remaining > 1 { throw CommandError(.wrongArity(command: "ping")) }
            if invocation.arguments.isEmpty { return .simpleString("PONG") }
            return .bulkString(try invocation.arguments.next())
        },
        CommandSpec("echo", arity: 2, flags: ["fast"], group: "connection",
                    summary: "Returns the given string.") { invocation, _ throws(CommandError) in
            .bulkString(try invocation.arguments.next())
        },
        CommandSpec("quit", arity: -1, flags: ["noscript", "fast", "no_auth"], group: "connection",
                    summary: "Closes the connection.") { invocation, _ throws(CommandError) in
            invocation.client.closeAfterReply = true
            return .ok
        },
        CommandSpec("reset", arity: 1, flags: ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], group: "connection",
                    summary: "Resets the connection.", since: "6.2.0") { invocation, state throws(CommandError) in
            // Redis's clearClientConnectionState, for the state a connection has here:
            // out of MULTI, nothing watched, RESP2, no name, and signed out when a
            // password is required.
            let client = invocation.client
            if case .discarded(let watched) = client.transaction.discard() {
                TransactionCommands.release(watched, from: &state.keyspace)
            }
            TransactionCommands.release(client.transaction.takeWatched(), from: &state.keyspace)
            client.protocolVersion = .resp2
            client.name = nil
            client.authenticated = !invocation.server.settings.passwordRequired
            return .simpleString("RESET")
        },
        CommandSpec("select", arity: 2, flags: ["fast"], group: "connection",
                    summary: "Changes the selected database; Sluice has only database 0.") { invocation, _ throws(CommandError) in
            let index = try invocation.arguments.nextInteger()
            // Redis reads the index as a C int first.
            guard Int32(exactly: index) != nil else {
                throw .err("value is out of range, value must between -2147483648 and 2147483647")
            }
            guard index == 0 else { throw .err("DB index is out of range") }
            return .ok
        },
        CommandSpec("hello", arity: -1, flags: ["noscript", "fast", "no_auth"], group: "connection", summary: "Handshakes with the server.",
                    since: "6.0.0", handler: hello),
        CommandSpec("client", arity: -2, flags: ["noscript"], group: "connection", summary: "A container for client connection commands.",
                    since: "2.4.0", subcommands: clientSubcommands, handler: client),
    ]

    static func hello(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        var version = invocation.client.protocolVersion
        var newName: [UInt8]?
        var credentials: (user: [UInt8], password: [UInt8])?
        if !invocation.arguments.isEmpty {
            guard let requested = parseInteger(try invocation.arguments.next()) else {
                throw .err("Protocol version is not an integer or out of range")
            }
            guard let chosen = RESPVersion(rawValue: Int(clamping: requested)) else {
                throw CommandError(.message("NOPROTO unsupported protocol version"))
            }
            version = chosen
            while !invocation.arguments.isEmpty {
                // The error quotes the option as sent, as Redis does.
                let sent = invocation.arguments[invocation.arguments.position]
                let option = try invocation.arguments.nextKeyword()
                switch option {
                case "AUTH" where invocation.arguments.remaining >= 2:
                    credentials = (try invocation.arguments.next(), try invocation.arguments.next())
                case "SETNAME" where invocation.arguments.remaining >= 1:
                    let name = try invocation.arguments.next()
                    try validateClientName(name)
                    newName = name
                default:
                    throw .err("Syntax error in HELLO option '\(String(decoding: sent, as: UTF8.self))'")
                }
            }
        }
        if let credentials { try AuthCommands.authenticate(user: credentials.user, password: credentials.password, invocation) }
        guard invocation.client.authenticated || !invocation.server.settings.passwordRequired else {
            throw CommandError(.message("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
        }
        invocation.client.protocolVersion = version
        if let newName { invocation.client.name = newName.isEmpty ? nil : newName }
        return .map([
            RESPPair(.bulk("server"), .bulk("sluice")),
            RESPPair(.bulk("version"), .bulk(ServerContext.redisCompatibilityVersion)),
            RESPPair(.bulk("proto"), .integer(Int64(version.rawValue))),
            RESPPair(.bulk("id"), .integer(invocation.client.id)),
            RESPPair(.bulk("mode"), .bulk("standalone")),
            RESPPair(.bulk("role"), .bulk("master")),
            RESPPair(.bulk("modules"), .array([])),
        ])
    }

    static let clientSubcommands = [
        SubcommandSpec("id", arity: 2, "Returns the unique client ID of the connection."),
        SubcommandSpec("setname", arity: 3, "Sets the connection name."),
        SubcommandSpec("getname", arity: 2, "Returns the name of the connection."),
        SubcommandSpec("info", arity: 2, "Returns information about the connection."),
        SubcommandSpec("list", arity: -2, "Lists open connections."),
        SubcommandSpec("setinfo", arity: 4, "Sets information specific to the client or connection."),
        SubcommandSpec("unblock", arity: -3, "Unblocks a client blocked by a blocking command from a different connection."),
        SubcommandSpec.help,
    ]

    static func client(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        let sub = try SubcommandSpec.resolve(&invocation, parent: "client", in: clientSubcommands)
        let client = invocation.client
        switch sub {
        case "ID":
            return .integer(client.id)
        case "HELP":
            return SubcommandSpec.helpReply(parent: "client", clientSubcommands)
        case "GETNAME":
            return client.name.map { .bulkString($0) } ?? .null
        case "SETNAME":
            let name = try invocation.arguments.next()
            try validateClientName(name)
            client.name = name.isEmpty ? nil : name
            return .ok
        case "INFO":
            return .verbatimString(format: "txt", text: Array((client.infoLine(now: invocation.now) + "\n").utf8))
        case "UNBLOCK":
            return try BlockingCommands.clientUnblock(&invocation, &state)
        case "LIST":
            // As Redis: `TYPE t` (every client here is a normal one), or `ID id...` listed
            // in the order given, an unknown id skipped.
            // Nil lists every client; sorted only then, after the options are read.
            var listed: [Client]?
            let remaining = invocation.arguments.remaining
            let option = invocation.arguments.peekKeyword()
            if remaining == 2, option == "TYPE" {
                _ = try invocation.arguments.next()
                let type = try invocation.arguments.next()
                switch String(decoding: type, as: UTF8.self).lowercased() {
                case "normal": listed = nil
                case "master", "slave", "replica", "pubsub": listed = []
                default: throw .err("Unknown client type '\(String(decoding: type, as: UTF8.self))'")
                }
            } else if remaining > 1, option == "ID" {
                var found: [Client] = []
                for raw in invocation.arguments.rest().dropFirst() {
                    guard let id = parseInteger(raw) else { throw .err("Invalid client ID") }
                    if let match = state.clients[id] { found.append(match) }
                }
                listed = found
            } else if remaining != 0 {
                throw .syntax
            }
            let lines = (listed ?? state.clients.values.sorted { $0.id < $1.id }).map { $0.infoLine(now: invocation.now) + "\n" }
            return .verbatimString(format: "txt", text: Array(lines.joined().utf8))
        default:  // SETINFO
            let attribute = try invocation.arguments.nextKeyword()
            let value = try invocation.arguments.next()
            guard value.allSatisfy({ $0 > 32 && $0 < 127 }) else {
                throw .err("\(attribute) cannot contain spaces, newlines or special characters.")
            }
            switch attribute {
            case "LIB-NAME": client.libraryName = String(decoding: value, as: UTF8.self)
            case "LIB-VER": client.libraryVersion = String(decoding: value, as: UTF8.self)
            default: throw .err("Unrecognized option '\(String(decoding: invocation.arguments[2], as: UTF8.self))'")
            }
            return .ok
        }
    }

    private static func validateClientName(_ name: [UInt8]) throws(CommandError) {
        // Names show up in CLIENT LIST lines, so they must not break them.
        guard name.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .err("Client names cannot contain spaces, newlines or special characters.")
        }
    }
}
