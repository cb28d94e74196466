import Foundation
import NIOCore
import RESP
import SluiceCore
import SluiceServer
import Synchronization
import RedisTestSupport
import Testing

/// A step of a parity sequence: a command, or a move of both servers' pinned clocks.
private enum Step {
    case command([String])
    case advance(milliseconds: Int64)
}

private func c(_ words: String...) -> Step { .command(words) }

/// Sequences run against an in-memory server and a backend-mode server with the same
/// pinned clock (`DEBUG SET-CLOCK`; backend mode then passes it to the scripts as `NOW`).
/// The clock starts an hour ahead of the real time, so Redis's own expiry (by its real
/// clock) never removes a key memory mode keeps, however slow the run; and it only moves
/// forward by less than any TTL set, so memory mode never drops a key Redis keeps.
private let paritySequences: [(String, [Step])] = [
    ("leaky bucket", [
        c("CONSUME", "b", "3", "2"), c("CONSUME", "b", "3", "2"), c("PEEK", "b", "3", "2"),
        c("CONSUME", "b", "3", "2", "AMOUNT", "2"), c("CONSUME", "b", "3", "2"),
        .advance(milliseconds: 2_500),
        c("PEEK", "b", "3", "2"), c("CONSUME", "b", "3", "2", "AMOUNT", "2", "BLOCK", "10"),
        c("CONSUME", "b", "3", "2", "AMOUNT", "3", "BLOCK", "10"), c("PEEK", "b", "3", "2", "BLOCK", "10"),
        .advance(milliseconds: 1_250),
        c("CONSUME", "b", "3", "2", "BLOCK", "10"), c("CONSUME", "b2", "5", "0.25", "AMOUNT", "-1"),
        c("CONSUME", "b3", "2", "1e-3"), c("CONSUME", "b3", "2", "1e-3", "AMOUNT", "2"),
        // Seconds whose shortest text is as long as a double's gets (24 characters).
        c("CONSUME", "b4", "2", "1.2345678901234567e-300", "BLOCK", "0.30000000000000004"),
        c("CONSUME", "b4", "2", "1.2345678901234567e-300", "BLOCK", "0.30000000000000004"),
        c("CONSUME", "b4", "2", "1.2345678901234567e-300", "BLOCK", "0.30000000000000004"),
    ]),
    ("leaky bucket argument errors", [
        c("CONSUME", "b", "0", "1"), c("CONSUME", "b", "x", "1"), c("CONSUME", "b", "3", "-1"),
        c("CONSUME", "b", "3", "1", "AMOUNT"), c("CONSUME", "b", "3", "1", "AMOUNT", "x"),
        c("CONSUME", "b", "3", "1", "FOO", "1"), c("CONSUME", "b", "3", "1", "BLOCK", "-1"),
        c("PEEK", "b", "3", "1", "AMOUNT", "1"), c("CONSUME", "b", "3", "1", "AMOUNT", "1", "AMOUNT", "1"),
        c("CONSUME", "b", "3"),
    ]),
    ("bounded counters", [
        c("ADD", "n", "5", "60000"), c("ADD", "n", "6", "60000"), c("INCR", "n", "2", "8", "60000"),
        c("INCR", "n", "2", "8", "60000"), c("DECR", "n", "3", "0", "60000"), c("DECR", "n", "3", "0", "60000"),
        c("DECR", "n", "3", "0", "60000"), c("GET", "n"), c("INCR_AND_SUM", "s", "1", "3", "60000", "n"),
        c("INCR_AND_SUM", "s", "1", "3", "60000", "n"), c("INCR_AND_SUM", "s", "1", "4", "60000", "n", "missing"),
        c("GET", "s"), c("INCR", "n"), c("DECR", "n"), c("INCRBY", "n", "10"), c("GET", "n"),
    ]),
    ("bounded counter argument errors", [
        c("ADD", "n", "x", "1000"), c("ADD", "n", "1", "0"), c("ADD", "n", "1", "x"), c("INCR", "n", "1", "2"),
        c("INCR", "n", "1", "2", "3", "4"), c("INCR", "n", "x", "2", "1000"), c("DECR", "n", "1", "x", "1000"),
        c("INCR_AND_SUM", "s", "1", "x", "1000", "n"), c("ADD", "n"),
    ]),
    ("cell throttle", [
        c("CL.THROTTLE", "t", "2", "10", "60"), c("CL.THROTTLE", "t", "2", "10", "60"),
        c("CL.THROTTLE", "t", "2", "10", "60", "2"), c("CL.THROTTLE", "t", "2", "10", "60"),
        .advance(milliseconds: 7_000),
        c("CL.THROTTLE", "t", "2", "10", "60"), c("CL.THROTTLE", "t", "2", "10", "60", "0"),
        c("CL.THROTTLE", "t", "2", "10", "60", "9"), c("CL.THROTTLE", "t2", "0", "1", "0.5"),
        c("CL.THROTTLE", "t3", "3", "7", "123456.78901234567"), c("CL.THROTTLE", "t3", "3", "7", "123456.78901234567"),
        c("CL.THROTTLE", "t", "-1", "10", "60"), c("CL.THROTTLE", "t", "2", "0", "60"),
        c("CL.THROTTLE", "t", "2", "10", "x"), c("CL.THROTTLE", "t", "2", "10", "60", "-1"),
        c("CL.THROTTLE", "t", "2", "10", "60", "1", "1"),
    ]),
    ("sliding window", [
        c("ACQUIRE", "w", "1", "RATE", "2", "1000", "RATE", "3", "60000"),
        c("ACQUIRE", "w", "1", "RATE", "2", "1000", "RATE", "3", "60000"),
        c("ACQUIRE", "w", "1", "RATE", "2", "1000", "RATE", "3", "60000"),
        .advance(milliseconds: 1_100),
        c("ACQUIRE", "w", "1", "RATE", "2", "1000", "RATE", "3", "60000"),
        c("ACQUIRE", "w", "1", "RATE", "2", "1000", "RATE", "3", "60000"),
        c("ACQUIRE", "w", "5", "RATE", "2", "1000"), c("ACQUIRE", "w", "0", "RATE", "2", "1000"),
        c("ACQUIRE", "w", "1", "RATE", "0", "1000"), c("ACQUIRE", "w", "1", "FOO", "1", "2"),
        c("ACQUIRE", "w", "-1", "RATE", "1", "2"), c("ACQUIRE", "w", "1", "RATE", "1", "x"),
    ]),
    ("wrong types and generic commands", [
        c("SET", "x", "hello"), c("CONSUME", "x", "3", "1"), c("CL.THROTTLE", "x", "1", "1", "1"),
        c("ADD", "x", "1", "1000"), c("INCR", "x", "1", "5", "1000"), c("HSET", "h", "f", "v"),
        c("ACQUIRE", "h", "1", "RATE", "1", "1000"), c("CONSUME", "h", "3", "1"),
        c("GET", "x"), c("EXISTS", "x", "h", "nope"), c("TYPE", "x"), c("APPEND", "x", "!"), c("STRLEN", "x"),
        c("MSET", "m1", "1", "m2", "2"), c("MGET", "m1", "m2", "nope"), c("EXPIRE", "m1", "100"), c("TTL", "m1"),
        c("TTL", "m2"), c("DEL", "m1", "m2", "nope"), c("RPUSH", "l", "a", "b"), c("LRANGE", "l", "0", "-1"),
        c("GET", "h"), c("PING"), c("ECHO", "hi"), c("SELECT", "0"),
    ]),
]

