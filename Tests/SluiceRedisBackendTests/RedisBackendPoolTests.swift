import Foundation
import RESP
import SluiceCore
import SluiceRedisBackend
import RedisTestSupport
import Testing

@Suite("RedisBackend pool", .serialized)
struct RedisBackendPoolTests {
    @Test("a command gets its reply and an error reply throws replyError")
    func commandReply() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        #expect(try await backend.command([word("SET"), word("k"), word("v")]) == .simpleString("OK"))
        #expect(try await backend.command([word("GET"), word("k")]) == .bulkString(word("v")))
        #expect(try await backend.command([word("GET"), word("missing")]) == .null)
        #expect(try await backend.command([word("RPUSH"), word("l"), word("a"), word("")]) == .integer(2))
        #expect(try await backend.command([word("LRANGE"), word("l"), word("0"), word("-1")]) == .array([.bulkString(word("a")), .bulkString([])]))
        await #expect(throws: BackendError.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")) {
            try await backend.command([word("GET"), word("l")])
        }
    }
}

@Suite("RedisBackend batches", .serialized)
struct RedisBackendBatchTests {
    /// A leaky-bucket call as the server builds it.
    func consume(_ key: String, capacity: String = "2") -> BackendCommand {
        var command = BackendCommand(script: .leakyBucket, keyCount: 1)
        command.append(word(key))
        for argument in ["consume", capacity, "10", "1", "0"] { command.append(argument) }
        return command
    }

