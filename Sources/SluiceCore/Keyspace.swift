/// The in-memory keyspace: keys, values and expiry deadlines.
///
/// One open-addressing hash table (linear probing) holds each entry inline: its hash,
/// key, value and deadline. A look-up touches the bucket, the key's bytes to confirm
/// the match, and the value: no separate index or slot table to chase through. The
/// seeded hash is kept in the bucket, so a probe past another key never reads that
/// key's bytes.
///
/// Deleting leaves a tombstone instead of moving entries, so positions are stable
/// between rebuilds: `SCAN` walks the table with a position cursor, and active expiry
/// sweeps it in bounded steps. A rebuild (growth, shrinking, too many tombstones)
/// bumps a generation that SCAN cursors carry; a cursor from an older generation
/// restarts, which may repeat keys (Redis allows that) but never skips one.
///
/// Expiry is checked lazily on every access (a key is gone exactly at its deadline as
/// clients see it) and actively by `expireCycle`, so keys nobody reads again are still
/// reclaimed. Not thread-safe: the server serialises access.
///
/// `WATCH` registers keys here (see Keyspace+Watch.swift); every path that changes a key
/// (a write, a deletion, an expiry, a flush) bumps that key's version while anything is
/// watched, and costs one branch when nothing is.
///
/// `usedMemory` estimates the bytes of the data (MemoryEstimate.swift); every path that
/// adds, replaces or removes an entry adjusts it by the difference, in O(1).
public struct Keyspace: Sendable {
    struct Entry: Sendable {
        /// `Keyspace.empty`, `Keyspace.tombstone`, or the key's hash (never below 2).
        var hash: UInt64
        var key: StoredKey
        var value: Value
        /// Deadline in Unix milliseconds; `Keyspace.noExpiry` when the key persists.
        var expiresAt: Int64
    }

    static let empty: UInt64 = 0
    static let tombstone: UInt64 = 1
    static let noExpiry = Int64.max
    static let vacant = Entry(hash: empty, key: .small(0, 0, 0), value: .string([]), expiresAt: noExpiry)
    static let buried = Entry(hash: tombstone, key: .small(0, 0, 0), value: .string([]), expiresAt: noExpiry)

    static let minimumCapacity = 16
    /// Grow when live entries and tombstones fill more than 3/4 of the buckets.
    static let maximumLoadNumerator = 3
    static let maximumLoadDenominator = 4

    /// The table; internal (not private) for eviction (Keyspace+Eviction.swift).
    var entries: [Entry] = Array(repeating: vacant, count: minimumCapacity)
    private var tombstones = 0
    private var generation: UInt64 = 0
    /// Where the next active-expiry sweep starts.
    private var sweepPosition = 0
    /// The keys some connection `WATCH`es: how many watchers, and a version bumped on every change.
    var watches: [Key: WatchedKey] = [:]

    /// Number of keys, including ones past their deadline that were not reclaimed yet.
    public private(set) var count = 0
    /// Number of keys with a deadline.
    public private(set) var volatileCount = 0
    /// Estimated bytes of the keys and values (MemoryEstimate.swift): what `maxmemory` limits.
    public private(set) var usedMemory = 0
    public internal(set) var stats = Stats()

    public struct Stats: Sendable, Equatable {
        public var expiredKeys: Int = 0
        /// Keys removed to get under `maxmemory` (Keyspace+Eviction.swift).
        public var evictedKeys: Int = 0
        public var hits: Int = 0
        public var misses: Int = 0
    }

    public init() {}

    // MARK: Reading

    /// The value under `key`, or nil when absent or expired (an expired key is removed).
    public mutating func value(_ key: Key, now: Instant) -> Value? {
        key.withUnsafeBytes { value($0, now: now) }
    }

    /// `value(_:now:)` for a key read in place from a request.
    public mutating func value(_ key: UnsafeRawBufferPointer, now: Instant) -> Value? {
        guard let position = livePosition(key, hash: Self.hash(key), now: now) else {
            stats.misses += 1
            return nil
        }
        stats.hits += 1
        return entries[position].value
    }

    /// Whether `key` exists at `now`, without counting a hit or miss.
    public mutating func contains(_ key: Key, now: Instant) -> Bool {
        livePosition(key, now: now) != nil
    }

    public mutating func contains(_ key: UnsafeRawBufferPointer, now: Instant) -> Bool {
        livePosition(key, hash: Self.hash(key), now: now) != nil
    }

    /// The deadline of `key` in Unix milliseconds: nil when the key is absent,
    /// `.some(nil)` when it exists without a deadline.
    public mutating func expiry(_ key: Key, now: Instant) -> Int64?? {
        guard let position = livePosition(key, now: now) else { return nil }
        let deadline = entries[position].expiresAt
        return .some(deadline == Self.noExpiry ? nil : deadline)
    }

