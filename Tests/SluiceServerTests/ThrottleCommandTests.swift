import RESP
import Testing

@Suite("CL.THROTTLE")
struct ThrottleCommandTests {
    @Test("A burst of max_burst + 1 passes, then requests are limited with exact retry and reset seconds")
    func burstThenLimited() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CL.THROTTLE", "t", "1", "1", "1") == "*5\r\n:0\r\n:2\r\n:1\r\n:-1\r\n:1\r\n")
            #expect(try c.command("CL.THROTTLE", "t", "1", "1", "1") == "*5\r\n:0\r\n:2\r\n:0\r\n:-1\r\n:2\r\n")
            // Whole seconds are not bumped by one (Dragonfly #1008/#8288).
            #expect(try c.command("CL.THROTTLE", "t", "1", "1", "1") == "*5\r\n:1\r\n:2\r\n:0\r\n:1\r\n:2\r\n")
            #expect(try c.command("PTTL", "t") == ":2000\r\n")
            #expect(try c.command("GET", "t") == "$19\r\n1700000002000000000\r\n")
            server.clock.advance(nanoseconds: 1_000_400_000)
            #expect(try c.command("CL.THROTTLE", "t", "1", "1", "1") == "*5\r\n:0\r\n:2\r\n:0\r\n:-1\r\n:2\r\n")
            // 999.6 ms to wait rounds up to 1 s.
            #expect(try c.command("CL.THROTTLE", "t", "1", "1", "1") == "*5\r\n:1\r\n:2\r\n:0\r\n:1\r\n:2\r\n")
        }
    }

    @Test("redis-cell's README example: 15 burst, 30 per 60 s")
    func readmeExample() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CL.THROTTLE", "user123", "15", "30", "60", "1") == "*5\r\n:0\r\n:16\r\n:15\r\n:-1\r\n:2\r\n")
            #expect(try c.call("HELLO", "3") != .null)
            #expect(try c.command("CL.THROTTLE", "user123", "15", "30", "60") == "*5\r\n:0\r\n:16\r\n:14\r\n:-1\r\n:4\r\n")
        }
    }

    @Test("Quantity 0 peeks; a quantity above the limit can never pass")
    func quantities() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CL.THROTTLE", "t", "2", "1", "1", "0") == "*5\r\n:0\r\n:3\r\n:3\r\n:-1\r\n:0\r\n")
            #expect(try c.command("EXISTS", "t") == ":0\r\n")
            #expect(try c.command("CL.THROTTLE", "t", "2", "1", "1", "4") == "*5\r\n:1\r\n:3\r\n:3\r\n:-1\r\n:0\r\n")
            #expect(try c.command("CL.THROTTLE", "t", "2", "1", "1", "3") == "*5\r\n:0\r\n:3\r\n:0\r\n:-1\r\n:3\r\n")
        }
    }

    @Test("A fractional period works: 10 per 0.1 s gives a 10 ms key")
    func fractionalPeriod() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CL.THROTTLE", "f", "0", "10", "0.1") == "*5\r\n:0\r\n:1\r\n:0\r\n:-1\r\n:1\r\n")
            #expect(try c.command("PTTL", "f") == ":10\r\n")
            #expect(try c.command("CL.THROTTLE", "f", "0", "10", "0.1") == "*5\r\n:1\r\n:1\r\n:0\r\n:1\r\n:1\r\n")
            server.clock.advance(milliseconds: 11)
            #expect(try c.command("EXISTS", "f") == ":0\r\n")
            #expect(try c.command("CL.THROTTLE", "f", "0", "10", "0.1")  == "*5\r\n:0\r\n:1\r\n:0\r\n:-1\r\n:1\r\n")
        }
    }

    @Test("WRONGTYPE on a leaky bucket; a non-integer string is Redis's integer error")
    func wrongType() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("CONSUME", "b", "5", "1")
            _ = try c.command("SET", "s", "abc")
            #expect(try c.command("CL.THROTTLE", "b", "1", "1", "1")
                == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("CL.THROTTLE", "s", "1", "1", "1") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("Bad arguments name the argument and change nothing")
    func badArguments() async throws {
        try await withServer { server in
            let c = try server.connect()
            let cases: [([String], String)] = [
                (["-1", "1", "1"], "max_burst must be a non-negative integer"),
                (["x", "1", "1"], "max_burst must be a non-negative integer"),
                (["1", "0", "1"], "Zero rates are not supported"),
                (["1", "-1", "1"], "count_per_period must be a positive integer"),
                (["1", "x", "1"], "count_per_period must be a positive integer"),
                (["1", "1", "0"], "Zero rates are not supported"),
                (["1", "1", "-1"], "period must be a positive number"),
                (["1", "1", "nan"], "period must be a positive number"),
                (["1", "1", "inf"], "period must be a positive number"),
                (["1", "1", "x"], "period must be a positive number"),
                (["1", "1", "2e9"], "period must be at most 1000000000 seconds"),
                (["1", "1", "1", "-1"], "quantity must be a non-negative integer"),
                (["1", "1", "1", "x"], "quantity must be a non-negative integer"),
                (["9223372036854775807", "1", "1"], "max_burst is out of range for this rate"),
            ]
            try c.expectErrors(["CL.THROTTLE", "t"], cases)
            #expect(try c.command("CL.THROTTLE", "t", "1", "1", "1", "1", "1")
                == "-ERR wrong number of arguments for 'cl.throttle' command\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
        }
    }
}