    @Test("consecutive script calls go as one BATCH run, and each gets the reply or error it would get alone, in order")
    func runs() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        _ = try await backend.command([word("SET"), word("string"), word("x")])
        _ = try redis.cli(["CONFIG", "RESETSTAT"])
        let commands = [
            consume("a"), consume("b", capacity: "0"), consume("string"), consume("a"), consume("a"),
            BackendCommand(words: [word("HGET"), word("a"), word("level")]), consume("b"),
        ]
        let results = await withCheckedContinuation { continuation in
            backend.submit(commands, connection: 0) { continuation.resume(returning: $0) }
        }
        func level(_ result: Result<RESPValue, BackendError>) -> RESPValue? {
            guard case .success(.array(let fields)) = result else { return nil }
            return fields[0] == .integer(1) ? fields[1] : .integer(-1)
        }
        #expect(level(results[0]) == .integer(1))
        #expect(results[1] == .failure(.replyError("ERR capacity must be a positive integer")))
        #expect(results[2] == .failure(.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")))
        #expect(level(results[3]) == .integer(2))
        #expect(level(results[4]) == .integer(-1))  // the bucket is full
        #expect(results[5] == .success(.bulkString(word("2"))))
        #expect(level(results[6]) == .integer(1))
        // Two script runs (five calls, then one) around the HGET.
        let stats = try redis.cli(["INFO", "commandstats"])
        #expect(stats.contains("cmdstat_evalsha:calls=2,"), "\(stats)")
    }

    /// A script call as keys and arguments, made into a command as the server builds one.
    struct Call: Sendable {
        let keys: [String]
        let arguments: [String]

        func command(_ script: BackendScript) -> BackendCommand {
            var command = BackendCommand(script: script, keyCount: keys.count)
            for key in keys { command.append(word(key)) }
            for argument in arguments { command.append(argument) }
            return command
        }
    }

    /// Instants a day ahead (as ScriptParityTests), so Redis never expires the keys on its own.
    static let base = SystemTimeSource().now().nanoseconds / 1_000_000_000 * 1_000_000_000 + 86_400_000_000_000

    /// `arguments` then `NOW` at `milliseconds` after `base`.
    static func at(_ milliseconds: Int64, _ arguments: [String]) -> [String] {
        arguments + ["NOW", String(base + milliseconds * 1_000_000)]
    }

    /// Calls covering every operation of a script, argument and state errors among them,
    /// and the reply each gets when sent alone.
    static func cases(_ script: BackendScript) -> [(Call, Result<RESPValue, BackendError>)] {
        let wrongType = Result<RESPValue, BackendError>.failure(.replyError("WRONGTYPE Operation against a key holding the wrong kind of value"))
        func error(_ text: String) -> Result<RESPValue, BackendError> { .failure(.replyError(text)) }
        func counter(_ keys: [String], _ arguments: [String], _ reply: Result<RESPValue, BackendError>) -> (Call, Result<RESPValue, BackendError>) {
            (Call(keys: keys, arguments: at(0, arguments)), reply)
        }
        let done = Result<RESPValue, BackendError>.success(.integer(1))
        let refused = Result<RESPValue, BackendError>.success(.integer(0))
        let counterCalls = [
            counter(["c"], ["add", "5", "60000"], done),
            counter(["c"], ["add", "7", "60000"], refused),
            counter(["c"], ["incr", "1", "10", "60000"], done),
            counter(["c"], ["incr", "x", "10", "60000"], error("ERR amount must be an integer")),
            counter(["c"], ["incr", "5", "10", "60000"], refused),
            counter(["c"], ["decr", "3", "0", "60000"], done),
            counter(["string"], ["incr", "1", "10", "60000"], error("ERR value is not an integer or out of range")),
            counter(["list"], ["decr", "1", "0", "60000"], wrongType),
            counter(["{w}:1"], ["add", "4", "60000"], done),
            counter(["{w}:2", "{w}:1", "{w}:2"], ["incr_and_sum", "1", "5", "60000"], done),
            counter(["{w}:2", "{w}:1", "list"], ["incr_and_sum", "1", "9", "60000"], wrongType),
            counter(["{w}:2", "{w}:1", "{w}:2"], ["incr_and_sum", "1", "5", "60000"], refused),
            counter(["c"], ["incr", "1", "10", "0"], error("ERR ttl must be a positive integer")),
            counter(["c"], ["incr", "1", "10"], error("ERR usage: incr amount maximum ttl_ms | decr amount minimum ttl_ms | incr_and_sum amount maximum ttl_ms, then [NOW ns]; or add value ttl_ms [NOW ns]")),
            counter([], ["add", "1", "60000"], error("ERR the counter key is KEYS[1]")),
            (Call(keys: ["c"], arguments: ["incr", "1", "10", "60000", "NOW", "soon"]), error("ERR NOW must be an integer (nanoseconds since the epoch)")),
            counter(["c"], ["decr", "9223372036854775807", "-9223372036854775808", "60000"], done),
            counter(["c"], ["decr", "9223372036854775807", "-9223372036854775808", "60000"], refused),
        ]
        func window(_ milliseconds: Int64, _ key: String, _ arguments: [String], _ reply: [Int64]) -> (Call, Result<RESPValue, BackendError>) {
            (Call(keys: [key], arguments: at(milliseconds, arguments)), .success(.array(reply.map(RESPValue.integer))))
        }
        func window(_ milliseconds: Int64, _ key: String, _ arguments: [String], _ failure: Result<RESPValue, BackendError>) -> (Call, Result<RESPValue, BackendError>) {
            (Call(keys: [key], arguments: at(milliseconds, arguments)), failure)
        }
        let rates = ["5", "1000", "100", "60000"]
        let windowCalls = [
            window(0, "w", ["1"] + rates, [1, 0, -1]),
            window(0, "w", ["3"] + rates, [1, 0, -1]),
            window(1, "w", ["x"] + rates, error("ERR weight must be a non-negative integer")),
            window(1, "w", ["2"] + rates, [0, 1_000, 0]),
            window(1, "w", ["1", "5", "1000", "100", "1000"], error("ERR rates must have distinct intervals: rate 1 repeats the interval of rate 0")),
            window(1, "string", ["1"] + rates, wrongType),
            window(1, "w", ["0"] + rates, [1, 0, -1]),
            window(2, "w", ["9"] + rates, [0, -1, 0]),
            window(2, "w", ["1", "5"], error("ERR usage: 1 key, then weight limit interval_ms [limit interval_ms ...] [NOW ns]")),
            window(1_000, "w", ["1"] + rates, [1, 0, -1]),
            window(1_001, "w", ["4"] + rates, [1, 0, -1]),
            window(1_001, "w", ["60"] + rates, [0, -1, 0]),
            window(1_001, "w", ["1"] + rates, [0, 1_000, 0]),
            window(2_000, "w2", ["1", "1", "1000"], [1, 0, -1]),
        ]
        return script == .boundedCounter ? counterCalls : windowCalls
    }

    /// The keys' values and deadlines, to compare two runs.
    func snapshot(_ backend: RedisBackend, _ calls: [Call]) async throws -> [RESPValue] {
        var values: [RESPValue] = []
        for key in Set(calls.flatMap(\.keys)).sorted() {
            values.append(try await backend.command([word("DUMP"), word(key)]))
            values.append(try await backend.command([word("PEXPIRETIME"), word(key)]))
        }
        return values
    }

    @Test("runs of bounded_counter and sliding_window calls go as one BATCH run, and each call's reply, errors included, and the keys left are those of the calls sent one by one",
          arguments: [BackendScript.boundedCounter, .slidingWindow])
    func runsMatchSingleCalls(_ script: BackendScript) async throws {
        let expected = Self.cases(script)
        let calls = expected.map(\.0)
        let redis = try RedisServer()
        var configuration = redis.configuration
        configuration.poolSize = 1
        let backend = try RedisBackend(configuration: configuration)
        defer { backend.shutdown() }
        func reset() async throws {
            _ = try await backend.command([word("FLUSHALL")])
            _ = try await backend.command([word("SET"), word("string"), word("x")])
            _ = try await backend.command([word("RPUSH"), word("list"), word("x")])
        }

        try await reset()
        _ = try redis.cli(["CONFIG", "RESETSTAT"])
        var alone: [Result<RESPValue, BackendError>] = []
        for call in calls {
            let results = await withCheckedContinuation { continuation in
                backend.submit([call.command(script)], connection: 0) { continuation.resume(returning: $0) }
            }
            alone.append(contentsOf: results)
        }
        for (index, (call, reply)) in expected.enumerated() {
            #expect(alone[index] == reply, "call \(index): \(call.keys) \(call.arguments)")
        }
        #expect(try redis.cli(["INFO", "commandstats"]).contains("cmdstat_evalsha:calls=\(calls.count),"))
        let aloneKeys = try await snapshot(backend, calls)

        try await reset()
        _ = try redis.cli(["CONFIG", "RESETSTAT"])
        let batched = await withCheckedContinuation { continuation in
            backend.submit(calls.map { $0.command(script) }, connection: 0) { continuation.resume(returning: $0) }
        }
        #expect(batched.count == calls.count)
        for index in calls.indices {
            #expect(batched[index] == alone[index], "call \(index): \(calls[index].keys) \(calls[index].arguments)")
        }
        #expect(try await snapshot(backend, calls) == aloneKeys)
        // One script run for all the calls.
        let stats = try redis.cli(["INFO", "commandstats"])
        #expect(stats.contains("cmdstat_evalsha:calls=1,"), "\(stats)")
    }
}

