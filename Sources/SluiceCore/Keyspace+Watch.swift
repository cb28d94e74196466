/// A key some connection watches: how many watchers it has and how often it changed.
struct WatchedKey: Sendable {
    var watchers: Int
    var version: UInt64
}

/// The registry behind `WATCH`: a watcher takes a key's version when it starts watching
/// and later asks whether that version moved. The keyspace bumps the version on every
/// change to a watched key: writes, deletions, expiry (lazy or active), flushes.
extension Keyspace {
    /// Starts one more watcher on `key` and returns the version to compare against later.
    /// A key already past its deadline is reclaimed first: its deletion is no change to
    /// someone who never saw it alive (Redis 7 treats a key expired at `WATCH` the same way).
    public mutating func watch(_ key: Key, now: Instant) -> UInt64 {
        _ = contains(key, now: now)
        watches[key, default: WatchedKey(watchers: 0, version: 0)].watchers += 1
        return watches[key]!.version
    }

    /// Ends one watcher on `key`; the key leaves the registry with its last watcher.
    public mutating func unwatch(_ key: Key) {
        guard let entry = watches[key] else { return }
        if entry.watchers > 1 {
            watches[key]!.watchers -= 1
        } else {
            watches[key] = nil
        }
    }

    /// Whether the watched `key` changed since `version` was taken, a deadline reached
    /// since then included (the look-up reclaims an expired key, which bumps its version).
    public mutating func hasChanged(_ key: Key, since version: UInt64, now: Instant) -> Bool {
        _ = contains(key, now: now)
        return watches[key]?.version != version
    }

    /// Counts a write to `key` for its watchers even when it left the value as it was:
    /// Redis's HSET, HINCRBY, INCRBY, LSET, LTRIM and LMOVE signal their key whatever
    /// they wrote, where other writes that change nothing do not.
    public mutating func noteWrite(_ key: Key) {
        touch(key)
    }

    /// `noteWrite` for a key read in place from a request: its bytes are copied only
    /// while some key is watched.
    public mutating func noteWrite(_ key: UnsafeRawBufferPointer) {
        touch(key)
    }

    /// How many distinct keys are watched.
    public var watchedKeyCount: Int { watches.count }
}
