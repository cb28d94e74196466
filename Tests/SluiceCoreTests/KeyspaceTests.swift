import Testing
@testable import SluiceCore
import SeededRandom

private func key(_ text: String) -> Key { Array(text.utf8) }
private func string(_ text: String) -> Value { .string(Array(text.utf8)) }
private let start = Instant(milliseconds: 1_700_000_000_000)
private func later(_ offsetMs: Int64) -> Instant { Instant(milliseconds: start.milliseconds + offsetMs) }

@Suite("Keyspace")
struct KeyspaceTests {
    @Test("a stored value reads back until it is removed")
    func storeAndRemove() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("1"), now: start)
        let observed1 = keyspace.value(key("a"), now: start)
        #expect(observed1 == string("1"))
        let observed2 = keyspace.remove(key("a"), now: start)
        #expect(observed2)
        let observed3 = keyspace.value(key("a"), now: start)
        #expect(observed3 == nil)
        let observed4 = keyspace.remove(key("a"), now: start)
        #expect(observed4 == false)
    }

    @Test("a key lives through its deadline's millisecond, as in Redis, and is gone from the next")
    func deadlineIsExact() {
        var keyspace = Keyspace()
        keyspace.set(key("k"), string("v"), expiresAt: later(1000).milliseconds, now: start)
        let observed5 = keyspace.value(key("k"), now: Instant(nanoseconds: later(1001).nanoseconds - 1))
        #expect(observed5 == string("v"))
        let observed6 = keyspace.value(key("k"), now: later(1001))
        #expect(observed6 == nil)
        #expect(keyspace.count == 0)
        #expect(keyspace.stats.expiredKeys == 1)
    }

    @Test("setting a value without keepExpiry clears the old deadline")
    func setClearsDeadline() {
        var keyspace = Keyspace()
        keyspace.set(key("k"), string("v"), expiresAt: later(10).milliseconds, now: start)
        keyspace.set(key("k"), string("w"), now: start)
        let observed7 = keyspace.expiry(key("k"), now: start)
        #expect(observed7 == .some(nil))
        keyspace.setExpiry(key("k"), at: later(50).milliseconds, now: start)
        keyspace.set(key("k"), string("x"), keepExpiry: true, now: start)
        let observed8 = keyspace.expiry(key("k"), now: start)
        #expect(observed8 == .some(later(50).milliseconds))
    }

    @Test("a deadline in the past deletes the key at once")
    func pastDeadlineDeletes() {
        var keyspace = Keyspace()
        keyspace.set(key("k"), string("v"), now: start)
        let observed9 = keyspace.setExpiry(key("k"), at: later(-1).milliseconds, now: start)
        #expect(observed9)
        let observed10 = keyspace.contains(key("k"), now: start)
        #expect(observed10 == false)
        let observed11 = keyspace.setExpiry(key("missing"), at: later(5).milliseconds, now: start)
        #expect(observed11 == false)
    }

    @Test("active expiry reclaims a million expired keys that nobody reads")
    func activeExpiryReclaimsUnreadKeys() {
        var keyspace = Keyspace()
        for i in 0..<1_000_000 {
            keyspace.set(key("k\(i)"), string("v"), expiresAt: later(100).milliseconds, now: start)
        }
        keyspace.set(key("persistent"), string("v"), now: start)
        let observed12 = keyspace.expireCycle(now: later(100), maxChecks: 1_000_000)
        #expect(observed12 == 0)
        var cycles = 0
        while keyspace.count > 1 && cycles < 10_000 {
            keyspace.expireCycle(now: later(101), maxChecks: 1_000)
            cycles += 1
        }
        #expect(keyspace.count == 1)
        #expect(keyspace.stats.expiredKeys == 1_000_000)
        let observed13 = keyspace.value(key("persistent"), now: later(100))
        #expect(observed13 == string("v"))
    }

    @Test("one expiry cycle checks no more buckets than it is allowed, and repeated cycles reach every key")
    func expiryCycleIsBounded() {
        var keyspace = Keyspace()
        for i in 0..<10_000 {
            keyspace.set(key("k\(i)"), string("v"), expiresAt: later(1).milliseconds, now: start)
        }
        let first = keyspace.expireCycle(now: later(5), maxChecks: 100)
        #expect(first > 0 && first <= 100)
        #expect(keyspace.count == 10_000 - first)
        var cycles = 1
        while keyspace.count > 0 && cycles < 1_000 {
            keyspace.expireCycle(now: later(5), maxChecks: 100)
            cycles += 1
        }
        #expect(keyspace.count == 0)
    }

    @Test("a full scan returns every key present throughout it at least once, despite deletions and rebuilds")
    func scanSurvivesChurn() {
        var keyspace = Keyspace()
        for i in 0..<5_000 { keyspace.set(key("stay\(i)"), string("v"), now: start) }
        for i in 0..<20_000 { keyspace.set(key("go\(i)"), string("v"), now: start) }
        var seen: [Key: Int] = [:]
        var cursor: UInt64 = 0
        var round = 0
        repeat {
            let step = keyspace.scan(cursor: cursor, count: 500, now: start)
            for found in step.keys { seen[found, default: 0] += 1 }
            cursor = step.cursor
            // Delete a slice of the other keys between steps; this triggers compaction.
            for i in min(round * 2_000, 20_000)..<min((round + 1) * 2_000, 20_000) { keyspace.remove(key("go\(i)"), now: start) }
            round += 1
        } while cursor != 0 && round < 1_000
        #expect(cursor == 0)
        for i in 0..<5_000 { #expect(seen[key("stay\(i)"), default: 0] >= 1) }
    }

    @Test("a scan without churn returns each key exactly once")
    func scanWithoutChurnHasNoDuplicates() {
        var keyspace = Keyspace()
        for i in 0..<1_234 { keyspace.set(key("k\(i)"), string("v"), now: start) }
        var all: [Key] = []
        var cursor: UInt64 = 0
        repeat {
            let step = keyspace.scan(cursor: cursor, count: 100, now: start)
            all += step.keys
            cursor = step.cursor
        } while cursor != 0
        #expect(all.count == 1_234)
        #expect(Set(all).count == 1_234)
    }

    @Test("slots freed by deletion are reused without disturbing live keys")
    func slotReuseKeepsValues() {
        var keyspace = Keyspace()
        for i in 0..<100 { keyspace.set(key("k\(i)"), string("\(i)"), now: start) }
        for i in stride(from: 0, to: 100, by: 2) { keyspace.remove(key("k\(i)"), now: start) }
        // Removing the tail trims trailing holes, leaving stale free positions behind.
        for i in 90..<100 { keyspace.remove(key("k\(i)"), now: start) }
        for i in 0..<200 { keyspace.set(key("n\(i)"), string("n\(i)"), now: start) }
        for i in stride(from: 1, to: 90, by: 2) {
            let stored = keyspace.value(key("k\(i)"), now: start)
            #expect(stored == string("\(i)"))
        }
        for i in 0..<200 {
            let stored = keyspace.value(key("n\(i)"), now: start)
            #expect(stored == string("n\(i)"))
        }
        #expect(keyspace.count == 45 + 200)
    }

    @Test("keys matching filters by predicate and skips expired keys")
    func keysSkipsExpired() {
        var keyspace = Keyspace()
        keyspace.set(key("a1"), string("v"), now: start)
        keyspace.set(key("a2"), string("v"), expiresAt: later(5).milliseconds, now: start)
        keyspace.set(key("b1"), string("v"), now: start)
        let found = keyspace.keys(now: later(10)) { $0.first == UInt8(ascii: "a") }
        #expect(found == [key("a1")])
    }

    @Test("the volatile count follows deadlines being set, cleared and expired")
    func volatileCount() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("v"), expiresAt: later(5).milliseconds, now: start)
        keyspace.set(key("b"), string("v"), now: start)
        keyspace.setExpiry(key("b"), at: later(5).milliseconds, now: start)
        #expect(keyspace.volatileCount == 2)
        keyspace.setExpiry(key("a"), at: nil, now: start)
        #expect(keyspace.volatileCount == 1)
        _ = keyspace.value(key("b"), now: later(6))
        #expect(keyspace.volatileCount == 0)
    }
}

