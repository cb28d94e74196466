import RESP
import Testing

@Suite("ACQUIRE")
struct SlidingWindowCommandTests {
    @Test("ACQUIRE takes weight under every rate or nothing, replying [acquired, wait_ms, failing index]")
    func acquire() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ACQUIRE", "s", "2", "RATE", "3", "1000", "RATE", "10", "60000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            #expect(try c.command("TYPE", "s") == "+slidingwindow\r\n")
            #expect(try c.command("PTTL", "s") == ":60000\r\n")
            // The window start is inclusive: the 2 units leave 1 ms after stamp + interval.
            #expect(try c.command("ACQUIRE", "s", "2", "RATE", "3", "1000", "RATE", "10", "60000") == "*3\r\n:0\r\n:1001\r\n:0\r\n")
            #expect(try c.command("ACQUIRE", "s", "1", "RATE", "3", "1000", "RATE", "10", "60000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            server.clock.advance(milliseconds: 1000)
            #expect(try c.command("ACQUIRE", "s", "1", "RATE", "3", "1000", "RATE", "10", "60000") == "*3\r\n:0\r\n:1\r\n:0\r\n")
            server.clock.advance(milliseconds: 1)
            #expect(try c.command("ACQUIRE", "s", "3", "RATE", "3", "1000", "RATE", "10", "60000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            #expect(try c.command("PTTL", "s") == ":60000\r\n")
            server.clock.advance(milliseconds: 60_001)
            #expect(try c.command("EXISTS", "s") == ":0\r\n")
        }
    }

    @Test("The failing index counts in the caller's order; weight above the limit waits -1; weight 0 stores nothing")
    func indicesAndWeights() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ACQUIRE", "s", "3", "RATE", "10", "60000", "RATE", "3", "1000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            #expect(try c.command("ACQUIRE", "s", "1", "RATE", "10", "60000", "RATE", "3", "1000") == "*3\r\n:0\r\n:1001\r\n:1\r\n")
            #expect(try c.command("ACQUIRE", "s", "4", "RATE", "10", "60000", "RATE", "3", "1000") == "*3\r\n:0\r\n:-1\r\n:1\r\n")
            #expect(try c.command("ACQUIRE", "z", "0", "RATE", "3", "1000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            #expect(try c.command("EXISTS", "z") == ":0\r\n")
        }
    }

    @Test("WRONGTYPE both ways between ACQUIRE and other values")
    func wrongType() async throws {
        try await withServer { server in
            let c = try server.connect()
            let wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            _ = try c.command("SET", "str", "1")
            #expect(try c.command("ACQUIRE", "str", "1", "RATE", "3", "1000") == wrongType)
            _ = try c.command("ACQUIRE", "s", "1", "RATE", "3", "1000")
            #expect(try c.command("GET", "s") == wrongType)
            #expect(try c.command("CONSUME", "s", "1", "1") == wrongType)
            #expect(try c.command("CL.THROTTLE", "s", "1", "1", "1") == wrongType)
            #expect(try c.command("SCAN", "0", "COUNT", "1000", "TYPE", "slidingwindow") == "*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n")
        }
    }

    @Test("Bad arguments and rate lists pyrate would reject name what is wrong and change nothing")
    func badArguments() async throws {
        try await withServer { server in
            let c = try server.connect()
            let cases: [([String], String)] = [
                (["-1", "RATE", "3", "1000"], "weight must be a non-negative integer"),
                (["x", "RATE", "3", "1000"], "weight must be a non-negative integer"),
                (["1", "RATE", "0", "1000"], "limit of rate 0 must be a positive integer"),
                (["1", "RATE", "x", "1000"], "limit of rate 0 must be a positive integer"),
                (["1", "RATE", "3", "1000", "RATE", "5", "-1"], "interval of rate 1 must be a positive integer"),
                (["1", "RATE", "3", "1000", "RATE", "5"], "RATE needs a limit and an interval in milliseconds"),
                (["1", "PER", "3", "1000"], "unknown option 'PER' for 'acquire' (expected RATE)"),
                (["1", "RATE", "3", "1000", "RATE", "5", "1000"],
                 "rates must have distinct intervals: rate 1 repeats the interval of rate 0"),
                (["1", "RATE", "3", "1000", "RATE", "2", "60000"],
                 "a rate with a longer interval must have a larger limit: rate 1 does not exceed rate 0"),
                (["1", "RATE", "3", "1000", "RATE", "200", "60000"],
                 "a rate with a longer interval must not allow more per millisecond: rate 1 is denser than rate 0"),
            ]
            try c.expectErrors(["ACQUIRE", "s"], cases)
            #expect(try c.command("ACQUIRE", "s", "1", "RATE", "3") == "-ERR wrong number of arguments for 'acquire' command\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
        }
    }

    @Test("A connection's remembered rates answer only for the same words: rates that differ in any word, even with the same bytes split otherwise, are read afresh")
    func rememberedRates() async throws {
        try await withServer { server in
            let c = try server.connect()
            // 5 per 1,100 ms against 51 per 100 ms: the same bytes after RATE, split differently.
            for _ in 0..<5 { #expect(try c.command("ACQUIRE", "a", "1", "RATE", "5", "1100") == "*3\r\n:1\r\n:0\r\n:-1\r\n") }
            #expect(try c.command("ACQUIRE", "a", "1", "RATE", "5", "1100") == "*3\r\n:0\r\n:1101\r\n:0\r\n")
            for _ in 0..<51 { #expect(try c.command("ACQUIRE", "b", "1", "RATE", "51", "100") == "*3\r\n:1\r\n:0\r\n:-1\r\n") }
            #expect(try c.command("ACQUIRE", "b", "1", "RATE", "51", "100") == "*3\r\n:0\r\n:101\r\n:0\r\n")
            // Back to the first rates, then a second rate added, then a bad list after a good one.
            #expect(try c.command("ACQUIRE", "a", "1", "RATE", "5", "1100") == "*3\r\n:0\r\n:1101\r\n:0\r\n")
            #expect(try c.command("ACQUIRE", "a", "1", "RATE", "5", "1100", "RATE", "6", "60000") == "*3\r\n:0\r\n:1101\r\n:0\r\n")
            #expect(try c.command("ACQUIRE", "c", "1", "RATE", "5", "1100", "RATE", "5", "60000")
                == "-ERR a rate with a longer interval must have a larger limit: rate 1 does not exceed rate 0\r\n")
            #expect(try c.command("ACQUIRE", "c", "1", "RATE", "5", "1100", "RATE") == "-ERR RATE needs a limit and an interval in milliseconds\r\n")
            #expect(try c.command("ACQUIRE", "c", "1", "rate", "1", "1100") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            #expect(try c.command("ACQUIRE", "c", "1", "RATE", "1", "1100") == "*3\r\n:0\r\n:1101\r\n:0\r\n")
            // Each connection remembers its own.
            let d = try server.connect()
            #expect(try d.command("ACQUIRE", "b", "1", "RATE", "51", "100") == "*3\r\n:0\r\n:101\r\n:0\r\n")
            #expect(try c.command("ACQUIRE", "b", "1", "RATE", "52", "100") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
        }
    }
}
