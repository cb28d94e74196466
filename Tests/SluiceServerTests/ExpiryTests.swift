import Testing
#if canImport(Glibc)
import Glibc
#endif
import SluiceCore
import SluiceServer

@Suite("Expiry end to end")
struct ExpiryTests {
    @Test("keys with a short real TTL disappear without being read")
    func realTTL() async throws {
        try await withServer(configure: { $0.expiryIntervalMilliseconds = 20 }, realTime: true) { server in
            let c = try server.connect()
            for i in 0..<100 { _ = try c.command("SET", "k\(i)", "v", "PX", "300") }
            _ = try c.command("SET", "keep", "v")
            #expect(try c.command("DBSIZE") == ":101\r\n")
            var size = ""
            for _ in 0..<100 {
                size = try c.command("DBSIZE")
                if size == ":1\r\n" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(size == ":1\r\n")
        }
    }

    /// Each run here is one step of 1,000 keys (no slice), so at one run per 1 s
    /// interval at most 1,000 keys go per second. A run that stopped on its slice with keys
    /// still expiring is followed by another a millisecond later, so the sweep must get
    /// ahead of that pace. Compared with the time that passed, not a deadline, so a
    /// loaded machine that delays every run does not fail it.
    @Test("a backlog of expired keys is swept again a millisecond later, not an interval")
    func backlogSweptSooner() async throws {
        try await withServer(configure: { $0.expiryIntervalMilliseconds = 1_000; $0.expirySliceMicroseconds = 0 }) { server in
            let c = try server.connect()
            for start in stride(from: 0, to: 10_000, by: 1_000) {
                // Inline commands, pipelined a thousand at a time.
                try c.send((start..<start + 1_000).map { "SET k\($0) v PX 10\r\n" }.joined())
                for _ in 0..<1_000 { #expect(try c.readRaw() == "+OK\r\n") }
            }
            _ = try c.command("SET", "keep", "v")
            server.clock.advance(milliseconds: 1_000)
            let started = ContinuousClock.now
            var ahead = false
            while !ahead && ContinuousClock.now - started < .seconds(30) {
                let left = try c.command("DBSIZE")
                guard let keys = Int(left.filter(\.isNumber)) else { throw TestFailure("DBSIZE: \(left)") }
                let intervals = Int((ContinuousClock.now - started) / .seconds(1))
                // One run per interval, the first at once, could have taken this many.
                ahead = 10_001 - keys > 1_000 * (intervals + 1)
                // Not Task.sleep: with every test running at once, this task waited 25 s
                // to resume, and the keys were all gone by the time it looked.
                usleep(20_000)
            }
            #expect(ahead)
        }
    }

    /// Keys without deadlines do not slow the sweep down: a run passes them within its
    /// slice. When a step had to find more than a quarter of all the entries it checked
    /// expired, 30,000 keys without deadlines before the expired ones stopped each run
    /// after its first step, one per interval: the first expired key would have been
    /// reached only after 30 of them.
    @Test("expired keys behind many keys without deadlines are reclaimed in a few runs, not one step per interval")
    func keysWithoutDeadlinesPassedQuickly() async throws {
        try await withServer(configure: { $0.expiryIntervalMilliseconds = 1_000; $0.expirySliceMicroseconds = 200_000 }) { server in
            let c = try server.connect()
            for start in stride(from: 0, to: 33_000, by: 1_000) {
                try c.send((start..<start + 1_000).map { $0 < 30_000 ? "SET k\($0) v\r\n" : "SET k\($0) v PX 10\r\n" }.joined())
                for _ in 0..<1_000 { #expect(try c.readRaw() == "+OK\r\n") }
            }
            server.clock.advance(milliseconds: 1_000)
            let started = ContinuousClock.now
            var keys = 33_000
            while keys > 30_000 && ContinuousClock.now - started < .seconds(60) {
                let left = try c.command("DBSIZE")
                guard let count = Int(left.filter(\.isNumber)) else { throw TestFailure("DBSIZE: \(left)") }
                keys = count
                usleep(20_000)
            }
            #expect(keys == 30_000)
            // Far fewer runs than the 30 one step each would have needed to reach them.
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }
}
