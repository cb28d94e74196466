import Foundation
import RedisTestSupport
import Testing

/// The lua/ scripts are usable without Sluice: `redis-cli --eval lua/<script>.lua keys , args`.
@Suite("lua scripts run directly with redis-cli --eval")
struct ScriptCLITests {
    func eval(_ redis: RedisServer, _ script: String, _ keys: [String], _ arguments: [String]) throws -> String {
        let path = repositoryRoot.appendingPathComponent("lua/\(script).lua").path
        return try redis.cli(["--eval", path] + keys + [","] + arguments)
    }

    @Test("leaky_bucket.lua fills, refuses and blocks a bucket on Redis's own clock")
    func leakyBucket() throws {
        let redis = try RedisServer()
        for level in 1...3 {
            let reply = try eval(redis, "leaky_bucket", ["api:alice"], ["consume", "3", "10", "1", "5"])
            #expect(reply.hasPrefix("1\n\(level)\n"), "\(reply)")
        }
        let refused = try eval(redis, "leaky_bucket", ["api:alice"], ["consume", "3", "10", "1", "5"])
        #expect(refused.hasPrefix("0\n3\n") && refused.hasSuffix("\n5000000000\n"), "\(refused)")
        #expect(try redis.cli(["TYPE", "api:alice"]) == "hash\n")
        #expect(try redis.cli(["HGET", "api:alice", "level"]) == "3\n")
        let ttl = Int(try redis.cli(["PTTL", "api:alice"]).dropLast())!
        #expect(ttl > 25_000 && ttl <= 30_000)
    }

