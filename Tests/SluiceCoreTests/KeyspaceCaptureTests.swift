import Testing
@testable import SluiceCore
import SeededRandom

private func key(_ text: String) -> Key { Array(text.utf8) }
private let start = Instant(milliseconds: 1_700_000_000_000)
private func later(_ offsetMs: Int64) -> Instant { Instant(milliseconds: start.milliseconds + offsetMs) }

/// The keys a snapshot of `keyspace` at `now` holds, as `Snapshot.encode` writes them.
private func contents(_ keyspace: Keyspace, now: Instant) throws -> [Key: Snapshot.Entry] {
    let decoded = try Snapshot.decode(Snapshot.encode(keyspace, now: now))
    return Dictionary(uniqueKeysWithValues: decoded.entries.map { ($0.key, $0) })
}

private func collected(_ entries: [Snapshot.Entry]) -> [Key: Snapshot.Entry] {
    Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0) })
}

/// Every kind of change a key can go through, chosen at random: the capture must not see any.
private func randomChange(_ keyspace: inout Keyspace, _ names: [Key], _ random: inout SplitMix64, now: Instant, serial: Int) {
    let name = names[Int(random.next() % UInt64(names.count))]
    switch random.next() % 9 {
    case 0: keyspace.set(name, .string(key("new\(serial)")), now: now)
    case 1: keyspace.remove(name, now: now)
    case 2: keyspace.withEntry(name, now: now) { value, deadline in value = .integer(Int64(serial)); deadline = nil }
    case 3: keyspace.setExpiry(name, at: later(1_000_000).milliseconds, now: now)
    case 4: keyspace.setExpiry(name, at: nil, now: now)
    case 5:
        _ = keyspace.update(name, now: now) { value in
            if case .list(var list) = value {
                list.append(key("pushed\(serial)"))
                value = .list(list)
            } else {
                value = .integer(-Int64(serial))
            }
        }
    case 6: keyspace.withEntry(name, now: now) { value, _ in value = nil }
    case 7: _ = keyspace.value(name, now: now)  // a read that may reclaim an expired key
    default: keyspace.set(key("added\(serial)"), .integer(7), now: now)  // into a hole or at the end
    }
}

@Suite("Keyspace capture (background snapshots)")
struct KeyspaceCaptureTests {
    /// Strings, integers, lists, long keys and deadlines, some of them past at `later(50)`.
    private func populated(_ count: Int) -> (Keyspace, [Key]) {
        var keyspace = Keyspace()
        var names: [Key] = []
        for i in 0..<count {
            let name = key(i % 7 == 0 ? "\(String(repeating: "long", count: 10))\(i)" : "k\(i)")
            let value: Value = switch i % 3 {
            case 0: .string(key("v\(i)"))
            case 1: .integer(Int64(i))
            default: .list(ListValue([key("a\(i)"), key("b\(i)")]))
            }
            keyspace.set(name, value, expiresAt: i % 5 == 0 ? later(Int64(i % 100)).milliseconds : nil, now: start)
            names.append(name)
        }
        // Holes, so that new keys reuse them.
        for i in stride(from: 3, to: count, by: 11) { keyspace.remove(names[i], now: start) }
        return (keyspace, names)
    }

    @Test("a capture collects the keyspace as it was at its start, whatever changes between its steps")
    func pointInTime() throws {
        for seed: UInt64 in 1...4 {
            var random = SplitMix64(seed: seed)
            var (keyspace, names) = populated(5_000)
            let expected = try contents(keyspace, now: later(50))
            let id = keyspace.beginCapture(now: later(50))
            var entries: [Snapshot.Entry] = []
            var serial = 0
            var steps = 0
            var progress = Keyspace.CaptureProgress.more
            while progress == .more {
                for _ in 0..<200 {
                    randomChange(&keyspace, names, &random, now: later(60), serial: serial)
                    serial += 1
                }
                // Expiry and compaction work go on meanwhile too.
                keyspace.expireCycle(now: later(60), maxChecks: 64)
                progress = keyspace.captureStep(id, slots: 97, into: &entries)
                steps += 1
            }
            #expect(progress == .done)
            #expect(steps > 20)
            #expect(collected(entries) == expected, "seed \(seed)")
            #expect(entries.count == expected.count)
            #expect(!keyspace.isCapturing && keyspace.capture.saved.allSatisfy(\.isEmpty))
            #expect(keyspace.layoutProblems() == [])
            #expect(keyspace.captureStep(id, slots: 97, into: &entries) == .lost)
        }
    }

