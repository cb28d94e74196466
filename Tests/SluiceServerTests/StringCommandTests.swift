import Testing
import SluiceServer

@Suite("String commands")
struct StringCommandTests {
    @Test("SET and GET store and return bytes; GET of a missing key is a null bulk")
    func setGet() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("GET", "k") == "$-1\r\n")
            #expect(try c.command("SET", "k", "v a l") == "+OK\r\n")
            #expect(try c.command("GET", "k") == "$5\r\nv a l\r\n")
            #expect(try c.command("SET", "", "") == "+OK\r\n")
            #expect(try c.command("GET", "") == "$0\r\n\r\n")
        }
    }

    @Test("SET NX and XX write only when the key is absent or present")
    func setConditions() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "1", "XX") == "$-1\r\n")
            #expect(try c.command("SET", "k", "1", "NX") == "+OK\r\n")
            #expect(try c.command("SET", "k", "2", "NX") == "$-1\r\n")
            #expect(try c.command("SET", "k", "3", "xx") == "+OK\r\n")
            #expect(try c.command("GET", "k") == "$1\r\n3\r\n")
            #expect(try c.command("SET", "k", "4", "NX", "XX") == "-ERR syntax error\r\n")
        }
    }

    @Test("SET GET returns the old value, also when NX refuses the write")
    func setGetOption() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "1", "GET") == "$-1\r\n")
            #expect(try c.command("SET", "k", "2", "GET") == "$1\r\n1\r\n")
            #expect(try c.command("SET", "k", "3", "NX", "GET") == "$1\r\n2\r\n")
            #expect(try c.command("GET", "k") == "$1\r\n2\r\n")
        }
    }

    @Test("SET EX, PX, EXAT and PXAT set deadlines the clock honours")
    func setExpiry() async throws {
        try await withServer { server in
            let c = try server.connect()
            let nowMs = server.clock.now().milliseconds
            #expect(try c.command("SET", "ex", "v", "EX", "10") == "+OK\r\n")
            #expect(try c.command("SET", "px", "v", "PX", "1500") == "+OK\r\n")
            #expect(try c.command("SET", "exat", "v", "EXAT", String(nowMs / 1000 + 20)) == "+OK\r\n")
            #expect(try c.command("SET", "pxat", "v", "PXAT", String(nowMs + 2500)) == "+OK\r\n")
            #expect(try c.command("PTTL", "px") == ":1500\r\n")
            #expect(try c.command("TTL", "ex") == ":10\r\n")
            server.clock.advance(milliseconds: 1500)
            // As in Redis, a key lives through its deadline's millisecond.
            #expect(try c.command("PTTL", "px") == ":0\r\n")
            server.clock.advance(milliseconds: 1)
            #expect(try c.command("GET", "px") == "$-1\r\n")
            #expect(try c.command("GET", "pxat") == "$1\r\nv\r\n")
            server.clock.advance(milliseconds: 1000)
            #expect(try c.command("GET", "pxat") == "$-1\r\n")
            #expect(try c.command("EXISTS", "ex", "exat") == ":2\r\n")
        }
    }

    @Test("SET KEEPTTL keeps the deadline and plain SET clears it")
    func keepTTL() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v", "EX", "100")
            #expect(try c.command("SET", "k", "w", "KEEPTTL") == "+OK\r\n")
            #expect(try c.command("TTL", "k") == ":100\r\n")
            #expect(try c.command("SET", "k", "x") == "+OK\r\n")
            #expect(try c.command("TTL", "k") == ":-1\r\n")
        }
    }

    @Test("SET rejects bad expiry values and conflicting options")
    func setErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "v", "EX", "0") == "-ERR invalid expire time in 'set' command\r\n")
            #expect(try c.command("SET", "k", "v", "PX", "-5") == "-ERR invalid expire time in 'set' command\r\n")
            #expect(try c.command("SET", "k", "v", "EX", "9223372036854775807") == "-ERR invalid expire time in 'set' command\r\n")
            #expect(try c.command("SET", "k", "v", "EX", "ten") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("SET", "k", "v", "EX") == "-ERR syntax error\r\n")
            #expect(try c.command("SET", "k", "v", "EX", "5", "PX", "5") == "-ERR syntax error\r\n")
            #expect(try c.command("SET", "k", "v", "EX", "5", "KEEPTTL") == "-ERR syntax error\r\n")
            #expect(try c.command("SET", "k", "v", "BOGUS") == "-ERR syntax error\r\n")
            // Every option is read before the time, as in Redis: a time may repeat (the
            // last wins), and a syntax error anywhere comes before a bad number.
            #expect(try c.command("SET", "r", "v", "PX", "100000", "PX", "200000") == "+OK\r\n")
            #expect(try c.command("PTTL", "r") == ":200000\r\n")
            #expect(try c.command("SET", "r", "v", "EX", "1.5", "EX", "10") == "+OK\r\n")
            #expect(try c.command("TTL", "r") == ":10\r\n")
            #expect(try c.command("SET", "k", "v", "NX", "EX", "0", "XX") == "-ERR syntax error\r\n")
            #expect(try c.command("SET", "k", "v", "PX", "abc", "KEEPTTL") == "-ERR syntax error\r\n")
            _ = try c.command("RPUSH", "list", "a")
            #expect(try c.command("SET", "list", "v", "EX", "100", "GET", "EX", "1000")
                == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("SET", "k") == "-ERR wrong number of arguments for 'set' command\r\n")
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
        }
    }

    @Test("SETNX, MSET and MGET")
    func multiKey() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SETNX", "a", "1") == ":1\r\n")
            #expect(try c.command("SETNX", "a", "2") == ":0\r\n")
            #expect(try c.command("MSET", "b", "2", "c", "3") == "+OK\r\n")
            #expect(try c.command("MGET", "a", "nope", "c") == "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n")
            #expect(try c.command("MSET", "a", "1", "b") == "-ERR wrong number of arguments for 'mset' command\r\n")
        }
    }

    @Test("SETNX, MSET, MGET, EXISTS and DEL in one burst each read their own keys, not a neighbour's")
    func pipelinedKeys() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["SETNX", "a", "1"], ["SETNX", "a", "2"], ["MSET", "b", "2", "c", "3"], ["INCR", "n"],
                ["MGET", "a", "nope", "c", "n", "b"], ["EXISTS", "a", "nope", "c", "c"],
                ["DEL", "b", "nope", "n"], ["MGET", "b", "c"], ["EXISTS", "b", "n"],
            ])
            #expect(replies == [
                ":1\r\n", ":0\r\n", "+OK\r\n", ":1\r\n",
                "*5\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n", ":3\r\n",
                ":2\r\n", "*2\r\n$-1\r\n$1\r\n3\r\n", ":0\r\n",
            ])
        }
    }

    @Test("SETEX, PSETEX, STRLEN and GETDEL in one burst each read their own keys")
    func pipelinedExpiringKeys() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["SETEX", "a", "100", "x"], ["PSETEX", "bb", "100000", "yy"], ["SET", "ccc", "zzz"],
                ["STRLEN", "bb"], ["STRLEN", "nope"], ["GETDEL", "a"], ["STRLEN", "a"], ["GETDEL", "ccc"],
                ["TTL", "bb"], ["TTL", "a"], ["STRLEN", "ccc"],
            ])
            #expect(replies == [
                "+OK\r\n", "+OK\r\n", "+OK\r\n",
                ":2\r\n", ":0\r\n", "$1\r\nx\r\n", ":0\r\n", "$3\r\nzzz\r\n",
                ":100\r\n", ":-2\r\n", ":0\r\n",
            ])
        }
    }

    @Test("APPEND, GETEX and INCRBYFLOAT in one burst each read their own keys, and keep or set deadlines")
    func pipelinedInPlaceWrites() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["SETEX", "a", "100", "x"], ["APPEND", "a", "yz"], ["APPEND", "bb", "new"], ["APPEND", "bb", "er"],
                ["TTL", "a"], ["TTL", "bb"], ["GET", "a"], ["GET", "bb"],
                ["GETEX", "bb", "EX", "50"], ["GETEX", "a", "PERSIST"], ["GETEX", "nope", "EX", "5"],
                ["TTL", "a"], ["TTL", "bb"], ["EXISTS", "nope"],
                ["PSETEX", "f", "100000", "1.5"], ["INCRBYFLOAT", "f", "0.25"], ["INCRBYFLOAT", "ggg", "-2"],
                ["TTL", "f"], ["TTL", "ggg"], ["GET", "f"], ["APPEND", "ggg", "0"], ["GET", "ggg"],
                ["HSET", "h", "k", "v"], ["APPEND", "h", "x"], ["INCRBYFLOAT", "a", "1"], ["GET", "a"],
            ])
            #expect(replies == [
                "+OK\r\n", ":3\r\n", ":3\r\n", ":5\r\n",
                ":100\r\n", ":-1\r\n", "$3\r\nxyz\r\n", "$5\r\nnewer\r\n",
                "$5\r\nnewer\r\n", "$3\r\nxyz\r\n", "$-1\r\n",
                ":-1\r\n", ":50\r\n", ":0\r\n",
                "+OK\r\n", "$4\r\n1.75\r\n", "$2\r\n-2\r\n",
                ":100\r\n", ":-1\r\n", "$4\r\n1.75\r\n", ":3\r\n", "$3\r\n-20\r\n",
                ":1\r\n", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
                "-ERR value is not a valid float\r\n", "$3\r\nxyz\r\n",
            ])
        }
    }

    @Test("INCR, INCRBY, DECR and DECRBY count from zero and keep the deadline")
    func counters() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("INCR", "n") == ":1\r\n")
            #expect(try c.command("INCRBY", "n", "41") == ":42\r\n")
            #expect(try c.command("DECR", "n") == ":41\r\n")
            #expect(try c.command("DECRBY", "n", "-9") == ":50\r\n")
            #expect(try c.command("GET", "n") == "$2\r\n50\r\n")
            _ = try c.command("EXPIRE", "n", "30")
            #expect(try c.command("INCR", "n") == ":51\r\n")
            #expect(try c.command("TTL", "n") == ":30\r\n")
        }
    }

    @Test("counters reject non-integers and overflow without changing the value")
    func counterErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "abc")
            #expect(try c.command("INCR", "s") == "-ERR value is not an integer or out of range\r\n")
            _ = try c.command("SET", "z", " 1")
            #expect(try c.command("INCR", "z") == "-ERR value is not an integer or out of range\r\n")
            _ = try c.command("SET", "max", "9223372036854775807")
            #expect(try c.command("INCR", "max") == "-ERR increment or decrement would overflow\r\n")
            #expect(try c.command("GET", "max") == "$19\r\n9223372036854775807\r\n")
            #expect(try c.command("INCRBY", "n", "1.5") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("DECRBY", "n", "-9223372036854775808") == "-ERR decrement would overflow\r\n")
            #expect(try c.command("INCRBY", "n", "99999999999999999999") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("a counter changed by INCR reads back as a string everywhere")
    func counterReadsAsString() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("INCRBY", "n", "-42") == ":-42\r\n")
            #expect(try c.command("GET", "n") == "$3\r\n-42\r\n")
            #expect(try c.command("MGET", "n", "none") == "*2\r\n$3\r\n-42\r\n$-1\r\n")
            #expect(try c.command("TYPE", "n") == "+string\r\n")
            #expect(try c.command("SET", "n", "7", "GET") == "$3\r\n-42\r\n")
            #expect(try c.command("INCR", "n") == ":8\r\n")
            #expect(try c.command("SET", "n", "x") == "+OK\r\n")
            #expect(try c.command("INCR", "n") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("INCRBYFLOAT adds in long double and replies as Redis formats it")
    func incrementByFloat() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("INCRBYFLOAT", "f", "0.1") == "$3\r\n0.1\r\n")
            #expect(try c.command("INCRBYFLOAT", "f", "0.2") == "$3\r\n0.3\r\n")
            #expect(try c.command("INCRBYFLOAT", "f", "-0.3") == "$1\r\n0\r\n")
            #expect(try c.command("INCRBYFLOAT", "g", "1e20") == "$21\r\n100000000000000000000\r\n")
            // 64 bits of mantissa: the small part is lost, as in Redis.
            #expect(try c.command("INCRBYFLOAT", "g", "1.5e-17") == "$21\r\n100000000000000000000\r\n")
            #expect(try c.command("INCRBYFLOAT", "h", "3.0e3") == "$4\r\n3000\r\n")
            #expect(try c.command("INCRBYFLOAT", "h", "-0.001") == "$22\r\n2999.99900000000000011\r\n")
            #expect(try c.command("INCRBYFLOAT", "hex", "0x10") == "$2\r\n16\r\n")
            #expect(try c.command("INCRBYFLOAT", "tiny", "1.5e-20") == "$1\r\n0\r\n")
            #expect(try c.command("GET", "f") == "$1\r\n0\r\n")
            _ = try c.command("INCR", "n")
            #expect(try c.command("INCRBYFLOAT", "n", "1.5") == "$3\r\n2.5\r\n")
            #expect(try c.command("TYPE", "n") == "+string\r\n")
        }
    }

    /// Printed with 17 decimals, 1e44 takes 63 bytes and 1e45 or -1e44 64; the largest
    /// `long double`s take thousands. Expected replies are redis-server's.
    @Test("INCRBYFLOAT replies with every digit of a long sum, short of 64 bytes printed, at it and far past it")
    func incrementByFloatLongSums() async throws {
        try await withServer { server in
            let c = try server.connect()
            let cases = [
                ("1e44", "100000000000000000001038625398088182045605888"),
                ("1e45", "1000000000000000000010386253980881820456058880"),
                ("-1e44", "-100000000000000000001038625398088182045605888"),
                ("1e100", "9999999999999999999669353532207342619498699019828496079271391541752018669482644324418977840117055488"),
            ]
            for (index, (increment, sum)) in cases.enumerated() {
                #expect(try c.command("INCRBYFLOAT", "f\(index)", increment) == "$\(sum.utf8.count)\r\n\(sum)\r\n")
            }
            let huge = try c.command("INCRBYFLOAT", "huge", "-1e4931")
            #expect(huge.hasPrefix("$4933\r\n-10000000000000000000060189493879638913238") && huge.hasSuffix("\r\n"))
            #expect(huge.utf8.count == 4933 + 9)
            #expect(try c.command("INCRBYFLOAT", "huge", "1e4931") == "$1\r\n0\r\n")
        }
    }

    @Test("a NUL byte makes a float invalid, in an argument or a stored value, as in Redis")
    func floatsWithNul() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "f", "1")
            #expect(try c.command("INCRBYFLOAT", "f", "1\u{0}abc") == "-ERR value is not a valid float\r\n")
            #expect(try c.command("INCRBYFLOAT", "f", "\u{0}") == "-ERR value is not a valid float\r\n")
            _ = try c.command("SET", "g", "1\u{0}abc")
            #expect(try c.command("INCRBYFLOAT", "g", "1") == "-ERR value is not a valid float\r\n")
            _ = try c.command("HSET", "h", "f", "2\u{0}")
            #expect(try c.command("HINCRBYFLOAT", "h", "f", "1") == "-ERR hash value is not a float\r\n")
            #expect(try c.command("HINCRBYFLOAT", "h", "g", "1\u{0}") == "-ERR value is not a valid float\r\n")
            _ = try c.command("RPUSH", "l", "a")
            #expect(try c.command("BLPOP", "l", "1\u{0}x") == "-ERR timeout is not a float or out of range\r\n")
            #expect(try c.command("GET", "f") == "$1\r\n1\r\n")
            #expect(try c.command("LLEN", "l") == ":1\r\n")
        }
    }

    @Test("INCRBYFLOAT keeps the deadline and rejects non-floats, spaces and infinities")
    func incrementByFloatErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "f", "1.5", "EX", "100")
            #expect(try c.command("INCRBYFLOAT", "f", "1") == "$3\r\n2.5\r\n")
            #expect(try c.command("TTL", "f") == ":100\r\n")
            try c.expectErrors(["INCRBYFLOAT", "f"], [
                (["abc"], "value is not a valid float"),
                ([" 1"], "value is not a valid float"),
                (["1 "], "value is not a valid float"),
                (["nan"], "value is not a valid float"),
                ([""], "value is not a valid float"),
                (["inf"], "increment would produce NaN or Infinity"),
                (["-inf"], "increment would produce NaN or Infinity"),
            ])
            _ = try c.command("SET", "s", "abc")
            #expect(try c.command("INCRBYFLOAT", "s", "1") == "-ERR value is not a valid float\r\n")
            _ = try c.command("HSET", "h", "f", "1")
            #expect(try c.command("INCRBYFLOAT", "h", "x") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("INCRBYFLOAT", "f") == "-ERR wrong number of arguments for 'incrbyfloat' command\r\n")
            #expect(try c.command("GET", "f") == "$3\r\n2.5\r\n")
        }
    }

    @Test("GETDEL returns the value and deletes the key; nil when absent")
    func getdel() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v")
            #expect(try c.command("GETDEL", "k") == "$1\r\nv\r\n")
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
            #expect(try c.command("GETDEL", "k") == "$-1\r\n")
            _ = try c.command("ZADD", "z", "1", "a")
            #expect(try c.command("GETDEL", "z") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("EXISTS", "z") == ":1\r\n")
        }
    }

    @Test("GETEX sets, moves or removes the deadline and returns the value")
    func getex() async throws {
        try await withServer { server in
            let c = try server.connect()
            let nowMs = server.clock.now().milliseconds
            _ = try c.command("SET", "k", "v")
            #expect(try c.command("GETEX", "k") == "$1\r\nv\r\n")
            #expect(try c.command("TTL", "k") == ":-1\r\n")
            #expect(try c.command("GETEX", "k", "EX", "100") == "$1\r\nv\r\n")
            #expect(try c.command("TTL", "k") == ":100\r\n")
            #expect(try c.command("GETEX", "k", "px", "2500") == "$1\r\nv\r\n")
            #expect(try c.command("PTTL", "k") == ":2500\r\n")
            #expect(try c.command("GETEX", "k", "PXAT", String(nowMs + 4000)) == "$1\r\nv\r\n")
            #expect(try c.command("PTTL", "k") == ":4000\r\n")
            #expect(try c.command("GETEX", "k", "EXAT", String(nowMs / 1000 + 50)) == "$1\r\nv\r\n")
            #expect(try c.command("GETEX", "k", "EX", "10", "EX", "20") == "$1\r\nv\r\n")
            #expect(try c.command("TTL", "k") == ":20\r\n")
            #expect(try c.command("GETEX", "k", "PERSIST") == "$1\r\nv\r\n")
            #expect(try c.command("TTL", "k") == ":-1\r\n")
            // A deadline already past: the value is returned and the key is gone.
            #expect(try c.command("GETEX", "k", "EXAT", "1") == "$1\r\nv\r\n")
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
            #expect(try c.command("GETEX", "k", "EX", "10") == "$-1\r\n")
        }
    }

    @Test("GETEX rejects conflicting options and bad times, the time only once the key exists")
    func getexErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v", "EX", "100")
            try c.expectErrors(["GETEX", "k"], [
                (["EX", "10", "PX", "10"], "syntax error"),
                (["PERSIST", "EX", "10"], "syntax error"),
                (["EX", "10", "PERSIST"], "syntax error"),
                (["EX"], "syntax error"),
                (["KEEPTTL"], "syntax error"),
                (["EX", "abc"], "value is not an integer or out of range"),
                (["EX", "0"], "invalid expire time in 'getex' command"),
                (["PX", "-1"], "invalid expire time in 'getex' command"),
                (["PXAT", "-5"], "invalid expire time in 'getex' command"),
                (["EX", "9223372036854775807"], "invalid expire time in 'getex' command"),
                (["EX", "9223372036854775"], "invalid expire time in 'getex' command"),
            ])
            #expect(try c.command("TTL", "k") == ":100\r\n")
            #expect(try c.command("GETEX", "nokey", "EX", "abc") == "$-1\r\n")
            _ = try c.command("HSET", "h", "f", "v")
            #expect(try c.command("GETEX", "h") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("GETEX") == "-ERR wrong number of arguments for 'getex' command\r\n")
        }
    }

    @Test("SETEX and PSETEX set a value with a deadline, replacing any type")
    func setex() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("ZADD", "k", "1", "a")
            #expect(try c.command("SETEX", "k", "10", "v") == "+OK\r\n")
            #expect(try c.command("TYPE", "k") == "+string\r\n")
            #expect(try c.command("TTL", "k") == ":10\r\n")
            #expect(try c.command("PSETEX", "p", "1500", "w") == "+OK\r\n")
            #expect(try c.command("PTTL", "p") == ":1500\r\n")
            server.clock.advance(milliseconds: 1501)
            #expect(try c.command("GET", "p") == "$-1\r\n")
            #expect(try c.command("GET", "k") == "$1\r\nv\r\n")
            try c.expectErrors(["SETEX", "k"], [
                (["0", "v"], "invalid expire time in 'setex' command"),
                (["-1", "v"], "invalid expire time in 'setex' command"),
                (["abc", "v"], "value is not an integer or out of range"),
                (["9223372036854775807", "v"], "invalid expire time in 'setex' command"),
            ])
            try c.expectErrors(["PSETEX", "k"], [
                (["0", "v"], "invalid expire time in 'psetex' command"),
                (["9223372036854775807", "v"], "invalid expire time in 'psetex' command"),
            ])
            #expect(try c.command("SETEX", "k", "10") == "-ERR wrong number of arguments for 'setex' command\r\n")
            #expect(try c.command("GET", "k") == "$1\r\nv\r\n")
        }
    }

    @Test("APPEND extends a string, creates a missing one and keeps the deadline; STRLEN measures it")
    func appendAndStrlen() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("STRLEN", "n") == ":0\r\n")
            #expect(try c.command("APPEND", "n", "12") == ":2\r\n")
            #expect(try c.command("APPEND", "n", "34") == ":4\r\n")
            #expect(try c.command("INCR", "n") == ":1235\r\n")
            #expect(try c.command("APPEND", "n", "5") == ":5\r\n")
            #expect(try c.command("GET", "n") == "$5\r\n12355\r\n")
            #expect(try c.command("STRLEN", "n") == ":5\r\n")
            _ = try c.command("EXPIRE", "n", "100")
            #expect(try c.command("APPEND", "n", "\u{0}\r\n") == ":8\r\n")
            #expect(try c.command("TTL", "n") == ":100\r\n")
            #expect(try c.command("STRLEN", "n") == ":8\r\n")
            _ = try c.command("HSET", "h", "f", "v")
            #expect(try c.command("APPEND", "h", "x") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("STRLEN", "h") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        }
    }
}
