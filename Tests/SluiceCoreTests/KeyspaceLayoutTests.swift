import Testing
@testable import SluiceCore
import SeededRandom

private func key(_ text: String) -> Key { Array(text.utf8) }
private func string(_ text: String) -> Value { .string(Array(text.utf8)) }
private let start = Instant(milliseconds: 1_700_000_000_000)
private func later(_ offsetMs: Int64) -> Instant { Instant(milliseconds: start.milliseconds + offsetMs) }

private func expectSound(_ keyspace: Keyspace, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(keyspace.layoutProblems() == [], sourceLocation: sourceLocation)
    #expect(keyspace.usedMemory == keyspace.recountedMemory(), sourceLocation: sourceLocation)
}

/// Two keys whose hashes give the same home slot and the same tag in a 16-slot index, so
/// a look-up of one reaches the other's entry and must tell them apart by their bytes.
/// Found by a birthday search over this process's seeded hash: 32 bits must agree, which
/// takes about 100,000 candidates.
private func collidingKeys(prefix: String) -> (Key, Key) {
    let mask = UInt32(Keyspace.minimumCapacity - 1)
    var seen: [UInt64: Key] = [:]
    var candidate = 0
    while true {
        let name = key("\(prefix)\(candidate)")
        let hash = name.withUnsafeBytes { Keyspace.hash($0) }
        let signature = UInt64(Keyspace.tag(hash, mask: mask)) | (hash & UInt64(mask))
        if let other = seen[signature] { return (other, name) }
        seen[signature] = name
        candidate += 1
    }
}

@Suite("Keyspace layout")
struct KeyspaceLayoutTests {
    @Test("keys of 0, 22 and 23 bytes and keys differing only by trailing zero bytes are distinct keys")
    func inlineBoundaries() {
        var keyspace = Keyspace()
        let names: [Key] = [[], [0], [0, 0], key("a"), key("a") + [0], key(String(repeating: "x", count: 22)),
                            key(String(repeating: "x", count: 23)), key(String(repeating: "x", count: 22)) + [0],
                            key(String(repeating: "y", count: 300))]
        for (number, name) in names.enumerated() { keyspace.set(name, .integer(Int64(number)), now: start) }
        for (number, name) in names.enumerated() {
            let stored = keyspace.value(name, now: start)
            #expect(stored == .integer(Int64(number)))
        }
        #expect(Set(keyspace.keys(now: start)) == Set(names))
        #expect(keyspace.layout.largeKeys == 3)
        expectSound(keyspace)
        for name in names { keyspace.remove(name, now: start) }
        #expect(keyspace.count == 0)
        expectSound(keyspace)
    }

    @Test("two keys with the same home slot and tag are told apart by their bytes, short or long")
    func forcedCollisions() {
        for prefix in ["c", String(repeating: "long-key-", count: 3)] {
            let (first, second) = collidingKeys(prefix: prefix)
            var keyspace = Keyspace()
            #expect(keyspace.layout.indexSlots == Keyspace.minimumCapacity)
            keyspace.set(first, string("first"), now: start)
            let secondBeforeInsert = keyspace.value(second, now: start)
            #expect(secondBeforeInsert == nil)
            keyspace.set(second, string("second"), now: start)
            let both = [keyspace.value(first, now: start), keyspace.value(second, now: start)]
            #expect(both == [string("first"), string("second")])
            expectSound(keyspace)
            // The first one's slot becomes a tombstone that the look-up of the second walks past.
            keyspace.remove(first, now: start)
            let afterRemove = [keyspace.value(first, now: start), keyspace.value(second, now: start)]
            #expect(afterRemove == [nil, string("second")])
            keyspace.set(first, string("again"), now: start)
            let again = [keyspace.value(first, now: start), keyspace.value(second, now: start)]
            #expect(again == [string("again"), string("second")])
            expectSound(keyspace)
        }
    }

