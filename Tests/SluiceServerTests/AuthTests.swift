import RESP
import SluiceServer
import Testing

@Suite("AUTH, requirepass and HELLO AUTH")
struct AuthTests {
    static let noAuth = "-NOAUTH Authentication required.\r\n"
    static let wrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"

    @Test("without requirepass: AUTH password is an error, AUTH default anything is OK, another user is refused")
    func noPasswordConfigured() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("AUTH", "x") == "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n")
            #expect(try c.command("AUTH", "default", "x") == "+OK\r\n")
            #expect(try c.command("AUTH", "bob", "x") == Self.wrongPass)
            #expect(try c.command("AUTH", "a", "b", "c") == "-ERR syntax error\r\n")
            #expect(try c.command("AUTH") == "-ERR wrong number of arguments for 'auth' command\r\n")
            #expect(try c.command("HELLO", "3", "AUTH", "bob", "x") == Self.wrongPass)
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("RESET leaves MULTI, forgets watched keys, the name and RESP3, and signs the client out when a password is required")
    func reset() async throws {
        try await withServer(configure: { $0.requirePass = "s3cret" }) { server in
            let c = try server.connect()
            #expect(try c.command("RESET") == "+RESET\r\n")
            #expect(try c.command("AUTH", "s3cret") == "+OK\r\n")
            _ = try c.command("HELLO", "3", "SETNAME", "worker")
            #expect(try c.command("WATCH", "w") == "+OK\r\n")
            #expect(try c.command("MULTI") == "+OK\r\n")
            #expect(try c.command("SET", "q", "1") == "+QUEUED\r\n")
            #expect(try c.command("RESET") == "+RESET\r\n")
            #expect(try c.command("PING") == Self.noAuth)
            #expect(try c.command("AUTH", "s3cret") == "+OK\r\n")
            #expect(try c.command("CLIENT", "GETNAME") == "$-1\r\n")
            #expect(try c.command("EXEC") == "-ERR EXEC without MULTI\r\n")
            #expect(try c.command("GET", "q") == "$-1\r\n")
            // Nothing watched any more: a change to w does not fail the next transaction.
            let other = try server.connect()
            _ = try other.command("AUTH", "s3cret")
            _ = try other.command("SET", "w", "changed")
            _ = try c.command("MULTI")
            _ = try c.command("SET", "q", "2")
            #expect(try c.command("EXEC") == "*1\r\n+OK\r\n")
            #expect(try c.command("RESET", "x") == "-ERR wrong number of arguments for 'reset' command\r\n")
        }
    }

    @Test("with requirepass, every command but AUTH, HELLO and QUIT gets NOAUTH until AUTH succeeds")
    func noAuthUntilAuthenticated() async throws {
        try await withServer(configure: { $0.requirePass = "s3cret" }) { server in
            let c = try server.connect()
            #expect(try c.command("PING") == Self.noAuth)
            #expect(try c.command("GET", "k") == Self.noAuth)
            #expect(try c.command("CONFIG", "GET", "requirepass") == Self.noAuth)
            // As in Redis, unknown commands and wrong arity are reported before authentication.
            #expect(try c.command("NOPE") == "-ERR unknown command 'NOPE', with args beginning with: \r\n")
            #expect(try c.command("GET") == "-ERR wrong number of arguments for 'get' command\r\n")
            #expect(try c.command("AUTH", "wrong") == Self.wrongPass)
            #expect(try c.command("AUTH", "s3cre") == Self.wrongPass)
            #expect(try c.command("AUTH", "s3cretx") == Self.wrongPass)
            #expect(try c.command("AUTH", "") == Self.wrongPass)
            #expect(try c.command("PING") == Self.noAuth)
            #expect(try c.command("AUTH", "s3cret") == "+OK\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
            #expect(try c.command("CONFIG", "GET", "requirepass") == "*2\r\n$11\r\nrequirepass\r\n$6\r\ns3cret\r\n")

            let quitter = try server.connect()
            #expect(try quitter.command("QUIT") == "+OK\r\n")
            #expect(try quitter.isClosedByPeer())
        }
    }

    @Test("AUTH default password authenticates; AUTH with another user or a wrong password is WRONGPASS")
    func authWithUser() async throws {
        try await withServer(configure: { $0.requirePass = "pw" }) { server in
            let c = try server.connect()
            #expect(try c.command("AUTH", "bob", "pw") == Self.wrongPass)
            #expect(try c.command("AUTH", "default", "nope") == Self.wrongPass)
            #expect(try c.command("AUTH", "default", "pw") == "+OK\r\n")
            #expect(try c.command("SET", "k", "v") == "+OK\r\n")
        }
    }

    @Test("HELLO needs authentication first or an AUTH option; a wrong one keeps the protocol unchanged")
    func helloAuth() async throws {
        try await withServer(configure: { $0.requirePass = "pw" }) { server in
            let c = try server.connect()
            #expect(try c.command("HELLO", "3") == "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n")
            #expect(try c.command("HELLO", "3", "AUTH", "default", "wrong") == Self.wrongPass)
            #expect(try c.command("PING") == Self.noAuth)
            let reply = try c.call("HELLO", "3", "AUTH", "default", "pw")
            guard case .map(let fields) = reply else {
                Issue.record("HELLO replied \(reply)")
                return
            }
            #expect(fields.contains { $0.key == .bulk("proto") && $0.value == .integer(3) })
            #expect(try c.command("GET", "missing") == "_\r\n")
        }
    }

    @Test("CONFIG SET requirepass applies to new connections; clearing it lets waiting ones in")
    func requirepassAtRunTime() async throws {
        try await withServer { server in
            let admin = try server.connect()
            let early = try server.connect()
            #expect(try early.command("PING") == "+PONG\r\n")
            #expect(try admin.command("CONFIG", "SET", "requirepass", "pw") == "+OK\r\n")
            // Connections open before the change stay authenticated, as in Redis.
            #expect(try early.command("PING") == "+PONG\r\n")
            let late = try server.connect()
            #expect(try late.command("PING") == Self.noAuth)
            #expect(try admin.command("CONFIG", "SET", "requirepass", "") == "+OK\r\n")
            #expect(try late.command("PING") == "+PONG\r\n")
            #expect(try late.command("AUTH", "pw") == "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n")
        }
    }

    @Test("before AUTH, MULTI is NOAUTH and EXEC is EXECABORT naming NOAUTH, as in Redis")
    func noAuthInTransaction() async throws {
        try await withServer(configure: { $0.requirePass = "pw" }) { server in
            let c = try server.connect()
            #expect(try c.command("MULTI") == Self.noAuth)
            #expect(try c.command("EXEC") == "-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n")
        }
    }

    @Test("AUTH, HELLO and QUIT carry Redis's no_auth flag in COMMAND INFO")
    func noAuthFlag() async throws {
        try await withServer { server in
            let c = try server.connect()
            for name in ["auth", "hello", "quit"] {
                guard case .array(let entries) = try c.call("COMMAND", "INFO", name), case .array(let fields)? = entries.first,
                      fields.count > 2, case .array(let flags) = fields[2] else {
                    Issue.record("COMMAND INFO \(name)")
                    continue
                }
                #expect(flags.contains(.simpleString("no_auth")), "\(name)")
            }
        }
    }
}
