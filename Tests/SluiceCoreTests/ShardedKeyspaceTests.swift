import Testing
@testable import SluiceCore

private func key(_ text: String) -> Key { Array(text.utf8) }
private func string(_ text: String) -> Value { .string(Array(text.utf8)) }
private let start = Instant(milliseconds: 1_700_000_000_000)
private func later(_ offsetMs: Int64) -> Instant { Instant(milliseconds: start.milliseconds + offsetMs) }

/// The shard `key` belongs in among `shards`.
private func shardOf(_ key: Key, _ shards: Int) -> Int {
    key.withUnsafeBytes { ShardedKeyspace.shardIndex(hash: Keyspace.hash($0), shards: shards) }
}

@Suite("Sharded keyspace")
struct ShardedKeyspaceTests {
    @Test("keys spread over the shards; each is found through its own shard's view and no other")
    func keysSpreadAndRoute() {
        var keyspace = ShardedKeyspace(shards: 8)
        let keys = (0..<2_000).map { key("user:\($0)") }
        for (index, name) in keys.enumerated() { keyspace.set(name, string("\(index)"), now: start) }
        #expect(keyspace.count == 2_000)
        let perShard = (0..<8).map { keyspace.shard($0).count }
        #expect(perShard.reduce(0, +) == 2_000)
        // An even spread puts 250 in each; 8 hashes of 2,000 keys stay well within 150...350.
        #expect(perShard.allSatisfy { (150...350).contains($0) }, "\(perShard)")
        for (index, name) in keys.enumerated().prefix(200) {
            let home = shardOf(name, 8)
            var own = keyspace.shard(home)
            var other = keyspace.shard((home + 1) % 8)
            #expect(own.value(name, now: start) == string("\(index)"))
            #expect(other.value(name, now: start) == nil)
        }
        // A key written through its shard's view reads back through the whole keyspace.
        var home = keyspace.shard(shardOf(key("fresh"), 8))
        home.set(key("fresh"), string("x"), now: start)
        #expect(keyspace.value(key("fresh"), now: start) == string("x"))
    }

    @Test("a key hashed ahead routes by that hash and is found", arguments: [1, 4])
    func expectedKeyRoutes(shards: Int) {
        var keyspace = ShardedKeyspace(shards: shards)
        keyspace.set(key("k"), string("v"), now: start)
        let bytes: [UInt8] = Array("k".utf8)
        bytes.withUnsafeBytes { raw in
            keyspace.expectKey(raw, hash: Keyspace.hash(raw))
            #expect(keyspace.value(raw, now: start) == string("v"))
            keyspace.forgetExpectedKey()
        }
    }

    @Test("SCAN returns every key of every shard whatever its COUNT, and ends at cursor 0", arguments: [1, 7, 100, 10_000])
    func scanCoversAllShards(count: Int) {
        var keyspace = ShardedKeyspace(shards: 16)
        let keys = Set((0..<500).map { key("k\($0)") })
        for name in keys { keyspace.set(name, string("v"), now: start) }
        var seen: [Key] = []
        var cursor: UInt64 = 0
        var steps = 0
        repeat {
            let step = keyspace.scan(cursor: cursor, count: count, now: start)
            seen += step.keys
            cursor = step.cursor
            steps += 1
        } while cursor != 0 && steps < 10_000
        #expect(cursor == 0)
        #expect(Set(seen) == keys)
        #expect(seen.count == keys.count)
    }

    @Test("SCAN passes over empty shards and a keyspace of a few keys")
    func scanOverEmptyShards() {
        var keyspace = ShardedKeyspace(shards: 32)
        #expect(keyspace.scan(cursor: 0, count: 10, now: start).cursor == 0)
        for name in ["a", "b", "c"] { keyspace.set(key(name), string("v"), now: start) }
        var seen = Set<Key>()
        var cursor: UInt64 = 0
        repeat {
            let step = keyspace.scan(cursor: cursor, count: 1, now: start)
            seen.formUnion(step.keys)
            cursor = step.cursor
        } while cursor != 0
        #expect(seen == [key("a"), key("b"), key("c")])
        // A cursor naming no shard ends the scan rather than failing.
        #expect(keyspace.scan(cursor: UInt64(200) << 56, count: 10, now: start).cursor == 0)
    }

    @Test("counts, memory, statistics, KEYS and removeAll take in every shard")
    func totals() {
        var keyspace = ShardedKeyspace(shards: 8)
        var single = Keyspace()
        for index in 0..<300 {
            let deadline: Int64? = index % 3 == 0 ? later(1_000).milliseconds : nil
            keyspace.set(key("k\(index)"), string("value \(index)"), expiresAt: deadline, now: start)
            single.set(key("k\(index)"), string("value \(index)"), expiresAt: deadline, now: start)
        }
        #expect(keyspace.count == 300)
        #expect(keyspace.volatileCount == 100)
        #expect(keyspace.usedMemory > 0)
        _ = keyspace.value(key("k1"), now: start)
        _ = keyspace.value(key("missing"), now: start)
        #expect(keyspace.stats.hits == 1 && keyspace.stats.misses == 1)
        #expect(Set(keyspace.keys(now: start)) == Set(single.keys(now: start)))
        #expect(keyspace.keys(now: start) { $0.last == UInt8(ascii: "7") }.count == 30)
        var entries = 0
        keyspace.forEachEntry { _, _, _ in entries += 1 }
        #expect(entries == 300)
        // Expiry sweeps every shard.
        #expect(keyspace.expireCycle(now: later(1_001), maxChecks: 10_000) == 100)
        #expect(keyspace.count == 200 && keyspace.stats.expiredKeys == 100)
        keyspace.removeAll()
        #expect(keyspace.count == 0 && keyspace.usedMemory == 0)
        let emptied = (0..<8).allSatisfy { keyspace.shard($0).count == 0 }
        #expect(emptied)
    }