    #if DEBUG
    @Test("keys that all have the same hash are still told apart: by length, trailing zero bytes, inline or large")
    func everyKeyCollides() {
        var keyspace = Keyspace()
        keyspace.hashForTests = { _ in 0x1234_5678_9ABC_DEF0 }
        let zeros: [Key] = (0...23).map { [UInt8](repeating: 0, count: $0) }
        let names: [Key] = zeros + zeros.map { key("a") + $0 } + (0..<200).map { key("k\($0)") }
            + [key(String(repeating: "x", count: 40)), key(String(repeating: "x", count: 41))]
        for (number, name) in names.enumerated() { keyspace.set(name, .integer(Int64(number)), now: start) }
        #expect(keyspace.count == names.count)
        expectSound(keyspace)
        for (number, name) in names.enumerated() where number % 2 == 0 { keyspace.remove(name, now: start) }
        for (number, name) in names.enumerated() {
            let stored = keyspace.value(name, now: start)
            #expect(stored == (number % 2 == 0 ? nil : .integer(Int64(number))), "key \(name)")
        }
        expectSound(keyspace)
        for (number, name) in names.enumerated() where number % 2 == 0 {
            keyspace.set(name, .integer(Int64(-number)), expiresAt: later(10).milliseconds, now: start)
        }
        keyspace.expireCycle(now: later(11), maxChecks: names.count)
        #expect(keyspace.count == names.count / 2)
        for (number, name) in names.enumerated() {
            let stored = keyspace.value(name, now: later(11))
            #expect(stored == (number % 2 == 0 ? nil : .integer(Int64(number))), "key \(name)")
        }
        expectSound(keyspace)
    }

    @Test("random operations under a hash with four values agree with a dictionary")
    func heavyCollisionsAgreeWithModel() {
        var random = SplitMix64(seed: 11)
        var keyspace = Keyspace()
        keyspace.hashForTests = { bytes in UInt64(bytes.count % 4) &* 0x9E37_79B9_7F4A_7C15 }
        var model: [Key: Value] = [:]
        for step in 0..<20_000 {
            let number = random.next() % 500
            let name = key(number % 5 == 0 ? "\(String(repeating: "p", count: 25))\(number)" : "k\(number)")
            switch random.next() % 6 {
            case 0...1:
                keyspace.set(name, .integer(Int64(step)), now: start)
                model[name] = .integer(Int64(step))
            case 2...3:
                keyspace.remove(name, now: start)
                model[name] = nil
            case 4:
                keyspace.expireCycle(now: start, maxChecks: 50)
            default:
                let stored = keyspace.value(name, now: start)
                #expect(stored == model[name], "step \(step)")
            }
            if step % 2_000 == 0 { expectSound(keyspace) }
        }
        #expect(Set(keyspace.keys(now: start)) == Set(model.keys))
        expectSound(keyspace)
    }
    #endif

