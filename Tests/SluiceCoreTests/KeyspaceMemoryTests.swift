import Testing
@testable import SluiceCore
import SeededRandom

private func key(_ text: String) -> Key { Array(text.utf8) }
private func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 120, count: count) }
private let clock = ManualTimeSource()
private let start = clock.now()
private func later(_ offsetMs: Int64) -> Instant { Instant(milliseconds: start.milliseconds + offsetMs) }

/// The running total must equal the total computed from scratch after every change.
private func expectConsistent(_ keyspace: Keyspace, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(keyspace.usedMemory == keyspace.recountedMemory(), sourceLocation: sourceLocation)
}

@Suite("Keyspace memory estimate")
struct KeyspaceMemoryTests {
    @Test("a keyspace entry stays 48 bytes: no kind of value widens every key's entry")
    func entryStaysSmall() {
        // The key's last bytes fill the room after the value; a value a byte wider than
        // 17 bytes (a 16-byte payload and the case byte) costs 8 per key.
        #expect(MemoryLayout<Value>.size <= 17)
        #expect(MemoryLayout<Keyspace.Entry>.stride <= 48)
        #expect(MemoryEstimate.entry == 56)
    }

    @Test("an empty keyspace uses nothing")
    func emptyIsZero() {
        let keyspace = Keyspace()
        #expect(keyspace.usedMemory == 0)
    }

    @Test("a key costs its table share, its value's heap bytes and, when long, its own bytes")
    func insertCharges() {
        var keyspace = Keyspace()
        keyspace.set(key("n"), .integer(5), now: start)
        #expect(keyspace.usedMemory == MemoryEstimate.entry)
        keyspace.set(key("s"), .string(bytes(100)), now: start)
        #expect(keyspace.usedMemory == 2 * MemoryEstimate.entry + MemoryEstimate.bytes(100))
        let long = String(repeating: "k", count: 40)
        keyspace.set(key(long), .integer(1), now: start)
        #expect(keyspace.usedMemory == 3 * MemoryEstimate.entry + MemoryEstimate.bytes(100) + MemoryEstimate.largeKey(40))
        expectConsistent(keyspace)
    }

    @Test("byte estimates follow malloc's 16-byte steps after Swift's 32-byte array header")
    func byteEstimates() {
        #expect(MemoryEstimate.bytes(0) == 0)
        #expect(MemoryEstimate.bytes(1) == 48)
        #expect(MemoryEstimate.bytes(8) == 48)
        #expect(MemoryEstimate.bytes(9) == 64)
        #expect(MemoryEstimate.bytes(1000) == 1040)
    }