    // MARK: Writing

    /// Stores `value` under `key`. `expiresAt` is a Unix-millisecond deadline, nil for none.
    /// With `keepExpiry`, an existing key keeps its deadline and `expiresAt` is ignored.
    public mutating func set(_ key: Key, _ value: Value, expiresAt: Int64? = nil, keepExpiry: Bool = false, now: Instant) {
        key.withUnsafeBytes { set($0, value, expiresAt: expiresAt, keepExpiry: keepExpiry, now: now) }
    }

    /// `set` for a key read in place from a request.
    public mutating func set(_ key: UnsafeRawBufferPointer, _ value: Value, expiresAt: Int64? = nil, keepExpiry: Bool = false, now: Instant) {
        let hash = Self.hash(key)
        if let position = livePosition(key, hash: hash, now: now) {
            touch(key)
            usedMemory += value.heapBytes - entries[position].value.heapBytes
            entries[position].value = value
            if !keepExpiry {
                changeExpiry(at: position, to: expiresAt ?? Self.noExpiry)
            }
            return
        }
        let deadline = keepExpiry ? Self.noExpiry : (expiresAt ?? Self.noExpiry)
        insert(Entry(hash: hash, key: StoredKey(key), value: value, expiresAt: deadline))
    }

    /// Changes the value of an existing live key in place, keeping its deadline.
    /// Returns what `body` returns, or nil (without calling it) when the key is absent.
    public mutating func update<R, E: Error>(_ key: Key, now: Instant, _ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        guard let position = livePosition(key, now: now) else { return nil }
        // Adjusted before `body` may throw: a change it made before throwing stays.
        usedMemory -= entries[position].value.heapBytes
        defer { usedMemory += entries[position].value.heapBytes }
        let result = try body(&entries[position].value)
        touch(key)
        return result
    }

    /// Looks `key` up once and lets `body` read and change its value and deadline in
    /// place: `value` is nil when the key is absent or expired; setting it to nil removes
    /// the key; `deadline` is a Unix-millisecond deadline, nil for none. Read-modify-write
    /// commands use this instead of a read then a write, which would hash and probe twice;
    /// an expired entry's bucket is reused rather than buried and inserted again.
    public mutating func withEntry(_ key: Key, now: Instant, _ body: (inout Value?, inout Int64?) -> Void) {
        key.withUnsafeBytes { withEntry($0, now: now, body) }
    }

    /// `withEntry` for a key read in place from a request.
    public mutating func withEntry(_ key: UnsafeRawBufferPointer, now: Instant, _ body: (inout Value?, inout Int64?) -> Void) {
        let hash = Self.hash(key)
        guard let position = find(key, hash: hash) else {
            var value: Value?
            var deadline: Int64?
            body(&value, &deadline)
            if let value { insert(Entry(hash: hash, key: StoredKey(key), value: value, expiresAt: deadline ?? Self.noExpiry)) }
            return
        }
        var value: Value?
        var deadline: Int64?
        // The value's bytes leave the count now and come back with whatever is stored.
        usedMemory -= entries[position].value.heapBytes
        if entries[position].expiresAt <= now.milliseconds {
            stats.expiredKeys += 1
            touch(key)
        } else {
            // Moved out, not copied, so a value holding an array is changed without a copy.
            value = entries[position].value
            deadline = entries[position].expiresAt == Self.noExpiry ? nil : entries[position].expiresAt
        }
        entries[position].value = Self.vacant.value
        // A watched key is compared before and after, so a decision that keeps the state
        // (a denied request) is not a change. The copy is made only then.
        var original: (value: Value?, deadline: Int64?)?
        if !watches.isEmpty && watches[Array(key)] != nil { original = (value, deadline) }
        body(&value, &deadline)
        if let original, original.value != value || original.deadline != deadline { touch(key) }
        guard let value else {
            bury(position)
            return
        }
        usedMemory += value.heapBytes
        entries[position].value = value
        changeExpiry(at: position, to: deadline ?? Self.noExpiry)
    }

    /// Removes `key`; returns whether a live key was removed.
    @discardableResult
    public mutating func remove(_ key: Key, now: Instant) -> Bool {
        key.withUnsafeBytes { remove($0, now: now) }
    }

    @discardableResult
    public mutating func remove(_ key: UnsafeRawBufferPointer, now: Instant) -> Bool {
        guard let position = livePosition(key, hash: Self.hash(key), now: now) else { return false }
        bury(position)
        return true
    }

