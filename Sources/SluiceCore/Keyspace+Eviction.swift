/// Which keys go when the data is over `maxmemory` (Redis's `maxmemory-policy`).
public enum EvictionPolicy: String, Sendable, CaseIterable {
    /// Nothing is evicted; commands that may add data get `-OOM` instead.
    case noEviction = "noeviction"
    /// The key nearest its deadline among a sample of keys with one.
    case volatileTTL = "volatile-ttl"
    /// Any key with a deadline.
    case volatileRandom = "volatile-random"
    /// Any key.
    case allKeysRandom = "allkeys-random"
}

/// Eviction: removing keys until the memory estimate is under a limit.
///
/// Like Redis, by sampling rather than keeping keys ordered by deadline, which would
/// cost every write that sets a deadline (each rate-limit command) a heap update. A
/// sample is the first `samples` keys with a deadline found walking the table from a
/// random bucket; keys sit in buckets by hash, so consecutive ones are a random
/// sample. With no more keys with a deadline than `samples`, the walk sees them all
/// and `volatile-ttl` is exact.
extension Keyspace {
    /// Evicts keys chosen by `policy` until `usedMemory` is at most `limit`. Returns
    /// false when still over it because nothing is left to evict (`noeviction`, or no key
    /// the policy may take). Expired keys met on the way are reclaimed first, counted
    /// as expired, not evicted.
    public mutating func evict(toFit limit: Int, policy: EvictionPolicy, samples: Int, now: Instant) -> Bool {
        let nowMs = now.milliseconds
        while usedMemory > limit {
            guard evictOne(policy: policy, samples: max(samples, 1), nowMs: nowMs) else { return false }
        }
        return true
    }

    /// Removes one key; false when the policy finds none.
    private mutating func evictOne(policy: EvictionPolicy, samples: Int, nowMs: Int64) -> Bool {
        switch policy {
        case .noEviction: return false
        case .volatileTTL, .volatileRandom: if volatileCount == 0 { return false }
        case .allKeysRandom: if count == 0 { return false }
        }
        let mask = entries.count - 1
        var position = Int.random(in: 0..<entries.count)
        var chosen: Int?
        var sampled = 0
        for _ in 0..<entries.count {
            defer { position = (position + 1) & mask }
            guard entries[position].hash > Self.tombstone else { continue }
            let deadline = entries[position].expiresAt
            if deadline <= nowMs {
                bury(position)
                stats.expiredKeys += 1
                return true
            }
            if policy == .allKeysRandom {
                chosen = position
                break
            }
            guard deadline != Self.noExpiry else { continue }
            if chosen.map({ deadline < entries[$0].expiresAt }) ?? true { chosen = position }
            sampled += 1
            if policy == .volatileRandom || sampled >= samples { break }
        }
        guard let chosen else { return false }
        bury(chosen)
        stats.evictedKeys += 1
        return true
    }

    /// `usedMemory` computed afresh from every entry, for tests of the running total.
    func recountedMemory() -> Int {
        entries.reduce(0) { $0 + ($1.hash > Self.tombstone ? Self.bytes(of: $1) : 0) }
    }
}
