import Testing
import RESP
import SluiceServer

/// The cursor and the items of a SCAN-family reply, items as strings.
private func step(_ reply: RESPValue) -> (cursor: String, items: [String])? {
    guard case .array(let parts) = reply, parts.count == 2,
          case .bulkString(let cursor) = parts[0], case .array(let items) = parts[1] else { return nil }
    let texts = items.compactMap { if case .bulkString(let bytes) = $0 { String(decoding: bytes, as: UTF8.self) } else { nil } }
    return (String(decoding: cursor, as: UTF8.self), texts)
}

/// Every item of a full iteration, from cursor 0 until the server answers cursor 0.
private func scanAll(_ c: RawConnection, _ command: String, _ key: String, _ options: [String] = []) throws -> (items: [String], steps: Int) {
    var cursor = "0"
    var items: [String] = []
    var steps = 0
    repeat {
        guard let reply = step(try c.call([command, key, cursor] + options)) else { return (items, -1) }
        cursor = reply.cursor
        items += reply.items
        steps += 1
    } while cursor != "0" && steps < 10_000
    return (items, steps)
}

@Suite("SCAN family commands")
struct ScanFamilyTests {
    @Test("HSCAN, SSCAN and ZSCAN walk a large collection in steps to cursor 0, giving every element")
    func fullIteration() async throws {
        try await withServer { server in
            let c = try server.connect()
            let numbers = 0..<500
            _ = try c.command(["HSET", "h"] + numbers.flatMap { ["f\($0)", "v\($0)"] })
            _ = try c.command(["SADD", "s"] + numbers.map { "m\($0)" })
            _ = try c.command(["ZADD", "z"] + numbers.flatMap { ["\($0 / 3)", "m\($0)"] })

            let hash = try scanAll(c, "HSCAN", "h", ["COUNT", "20"])
            #expect(hash.steps >= 25)
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: hash.items.count, by: 2) { fields[hash.items[index]] = hash.items[index + 1] }
            #expect(hash.items.count == 1_000)
            #expect(fields == Dictionary(uniqueKeysWithValues: numbers.map { ("f\($0)", "v\($0)") }))

            let set = try scanAll(c, "SSCAN", "s", ["COUNT", "20"])
            #expect(set.steps >= 25)
            #expect(set.items.count == 500 && Set(set.items) == Set(numbers.map { "m\($0)" }))

            let sorted = try scanAll(c, "ZSCAN", "z", ["COUNT", "20"])
            // A step that ends inside a run of equal scores takes the rest of the run.
            #expect(sorted.steps >= 20 && sorted.steps <= 25)
            #expect(sorted.items.count == 1_000)
            #expect(Set(stride(from: 0, to: sorted.items.count, by: 2).map { sorted.items[$0] }) == Set(numbers.map { "m\($0)" }))
            // The largest COUNT takes everything in one step.
            for (command, key) in [("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")] {
                let whole = try scanAll(c, command, key, ["COUNT", "\(Int64.max)"])
                #expect(whole.steps == 1 && whole.items.count == (command == "SSCAN" ? 500 : 1_000), "\(command)")
            }
            #expect(stride(from: 0, to: sorted.items.count, by: 2).allSatisfy { index in
                sorted.items[index + 1] == "\(Int(sorted.items[index].dropFirst())! / 3)"
            })
        }
    }

    @Test("MATCH filters each step's elements, so steps may come back empty before cursor 0")
    func matchFilters() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command(["SADD", "s"] + (0..<300).map { "m\($0)" })
            let matched = try scanAll(c, "SSCAN", "s", ["MATCH", "m1?", "COUNT", "10"])
            #expect(Set(matched.items) == Set((10..<20).map { "m\($0)" }))
            #expect(matched.items.count == 10)
            #expect(matched.steps == 30)
        }
    }

    @Test("a small collection comes whole in one step, in its order, whatever the cursor and count")
    func smallInOneStep() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "h", "b", "1", "a", "2")
            _ = try c.command("ZADD", "z", "2", "x", "1.5", "y")
            #expect(try c.command("HSCAN", "h", "0", "COUNT", "1") == "*2\r\n$1\r\n0\r\n*4\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n")
            #expect(try c.command("HSCAN", "h", "-1", "MATCH", "a") == "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n2\r\n")
            // Scores are bulk strings in RESP3 too, as Redis sends them in this reply.
            _ = try c.command("HELLO", "3")
            #expect(try c.command("ZSCAN", "z", "0") == "*2\r\n$1\r\n0\r\n*4\r\n$1\r\ny\r\n$3\r\n1.5\r\n$1\r\nx\r\n$1\r\n2\r\n")
        }
    }

    @Test("bad cursors and options are errors in Redis's order, and the connection keeps working")
    func errors() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "h", "a", "1")
            _ = try c.command("SET", "str", "v")
            #expect(try c.command("HSCAN", "h", "x") == "-ERR invalid cursor\r\n")
            #expect(try c.command("SSCAN", "missing", "18446744073709551616") == "-ERR invalid cursor\r\n")
            // A missing key answers before its options are read; another type before them too.
            #expect(try c.command("ZSCAN", "missing", "0", "COUNT", "0") == "*2\r\n$1\r\n0\r\n*0\r\n")
            #expect(try c.command("SSCAN", "str", "0", "COUNT", "0") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("HSCAN", "h", "0", "COUNT", "0") == "-ERR syntax error\r\n")
            #expect(try c.command("HSCAN", "h", "0", "COUNT", "x") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("HSCAN", "h", "0", "TYPE", "hash") == "-ERR syntax error\r\n")
            #expect(try c.command("HSCAN", "h", "0", "MATCH") == "-ERR syntax error\r\n")
            #expect(try c.command("HSCAN", "h") == "-ERR wrong number of arguments for 'hscan' command\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }
}
