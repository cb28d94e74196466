import RESP
import SluiceServer
import Testing

@Suite("DEBUG")
struct DebugCommandTests {
    @Test("DEBUG is refused with Redis's text unless --enable-debug-command allows it")
    func disabledByDefault() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("DEBUG", "SET-CLOCK", "1")
                == "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("DEBUG SET-CLOCK pins the server clock and REAL releases it")
    func setClock() async throws {
        for access in [DebugCommandAccess.yes, .local] {
            try await withServer(configure: { $0.enableDebugCommand = access }) { server in
                let c = try server.connect()
                #expect(try c.command("DEBUG", "SET-CLOCK", "1800000000500") == "+OK\r\n")
                #expect(try c.command("TIME") == "*2\r\n$10\r\n1800000000\r\n$6\r\n500000\r\n")
                #expect(try c.command("CONSUME", "b", "5", "1") == "*4\r\n:1\r\n:1\r\n$1\r\n1\r\n$-1\r\n")
                server.clock.advance(milliseconds: 5_000)
                #expect(try c.command("PTTL", "b") == ":1000\r\n")
                #expect(try c.command("DEBUG", "set-clock", "real") == "+OK\r\n")
                #expect(try c.command("TIME") == "*2\r\n$10\r\n1700000005\r\n$1\r\n0\r\n")
            }
        }
    }

    @Test("DEBUG SET-CLOCK rejects a time that is not Unix milliseconds; other subcommands are unknown")
    func badArguments() async throws {
        try await withServer(configure: { $0.enableDebugCommand = .yes }) { server in
            let c = try server.connect()
            let message = "-ERR SET-CLOCK takes a Unix time in milliseconds (0 or more) or REAL\r\n"
            #expect(try c.command("DEBUG", "SET-CLOCK", "x") == message)
            #expect(try c.command("DEBUG", "SET-CLOCK", "-1") == message)
            #expect(try c.command("DEBUG", "SET-CLOCK", "9223372036854775807") == message)
            #expect(try c.command("DEBUG", "SET-CLOCK") == "-ERR wrong number of arguments for 'debug|set-clock' command\r\n")
            #expect(try c.command("DEBUG", "SLEEP", "0") == "-ERR unknown subcommand 'SLEEP'. Try DEBUG HELP.\r\n")
            #expect(try c.command("DEBUG", "HELP").hasPrefix("*5\r\n"))
        }
    }
}
