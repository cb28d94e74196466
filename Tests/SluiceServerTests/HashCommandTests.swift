import Testing
import SluiceServer

private let wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

@Suite("Hash commands")
struct HashCommandTests {
    @Test("in one pipelined burst, each command reads its own key and fields where they lie")
    func pipelinedReads() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["HSET", "h1", "a", "1", "b", "22"], ["HSET", "h2", "a", "333"],
                ["HGET", "h1", "b"], ["HGET", "h2", "a"], ["HGET", "h2", "b"], ["HMGET", "h2", "b", "a"],
                ["HEXISTS", "h1", "a"], ["HEXISTS", "h2", "b"], ["HSTRLEN", "h2", "a"], ["HLEN", "h1"],
                ["SET", "s", "x"], ["HGET", "s", "a"], ["HGETALL", "h2"],
            ])
            #expect(replies == [
                ":2\r\n", ":1\r\n",
                "$2\r\n22\r\n", "$3\r\n333\r\n", "$-1\r\n", "*2\r\n$-1\r\n$3\r\n333\r\n",
                ":1\r\n", ":0\r\n", ":3\r\n", ":2\r\n",
                "+OK\r\n", wrongType, "*2\r\n$1\r\na\r\n$3\r\n333\r\n",
            ])
        }
    }

    @Test("HSET counts new fields, HGET reads them back, a missing field or key is a null bulk")
    func setAndGet() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HSET", "h", "f", "v", "g", "w") == ":2\r\n")
            #expect(try c.command("HSET", "h", "f", "x", "n", "5") == ":1\r\n")
            #expect(try c.command("HGET", "h", "f") == "$1\r\nx\r\n")
            #expect(try c.command("HGET", "h", "nope") == "$-1\r\n")
            #expect(try c.command("HGET", "none", "f") == "$-1\r\n")
            #expect(try c.command("TYPE", "h") == "+hash\r\n")
        }
    }

    @Test("fields and values are binary safe")
    func binarySafe() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HSET", "h\u{0}k", "\r\n", "", "", "\u{0}") == ":2\r\n")
            #expect(try c.command("HGET", "h\u{0}k", "\r\n") == "$0\r\n\r\n")
            #expect(try c.command("HGET", "h\u{0}k", "") == "$1\r\n\u{0}\r\n")
            #expect(try c.command("HGETALL", "h\u{0}k") == "*4\r\n$2\r\n\r\n\r\n$0\r\n\r\n$0\r\n\r\n$1\r\n\u{0}\r\n")
        }
    }

    @Test("HMSET replies OK; HSETNX writes only a missing field")
    func hmsetAndHsetnx() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HMSET", "h", "a", "1", "b", "2") == "+OK\r\n")
            #expect(try c.command("HSETNX", "h", "a", "9") == ":0\r\n")
            #expect(try c.command("HSETNX", "h", "c", "3") == ":1\r\n")
            #expect(try c.command("HSETNX", "new", "f", "v") == ":1\r\n")
            #expect(try c.command("HMGET", "h", "a", "c", "nope") == "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$-1\r\n")
            #expect(try c.command("HMGET", "none", "a", "b") == "*2\r\n$-1\r\n$-1\r\n")
            // A hash past the packing limits (a 65-byte value), in one burst.
            let long = String(repeating: "v", count: 65)
            let replies = try pipelined(c, [
                ["HSET", "big", "a", long], ["HSETNX", "big", "a", "x"], ["HSETNX", "big", "b", "2"],
                ["HSETNX", "big", "b", "3"], ["HMGET", "big", "a", "b"],
            ])
            #expect(replies == [":1\r\n", ":0\r\n", ":1\r\n", ":0\r\n", "*2\r\n$65\r\n\(long)\r\n$1\r\n2\r\n"])
        }
    }

    @Test("HGETALL, HKEYS and HVALS list fields in insertion order; HGETALL is a map in RESP3")
    func listing() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "h", "b", "1", "a", "2", "c", "3")
            _ = try c.command("HSET", "h", "b", "4")
            #expect(try c.command("HGETALL", "h") == "*6\r\n$1\r\nb\r\n$1\r\n4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n")
            #expect(try c.command("HKEYS", "h") == "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n")
            #expect(try c.command("HVALS", "h") == "*3\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n3\r\n")
            #expect(try c.command("HLEN", "h") == ":3\r\n")
            #expect(try c.command("HSTRLEN", "h", "a") == ":1\r\n")
            #expect(try c.command("HSTRLEN", "h", "nope") == ":0\r\n")
            #expect(try c.command("HGETALL", "none") == "*0\r\n")
            #expect(try c.command("HKEYS", "none") == "*0\r\n")
            #expect(try c.command("HLEN", "none") == ":0\r\n")
            _ = try c.command("HELLO", "3")
            #expect(try c.command("HGETALL", "h") == "%3\r\n$1\r\nb\r\n$1\r\n4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n")
            #expect(try c.command("HGETALL", "none") == "%0\r\n")
            #expect(try c.command("HGET", "h", "nope") == "_\r\n")
        }
    }

    @Test("HDEL counts removed fields and deletes the key once the last field goes")
    func deleteFields() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "h", "a", "1", "b", "2", "c", "3")
            #expect(try c.command("HDEL", "h", "a", "nope", "a") == ":1\r\n")
            #expect(try c.command("HEXISTS", "h", "a") == ":0\r\n")
            #expect(try c.command("HEXISTS", "h", "b") == ":1\r\n")
            #expect(try c.command("HDEL", "h", "b", "c") == ":2\r\n")
            #expect(try c.command("EXISTS", "h") == ":0\r\n")
            #expect(try c.command("TYPE", "h") == "+none\r\n")
            #expect(try c.command("HDEL", "h", "b") == ":0\r\n")
        }
    }

    @Test("a hash keeps its deadline when changed and disappears at it")
    func expiry() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "h", "a", "1")
            #expect(try c.command("EXPIRE", "h", "10") == ":1\r\n")
            #expect(try c.command("HSET", "h", "b", "2") == ":1\r\n")
            #expect(try c.command("HINCRBY", "h", "n", "1") == ":1\r\n")
            #expect(try c.command("HDEL", "h", "a") == ":1\r\n")
            #expect(try c.command("TTL", "h") == ":10\r\n")
            server.clock.advance(milliseconds: 10_001)
            #expect(try c.command("HGET", "h", "b") == "$-1\r\n")
            // A hash written after expiry starts empty and without a deadline.
            #expect(try c.command("HSET", "h", "c", "3") == ":1\r\n")
            #expect(try c.command("HLEN", "h") == ":1\r\n")
            #expect(try c.command("TTL", "h") == ":-1\r\n")
        }
    }

    @Test("HINCRBY counts from zero and rejects non-integers and overflow")
    func incrementBy() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HINCRBY", "h", "n", "5") == ":5\r\n")
            #expect(try c.command("HINCRBY", "h", "n", "-8") == ":-3\r\n")
            #expect(try c.command("HGET", "h", "n") == "$2\r\n-3\r\n")
            _ = try c.command("HSET", "h", "s", "abc", "max", "9223372036854775807", "sp", " 1")
            try c.expectErrors(["HINCRBY", "h"], [
                (["s", "1"], "hash value is not an integer"),
                (["sp", "1"], "hash value is not an integer"),
                (["n", "x"], "value is not an integer or out of range"),
                (["n", "1.5"], "value is not an integer or out of range"),
                (["max", "1"], "increment or decrement would overflow"),
            ])
            #expect(try c.command("HGET", "h", "max") == "$19\r\n9223372036854775807\r\n")
            #expect(try c.command("HINCRBY", "h", "n") == "-ERR wrong number of arguments for 'hincrby' command\r\n")
        }
    }

    @Test("HINCRBYFLOAT adds in long double and formats as Redis; errors leave the field alone")
    func incrementByFloat() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HINCRBYFLOAT", "h", "f", "0.1") == "$3\r\n0.1\r\n")
            #expect(try c.command("HINCRBYFLOAT", "h", "f", "0.2") == "$3\r\n0.3\r\n")
            #expect(try c.command("HINCRBYFLOAT", "h", "f", "1e3") == "$22\r\n1000.29999999999999999\r\n")
            _ = try c.command("HSET", "h", "n", "5", "s", "abc")
            #expect(try c.command("HINCRBYFLOAT", "h", "n", "-5") == "$1\r\n0\r\n")
            try c.expectErrors(["HINCRBYFLOAT", "h"], [
                (["s", "1"], "hash value is not a float"),
                (["f", "x"], "value is not a valid float"),
                (["f", "nan"], "value is not a valid float"),
                (["f", "inf"], "value is NaN or Infinity"),
            ])
            #expect(try c.command("HGET", "h", "f") == "$22\r\n1000.29999999999999999\r\n")
            // A missing key with a bad increment is not created.
            #expect(try c.command("HINCRBYFLOAT", "none", "f", "x") == "-ERR value is not a valid float\r\n")
            #expect(try c.command("EXISTS", "none") == ":0\r\n")
        }
    }

    @Test("a failed write to a new hash does not create the key")
    func failedWriteCreatesNothing() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "big", "f", "1e4932")
            #expect(try c.command("HINCRBYFLOAT", "big", "f", "1e4932") == "-ERR increment would produce NaN or Infinity\r\n")
            #expect(try c.command("HINCRBY", "none", "n", "1", "2") == "-ERR wrong number of arguments for 'hincrby' command\r\n")
            #expect(try c.command("EXISTS", "none") == ":0\r\n")
        }
    }

    @Test("hash commands answer WRONGTYPE for other kinds, and other commands for a hash")
    func wrongTypes() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "v")
            for command in [
                ["HSET", "s", "f", "v"], ["HMSET", "s", "f", "v"], ["HSETNX", "s", "f", "v"], ["HGET", "s", "f"],
                ["HMGET", "s", "f"], ["HGETALL", "s"], ["HKEYS", "s"], ["HVALS", "s"], ["HLEN", "s"], ["HSTRLEN", "s", "f"],
                ["HEXISTS", "s", "f"], ["HDEL", "s", "f"], ["HINCRBY", "s", "f", "1"], ["HINCRBYFLOAT", "s", "f", "1"],
            ] {
                #expect(try c.command(command) == wrongType, "\(command)")
            }
            #expect(try c.command("GET", "s") == "$1\r\nv\r\n")
            _ = try c.command("HSET", "h", "f", "v")
            for command in [["GET", "h"], ["INCR", "h"], ["APPEND", "h", "x"], ["ZADD", "h", "1", "a"], ["ZCARD", "h"]] {
                #expect(try c.command(command) == wrongType, "\(command)")
            }
            #expect(try c.command("MGET", "h") == "*1\r\n$-1\r\n")
            #expect(try c.command("SCAN", "0", "COUNT", "1000", "TYPE", "hash") == "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nh\r\n")
        }
    }

    @Test("HSET and HMSET need field-value pairs")
    func arity() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HSET", "h", "f") == "-ERR wrong number of arguments for 'hset' command\r\n")
            #expect(try c.command("HSET", "h", "f", "v", "g") == "-ERR wrong number of arguments for 'hset' command\r\n")
            #expect(try c.command("HMSET", "h", "f", "v", "g") == "-ERR wrong number of arguments for 'hmset' command\r\n")
            #expect(try c.command("HGET", "h") == "-ERR wrong number of arguments for 'hget' command\r\n")
            #expect(try c.command("HDEL", "h") == "-ERR wrong number of arguments for 'hdel' command\r\n")
            #expect(try c.command("EXISTS", "h") == ":0\r\n")
        }
    }
}
