import RESP
import SluiceCore
import SluiceServer
import Testing

@Suite("MEMORY")
struct MemoryCommandTests {
    @Test("MEMORY USAGE gives a key's share of used_memory: its entry, a long key's bytes and the value's heap bytes")
    func usage() async throws {
        try await withServer { server in
            let c = try server.connect()
            let long = String(repeating: "k", count: 40)
            #expect(try c.command("CONSUME", "bucket", "5", "1").hasPrefix("*4\r\n:1\r\n"))
            #expect(try c.command("SET", "text", String(repeating: "x", count: 100)) == "+OK\r\n")
            #expect(try c.command("INCR", long) == ":1\r\n")  // an integer: no heap bytes of its own
            #expect(try c.command("MEMORY", "USAGE", "bucket") == ":\(MemoryEstimate.entry)\r\n")
            #expect(try c.command("MEMORY", "usage", "text") == ":\(MemoryEstimate.entry + MemoryEstimate.bytes(100))\r\n")
            #expect(try c.command("MEMORY", "USAGE", long) == ":\(MemoryEstimate.entry + MemoryEstimate.largeKey(40))\r\n")
            // The three add up to INFO's total.
            guard case .bulkString(let info) = try c.call("INFO", "memory") else { throw TestFailure("INFO memory") }
            let total = 3 * MemoryEstimate.entry + MemoryEstimate.bytes(100) + MemoryEstimate.largeKey(40)
            #expect(String(decoding: info, as: UTF8.self).contains("used_memory:\(total)\r\n"))
        }
    }

    @Test("MEMORY USAGE of an absent or expired key is nil; SAMPLES is accepted")
    func absentAndSamples() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("MEMORY", "USAGE", "nothing") == "$-1\r\n")
            #expect(try c.command("SET", "brief", "v", "PX", "100") == "+OK\r\n")
            #expect(try c.command("MEMORY", "USAGE", "brief", "SAMPLES", "5") == ":\(MemoryEstimate.entry + MemoryEstimate.bytes(1))\r\n")
            #expect(try c.command("MEMORY", "USAGE", "brief", "samples", "0") == ":\(MemoryEstimate.entry + MemoryEstimate.bytes(1))\r\n")
            server.clock.advance(milliseconds: 101)
            #expect(try c.command("MEMORY", "USAGE", "brief") == "$-1\r\n")
        }
    }

    @Test("MEMORY errors use Redis's texts, and the connection keeps working")
    func errors() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "v") == "+OK\r\n")
            #expect(try c.command("MEMORY", "USAGE", "k", "SAMPLES", "x") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("MEMORY", "USAGE", "k", "SAMPLES", "-1") == "-ERR syntax error\r\n")
            #expect(try c.command("MEMORY", "USAGE", "k", "FOO") == "-ERR syntax error\r\n")
            #expect(try c.command("MEMORY", "USAGE", "k", "SAMPLES") == "-ERR syntax error\r\n")
            // Options read left to right, as Redis reads them: SAMPLES may repeat.
            #expect(try c.command("MEMORY", "USAGE", "k", "SAMPLES", "5", "SAMPLES", "0").hasPrefix(":"))
            #expect(try c.command("MEMORY", "USAGE", "k", "SAMPLES", "x", "y") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("MEMORY", "USAGE", "k", "SAMPLES", "5", "y") == "-ERR syntax error\r\n")
            #expect(try c.command("MEMORY", "USAGE") == "-ERR wrong number of arguments for 'memory|usage' command\r\n")
            #expect(try c.command("MEMORY", "BOGUS") == "-ERR unknown subcommand 'BOGUS'. Try MEMORY HELP.\r\n")
            #expect(try c.command("MEMORY") == "-ERR wrong number of arguments for 'memory' command\r\n")
            #expect(try c.command("MEMORY", "HELP").hasPrefix("*7\r\n+MEMORY <subcommand>"))
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }
}
