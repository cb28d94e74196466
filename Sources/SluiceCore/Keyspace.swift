/// The in-memory keyspace: keys, values and expiry deadlines.
///
/// Entries live in a slot table that never moves a live entry, with a dictionary
/// from key to slot. Stable slots let `SCAN` walk the table with a plain position
/// cursor and let active expiry sweep it in bounded steps.
///
/// Expiry is checked lazily on every access (a key is gone exactly at its deadline
/// as clients see it) and actively by `expireCycle`, so keys nobody reads again
/// are still reclaimed. Not thread-safe: the server serialises access.
public struct Keyspace: Sendable {
    struct Slot: Sendable, Equatable {
        var key: Key
        var value: Value
        /// Deadline in Unix milliseconds; `Keyspace.noExpiry` when the key persists.
        var expiresAt: Int64
    }

    static let noExpiry = Int64.max

    /// The table is compacted when fewer than this fraction of slots are live.
    static let compactionOccupancy = 4
    static let compactionMinimumSlots = 1024

    private var index: [Key: Int] = [:]
    private var slots: [Slot?] = []
    private var freeSlots: [Int] = []
    /// Bumped on every compaction; SCAN cursors carry it so a stale cursor restarts
    /// instead of skipping entries that moved.
    private var generation: UInt64 = 0
    /// Where the next active-expiry sweep starts.
    private var sweepPosition = 0

    public private(set) var stats = Stats()

    public struct Stats: Sendable, Equatable {
        public var expiredKeys: Int = 0
        public var hits: Int = 0
        public var misses: Int = 0
    }

    public init() {}

    /// Number of keys, including ones past their deadline that were not reclaimed yet.
    public var count: Int { index.count }

    /// Number of keys with a deadline.
    public private(set) var volatileCount = 0

    // MARK: Reading

    /// The value under `key`, or nil when absent or expired (an expired key is removed).
    public mutating func value(_ key: Key, now: Instant) -> Value? {
        guard let position = livePosition(key, now: now) else {
            stats.misses += 1
            return nil
        }
        stats.hits += 1
        return slots[position]!.value
    }

    /// Whether `key` exists at `now`, without counting a hit or miss.
    public mutating func contains(_ key: Key, now: Instant) -> Bool {
        livePosition(key, now: now) != nil
    }

    /// The deadline of `key` in Unix milliseconds: nil when the key is absent,
    /// `.some(nil)` when it exists without a deadline.
    public mutating func expiry(_ key: Key, now: Instant) -> Int64?? {
        guard let position = livePosition(key, now: now) else { return nil }
        let deadline = slots[position]!.expiresAt
        return .some(deadline == Self.noExpiry ? nil : deadline)
    }

    // MARK: Writing

    /// Stores `value` under `key`. `expiresAt` is a Unix-millisecond deadline, nil for none.
    /// With `keepExpiry`, an existing key keeps its deadline and `expiresAt` is ignored.
    public mutating func set(_ key: Key, _ value: Value, expiresAt: Int64? = nil, keepExpiry: Bool = false, now: Instant) {
        if let position = livePosition(key, now: now) {
            slots[position]!.value = value
            if !keepExpiry {
                changeExpiry(at: position, to: expiresAt ?? Self.noExpiry)
            }
            return
        }
        insert(Slot(key: key, value: value, expiresAt: keepExpiry ? Self.noExpiry : (expiresAt ?? Self.noExpiry)))
    }

    /// Changes the value of an existing live key in place, keeping its deadline.
    /// Returns what `body` returns, or nil (without calling it) when the key is absent.
    public mutating func update<R>(_ key: Key, now: Instant, _ body: (inout Value) throws -> R) rethrows -> R? {
        guard let position = livePosition(key, now: now) else { return nil }
        return try body(&slots[position]!.value)
    }

    /// Removes `key`; returns whether a live key was removed.
    @discardableResult
    public mutating func remove(_ key: Key, now: Instant) -> Bool {
        guard let position = livePosition(key, now: now) else { return false }
        free(position)
        return true
    }

    /// Sets the deadline of an existing key (nil removes it). A deadline at or before
    /// `now` deletes the key, as Redis does. Returns false when the key does not exist.
    @discardableResult
    public mutating func setExpiry(_ key: Key, at deadline: Int64?, now: Instant) -> Bool {
        guard let position = livePosition(key, now: now) else { return false }
        if let deadline, deadline <= now.milliseconds {
            free(position)
            stats.expiredKeys += 1
            return true
        }
        changeExpiry(at: position, to: deadline ?? Self.noExpiry)
        return true
    }

    /// Removes every key.
    public mutating func removeAll() {
        index = [:]
        slots = []
        freeSlots = []
        sweepPosition = 0
        volatileCount = 0
        generation &+= 1
    }

    // MARK: Iteration

