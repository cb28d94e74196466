import NIOCore
import RESP
import SluiceCore
import SluiceServer
import Testing

private let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n"

/// A field of an `INFO` section, as text.
private func info(_ c: RawConnection, _ section: String, _ field: String) throws -> String? {
    guard case .bulkString(let bytes) = try c.call("INFO", section) else { throw TestFailure("INFO \(section)") }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(field + ":") {
        return String(line.dropFirst(field.count + 1))
    }
    return nil
}

private func usedMemory(_ c: RawConnection) throws -> Int {
    guard let text = try info(c, "memory", "used_memory"), let value = Int(text) else { throw TestFailure("used_memory") }
    return value
}

/// Sends every command in one write, then reads as many raw replies.
private func pipeline(_ c: RawConnection, _ commands: [[String]]) throws -> [String] {
    var buffer = ByteBuffer()
    for command in commands { buffer.writeRESPCommand(command.map { Array($0.utf8) }) }
    try c.send(Array(buffer.readableBytesView))
    return try commands.map { _ in try c.readRaw() }
}

/// What a short-named key holding `length` bytes of string costs in the estimate.
private func stringKeyCost(_ length: Int) -> Int {
    MemoryEstimate.entry + MemoryEstimate.bytes(length)
}

@Suite("maxmemory")
struct MaxMemoryTests {
    @Test("maxmemory takes Redis's units from the file, the environment and flags; the policies by name")
    func configurationSources() throws {
        func load(_ flags: [String], file: String = "", environment: [String: String] = [:]) throws(ConfigurationError) -> ServerConfiguration {
            try ServerConfiguration.load(flags: flags, configPath: "sluice.toml", environment: environment,
                                         readFile: { _ throws(ConfigurationError) in file })
        }
        #expect(try load([]).maxMemoryBytes == 0)
        #expect(try load([]).maxMemoryPolicy == .noEviction)
        #expect(try load([], file: "maxmemory = \"100mb\"\n").maxMemoryBytes == 104_857_600)
        #expect(try load([], environment: ["SLUICE_MAXMEMORY": "1gb"]).maxMemoryBytes == 1_073_741_824)
        #expect(try load(["--maxmemory", "512k"]).maxMemoryBytes == 512_000)
        #expect(try load(["--maxmemory=12345"]).maxMemoryBytes == 12_345)
        let evicting = try load(["--maxmemory-policy", "volatile-ttl"], environment: ["SLUICE_MAXMEMORY_SAMPLES": "10"])
        #expect(evicting.maxMemoryPolicy == .volatileTTL && evicting.maxMemorySamples == 10)
        #expect(try load(["--maxmemory-policy", "allkeys-random"]).maxMemoryPolicy == .allKeysRandom)
        #expect(try load(["--maxmemory-policy", "volatile-random"]).maxMemoryPolicy == .volatileRandom)
        #expect(throws: ConfigurationError.self) { try load(["--maxmemory", "-1"]) }
        do {
            _ = try load(["--maxmemory-policy", "volatile-lru"])
            Issue.record("volatile-lru accepted")
        } catch {
            #expect(error.description == "invalid maxmemory-policy 'volatile-lru' (flag --maxmemory-policy): volatile-lru is not supported "
                + "(Sluice keeps no access times); use one of: noeviction, volatile-ttl, volatile-random, allkeys-random")
        }
        #expect(ServerConfiguration.optionsHelp.contains("--maxmemory-policy <POLICY>  (CONFIG SET)"))
    }

    @Test("over maxmemory with noeviction, commands flagged denyoom get Redis's -OOM and nothing changes")
    func oomText() async throws {
        try await withServer(configure: { $0.maxMemoryBytes = 1 }) { server in
            let c = try server.connect()
            // The check comes before a command: the first write finds nothing stored yet.
            #expect(try c.command("SET", "a", "abc") == "+OK\r\n")
            for command in [
                ["SET", "b", "x"], ["SETNX", "b", "x"], ["MSET", "b", "x"], ["APPEND", "a", "x"], ["INCR", "n"],
                ["INCRBY", "n", "2"], ["INCRBYFLOAT", "n", "1.5"], ["HSET", "h", "f", "v"], ["LPUSH", "l", "x"],
                ["ZADD", "z", "1", "m"], ["CONSUME", "lb", "5", "10"],
            ] {
                #expect(try c.command(command) == oom, "\(command)")
            }
            #expect(try c.command("GET", "a") == "$3\r\nabc\r\n")
            #expect(try c.command("DBSIZE") == ":1\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("every native rate-limit command refuses to create keys over maxmemory")
    func rateLimitCommandsRefused() async throws {
        try await withServer(configure: { $0.maxMemoryBytes = 1 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "filler", "x") == "+OK\r\n")
            for command in [
                ["CONSUME", "k", "5", "10"], ["CL.THROTTLE", "k", "15", "30", "60"],
                ["ACQUIRE", "k", "1", "RATE", "10", "1000"], ["INCR", "k", "1", "10", "1000"],
                ["DECR", "k", "1", "-10", "1000"], ["ADD", "k", "1", "1000"],
                ["INCR_AND_SUM", "k", "1", "10", "1000", "k"],
            ] {
                #expect(try c.command(command) == oom, "\(command)")
            }
            #expect(try c.command("EXISTS", "k") == ":0\r\n")
            // PEEK only reads.
            #expect(try c.command("PEEK", "k", "5", "10").hasPrefix("*4\r\n:1\r\n:0\r\n"))
        }
    }

    @Test("over the limit, reads, DEL, EXPIRE and other commands that add nothing still run; after DEL frees enough, writes work again")
    func readsAndDeletesStillRun() async throws {
        try await withServer(configure: { $0.maxMemoryBytes = stringKeyCost(3) }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "a", "abc") == "+OK\r\n")
            #expect(try c.command("SET", "b", "abc") == "+OK\r\n")
            #expect(try c.command("SET", "c", "abc") == oom)
            #expect(try c.command("GET", "b") == "$3\r\nabc\r\n")
            #expect(try c.command("EXPIRE", "b", "100") == ":1\r\n")
            #expect(try c.command("TTL", "b") == ":100\r\n")
            #expect(try c.command("PERSIST", "b") == ":1\r\n")
            let before = try usedMemory(c)
            #expect(try c.command("RENAME", "b", "b2") == "+OK\r\n")
            #expect(try c.command("RENAME", "b2", "b") == "+OK\r\n")
            #expect(try usedMemory(c) == before)
            #expect(try c.command("GETDEL", "b") == "$3\r\nabc\r\n")
            #expect(try c.command("SET", "c", "abc") == "+OK\r\n")
            #expect(try c.command("SET", "d", "abc") == oom)
            #expect(try c.command("DEL", "c") == ":1\r\n")
            #expect(try c.command("SET", "d", "abc") == "+OK\r\n")
            #expect(try c.command("MGET", "a", "d") == "*2\r\n$3\r\nabc\r\n$3\r\nabc\r\n")
            let errors = try info(c, "errorstats", "errorstat_OOM")
            #expect(errors == "count=2")
            #expect(try c.command("INFO", "commandstats").contains("cmdstat_set:calls=4,"))
        }
    }

    @Test("CONFIG SET maxmemory applies at once; CONFIG GET and INFO memory show it and the estimate")
    func configSetAtRunTime() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CONFIG", "GET", "maxmemory*") == "*6\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n")
            #expect(try c.command("SET", "a", "abc") == "+OK\r\n")
            #expect(try c.command("SET", String(repeating: "k", count: 30), String(repeating: "v", count: 100)) == "+OK\r\n")
            let expected = stringKeyCost(3) + MemoryEstimate.entry + MemoryEstimate.largeKey(30) + MemoryEstimate.bytes(100)
            #expect(try usedMemory(c) == expected)
            #expect(try info(c, "memory", "maxmemory") == "0")
            #expect(try info(c, "memory", "maxmemory_human") == "0B")
            #expect(try info(c, "memory", "maxmemory_policy") == "noeviction")
            #expect(try c.command("CONFIG", "SET", "maxmemory", "1mb") == "+OK\r\n")
            #expect(try c.command("CONFIG", "GET", "maxmemory") == "*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n")
            #expect(try info(c, "memory", "maxmemory") == "1048576")
            #expect(try info(c, "memory", "maxmemory_human") == "1.00M")
            #expect(try c.command("SET", "b", "abc") == "+OK\r\n")
            #expect(try c.command("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
            #expect(try c.command("SET", "c", "abc") == oom)
            #expect(try c.command("CONFIG", "SET", "maxmemory", "0") == "+OK\r\n")
            #expect(try c.command("SET", "c", "abc") == "+OK\r\n")
        }
    }

    @Test("maxmemory-policy takes Redis's names it supports and refuses the others, naming what is supported")
    func policyNames() async throws {
        try await withServer { server in
            let c = try server.connect()
            let failed = { (name: String, reason: String) in "-ERR CONFIG SET failed (possibly related to argument '\(name)') - \(reason)\r\n" }
            let supported = "noeviction, volatile-ttl, volatile-random, allkeys-random"
            #expect(try c.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
                == failed("maxmemory-policy", "allkeys-lru is not supported (Sluice keeps no access times); use one of: \(supported)"))
            #expect(try c.command("CONFIG", "SET", "maxmemory-policy", "bogus")
                == failed("maxmemory-policy", "argument(s) must be one of the following: \(supported)"))
            #expect(try c.command("CONFIG", "SET", "maxmemory", "1x") == failed("maxmemory", "argument must be a memory value"))
            #expect(try c.command("CONFIG", "SET", "maxmemory-samples", "0")
                == failed("maxmemory-samples", "argument must be between 1 and 2147483647 inclusive"))
            #expect(try c.command("CONFIG", "SET", "maxmemory-policy", "VOLATILE-TTL") == "+OK\r\n")
            #expect(try c.command("CONFIG", "GET", "maxmemory-policy") == "*2\r\n$16\r\nmaxmemory-policy\r\n$12\r\nvolatile-ttl\r\n")
            #expect(try info(c, "memory", "maxmemory_policy") == "volatile-ttl")
        }
    }

    @Test("inside MULTI over the limit every queued command is refused and EXEC aborts; DISCARD still works")
    func multiWhileOver() async throws {
        try await withServer(configure: { $0.maxMemoryBytes = 1 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "a", "abc") == "+OK\r\n")
            #expect(try c.command("MULTI") == "+OK\r\n")
            #expect(try c.command("SET", "b", "x") == oom)
            #expect(try c.command("GET", "a") == oom)
            #expect(try c.command("EXEC") == "-EXECABORT Transaction discarded because of previous errors.\r\n")
            #expect(try c.command("MULTI") == "+OK\r\n")
            #expect(try c.command("DISCARD") == "+OK\r\n")
            #expect(try c.command("GET", "a") == "$3\r\nabc\r\n")
        }
    }

    @Test("EXEC of a queue holding a denyoom command aborts once over the limit; a queue of reads and deletions runs")
    func execAfterGoingOver() async throws {
        try await withServer { server in
            let writer = try server.connect()
            let reader = try server.connect()
            let admin = try server.connect()
            #expect(try admin.command("SET", "q", "abc") == "+OK\r\n")
            #expect(try writer.command("MULTI") == "+OK\r\n")
            #expect(try writer.command("SET", "q", "new") == "+QUEUED\r\n")
            #expect(try reader.command("MULTI") == "+OK\r\n")
            #expect(try reader.command("GET", "q") == "+QUEUED\r\n")
            #expect(try reader.command("DEL", "q") == "+QUEUED\r\n")
            #expect(try admin.command("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
            #expect(try writer.command("EXEC")
                == "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n")
            #expect(try reader.command("EXEC") == "*2\r\n$3\r\nabc\r\n:1\r\n")
            #expect(try writer.command("EXEC") == "-ERR EXEC without MULTI\r\n")
        }
    }

    @Test("scripts over the limit: denyoom calls fail until the script wrote, shebang scripts are refused unless no-writes or allow-oom")
    func scriptsWhileOver() async throws {
        try await withServer(configure: { $0.maxMemoryBytes = 1 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "a", "abc") == "+OK\r\n")
            #expect(try c.command("SET", "gone", "abc") == oom)
            let body = "return redis.call('SET','x','y')"
            guard case .bulkString(let sha) = try c.call("SCRIPT", "LOAD", body) else { throw TestFailure("SCRIPT LOAD") }
            #expect(try c.command("EVAL", body, "0")
                == "-OOM command not allowed when used memory > 'maxmemory'. script: \(String(decoding: sha, as: UTF8.self)), on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "return redis.pcall('SET','x','y')", "0") == oom)
            #expect(try c.command("EVAL", "return redis.call('GET','a')", "0") == "$3\r\nabc\r\n")
            // A script that already wrote may finish, as in Redis.
            #expect(try c.command("EVAL", "redis.call('DEL','nothing') return redis.call('SET','x','y')", "0") == "+OK\r\n")
            #expect(try c.command("EVAL", "#!lua\nreturn 1", "0") == oom)
            #expect(try c.command("EVAL", "#!lua flags=no-writes\nreturn redis.call('GET','a')", "0") == "$3\r\nabc\r\n")
            #expect(try c.command("EVAL", "#!lua flags=allow-oom\nreturn redis.call('SET','y','z')", "0") == "+OK\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("volatile-ttl evicts the keys nearest their deadline first and never a key without one")
    func volatileTTL() async throws {
        try await withServer(configure: { $0.maxMemoryPolicy = .volatileTTL; $0.maxMemorySamples = 64 }) { server in
            let c = try server.connect()
            for index in 1...5 { #expect(try c.command("SET", "keep\(index)", "0123456789") == "+OK\r\n") }
            // Set in an order unrelated to the deadlines.
            for index in [7, 2, 9, 4, 1, 10, 6, 3, 8, 5] {
                #expect(try c.command("SET", "ttl\(index)", "0123456789", "PX", "\(index * 1000)") == "+OK\r\n")
            }
            let used = try usedMemory(c)
            #expect(used == 15 * stringKeyCost(10))
            #expect(try c.command("CONFIG", "SET", "maxmemory", "\(used - 3 * stringKeyCost(10))") == "+OK\r\n")
            // The next command finds the data over the limit and evicts the three nearest.
            #expect(try c.command("DBSIZE") == ":12\r\n")
            guard case .array(let names) = try c.call("KEYS", "*") else { throw TestFailure("KEYS") }
            let left = Set(names.compactMap { if case .bulkString(let name) = $0 { String(decoding: name, as: UTF8.self) } else { nil } })
            #expect(left == Set((1...5).map { "keep\($0)" } + (4...10).map { "ttl\($0)" }))
            #expect(try info(c, "stats", "evicted_keys") == "3")
            // At the limit, not over it: this write runs, and the next command evicts ttl4.
            #expect(try c.command("SET", "new", "0123456789") == "+OK\r\n")
            #expect(try c.command("EXISTS", "ttl4") == ":0\r\n")
            #expect(try c.command("EXISTS", "ttl5") == ":1\r\n")
            // With nothing left that may go, writes are refused and the persistent keys stay.
            #expect(try c.command("CONFIG", "SET", "maxmemory", "1") == "+OK\r\n")
            #expect(try c.command("SET", "more", "x") == oom)
            #expect(try c.command("DBSIZE") == ":6\r\n")
            #expect(try c.command("GET", "keep3") == "$10\r\n0123456789\r\n")
            #expect(try info(c, "stats", "evicted_keys") == "10")
        }
    }

    @Test("a flood of distinct CONSUME keys under noeviction stops at the limit; other keys are untouched")
    func floodNoEviction() async throws {
        let limit = 64 * 1024
        try await withServer(configure: { $0.maxMemoryBytes = limit }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "other", "kept") == "+OK\r\n")
            let replies = try pipeline(c, (0..<3_000).map { ["CONSUME", "flood:\($0)", "5", "10"] })
            let refused = replies.filter { $0 == oom }.count
            // A bucket's estimate is one entry, 56 bytes: about 1,170 fit under the limit.
            #expect(abs(refused - (3_000 - limit / MemoryEstimate.entry)) <= 2)
            #expect(replies.allSatisfy { $0 == oom || $0.hasPrefix("*4\r\n:1\r\n") })
            let used = try usedMemory(c)
            #expect(used > limit && used <= limit + MemoryEstimate.entry)
            #expect(try c.command("DBSIZE") == ":\(3_001 - refused)\r\n")
            #expect(try c.command("GET", "other") == "$4\r\nkept\r\n")
        }
    }

    @Test("a flood of distinct CONSUME keys under volatile-ttl evicts older buckets and stays within the limit; keys without TTL stay")
    func floodVolatileTTL() async throws {
        let limit = 64 * 1024
        try await withServer(configure: { $0.maxMemoryBytes = limit; $0.maxMemoryPolicy = .volatileTTL }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "other", "kept") == "+OK\r\n")
            for round in 0..<3 {
                let replies = try pipeline(c, (0..<3_000).map { ["CONSUME", "flood:\(round):\($0)", "5", "10"] })
                #expect(replies.allSatisfy { $0.hasPrefix("*4\r\n:1\r\n") })
                server.clock.advance(milliseconds: 1)
            }
            let used = try usedMemory(c)
            #expect(used <= limit + MemoryEstimate.entry)
            guard let evicted = try info(c, "stats", "evicted_keys").flatMap({ Int($0) }) else { throw TestFailure("evicted_keys") }
            guard case .integer(let keys) = try c.call("DBSIZE") else { throw TestFailure("DBSIZE") }
            // About the limit's worth of buckets stay (56 bytes each); the rest went.
            #expect(Int(keys) <= limit / MemoryEstimate.entry + 1 && evicted + Int(keys) == 9_001)
            #expect(try c.command("GET", "other") == "$4\r\nkept\r\n")
        }
    }

    @Test("/metrics exports the estimate, the limit and evictions")
    func metrics() async throws {
        try await withServer(configure: { $0.metricsPort = 0; $0.maxMemoryPolicy = .allKeysRandom }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "a", "abc") == "+OK\r\n")
            #expect(try c.command("SET", "b", "abc") == "+OK\r\n")
            #expect(try c.command("CONFIG", "SET", "maxmemory", "\(stringKeyCost(3))") == "+OK\r\n")
            #expect(try c.command("DBSIZE") == ":1\r\n")
            let metrics = try scrape(server)
            #expect(metrics.sample("sluice_used_memory_bytes") == "\(stringKeyCost(3))")
            #expect(metrics.sample("sluice_maxmemory_bytes") == "\(stringKeyCost(3))")
            #expect(metrics.sample("sluice_evicted_keys_total") == "1")
        }
    }

    @Test("keys loaded from a snapshot are counted in used_memory")
    func snapshotLoadCounted() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }) { first in
            let c = try first.connect()
            #expect(try c.command("SET", "s", "abc") == "+OK\r\n")
            #expect(try c.command("RPUSH", "l", "x", "yy", "zzz") == ":3\r\n")
            #expect(try c.command("HSET", "h", "f", "v") == ":1\r\n")
            _ = try c.command("CONSUME", "lb", "5", "3600")
            let used = try usedMemory(c)
            #expect(used > 4 * MemoryEstimate.entry)
            #expect(try c.command("SAVE") == "+OK\r\n")
            try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.maxMemoryBytes = 1 }) { second in
                let d = try second.connect()
                // The total is each loaded key's own cost. It need not equal the first
                // server's: a packed value's estimate follows its array's capacity, and
                // malloc may give a rebuilt array a larger chunk on a busy heap.
                var usages = 0
                for key in ["s", "l", "h", "lb"] {
                    guard case .integer(let usage) = try d.call("MEMORY", "USAGE", key) else { throw TestFailure("MEMORY USAGE \(key)") }
                    usages += Int(usage)
                }
                let loaded = try usedMemory(d)
                #expect(loaded == usages && loaded > 4 * MemoryEstimate.entry)
                #expect(try d.command("SET", "t", "abc") == oom)
            }
        }
    }
}