    @Test("a scan across growth of both arrays returns each key present from its start exactly once")
    func scanAcrossGrowth() {
        var keyspace = Keyspace()
        for i in 0..<1_000 { keyspace.set(key("old\(i)"), string("v"), now: start) }
        let before = keyspace.layout
        var seen: [Key: Int] = [:]
        var cursor: UInt64 = 0
        var round = 0
        repeat {
            let step = keyspace.scan(cursor: cursor, count: 50, now: start)
            for found in step.keys { seen[found, default: 0] += 1 }
            cursor = step.cursor
            if round < 10 {
                for i in 0..<4_000 { keyspace.set(key("new\(round)-\(i)"), string("v"), now: start) }
            }
            round += 1
        } while cursor != 0 && round < 10_000
        #expect(keyspace.layout.indexSlots >= 16 * before.indexSlots)
        for i in 0..<1_000 { #expect(seen[key("old\(i)")] == 1) }
        expectSound(keyspace)
    }

    @Test("a scan across deletions that leave holes, and their reuse, misses no key present throughout")
    func scanAcrossHoles() {
        var keyspace = Keyspace()
        for i in 0..<4_000 { keyspace.set(key(i % 2 == 0 ? "stay\(i)" : "go\(i)"), string("v"), now: start) }
        var seen: [Key: Int] = [:]
        var cursor: UInt64 = 0
        var round = 0
        repeat {
            let step = keyspace.scan(cursor: cursor, count: 100, now: start)
            for found in step.keys { seen[found, default: 0] += 1 }
            cursor = step.cursor
            for i in stride(from: 1 + round * 200, to: min(4_000, 1 + (round + 1) * 200), by: 2) { keyspace.remove(key("go\(i)"), now: start) }
            for i in 0..<50 { keyspace.set(key("fill\(round)-\(i)"), string("v"), now: start) }
            round += 1
        } while cursor != 0 && round < 10_000
        for i in stride(from: 0, to: 4_000, by: 2) { #expect(seen[key("stay\(i)")] == 1) }
        expectSound(keyspace)
    }

    @Test("inserting and deleting keys in turn keeps the index small: tombstones are cleared, not grown over")
    func tombstoneChurn() {
        var keyspace = Keyspace()
        for i in 0..<8 { keyspace.set(key("stay\(i)"), .integer(Int64(i)), now: start) }
        for round in 0..<50_000 {
            keyspace.set(key("churn\(round)"), .integer(1), now: start)
            if round % 3 == 0 { keyspace.set(key("churn\(round)b"), .integer(2), now: start) }
            keyspace.remove(key("churn\(round)"), now: start)
            if round % 3 == 0 { keyspace.remove(key("churn\(round)b"), now: start) }
            if round % 10_000 == 0 { expectSound(keyspace) }
        }
        #expect(keyspace.layout.indexSlots <= 64)
        #expect(keyspace.layout.entries <= 16)
        for i in 0..<8 {
            let stored = keyspace.value(key("stay\(i)"), now: start)
            #expect(stored == .integer(Int64(i)))
        }
        expectSound(keyspace)
    }

    @Test("a keyspace that lost most keys is compacted by the expiry sweep: smaller arrays, same keys and total; a copy taken before keeps its own")
    func compaction() {
        var keyspace = Keyspace()
        let long = String(repeating: "z", count: 40)
        func name(_ i: Int) -> Key { key(i % 100 == 0 ? "\(long)\(i)" : "k\(i)") }
        // Strings as well as integers: compaction moves values that hold arrays.
        func stored(_ i: Int) -> Value { i % 3 == 0 ? string("value \(i)") : .integer(Int64(i)) }
        for i in 0..<10_000 { keyspace.set(name(i), stored(i), now: start) }
        let full = keyspace.layout
        for i in 0..<10_000 where i % 50 != 0 { keyspace.remove(name(i), now: start) }
        let memory = keyspace.usedMemory
        #expect(keyspace.layout == full)
        var before = keyspace
        // A step of 100 units of work at a time, each checked; the index then shrinks
        // a slot batch per cycle.
        var cycles = 0
        repeat {
            let entries = keyspace.layout.entries
            keyspace.expireCycle(now: start, maxChecks: 100)
            #expect(entries - keyspace.layout.entries <= 100)
            if cycles % 10 == 0 { expectSound(keyspace) }
            cycles += 1
        } while (keyspace.isCompacting || keyspace.slotsToMigrate > 0) && cycles < 1_000
        #expect(cycles > 10 && cycles < 1_000)
        #expect(keyspace.layout.entries == 200 && keyspace.layout.indexSlots < full.indexSlots)
        #expect(keyspace.layout.largeKeys == 100)
        #expect(keyspace.usedMemory == memory)
        #expect(before.layout == full)
        keyspace.set(name(50), string("changed"), now: start)
        for i in stride(from: 0, to: 10_000, by: 50) {
            #expect(keyspace.value(name(i), now: start) == (i == 50 ? string("changed") : stored(i)))
            #expect(before.value(name(i), now: start) == stored(i))
        }
        expectSound(keyspace)
        expectSound(before)
    }

    @Test("keys set and deleted while a compaction runs: inserts fill the holes at its front, deletions past it are found by it, nothing is lost")
    func churnDuringCompaction() {
        var random = SplitMix64(seed: 5)
        var keyspace = Keyspace()
        var model: [Key: Value] = [:]
        for i in 0..<8_000 { keyspace.set(key("k\(i)"), .integer(Int64(i)), now: start) }
        for i in 0..<8_000 {
            if i % 10 == 0 { model[key("k\(i)")] = .integer(Int64(i)) } else { keyspace.remove(key("k\(i)"), now: start) }
        }
        keyspace.expireCycle(now: start, maxChecks: 10)
        let started = keyspace.isCompacting
        #expect(started)
        var step = 0
        while keyspace.isCompacting && step < 5_000 {
            for _ in 0..<5 {
                let name = key("c\(random.next() % 3_000)")
                if random.next() % 3 == 0 {
                    keyspace.remove(name, now: start)
                    model[name] = nil
                } else {
                    keyspace.set(name, .integer(Int64(step)), now: start)
                    model[name] = .integer(Int64(step))
                }
            }
            // Old keys go too, from anywhere: behind the compaction's front, and past it,
            // right before a step of it.
            for _ in 0..<2 {
                let old = key("k\(random.next() % 800 * 10)")
                keyspace.remove(old, now: start)
                model[old] = nil
            }
            keyspace.expireCycle(now: start, maxChecks: 10)
            if step % 5 == 0 { expectSound(keyspace) }
            step += 1
        }
        let finished = !keyspace.isCompacting
        #expect(finished)
        // Inserts took holes instead of growing the table past what it held.
        #expect(keyspace.layout.entries <= 8_000)
        for (name, value) in model { #expect(keyspace.value(name, now: start) == value) }
        #expect(keyspace.count == model.count)
        expectSound(keyspace)
    }

    @Test("a scan across a compaction, with keys coming and going, returns every key present throughout it")
    func scanAcrossCompaction() {
        var keyspace = Keyspace()
        for i in 0..<6_000 { keyspace.set(key(i % 5 == 0 ? "stay\(i)" : "go\(i)"), string("v"), now: start) }
        for i in 0..<6_000 where i % 5 != 0 { keyspace.remove(key("go\(i)"), now: start) }
        var seen: Set<Key> = []
        var cursor: UInt64 = 0
        var round = 0
        var compacted = false
        repeat {
            let step = keyspace.scan(cursor: cursor, count: 30, now: start)
            seen.formUnion(step.keys)
            cursor = step.cursor
            keyspace.expireCycle(now: start, maxChecks: 40)
            compacted = compacted || keyspace.isCompacting
            for i in 0..<3 { keyspace.set(key("new\(round)-\(i)"), string("v"), now: start) }
            round += 1
        } while cursor != 0 && round < 10_000
        #expect(compacted)
        for i in stride(from: 0, to: 6_000, by: 5) { #expect(seen.contains(key("stay\(i)")), "stay\(i)") }
        expectSound(keyspace)
    }

    @Test("waves of inserts and mass deletions, with expiring keys, captures and scans, agree with a model while compactions run",
          arguments: [3, 4, 5] as [UInt64])
    func compactionsUnderRandomWaves(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var keyspace = Keyspace()
        // What each live key holds and its deadline, if any.
        var model: [Key: (value: Value, deadline: Int64?)] = [:]
        var clock = start.milliseconds
        let long = String(repeating: "L", count: 30)
        var compactions = 0
        // A capture under way: its id, what it must end up with, and what it collected.
        var capture: (id: UInt64, expected: [Key: Snapshot.Entry], entries: [Snapshot.Entry])?
        for step in 0..<24_000 {
            let now = Instant(milliseconds: clock)
            // Keys past their deadline are gone for the model as for clients.
            if step % 500 == 0 { model = model.filter { $0.value.deadline.map { $0 >= clock } ?? true } }
            let number = random.next() % 6_000
            let name = key(number % 11 == 0 ? "\(long)\(number)" : "k\(number)")
            switch random.next() % 16 {
            case 0...5:
                let deadline: Int64? = random.next() % 3 == 0 ? clock + Int64(random.next() % 400) + 1 : nil
                keyspace.set(name, .integer(Int64(step)), expiresAt: deadline, now: now)
                model[name] = (.integer(Int64(step)), deadline)
            case 6...7:
                keyspace.remove(name, now: now)
                model[name] = nil
            case 8...10:
                let wasCompacting = keyspace.isCompacting
                keyspace.expireCycle(now: now, maxChecks: Int(random.next() % 300) + 1)
                if !wasCompacting && keyspace.isCompacting { compactions += 1 }
            case 11:
                clock += Int64(random.next() % 50)
            case 12:
                if var running = capture {
                    if keyspace.captureStep(running.id, slots: Int(random.next() % 400) + 1, into: &running.entries) == .done {
                        #expect(Dictionary(uniqueKeysWithValues: running.entries.map { ($0.key, $0) }) == running.expected, "step \(step)")
                        capture = nil
                    } else {
                        capture = running
                    }
                } else if random.next() % 8 == 0 {
                    let live = model.filter { $0.value.deadline.map { $0 >= clock } ?? true }
                    let expected = Dictionary(uniqueKeysWithValues: live.map { ($0.key, Snapshot.Entry(key: $0.key, value: $0.value.value, expiresAt: $0.value.deadline)) })
                    capture = (keyspace.beginCapture(now: now), expected, [])
                }
            case 13 where step % 3_000 < 50:
                // A wave of deletions: most keys go at once.
                for doomed in model.keys where random.next() % 10 != 0 {
                    keyspace.remove(doomed, now: now)
                    model[doomed] = nil
                }
            case 14 where random.next() % 20 == 0:
                // A whole scan, with the keyspace changing between its steps.
                let present = Set(model.filter { $0.value.deadline == nil }.keys)
                var seen: Set<Key> = []
                var cursor: UInt64 = 0
                repeat {
                    let scanned = keyspace.scan(cursor: cursor, count: 64, now: now)
                    seen.formUnion(scanned.keys)
                    cursor = scanned.cursor
                    keyspace.expireCycle(now: now, maxChecks: 64)
                    let other = key("s\(random.next() % 500)")
                    keyspace.set(other, .integer(0), now: now)
                    model[other] = (.integer(0), nil)
                } while cursor != 0
                // Keys without deadlines that no step removed were present throughout.
                #expect(present.subtracting(seen).filter { model[$0] != nil }.isEmpty, "step \(step)")
            default:
                let stored = keyspace.value(name, now: now)
                let expected = model[name].flatMap { $0.deadline.map { $0 >= clock } ?? true ? $0.value : nil }
                #expect(stored == expected, "step \(step)")
            }
            if step % 1_000 == 0 { expectSound(keyspace) }
        }
        #expect(compactions > 0)
        let now = Instant(milliseconds: clock)
        let live = Set(model.filter { $0.value.deadline.map { $0 >= clock } ?? true }.keys)
        #expect(Set(keyspace.keys(now: now)) == live)
        expectSound(keyspace)
    }

    @Test("random keys come only from live keys, also when most entries are holes")
    func randomKeyAmongHoles() {
        var keyspace = Keyspace()
        for i in 0..<1_000 { keyspace.set(key("k\(i)"), string("v"), now: start) }
        for i in 0..<1_000 where i != 500 && i != 900 { keyspace.remove(key("k\(i)"), now: start) }
        keyspace.set(key("k900"), string("v"), expiresAt: later(5).milliseconds, now: start)
        var seen: Set<Key> = []
        for _ in 0..<200 { if let found = keyspace.randomKey(now: later(10)) { seen.insert(found) } }
        #expect(seen == [key("k500")])
        keyspace.remove(key("k500"), now: start)
        let none = keyspace.randomKey(now: later(10))
        #expect(none == nil)
    }

    @Test("prefetching present, absent and long keys changes nothing, also when the tables change between the stages")
    func prefetchChangesNothing() {
        var keyspace = Keyspace()
        let empty = Keyspace.hash(UnsafeRawBufferPointer(start: nil, count: 0))
        keyspace.prefetchIndex(hash: empty)
        keyspace.prefetchEntry(hash: empty)
        keyspace.prefetchValue(hash: empty)
        let longLog = SlidingWindowLog(entries: (0..<500).map { .init(timestampMilliseconds: $0, weight: 1) })
        let values: [Value] = [.integer(1), string("text"), .leakyBucket(level: 1, lastLeak: start), .list(ListValue([[1]])),
                               .slidingWindow(SlidingWindowLog(entries: [.init(timestampMilliseconds: 1, weight: 1)])),
                               .slidingWindow(longLog), .slidingWindow(SlidingWindowLog())]
        for i in 0..<100 { keyspace.set(key("k\(i)"), values[i % values.count], now: start) }
        let probes = (0..<200).map { key("k\($0)") } + [key(String(repeating: "q", count: 50))]
        let hashes = probes.map { probe in probe.withUnsafeBytes { Keyspace.hash($0) } }
        for hash in hashes { keyspace.prefetchIndex(hash: hash) }
        for hash in hashes { keyspace.prefetchEntry(hash: hash) }
        for hash in hashes { keyspace.prefetchValue(hash: hash) }
        for hash in hashes { keyspace.prefetchLogEnd(hash: hash) }
        #expect(keyspace.count == 100 && keyspace.stats == Keyspace.Stats())
        // A hash taken before the index grew, or before its entry was removed, only wastes a load.
        for i in 100..<1_000 { keyspace.set(key("k\(i)"), .integer(Int64(i)), now: start) }
        for i in 0..<50 { keyspace.remove(key("k\(i)"), now: start) }
        for hash in hashes { keyspace.prefetchEntry(hash: hash) }
        for hash in hashes { keyspace.prefetchValue(hash: hash) }
        for hash in hashes { keyspace.prefetchLogEnd(hash: hash) }
        #expect(keyspace.count == 950 && keyspace.stats == Keyspace.Stats())
        for i in 50..<100 { #expect(keyspace.value(key("k\(i)"), now: start) == values[i % values.count]) }
        expectSound(keyspace)
    }

    @Test("a key hashed without the keyspace, as the server does before taking its lock, hashes alike and is found")
    func hashedBeforehand() {
        var keyspace = Keyspace()
        for i in 0..<1_000 { keyspace.set(key("k\(i)"), .integer(Int64(i)), now: start) }
        for i in 0..<1_000 {
            key("k\(i)").withUnsafeBytes { raw in
                let hash = Keyspace.hash(raw)
                #expect(hash == keyspace.hash(raw))
                keyspace.prefetchIndex(hash: hash)
                keyspace.expectKey(raw, hash: hash)
                #expect(keyspace.value(raw, now: start) == .integer(Int64(i)))
                keyspace.forgetExpectedKey()
            }
        }
        expectSound(keyspace)
    }

    /// `prefetchValue` reads a value's storage pointer from its first word; if a compiler
    /// laid values out otherwise, the prefetch would only miss, and this would fail.
    @Test("a string's and a log's value begins with the address of their array's storage")
    func valueStorageIsFirstWord() {
        let bytes: [UInt8] = Array("some value".utf8)
        let log = SlidingWindowLog(entries: [.init(timestampMilliseconds: 5, weight: 2)])
        // An array's elements follow a 32-byte header: the object header, count and capacity.
        let cases: [(Value, UnsafeRawPointer)] = [
            (.string(bytes), bytes.withUnsafeBytes { $0.baseAddress! } - 32),
            (.slidingWindow(log), log.entries.withUnsafeBytes { $0.baseAddress! } - 32),
        ]
        for (value, storage) in cases {
            #expect(value.pointsToStorage)
            #expect(withUnsafeBytes(of: value) { $0.load(as: UnsafeRawPointer.self) } == storage)
        }
        #expect(!Value.integer(7).pointsToStorage && !Value.leakyBucket(level: 1, lastLeak: start).pointsToStorage)
    }

    /// `prefetchLogEnd` reads a log's entry count from its array's header and finds the
    /// newest entry from it; if the header were laid out otherwise, it would only miss.
    @Test("a log's array storage holds its count at byte 16 and its newest entry at 32 + (count - 1) × 16")
    func logStorageHeader() {
        for count in [1, 5, 300] {
            let log = SlidingWindowLog(entries: (0..<count).map { .init(timestampMilliseconds: Int64($0), weight: 1) })
            let value = Value.slidingWindow(log)
            #expect(value.isSlidingWindow && !string("x").isSlidingWindow)
            let storage = withUnsafeBytes(of: value) { $0.load(as: UnsafeRawPointer.self) }
            #expect(storage.load(fromByteOffset: 16, as: Int.self) == count)
            let newest = storage + 32 + (count - 1) * MemoryLayout<SlidingWindowLog.Entry>.stride
            #expect(newest.load(as: SlidingWindowLog.Entry.self) == log.entries.last)
        }
    }

    @Test("while the index grows a few slots per insert, keys in the old and the new index are read, changed, expired and removed")
    func growingIndex() {
        var random = SplitMix64(seed: 21)
        var keyspace = Keyspace()
        var model: [Key: Value] = [:]
        var number = 0
        func insert() {
            let name = key(number % 5 == 0 ? "\(String(repeating: "g", count: 30))\(number)" : "g\(number)")
            // Every third key has a deadline at 100 ms.
            keyspace.set(name, .integer(Int64(number)), expiresAt: number % 3 == 0 ? later(100).milliseconds : nil, now: start)
            model[name] = .integer(Int64(number))
            number += 1
        }
        // Past the small tables, whose moves take an insert or two.
        while number < 300 || keyspace.slotsToMigrate > 0 { insert() }
        for _ in 0..<3 {
            while keyspace.slotsToMigrate == 0 { insert() }
            let slots = keyspace.layout.indexSlots
            var steps = 0
            while keyspace.slotsToMigrate > 0 {
                let name = Array(model.keys)[Int(random.next() % UInt64(model.count))]
                switch random.next() % 5 {
                case 0:
                    keyspace.remove(name, now: start)
                    model[name] = nil
                case 1:
                    keyspace.withEntry(name, now: start) { value, _ in value = .integer(-1) }
                    model[name] = .integer(-1)
                case 2:
                    let stored = keyspace.value(name, now: start)
                    #expect(stored == model[name])
                    #expect(keyspace.value(key("absent\(steps)"), now: start) == nil)
                default:
                    insert()
                }
                if steps % 8 == 0 { expectSound(keyspace) }
                steps += 1
            }
            expectSound(keyspace)
            #expect(steps > 10 && keyspace.layout.indexSlots == slots)
        }
        #expect(Set(keyspace.keys(now: start)) == Set(model.keys))
        // Past their deadline, keys in either index are reclaimed by the sweep.
        while keyspace.slotsToMigrate == 0 { insert() }
        let expiring = model.keys.filter { name in keyspace.expiry(name, now: start) != .some(nil) }
        keyspace.expireCycle(now: later(101), maxChecks: keyspace.layout.entries)
        expectSound(keyspace)
        for name in expiring { model[name] = nil }
        #expect(!expiring.isEmpty && Set(keyspace.keys(now: later(101))) == Set(model.keys))
    }

    @Test("the next index is cleared a few slots per insert ahead of the growth that needs it")
    func preparedIndex() {
        var keyspace = Keyspace()
        var slots = keyspace.layout.indexSlots
        var prepared = 0
        var growths = 0
        for i in 0..<100_000 {
            keyspace.set(key("p\(i)"), .integer(1), now: start)
            if keyspace.layout.indexSlots != slots {
                // Ready before the insert that needed it.
                #expect(prepared == 2 * slots, "growth from \(slots) slots")
                #expect(keyspace.preparedSlots == 0)
                slots = keyspace.layout.indexSlots
                growths += 1
            } else if keyspace.layout.entries * 8 <= slots * 5 {
                #expect(keyspace.preparedSlots == 0)
            }
            prepared = keyspace.preparedSlots
            if i % 9_999 == 0 { expectSound(keyspace) }
        }
        #expect(growths >= 12)
        expectSound(keyspace)
    }

    @Test("the expiry sweep finishes moving a growing index when no keys are added")
    func sweepFinishesGrowth() {
        var keyspace = Keyspace()
        var number = 0
        while keyspace.slotsToMigrate == 0 {
            keyspace.set(key("s\(number)"), .integer(1), now: start)
            number += 1
        }
        let slots = keyspace.slotsToMigrate
        keyspace.expireCycle(now: start, maxChecks: 1)
        #expect(keyspace.slotsToMigrate == max(0, slots - 16))
        while keyspace.slotsToMigrate > 0 { keyspace.expireCycle(now: start, maxChecks: 100) }
        expectSound(keyspace)
        for i in 0..<number { #expect(keyspace.value(key("s\(i)"), now: start) == .integer(1)) }
    }

    @Test("past the first chunk of entries, keys keep their places; a copy taken before changes is not changed by them")
    func entryChunks() {
        var keyspace = Keyspace()
        let total = EntryTable<Keyspace.Entry>.chunkSize * 2 + 100
        for i in 0..<total { keyspace.set(key("e\(i)"), .integer(Int64(i)), now: start) }
        let copy = keyspace
        for i in stride(from: 0, to: total, by: 1_000) { keyspace.set(key("e\(i)"), .integer(-1), now: start) }
        keyspace.remove(key("e\(total - 1)"), now: start)
        keyspace.set(key("extra"), .integer(0), now: start)
        var original = copy
        for i in 0..<total {
            #expect(original.value(key("e\(i)"), now: start) == .integer(Int64(i)))
            let changed = keyspace.value(key("e\(i)"), now: start)
            #expect(changed == (i == total - 1 ? nil : .integer(i % 1_000 == 0 ? -1 : Int64(i))))
        }
        #expect(original.value(key("extra"), now: start) == nil)
        expectSound(keyspace)
        expectSound(original)
        // Compacted across chunks: the live keys move together into fewer chunks.
        for i in 0..<total where i % 8 != 0 { keyspace.remove(key("e\(i)"), now: start) }
        for _ in 0..<1_000 {
            keyspace.expireCycle(now: start, maxChecks: 1_000)
            if !keyspace.isCompacting { break }
        }
        #expect(keyspace.layout.entries < EntryTable<Keyspace.Entry>.chunkSize)
        for i in stride(from: 0, to: total, by: 8) {
            #expect(keyspace.value(key("e\(i)"), now: start) == .integer(i % 1_000 == 0 ? -1 : Int64(i)))
        }
        expectSound(keyspace)
    }

    @Test("random operations on short and long keys keep the index, free list and counts consistent",
          arguments: [7, 8] as [UInt64])
    func randomOperationsKeepLayoutSound(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var keyspace = Keyspace()
        var model: [Key: Value] = [:]
        let long = String(repeating: "L", count: 30)
        for step in 0..<30_000 {
            let number = random.next() % 2_000
            let name = key(number % 7 == 0 ? "\(long)\(number)" : "k\(number)")
            switch random.next() % 8 {
            case 0...2:
                keyspace.set(name, .integer(Int64(step)), now: start)
                model[name] = .integer(Int64(step))
            case 3...4:
                keyspace.remove(name, now: start)
                model[name] = nil
            case 5:
                keyspace.withEntry(name, now: start) { value, _ in
                    value = value == nil ? .integer(-1) : nil
                }
                model[name] = model[name] == nil ? .integer(-1) : nil
            case 6:
                keyspace.expireCycle(now: start, maxChecks: 100)
            default:
                let stored = keyspace.value(name, now: start)
                #expect(stored == model[name], "step \(step)")
            }
            if step % 1_000 == 0 { expectSound(keyspace) }
        }
        #expect(Set(keyspace.keys(now: start)) == Set(model.keys))
        expectSound(keyspace)
    }
}