    /// Sets the deadline of an existing key (nil removes it). A deadline at or before
    /// `now` deletes the key, as Redis does. Returns false when the key does not exist.
    @discardableResult
    public mutating func setExpiry(_ key: Key, at deadline: Int64?, now: Instant) -> Bool {
        guard let position = livePosition(key, now: now) else { return false }
        if let deadline, deadline <= now.milliseconds {
            bury(position)
            stats.expiredKeys += 1
            return true
        }
        touch(key)
        changeExpiry(at: position, to: deadline ?? Self.noExpiry)
        return true
    }

    /// Removes every key.
    public mutating func removeAll() {
        touchWatchedKeysPresent()
        entries = Array(repeating: Self.vacant, count: Self.minimumCapacity)
        count = 0
        usedMemory = 0
        tombstones = 0
        volatileCount = 0
        sweepPosition = 0
        generation &+= 1
    }

    // MARK: Iteration

    /// Every live key for which `include` is true, in table order.
    public mutating func keys(now: Instant, where include: (Key) -> Bool = { _ in true }) -> [Key] {
        var result: [Key] = []
        let nowMs = now.milliseconds
        for position in entries.indices where isLive(position, nowMs: nowMs) {
            let key = entries[position].key.bytes
            if include(key) { result.append(key) }
        }
        return result
    }

    /// Calls `body` with every stored key, its value and its deadline (Unix ms, nil for
    /// none), expired or not, in table order. Reads only: a snapshot walks a copy.
    public func forEachEntry(_ body: (Key, Value, Int64?) -> Void) {
        for entry in entries where entry.hash > Self.tombstone {
            body(entry.key.bytes, entry.value, entry.expiresAt == Self.noExpiry ? nil : entry.expiresAt)
        }
    }

    /// One step of an incremental scan. Visits about `count` buckets from `cursor` and
    /// returns the live keys found there and the cursor to continue from (0 when done).
    /// A key present for the whole scan is returned at least once.
    public mutating func scan(cursor: UInt64, count: Int, now: Instant) -> (cursor: UInt64, keys: [Key]) {
        var position = 0
        // A cursor from before a rebuild restarts: duplicates are allowed, misses are not.
        if cursor != 0 && cursor >> 32 == generation & 0xFFFF_FFFF {
            position = Int(cursor & 0xFFFF_FFFF)
        }
        let nowMs = now.milliseconds
        var found: [Key] = []
        var visited = 0
        while position < entries.count && visited < max(count, 1) {
            if isLive(position, nowMs: nowMs) { found.append(entries[position].key.bytes) }
            position += 1
            visited += 1
        }
        if position >= entries.count { return (0, found) }
        return ((generation & 0xFFFF_FFFF) << 32 | UInt64(position), found)
    }

    /// A key chosen at random among live ones, or nil when empty.
    public mutating func randomKey(now: Instant) -> Key? {
        let nowMs = now.milliseconds
        // Bounded tries: the table is at least a quarter full unless it is small.
        for _ in 0..<64 where count > 0 {
            let position = Int.random(in: 0..<entries.count)
            if isLive(position, nowMs: nowMs) { return entries[position].key.bytes }
        }
        return keys(now: now).randomElement()
    }

    // MARK: Active expiry

    /// Reclaims expired keys, checking at most `maxChecks` buckets from where the last
    /// cycle stopped. Returns how many keys were removed. Callers run this repeatedly;
    /// the bounded step keeps each call short however many keys there are.
    @discardableResult
    public mutating func expireCycle(now: Instant, maxChecks: Int) -> Int {
        let nowMs = now.milliseconds
        var removed = 0
        for _ in 0..<maxChecks {
            if sweepPosition >= entries.count { sweepPosition = 0 }
            if entries[sweepPosition].hash > Self.tombstone && entries[sweepPosition].expiresAt <= nowMs {
                bury(sweepPosition)
                removed += 1
            }
            sweepPosition += 1
        }
        stats.expiredKeys += removed
        shrinkIfSparse()
        return removed
    }

    // MARK: Internals