/// Runs `steps` on one connection from `base` (Unix ms), returning the raw replies.
private func run(_ steps: [Step], on connection: RawConnection, base: Int64, prefix: String) throws -> [String] {
    var now = base
    var replies: [String] = []
    #expect(try connection.command("DEBUG", "SET-CLOCK", String(now)) == "+OK\r\n")
    for step in steps {
        switch step {
        case .advance(let milliseconds):
            now += milliseconds
            #expect(try connection.command("DEBUG", "SET-CLOCK", String(now)) == "+OK\r\n")
        case .command(let words):
            // Keys get a per-run prefix; commands without keys are sent as they are.
            let keyed = ["PING", "ECHO", "SELECT"].contains(words[0]) ? words : words.enumerated().map { index, word in
                keyPosition(words, index) ? prefix + word : word
            }
            replies.append(try connection.command(keyed))
        }
    }
    return replies
}

/// Which words of the parity sequences are keys.
private func keyPosition(_ words: [String], _ index: Int) -> Bool {
    switch words[0] {
    case "MSET": return index % 2 == 1
    case "MGET", "EXISTS", "DEL": return index >= 1
    case "INCR_AND_SUM": return index == 1 || index >= 5
    default: return index == 1
    }
}

@Suite("Backend mode", .serialized)
struct BackendModeTests {
    @Test("each native command's replies in backend mode equal in-memory mode's, RESP2 and RESP3")
    func parity() async throws {
        let redis = try RedisServer()
        let base = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        for version in ["2", "3"] {
            for (name, steps) in paritySequences {
                let prefix = "\(name)-\(version):"
                let memory = try await withServer(configure: { $0.enableDebugCommand = .yes }) { server in
                    let connection = try server.connect()
                    _ = try connection.command("HELLO", version)
                    return try run(steps, on: connection, base: base, prefix: prefix)
                }
                let backend = try await withBackendServer(redis) { server in
                    let connection = try server.connect()
                    _ = try connection.command("HELLO", version)
                    return try run(steps, on: connection, base: base, prefix: prefix)
                }
                #expect(memory.count == backend.count)
                for (index, (expected, actual)) in zip(memory, backend).enumerated() {
                    // TYPE of a string is the same in both modes; only buckets and windows differ (documented).
                    #expect(actual == expected, "\(name), RESP\(version), reply \(index)")
                }
            }
        }
    }

