import Testing
import SluiceServer

private let wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

/// The RESP2 reply of a flat array of bulk strings.
private func bulks(_ items: String...) -> String {
    "*\(items.count)\r\n" + items.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
}

@Suite("Sorted set commands")
struct SortedSetCommandTests {
    @Test("ZADD counts new members; ZRANGE orders by score then member bytes")
    func addAndRange() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ZADD", "z", "2", "b", "1", "c", "1", "a") == ":3\r\n")
            #expect(try c.command("ZADD", "z", "3", "a", "4", "d") == ":1\r\n")
            #expect(try c.command("ZRANGE", "z", "0", "-1") == bulks("c", "b", "a", "d"))
            #expect(try c.command("ZRANGE", "z", "0", "-1", "WITHSCORES") == bulks("c", "1", "b", "2", "a", "3", "d", "4"))
            #expect(try c.command("ZCARD", "z") == ":4\r\n")
            #expect(try c.command("ZCARD", "none") == ":0\r\n")
            #expect(try c.command("TYPE", "z") == "+zset\r\n")
        }
    }

    @Test("ZADD NX, XX, GT, LT and CH decide what is written and counted")
    func addOptions() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ZADD", "z", "XX", "1", "a") == ":0\r\n")
            #expect(try c.command("EXISTS", "z") == ":0\r\n")
            #expect(try c.command("ZADD", "z", "1", "a", "1", "b") == ":2\r\n")
            #expect(try c.command("ZADD", "z", "NX", "5", "a", "1", "c") == ":1\r\n")
            #expect(try c.command("ZADD", "z", "XX", "CH", "5", "a", "1", "new") == ":1\r\n")
            #expect(try c.command("ZADD", "z", "GT", "CH", "3", "a", "10", "b") == ":1\r\n")
            #expect(try c.command("ZADD", "z", "LT", "CH", "4", "a", "1", "d") == ":2\r\n")
            #expect(try c.command("ZADD", "z", "CH", "4", "a") == ":0\r\n")
            #expect(try c.command("ZRANGE", "z", "0", "-1", "WITHSCORES") == bulks("c", "1", "d", "1", "a", "4", "b", "10"))
        }
    }

    @Test("ZADD INCR replies with the new score, or nil when a condition refuses it")
    func addIncrement() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ZADD", "z", "INCR", "1.5", "a") == "$3\r\n1.5\r\n")
            #expect(try c.command("ZADD", "z", "INCR", "1", "a") == "$3\r\n2.5\r\n")
            #expect(try c.command("ZADD", "z", "NX", "INCR", "1", "a") == "$-1\r\n")
            #expect(try c.command("ZADD", "z", "XX", "INCR", "1", "new") == "$-1\r\n")
            #expect(try c.command("ZADD", "z", "GT", "INCR", "-1", "a") == "$-1\r\n")
            #expect(try c.command("ZADD", "z", "INCR", "0", "a") == "$3\r\n2.5\r\n")
            #expect(try c.command("ZADD", "none", "XX", "INCR", "1", "a") == "$-1\r\n")
            _ = try c.command("HELLO", "3")
            #expect(try c.command("ZADD", "z", "INCR", "1", "a") == ",3.5\r\n")
            #expect(try c.command("ZADD", "z", "NX", "INCR", "1", "a") == "_\r\n")
        }
    }

    @Test("ZADD rejects incompatible options, odd pairs and bad scores, writing nothing")
    func addErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            try c.expectErrors(["ZADD", "z"], [
                (["NX", "XX", "1", "a"], "XX and NX options at the same time are not compatible"),
                (["GT", "LT", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
                (["NX", "GT", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
                (["INCR", "1", "a", "2", "b"], "INCR option supports a single increment-element pair"),
                (["1", "a", "2"], "syntax error"),
                (["NX", "CH"], "syntax error"),
                (["abc", "a"], "value is not a valid float"),
                (["nan", "a"], "value is not a valid float"),
                (["1e400", "a"], "value is not a valid float"),
                (["1e-400", "a"], "value is not a valid float"),
                ([" 1", "a"], "value is not a valid float"),
                (["1\u{0}", "a"], "value is not a valid float"),
                (["1", "a", "x", "b"], "value is not a valid float"),
            ])
            #expect(try c.command("ZADD", "z", "1") == "-ERR wrong number of arguments for 'zadd' command\r\n")
            #expect(try c.command("EXISTS", "z") == ":0\r\n")
            #expect(try c.command("ZADD", "z", "0x10", "hex", "+inf", "x", "1e-310", "tiny") == ":3\r\n")
            #expect(try c.command("ZSCORE", "z", "hex") == "$2\r\n16\r\n")
            #expect(try c.command("ZADD", "z", "INCR", "-inf", "x") == "-ERR resulting score is not a number (NaN)\r\n")
            #expect(try c.command("ZINCRBY", "z", "-inf", "x") == "-ERR resulting score is not a number (NaN)\r\n")
            #expect(try c.command("ZSCORE", "z", "x") == "$3\r\ninf\r\n")
        }
    }

    @Test("ZINCRBY creates or moves a member and replies with its score")
    func incrementBy() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("ZINCRBY", "z", "1.5", "w") == "$3\r\n1.5\r\n")
            #expect(try c.command("ZINCRBY", "z", "-3", "w") == "$4\r\n-1.5\r\n")
            #expect(try c.command("ZINCRBY", "z", "abc", "w") == "-ERR value is not a valid float\r\n")
            #expect(try c.command("ZSCORE", "z", "w") == "$4\r\n-1.5\r\n")
            #expect(try c.command("ZSCORE", "z", "nope") == "$-1\r\n")
            #expect(try c.command("ZSCORE", "none", "w") == "$-1\r\n")
            _ = try c.command("HELLO", "3")
            #expect(try c.command("ZINCRBY", "z", "1", "w") == ",-0.5\r\n")
            #expect(try c.command("ZSCORE", "z", "w") == ",-0.5\r\n")
            #expect(try c.command("ZSCORE", "z", "nope") == "_\r\n")
        }
    }

    @Test("scores are sent in the shortest form that reads back, infinities as inf")
    func scoreFormat() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "0.1", "a", "1e20", "b", "-inf", "c", "123456789.125", "d", "-0", "e")
            #expect(try c.command("ZRANGE", "z", "0", "-1", "WITHSCORES")
                == bulks("c", "-inf", "e", "0", "a", "0.1", "d", "123456789.125", "b", "1e+20"))
        }
    }

    @Test("ZRANGE WITHSCORES in RESP3 is an array of [member, double] pairs")
    func resp3WithScores() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HELLO", "3")
            _ = try c.command("ZADD", "z", "1", "a", "2.5", "b")
            let pairs = "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
            #expect(try c.command("ZRANGE", "z", "0", "-1", "WITHSCORES") == pairs)
            #expect(try c.command("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES") == pairs)
            #expect(try c.command("ZREVRANGE", "z", "0", "0", "WITHSCORES") == "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n")
            #expect(try c.command("ZRANGE", "z", "0", "-1") == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
            #expect(try c.command("ZRANGE", "none", "0", "-1", "WITHSCORES") == "*0\r\n")
        }
    }

    @Test("rank ranges count from the end when negative and clamp to the set")
    func rankRanges() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
            #expect(try c.command("ZRANGE", "z", "-3", "-2") == bulks("b", "c"))
            #expect(try c.command("ZRANGE", "z", "-100", "1") == bulks("a", "b"))
            #expect(try c.command("ZRANGE", "z", "2", "100") == bulks("c", "d"))
            #expect(try c.command("ZRANGE", "z", "3", "1") == "*0\r\n")
            #expect(try c.command("ZRANGE", "z", "100", "200") == "*0\r\n")
            #expect(try c.command("ZREVRANGE", "z", "0", "1", "WITHSCORES") == bulks("d", "4", "c", "3"))
            #expect(try c.command("ZREVRANGE", "z", "-2", "-1") == bulks("b", "a"))
            #expect(try c.command("ZRANGE", "z", "0", "1", "REV") == bulks("d", "c"))
            #expect(try c.command("ZRANGE", "none", "0", "-1") == "*0\r\n")
        }
    }

    @Test("score ranges take exclusive bounds, infinities, LIMIT and reverse order")
    func scoreRanges() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "inf", "e")
            #expect(try c.command("ZRANGEBYSCORE", "z", "(1", "3") == bulks("b", "c"))
            #expect(try c.command("ZRANGEBYSCORE", "z", "1", "(3") == bulks("a", "b"))
            #expect(try c.command("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "2") == bulks("b", "c"))
            #expect(try c.command("ZRANGEBYSCORE", "z", "(1", "+inf", "WITHSCORES", "LIMIT", "3", "5") == bulks("e", "inf"))
            #expect(try c.command("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "-1") == bulks("c", "d", "e"))
            #expect(try c.command("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "5") == "*0\r\n")
            #expect(try c.command("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "1", "LIMIT", "1", "1") == bulks("b"))
            #expect(try c.command("ZRANGEBYSCORE", "z", "3", "1") == "*0\r\n")
            #expect(try c.command("ZREVRANGEBYSCORE", "z", "3", "(1") == bulks("c", "b"))
            #expect(try c.command("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "2") == bulks("d", "4", "c", "3"))
            #expect(try c.command("ZRANGE", "z", "(1", "3", "BYSCORE") == bulks("b", "c"))
            #expect(try c.command("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2") == bulks("e", "d"))
            #expect(try c.command("ZCOUNT", "z", "(1", "4") == ":3\r\n")
            #expect(try c.command("ZCOUNT", "z", "-inf", "+inf") == ":5\r\n")
            #expect(try c.command("ZCOUNT", "none", "-inf", "+inf") == ":0\r\n")
        }
    }

    @Test("BYLEX ranges select members between bounds among equal scores")
    func lexRanges() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "0", "a", "0", "ab", "0", "b", "0", "ba", "0", "c")
            #expect(try c.command("ZRANGE", "z", "[a", "[b", "BYLEX") == bulks("a", "ab", "b"))
            #expect(try c.command("ZRANGE", "z", "(a", "(b", "BYLEX") == bulks("ab"))
            #expect(try c.command("ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "1", "2") == bulks("ab", "b"))
            #expect(try c.command("ZRANGE", "z", "[b", "-", "BYLEX", "REV") == bulks("b", "ab", "a"))
            #expect(try c.command("ZRANGE", "z", "a", "c", "BYLEX") == "-ERR min or max not valid string range item\r\n")
            #expect(try c.command("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES")
                == "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n")
        }
    }

    @Test("range commands reject bad bounds and options, checked before the key")
    func rangeErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a")
            try c.expectErrors(["ZRANGE", "z"], [
                (["0", "-1", "REV", "LIMIT", "0", "1"], "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
                (["0", "-1", "REV", "REV"], "syntax error"),
                (["0", "-1", "BYSCORE", "BYLEX"], "syntax error"),
                (["0", "-1", "FOO"], "syntax error"),
                (["0", "-1", "BYSCORE", "LIMIT", "1"], "syntax error"),
                (["0", "-1", "BYSCORE", "LIMIT", "a", "b"], "value is not an integer or out of range"),
                (["(1", "2"], "value is not an integer or out of range"),
                (["a", "b", "BYSCORE"], "min or max is not a float"),
            ])
            try c.expectErrors(["ZRANGEBYSCORE", "none"], [
                (["(abc", "1"], "min or max is not a float"),
                (["1", "nan"], "min or max is not a float"),
                (["1", "2", "REV"], "syntax error"),
                (["1", "2", "BYSCORE"], "syntax error"),
                (["1", "2", "WITHSCORE"], "syntax error"),
            ])
            #expect(try c.command("ZCOUNT", "none", "abc", "1") == "-ERR min or max is not a float\r\n")
            #expect(try c.command("ZREVRANGE", "z", "0", "1", "REV") == "-ERR syntax error\r\n")
            #expect(try c.command("ZRANGE", "z", "0") == "-ERR wrong number of arguments for 'zrange' command\r\n")
        }
    }

    @Test("ZRANK and ZREVRANK give positions; WITHSCORE adds the score")
    func ranks() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a", "2", "b", "3", "c")
            #expect(try c.command("ZRANK", "z", "a") == ":0\r\n")
            #expect(try c.command("ZREVRANK", "z", "a") == ":2\r\n")
            #expect(try c.command("ZRANK", "z", "nope") == "$-1\r\n")
            #expect(try c.command("ZRANK", "none", "a") == "$-1\r\n")
            #expect(try c.command("ZRANK", "z", "c", "WITHSCORE") == "*2\r\n:2\r\n$1\r\n3\r\n")
            #expect(try c.command("ZRANK", "z", "nope", "WITHSCORE") == "*-1\r\n")
            #expect(try c.command("ZRANK", "z", "a", "FOO") == "-ERR syntax error\r\n")
            _ = try c.command("HELLO", "3")
            #expect(try c.command("ZREVRANK", "z", "c", "WITHSCORE") == "*2\r\n:0\r\n,3\r\n")
            #expect(try c.command("ZRANK", "z", "nope") == "_\r\n")
        }
    }

    @Test("ZCOUNT, ZREMRANGEBYSCORE and ZRANGE in one burst each read their own bounds")
    func pipelinedScoreRanges() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4.5", "d", "10", "e"],
                ["ZCOUNT", "z", "(1", "4.5"], ["ZCOUNT", "z", "-inf", "(3"], ["ZCOUNT", "z", "2.5e0", "+inf"],
                ["ZREMRANGEBYSCORE", "z", "(9", "inf"], ["ZCOUNT", "z", "x", "1"], ["ZREMRANGEBYSCORE", "z", "-inf", "1.5"],
                ["ZCOUNT", "z", "-inf", "+inf"], ["ZRANGE", "z", "-1", "-1", "WITHSCORES"],
                ["ZRANGE", "z", "(4.5", "2", "BYSCORE", "REV"], ["ZRANGE", "z", "0", "x"],
            ])
            #expect(replies == [
                ":5\r\n", ":3\r\n", ":2\r\n", ":3\r\n", ":1\r\n", "-ERR min or max is not a float\r\n", ":1\r\n",
                ":3\r\n", "*2\r\n$1\r\nd\r\n$3\r\n4.5\r\n", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
                "-ERR value is not an integer or out of range\r\n",
            ])
        }
    }

    @Test("ZREM and the range removals count what they remove and delete an emptied key")
    func removal() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
            #expect(try c.command("ZREM", "z", "a", "nope", "a") == ":1\r\n")
            #expect(try c.command("ZREMRANGEBYSCORE", "z", "-inf", "(3") == ":1\r\n")
            #expect(try c.command("ZREMRANGEBYRANK", "z", "-1", "-1") == ":1\r\n")
            #expect(try c.command("ZRANGE", "z", "0", "-1") == bulks("c", "d"))
            #expect(try c.command("ZREMRANGEBYRANK", "z", "5", "1") == ":0\r\n")
            #expect(try c.command("ZREMRANGEBYSCORE", "z", "a", "b") == "-ERR min or max is not a float\r\n")
            #expect(try c.command("ZREMRANGEBYRANK", "z", "a", "b") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("ZREMRANGEBYRANK", "z", "0", "-1") == ":2\r\n")
            #expect(try c.command("EXISTS", "z") == ":0\r\n")
            _ = try c.command("ZADD", "z", "1", "a")
            #expect(try c.command("ZREM", "z", "a") == ":1\r\n")
            #expect(try c.command("TYPE", "z") == "+none\r\n")
            #expect(try c.command("ZREM", "none", "a") == ":0\r\n")
            #expect(try c.command("ZREMRANGEBYSCORE", "none", "-inf", "+inf") == ":0\r\n")
        }
    }

    @Test("a sorted set keeps its deadline when changed and disappears at it")
    func expiry() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a")
            _ = try c.command("PEXPIRE", "z", "5000")
            #expect(try c.command("ZADD", "z", "2", "b") == ":1\r\n")
            #expect(try c.command("ZINCRBY", "z", "1", "a") == "$1\r\n2\r\n")
            #expect(try c.command("ZREM", "z", "a") == ":1\r\n")
            #expect(try c.command("PTTL", "z") == ":5000\r\n")
            server.clock.advance(milliseconds: 5001)
            #expect(try c.command("ZCARD", "z") == ":0\r\n")
            #expect(try c.command("ZADD", "z", "3", "c") == ":1\r\n")
            #expect(try c.command("ZRANGE", "z", "0", "-1") == bulks("c"))
            #expect(try c.command("PTTL", "z") == ":-1\r\n")
        }
    }

    @Test("a moving-window limiter's ZADD, ZREMRANGEBYSCORE and ZCARD over thousands of members")
    func movingWindow() async throws {
        try await withServer { server in
            let c = try server.connect()
            for now in 0..<3_000 {
                _ = try c.command("ZREMRANGEBYSCORE", "w", "-inf", String(now - 1_000))
                _ = try c.command("ZADD", "w", String(now), "req-\(now)")
            }
            #expect(try c.command("ZCARD", "w") == ":1000\r\n")
            #expect(try c.command("ZRANGE", "w", "0", "0", "WITHSCORES") == bulks("req-2000", "2000"))
            #expect(try c.command("ZRANK", "w", "req-2999") == ":999\r\n")
            #expect(try c.command("ZCOUNT", "w", "(2500", "+inf") == ":499\r\n")
        }
    }

    @Test("sorted-set commands answer WRONGTYPE for other kinds, and other commands for a sorted set")
    func wrongTypes() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "v")
            for command in [
                ["ZADD", "s", "1", "a"], ["ZINCRBY", "s", "1", "a"], ["ZCARD", "s"], ["ZSCORE", "s", "a"], ["ZCOUNT", "s", "0", "1"],
                ["ZRANGE", "s", "0", "-1"], ["ZREVRANGE", "s", "0", "-1"], ["ZRANGEBYSCORE", "s", "0", "1"],
                ["ZREVRANGEBYSCORE", "s", "1", "0"], ["ZRANK", "s", "a"], ["ZREVRANK", "s", "a"], ["ZREM", "s", "a"],
                ["ZREMRANGEBYSCORE", "s", "0", "1"], ["ZREMRANGEBYRANK", "s", "0", "1"],
            ] {
                #expect(try c.command(command) == wrongType, "\(command)")
            }
            #expect(try c.command("GET", "s") == "$1\r\nv\r\n")
            _ = try c.command("ZADD", "z", "1", "a")
            for command in [["GET", "z"], ["INCRBY", "z", "1"], ["HGET", "z", "a"], ["GETDEL", "z"], ["SETNX", "z", "x"]] {
                let expected = command[0] == "SETNX" ? ":0\r\n" : wrongType
                #expect(try c.command(command) == expected, "\(command)")
            }
            #expect(try c.command("SCAN", "0", "COUNT", "1000", "TYPE", "zset") == "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nz\r\n")
            #expect(try c.command("ZCARD", "z") == ":1\r\n")
        }
    }

    @Test("rate-limit commands answer WRONGTYPE for a hash or a sorted set, and the reverse")
    func rateLimitKinds() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "z", "1", "a")
            _ = try c.command("HSET", "h", "f", "v")
            for key in ["z", "h"] {
                for command in [
                    ["CONSUME", key, "1", "1"], ["PEEK", key, "1", "1"], ["ACQUIRE", key, "1", "RATE", "3", "1000"],
                    ["CL.THROTTLE", key, "15", "30", "60"], ["ADD", key, "1", "1000"], ["INCR", key, "1", "5", "1000"],
                    ["INCR_AND_SUM", "other", "1", "5", "1000", key],
                ] {
                    #expect(try c.command(command) == wrongType, "\(command)")
                }
            }
            _ = try c.command("CONSUME", "bucket", "1", "1")
            _ = try c.command("ACQUIRE", "log", "1", "RATE", "3", "1000")
            for key in ["bucket", "log"] {
                #expect(try c.command("ZADD", key, "1", "a") == wrongType)
                #expect(try c.command("HSET", key, "f", "v") == wrongType)
                #expect(try c.command("ZRANGE", key, "0", "-1") == wrongType)
                #expect(try c.command("HGETALL", key) == wrongType)
            }
            #expect(try c.command("ZCARD", "z") == ":1\r\n")
            #expect(try c.command("HLEN", "h") == ":1\r\n")
        }
    }

    @Test("ZPOPMIN and ZPOPMAX pop in score order across the blocks of a large sorted set, then delete it")
    func popLarge() async throws {
        try await withServer { server in
            let c = try server.connect()
            var words = ["ZADD", "z"]
            for index in 0..<1_000 { words += ["\(index)", "m\(index)"] }
            #expect(try c.command(words) == ":1000\r\n")
            guard case .array(let low) = try c.call("ZPOPMIN", "z", "600") else { Issue.record("no array"); return }
            #expect(low.count == 1_200)
            #expect(low.first == .bulkString(Array("m0".utf8)) && low.last == .bulkString(Array("599".utf8)))
            #expect(try c.command("ZPOPMAX", "z") == "*2\r\n$4\r\nm999\r\n$3\r\n999\r\n")
            #expect(try c.command("ZRANGE", "z", "0", "0") == "*1\r\n$4\r\nm600\r\n")
            #expect(try c.command("ZSCORE", "z", "m599") == "$-1\r\n")
            guard case .array(let high) = try c.call("ZPOPMAX", "z", "1000") else { Issue.record("no array"); return }
            #expect(high.count == 798)
            #expect(high[0] == .bulkString(Array("m998".utf8)) && high[796] == .bulkString(Array("m600".utf8)))
            #expect(try c.command("EXISTS", "z") == ":0\r\n")
        }
    }
}
