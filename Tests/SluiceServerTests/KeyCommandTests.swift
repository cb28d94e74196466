import Testing
import SluiceCore
@testable import SluiceServer

@Suite("Key commands")
struct KeyCommandTests {
    @Test("DEL, UNLINK and EXISTS count keys, duplicates included for EXISTS")
    func deleteAndExists() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("MSET", "a", "1", "b", "2", "c", "3")
            #expect(try c.command("EXISTS", "a", "a", "zz") == ":2\r\n")
            #expect(try c.command("DEL", "a", "zz") == ":1\r\n")
            #expect(try c.command("UNLINK", "b", "c") == ":2\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
            #expect(try c.command("DEL") == "-ERR wrong number of arguments for 'del' command\r\n")
        }
    }

    @Test("TTL and PTTL answer -2 for missing keys and -1 for persistent ones")
    func ttlReplies() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("TTL", "nope") == ":-2\r\n")
            _ = try c.command("SET", "k", "v")
            #expect(try c.command("PTTL", "k") == ":-1\r\n")
            #expect(try c.command("PEXPIRE", "k", "1499") == ":1\r\n")
            #expect(try c.command("TTL", "k") == ":1\r\n")
            server.clock.advance(milliseconds: 1000)
            #expect(try c.command("PTTL", "k") == ":499\r\n")
            #expect(try c.command("TTL", "k") == ":0\r\n")
        }
    }

    @Test("EXPIRETIME and PEXPIRETIME answer the deadline as a Unix time, -2 for missing keys and -1 for persistent ones")
    func expireTimeReplies() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("PEXPIRETIME", "nope") == ":-2\r\n")
            #expect(try c.command("EXPIRETIME", "nope") == ":-2\r\n")
            _ = try c.command("SET", "k", "v")
            #expect(try c.command("EXPIRETIME", "k") == ":-1\r\n")
            #expect(try c.command("PEXPIREAT", "k", "1700000001499") == ":1\r\n")
            #expect(try c.command("PEXPIRETIME", "k") == ":1700000001499\r\n")
            #expect(try c.command("EXPIRETIME", "k") == ":1700000001\r\n")
            #expect(try c.command("PEXPIREAT", "k", "1700000001500") == ":1\r\n")
            #expect(try c.command("EXPIRETIME", "k") == ":1700000002\r\n")
            #expect(try c.command("EXPIRETIME", "k", "x") == "-ERR wrong number of arguments for 'expiretime' command\r\n")
        }
    }

    @Test("EXPIRETIME and TTL of a deadline at the end of 64-bit milliseconds answer as Redis does (they trapped on overflow)")
    func expireTimeAtTheLimit() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "v", "PXAT", "9223372036854775807") == "+OK\r\n")
            #expect(try c.command("EXPIRETIME", "k") == ":9223372036854776\r\n")
            #expect(try c.command("PEXPIREAT", "k", "9223372036854775308") == ":1\r\n")
            #expect(try c.command("EXPIRETIME", "k") == ":9223372036854775\r\n")
            // TTL is the same sum, so the deadline alone, with the clock at 0, reaches it.
            server.clock.set(Instant(milliseconds: 0))
            #expect(try c.command("SET", "k", "v", "PXAT", "9223372036854775807") == "+OK\r\n")
            #expect(try c.command("TTL", "k") == ":9223372036854776\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("EXPIRE family sets relative and absolute deadlines; past deadlines delete")
    func expireFamily() async throws {
        try await withServer { server in
            let c = try server.connect()
            let nowMs = server.clock.now().milliseconds
            _ = try c.command("MSET", "a", "1", "b", "2", "c", "3", "d", "4")
            #expect(try c.command("EXPIRE", "a", "10") == ":1\r\n")
            #expect(try c.command("EXPIREAT", "b", String(nowMs / 1000 + 100)) == ":1\r\n")
            #expect(try c.command("PEXPIREAT", "c", String(nowMs + 5000)) == ":1\r\n")
            #expect(try c.command("PTTL", "c") == ":5000\r\n")
            #expect(try c.command("EXPIRE", "d", "-1") == ":1\r\n")
            #expect(try c.command("EXISTS", "d") == ":0\r\n")
            #expect(try c.command("EXPIRE", "missing", "10") == ":0\r\n")
            #expect(try c.command("EXPIRE", "a", "x") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("EXPIRE", "a", "9223372036854775807") == "-ERR invalid expire time in 'expire' command\r\n")
        }
    }

    @Test("EXPIRE NX, XX, GT and LT follow Redis 7's rules")
    func expireOptions() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v")
            #expect(try c.command("EXPIRE", "k", "100", "XX") == ":0\r\n")
            #expect(try c.command("EXPIRE", "k", "100", "GT") == ":0\r\n")
            #expect(try c.command("EXPIRE", "k", "100", "NX") == ":1\r\n")
            #expect(try c.command("EXPIRE", "k", "200", "NX") == ":0\r\n")
            #expect(try c.command("EXPIRE", "k", "50", "GT") == ":0\r\n")
            #expect(try c.command("EXPIRE", "k", "50", "LT") == ":1\r\n")
            #expect(try c.command("TTL", "k") == ":50\r\n")
            #expect(try c.command("EXPIRE", "k", "50", "NX", "XX") == "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n")
            #expect(try c.command("EXPIRE", "k", "50", "GT", "LT") == "-ERR GT and LT options at the same time are not compatible\r\n")
            #expect(try c.command("EXPIRE", "k", "50", "YY") == "-ERR Unsupported option YY\r\n")
            // The options are checked before the time; an unknown one is quoted as sent.
            #expect(try c.command("EXPIRE", "k", "50", "foo") == "-ERR Unsupported option foo\r\n")
            #expect(try c.command("EXPIRE", "k", "abc", "NX", "XX") == "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n")
            #expect(try c.command("EXPIRE", "k", "abc", "foo") == "-ERR Unsupported option foo\r\n")
            #expect(try c.command("EXPIRE", "k", "abc", "NX") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("PERSIST removes a deadline once")
    func persist() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v", "EX", "5")
            #expect(try c.command("PERSIST", "k") == ":1\r\n")
            #expect(try c.command("PERSIST", "k") == ":0\r\n")
            #expect(try c.command("PERSIST", "nope") == ":0\r\n")
            server.clock.advance(milliseconds: 10_000)
            #expect(try c.command("GET", "k") == "$1\r\nv\r\n")
        }
    }

    @Test("a deadline at the last millisecond of Int64 is still a deadline, whichever command sets it")
    func lastMillisecond() async throws {
        try await withServer { server in
            let c = try server.connect()
            let last = String(Int64.max)
            #expect(try c.command("SET", "set", "v", "PXAT", last) == "+OK\r\n")
            _ = try c.command("SET", "expire", "v")
            #expect(try c.command("PEXPIREAT", "expire", last) == ":1\r\n")
            _ = try c.command("SET", "getex", "v")
            #expect(try c.command("GETEX", "getex", "PXAT", last) == "$1\r\nv\r\n")
            for key in ["set", "expire", "getex"] {
                let ttl = try c.command("PTTL", key)
                #expect(ttl.hasPrefix(":9223") && ttl.utf8.count == 22, "\(key): \(ttl)")
            }
            // KEEPTTL keeps it; XX sees it; PERSIST removes it.
            _ = try c.command("SET", "set", "w", "KEEPTTL")
            #expect(try c.command("PTTL", "set").hasPrefix(":9223"))
            #expect(try c.command("PEXPIREAT", "expire", "100000000000000", "XX") == ":1\r\n")
            #expect(try c.command("PERSIST", "getex") == ":1\r\n")
            #expect(try c.command("TTL", "getex") == ":-1\r\n")
        }
    }

    @Test("TYPE names the kind of value or none")
    func type() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v")
            #expect(try c.command("TYPE", "k") == "+string\r\n")
            #expect(try c.command("TYPE", "nope") == "+none\r\n")
        }
    }

    @Test("KEYS matches glob patterns and skips expired keys")
    func keys() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("MSET", "user:1", "a", "user:2", "b", "other", "c")
            _ = try c.command("SET", "user:3", "c", "PX", "10")
            server.clock.advance(milliseconds: 11)
            guard case .array(let found) = try c.call("KEYS", "user:*") else { throw TestFailure("not an array") }
            #expect(Set(found) == [.bulk("user:1"), .bulk("user:2")])
            #expect(try c.command("KEYS", "nomatch*") == "*0\r\n")
        }
    }

    @Test("SCAN walks all keys with MATCH and COUNT and ends at cursor 0")
    func scan() async throws {
        try await withServer { server in
            let c = try server.connect()
            for i in 0..<250 { _ = try c.command("SET", "key:\(i)", "v") }
            _ = try c.command("SET", "skip", "v")
            var cursor = "0"
            var seen = Set<RESPValueWrapper>()
            var rounds = 0
            repeat {
                guard case .array(let reply) = try c.call("SCAN", cursor, "MATCH", "key:*", "COUNT", "40"),
                      case .bulkString(let next) = reply[0], case .array(let keys) = reply[1] else {
                    throw TestFailure("bad SCAN reply")
                }
                cursor = String(decoding: next, as: UTF8.self)
                keys.forEach { seen.insert(RESPValueWrapper(value: $0)) }
                rounds += 1
            } while cursor != "0" && rounds < 100
            #expect(cursor == "0")
            #expect(seen.count == 250)
            #expect(try c.command("SCAN", "abc") == "-ERR invalid cursor\r\n")
            // Read as Redis 7.0 reads it, with strtoul.
            // (-1 is the largest cursor, of no scan: it starts over, as any stale cursor does.)
            #expect(try c.command("SCAN", "-1").hasPrefix("*2\r\n$"))
            #expect(try c.command("SCAN", "-1", "COUNT", "abc") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("SCAN", " 1") == "-ERR invalid cursor\r\n")
            #expect(try c.command("SCAN", "1x") == "-ERR invalid cursor\r\n")
            #expect(try c.command("SCAN", "18446744073709551616") == "-ERR invalid cursor\r\n")
            #expect(ScanOptions.parseCursor(Array("1\u{0}x".utf8)) == 1)
            #expect(ScanOptions.parseCursor([]) == 0)
            #expect(ScanOptions.parseCursor(Array("+7".utf8)) == 7)
            #expect(ScanOptions.parseCursor(Array("-".utf8)) == nil)
            #expect(try c.command("SCAN", "0", "COUNT", "0") == "-ERR syntax error\r\n")
            #expect(try c.command("SCAN", "0", "COUNT", "1000", "TYPE", "list") == "*2\r\n$1\r\n0\r\n*0\r\n")
        }
    }

    @Test("RENAME moves the value and its TTL, overwrites the destination, and needs the source")
    func rename() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "a", "1", "EX", "100")
            _ = try c.command("HSET", "b", "f", "v")
            #expect(try c.command("RENAME", "a", "b") == "+OK\r\n")
            #expect(try c.command("GET", "b") == "$1\r\n1\r\n")
            #expect(try c.command("TTL", "b") == ":100\r\n")
            #expect(try c.command("EXISTS", "a") == ":0\r\n")
            #expect(try c.command("RENAME", "b", "b") == "+OK\r\n")
            #expect(try c.command("RENAME", "missing", "x") == "-ERR no such key\r\n")
            _ = try c.command("CONSUME", "bucket", "5", "1")
            #expect(try c.command("RENAME", "bucket", "moved") == "+OK\r\n")
            #expect(try c.command("TYPE", "moved") == "+leakybucket\r\n")
            server.clock.advance(milliseconds: 100_001)
            #expect(try c.command("RENAME", "b", "c") == "-ERR no such key\r\n")
        }
    }

    @Test("RENAMENX renames only onto an absent key")
    func renameIfAbsent() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("MSET", "a", "1", "b", "2")
            #expect(try c.command("RENAMENX", "a", "b") == ":0\r\n")
            #expect(try c.command("RENAMENX", "a", "a") == ":0\r\n")
            #expect(try c.command("RENAMENX", "a", "c") == ":1\r\n")
            #expect(try c.command("MGET", "a", "b", "c") == "*3\r\n$-1\r\n$1\r\n2\r\n$1\r\n1\r\n")
            #expect(try c.command("RENAMENX", "missing", "d") == "-ERR no such key\r\n")
        }
    }
}
