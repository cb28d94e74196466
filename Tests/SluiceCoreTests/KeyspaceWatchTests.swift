import Testing
@testable import SluiceCore

private func key(_ text: String) -> Key { Array(text.utf8) }
private func string(_ text: String) -> Value { .string(Array(text.utf8)) }
private let start = Instant(milliseconds: 1_700_000_000_000)
private func later(_ offsetMs: Int64) -> Instant { Instant(milliseconds: start.milliseconds + offsetMs) }

/// A keyspace holding `w` (watched, persistent), `t` (watched, deadline at +100 ms) and
/// `other` (not watched); returns the versions taken for `w`, `t` and the absent `new`.
private func watchedKeyspace() -> (Keyspace, w: UInt64, t: UInt64, new: UInt64) {
    var keyspace = Keyspace()
    keyspace.set(key("w"), string("1"), now: start)
    keyspace.set(key("t"), string("1"), expiresAt: later(100).milliseconds, now: start)
    keyspace.set(key("other"), .integer(5), now: start)
    let w = keyspace.watch(key("w"), now: start)
    let t = keyspace.watch(key("t"), now: start)
    let new = keyspace.watch(key("new"), now: start)
    return (keyspace, w, t, new)
}

@Suite("Keyspace watch registry")
struct KeyspaceWatchTests {
    @Test("every kind of write to a watched key changes it", arguments: [
        "set", "set keeping expiry", "set on an absent key", "update", "withEntry store", "withEntry delete",
        "withEntry insert", "remove", "expire", "persist", "expire in the past", "flush",
    ])
    func writesChange(_ path: String) {
        var (keyspace, w, t, new) = watchedKeyspace()
        var changedKey = key("w"), version = w
        switch path {
        case "set": keyspace.set(key("w"), string("2"), now: start)
        case "set keeping expiry": keyspace.set(key("w"), string("2"), keepExpiry: true, now: start)
        case "set on an absent key": keyspace.set(key("new"), string("2"), now: start); (changedKey, version) = (key("new"), new)
        case "update": _ = keyspace.update(key("w"), now: start) { $0 = .integer(2) }
        case "withEntry store": keyspace.withEntry(key("w"), now: start) { value, _ in value = string("2") }
        case "withEntry delete": keyspace.withEntry(key("w"), now: start) { value, _ in value = nil }
        case "withEntry insert":
            keyspace.withEntry(key("new"), now: start) { value, _ in value = string("2") }
            (changedKey, version) = (key("new"), new)
        case "remove": keyspace.remove(key("w"), now: start)
        case "expire": keyspace.setExpiry(key("w"), at: later(500).milliseconds, now: start)
        case "persist": keyspace.setExpiry(key("t"), at: nil, now: start); (changedKey, version) = (key("t"), t)
        case "expire in the past": keyspace.setExpiry(key("w"), at: later(-1).milliseconds, now: start)
        default: keyspace.removeAll()
        }
        let changed = keyspace.hasChanged(changedKey, since: version, now: start)
        #expect(changed == true)
    }

    @Test("a rate-limit write that stores or deletes changes the key; one that keeps it does not")
    func rateLimitWrites() {
        var (keyspace, w, _, _) = watchedKeyspace()
        keyspace.apply(RateLimitWrite<Int64>.keep, to: key("w"), now: start, as: Value.integer)
        let afterKeep = keyspace.hasChanged(key("w"), since: w, now: start)
        #expect(afterKeep == false)
        keyspace.apply(RateLimitWrite<Int64>.store(7, ttlNanoseconds: 1_000_000_000), to: key("w"), now: start, as: Value.integer)
        let afterStore = keyspace.hasChanged(key("w"), since: w, now: start)
        #expect(afterStore == true)

        w = keyspace.watch(key("w"), now: start)
        keyspace.apply(RateLimitWrite<Int64>.delete, to: key("w"), now: start, as: Value.integer)
        let afterDelete = keyspace.hasChanged(key("w"), since: w, now: start)
        #expect(afterDelete == true)
    }

