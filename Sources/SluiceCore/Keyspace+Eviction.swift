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
/// cost every write that sets a deadline (each rate-limit command) a heap update. Each
/// of the `samples` keys of a sample is the first key with a deadline at or after a
/// random position of the entries array; drawing each from a position of its own keeps
/// the sample random although neighbouring entries were often written together. With
/// no more keys with a deadline than `samples`, every one of them is compared and
/// `volatile-ttl` is exact.
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
        switch evictionChoice(policy: policy, samples: samples, nowMs: nowMs) {
        case .none: return false
        case .reclaimed: return true
        case .key(let position, _):
            evict(at: position)
            return true
        }
    }

    /// What `evictionChoice` found.
    public enum EvictionChoice: Equatable, Sendable {
        /// No key the policy may take.
        case none
        /// An expired key met on the way, which was reclaimed instead.
        case reclaimed
        /// The key to evict (for `evict(at:)`, before anything else changes) and its deadline.
        case key(position: Int, deadline: Int64)
    }

    /// The key `policy` would evict next, from `samples` keys drawn at random (or all keys
    /// with a deadline for `volatile-ttl` when there are no more than `samples`); an
    /// expired key met on the way is reclaimed at once, counted as expired. A sharded
    /// keyspace compares its shards' choices.
    public mutating func evictionChoice(policy: EvictionPolicy, samples: Int, nowMs: Int64) -> EvictionChoice {
        switch policy {
        case .noEviction: return .none
        case .volatileTTL, .volatileRandom: if volatileCount == 0 { return .none }
        case .allKeysRandom: if count == 0 { return .none }
        }
        // Few enough keys with a deadline to compare them all; else draw the sample.
        let exact = policy == .volatileTTL && volatileCount <= samples
        let draws = exact ? entries.count : (policy == .volatileTTL ? samples : 1)
        var chosen: Int?
        for draw in 0..<draws {
            let position: Int
            if exact {
                guard entries[draw].keyLength != Self.hole && entries[draw].expiresAt != Self.noExpiry else { continue }
                position = draw
            } else {
                let start = Int.random(in: 0..<entries.count, using: &random)
                guard let found = nextKey(from: start, withDeadline: policy != .allKeysRandom) else { break }
                position = found
            }
            if entries[position].expiresAt < nowMs {
                bury(position)
                stats.expiredKeys += 1
                return .reclaimed
            }
            if chosen.map({ entries[position].expiresAt < entries[$0].expiresAt }) ?? true { chosen = position }
        }
        guard let chosen else { return .none }
        return .key(position: chosen, deadline: entries[chosen].expiresAt)
    }

    /// Evicts the key `evictionChoice` chose.
    public mutating func evict(at position: Int) {
        bury(position)
        stats.evictedKeys += 1
    }

    /// The first key at or after `start`, wrapping around, with a deadline when
    /// `withDeadline`; nil when there is none.
    private func nextKey(from start: Int, withDeadline: Bool) -> Int? {
        var position = start
        for _ in 0..<entries.count {
            if entries[position].keyLength != Self.hole && (!withDeadline || entries[position].expiresAt != Self.noExpiry) {
                return position
            }
            position = position + 1 == entries.count ? 0 : position + 1
        }
        return nil
    }

    /// `usedMemory` computed afresh from every entry, for tests of the running total.
    func recountedMemory() -> Int {
        entries.indices.reduce(0) { $0 + (entries[$1].keyLength != Self.hole ? bytes(at: $1) : 0) }
    }
}