    @Test("keyed commands reach the shared Redis; unsafe ones are refused by name; connection commands stay local")
    func forwardingRule() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            #expect(try connection.command("SET", "shared", "42") == "+OK\r\n")
            #expect(try redis.cli(["GET", "shared"]) == "42\n")
            _ = try redis.cli(["SET", "fromredis", "7"])
            #expect(try connection.command("GET", "fromredis") == "$1\r\n7\r\n")
            #expect(try connection.command("CONSUME", "bucket", "5", "100").hasPrefix("*4\r\n:1\r\n:1\r\n"))
            #expect(try redis.cli(["TYPE", "bucket"]) == "hash\n")
            for command in [["MULTI"], ["EXEC"], ["WATCH", "k"], ["EVAL", "return 1", "0"], ["SCRIPT", "FLUSH"],
                            ["BLPOP", "l", "0"], ["KEYS", "*"], ["SCAN", "0"], ["FLUSHALL"], ["DBSIZE"], ["SAVE"], ["BGSAVE"],
                            ["LMPOP", "1", "l", "LEFT"], ["MEMORY", "USAGE", "bucket"]] {
                #expect(try connection.command(command) == "-ERR \(command[0]) is not available in backend mode\r\n")
            }
            #expect(try connection.command("PING") == "+PONG\r\n")
            #expect(try connection.command("ECHO", "x") == "$1\r\nx\r\n")
            #expect(try connection.command("SELECT", "0") == "+OK\r\n")
            let info = try connection.call("INFO", "backend")
            guard case .bulkString(let bytes) = info else { Issue.record("INFO: \(info)"); return }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("backend_url:redis://127.0.0.1:\(redis.port)/0\r\n"))
            #expect(text.contains("backend_connected:1\r\n"))
            #expect(text.contains("backend_pool_size:2\r\n"))
            #expect(text.contains("backend_fail_open_replies:0\r\n"))
            let server = try connection.call("INFO", "server")
            guard case .bulkString(let serverBytes) = server else { return }
            #expect(String(decoding: serverBytes, as: UTF8.self).contains("storage_mode:backend\r\n"))
        }
    }

    @Test("100 pipelined CONSUME and PING come back in request order")
    func pipelinedOrder() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            let commands = (0..<100).map { index in
                index % 3 == 0 ? ["PING"] : ["CONSUME", "ordered", "1000", "1000"]
            }
            let replies = try pipelined(connection, commands)
            var level = 0
            for (command, reply) in zip(commands, replies) {
                if command[0] == "PING" {
                    #expect(reply == "+PONG\r\n")
                } else {
                    level += 1
                    #expect(reply.hasPrefix("*4\r\n:1\r\n:\(level)\r\n"), "level \(level): \(reply)")
                }
            }
            // A later burst after the pipelined one still answers in order.
            let later = try pipelined(connection, [["CONSUME", "ordered", "1000", "1000", "AMOUNT", "0"], ["PING"]])
            #expect(later[0].hasPrefix("*4\r\n:1\r\n:66\r\n"))
            #expect(later[1] == "+PONG\r\n")
        }
    }

    @Test("3,000 pipelined commands, past the awaited-reply limit, all come back in order")
    func pipelinedPastTheLimit() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            let commands = (0..<3_000).map { index in
                index % 10 == 9 ? ["PING"] : ["CONSUME", "many", "1000000", "1000"]
            }
            let replies = try pipelined(connection, commands)
            var level = 0
            var wrong = 0
            for (command, reply) in zip(commands, replies) {
                if command[0] == "PING" {
                    if reply != "+PONG\r\n" { wrong += 1 }
                } else {
                    level += 1
                    if !reply.hasPrefix("*4\r\n:1\r\n:\(level)\r\n") { wrong += 1 }
                }
            }
            #expect(replies.count == 3_000)
            #expect(wrong == 0)
            #expect(try connection.command("PING") == "+PONG\r\n")
        }
    }

    @Test("while Redis is busy, a connection stops running commands once 1,024 replies are awaited, and goes on when they come")
    func awaitedReplyLimitPauses() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis, configure: { $0.backendTimeoutMilliseconds = 20_000 }) { server in
            // A script that keeps Redis busy for about a second, sent straight to it first.
            let direct = try RawConnection(port: redis.port)
            try direct.send("*3\r\n$4\r\nEVAL\r\n$57\r\nlocal i = 0 while i < 100000000 do i = i + 1 end return 1\r\n$1\r\n0\r\n")
            try await Task.sleep(for: .milliseconds(50))
            let connection = try server.connect()
            try connection.send(Array(repeating: "*4\r\n$7\r\nCONSUME\r\n$6\r\npaused\r\n$7\r\n1000000\r\n$4\r\n1000\r\n", count: 3_000).joined())
            let observer = try server.connect()
            func consumeCalls() throws -> Int {
                let info = try observer.command("INFO", "commandstats")
                guard let line = info.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_consume:calls=") }) else { return 0 }
                return Int(line.dropFirst("cmdstat_consume:calls=".count).prefix { $0.isNumber }) ?? -1
            }
            var calls = 0
            for _ in 0..<100 where calls < 1_024 {
                try await Task.sleep(for: .milliseconds(10))
                calls = try consumeCalls()
            }
            try await Task.sleep(for: .milliseconds(100))
            // Redis is still running the script: nothing came back, so nothing more ran.
            #expect(calls == 1_024)
            #expect(try consumeCalls() == 1_024)
            #expect(try direct.readRaw() == ":1\r\n")
            let replies = try (0..<3_000).map { _ in try connection.readRaw() }
            #expect(replies.enumerated().allSatisfy { $0.element.hasPrefix("*4\r\n:1\r\n:\($0.offset + 1)\r\n") })
            #expect(try consumeCalls() == 3_000)
        }
    }

    @Test("two and three instances in front of one Redis admit exactly a bucket's capacity, a throttle's burst and a window's limit",
          arguments: [2, 3])
    func noOverAdmission(instances: Int) async throws {
        let redis = try RedisServer()
        try await withBackendServers(redis, count: instances) { servers in
            let ports = servers.map(\.port)
            // 18 clients spread over the instances, each pipelining 12 attempts of each kind.
            let admitted = Mutex<[String: Int]>([:])
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 18) { client in
                do {
                    let connection = try RawConnection(port: ports[client % ports.count])
                    let kinds: [(String, [String], String)] = [
                        ("consume", ["CONSUME", "shared-bucket", "50", "100000"], "*4\r\n:1\r\n"),
                        ("throttle", ["CL.THROTTLE", "shared-throttle", "29", "1", "100000"], "*5\r\n:0\r\n"),
                        ("acquire", ["ACQUIRE", "shared-window", "1", "RATE", "40", "100000"], "*3\r\n:1\r\n"),
                    ]
                    var commands: [[String]] = []
                    var expected: [String] = []
                    for _ in 0..<12 {
                        for (name, command, _) in kinds {
                            commands.append(command)
                            expected.append(name)
                        }
                    }
                    let replies = try pipelined(connection, commands)
                    for (name, reply) in zip(expected, replies) {
                        let allowed = kinds.first { $0.0 == name }!.2
                        if reply.hasPrefix(allowed) {
                            admitted.withLock { $0[name, default: 0] += 1 }
                        } else if reply.hasPrefix("-") {
                            failures.withLock { $0.append(reply) }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(admitted.withLock { $0 } == ["consume": 50, "throttle": 30, "acquire": 40])
        }
    }

    @Test("fail-closed: with Redis down, decisions reply TRYAGAIN at once, local commands still answer")
    func failClosedWhenDown() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            #expect(try connection.command("CONSUME", "down", "3", "1").hasPrefix("*4\r\n:1\r\n"))
            redis.kill()
            let started = Date()
            // The first request may find its connection closed, later ones find it down.
            for _ in 0..<3 {
                let reply = try connection.command("CONSUME", "down", "3", "1")
                #expect(reply.hasPrefix("-TRYAGAIN backend unavailable: "), "\(reply)")
            }
            #expect(try connection.command("GET", "down").hasPrefix("-TRYAGAIN backend unavailable: "))
            #expect(Date().timeIntervalSince(started) < 1.5)
            #expect(try connection.command("PING") == "+PONG\r\n")
            let info = try connection.call("INFO", "backend")
            guard case .bulkString(let bytes) = info else { return }
            #expect(String(decoding: bytes, as: UTF8.self).contains("backend_fail_closed_replies:3\r\n"))

            // Redis comes back on the same port: service resumes without restarting Sluice.
            try redis.start()
            var resumed = false
            for _ in 0..<100 where !resumed {
                resumed = try connection.command("CONSUME", "again", "3", "1").hasPrefix("*4\r\n:1\r\n:1\r\n")
                if !resumed { usleep(50_000) }
            }
            #expect(resumed)
        }
    }

    @Test("fail-open: with Redis down, decisions are allowed and INFO counts them")
    func failOpenWhenDown() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis, configure: {
            $0.backendFailurePolicy = .failOpen
            $0.metricsPort = 0
        }) { server in
            let connection = try server.connect()
            redis.kill()
            #expect(try connection.command("CONSUME", "open", "3", "2") == "*4\r\n:1\r\n:0\r\n$1\r\n2\r\n$-1\r\n")
            #expect(try connection.command("CL.THROTTLE", "open", "4", "1", "10") == "*5\r\n:0\r\n:5\r\n:4\r\n:-1\r\n:0\r\n")
            #expect(try connection.command("ACQUIRE", "open", "1", "RATE", "1", "1000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
            #expect(try connection.command("ADD", "open", "1", "1000") == ":1\r\n")
            #expect(try connection.command("INCR", "open", "1", "5", "1000") == ":1\r\n")
            // Argument errors are still found before any round trip.
            #expect(try connection.command("CONSUME", "open", "0", "2") == "-ERR capacity must be a positive integer\r\n")
            // Plain commands have no "allowed" answer.
            #expect(try connection.command("GET", "open").hasPrefix("-TRYAGAIN backend unavailable: "))
            let info = try connection.call("INFO", "backend")
            guard case .bulkString(let bytes) = info else { return }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains("backend_fail_open_replies:5\r\n"))
            #expect(text.contains("backend_failure_policy:fail-open\r\n"))
            // /metrics shows the same count.
            let metrics = try scrape(server).body
            #expect(metrics.contains("sluice_backend_policy_replies_total{policy=\"fail-open\"} 5\n"))
            #expect(metrics.contains("sluice_backend_policy_replies_total{policy=\"fail-closed\"} 0\n"))
            #expect(metrics.contains("sluice_backend_connected_connections "))
        }
    }

    @Test("a Redis that stops answering gets TRYAGAIN within the backend timeout")
    func timeout() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis, configure: { $0.backendTimeoutMilliseconds = 300 }) { server in
            let connection = try server.connect()
            #expect(try connection.command("CONSUME", "slow", "3", "1").hasPrefix("*4\r\n:1\r\n"))
            redis.pause(true)
            defer { redis.pause(false) }
            let started = Date()
            let replies = try pipelined(connection, [["CONSUME", "slow", "3", "1"], ["PING"], ["GET", "slow"]])
            let elapsed = Date().timeIntervalSince(started)
            #expect(replies[0] == "-TRYAGAIN backend unavailable: timed out\r\n")
            #expect(replies[1] == "+PONG\r\n")
            #expect(replies[2] == "-TRYAGAIN backend unavailable: timed out\r\n")
            // The timeout plus scheduling slack on a loaded machine; Redis stays paused, so
            // any answer at all came from the timeout.
            #expect(elapsed < 2.0, "waited \(elapsed) s")
        }
    }

    @Test("SCRIPT FLUSH on Redis mid-run is survived: the script loads again")
    func scriptFlush() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            #expect(try connection.command("CONSUME", "flushed", "3", "1000").hasPrefix("*4\r\n:1\r\n:1\r\n"))
            #expect(try redis.cli(["SCRIPT", "FLUSH"]) == "OK\n")
            #expect(try connection.command("CONSUME", "flushed", "3", "1000").hasPrefix("*4\r\n:1\r\n:2\r\n"))
            #expect(try connection.command("CL.THROTTLE", "flushed-t", "1", "1", "100") == "*5\r\n:0\r\n:2\r\n:1\r\n:-1\r\n:100\r\n")
        }
    }

    @Test("forwarded commands reply in the bytes Redis 7 sends, RESP2 and RESP3: maps, doubles, score pairs, null arrays, sets")
    func forwardedReplyShapes() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            for version in ["2", "3"] {
                let sluice = try server.connect()
                let direct = try RawConnection(port: redis.port)
                _ = try sluice.command("HELLO", version)
                _ = try direct.command("HELLO", version)
                // The same commands on keys of their own, so both see the same data.
                for (name, prefix) in [("sluice", "s\(version):"), ("redis", "d\(version):")] {
                    let connection = name == "sluice" ? sluice : direct
                    _ = try connection.command("HSET", prefix + "h", "f1", "v1", "f2", "v2")
                    _ = try connection.command("ZADD", prefix + "z", "1.5", "a", "2", "b", "inf", "c")
                    _ = try connection.command("ZADD", prefix + "p", "1.5", "a", "2", "b", "3", "c", "4", "d")
                    // One member each, so set replies list them in one order on both.
                    _ = try connection.command("SADD", prefix + "s", "m")
                    _ = try connection.command("SADD", prefix + "pop", "m")
                }
                let commands: [[String]] = [
                    ["HGETALL", "h"], ["HGETALL", "missing"],
                    ["ZSCORE", "z", "a"], ["ZSCORE", "z", "c"], ["ZSCORE", "z", "missing"],
                    ["ZINCRBY", "z", "0.25", "a"], ["ZADD", "z", "INCR", "1", "b"], ["ZADD", "z", "NX", "incr", "1", "b"],
                    ["ZADD", "z", "3", "incr"],
                    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "0", "-1"], ["ZREVRANGE", "z", "0", "1", "withscores"],
                    ["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "0", "2"],
                    ["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES"],
                    ["LPOP", "missing", "2"], ["RPOP", "missing", "2"], ["LPOP", "missing"], ["GET", "missing"],
                    ["HINCRBYFLOAT", "h", "n", "1.5"], ["INCRBYFLOAT", "f", "2.5"],
                    ["ZPOPMIN", "p"], ["ZPOPMAX", "p", "2"], ["ZPOPMIN", "p", "0"], ["ZPOPMIN", "missing"],
                    ["SMEMBERS", "s"], ["SMEMBERS", "missing"], ["SINTER", "s"], ["SUNION", "s", "missing"], ["SDIFF", "s"],
                    ["SISMEMBER", "s", "m"], ["SRANDMEMBER", "s", "2"], ["SPOP", "missing"], ["SPOP", "missing", "1"],
                    ["SPOP", "pop", "1"],
                    ["HSCAN", "h", "0"], ["ZSCAN", "z", "0"], ["SSCAN", "s", "0"], ["HSCAN", "missing", "0"], ["ZSCAN", "h", "0"],
                ]
                for command in commands {
                    let key = command[1]
                    let expected = try direct.command([command[0], "d\(version):" + key] + command.dropFirst(2))
                    let reply = try sluice.command([command[0], "s\(version):" + key] + command.dropFirst(2))
                    #expect(reply == expected, "RESP\(version) \(command.joined(separator: " "))")
                }
            }
        }
    }

    @Test("after Redis restarts while the server is idle, the first CONSUME is answered by the new Redis, not TRYAGAIN")
    func idleAcrossRestart() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            #expect(try connection.command("CONSUME", "restarted", "3", "1000").hasPrefix("*4\r\n:1\r\n:1\r\n"))
            redis.kill()
            try redis.start()
            #expect(try connection.command("CONSUME", "restarted", "3", "1000").hasPrefix("*4\r\n:1\r\n:1\r\n"))
            #expect(try connection.command("GET", "restarted-missing") == "$-1\r\n")
        }
    }

    @Test("SCRIPT FLUSH again and again while two clients on two event loops pipeline CONSUMEs: every reply in request order, none NOSCRIPT")
    func scriptFlushMidPipeline() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis, configure: { $0.threads = 2 }) { server in
            let count = 2_000
            let clients = try ["a", "b"].map { name in
                let connection = try server.connect()
                var buffer = ByteBuffer()
                for _ in 0..<count { buffer.writeRESPCommand(["CONSUME", "flush-order-\(name)", "\(count)", "3600"].map { Array($0.utf8) }) }
                return (connection, Array(buffer.readableBytesView))
            }
            for (connection, bytes) in clients { try connection.send(bytes) }
            for _ in 0..<5 {
                try await Task.sleep(for: .milliseconds(10))
                _ = try redis.cli(["SCRIPT", "FLUSH"])
            }
            for (index, (connection, _)) in clients.enumerated() {
                var levels: [RESPValue] = []
                for _ in 0..<count {
                    let reply = try connection.readValue()
                    guard case .array(let fields) = reply, fields.count == 4 else {
                        levels.append(reply)
                        continue
                    }
                    levels.append(fields[1])
                }
                // Each CONSUME adds one drop: the n-th reply must say level n.
                let expected = (1...count).map { RESPValue.integer(Int64($0)) }
                let first = levels.indices.first { levels[$0] != expected[$0] }
                #expect(first == nil, "client \(index): reply \(first ?? 0) is \(first.map { levels[$0] } ?? .null)")
            }
        }
    }

    @Test("decisions and error replies answered by Redis are counted in INFO as in memory mode, once each")
    func counters() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis, configure: { $0.backendTimeoutMilliseconds = 300 }) { server in
            let connection = try server.connect()
            for _ in 0..<3 { _ = try connection.command("CONSUME", "counted", "2", "1000") }
            _ = try connection.command("PEEK", "counted", "2", "1000")
            _ = try connection.command("CL.THROTTLE", "counted-t", "0", "1", "1000")
            _ = try connection.command("CL.THROTTLE", "counted-t", "0", "1", "1000")
            _ = try connection.command("SET", "counted-s", "x")
            #expect(try connection.command("CONSUME", "counted-s", "2", "1000").hasPrefix("-WRONGTYPE"))
            #expect(try connection.command("MULTI") == "-ERR MULTI is not available in backend mode\r\n")
            // A frozen Redis: the connection's timer answers first, the backend's own
            // timeout later; the request counts once.
            redis.pause(true)
            #expect(try connection.command("ACQUIRE", "counted-w", "1", "RATE", "1", "1000").hasPrefix("-TRYAGAIN"))
            usleep(700_000)
            redis.pause(false)
            let info = try connection.call("INFO", "all")
            guard case .bulkString(let bytes) = info else { Issue.record("INFO: \(info)"); return }
            let lines = Set(String(decoding: bytes, as: UTF8.self).split(separator: "\r\n").map(String.init))
            for line in ["ratelimit_consume_allowed:2", "ratelimit_consume_denied:1", "ratelimit_cl_throttle_allowed:1",
                         "ratelimit_cl_throttle_denied:1", "ratelimit_acquire_allowed:0", "errorstat_WRONGTYPE:count=1",
                         "errorstat_ERR:count=1", "errorstat_TRYAGAIN:count=1", "backend_fail_closed_replies:1"] {
                #expect(lines.contains(line), "\(line)")
            }
        }
    }

    @Test("/metrics has a histogram of backend round trips whose count is INFO's backend_round_trips")
    func roundTripHistogram() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis, configure: { $0.metricsPort = 0 }) { server in
            let connection = try server.connect()
            for _ in 0..<5 { _ = try connection.command("CONSUME", "timed", "10", "1000") }
            let info = try infoFields(connection, "backend")
            let trips = try #require(info["backend_round_trips"].flatMap { Int($0) })
            #expect(trips >= 5)
            let metrics = try scrape(server)
            #expect(metrics.body.contains("# TYPE sluice_backend_round_trip_seconds histogram\n"))
            #expect(metrics.sample("sluice_backend_round_trip_seconds_count") == "\(trips)")
            #expect(metrics.sample("sluice_backend_round_trip_seconds_bucket{le=\"+Inf\"}") == "\(trips)")
        }
    }

    @Test("QUIT after a pipelined backend command answers both, then closes")
    func quitAfterDeferred() async throws {
        let redis = try RedisServer()
        try await withBackendServer(redis) { server in
            let connection = try server.connect()
            let replies = try pipelined(connection, [["CONSUME", "q", "3", "1000"], ["QUIT"]])
            #expect(replies[0].hasPrefix("*4\r\n:1\r\n:1\r\n"))
            #expect(replies[1] == "+OK\r\n")
            #expect(try connection.isClosedByPeer())
        }
    }
}
