import NIOCore
import RESP
import SeededRandom
import SluiceCore
import Testing
@testable import SluiceServer

@Suite("Collection listings written straight as bytes")
struct CollectionListingTests {
    @Test("every listing's bytes are those of its reply value, RESP2 and RESP3: empty, binary, long and many-field collections")
    func bytesMatchValues() {
        var generator = SplitMix64(seed: 17)
        func word() -> [UInt8] {
            // Empty, short, CR LF and NUL inside, and long enough to need a wider length.
            let length = [0, 1, 5, 300, 70_000][Int.random(in: 0..<5, using: &generator)]
            return (0..<length).map { _ in [0, 13, 10, 0x61, 0xFF][Int.random(in: 0..<5, using: &generator)] }
        }
        var mismatches = 0
        for size in [0, 1, 2, 10, 129, 300] {
            var hash = HashValue()
            var set = SetValue()
            var sorted = SortedSet()
            var list = ListValue()
            for index in 0..<size {
                // Packed up to 128 elements and 8 KB, in a ring past either.
                list.append(word())
                hash.set(Array("f\(index)".utf8) + word(), word())
                set.insert(Array("m\(index)".utf8) + word())
                // Packed up to 128 members, in blocks past it; ties and infinities too.
                sorted.set(Array("m\(index)".utf8) + word(), score: [-.infinity, 0.1, 2, 1e20, .infinity][index % 5] + Double(index % 3))
            }
            var listings: [CollectionListing] = [.hashPairs(hash), .hashFields(hash), .hashValues(hash), .setMembers(set)]
            for ranks in [0..<size, 0..<size / 2, size / 3..<size] {
                for (reverse, withScores) in [(false, false), (true, false), (false, true), (true, true)] {
                    listings.append(.sortedRange(sorted, ranks: ranks, reverse: reverse, withScores: withScores))
                }
                listings.append(.listRange(list, ranks))
            }
            for listing in listings {
                for version in [RESPVersion.resp2, .resp3] {
                    var direct = ByteBuffer()
                    listing.write(into: &direct, version)
                    var value = ByteBuffer()
                    value.writeRESPValue(listing.value(version), version: version)
                    if direct != value { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test("HGETALL, HKEYS, HVALS, SMEMBERS, the ZRANGE family and LRANGE answer the same inside MULTI and scripts as alone")
    func sameInTransactionsAndScripts() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HSET", "h", "a", "1", "b", "2")
            _ = try c.command("SADD", "s", "x")
            _ = try c.command("ZADD", "z", "1", "a", "2.5", "b", "inf", "c")
            _ = try c.command("RPUSH", "l", "x", "", "yy", "x")
        for command in [["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"], ["SMEMBERS", "s"], ["HGETALL", "none"],
                        ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZREVRANGE", "z", "0", "1"], ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "REV", "LIMIT", "0", "1", "WITHSCORES"],
                        ["LRANGE", "l", "0", "-1"], ["LRANGE", "l", "1", "-2"], ["LRANGE", "l", "3", "1"]] {
                let alone = try c.command(command)
                _ = try c.command("MULTI")
                _ = try c.command(command)
                #expect(try c.command("EXEC") == "*1\r\n" + alone, "\(command)")
                let script = "return redis.call('\(command[0])', KEYS[1], unpack(ARGV))"
                #expect(try c.command(["EVAL", script, "1"] + command.dropFirst()) == alone, "\(command)")
            }
        }
    }
}