    @Test("removing keys gives back exactly what they cost")
    func removeGivesBack() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), .string(bytes(10)), now: start)
        let before = keyspace.usedMemory
        keyspace.set(key("b"), .string(bytes(5000)), now: start)
        keyspace.set(key(String(repeating: "x", count: 64)), .string(bytes(7)), now: start)
        keyspace.remove(key("b"), now: start)
        keyspace.remove(key(String(repeating: "x", count: 64)), now: start)
        #expect(keyspace.usedMemory == before)
        keyspace.remove(key("a"), now: start)
        #expect(keyspace.usedMemory == 0)
    }

    @Test("overwriting with a value of another kind or size changes the total by the difference")
    func overwriteAdjusts() {
        var keyspace = Keyspace()
        keyspace.set(key("k"), .string(bytes(300)), now: start)
        keyspace.set(key("k"), .integer(7), now: start)
        #expect(keyspace.usedMemory == MemoryEstimate.entry)
        keyspace.set(key("k"), .list(ListValue([bytes(50), bytes(60)])), now: start)
        expectConsistent(keyspace)
        keyspace.set(key("k"), Value(leakyBucket: LeakyBucketState(level: 1, lastLeak: start, blockedUntil: nil)), now: start)
        #expect(keyspace.usedMemory == MemoryEstimate.entry)
    }

    @Test("a leaky bucket sits in the entry until a block boxes it, and returns there when the block is cleared")
    func blockedBucketIsBoxed() {
        let open = LeakyBucketState(level: 3, lastLeak: start, blockedUntil: nil)
        let blocked = LeakyBucketState(level: 3, lastLeak: start, blockedUntil: later(5_000))
        guard case .leakyBucket = Value(leakyBucket: open) else {
            Issue.record("an unblocked bucket is not inline")
            return
        }
        guard case .blockedLeakyBucket = Value(leakyBucket: blocked) else {
            Issue.record("a blocked bucket is not boxed")
            return
        }
        #expect(Value(leakyBucket: open).leakyBucketState == open)
        #expect(Value(leakyBucket: blocked).leakyBucketState == blocked)
        #expect(Value.integer(3).leakyBucketState == nil)

        var keyspace = Keyspace()
        keyspace.set(key("b"), Value(leakyBucket: blocked), now: start)
        #expect(keyspace.usedMemory == MemoryEstimate.entry + MemoryEstimate.box(LeakyBucketState.self))
        keyspace.set(key("b"), Value(leakyBucket: open), now: start)
        #expect(keyspace.usedMemory == MemoryEstimate.entry)
        expectConsistent(keyspace)
    }

    @Test("a list grown and shrunk in place through withEntry is counted element by element, packed or not",
          arguments: [20, 100])
    func listThroughWithEntry(rounds: Int) {
        var keyspace = Keyspace()
        var sizes: [Int] = []
        for round in 0..<rounds {
            keyspace.withEntry(key("list"), now: start) { value, _ in
                guard case .list(var list)? = value.take() else {
                    value = .list(ListValue([bytes(round)]))
                    return
                }
                list.append(bytes(round * 10))
                list.prepend(bytes(3))
                value = .list(list)
            }
            sizes.append(keyspace.usedMemory)
            expectConsistent(keyspace)
        }
        // A packed list grows its array by a quarter at a time, not at every element; a
        // chained one gives a full chunk's room back when the next chunk starts.
        #expect(rounds != 20 || sizes == sizes.sorted())
        #expect(sizes.last! > sizes.first!)
        keyspace.withEntry(key("list"), now: start) { value, _ in
            guard case .list(var list)? = value.take() else { return }
            #expect(list.isPacked == (rounds == 20))
            list.removeFirst(10)
            list.removeLast(10)
            list[0] = bytes(1000)
            list.insert(bytes(77), at: 5)
            list.popFirst()
            list.popLast()
            list.removeAll { $0.count == 3 }
            value = .list(list)
        }
        expectConsistent(keyspace)
        #expect(keyspace.usedMemory < sizes.last!)
        keyspace.withEntry(key("list"), now: start) { value, _ in value = nil }
        #expect(keyspace.usedMemory == 0)
    }

    @Test("a hash, a sorted set and a set changed through update are counted field by field")
    func collectionsThroughUpdate() {
        var keyspace = Keyspace()
        keyspace.set(key("h"), .hash(HashValue()), now: start)
        keyspace.set(key("z"), .sortedSet(SortedSet()), now: start)
        keyspace.set(key("s"), .set(SetValue()), now: start)
        let empty = keyspace.usedMemory
        // An empty hash, sorted set or set is packed: no array, no box.
        #expect(empty == 3 * MemoryEstimate.entry)
        for index in 0..<1_500 {
            _ = keyspace.update(key("h"), now: start) { value -> Void in
                guard case .hash(var hash) = value else { return }
                value = .integer(0)  // drops the entry's reference so the hash changes in place
                hash.set(key("field\(index)"), bytes(index % 50))
                value = .hash(hash)
            }
            _ = keyspace.update(key("z"), now: start) { value -> Void in
                guard case .sortedSet(var set) = value else { return }
                value = .integer(0)
                set.set(key("member\(index)"), score: Double(index))
                value = .sortedSet(set)
            }
            _ = keyspace.update(key("s"), now: start) { value -> Void in
                guard case .set(var set) = value else { return }
                value = .integer(0)
                set.insert(key("member\(index)"))
                value = .set(set)
            }
        }
        expectConsistent(keyspace)
        let full = keyspace.usedMemory
        #expect(full > empty + 1_500 * (MemoryEstimate.hashEntry + MemoryEstimate.sortedSetMember + MemoryEstimate.setMember))
        _ = keyspace.update(key("h"), now: start) { value -> Void in
            guard case .hash(var hash) = value else { return }
            for index in 0..<1_500 { hash.remove(key("field\(index)")) }
            value = .hash(hash)
        }
        _ = keyspace.update(key("z"), now: start) { value -> Void in
            guard case .sortedSet(var set) = value else { return }
            set.removeRanks(0..<1_000)
            for index in 1_000..<1_500 { set.remove(key("member\(index)")) }
            value = .sortedSet(set)
        }
        _ = keyspace.update(key("s"), now: start) { value -> Void in
            guard case .set(var set) = value else { return }
            var random = SystemRandomNumberGenerator()
            for _ in 0..<1_000 { _ = set.popRandom(using: &random) }
            for index in 0..<1_500 { set.remove(key("member\(index)")) }
            value = .set(set)
        }
        #expect(keyspace.usedMemory == empty)
        expectConsistent(keyspace)
    }

    @Test("overwriting a hash field's value changes the total by the value's difference, packed or not")
    func hashFieldOverwrite() {
        // A value past the packed limit makes a table.
        var hash = HashValue()
        hash.set(key("f"), bytes(100))
        #expect(!hash.isPacked)
        let small = hash.heapBytes
        hash.set(key("f"), bytes(1000))
        #expect(hash.heapBytes == small - MemoryEstimate.bytes(100) + MemoryEstimate.bytes(1000))
        hash.remove(key("f"))
        #expect(hash.heapBytes == 0)

        // Packed, the array holds the field, the value and their lengths.
        var packed = HashValue()
        packed.set(key("f"), bytes(10))
        #expect(packed.isPacked)
        let before = packed.heapBytes
        packed.set(key("f"), bytes(60))
        #expect(packed.isPacked && packed.heapBytes > before && packed.heapBytes >= 2 + 1 + 60)
        packed.remove(key("f"))
        #expect(packed.heapBytes == 0)
    }

    @Test("a key expired lazily, actively or by a deadline in the past gives its bytes back")
    func expiryGivesBack() {
        var keyspace = Keyspace()
        keyspace.set(key("keep"), .string(bytes(20)), now: start)
        let baseline = keyspace.usedMemory
        keyspace.set(key("lazy"), .string(bytes(500)), expiresAt: later(100).milliseconds, now: start)
        keyspace.set(key("active"), .string(bytes(500)), expiresAt: later(100).milliseconds, now: start)
        keyspace.set(key("past"), .string(bytes(500)), now: start)
        keyspace.setExpiry(key("past"), at: later(-1).milliseconds, now: start)
        let lazy = keyspace.value(key("lazy"), now: later(101))
        #expect(lazy == nil)
        keyspace.expireCycle(now: later(101), maxChecks: 1_000)
        #expect(keyspace.count == 1)
        #expect(keyspace.usedMemory == baseline)
    }

    @Test("withEntry on an expired key counts only the value stored in its place")
    func withEntryReusesExpiredBucket() {
        var keyspace = Keyspace()
        keyspace.set(key("k"), .string(bytes(4000)), expiresAt: later(10).milliseconds, now: start)
        keyspace.withEntry(key("k"), now: later(11)) { value, deadline in
            #expect(value == nil)
            value = .string(bytes(3))
            deadline = later(50).milliseconds
        }
        #expect(keyspace.usedMemory == MemoryEstimate.entry + MemoryEstimate.bytes(3))
        keyspace.withEntry(key("k"), now: later(60)) { value, _ in #expect(value == nil) }
        #expect(keyspace.usedMemory == 0)
    }

    @Test("a rename (read, store under the new name, remove the old) keeps the total")
    func renameKeepsTotal() {
        var keyspace = Keyspace()
        keyspace.set(key("old"), .list(ListValue([bytes(100), bytes(200)])), expiresAt: later(1_000).milliseconds, now: start)
        let before = keyspace.usedMemory
        let value = keyspace.value(key("old"), now: start)!
        keyspace.set(key("new"), value, expiresAt: later(1_000).milliseconds, now: start)
        keyspace.remove(key("old"), now: start)
        #expect(keyspace.usedMemory == before)
    }

    @Test("a flush empties the total")
    func flushZeroes() {
        var keyspace = Keyspace()
        for index in 0..<100 { keyspace.set(key("k\(index)"), .string(bytes(index)), now: start) }
        keyspace.removeAll()
        #expect(keyspace.usedMemory == 0)
        keyspace.set(key("k"), .integer(1), now: start)
        #expect(keyspace.usedMemory == MemoryEstimate.entry)
    }

    @Test("table growth, shrinking and tombstones leave the total unchanged")
    func rebuildsDoNotChangeTotal() {
        var keyspace = Keyspace()
        for index in 0..<10_000 { keyspace.set(key("k\(index)"), .integer(Int64(index)), now: start) }
        #expect(keyspace.usedMemory == 10_000 * MemoryEstimate.entry)
        for index in 0..<9_990 { keyspace.remove(key("k\(index)"), now: start) }
        keyspace.expireCycle(now: start, maxChecks: 10)  // shrinks the sparse table
        #expect(keyspace.usedMemory == 10 * MemoryEstimate.entry)
        expectConsistent(keyspace)
    }

    @Test("random operations of every kind keep the running total equal to a recount")
    func randomOperationsStayConsistent() {
        var generator = SplitMix64(seed: 0x4D45_4D)
        var keyspace = Keyspace()
        for step in 0..<20_000 {
            let name = key("k\(Int.random(in: 0..<200, using: &generator))")
            let now = later(Int64(step))
            switch Int.random(in: 0..<7, using: &generator) {
            case 0:
                let deadline: Int64? = Bool.random(using: &generator) ? later(Int64(step + Int.random(in: 1..<500, using: &generator))).milliseconds : nil
                keyspace.set(name, .string(bytes(Int.random(in: 0..<100, using: &generator))), expiresAt: deadline, now: now)
            case 1:
                keyspace.remove(name, now: now)
            case 2:
                keyspace.withEntry(name, now: now) { value, deadline in
                    var list: ListValue
                    if case .list(let stored)? = value.take() { list = stored } else { list = ListValue() }
                    if Bool.random(using: &generator) || list.isEmpty {
                        list.append(bytes(Int.random(in: 0..<64, using: &generator)))
                    } else {
                        list.popFirst()
                    }
                    value = list.isEmpty ? nil : .list(list)
                    deadline = Bool.random(using: &generator) ? later(Int64(step + 300)).milliseconds : deadline
                }
            case 3:
                _ = keyspace.update(name, now: now) { value -> Void in
                    var hash: HashValue
                    if case .hash(let stored) = value { hash = stored } else { hash = HashValue() }
                    value = .integer(0)
                    hash.set(key("f\(Int.random(in: 0..<20, using: &generator))"), bytes(Int.random(in: 0..<30, using: &generator)))
                    value = .hash(hash)
                }
            case 4:
                keyspace.setExpiry(name, at: later(Int64(step + Int.random(in: -5..<200, using: &generator))).milliseconds, now: now)
            case 5:
                keyspace.expireCycle(now: now, maxChecks: 50)
            default:
                _ = keyspace.evict(toFit: keyspace.usedMemory - 1, policy: .volatileTTL, samples: 5, now: now)
            }
            if step % 97 == 0 { expectConsistent(keyspace) }
        }
        expectConsistent(keyspace)
        keyspace.removeAll()
        #expect(keyspace.usedMemory == 0)
    }
}