    @Test("withEntry writing back the same value and deadline is no change")
    func withEntrySameValue() {
        var (keyspace, _, t, _) = watchedKeyspace()
        keyspace.withEntry(key("t"), now: start) { value, deadline in
            value = string("1")
            deadline = later(100).milliseconds
        }
        let changed = keyspace.hasChanged(key("t"), since: t, now: start)
        #expect(changed == false)
    }

    @Test("reads, writes to other keys and table rebuilds leave a watched key unchanged")
    func nonChanges() {
        var (keyspace, w, t, new) = watchedKeyspace()
        _ = keyspace.value(key("w"), now: start)
        _ = keyspace.contains(key("t"), now: start)
        _ = keyspace.expiry(key("w"), now: start)
        _ = keyspace.keys(now: start)
        _ = keyspace.scan(cursor: 0, count: 100, now: start)
        _ = keyspace.value(key("new"), now: start)
        keyspace.set(key("other"), string("x"), now: start)
        keyspace.remove(key("other"), now: start)
        keyspace.remove(key("new"), now: start)
        keyspace.setExpiry(key("new"), at: later(5).milliseconds, now: start)
        _ = keyspace.update(key("new"), now: start) { $0 = .integer(1) }
        // Enough other keys to grow the table several times.
        for i in 0..<1_000 { keyspace.set(key("filler\(i)"), string("v"), now: start) }
        let results = [
            keyspace.hasChanged(key("w"), since: w, now: later(99)),
            keyspace.hasChanged(key("t"), since: t, now: later(99)),
            keyspace.hasChanged(key("new"), since: new, now: later(99)),
        ]
        #expect(results == [false, false, false])
    }

    @Test("reaching the deadline changes a watched key, whether nobody reads it, a read or active expiry reclaims it")
    func expiryChanges() {
        for reclaim in ["none", "read", "write", "active"] {
            var (keyspace, _, t, _) = watchedKeyspace()
            switch reclaim {
            case "read": _ = keyspace.value(key("t"), now: later(101))
            case "write": keyspace.withEntry(key("t"), now: later(101)) { _, _ in }
            case "active": keyspace.expireCycle(now: later(101), maxChecks: 1_000)
            default: break
            }
            let changed = keyspace.hasChanged(key("t"), since: t, now: later(101))
            #expect(changed == true, "\(reclaim)")
        }
    }

    @Test("a key already expired when watched does not count as changed when it is reclaimed")
    func expiredBeforeWatch() {
        var keyspace = Keyspace()
        keyspace.set(key("t"), string("1"), expiresAt: later(10).milliseconds, now: start)
        let version = keyspace.watch(key("t"), now: later(11))
        keyspace.expireCycle(now: later(20), maxChecks: 1_000)
        let changed = keyspace.hasChanged(key("t"), since: version, now: later(20))
        #expect(changed == false)
    }

    @Test("a flush changes watched keys that existed and leaves absent ones unchanged")
    func flush() {
        var (keyspace, w, _, new) = watchedKeyspace()
        keyspace.removeAll()
        let results = [keyspace.hasChanged(key("w"), since: w, now: start), keyspace.hasChanged(key("new"), since: new, now: start)]
        #expect(results == [true, false])
    }

    @Test("a key stays registered until its last watcher leaves, and versions survive other watchers leaving")
    func refcounts() {
        var keyspace = Keyspace()
        let first = keyspace.watch(key("k"), now: start)
        _ = keyspace.watch(key("k"), now: start)
        _ = keyspace.watch(key("j"), now: start)
        #expect(keyspace.watchedKeyCount == 2)
        keyspace.set(key("k"), string("v"), now: start)
        keyspace.unwatch(key("k"))
        #expect(keyspace.watchedKeyCount == 2)
        let changed = keyspace.hasChanged(key("k"), since: first, now: start)
        #expect(changed == true)
        keyspace.unwatch(key("k"))
        keyspace.unwatch(key("j"))
        keyspace.unwatch(key("never"))
        #expect(keyspace.watchedKeyCount == 0)
    }
}