    /// The seeded hash of a key, moved clear of the two marker values.
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(bytes: key)
        let hash = UInt64(bitPattern: Int64(hasher.finalize()))
        return hash > tombstone ? hash : hash &+ 2
    }

    @inline(__always)
    private func isLive(_ position: Int, nowMs: Int64) -> Bool {
        entries[position].hash > Self.tombstone && entries[position].expiresAt > nowMs
    }

    /// The bucket holding `key`, whether or not it has expired.
    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let probe = ProbeKey(key)
        let mask = entries.count - 1
        var position = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = entries[position].hash
            if stored == Self.empty { return nil }
            if stored == hash && probe.matches(entries[position].key) { return position }
            position = (position + 1) & mask
        }
    }

    @inline(__always)
    private mutating func livePosition(_ key: Key, now: Instant) -> Int? {
        key.withUnsafeBytes { livePosition($0, hash: Self.hash($0), now: now) }
    }

    /// The bucket of a live `key`; an expired one is removed on the way.
    @inline(__always)
    private mutating func livePosition(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Instant) -> Int? {
        guard let position = find(key, hash: hash) else { return nil }
        if entries[position].expiresAt <= now.milliseconds {
            bury(position)
            stats.expiredKeys += 1
            return nil
        }
        return position
    }

    private mutating func changeExpiry(at position: Int, to deadline: Int64) {
        let wasVolatile = entries[position].expiresAt != Self.noExpiry
        let isVolatile = deadline != Self.noExpiry
        volatileCount += (isVolatile ? 1 : 0) - (wasVolatile ? 1 : 0)
        entries[position].expiresAt = deadline
    }

    /// Inserts a key known to be absent.
    private mutating func insert(_ entry: Entry) {
        if (count + tombstones + 1) * Self.maximumLoadDenominator > entries.count * Self.maximumLoadNumerator {
            // Mostly tombstones: rebuilding at the same size is enough.
            rebuild(capacity: count * 2 >= entries.count / 2 ? entries.count * 2 : entries.count)
        }
        let mask = entries.count - 1
        var position = Int(truncatingIfNeeded: entry.hash) & mask
        while entries[position].hash > Self.tombstone {
            position = (position + 1) & mask
        }
        if entries[position].hash == Self.tombstone { tombstones -= 1 }
        if entry.expiresAt != Self.noExpiry { volatileCount += 1 }
        usedMemory += Self.bytes(of: entry)
        entries[position] = entry
        count += 1
        touch(at: position)
    }

    /// Removes the entry at `position`; internal for eviction (Keyspace+Eviction.swift).
    mutating func bury(_ position: Int) {
        touch(at: position)
        if entries[position].expiresAt != Self.noExpiry { volatileCount -= 1 }
        usedMemory -= Self.bytes(of: entries[position])
        count -= 1
        let mask = entries.count - 1
        if entries[(position + 1) & mask].hash == Self.empty {
            // Nothing probes past an empty bucket, so this one and the tombstones right
            // before it can be empty again; no live entry moves.
            entries[position] = Self.vacant
            var previous = (position - 1) & mask
            while entries[previous].hash == Self.tombstone {
                entries[previous] = Self.vacant
                tombstones -= 1
                previous = (previous - 1) & mask
            }
        } else {
            entries[position] = Self.buried
            tombstones += 1
        }
    }

    /// What an entry adds to `usedMemory`: its share of the table, its key and value.
    @inline(__always)
    static func bytes(of entry: Entry) -> Int {
        MemoryEstimate.entry + entry.key.heapBytes + entry.value.heapBytes
    }

    // MARK: Watched-key versions

    /// Records a change to `key` for its watchers; one branch when nothing is watched.
    @inline(__always)
    private mutating func touch(_ key: Key) {
        if !watches.isEmpty { bumpVersion(key) }
    }

    @inline(__always)
    private mutating func touch(_ key: UnsafeRawBufferPointer) {
        if !watches.isEmpty { bumpVersion(Array(key)) }
    }

    /// `touch` for the key in a bucket, whose bytes are built only when something is watched.
    @inline(__always)
    private mutating func touch(at position: Int) {
        if !watches.isEmpty { bumpVersion(entries[position].key.bytes) }
    }

    @inline(never)
    private mutating func bumpVersion(_ key: Key) {
        watches[key]?.version &+= 1
    }

    /// Before a flush: every watched key that is in the table changes; absent ones do not.
    private mutating func touchWatchedKeysPresent() {
        for key in watches.keys where key.withUnsafeBytes({ find($0, hash: Self.hash($0)) }) != nil {
            bumpVersion(key)
        }
    }

    /// Gives memory back once most buckets are unused.
    private mutating func shrinkIfSparse() {
        guard entries.count > Self.minimumCapacity, count * 8 < entries.count else { return }
        rebuild(capacity: Swift.max(Self.minimumCapacity, entries.count / 4))
    }

    /// Re-inserts every live entry into a table of `capacity` buckets (a power of two).
    private mutating func rebuild(capacity: Int) {
        var capacity = Swift.max(capacity, Self.minimumCapacity)
        while count * Self.maximumLoadDenominator >= capacity * Self.maximumLoadNumerator { capacity *= 2 }
        let old = entries
        entries = Array(repeating: Self.vacant, count: capacity)
        let mask = capacity - 1
        for entry in old where entry.hash > Self.tombstone {
            var position = Int(truncatingIfNeeded: entry.hash) & mask
            while entries[position].hash != Self.empty { position = (position + 1) & mask }
            entries[position] = entry
        }
        tombstones = 0
        sweepPosition = 0
        generation &+= 1
    }
}