    /// Every live key for which `include` is true, in table order.
    public mutating func keys(now: Instant, where include: (Key) -> Bool = { _ in true }) -> [Key] {
        var result: [Key] = []
        let nowMs = now.milliseconds
        for case let slot? in slots where slot.expiresAt > nowMs && include(slot.key) {
            result.append(slot.key)
        }
        return result
    }

    /// One step of an incremental scan. Visits about `count` slots from `cursor` and
    /// returns the live keys found there and the cursor to continue from (0 when done).
    /// A key present for the whole scan is returned at least once.
    public mutating func scan(cursor: UInt64, count: Int, now: Instant) -> (cursor: UInt64, keys: [Key]) {
        var position = 0
        if cursor != 0 {
            // A cursor from before a compaction restarts: duplicates are allowed, misses are not.
            if cursor >> 32 == generation & 0xFFFF_FFFF {
                position = Int(cursor & 0xFFFF_FFFF)
            }
        }
        let nowMs = now.milliseconds
        var found: [Key] = []
        var visited = 0
        while position < slots.count && visited < max(count, 1) {
            if let slot = slots[position], slot.expiresAt > nowMs {
                found.append(slot.key)
            }
            position += 1
            visited += 1
        }
        if position >= slots.count { return (0, found) }
        return ((generation & 0xFFFF_FFFF) << 32 | UInt64(position), found)
    }

    /// A key chosen at random among live ones, or nil when empty.
    public mutating func randomKey(now: Instant) -> Key? {
        guard !index.isEmpty else { return nil }
        // Bounded tries: the table may be sparse or full of expired keys.
        for _ in 0..<64 {
            let position = Int.random(in: 0..<slots.count)
            if let slot = slots[position] {
                if slot.expiresAt > now.milliseconds { return slot.key }
                free(position)
                stats.expiredKeys += 1
                if index.isEmpty { return nil }
            }
        }
        return keys(now: now).randomElement()
    }

    // MARK: Active expiry

    /// Reclaims expired keys, checking at most `maxChecks` slots from where the last
    /// cycle stopped. Returns how many keys were removed. Callers run this repeatedly;
    /// the bounded step keeps each call short however many keys there are.
    @discardableResult
    public mutating func expireCycle(now: Instant, maxChecks: Int) -> Int {
        guard !slots.isEmpty else { return 0 }
        let nowMs = now.milliseconds
        var removed = 0
        var checks = 0
        while checks < maxChecks && !slots.isEmpty {
            if sweepPosition >= slots.count { sweepPosition = 0 }
            if let slot = slots[sweepPosition], slot.expiresAt <= nowMs {
                free(sweepPosition)
                removed += 1
            }
            sweepPosition += 1
            checks += 1
        }
        stats.expiredKeys += removed
        compactIfSparse()
        return removed
    }

    // MARK: Internals

    private mutating func livePosition(_ key: Key, now: Instant) -> Int? {
        guard let position = index[key] else { return nil }
        if slots[position]!.expiresAt <= now.milliseconds {
            free(position)
            stats.expiredKeys += 1
            return nil
        }
        return position
    }

    private mutating func changeExpiry(at position: Int, to deadline: Int64) {
        let wasVolatile = slots[position]!.expiresAt != Self.noExpiry
        let isVolatile = deadline != Self.noExpiry
        volatileCount += (isVolatile ? 1 : 0) - (wasVolatile ? 1 : 0)
        slots[position]!.expiresAt = deadline
    }

    private mutating func insert(_ slot: Slot) {
        if slot.expiresAt != Self.noExpiry { volatileCount += 1 }
        // Free positions can be stale after trailing holes were trimmed; skip those.
        while let reused = freeSlots.popLast() {
            if reused < slots.count && slots[reused] == nil {
                slots[reused] = slot
                index[slot.key] = reused
                return
            }
        }
        index[slot.key] = slots.count
        slots.append(slot)
    }

    private mutating func free(_ position: Int) {
        let key = slots[position]!.key
        if slots[position]!.expiresAt != Self.noExpiry { volatileCount -= 1 }
        index[key] = nil
        slots[position] = nil
        if position == slots.count - 1 {
            // Trailing holes are dropped at once; no cursor can point past the end.
            slots.removeLast()
            while case .some(nil) = slots.last { slots.removeLast() }
            if freeSlots.count > slots.count {
                let end = slots.count
                freeSlots.removeAll { $0 >= end }
            }
        } else {
            freeSlots.append(position)
        }
    }

    /// Rebuilds the table when most slots are holes, so memory follows the live key count.
    private mutating func compactIfSparse() {
        guard slots.count >= Self.compactionMinimumSlots,
              index.count * Self.compactionOccupancy < slots.count else { return }
        var compacted: [Slot?] = []
        compacted.reserveCapacity(index.count)
        for case let slot? in slots {
            index[slot.key] = compacted.count
            compacted.append(slot)
        }
        slots = compacted
        freeSlots = []
        sweepPosition = 0
        generation &+= 1
    }
}
