import Testing
import RESP
import SluiceServer

/// A server whose keyspace has 8 shards, on two event loops.
private func withShardedServer<T>(_ body: (TestServer) async throws -> T) async throws -> T {
    try await withServer(configure: {
        $0.threads = 2
        $0.keyspaceShards = 8
    }, body)
}

/// The `name:value` lines of an INFO reply.
private func infoFields(_ reply: RESPValue) -> [String: String] {
    guard case .bulkString(let bytes) = reply else { return [:] }
    var fields: [String: String] = [:]
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") where !line.hasPrefix("#") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
    }
    return fields
}

@Suite("Sharded keyspace over real sockets")
struct ShardingTests {
    @Test("commands run on their shards are counted exactly in INFO, and CONFIG RESETSTAT zeroes them there too")
    func countersAcrossShards() async throws {
        try await withShardedServer { server in
            let connections = try (0..<4).map { _ in try server.connect() }
            for (index, connection) in connections.enumerated() {
                var burst = ""
                for key in 0..<50 { burst += "INCR counter:\(key)\r\nCONSUME bucket:\(index):\(key) 1 60\r\nGET counter:\(key)\r\n" }
                try connection.send(burst)
                for _ in 0..<150 { _ = try connection.readValue() }
            }
            let info = infoFields(try connections[0].call("INFO", "commandstats"))
            #expect(info["cmdstat_incr"]?.hasPrefix("calls=200,") == true, "\(info)")
            #expect(info["cmdstat_consume"]?.hasPrefix("calls=200,") == true)
            #expect(info["cmdstat_get"]?.hasPrefix("calls=200,") == true)
            #expect(infoFields(try connections[0].call("INFO", "server"))["keyspace_shards"] == "8")
            let stats = infoFields(try connections[0].call("INFO", "stats"))
            #expect(stats["ratelimit_consume_allowed"] == "200")
            #expect(stats["keyspace_hits"] == "200")
            // 600 commands, three INFOs before this one's own count.
            #expect(stats["total_commands_processed"] == "603")
            #expect(try connections[1].command("GET", "counter:7") == "$1\r\n4\r\n")
            #expect(try connections[0].command("CONFIG", "RESETSTAT") == "+OK\r\n")
            let reset = infoFields(try connections[0].call("INFO", "commandstats"))
            #expect(reset["cmdstat_incr"] == nil && reset["cmdstat_get"] == nil, "\(reset)")
        }
    }

    @Test("hash and sorted-set commands run on shards from connections on both loops land every change")
    func collectionsOnShards() async throws {
        try await withShardedServer { server in
            let connections = try (0..<4).map { _ in try server.connect() }
            for connection in connections {
                var burst = ""
                for key in 0..<20 { burst += "HINCRBY hash:\(key) field 1\r\nZINCRBY zset:\(key) 2 member\r\n" }
                try connection.send(burst)
            }
            for connection in connections { for _ in 0..<40 { _ = try connection.readValue() } }
            let c = connections[0]
            #expect(try c.command("HGET", "hash:7", "field") == "$1\r\n4\r\n")
            #expect(try c.command("ZSCORE", "zset:19", "member") == "$1\r\n8\r\n")
            #expect(try c.command("HGETALL", "hash:0") == "*2\r\n$5\r\nfield\r\n$1\r\n4\r\n")
            #expect(try c.command("DBSIZE") == ":40\r\n")
            let info = infoFields(try c.call("INFO", "commandstats"))
            #expect(info["cmdstat_hincrby"]?.hasPrefix("calls=80,") == true, "\(info)")
        }
    }

    @Test("DBSIZE, KEYS, SCAN, MGET and FLUSHALL take in the keys of every shard")
    func wholeKeyspaceCommands() async throws {
        try await withShardedServer { server in
            let c = try server.connect()
            var burst = ""
            for key in 0..<300 { burst += "SET key:\(key) \(key)\r\n" }
            try c.send(burst)
            for _ in 0..<300 { #expect(try c.readRaw() == "+OK\r\n") }
            #expect(try c.command("DBSIZE") == ":300\r\n")
            guard case .array(let keys) = try c.call("KEYS", "*") else { throw TestFailure("KEYS") }
            #expect(keys.count == 300)
            var cursor = "0"
            var scanned = Set<String>()
            repeat {
                guard case .array(let reply) = try c.call("SCAN", cursor, "COUNT", "17"),
                      case .bulkString(let next) = reply[0], case .array(let found) = reply[1] else { throw TestFailure("SCAN") }
                cursor = String(decoding: next, as: UTF8.self)
                for case .bulkString(let name) in found { scanned.insert(String(decoding: name, as: UTF8.self)) }
            } while cursor != "0"
            #expect(scanned == Set((0..<300).map { "key:\($0)" }))
            #expect(try c.command("MGET", "key:1", "key:299") == "*2\r\n$1\r\n1\r\n$3\r\n299\r\n")
            #expect(try c.command("FLUSHALL") == "+OK\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
        }
    }

    @Test("WATCH sees a write run on the key's shard by another connection")
    func watchAcrossShards() async throws {
        try await withShardedServer { server in
            let watcher = try server.connect()
            let other = try server.connect()
            #expect(try watcher.command("WATCH", "w") == "+OK\r\n")
            #expect(try other.command("INCR", "w") == ":1\r\n")
            #expect(try watcher.command("MULTI") == "+OK\r\n")
            #expect(try watcher.command("INCR", "w") == "+QUEUED\r\n")
            #expect(try watcher.command("EXEC") == "*-1\r\n")
            #expect(try watcher.command("WATCH", "w") == "+OK\r\n")
            #expect(try watcher.command("MULTI") == "+OK\r\n")
            #expect(try watcher.command("INCR", "w") == "+QUEUED\r\n")
            #expect(try watcher.command("EXEC") == "*1\r\n:2\r\n")
        }
    }
}
