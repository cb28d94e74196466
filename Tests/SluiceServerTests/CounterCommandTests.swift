import RESP
import Testing

@Suite("ADD, bounded INCR/DECR and INCR_AND_SUM")
struct CounterCommandTests {
    @Test("ADD sets the value and TTL only when the key is absent")
    func add() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ADD", "k", "5", "1000") == ":1\r\n")
            #expect(try c.command("ADD", "k", "6", "2000") == ":0\r\n")
            #expect(try c.command("GET", "k") == "$1\r\n5\r\n")
            #expect(try c.command("PTTL", "k") == ":1000\r\n")
            // As a key SET with PX 1000 in Redis: there through its deadline's millisecond.
            server.clock.advance(milliseconds: 1000)
            #expect(try c.command("ADD", "k", "6", "2000") == ":0\r\n")
            server.clock.advance(milliseconds: 1)
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
            #expect(try c.command("ADD", "k", "6", "2000") == ":1\r\n")
        }
    }

    @Test("INCR key amount maximum ttl adds up to the maximum and resets the TTL on success only")
    func boundedIncr() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("INCR", "c", "2", "3", "1000") == ":1\r\n")
            server.clock.advance(milliseconds: 400)
            #expect(try c.command("INCR", "c", "2", "3", "1000") == ":0\r\n")
            #expect(try c.command("PTTL", "c") == ":600\r\n")
            #expect(try c.command("INCR", "c", "1", "3", "1000") == ":1\r\n")
            #expect(try c.command("PTTL", "c") == ":1000\r\n")
            #expect(try c.command("GET", "c") == "$1\r\n3\r\n")
            server.clock.advance(milliseconds: 1001)
            #expect(try c.command("EXISTS", "c") == ":0\r\n")
        }
    }

    @Test("DECR key amount minimum ttl subtracts down to the minimum; absent counts as 0")
    func boundedDecr() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("DECR", "d", "1", "-1", "500") == ":1\r\n")
            #expect(try c.command("DECR", "d", "1", "-1", "500") == ":0\r\n")
            #expect(try c.command("GET", "d") == "$2\r\n-1\r\n")
            #expect(try c.command("PTTL", "d") == ":500\r\n")
        }
    }

    @Test("INCR_AND_SUM refuses when the key or the sum of the listed keys would pass the maximum")
    func incrAndSum() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "w0", "2")
            #expect(try c.command("INCR_AND_SUM", "w1", "1", "3", "1000", "w0", "w1") == ":1\r\n")
            #expect(try c.command("INCR_AND_SUM", "w1", "1", "3", "1000", "w0", "w1") == ":0\r\n")
            #expect(try c.command("GET", "w1") == "$1\r\n1\r\n")
            #expect(try c.command("INCR_AND_SUM", "w1", "1", "3", "1000", "missing") == ":1\r\n")
            #expect(try c.command("INCR_AND_SUM", "w1", "2", "3", "1000", "missing") == ":0\r\n")
            #expect(try c.command("GET", "w1") == "$1\r\n2\r\n")
        }
    }

    @Test("ADD, bounded INCR and INCR_AND_SUM in one burst each read their own keys")
    func pipelinedKeys() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["ADD", "a", "3", "1000"], ["ADD", "a", "4", "1000"], ["INCR", "c", "2", "5", "1000"],
                ["INCR_AND_SUM", "w", "1", "6", "1000", "a", "c", "w"], ["INCR_AND_SUM", "w", "1", "6", "1000", "a", "c", "w"],
                ["MGET", "a", "c", "w"],
            ])
            #expect(replies == [":1\r\n", ":0\r\n", ":1\r\n", ":1\r\n", ":0\r\n", "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n"])
        }
    }

    @Test("INCR_AND_SUM reports the key's error first, then the summed keys' in argument order")
    func incrAndSumErrorOrder() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "abc")
            _ = try c.command("CONSUME", "b", "5", "1")
            let notInteger = "-ERR value is not an integer or out of range\r\n"
            let wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            #expect(try c.command("INCR_AND_SUM", "s", "1", "5", "1000", "b") == notInteger)
            #expect(try c.command("INCR_AND_SUM", "b", "1", "5", "1000", "s") == wrongType)
            #expect(try c.command("INCR_AND_SUM", "k", "1", "5", "1000", "b", "s") == wrongType)
            #expect(try c.command("INCR_AND_SUM", "k", "1", "5", "1000", "s", "b") == notInteger)
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
        }
    }

    @Test("One-argument INCR and DECR keep Redis's meaning; 3 or 4 arguments are an arity error")
    func redisIncrDecr() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "n", "5", "PX", "5000")
            #expect(try c.command("INCR", "n") == ":6\r\n")
            #expect(try c.command("DECR", "n") == ":5\r\n")
            #expect(try c.command("PTTL", "n") == ":5000\r\n")
            #expect(try c.command("INCR", "n", "1") == "-ERR wrong number of arguments for 'incr' command\r\n")
            #expect(try c.command("INCR", "n", "1", "2") == "-ERR wrong number of arguments for 'incr' command\r\n")
            #expect(try c.command("DECR", "n", "1", "2", "3", "4") == "-ERR wrong number of arguments for 'decr' command\r\n")
            #expect(try c.command("INCR") == "-ERR wrong number of arguments for 'incr' command\r\n")
            #expect(try c.command("GET", "n") == "$1\r\n5\r\n")
        }
    }

    @Test("A stored value that is not an integer is Redis's integer error; an empty string counts as 0")
    func storedValues() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "abc")
            let notInteger = "-ERR value is not an integer or out of range\r\n"
            #expect(try c.command("INCR", "s", "1", "5", "1000") == notInteger)
            #expect(try c.command("DECR", "s", "1", "0", "1000") == notInteger)
            #expect(try c.command("INCR_AND_SUM", "k", "1", "5", "1000", "s") == notInteger)
            #expect(try c.command("ADD", "s", "1", "1000") == notInteger)
            _ = try c.command("SET", "e", "")
            #expect(try c.command("INCR", "e", "1", "5", "1000") == ":1\r\n")
            #expect(try c.command("GET", "e") == "$1\r\n1\r\n")
            _ = try c.command("SET", "o", "-9223372036854775808")
            #expect(try c.command("INCR", "o", "-1", "0", "1000") == "-ERR increment or decrement would overflow\r\n")
        }
    }

    @Test("WRONGTYPE for a leaky bucket under the key or among the summed keys")
    func wrongType() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("CONSUME", "b", "5", "1")
            let wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            #expect(try c.command("ADD", "b", "1", "1000") == wrongType)
            #expect(try c.command("INCR", "b", "1", "5", "1000") == wrongType)
            #expect(try c.command("DECR", "b", "1", "0", "1000") == wrongType)
            #expect(try c.command("INCR_AND_SUM", "k", "1", "5", "1000", "b") == wrongType)
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
        }
    }

    @Test("Bad arguments name the argument and change nothing")
    func badArguments() async throws {
        try await withServer { server in
            let c = try server.connect()
            let cases: [([String], String)] = [
                (["ADD", "k", "x", "1000"], "value must be an integer"),
                (["ADD", "k", "1", "0"], "ttl must be a positive integer"),
                (["ADD", "k", "1", "-5"], "ttl must be a positive integer"),
                (["ADD", "k", "1", "1.5"], "ttl must be a positive integer"),
                (["INCR", "k", "x", "5", "1000"], "amount must be an integer"),
                (["INCR", "k", "1", "x", "1000"], "maximum must be an integer"),
                (["INCR", "k", "1", "5", "0"], "ttl must be a positive integer"),
                (["DECR", "k", "1.0", "0", "1000"], "amount must be an integer"),
                (["DECR", "k", "1", "x", "1000"], "minimum must be an integer"),
                (["DECR", "k", "1", "0", "x"], "ttl must be a positive integer"),
                (["INCR_AND_SUM", "k", "x", "5", "1000", "k"], "amount must be an integer"),
                (["INCR_AND_SUM", "k", "1", "x", "1000", "k"], "maximum must be an integer"),
                (["INCR_AND_SUM", "k", "1", "5", "-1", "k"], "ttl must be a positive integer"),
            ]
            try c.expectErrors([], cases)
            #expect(try c.command("INCR_AND_SUM", "k", "1", "5", "1000")
                == "-ERR wrong number of arguments for 'incr_and_sum' command\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
        }
    }
}
