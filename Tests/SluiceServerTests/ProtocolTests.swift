import Testing
import SluiceServer

@Suite("Protocol over real sockets")
struct ProtocolTests {
    @Test("an inline PING as telnet sends it gets +PONG")
    func inlinePing() async throws {
        try await withServer { server in
            let connection = try server.connect()
            #expect(try connection.roundTrip("PING\r\n") == "+PONG\r\n")
            #expect(try connection.roundTrip("ECHO \"two words\"\n") == "$9\r\ntwo words\r\n")
        }
    }

    @Test("a command split into one-byte writes is answered once complete")
    func byteAtATime() async throws {
        try await withServer { server in
            let connection = try server.connect()
            for byte in Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n".utf8) {
                try connection.send([byte])
            }
            #expect(try connection.readRaw() == "+OK\r\n")
            #expect(try connection.command("GET", "k") == "$5\r\nhello\r\n")
        }
    }

    @Test("1,000 pipelined commands in one write are all answered in order")
    func pipelining() async throws {
        try await withServer { server in
            let connection = try server.connect()
            var batch = ""
            for i in 0..<1_000 { batch += "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n" + (i % 100 == 0 ? "PING\r\n" : "") }
            try connection.send(batch)
            for i in 1...1_000 {
                #expect(try connection.readRaw() == ":\(i)\r\n")
                if (i - 1) % 100 == 0 { #expect(try connection.readRaw() == "+PONG\r\n") }
            }
        }
    }

    /// The keys of a pipelined burst are hashed ahead of their commands; each command must
    /// still find its own key, whatever sits between them.
    @Test("a pipeline of 300 commands on distinct keys, mixed with keyless ones, answers each from its own key")
    func pipelinedDistinctKeys() async throws {
        try await withServer { server in
            let connection = try server.connect()
            var sets = ""
            for i in 0..<100 { sets += "*3\r\n$3\r\nSET\r\n$\(String(i).count + 4)\r\nkey:\(i)\r\n$\(String(i).count)\r\n\(i)\r\n" }
            try connection.send(sets)
            for _ in 0..<100 { #expect(try connection.readRaw() == "+OK\r\n") }
            var batch = ""
            for i in 0..<100 {
                let key = "key:\(i)"
                batch += "*2\r\n$3\r\nGET\r\n$\(key.utf8.count)\r\n\(key)\r\n"
                batch += i % 3 == 0 ? "PING\r\n" : "*2\r\n$4\r\nINCR\r\n$\(key.utf8.count)\r\n\(key)\r\n"
                batch += "*2\r\n$6\r\nEXISTS\r\n$\(key.utf8.count + 1)\r\n\(key)x\r\n"
            }
            try connection.send(batch)
            for i in 0..<100 {
                #expect(try connection.readRaw() == "$\(String(i).count)\r\n\(i)\r\n")
                #expect(try connection.readRaw() == (i % 3 == 0 ? "+PONG\r\n" : ":\(i + 1)\r\n"))
                #expect(try connection.readRaw() == ":0\r\n")
            }
        }
    }

    @Test("a malformed frame gets a protocol error and closes only its own connection", arguments: [
        ("*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        ("*1\r\n$blabla\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        ("*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"),
        ("*1\r\n$4\r\nPINGXX", "-ERR Protocol error: expected CRLF after bulk data\r\n"),
        ("ECHO \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"),
    ])
    func malformedClosesOnlyItsConnection(input: String, expected: String) async throws {
        try await withServer { server in
            let bystander = try server.connect()
            #expect(try bystander.command("SET", "k", "v") == "+OK\r\n")
            let offender = try server.connect()
            #expect(try offender.roundTrip(input) == expected)
            #expect(try offender.isClosedByPeer())
            #expect(try bystander.command("GET", "k") == "$1\r\nv\r\n")
            #expect(try server.connect().roundTrip("PING\r\n") == "+PONG\r\n")
        }
    }

    @Test("commands before a malformed frame in the same write are answered first")
    func answersBeforeProtocolError() async throws {
        try await withServer { server in
            let connection = try server.connect()
            try connection.send("PING\r\n*1\r\n$x\r\n")
            #expect(try connection.readRaw() == "+PONG\r\n")
            #expect(try connection.readRaw() == "-ERR Protocol error: invalid bulk length\r\n")
            #expect(try connection.isClosedByPeer())
        }
    }

    @Test("a bulk longer than the configured limit is a protocol error")
    func bulkLimit() async throws {
        try await withServer(configure: { $0.maxBulkLength = 1024 }) { server in
            let connection = try server.connect()
            #expect(try connection.roundTrip("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n") == "-ERR Protocol error: invalid bulk length\r\n")
            #expect(try connection.isClosedByPeer())
        }
    }

    @Test("an inline request over 64 KiB without a newline is a protocol error")
    func inlineLimit() async throws {
        try await withServer { server in
            let connection = try server.connect()
            try connection.send(String(repeating: "a", count: 70_000))
            #expect(try connection.readRaw() == "-ERR Protocol error: too big inline request\r\n")
            #expect(try connection.isClosedByPeer())
        }
    }

    @Test("a 1 MiB value survives many partial reads intact")
    func largeValue() async throws {
        try await withServer { server in
            let connection = try server.connect()
            let value = String(repeating: "x", count: 1 << 20)
            #expect(try connection.command("SET", "big", value) == "+OK\r\n")
            #expect(try connection.command("GET", "big") == "$1048576\r\n\(value)\r\n")
        }
    }

    @Test("HELLO 3 switches the connection to RESP3 and replies with the server map")
    func hello3() async throws {
        try await withServer { server in
            let connection = try server.connect()
            let reply = try connection.command("HELLO", "3")
            #expect(reply.hasPrefix("%7\r\n$6\r\nserver\r\n$6\r\nsluice\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"))
            #expect(reply.hasSuffix("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"))
            #expect(try connection.command("GET", "missing") == "_\r\n")
            #expect(try connection.command("HELLO", "2").hasPrefix("*14\r\n"))
            #expect(try connection.command("GET", "missing") == "$-1\r\n")
        }
    }

    @Test("HELLO in the middle of a pipelined burst changes the replies after it, not those before")
    func helloInBurst() async throws {
        try await withServer { server in
            let connection = try server.connect()
            // One write: the server runs all five commands as one burst and writes their
            // replies once its lock is released.
            try connection.send("GET missing\r\nHELLO 3\r\nGET missing\r\nHELLO 2\r\nGET missing\r\n")
            #expect(try connection.readRaw() == "$-1\r\n")
            #expect(try connection.readRaw().hasPrefix("%7\r\n$6\r\nserver\r\n"))
            #expect(try connection.readRaw() == "_\r\n")
            #expect(try connection.readRaw().hasPrefix("*14\r\n$6\r\nserver\r\n"))
            #expect(try connection.readRaw() == "$-1\r\n")
        }
    }

    @Test("HELLO rejects unknown protocol versions and keeps the connection")
    func helloErrors() async throws {
        try await withServer { server in
            let connection = try server.connect()
            #expect(try connection.command("HELLO", "4") == "-NOPROTO unsupported protocol version\r\n")
            #expect(try connection.command("HELLO", "x") == "-ERR Protocol version is not an integer or out of range\r\n")
            #expect(try connection.command("HELLO", "3", "SETNAME") == "-ERR Syntax error in HELLO option 'SETNAME'\r\n")
            #expect(try connection.command("HELLO", "3", "Foo", "bar") == "-ERR Syntax error in HELLO option 'Foo'\r\n")
            #expect(try connection.command("PING") == "+PONG\r\n")
            #expect(try connection.command("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app").hasPrefix("%7\r\n"))
            #expect(try connection.command("CLIENT", "GETNAME") == "$3\r\napp\r\n")
        }
    }

    @Test("QUIT replies OK and closes the connection")
    func quit() async throws {
        try await withServer { server in
            let connection = try server.connect()
            #expect(try connection.command("QUIT") == "+OK\r\n")
            #expect(try connection.isClosedByPeer())
        }
    }

    @Test("with two event-loop threads, commands from concurrent connections are each applied once")
    func twoThreads() async throws {
        try await withServer(configure: { $0.threads = 2 }) { server in
            let port = server.port
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        // Several connections per task, so both event loops get some.
                        let connections = try (0..<3).map { _ in try RawConnection(port: port) }
                        var batch = ""
                        for _ in 0..<500 { batch += "*2\r\n$4\r\nINCR\r\n$6\r\nshared\r\n" }
                        for connection in connections { try connection.send(batch) }
                        for connection in connections {
                            for _ in 0..<500 { _ = try connection.readRaw() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try server.connect().command("GET", "shared") == "$4\r\n3000\r\n")
        }
    }
}