@Suite("RedisBackend pool under load and failures", .serialized)
struct RedisBackendFailureTests {
    @Test("many tasks' concurrent requests each get their own reply, in order per task")
    func concurrentRequests() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<50 {
                group.addTask {
                    for expected in 1...40 {
                        let reply = try await backend.command([word("INCR"), word("task\(task)")])
                        #expect(reply == .integer(Int64(expected)), "task \(task)")
                        let script = try await backend.evalScript(
                            .boundedCounter, keys: [word("bounded\(task)")], arguments: ["incr", "1", "1000", "60000"].map(word))
                        #expect(script == .integer(1))
                    }
                }
            }
            try await group.waitForAll()
        }
        for task in 0..<50 {
            #expect(try await backend.command([word("GET"), word("bounded\(task)")]) == .bulkString(word("40")))
        }
        let stats = backend.stats
        #expect(stats.requests >= 50 * 80 + 4)
        #expect(stats.failures == 0)
        #expect(stats.connectedConnections == 2)
    }

    @Test("two clients (two Sluice instances) with many concurrent consumes on one bucket admit exactly its capacity")
    func noOverAdmission() async throws {
        let redis = try RedisServer()
        let backends = try [RedisBackend(configuration: redis.configuration), RedisBackend(configuration: redis.configuration)]
        defer { backends.forEach { $0.shutdown() } }
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<40 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<10 {
                        let reply = try await backends[task % 2].evalScript(
                            .leakyBucket, keys: [word("shared")], arguments: ["consume", "150", "3600", "1", "0"].map(word))
                        if LeakyBucketDecision(backendReply: reply)?.success == true { admitted += 1 }
                    }
                    return admitted
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 150)
    }

    @Test("SCRIPT FLUSH in the middle of a run is survived: NOSCRIPT reloads the script once")
    func scriptFlush() async throws {
        let redis = try RedisServer()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        try await backend.loadScripts()
        let hash = try #require(backend.scriptHash(.cellThrottle))
        #expect(try await backend.command([word("SCRIPT"), word("EXISTS"), word(hash)]) == .array([.integer(1)]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<20 {
                group.addTask {
                    for round in 0..<20 {
                        if task == 0 && round == 10 {
                            #expect(try await backend.command([word("SCRIPT"), word("FLUSH")]) == .simpleString("OK"))
                        }
                        let reply = try await backend.evalScript(
                            .cellThrottle, keys: [word("flush\(task)")], arguments: ["100", "1", "60", "1"].map(word))
                        guard case .array(let fields) = reply else { Issue.record("reply \(reply)"); return }
                        #expect(fields[2] == .integer(Int64(100 - round)), "task \(task) round \(round)")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await backend.command([word("SCRIPT"), word("EXISTS"), word(hash)]) == .array([.integer(1)]))
    }

    @Test("a killed Redis fails requests with unavailable within the timeout, and a restarted one serves the same client again")
    func killAndRestart() async throws {
        let redis = try RedisServer()
        var configuration = redis.configuration
        configuration.reconnectMaximumMilliseconds = 100
        let backend = try RedisBackend(configuration: configuration)
        defer { backend.shutdown() }
        let arguments = ["consume", "10", "1", "1", "0"].map(word)
        #expect(try await backend.evalScript(.leakyBucket, keys: [word("b")], arguments: arguments) != .null)

        redis.kill()
        let clock = ContinuousClock()
        for _ in 0..<10 {
            let started = clock.now
            do {
                _ = try await backend.evalScript(.leakyBucket, keys: [word("b")], arguments: arguments)
                Issue.record("a request succeeded with Redis down")
            } catch {
                #expect(error.isBackendFailure, "\(error)")
                if case .unavailable(let reason) = error { #expect(!reason.isEmpty) }
            }
            #expect(clock.now - started < .milliseconds(2 * configuration.timeoutMilliseconds))
        }
        #expect(backend.stats.failures >= 10)
        #expect(backend.stats.connectedConnections == 0)

        try redis.start()
        var reply: RESPValue?
        for _ in 0..<100 where reply == nil {
            reply = try? await backend.evalScript(.leakyBucket, keys: [word("b")], arguments: arguments)
            if reply == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        // A fresh Redis: the bucket is new, and the script was loaded again after NOSCRIPT.
        let value = try #require(reply)
        guard case .array(let fields) = value else { Issue.record("reply \(value)"); return }
        #expect(fields[0] == .integer(1))
        #expect(fields[1] == .integer(1))
    }

    @Test("a Redis that does not answer fails requests with timeout, and the client recovers when it answers again")
    func slowRedis() async throws {
        let redis = try RedisServer()
        var configuration = redis.configuration
        configuration.timeoutMilliseconds = 200
        configuration.poolSize = 1
        let backend = try RedisBackend(configuration: configuration)
        defer { backend.shutdown() }
        #expect(try await backend.command([word("PING")]) == .simpleString("PONG"))
        // Paused well past the bound below, so that meeting it shows the timeout fired;
        // the bound leaves room for a loaded machine (it took 0.35 s alone, 0.7 s in CI).
        try redis.cli(["CLIENT", "PAUSE", "2500", "ALL"])
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: BackendError.timeout) {
            try await backend.command([word("GET"), word("k")])
        }
        #expect(clock.now - started < .milliseconds(1_500))
        try await Task.sleep(until: started + .milliseconds(2_600), clock: clock)
        #expect(try await backend.command([word("PING")]) == .simpleString("PONG"))
    }

    @Test("a Redis that is not there fails requests at once with the connection error")
    func nothingListening() async throws {
        let redis = try RedisServer()
        let configuration = redis.configuration
        redis.kill()
        let backend = try RedisBackend(configuration: configuration)
        defer { backend.shutdown() }
        await #expect(throws: BackendError.unavailable("Connection refused")) {
            try await backend.command([word("PING")])
        }
        #expect(backend.stats.connected == false)
        #expect(backend.stats.connectFailures >= 1)
    }

    @Test("the configuration reads redis:// URLs and refuses bad ones")
    func configurationURL() throws {
        let full = try RedisBackendConfiguration(url: "redis://:secret@cache.local:6390/2")
        #expect(full.host == "cache.local")
        #expect(full.port == 6390)
        #expect(full.password == "secret")
        #expect(full.username == nil)
        #expect(full.database == 2)
        let user = try RedisBackendConfiguration(url: "redis://sluice:pw@[::1]")
        #expect(user.host == "::1")
        #expect(user.port == 6379)
        #expect(user.username == "sluice")
        #expect(user.address == "[::1]:6379")
        #expect(throws: BackendConfigurationError.self) { try RedisBackendConfiguration(url: "http://x") }
        #expect(throws: BackendConfigurationError.self) { try RedisBackendConfiguration(url: "redis://x:0") }
        #expect(throws: BackendConfigurationError.self) { try RedisBackendConfiguration(url: "redis://x/-1") }
        var configuration = RedisBackendConfiguration()
        configuration.poolSize = 0
        #expect(throws: BackendConfigurationError.self) { try RedisBackend(configuration: configuration) }
    }

    @Test("AUTH and SELECT from the configuration are sent on connect")
    func authAndSelect() async throws {
        let redis = try RedisServer()
        try redis.cli(["CONFIG", "SET", "requirepass", "s3cret"])
        var configuration = redis.configuration
        configuration.password = "s3cret"
        configuration.database = 3
        let backend = try RedisBackend(configuration: configuration)
        defer { backend.shutdown() }
        #expect(try await backend.command([word("SET"), word("k"), word("v")]) == .simpleString("OK"))
        #expect(try redis.cli(["-a", "s3cret", "--no-auth-warning", "-n", "3", "GET", "k"]) == "v\n")
        var wrong = configuration
        wrong.password = "nope"
        let refused = try RedisBackend(configuration: wrong)
        defer { refused.shutdown() }
        await #expect(throws: BackendError.self) { try await refused.command([word("PING")]) }
    }
}

@Suite("RedisBackend connections across Redis restarts", .serialized)
struct RedisBackendRestartTests {
    @Test("a connection left idle while Redis restarts reconnects before sending: the first request after the restart succeeds")
    func idleAcrossRestart() async throws {
        let redis = try RedisServer()
        var configuration = redis.configuration
        configuration.poolSize = 1
        let backend = try RedisBackend(configuration: configuration)
        defer { backend.shutdown() }
        #expect(try await backend.command([word("SET"), word("k"), word("v")]) == .simpleString("OK"))
        let arguments = ["consume", "10", "1", "1", "0"].map(word)
        #expect(try await backend.evalScript(.leakyBucket, keys: [word("b")], arguments: arguments) != .null)
        redis.kill()
        try redis.start()
        // A fresh Redis: no key, no script; neither request may fail.
        #expect(try await backend.command([word("GET"), word("k")]) == .null)
        let reply = try await backend.evalScript(.leakyBucket, keys: [word("b")], arguments: arguments)
        guard case .array(let fields) = reply else { Issue.record("reply \(reply)"); return }
        #expect(fields[1] == .integer(1))
        #expect(backend.stats.failures == 0)
    }
}
