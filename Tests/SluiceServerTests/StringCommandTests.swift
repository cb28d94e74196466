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
}
