import RESP
import SluiceServer
import Testing

@Suite("SLOWLOG")
struct SlowlogTests {
    /// A server that logs every command (threshold 0), as Redis's tests do.
    func withSlowlog<T>(maxLength: Int = 128, _ body: (TestServer) async throws -> T) async throws -> T {
        try await withServer(configure: {
            $0.slowlogSlowerThanMicroseconds = 0
            $0.slowlogMaxLength = maxLength
        }, body)
    }

    func bulks(_ words: [String]) -> RESPValue { .array(words.map { .bulk($0) }) }

    /// An entry's fields, with the measured duration checked and replaced by 0.
    func entries(_ reply: RESPValue, sourceLocation: SourceLocation = #_sourceLocation) -> [[RESPValue]] {
        guard case .array(let entries) = reply else {
            Issue.record("not an array: \(reply)", sourceLocation: sourceLocation)
            return []
        }
        return entries.map { entry in
            guard case .array(var fields) = entry, fields.count == 6, case .integer(let micros) = fields[2], micros >= 0 else {
                Issue.record("not a six-field entry: \(entry)", sourceLocation: sourceLocation)
                return []
            }
            fields[2] = .integer(0)
            return fields
        }
    }

    @Test("an entry has id, unix time, microseconds, arguments, client address and name; newest first")
    func entryShape() async throws {
        try await withSlowlog { server in
            let c = try server.connect()
            #expect(try c.command("SLOWLOG", "RESET") == "+OK\r\n")
            #expect(try c.command("CLIENT", "SETNAME", "me") == "+OK\r\n")
            server.clock.advance(milliseconds: 5_000)
            #expect(try c.command("SET", "k", "v") == "+OK\r\n")
            let got = entries(try c.call("SLOWLOG", "GET", "2"))
            #expect(got.count == 2)
            #expect(got.first?[0] == .integer(2))
            #expect(got.first?[1] == .integer(1_700_000_005))
            #expect(got.first?[3] == bulks(["SET", "k", "v"]))
            if case .bulkString(let address) = got.first?[4] {
                #expect(String(decoding: address, as: UTF8.self).hasPrefix("127.0.0.1:"))
            } else {
                Issue.record("no address")
            }
            #expect(got.first?[5] == .bulk("me"))
            #expect(got.last?[3] == bulks(["CLIENT", "SETNAME", "me"]))
            #expect(got.last?[5] == .bulk("me"))  // as in Redis: the name once the command ran
            #expect(got.last?[1] == .integer(1_700_000_000))
        }
    }

    @Test("arguments are kept as Redis keeps them: 32 at most, 128 bytes each, secrets redacted")
    func truncation() async throws {
        try await withSlowlog { server in
            let c = try server.connect()
            #expect(try c.command(["RPUSH", "l"] + (1...40).map(String.init)) == ":40\r\n")
            let long = "y" + String(repeating: "x", count: 129)
            #expect(try c.command("SET", "k", long) == "+OK\r\n")
            #expect(try c.command("AUTH", "default", "guess") == "+OK\r\n")  // no password set: any is taken
            #expect(try c.command("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n").hasPrefix("*"))
            #expect(try c.command("CONFIG", "SET", "maxclients", "100", "requirepass", "s3cret") == "+OK\r\n")
            let got = entries(try c.call("SLOWLOG", "GET", "5")).map { $0.count == 6 ? $0[3] : .null }
            #expect(got[0] == bulks(["CONFIG", "SET", "maxclients", "100", "requirepass", "(redacted)"]))
            #expect(got[1] == bulks(["HELLO", "2", "AUTH", "(redacted)", "(redacted)", "SETNAME", "n"]))
            #expect(got[2] == bulks(["AUTH", "(redacted)", "(redacted)"]))
            #expect(got[3] == bulks(["SET", "k", "y" + String(repeating: "x", count: 127) + "... (2 more bytes)"]))
            #expect(got[4] == bulks(["RPUSH", "l"] + (1...29).map(String.init) + ["... (11 more arguments)"]))
        }
    }

    @Test("LEN counts entries, RESET clears them, slowlog-max-len keeps the newest, GET -1 returns all")
    func lengthAndReset() async throws {
        try await withSlowlog(maxLength: 3) { server in
            let c = try server.connect()
            for index in 0..<5 { #expect(try c.command("SET", "k\(index)", "v") == "+OK\r\n") }
            #expect(try c.command("SLOWLOG", "LEN") == ":3\r\n")
            let all = entries(try c.call("SLOWLOG", "GET", "-1"))
            #expect(all.map { $0.first } == [.integer(5), .integer(4), .integer(3)])
            #expect(entries(try c.call("SLOWLOG", "GET")).count == 3)
            #expect(try c.command("SLOWLOG", "GET", "0") == "*0\r\n")
            #expect(try c.command("SLOWLOG", "RESET") == "+OK\r\n")
            // The RESET itself is logged once it has run, as in Redis.
            #expect(try c.command("SLOWLOG", "LEN") == ":1\r\n")
            #expect(try c.command("CONFIG", "SET", "slowlog-log-slower-than", "-1") == "+OK\r\n")
            #expect(try c.command("SLOWLOG", "RESET") == "+OK\r\n")
            #expect(try c.command("GET", "k1") == "$1\r\nv\r\n")
            #expect(try c.command("SLOWLOG", "LEN") == ":0\r\n")
        }
    }

    @Test("commands of one read burst are charged the same share")
    func burstShare() async throws {
        try await withSlowlog { server in
            let c = try server.connect()
            // One key: with shards, each run of commands on one shard gets a share of its own.
            try c.send("SET a 1\r\nSET a 2\r\nSET a 3\r\n")
            for _ in 0..<3 { #expect(try c.readRaw() == "+OK\r\n") }
            guard case .array(let got) = try c.call("SLOWLOG", "GET", "3") else { throw TestFailure("no array") }
            let durations = got.map { entry -> RESPValue in
                if case .array(let fields) = entry { return fields[2] }
                return .null
            }
            #expect(Set(durations.map { RESPValueWrapper(value: $0) }).count == 1)
        }
    }

    @Test("SLOWLOG errors use Redis's wording")
    func errors() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SLOWLOG", "GET", "x") == "-ERR count should be greater than or equal to -1\r\n")
            #expect(try c.command("SLOWLOG", "GET", "-2") == "-ERR count should be greater than or equal to -1\r\n")
            #expect(try c.command("SLOWLOG", "get", "1", "2")
                == "-ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.\r\n")
            #expect(try c.command("SLOWLOG", "LEN", "x") == "-ERR wrong number of arguments for 'slowlog|len' command\r\n")
            #expect(try c.command("SLOWLOG", "FOO") == "-ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.\r\n")
            #expect(try c.command("SLOWLOG") == "-ERR wrong number of arguments for 'slowlog' command\r\n")
            #expect(try c.call("SLOWLOG", "HELP") == .array([
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help.",
            ].map { .simpleString($0) }))
            #expect(try c.command("CONFIG", "GET", "slowlog-*")
                == "*4\r\n$23\r\nslowlog-log-slower-than\r\n$5\r\n10000\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n")
            #expect(try c.command("CONFIG", "SET", "slowlog-max-len", "-1")
                == "-ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - argument must be between 0 and 9223372036854775807 inclusive\r\n")
        }
    }
}
