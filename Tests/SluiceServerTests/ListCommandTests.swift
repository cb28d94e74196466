import SluiceServer
import Testing

private let wrongTypeReply = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

@Suite("List commands")
struct ListCommandTests {
    @Test("in one pipelined burst, each command reads its own key where it lies")
    func pipelinedReads() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["RPUSH", "l1", "a", "b"], ["LPUSH", "l2", "c"], ["LRANGE", "l1", "0", "-1"], ["LLEN", "l2"],
                ["RPOP", "l1"], ["LINDEX", "l2", "0"], ["LRANGE", "l1", "0", "-1"],
            ])
            #expect(replies == [":2\r\n", ":1\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", ":1\r\n", "$1\r\nb\r\n", "$1\r\nc\r\n", "*1\r\n$1\r\na\r\n"])
        }
    }

    @Test("LINSERT, LREM and LPOS in one burst each read their own pivot and elements, packed and chunked")
    func pipelinedElements() async throws {
        try await withServer { server in
            let c = try server.connect()
            // "big" holds 200 elements, past the packing limit of 128.
            _ = try c.command(["RPUSH", "big"] + (0..<200).map { "e\($0 % 10)" })
            for key in ["small", "big"] {
                _ = try c.command("RPUSH", key, "p", "q", "p")
                let replies = try pipelined(c, [
                    ["LINSERT", key, "BEFORE", "q", "new"], ["LPOS", key, "new"], ["LREM", key, "-1", "p"],
                    ["LINSERT", key, "AFTER", "nope", "x"], ["LPOS", key, "q"], ["LREM", key, "0", "p"], ["LPOS", key, "p"],
                ])
                let offset = key == "big" ? 200 : 0
                #expect(replies == [
                    ":\(offset + 4)\r\n", ":\(offset + 1)\r\n", ":1\r\n", ":-1\r\n", ":\(offset + 2)\r\n", ":1\r\n", "$-1\r\n",
                ], "\(key)")
            }
        }
    }

    @Test("LPUSH prepends and RPUSH appends, each replying with the new length")
    func pushes() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("LPUSH", "l", "a", "b", "c") == ":3\r\n")
            #expect(try c.command("RPUSH", "l", "d", "e") == ":5\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n")
            #expect(try c.command("TYPE", "l") == "+list\r\n")
            #expect(try c.command("LPUSH", "l") == "-ERR wrong number of arguments for 'lpush' command\r\n")
        }
    }

    @Test("LPUSHX and RPUSHX push only onto an existing list")
    func pushIfExists() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("LPUSHX", "l", "a") == ":0\r\n")
            #expect(try c.command("EXISTS", "l") == ":0\r\n")
            #expect(try c.command("RPUSH", "l", "b") == ":1\r\n")
            #expect(try c.command("LPUSHX", "l", "a") == ":2\r\n")
            #expect(try c.command("RPUSHX", "l", "c", "d") == ":4\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n")
        }
    }

    @Test("LPOP and RPOP take one element, and the last pop deletes the key")
    func popOne() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("RPUSH", "l", "a", "b") == ":2\r\n")
            #expect(try c.command("LPOP", "l") == "$1\r\na\r\n")
            #expect(try c.command("RPOP", "l") == "$1\r\nb\r\n")
            #expect(try c.command("EXISTS", "l") == ":0\r\n")
            #expect(try c.command("LPOP", "l") == "$-1\r\n")
            #expect(try c.command("RPOP", "l") == "$-1\r\n")
        }
    }

    @Test("LPOP and RPOP with a count reply with an array, a null array when the key is absent")
    func popCount() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("RPUSH", "l", "a", "b", "c", "d") == ":4\r\n")
            #expect(try c.command("LPOP", "l", "2") == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
            #expect(try c.command("RPOP", "l", "1") == "*1\r\n$1\r\nd\r\n")
            #expect(try c.command("LPOP", "l", "0") == "*0\r\n")
            #expect(try c.command("RPOP", "l", "100") == "*1\r\n$1\r\nc\r\n")
            #expect(try c.command("LPOP", "l", "2") == "*-1\r\n")
            #expect(try c.command("LPOP", "l", "0") == "*-1\r\n")
            #expect(try c.command("LPOP", "l", "1", "2") == "-ERR wrong number of arguments for 'lpop' command\r\n")
            for count in ["-1", "x", "9223372036854775808"] {
                #expect(try c.command("LPOP", "l", count) == "-ERR value is out of range, must be positive\r\n")
            }
        }
    }

    @Test("pops of an absent key answer RESP3 null")
    func popResp3() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HELLO", "3")
            #expect(try c.command("LPOP", "l") == "_\r\n")
            #expect(try c.command("RPOP", "l", "2") == "_\r\n")
            #expect(try c.command("LINDEX", "l", "0") == "_\r\n")
            #expect(try c.command("RPOPLPUSH", "l", "m") == "_\r\n")
            #expect(try c.command("RPUSH", "l", "a") == ":1\r\n")
            #expect(try c.command("LPOP", "l", "2") == "*1\r\n$1\r\na\r\n")
        }
    }

    @Test("LLEN counts elements; an absent key has length 0")
    func length() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("LLEN", "l") == ":0\r\n")
            _ = try c.command("RPUSH", "l", "a", "b", "c")
            #expect(try c.command("LLEN", "l") == ":3\r\n")
        }
    }

    @Test("LRANGE takes inclusive indexes, negative from the end, clamped to the list")
    func range() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "l", "1", "2", "3", "4", "5")
            #expect(try c.command("LRANGE", "l", "1", "2") == "*2\r\n$1\r\n2\r\n$1\r\n3\r\n")
            #expect(try c.command("LRANGE", "l", "-2", "-1") == "*2\r\n$1\r\n4\r\n$1\r\n5\r\n")
            #expect(try c.command("LRANGE", "l", "-100", "0") == "*1\r\n$1\r\n1\r\n")
            #expect(try c.command("LRANGE", "l", "4", "100") == "*1\r\n$1\r\n5\r\n")
            #expect(try c.command("LRANGE", "l", "3", "1") == "*0\r\n")
            #expect(try c.command("LRANGE", "l", "5", "10") == "*0\r\n")
            #expect(try c.command("LRANGE", "nokey", "0", "-1") == "*0\r\n")
            #expect(try c.command("LRANGE", "l", "x", "1") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("LINDEX reads one element by position; outside the list it is a null bulk")
    func index() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "l", "a", "b", "c")
            #expect(try c.command("LINDEX", "l", "0") == "$1\r\na\r\n")
            #expect(try c.command("LINDEX", "l", "-1") == "$1\r\nc\r\n")
            #expect(try c.command("LINDEX", "l", "3") == "$-1\r\n")
            #expect(try c.command("LINDEX", "l", "-4") == "$-1\r\n")
            #expect(try c.command("LINDEX", "nokey", "0") == "$-1\r\n")
            #expect(try c.command("LINDEX", "l", "x") == "-ERR value is not an integer or out of range\r\n")
            // The key is looked at before the index, as in Redis.
            #expect(try c.command("LINDEX", "nokey", "x") == "$-1\r\n")
            _ = try c.command("SET", "s", "v")
            #expect(try c.command("LINDEX", "s", "x") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        }
    }

    @Test("LREM removes count matches from the head, from the tail when negative, all when 0")
    func remove() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "l", "a", "b", "a", "c", "a", "a")
            #expect(try c.command("LREM", "l", "1", "a") == ":1\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*5\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\na\r\n")
            #expect(try c.command("LREM", "l", "-2", "a") == ":2\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n")
            #expect(try c.command("LREM", "l", "0", "zz") == ":0\r\n")
            #expect(try c.command("LREM", "l", "-9223372036854775808", "a") == ":1\r\n")
            #expect(try c.command("LREM", "l", "0", "b") == ":1\r\n")
            #expect(try c.command("LREM", "l", "0", "c") == ":1\r\n")
            #expect(try c.command("EXISTS", "l") == ":0\r\n")
            #expect(try c.command("LREM", "l", "0", "a") == ":0\r\n")
            #expect(try c.command("LREM", "l", "x", "a") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("LTRIM keeps an inclusive range and deletes the key when nothing is left")
    func trim() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "l", "1", "2", "3", "4", "5")
            #expect(try c.command("LTRIM", "l", "1", "-2") == "+OK\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n")
            #expect(try c.command("LTRIM", "l", "-100", "100") == "+OK\r\n")
            #expect(try c.command("LLEN", "l") == ":3\r\n")
            #expect(try c.command("LTRIM", "l", "2", "1") == "+OK\r\n")
            #expect(try c.command("EXISTS", "l") == ":0\r\n")
            #expect(try c.command("LTRIM", "nokey", "0", "1") == "+OK\r\n")
            #expect(try c.command("LTRIM", "l", "0", "x") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("RPOPLPUSH moves the tail of one list to the head of another, or rotates one list")
    func rpoplpush() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "src", "a", "b")
            #expect(try c.command("RPOPLPUSH", "src", "dst") == "$1\r\nb\r\n")
            #expect(try c.command("RPOPLPUSH", "src", "dst") == "$1\r\na\r\n")
            #expect(try c.command("EXISTS", "src") == ":0\r\n")
            #expect(try c.command("LRANGE", "dst", "0", "-1") == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
            #expect(try c.command("RPOPLPUSH", "src", "dst") == "$-1\r\n")
            #expect(try c.command("RPOPLPUSH", "dst", "dst") == "$1\r\nb\r\n")
            #expect(try c.command("LRANGE", "dst", "0", "-1") == "*2\r\n$1\r\nb\r\n$1\r\na\r\n")
        }
    }

    @Test("rotating a one-element list onto itself keeps the key and its TTL")
    func rotationKeepsTTL() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "k", "x")
            _ = try c.command("PEXPIRE", "k", "5000")
            #expect(try c.command("RPOPLPUSH", "k", "k") == "$1\r\nx\r\n")
            #expect(try c.command("LMOVE", "k", "k", "LEFT", "RIGHT") == "$1\r\nx\r\n")
            #expect(try c.command("PTTL", "k") == ":5000\r\n")
            _ = try c.command("RPUSH", "src", "y")
            _ = try c.command("RPUSH", "dst", "z")
            _ = try c.command("PEXPIRE", "dst", "3000")
            #expect(try c.command("RPOPLPUSH", "src", "dst") == "$1\r\ny\r\n")
            #expect(try c.command("PTTL", "dst") == ":3000\r\n")
        }
    }

    @Test("LMOVE pops and pushes at the ends it names; other words are a syntax error")
    func lmove() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "src", "a", "b", "c")
            #expect(try c.command("LMOVE", "src", "dst", "LEFT", "RIGHT") == "$1\r\na\r\n")
            #expect(try c.command("LMOVE", "src", "dst", "left", "right") == "$1\r\nb\r\n")
            #expect(try c.command("LMOVE", "src", "dst", "RIGHT", "LEFT") == "$1\r\nc\r\n")
            #expect(try c.command("LRANGE", "dst", "0", "-1") == "*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n")
            #expect(try c.command("LMOVE", "dst", "dst", "RIGHT", "LEFT") == "$1\r\nb\r\n")
            #expect(try c.command("LMOVE", "src", "dst", "LEFT", "RIGHT") == "$-1\r\n")
            #expect(try c.command("LMOVE", "dst", "x", "LEFT", "UP") == "-ERR syntax error\r\n")
            #expect(try c.command("LMOVE", "dst", "x", "UP", "LEFT") == "-ERR syntax error\r\n")
            #expect(try c.command("LLEN", "dst") == ":3\r\n")
        }
    }

    @Test("LSET replaces an element by position; errors for a missing key or a position outside")
    func set() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("LSET", "l", "0", "x") == "-ERR no such key\r\n")
            _ = try c.command("RPUSH", "l", "a", "b", "c")
            #expect(try c.command("LSET", "l", "1", "B") == "+OK\r\n")
            #expect(try c.command("LSET", "l", "-1", "C") == "+OK\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*3\r\n$1\r\na\r\n$1\r\nB\r\n$1\r\nC\r\n")
            #expect(try c.command("LSET", "l", "3", "x") == "-ERR index out of range\r\n")
            #expect(try c.command("LSET", "l", "x", "x") == "-ERR value is not an integer or out of range\r\n")
            // The key is looked at before the index, as in Redis.
            #expect(try c.command("LSET", "nokey", "x", "v") == "-ERR no such key\r\n")
            _ = try c.command("SET", "s", "v")
            #expect(try c.command("LSET", "s", "x", "v") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("EXISTS", "nokey") == ":0\r\n")
        }
    }

    @Test("LINSERT puts an element before or after the first match of a pivot")
    func insert() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("LINSERT", "l", "BEFORE", "a", "x") == ":0\r\n")
            #expect(try c.command("EXISTS", "l") == ":0\r\n")
            _ = try c.command("RPUSH", "l", "a", "b", "a")
            #expect(try c.command("LINSERT", "l", "BEFORE", "a", "0") == ":4\r\n")
            #expect(try c.command("LINSERT", "l", "after", "b", "c") == ":5\r\n")
            #expect(try c.command("LINSERT", "l", "AFTER", "zz", "c") == ":-1\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*5\r\n$1\r\n0\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n")
            #expect(try c.command("LINSERT", "l", "MIDDLE", "a", "x") == "-ERR syntax error\r\n")
        }
    }

    @Test("LPOS finds match positions by rank from either end, COUNT of them, within MAXLEN")
    func positions() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "l", "a", "b", "c", "b", "d", "b")
            #expect(try c.command("LPOS", "l", "b") == ":1\r\n")
            #expect(try c.command("LPOS", "l", "zz") == "$-1\r\n")
            #expect(try c.command("LPOS", "l", "b", "RANK", "2") == ":3\r\n")
            #expect(try c.command("LPOS", "l", "b", "RANK", "-1") == ":5\r\n")
            #expect(try c.command("LPOS", "l", "b", "RANK", "4") == "$-1\r\n")
            #expect(try c.command("LPOS", "l", "b", "COUNT", "0") == "*3\r\n:1\r\n:3\r\n:5\r\n")
            #expect(try c.command("LPOS", "l", "b", "COUNT", "2", "RANK", "-1") == "*2\r\n:5\r\n:3\r\n")
            #expect(try c.command("LPOS", "l", "b", "COUNT", "0", "MAXLEN", "4") == "*2\r\n:1\r\n:3\r\n")
            #expect(try c.command("LPOS", "l", "d", "MAXLEN", "2") == "$-1\r\n")
            #expect(try c.command("LPOS", "nokey", "b") == "$-1\r\n")
            #expect(try c.command("LPOS", "nokey", "b", "COUNT", "2") == "*0\r\n")
            try c.expectErrors(["LPOS", "l", "b"], [
                (["RANK", "0"], "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
                (["RANK", "-9223372036854775808"], "value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
                (["COUNT", "-1"], "COUNT can't be negative"),
                (["COUNT", "x"], "COUNT can't be negative"),
                (["MAXLEN", "-1"], "MAXLEN can't be negative"),
                (["RANK", "x"], "value is not an integer or out of range"),
                (["RANK"], "syntax error"),
                (["FOO", "1"], "syntax error"),
            ])
        }
    }

    @Test("LMPOP pops up to COUNT elements from the first of its keys holding a list")
    func multiPop() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "b", "1", "2", "3")
            #expect(try c.command("LMPOP", "2", "a", "b", "LEFT") == "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n")
            #expect(try c.command("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5") == "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n")
            #expect(try c.command("LMPOP", "2", "a", "b", "LEFT") == "*-1\r\n")
            try c.expectErrors(["LMPOP"], [
                (["0", "a", "LEFT"], "numkeys should be greater than 0"),
                (["x", "a", "LEFT"], "numkeys should be greater than 0"),
                (["3", "a", "b", "LEFT"], "syntax error"),
                (["1", "a", "UP"], "syntax error"),
                (["1", "a", "LEFT", "COUNT", "0"], "count should be greater than 0"),
                (["1", "a", "LEFT", "COUNT", "1", "COUNT", "2"], "syntax error"),
                (["1", "a", "LEFT", "COUNT"], "syntax error"),
                (["1", "a"], "wrong number of arguments for 'lmpop' command"),
            ])
            _ = try c.command("HELLO", "3")
            #expect(try c.command("LMPOP", "1", "a", "LEFT") == "_\r\n")
        }
    }

    @Test("every list command answers WRONGTYPE for a string and leaves it alone")
    func wrongType() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "x")
            _ = try c.command("RPUSH", "l", "a")
            let commands: [[String]] = [
                ["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPUSHX", "s", "a"], ["RPUSHX", "s", "a"],
                ["LPOP", "s"], ["RPOP", "s", "2"], ["LLEN", "s"], ["LRANGE", "s", "0", "-1"], ["LINDEX", "s", "0"],
                ["LREM", "s", "0", "a"], ["LTRIM", "s", "0", "1"], ["RPOPLPUSH", "s", "l"], ["RPOPLPUSH", "l", "s"],
                ["LMOVE", "l", "s", "LEFT", "LEFT"], ["LSET", "s", "0", "a"], ["LINSERT", "s", "BEFORE", "a", "b"],
                ["LPOS", "s", "a"], ["LMPOP", "2", "a", "s", "LEFT"], ["BLMPOP", "0", "1", "s", "RIGHT"], ["BLPOP", "s", "0"], ["BRPOP", "l2", "s", "0"],
                ["BRPOPLPUSH", "l", "s", "0"], ["BLMOVE", "s", "l", "LEFT", "LEFT", "0"],
            ]
            for command in commands {
                #expect(try c.command(command) == wrongTypeReply, "\(command)")
            }
            #expect(try c.command("GET", "s") == "$1\r\nx\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*1\r\n$1\r\na\r\n")
            #expect(try c.command("GET", "l") == wrongTypeReply)
        }
    }

    @Test("a list key expires like any other key")
    func expiry() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "l", "a")
            #expect(try c.command("PEXPIRE", "l", "100") == ":1\r\n")
            #expect(try c.command("RPUSH", "l", "b") == ":2\r\n")
            #expect(try c.command("PTTL", "l") == ":100\r\n")
            server.clock.advance(milliseconds: 101)
            #expect(try c.command("LLEN", "l") == ":0\r\n")
            #expect(try c.command("RPUSH", "l", "c") == ":1\r\n")
            #expect(try c.command("PTTL", "l") == ":-1\r\n")
        }
    }

    @Test("elements are binary-safe")
    func binarySafe() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("RPUSH", "l", "", "a\r\nb", "ü") == ":3\r\n")
            #expect(try c.command("LRANGE", "l", "0", "-1") == "*3\r\n$0\r\n\r\n$4\r\na\r\nb\r\n$2\r\nü\r\n")
        }
    }
}