    @Test("BATCH runs several calls in order in one script run, each answered as alone, errors as elements, in every script")
    func batch() throws {
        let redis = try RedisServer()
        _ = try redis.cli(["SET", "string", "x"])
        let call = ["consume", "2", "10", "1", "0"]
        let reply = try eval(redis, "leaky_bucket", ["a", "b", "string", "a"], ["BATCH", "4"]
            + ["1", "5"] + call + ["1", "5", "consume", "0", "10", "1", "0"] + ["1", "5"] + call + ["1", "5"] + call)
        #expect(reply == "1\n1\n10000000000\n\nERR capacity must be a positive integer\n\n"
            + "WRONGTYPE Operation against a key holding the wrong kind of value\n\n1\n2\n10000000000\n\n")
        #expect(try eval(redis, "cell_throttle", ["t", "t"], ["BATCH", "2", "1", "4", "1", "1", "60", "1", "1", "4", "1", "1", "60", "1"])
            == "0\n2\n1\n-1\n60\n-1\n60000000000\n0\n2\n0\n-1\n120\n-1\n120000000000\n")
        _ = try redis.cli(["RPUSH", "list", "x"])
        let wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value\n\n"
        #expect(try eval(redis, "bounded_counter", ["c", "c", "list", "c"], ["BATCH", "4", "1", "3", "add", "5", "60000"]
            + ["1", "4", "incr", "x", "10", "60000"] + ["1", "4", "incr", "1", "10", "60000"] + ["1", "4", "incr", "1", "10", "60000"])
            == "1\nERR amount must be an integer\n\n" + wrongType + "1\n")
        #expect(try redis.cli(["GET", "c"]) == "6\n")
        let rates = ["5", "1000", "100", "60000"]
        #expect(try eval(redis, "sliding_window", ["w", "w", "string", "w"], ["BATCH", "4", "1", "5", "2"] + rates
            + ["1", "5", "x"] + rates + ["1", "5", "1"] + rates + ["1", "5", "9"] + rates)
            == "1\n0\n-1\nERR weight must be a non-negative integer\n\n" + wrongType + "0\n-1\n0\n")
        #expect(try redis.cli(["ZCARD", "w"]) == "1\n")
    }

    @Test("in a BATCH, an argument count of = repeats the previous call's arguments")
    func repeatedArguments() throws {
        let redis = try RedisServer()
        let call = ["consume", "2", "10", "1", "0"]
        #expect(try eval(redis, "leaky_bucket", ["a", "b", "a", "a"], ["BATCH", "4", "1", "5"] + call + ["1", "=", "1", "=", "1", "="])
            == "1\n1\n10000000000\n\n1\n1\n10000000000\n\n1\n2\n10000000000\n\n0\n2\n10000000000\n\n")
        #expect(try eval(redis, "bounded_counter", ["c", "c", "c", "c"], ["BATCH", "4", "1", "4", "incr", "3", "10", "60000", "1", "=", "1", "=", "1", "="])
            == "1\n1\n1\n0\n")
        #expect(try redis.cli(["GET", "c"]) == "9\n")
        #expect(try eval(redis, "cell_throttle", ["t", "t"], ["BATCH", "2", "1", "4", "1", "1", "60", "1", "1", "="])
            == "0\n2\n1\n-1\n60\n-1\n60000000000\n0\n2\n0\n-1\n120\n-1\n120000000000\n")
    }

    @Test("a BATCH whose framing does not match its keys and arguments is refused and changes nothing")
    func badBatch() throws {
        let redis = try RedisServer()
        let usage = "ERR usage: BATCH calls, then each call's key count, argument count and arguments\n"
        let call = ["consume", "2", "10", "1", "0"]
        #expect(try eval(redis, "leaky_bucket", ["a"], ["BATCH", "2", "1", "5"] + call).hasPrefix(usage))
        #expect(try eval(redis, "leaky_bucket", ["a", "b"], ["BATCH", "1", "1", "5"] + call).hasPrefix(usage))
        #expect(try eval(redis, "leaky_bucket", ["a"], ["BATCH", "1", "1", "6"] + call).hasPrefix(usage))
        #expect(try eval(redis, "leaky_bucket", ["a"], ["BATCH", "x", "1", "5"] + call).hasPrefix(usage))
        #expect(try eval(redis, "leaky_bucket", ["a"], ["BATCH", "1", "-1", "5"] + call).hasPrefix(usage))
        // = repeats the previous call's arguments: the first call has none to repeat.
        #expect(try eval(redis, "leaky_bucket", ["a"], ["BATCH", "1", "1", "="]).hasPrefix(usage))
        #expect(try eval(redis, "leaky_bucket", ["a", "b"], ["BATCH", "2", "1", "=", "1", "5"] + call).hasPrefix(usage))
        #expect(try redis.cli(["EXISTS", "a", "b"]) == "0\n")
    }

    @Test("bounded_counter.lua, cell_throttle.lua and sliding_window.lua give their documented replies")
    func otherScripts() throws {
        let redis = try RedisServer()
        #expect(try eval(redis, "bounded_counter", ["jobs"], ["incr", "1", "2", "60000"]) == "1\n")
        #expect(try eval(redis, "bounded_counter", ["jobs"], ["incr", "2", "2", "60000"]) == "0\n")
        #expect(try eval(redis, "bounded_counter", ["{w}:2", "{w}:1", "{w}:2"], ["incr_and_sum", "1", "5", "60000"]) == "1\n")
        #expect(try redis.cli(["GET", "jobs"]) == "1\n")
        #expect(try eval(redis, "cell_throttle", ["user123"], ["15", "30", "60", "1"]) == "0\n16\n15\n-1\n2\n-1\n2000000000\n")
        #expect(try redis.cli(["TYPE", "user123"]) == "string\n")
        #expect(try eval(redis, "sliding_window", ["search:bob"], ["1", "5", "1000", "100", "60000"]) == "1\n0\n-1\n")
        #expect(try eval(redis, "sliding_window", ["search:bob"], ["9", "5", "1000", "100", "60000"]) == "0\n-1\n0\n")
        #expect(try redis.cli(["TYPE", "search:bob"]) == "zset\n")
        #expect(try eval(redis, "cell_throttle", ["user123"], ["15", "30", "abc", "1"]).hasPrefix("ERR period must be a positive number\n"))
    }

    /// Runs scripts/generate-lua with `arguments`; its exit status and what it printed.
    func generateLua(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runCommand(["bash", repositoryRoot.appendingPathComponent("scripts/generate-lua").path] + arguments)
    }

    /// A temporary directory holding a copy of lua/, removed after `body`.
    func withCopyOfLua(_ body: (URL) throws -> Void) throws {
        let tree = FileManager.default.temporaryDirectory.appendingPathComponent("generate-lua-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tree) }
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("lua"), to: tree.appendingPathComponent("lua"))
        try body(tree)
    }

    @Test("every script's shared helpers block is what scripts/generate-lua makes from lua/prelude/common.lua")
    func sharedHelpersGenerated() throws {
        let checked = try generateLua(["--check", repositoryRoot.path])
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output == "")
    }

    @Test("scripts/generate-lua --check names a script whose copy was edited by hand, and a run restores the copy")
    func handEditCaught() throws {
        try withCopyOfLua { tree in
            let script = tree.appendingPathComponent("lua/sliding_window.lua")
            let original = try String(contentsOf: script, encoding: .utf8)
            let edited = original.replacingOccurrences(of: "local B = 1000000000\n", with: "local B = 1000000001\n")
            #expect(edited != original)
            try edited.write(to: script, atomically: true, encoding: .utf8)

            let checked = try generateLua(["--check", tree.path])
            #expect(checked.status == 1)
            #expect(checked.output == "lua/sliding_window.lua: shared helpers differ from lua/prelude/common.lua (run scripts/generate-lua)\n")
            #expect(try String(contentsOf: script, encoding: .utf8) == edited)

            let generated = try generateLua([tree.path])
            #expect(generated.status == 0)
            #expect(generated.output == "lua/sliding_window.lua: regenerated\n")
            #expect(try String(contentsOf: script, encoding: .utf8) == original)
            #expect(try generateLua(["--check", tree.path]).status == 0)
        }
    }

    @Test("scripts/generate-lua refuses a script without exactly one shared helpers block")
    func missingBlock() throws {
        try withCopyOfLua { tree in
            try "return 1\n".write(to: tree.appendingPathComponent("lua/plain.lua"), atomically: true, encoding: .utf8)
            let checked = try generateLua(["--check", tree.path])
            #expect(checked.status == 2)
            #expect(checked.output.hasPrefix("lua/plain.lua: needs exactly one block"), "\(checked.output)")
        }
    }
}