    @Test("FLUSHALL during a capture: the capture still collects the keys of its start")
    func removeAllDuringCapture() throws {
        var (keyspace, names) = populated(2_000)
        let expected = try contents(keyspace, now: later(50))
        let id = keyspace.beginCapture(now: later(50))
        var entries: [Snapshot.Entry] = []
        #expect(keyspace.captureStep(id, slots: 500, into: &entries) == .more)
        keyspace.removeAll()
        for i in 0..<3_000 { keyspace.set(key("after\(i)"), .integer(1), now: later(60)) }
        for name in names.prefix(100) { keyspace.remove(name, now: later(60)) }
        for i in stride(from: 0, to: 3_000, by: 2) { keyspace.remove(key("after\(i)"), now: later(60)) }
        while keyspace.captureStep(id, slots: 500, into: &entries) == .more {}
        #expect(collected(entries) == expected)
        #expect(keyspace.count == 1_500)
    }

    @Test("compaction waits for the capture, and happens once it is done")
    func compactionWaits() throws {
        var (keyspace, names) = populated(4_000)
        let expected = try contents(keyspace, now: later(50))
        let id = keyspace.beginCapture(now: later(50))
        let entriesBefore = keyspace.layout.entries
        for name in names.dropFirst(10) { keyspace.remove(name, now: later(60)) }
        keyspace.expireCycle(now: later(60), maxChecks: 64)
        // Nine in ten keys gone, but the entries stay put for the capture.
        #expect(keyspace.layout.entries == entriesBefore)
        var entries: [Snapshot.Entry] = []
        let waiting = keyspace.isCompacting
        #expect(!waiting)
        while keyspace.captureStep(id, slots: 1_000, into: &entries) == .more {}
        #expect(collected(entries) == expected)
        let resumed = keyspace.isCompacting
        #expect(resumed)
        for _ in 0..<200 where keyspace.isCompacting { keyspace.expireCycle(now: later(60), maxChecks: 64) }
        #expect(keyspace.layout.entries < entriesBefore / 4)
        #expect(keyspace.layoutProblems() == [])
    }

    @Test("progress: the keys collected so far, of the keys there were at the start")
    func progress() {
        var (keyspace, names) = populated(1_000)
        let total = keyspace.count
        #expect(keyspace.captureCounts == nil)
        let id = keyspace.beginCapture(now: later(50))
        #expect(keyspace.captureCounts?.collected == 0 && keyspace.captureCounts?.total == total)
        var entries: [Snapshot.Entry] = []
        #expect(keyspace.captureStep(id, slots: 300, into: &entries) == .more)
        for name in names { keyspace.remove(name, now: later(60)) }
        #expect(keyspace.captureCounts?.collected == entries.count && keyspace.captureCounts?.total == total)
        while keyspace.captureStep(id, slots: 300, into: &entries) == .more {
            #expect(keyspace.captureCounts?.collected == entries.count)
        }
        // Keys already expired at the start are counted in the total but not collected.
        #expect(entries.count < total)
        #expect(keyspace.captureCounts == nil)
    }

    @Test("an ended or superseded capture is lost; an empty keyspace's capture is done at once")
    func endedCapture() {
        var (keyspace, _) = populated(100)
        let first = keyspace.beginCapture(now: start)
        var entries: [Snapshot.Entry] = []
        #expect(keyspace.captureStep(first, slots: 10, into: &entries) == .more)
        keyspace.endCapture(first)
        #expect(!keyspace.isCapturing)
        #expect(keyspace.captureStep(first, slots: 10, into: &entries) == .lost)
        let second = keyspace.beginCapture(now: start)
        let third = keyspace.beginCapture(now: start)
        #expect(keyspace.captureStep(second, slots: 10, into: &entries) == .lost)
        keyspace.endCapture(second)  // not the one under way: no effect
        #expect(keyspace.captureStep(third, slots: 10, into: &entries) == .more)

        var empty = Keyspace()
        let id = empty.beginCapture(now: start)
        entries = []
        #expect(empty.captureStep(id, slots: 10, into: &entries) == .done)
        #expect(entries.isEmpty && !empty.isCapturing)
    }
}