@Suite("Keyspace eviction")
struct KeyspaceEvictionTests {
    /// Ten keys with deadlines 10, 20, ... 100 ms ahead and five without, in a shuffled order.
    private func mixedKeyspace() -> Keyspace {
        var keyspace = Keyspace()
        var generator = SplitMix64(seed: 42)
        var names = (1...10).map { "ttl\($0)" } + (1...5).map { "keep\($0)" }
        names.shuffle(using: &generator)
        for name in names {
            let deadline = name.hasPrefix("ttl") ? later(Int64(name.dropFirst(3))! * 10).milliseconds : nil
            keyspace.set(key(name), .string(bytes(100)), expiresAt: deadline, now: start)
        }
        return keyspace
    }

    @Test("volatile-ttl evicts the keys nearest their deadline first, sampling them all when few")
    func volatileTTLOrder() {
        var keyspace = mixedKeyspace()
        let perKey = MemoryEstimate.entry + MemoryEstimate.bytes(100)
        let fits = keyspace.evict(toFit: keyspace.usedMemory - 3 * perKey, policy: .volatileTTL, samples: 16, now: start)
        #expect(fits)
        #expect(keyspace.stats.evictedKeys == 3)
        let left = Set(keyspace.keys(now: start).map { String(decoding: $0, as: UTF8.self) })
        #expect(left == Set((4...10).map { "ttl\($0)" } + (1...5).map { "keep\($0)" }))
    }