@Suite("Keyspace read-modify-write")
struct KeyspaceWithEntryTests {
    @Test("withEntry inserts, updates in place, keeps, and removes, with one look-up each")
    func lifecycle() {
        var keyspace = Keyspace()
        keyspace.withEntry(key("k"), now: start) { value, deadline in
            #expect(value == nil && deadline == nil)
            value = string("1")
            deadline = later(100).milliseconds
        }
        #expect(keyspace.count == 1 && keyspace.volatileCount == 1)
        keyspace.withEntry(key("k"), now: later(50)) { value, deadline in
            #expect(value == string("1") && deadline == later(100).milliseconds)
            value = string("2")
            deadline = nil
        }
        let persisted = keyspace.expiry(key("k"), now: later(500))
        #expect(persisted == .some(nil))
        #expect(keyspace.volatileCount == 0)
        keyspace.withEntry(key("k"), now: later(500)) { _, _ in }
        let kept = keyspace.value(key("k"), now: later(500))
        #expect(kept == string("2"))
        keyspace.withEntry(key("k"), now: later(500)) { value, _ in value = nil }
        #expect(keyspace.count == 0)
    }

    @Test("an expired entry reads as absent and its bucket is reused or freed")
    func expiredEntry() {
        var keyspace = Keyspace()
        keyspace.set(key("a"), string("old"), expiresAt: later(10).milliseconds, now: start)
        keyspace.set(key("b"), string("old"), expiresAt: later(10).milliseconds, now: start)
        keyspace.withEntry(key("a"), now: later(11)) { value, deadline in
            #expect(value == nil && deadline == nil)
            value = string("new")
        }
        keyspace.withEntry(key("b"), now: later(11)) { value, _ in #expect(value == nil) }
        #expect(keyspace.count == 1 && keyspace.volatileCount == 0)
        #expect(keyspace.stats.expiredKeys == 2)
        let renewed = keyspace.value(key("a"), now: later(1_000_000))
        #expect(renewed == string("new"))
    }
}

@Suite("Keyspace against a model")
struct KeyspaceModelTests {
    @Test("random sets, removals, expiries and sweeps agree with a dictionary", arguments: [1, 2, 3, 4] as [UInt64])
    func agreesWithModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var keyspace = Keyspace()
        var model: [Key: (value: Value, expiresAt: Int64?)] = [:]
        var nowMs = start.milliseconds
        for step in 0..<60_000 {
            let now = Instant(milliseconds: nowMs)
            let k = key("k\(random.next() % 3_000)")
            switch random.next() % 10 {
            case 0...3:
                let deadline: Int64? = random.next() % 3 == 0 ? nowMs + Int64(random.next() % 50) + 1 : nil
                keyspace.set(k, string("\(step)"), expiresAt: deadline, now: now)
                model[k] = (string("\(step)"), deadline)
            case 4...5:
                let removed = keyspace.remove(k, now: now)
                let live = model[k].map { $0.expiresAt.map { $0 >= nowMs } ?? true } ?? false
                #expect(removed == live)
                model[k] = nil
            case 6:
                keyspace.expireCycle(now: now, maxChecks: Int(random.next() % 500))
            case 7:
                nowMs += Int64(random.next() % 20)
            default:
                let found = keyspace.value(k, now: now)
                let expected = model[k].flatMap { entry in entry.expiresAt.map { $0 >= nowMs } ?? true ? entry.value : nil }
                #expect(found == expected, "step \(step)")
            }
        }
        let now = Instant(milliseconds: nowMs)
        let liveModel = model.filter { $0.value.expiresAt.map { $0 >= nowMs } ?? true }
        #expect(Set(keyspace.keys(now: now)) == Set(liveModel.keys))
        for (k, entry) in liveModel {
            let found = keyspace.value(k, now: now)
            #expect(found == entry.value)
        }
    }
}