    @Test("a loaded keyspace is split into the shards its keys hash to")
    func replaceAll() {
        var loaded = Keyspace()
        for index in 0..<100 { loaded.set(key("k\(index)"), string("\(index)"), expiresAt: later(5_000).milliseconds, now: start) }
        var keyspace = ShardedKeyspace(shards: 4)
        keyspace.set(key("old"), string("gone"), now: start)
        keyspace.replaceAll(with: loaded, now: start)
        #expect(keyspace.count == 100 && keyspace.volatileCount == 100)
        #expect(keyspace.value(key("old"), now: start) == nil)
        for index in 0..<100 {
            var home = keyspace.shard(shardOf(key("k\(index)"), 4))
            #expect(home.value(key("k\(index)"), now: start) == string("\(index)"))
            #expect(home.expiry(key("k\(index)"), now: start) == .some(later(5_000).milliseconds))
        }
    }

    @Test("a capture over the shards collects the keyspace as it was at its start, while its shards change")
    func captureAcrossShards() {
        var keyspace = ShardedKeyspace(shards: 8)
        var expected: [Key: Value] = [:]
        for index in 0..<1_000 {
            keyspace.set(key("k\(index)"), string("\(index)"), now: start)
            expected[key("k\(index)")] = string("\(index)")
        }
        let id = keyspace.beginCapture(now: start)
        #expect(keyspace.captureCounts?.total == 1_000)
        var collected: [Snapshot.Entry] = []
        var progress = Keyspace.CaptureProgress.more
        var round = 0
        while progress == .more {
            // Between steps, single-key commands change keys through their shards' views.
            for change in 0..<5 {
                let name = key("k\((round * 37 + change * 101) % 1_000)")
                var home = keyspace.shard(shardOf(name, 8))
                home.set(name, string("changed"), now: start)
                home.set(key("new\(round)-\(change)"), string("new"), now: start)
            }
            progress = keyspace.captureStep(id, slots: 50, into: &collected)
            if progress == .more, let counts = keyspace.captureCounts { #expect(counts.collected == collected.count) }
            round += 1
        }
        #expect(progress == .done)
        #expect(keyspace.captureCounts == nil)
        #expect(collected.count == 1_000)
        #expect(Dictionary(uniqueKeysWithValues: collected.map { ($0.key, $0.value) }) == expected)
        #expect(keyspace.captureStep(id, slots: 50, into: &collected) == .lost)
    }

    @Test("a capture ended early is lost on every shard")
    func captureEnded() {
        var keyspace = ShardedKeyspace(shards: 4)
        for index in 0..<100 { keyspace.set(key("k\(index)"), string("v"), now: start) }
        let id = keyspace.beginCapture(now: start)
        var collected: [Snapshot.Entry] = []
        #expect(keyspace.captureStep(id, slots: 10, into: &collected) == .more)
        keyspace.endCapture(id)
        #expect(keyspace.captureStep(id, slots: 10, into: &collected) == .lost)
        let ended = (0..<4).allSatisfy { keyspace.shard($0).captureCounts == nil }
        #expect(ended)
    }

    @Test("volatile-ttl over shards evicts the nearest deadlines first and never a key without one")
    func volatileTTLAcrossShards() {
        var keyspace = ShardedKeyspace(shards: 8)
        for index in 1...40 {
            keyspace.set(key("ttl\(index)"), string("xxxxxxxxxxxxxxxx"), expiresAt: later(Int64(index) * 1_000).milliseconds, now: start)
        }
        for index in 1...10 { keyspace.set(key("keep\(index)"), string("xxxxxxxxxxxxxxxx"), now: start) }
        let perKey = keyspace.usedMemory / 50
        let limit = keyspace.usedMemory - perKey * 15
        let fitted = keyspace.evict(toFit: limit, policy: .volatileTTL, samples: 64, now: start)
        #expect(fitted)
        let left = Set(keyspace.keys(now: start))
        let kept = (1...10).allSatisfy { left.contains(key("keep\($0)")) }
        #expect(kept)
        // The 15 or so keys nearest their deadline went, each before any later one.
        let gone = (1...40).filter { !left.contains(key("ttl\($0)")) }
        let nearestFirst = gone.count >= 15 && gone == Array(1...gone.count)
        #expect(nearestFirst, "\(gone)")
        #expect(keyspace.stats.evictedKeys == gone.count)
        // Nothing a policy may take: false, and nothing removed.
        let refused = !keyspace.evict(toFit: 0, policy: .noEviction, samples: 5, now: start)
        #expect(refused)
        #expect(keyspace.count == 50 - gone.count)
        let emptied = keyspace.evict(toFit: 0, policy: .allKeysRandom, samples: 5, now: start)
        #expect(emptied)
        #expect(keyspace.count == 0)
    }
}
