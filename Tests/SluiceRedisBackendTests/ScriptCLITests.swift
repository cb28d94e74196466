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

    @Test("BATCH runs several calls in order in one script run, each answered as alone, errors as elements")
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

    @Test("the shared helpers block is the same in every script")
    func sharedHelpers() throws {
        var blocks: Set<String> = []
        for script in ["leaky_bucket", "bounded_counter", "cell_throttle", "sliding_window"] {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent("lua/\(script).lua"), encoding: .utf8)
            let start = try #require(text.range(of: "-- ---- shared helpers"))
            let end = try #require(text.range(of: "-- ---- end of shared helpers ----"))
            blocks.insert(String(text[start.lowerBound..<end.upperBound]))
        }
        #expect(blocks.count == 1)
    }
}