    @Test("volatile-ttl never evicts a key without a deadline, and reports when it cannot get under")
    func volatileTTLSparesPersistentKeys() {
        var keyspace = mixedKeyspace()
        let fits = keyspace.evict(toFit: 0, policy: .volatileTTL, samples: 5, now: start)
        #expect(fits == false)
        #expect(keyspace.stats.evictedKeys == 10)
        let left = Set(keyspace.keys(now: start).map { String(decoding: $0, as: UTF8.self) })
        #expect(left == Set((1...5).map { "keep\($0)" }))
    }

    @Test("volatile-random takes only keys with a deadline; allkeys-random takes any")
    func randomPolicies() {
        var volatile = mixedKeyspace()
        let volatileFits = volatile.evict(toFit: 0, policy: .volatileRandom, samples: 5, now: start)
        #expect(volatileFits == false)
        #expect(volatile.count == 5 && volatile.volatileCount == 0)
        var all = mixedKeyspace()
        let allFits = all.evict(toFit: 0, policy: .allKeysRandom, samples: 5, now: start)
        #expect(allFits)
        #expect(all.count == 0 && all.usedMemory == 0 && all.stats.evictedKeys == 15)
    }

    @Test("noeviction evicts nothing")
    func noEviction() {
        var keyspace = mixedKeyspace()
        let before = keyspace.usedMemory
        let fits = keyspace.evict(toFit: 0, policy: .noEviction, samples: 5, now: start)
        #expect(fits == false)
        #expect(keyspace.usedMemory == before && keyspace.stats.evictedKeys == 0)
    }

    @Test("expired keys met while evicting are reclaimed as expired, not counted as evicted")
    func expiredBeforeEvicted() {
        var keyspace = mixedKeyspace()
        let fits = keyspace.evict(toFit: keyspace.usedMemory - 1, policy: .volatileTTL, samples: 16, now: later(1_000))
        #expect(fits)
        #expect(keyspace.stats.evictedKeys == 0)
        #expect(keyspace.stats.expiredKeys == 1)
    }

    @Test("a deadline changed after insertion is the one eviction goes by")
    func changedDeadlineCounts() {
        var keyspace = mixedKeyspace()
        keyspace.setExpiry(key("ttl10"), at: later(1).milliseconds, now: start)
        keyspace.withEntry(key("ttl1"), now: start) { _, deadline in deadline = later(5_000).milliseconds }
        let fits = keyspace.evict(toFit: keyspace.usedMemory - 1, policy: .volatileTTL, samples: 64, now: start)
        let nearestLeft = keyspace.contains(key("ttl10"), now: start)
        let extendedLeft = keyspace.contains(key("ttl1"), now: start)
        #expect(fits && !nearestLeft && extendedLeft)
    }
}
