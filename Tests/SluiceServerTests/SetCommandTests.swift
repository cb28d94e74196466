import Testing
import RESP
import SluiceServer

/// The members of a reply that lists them (a RESP2 array or a RESP3 set), as strings.
private func members(_ reply: RESPValue) -> [String] {
    let elements: [RESPValue]
    switch reply {
    case .array(let values), .set(let values): elements = values
    default: return []
    }
    return elements.compactMap { if case .bulkString(let bytes) = $0 { String(decoding: bytes, as: UTF8.self) } else { nil } }
}

@Suite("Set commands")
struct SetCommandTests {
    @Test("in one pipelined burst, each command reads its own key and members where they lie")
    func pipelinedReads() async throws {
        try await withServer { server in
            let c = try server.connect()
            let replies = try pipelined(c, [
                ["SADD", "s1", "x", "y"], ["SADD", "s2", "z"],
                ["SISMEMBER", "s1", "y"], ["SISMEMBER", "s2", "y"], ["SMISMEMBER", "s2", "x", "z"],
                ["SCARD", "s1"], ["SREM", "s1", "x"], ["SMEMBERS", "s1"],
            ])
            #expect(replies == [":2\r\n", ":1\r\n", ":1\r\n", ":0\r\n", "*2\r\n:0\r\n:1\r\n", ":2\r\n", ":1\r\n", "*1\r\n$1\r\ny\r\n"])
        }
    }

    @Test("SPOP with a count removes exactly the members it returns, all distinct")
    func popWithCount() async throws {
        try await withServer { server in
            let c = try server.connect()
            let all = (0..<300).map { "m\($0)" }
            #expect(try c.command(["SADD", "s"] + all) == ":300\r\n")
            var popped: [String] = []
            for count in [1, 7, 100] {
                let reply = members(try c.call("SPOP", "s", "\(count)"))
                #expect(reply.count == count)
                popped += reply
            }
            #expect(Set(popped).count == popped.count)
            let left = members(try c.call("SMEMBERS", "s"))
            #expect(Set(left).isDisjoint(with: popped))
            #expect(Set(left).union(popped) == Set(all))
            #expect(try c.command("SCARD", "s") == ":192\r\n")
        }
    }

    @Test("SRANDMEMBER with a positive count returns distinct members, small and large counts alike, and changes nothing")
    func randomDistinct() async throws {
        try await withServer { server in
            let c = try server.connect()
            let all = Set((0..<1_000).map { "m\($0)" })
            _ = try c.command(["SADD", "s"] + all.sorted())
            // 5 draws members one by one; 600 shuffles them all.
            for count in [5, 600, 999] {
                let reply = members(try c.call("SRANDMEMBER", "s", "\(count)"))
                #expect(reply.count == count)
                #expect(Set(reply).count == count)
                #expect(Set(reply).isSubset(of: all))
            }
            #expect(try c.command("SCARD", "s") == ":1000\r\n")
        }
    }

    @Test("SRANDMEMBER with a negative count returns that many members, repeating them")
    func randomRepeating() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SADD", "s", "a", "b")
            let reply = members(try c.call("SRANDMEMBER", "s", "-200"))
            #expect(reply.count == 200)
            #expect(Set(reply) == ["a", "b"])
            #expect(try c.command("SRANDMEMBER", "s", "-10000001").hasPrefix("-ERR value is out of range"))
            #expect(try c.command("SCARD", "s") == ":2\r\n")
        }
    }

    @Test("a set large enough for its index answers membership, removal and popping")
    func largeSet() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command(["SADD", "s"] + (0..<5_000).map { "m\($0)" })
            #expect(try c.command(["SREM", "s"] + (0..<5_000).filter { $0 % 2 == 0 }.map { "m\($0)" }) == ":2500\r\n")
            #expect(try c.command("SMISMEMBER", "s", "m0", "m1", "m4998", "m4999") == "*4\r\n:0\r\n:1\r\n:0\r\n:1\r\n")
            #expect(try c.command("SINTERCARD", "1", "s", "LIMIT", "10") == ":10\r\n")
            #expect(members(try c.call("SPOP", "s", "2499")).allSatisfy { Int($0.dropFirst())! % 2 == 1 })
            #expect(try c.command("SCARD", "s") == ":1\r\n")
        }
    }

    @Test("SADD and SPOP invalidate a WATCH; SADD of members already there does not")
    func watch() async throws {
        try await withServer { server in
            let c = try server.connect()
            let other = try server.connect()
            _ = try c.command("SADD", "s", "a")
            for (change, aborted) in [(["SADD", "s", "a"], false), (["SADD", "s", "b"], true), (["SPOP", "s"], true)] {
                #expect(try c.command("WATCH", "s") == "+OK\r\n")
                _ = try other.command(change)
                #expect(try c.command("MULTI") == "+OK\r\n")
                #expect(try c.command("SCARD", "s") == "+QUEUED\r\n")
                #expect(try c.command("EXEC").hasPrefix(aborted ? "*-1" : "*1"), "\(change)")
            }
        }
    }

    @Test("set commands across the shards of a sharded keyspace: SINTERSTORE, SUNIONSTORE and SMOVE see every key")
    func sharded() async throws {
        try await withServer(configure: {
            $0.threads = 2
            $0.keyspaceShards = 8
        }) { server in
            let c = try server.connect()
            // Twenty keys land on all eight shards.
            for index in 0..<20 { _ = try c.command("SADD", "k\(index)", "common", "only\(index)") }
            let keys = (0..<20).map { "k\($0)" }
            #expect(try c.command(["SINTERSTORE", "inter"] + keys) == ":1\r\n")
            #expect(try c.command(["SUNIONSTORE", "union"] + keys) == ":21\r\n")
            #expect(try c.command(["SDIFF", "k0"] + keys.dropFirst()) == "*1\r\n$5\r\nonly0\r\n")
            for index in 1..<20 { #expect(try c.command("SMOVE", "k\(index)", "k0", "only\(index)") == ":1\r\n") }
            #expect(try c.command("SCARD", "k0") == ":21\r\n")
            #expect(try c.command(["SINTERCARD", "20"] + keys) == ":1\r\n")
        }
    }

    @Test("a script reads a set as a Lua table and pops from it")
    func scripting() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SADD", "s", "only")
            #expect(try c.command("EVAL", "return redis.call('SMEMBERS', KEYS[1])", "1", "s") == "*1\r\n$4\r\nonly\r\n")
            #expect(try c.command("EVAL", "return redis.call('SPOP', KEYS[1])", "1", "s") == "$4\r\nonly\r\n")
            #expect(try c.command("EXISTS", "s") == ":0\r\n")
        }
    }
}
