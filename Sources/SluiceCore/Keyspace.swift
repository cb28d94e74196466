import CPrefetch
#if canImport(Glibc)
import Glibc
#endif

/// The in-memory keyspace: keys, values and expiry deadlines.
///
/// Two arrays. `entries` holds each key with its value and deadline, 48 bytes, densely:
/// a new key goes into the hole a deleted one left, or at the end. `index` is an
/// open-addressing hash table (linear probing) of 32-bit slots, each the position of
/// an entry plus, in the bits the position does not need, a tag of the key's seeded
/// hash; a probe past another key rejects it by its tag without reading its entry. A
/// look-up reads one index slot (about 8 bytes of index per key against 48 of entries,
/// so the index mostly stays in cache) and one entry. Only the index is sized by load
/// factor; the entries grow a chunk at a time (EntryTable.swift), and room not yet
/// written costs no resident memory. A larger index is filled from the old one a few
/// slots per insert, so neither growth pauses clients for long.
///
/// Entries never move while the keyspace runs, except when a keyspace that lost most of
/// its keys is compacted, a few at a time (`compactStep`), each from the end of the
/// table into a hole nearer its start. `SCAN` walks `entries` from the end down with a
/// position cursor: table growth does not disturb it, and an entry that moves only moves
/// down, so a scan may meet it twice (Redis allows that) but never misses it. Active
/// expiry sweeps the table in bounded steps.
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
    /// One key. The fields are in this order so that the three narrow ones fill the 7
    /// bytes after the 17-byte value: 48 bytes in all, a key of up to 22 bytes included.
    struct Entry: Sendable {
        /// An inline key's bytes 0..<8; a large key's position in `largeKeys`; a hole's
        /// next free position (`Keyspace.noPosition` for none).
        var key0: UInt64
        /// An inline key's bytes 8..<16.
        var key1: UInt64
        /// Deadline in Unix milliseconds; `Keyspace.noExpiry` when the key persists.
        var expiresAt: Int64
        var value: Value
        /// An inline key's length (0...22), `Keyspace.largeKey`, or `Keyspace.hole`.
        var keyLength: UInt8
        /// An inline key's bytes 16..<18 and 18..<22.
        var key2: UInt16
        var key3: UInt32
    }

    static let largeKey: UInt8 = 0xFE
    static let hole: UInt8 = 0xFF
    static let noPosition = UInt64.max
    static let noExpiry = Int64.max

    /// A deadline given by a client as it is kept: the last millisecond, which stands
    /// for "none" here, becomes the one before it, so the key still has a deadline.
    @inline(__always)
    static func kept(_ deadline: Int64?) -> Int64 {
        deadline.map { min($0, noExpiry - 1) } ?? noExpiry
    }

    /// An empty index slot. A deleted key's slot (a tombstone) holds the index's mask:
    /// no tag and every position bit set, a position no entry has, as entries never
    /// outnumber 3/4 of the slots.
    static let emptySlot: UInt32 = 0

    static let minimumCapacity = 16
    /// The index grows when live keys and tombstones, or the entries array, fill more
    /// than 3/4 of its slots.
    static let maximumLoadNumerator = 3
    static let maximumLoadDenominator = 4

    /// The keys, their values and deadlines; internal (not private) for eviction
    /// (Keyspace+Eviction.swift).
    var entries = EntryTable<Entry>()
    /// Slots: 0 when empty, else `tag | (position + 1)`; a power of two of them.
    private var index = ContiguousArray<UInt32>(repeating: emptySlot, count: minimumCapacity)
    /// Keys longer than `InlineKey.capacity`, at the position their entry's `key0` holds.
    private var largeKeys: ContiguousArray<[UInt8]> = []
    private var freeLargeKeys: [Int] = []
    /// The most recently emptied entry, the head of a list through the holes' `key0`.
    private var freeHead = noPosition
    private var tombstones = 0
    /// While the index grows: the index before, whose slots move into `index` a few at a
    /// time (`migrateIndex`) rather than all at once, which paused every client for as
    /// long as it took (240 ms at 3,145,728 keys); empty otherwise. A key is in exactly
    /// one of the two; a moved slot is left a tombstone, so look-ups there pass it by.
    private var oldIndex = ContiguousArray<UInt32>()
    /// Slots of `oldIndex` below this one have moved.
    private var migrated = 0
    /// The index the next growth will need (twice the size), cleared a few slots per
    /// insert from 5/8 full on, so that making it does not pause clients either
    /// (clearing 16 MiB at once took about 20 ms); empty until then.
    private var nextIndex = ContiguousArray<UInt32>()
    /// The slots `nextIndex` is being cleared for.
    private var nextIndexSize = 0
    /// While a compaction runs: the position below which every hole is on the free list;
    /// holes from here on are not, and the compaction either fills them with entries from
    /// the end or drops them with the end. `Int.max` when no compaction runs, so that
    /// `bury` puts every hole on the list.
    private var compactFront = Int.max
    /// Where the next active-expiry sweep starts.
    private var sweepPosition = 0
    /// Where eviction and `randomKey` draw positions (FastRandom.swift).
    var random = FastRandom()
    /// The keys some connection `WATCH`es: how many watchers, and a version bumped on every change.
    var watches: [Key: WatchedKey] = [:]
    /// The process's hash key, kept here so a look-up reads no global.
    private let hasher = SipHash13.process
    /// A background snapshot under way (Keyspace+Capture.swift).
    var capture = CaptureState()
    /// A key hashed ahead of its look-up (`expectKey`).
    private var expected: (address: Int, count: Int, hash: UInt64) = (0, 0, 0)

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
        guard let position = livePosition(key, hash: hash(key), now: now) else {
            stats.misses += 1
            return nil
        }
        stats.hits += 1
        return entries[position].value
    }

    /// What `body` makes of the value under `key`, nil when absent or expired. The value
    /// is lent, not copied, and no hit or miss is counted: a write command checking a
    /// key's type before it changes anything, as Redis's write look-ups count neither.
    public mutating func inspect<R>(_ key: UnsafeRawBufferPointer, now: Instant, _ body: (Value) -> R) -> R? {
        guard let position = livePosition(key, hash: hash(key), now: now) else { return nil }
        return body(entries[position].value)
    }

    /// Whether `key` exists at `now`, without counting a hit or miss.
    public mutating func contains(_ key: Key, now: Instant) -> Bool {
        livePosition(key, now: now) != nil
    }

    public mutating func contains(_ key: UnsafeRawBufferPointer, now: Instant) -> Bool {
        livePosition(key, hash: hash(key), now: now) != nil
    }

    /// What `key` adds to `usedMemory` (its share of the tables, its key when long, its
    /// value's heap bytes), nil when absent; no hit or miss is counted.
    public mutating func memoryUsage(_ key: UnsafeRawBufferPointer, now: Instant) -> Int? {
        livePosition(key, hash: hash(key), now: now).map(bytes(at:))
    }

    /// The deadline of `key` in Unix milliseconds: nil when the key is absent,
    /// `.some(nil)` when it exists without a deadline.
    public mutating func expiry(_ key: Key, now: Instant) -> Int64?? {
        key.withUnsafeBytes { expiry($0, now: now) }
    }

    /// `expiry` for a key read in place from a request.
    public mutating func expiry(_ key: UnsafeRawBufferPointer, now: Instant) -> Int64?? {
        guard let position = livePosition(key, hash: hash(key), now: now) else { return nil }
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
        let hash = self.hash(key)
        if let position = livePosition(key, hash: hash, now: now) {
            touch(key)
            willChange(position)
            usedMemory += value.heapBytes - entries[position].value.heapBytes
            entries[position].value = value
            if !keepExpiry {
                changeExpiry(at: position, to: Self.kept(expiresAt))
            }
            return
        }
        let deadline = keepExpiry ? Self.noExpiry : Self.kept(expiresAt)
        insert(key, hash: hash, value: value, expiresAt: deadline)
    }

    /// Changes the value of an existing live key in place, keeping its deadline.
    /// Returns what `body` returns, or nil (without calling it) when the key is absent.
    public mutating func update<R, E: Error>(_ key: Key, now: Instant, _ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        // Through a Result: withUnsafeBytes rethrows an untyped error.
        try key.withUnsafeBytes { key in
            Result { () throws(E) -> R? in try update(key, now: now, body) }
        }.get()
    }

    /// `update` for a key read in place from a request.
    public mutating func update<R, E: Error>(
        _ key: UnsafeRawBufferPointer, now: Instant, _ body: (inout Value) throws(E) -> R
    ) throws(E) -> R? {
        guard let position = livePosition(key, hash: hash(key), now: now) else { return nil }
        willChange(position)
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
    /// an expired entry is reused rather than deleted and inserted again.
    public mutating func withEntry(_ key: Key, now: Instant, _ body: (inout Value?, inout Int64?) -> Void) {
        key.withUnsafeBytes { withEntry($0, now: now, body) }
    }

    /// `withEntry` for a key read in place from a request.
    public mutating func withEntry(_ key: UnsafeRawBufferPointer, now: Instant, _ body: (inout Value?, inout Int64?) -> Void) {
        let hash = self.hash(key)
        guard let found = find(key, hash: hash) else {
            var value: Value?
            var deadline: Int64?
            body(&value, &deadline)
            if let value { insert(key, hash: hash, value: value, expiresAt: deadline ?? Self.noExpiry) }
            return
        }
        let position = found.entry
        willChange(position)
        var value: Value?
        var deadline: Int64?
        // The value's bytes leave the count now and come back with whatever is stored.
        usedMemory -= entries[position].value.heapBytes
        if entries[position].expiresAt < now.milliseconds {
            stats.expiredKeys += 1
            touch(key)
        } else {
            // Moved out, not copied, so a value holding an array is changed without a copy;
            // swapped with a placeholder that has nothing to retain, so not retained either.
            var moved = Value.integer(0)
            swap(&moved, &entries[position].value)
            value = consume moved
            deadline = entries[position].expiresAt == Self.noExpiry ? nil : entries[position].expiresAt
        }
        // Releases an expired value; a live one was swapped out above.
        entries[position].value = .integer(0)
        // A watched key is compared before and after, so a decision that keeps the state
        // (a denied request) is not a change. The copy is made only then.
        var original: (value: Value?, deadline: Int64?)?
        if !watches.isEmpty && watches[Array(key)] != nil { original = (value, deadline) }
        body(&value, &deadline)
        if let original, original.value != value || original.deadline != deadline { touch(key) }
        guard let value = value.take() else {
            bury(position, slot: found.slot)
            return
        }
        usedMemory += value.heapBytes
        entries[position].value = consume value
        changeExpiry(at: position, to: deadline ?? Self.noExpiry)
    }

    /// Removes `key`; returns whether a live key was removed.
    @discardableResult
    public mutating func remove(_ key: Key, now: Instant) -> Bool {
        key.withUnsafeBytes { remove($0, now: now) }
    }

    @discardableResult
    public mutating func remove(_ key: UnsafeRawBufferPointer, now: Instant) -> Bool {
        guard let found = find(key, hash: hash(key)) else { return false }
        let live = entries[found.entry].expiresAt >= now.milliseconds
        if !live { stats.expiredKeys += 1 }
        bury(found.entry, slot: found.slot)
        return live
    }

    /// Sets the deadline of an existing key (nil removes it). A deadline at or before
    /// `now` deletes the key, as Redis does. Returns false when the key does not exist.
    @discardableResult
    public mutating func setExpiry(_ key: Key, at deadline: Int64?, now: Instant) -> Bool {
        key.withUnsafeBytes { setExpiry($0, at: deadline, now: now) }
    }

    /// `setExpiry` for a key read in place from a request.
    @discardableResult
    public mutating func setExpiry(_ key: UnsafeRawBufferPointer, at deadline: Int64?, now: Instant) -> Bool {
        guard let position = livePosition(key, hash: hash(key), now: now) else { return false }
        if let deadline, deadline <= now.milliseconds {
            bury(position)
            stats.expiredKeys += 1
            return true
        }
        touch(key)
        willChange(position)
        changeExpiry(at: position, to: Self.kept(deadline))
        return true
    }

    /// Removes every key.
    public mutating func removeAll() {
        touchWatchedKeysPresent()
        saveRemainingImages()
        entries = EntryTable()
        index = ContiguousArray(repeating: Self.emptySlot, count: Self.minimumCapacity)
        oldIndex = []
        migrated = 0
        nextIndex = []
        nextIndexSize = 0
        largeKeys = []
        freeLargeKeys = []
        freeHead = Self.noPosition
        count = 0
        usedMemory = 0
        tombstones = 0
        volatileCount = 0
        sweepPosition = 0
        compactFront = Int.max
    }

    // MARK: Iteration

    /// Every live key for which `include` is true, in table order.
    public mutating func keys(now: Instant, where include: (Key) -> Bool = { _ in true }) -> [Key] {
        var result: [Key] = []
        let nowMs = now.milliseconds
        for position in entries.indices where isLive(position, nowMs: nowMs) {
            let key = keyBytes(at: position)
            if include(key) { result.append(key) }
        }
        return result
    }

    /// Calls `body` with every stored key, its value and its deadline (Unix ms, nil for
    /// none), expired or not, in table order. Reads only: a snapshot walks a copy.
    public func forEachEntry(_ body: (Key, Value, Int64?) -> Void) {
        for position in entries.indices where entries[position].keyLength != Self.hole {
            let deadline = entries[position].expiresAt
            body(keyBytes(at: position), entries[position].value, deadline == Self.noExpiry ? nil : deadline)
        }
    }

    /// One step of an incremental scan. Visits about `count` entries below `cursor` (from
    /// the end for cursor 0) and returns the live keys found there and the cursor to
    /// continue from: the position the step stopped at, 0 when done. A key present for
    /// the whole scan is returned at least once: entries do not move when the table
    /// grows, and a compaction only moves them down, towards the part not visited yet.
    /// Cursors stay below 2^32, leaving the top 8 bits to `ShardedKeyspace` for a shard's number.
    public mutating func scan(cursor: UInt64, count: Int, now: Instant) -> (cursor: UInt64, keys: [Key]) {
        // A table shrunk since the last step has nothing left above its end.
        var position = cursor == 0 ? entries.count : Int(Swift.min(cursor, UInt64(entries.count)))
        let nowMs = now.milliseconds
        var found: [Key] = []
        var visited = 0
        while position > 0 && visited < max(count, 1) {
            position -= 1
            if isLive(position, nowMs: nowMs) { found.append(keyBytes(at: position)) }
            visited += 1
        }
        return (UInt64(position), found)
    }

    /// A key chosen at random among live ones, or nil when there is none.
    public mutating func randomKey(now: Instant) -> Key? {
        guard count > 0 else { return nil }
        let nowMs = now.milliseconds
        // Bounded tries: a compaction starts once fewer than a quarter of the entries are live.
        for _ in 0..<64 {
            let position = Int.random(in: 0..<entries.count, using: &random)
            if isLive(position, nowMs: nowMs) { return keyBytes(at: position) }
        }
        var position = Int.random(in: 0..<entries.count, using: &random)
        for _ in 0..<entries.count {
            if isLive(position, nowMs: nowMs) { return keyBytes(at: position) }
            position = position + 1 == entries.count ? 0 : position + 1
        }
        return nil
    }

    // MARK: Active expiry

    /// What one step of active expiry did.
    public struct ExpiryStep: Sendable, Equatable {
        public var removed = 0
        /// Entries checked that had a deadline, passed or not: the share of these that
        /// had expired tells whether more sweeping is worth it, as Redis samples only
        /// keys with a deadline.
        public var checkedWithDeadline = 0
        public init(removed: Int = 0, checkedWithDeadline: Int = 0) {
            self.removed = removed
            self.checkedWithDeadline = checkedWithDeadline
        }
    }

    /// `expireStep`, returning only how many keys were removed.
    @discardableResult
    public mutating func expireCycle(now: Instant, maxChecks: Int) -> Int {
        expireStep(now: now, maxChecks: maxChecks).removed
    }

    /// Reclaims expired keys, checking at most `maxChecks` entries from where the last
    /// step stopped, and does as much compaction work. Callers run this repeatedly; the
    /// bounded step keeps each call short however many keys there are.
    public mutating func expireStep(now: Instant, maxChecks: Int) -> ExpiryStep {
        let nowMs = now.milliseconds
        var removed = 0
        var withDeadline = 0
        for _ in 0..<maxChecks where !entries.isEmpty {
            if sweepPosition >= entries.count { sweepPosition = 0 }
            // A hole's deadline is `noExpiry` too.
            let deadline = entries[sweepPosition].expiresAt
            if deadline != Self.noExpiry {
                withDeadline += 1
                if deadline < nowMs {
                    bury(sweepPosition)
                    removed += 1
                }
            }
            sweepPosition += 1
        }
        stats.expiredKeys += removed
        // A growing index finishes moving even when no keys are added: about a
        // millisecond's worth per cycle.
        if !oldIndex.isEmpty { migrateIndex(slots: maxChecks * 16) }
        compactIfSparse()
        compactStep(budget: maxChecks)
        return ExpiryStep(removed: removed, checkedWithDeadline: withDeadline)
    }

    /// Whether a compaction is under way and can go on (it waits while a background
    /// snapshot runs): active expiry keeps stepping it while it is.
    public var isCompacting: Bool { compactFront != Int.max && !isCapturing }

    // MARK: Internals

    /// The seeded hash of a key. Its low bits choose the home slot, its top bits the tag.
    /// It needs no keyspace, so a caller can hash keys before taking the lock that guards
    /// the keyspace and hand each hash over with `expectKey`.
    @inline(__always)
    public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        SipHash13.process.hash(key)
    }

    #if DEBUG
    /// Replaces the hash of this keyspace's keys, so tests can make keys collide at will.
    /// Debug builds only: release builds hash without looking here.
    var hashForTests: (@Sendable (UnsafeRawBufferPointer) -> UInt64)?
    #endif

    @inline(__always)
    func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        #if DEBUG
        // Before the expected hash, which a caller computed with the real one.
        if let hashForTests { return hashForTests(key) }
        #endif
        if expected.address != 0 && Int(bitPattern: key.baseAddress) == expected.address && key.count == expected.count {
            return expected.hash
        }
        return hasher.hash(key)
    }

    /// Tells the keyspace the hash of the key about to be looked up, which `prefetchIndex`
    /// computed for a pipelined command: until `forgetExpectedKey`, a look-up of the bytes
    /// at that very address and length takes it instead of hashing them again. The caller
    /// keeps those bytes unchanged in between; the address is only compared, never read.
    @inline(__always)
    public mutating func expectKey(_ key: UnsafeRawBufferPointer, hash: UInt64) {
        expected = (Int(bitPattern: key.baseAddress), key.count, hash)
    }

    @inline(__always)
    public mutating func forgetExpectedKey() {
        expected.address = 0
    }

    /// The tag bits of a slot for `hash` in an index whose positions take `mask`'s bits.
    @inline(__always)
    static func tag(_ hash: UInt64, mask: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: hash >> 32) & ~mask
    }

    /// Prefetching, in stages so that no cache miss is waited for: a caller about to
    /// look up several keys (a pipelined burst) first asks for the index slots of the
    /// next ones (`prefetchIndex`), a few keys later, when those slots have arrived,
    /// for the entries they point to (`prefetchEntry`), and later still for the storage
    /// their values point to (`prefetchValue`). Reading a slot in the same step as
    /// asking for it stalled on every slot the cache did not hold. Changes nothing.
    ///
    /// The stages are `mutating` though they change nothing, so that a caller passes the
    /// keyspace by address: the server calls them on a keyspace it holds through a
    /// closure's capture, where a non-mutating call first copied the whole keyspace
    /// struct (a memcpy, and a retain and release of each of its arrays), four times per
    /// command in bursts of more than 32 commands.
    ///
    /// Stage one: starts loading the index slot where the search for a key of `hash`
    /// (`Keyspace.hash`) begins; stage two takes the same hash.
    @inline(__always)
    public mutating func prefetchIndex(hash: UInt64) {
        index.withUnsafeBufferPointer { slots in
            sluice_prefetch(slots.baseAddress! + (Int(truncatingIfNeeded: hash) & (slots.count - 1)))
        }
    }

    /// Stage two: finds the first slot whose tag matches `hash` and starts loading its
    /// entry (an entry may straddle two cache lines). A tag match of another key only
    /// wastes the load.
    @inline(__always)
    public mutating func prefetchEntry(hash: UInt64) {
        guard let position = firstTagMatch(hash, where: { _ in true })?.entry else { return }
        entries.withAddress(of: position) { start in
            guard let start else { return }
            sluice_prefetch(start)
            sluice_prefetch(start + MemoryLayout<Entry>.stride - 1)
        }
    }

    /// Stage three, when the entry has arrived: starts loading the heap storage the
    /// entry's value points to (a string's bytes, a log's entries, a collection's box),
    /// which a look-up would otherwise wait for. The pointer is read from the value's
    /// bytes rather than through the case, which would retain the storage: a retain
    /// waits for the very cache line this asks for. A wrong guess only wastes the load.
    @inline(__always)
    public mutating func prefetchValue(hash: UInt64) {
        guard let storage = valueStorage(hash: hash, logsOnly: false) else { return }
        sluice_prefetch(storage)
        sluice_prefetch(storage + 64)
    }

    /// Stage four, for sliding-window logs only: the log's newest entries, which the
    /// algorithm reads first and which lie at the far end of a long log, beyond the two
    /// lines `prefetchValue` asked for. Its array's count is read from the storage's
    /// header, so this is asked for after `prefetchValue` has had time to bring that in.
    public mutating func prefetchLogEnd(hash: UInt64) {
        guard let storage = valueStorage(hash: hash, logsOnly: true) else { return }
        // An array's header: object header (16 bytes), count, capacity; then the elements.
        let count = storage.load(fromByteOffset: 16, as: Int.self)
        let end = 32 + count * MemoryLayout<SlidingWindowLog.Entry>.stride
        if end > 128 { sluice_prefetch(storage + end - 16) }
    }

    /// The heap storage of the value of `hash`'s first candidate entry, read from the
    /// value's first word; nil when there is no candidate or its value has no storage (or
    /// is not a log, with `logsOnly`).
    @inline(__always)
    private func valueStorage(hash: UInt64, logsOnly: Bool) -> UnsafeRawPointer? {
        guard let position = firstTagMatch(hash, where: { _ in true })?.entry else { return nil }
        return entries.withAddress(of: position) { start in
            guard let start else { return nil }
            let entry = start.assumingMemoryBound(to: Entry.self)
            guard logsOnly ? entry.pointee.value.isSlidingWindow : entry.pointee.value.pointsToStorage else { return nil }
            return (start + Self.valueOffset).load(as: UnsafeRawPointer.self)
        }
    }

    /// Where an entry's value lies in it; a value's storage pointer is its first word.
    static let valueOffset = MemoryLayout<Entry>.offset(of: \.value)!

    @inline(__always)
    private func isLive(_ position: Int, nowMs: Int64) -> Bool {
        entries[position].keyLength != Self.hole && entries[position].expiresAt >= nowMs
    }

    /// Whether the entry at `position` holds `probe`'s key.
    @inline(__always)
    private func matches(_ probe: ProbeKey, at position: Int) -> Bool {
        if let inline = probe.inline {
            return entries[position].key0 == inline.word0 && entries[position].key1 == inline.word1
                && entries[position].keyLength == inline.length && entries[position].key2 == inline.word2
                && entries[position].key3 == inline.word3
        }
        guard entries[position].keyLength == Self.largeKey else { return false }
        return largeKeys[Int(entries[position].key0)].withUnsafeBytes { stored in
            stored.count == probe.bytes.count && (stored.count == 0 || memcmp(stored.baseAddress!, probe.bytes.baseAddress!, stored.count) == 0)
        }
    }

    /// The index slot and entry holding `key`, whether or not it has expired.
    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> (slot: Int, entry: Int)? {
        let probe = ProbeKey(key)
        return firstTagMatch(hash) { matches(probe, at: $0) }
    }

    /// The first slot for `hash` whose entry `accept` takes, in `index`, then (while the
    /// index grows) in `oldIndex`, where a slot found is returned as its complement.
    @inline(__always)
    private func firstTagMatch(_ hash: UInt64, where accept: (Int) -> Bool) -> (slot: Int, entry: Int)? {
        if let found = Self.firstTagMatch(in: index, hash, where: accept) { return found }
        if oldIndex.isEmpty { return nil }
        return Self.firstTagMatch(in: oldIndex, hash, where: accept).map { (~$0.slot, $0.entry) }
    }

    /// Walks `hash`'s probe sequence to the first slot whose tag matches and whose entry
    /// `accept` takes; nil at an empty slot. Tombstones and other tags are passed by
    /// without reading their entries.
    @inline(__always)
    private static func firstTagMatch(
        in index: ContiguousArray<UInt32>, _ hash: UInt64, where accept: (Int) -> Bool
    ) -> (slot: Int, entry: Int)? {
        let mask = index.count - 1
        let positionMask = UInt32(truncatingIfNeeded: mask)
        let tag = Self.tag(hash, mask: positionMask)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = index[slot]
            if stored == Self.emptySlot { return nil }
            if stored & ~positionMask == tag && stored != positionMask {
                let position = Int(stored & positionMask) - 1
                if accept(position) { return (slot, position) }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private mutating func livePosition(_ key: Key, now: Instant) -> Int? {
        key.withUnsafeBytes { livePosition($0, hash: hash($0), now: now) }
    }

    /// The entry of a live `key`; an expired one is removed on the way.
    @inline(__always)
    private mutating func livePosition(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Instant) -> Int? {
        guard let found = find(key, hash: hash) else { return nil }
        if entries[found.entry].expiresAt < now.milliseconds {
            bury(found.entry, slot: found.slot)
            stats.expiredKeys += 1
            return nil
        }
        return found.entry
    }

    /// Callers have called `willChange(position)`.
    private mutating func changeExpiry(at position: Int, to deadline: Int64) {
        let wasVolatile = entries[position].expiresAt != Self.noExpiry
        let isVolatile = deadline != Self.noExpiry
        volatileCount += (isVolatile ? 1 : 0) - (wasVolatile ? 1 : 0)
        entries[position].expiresAt = deadline
    }

    /// Inserts a key known to be absent: into the most recently emptied entry, or at the end.
    private mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, value: Value, expiresAt: Int64) {
        let length = freeHead == Self.noPosition ? entries.count + 1 : entries.count
        if !oldIndex.isEmpty { migrateIndex(slots: Self.migrationStep) }
        if Swift.max(count + tombstones + 1, length) * 8 > index.count * 5 { prepareNextIndex(slots: Self.preparationStep) }
        if Swift.max(count + tombstones + 1, length) * Self.maximumLoadDenominator > index.count * Self.maximumLoadNumerator {
            let needed = Swift.max(count + 1, length)
            // Mostly tombstones: rebuilding at the same size is enough.
            growIndex(capacity: needed * 4 >= index.count ? index.count * 2 : index.count, needed: needed)
        }
        var entry = Entry(key0: 0, key1: 0, expiresAt: expiresAt, value: value, keyLength: Self.largeKey, key2: 0, key3: 0)
        if let inline = InlineKey(key) {
            entry.key0 = inline.word0
            entry.key1 = inline.word1
            entry.key2 = inline.word2
            entry.key3 = inline.word3
            entry.keyLength = inline.length
        } else {
            entry.key0 = UInt64(storeLargeKey(Array(key)))
        }
        let position: Int
        if freeHead != Self.noPosition {
            position = Int(freeHead)
            willChange(position)
            freeHead = entries[position].key0
            entries[position] = entry
        } else if let hole = takeFrontHole() {
            position = hole
            willChange(position)
            entries[position] = entry
        } else {
            position = entries.count
            entries.append(entry)
        }
        placeInIndex(hash: hash, position: position)
        if expiresAt != Self.noExpiry { volatileCount += 1 }
        usedMemory += bytes(at: position)
        count += 1
        touch(at: position)
    }

    /// Writes the slot of the entry at `position` into the first free slot of its probe
    /// sequence (empty, or a tombstone that no look-up needs any more).
    @inline(__always)
    private mutating func placeInIndex(hash: UInt64, position: Int) {
        let mask = index.count - 1
        let positionMask = UInt32(truncatingIfNeeded: mask)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while index[slot] != Self.emptySlot && index[slot] != positionMask {
            slot = (slot + 1) & mask
        }
        if index[slot] == positionMask { tombstones -= 1 }
        index[slot] = Self.tag(hash, mask: positionMask) | UInt32(position + 1)
    }

    private mutating func storeLargeKey(_ key: [UInt8]) -> Int {
        if let free = freeLargeKeys.popLast() {
            largeKeys[free] = key
            return free
        }
        largeKeys.append(key)
        return largeKeys.count - 1
    }

    /// Removes the entry at `position`, finding its index slot; internal for eviction
    /// (Keyspace+Eviction.swift).
    mutating func bury(_ position: Int) {
        bury(position, slot: slot(of: position))
    }

    /// Removes the entry at `position`, whose index slot is `slot` (its complement when
    /// in `oldIndex`).
    private mutating func bury(_ position: Int, slot: Int) {
        willChange(position)
        touch(at: position)
        if entries[position].expiresAt != Self.noExpiry { volatileCount -= 1 }
        usedMemory -= bytes(at: position)
        count -= 1
        if slot < 0 {
            oldIndex[~slot] = UInt32(truncatingIfNeeded: oldIndex.count - 1)
        } else {
            freeSlot(slot)
        }
        if entries[position].keyLength == Self.largeKey {
            let large = Int(entries[position].key0)
            largeKeys[large] = []
            freeLargeKeys.append(large)
        }
        entries[position] = Entry(key0: freeHead, key1: 0, expiresAt: Self.noExpiry, value: .integer(0), keyLength: Self.hole, key2: 0, key3: 0)
        // From a running compaction's front on, the compaction finds the hole itself.
        if position < compactFront { freeHead = UInt64(position) }
    }

    /// Empties `index`'s slot `slot`, or makes it a tombstone when a probe may pass it.
    @inline(__always)
    private mutating func freeSlot(_ slot: Int) {
        let mask = index.count - 1
        let tombstone = UInt32(truncatingIfNeeded: mask)
        if index[(slot + 1) & mask] == Self.emptySlot {
            // Nothing probes past an empty slot, so this one and the tombstones right
            // before it can be empty again.
            index[slot] = Self.emptySlot
            var previous = (slot - 1) & mask
            while index[previous] == tombstone {
                index[previous] = Self.emptySlot
                tombstones -= 1
                previous = (previous - 1) & mask
            }
        } else {
            index[slot] = tombstone
            tombstones += 1
        }
    }

    /// The index slot that points at the entry at `position` (its complement when in `oldIndex`).
    private func slot(of position: Int) -> Int {
        slot(of: position, hash: hashOfKey(at: position))
    }

    /// `slot(of:)` for an entry whose key's hash is known.
    private func slot(of position: Int, hash: UInt64) -> Int {
        if let slot = Self.slot(in: index, hash: hash, position: position) { return slot }
        guard let slot = Self.slot(in: oldIndex, hash: hash, position: position) else {
            preconditionFailure("keyspace entry \(position) has no index slot")
        }
        return ~slot
    }

    private static func slot(in index: ContiguousArray<UInt32>, hash: UInt64, position: Int) -> Int? {
        guard !index.isEmpty else { return nil }
        let mask = index.count - 1
        let wanted = tag(hash, mask: UInt32(truncatingIfNeeded: mask)) | UInt32(position + 1)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while index[slot] != wanted {
            if index[slot] == emptySlot { return nil }
            slot = (slot + 1) & mask
        }
        return slot
    }

    /// The inline key of the entry at `position`, which must not be large or a hole.
    @inline(__always)
    private func inlineKey(at position: Int) -> InlineKey {
        InlineKey(
            word0: entries[position].key0, word1: entries[position].key1,
            word2: entries[position].key2, word3: entries[position].key3, length: entries[position].keyLength)
    }

    /// The key of the entry at `position` (allocates; iteration needs this).
    func keyBytes(at position: Int) -> Key {
        if entries[position].keyLength == Self.largeKey { return largeKeys[Int(entries[position].key0)] }
        return inlineKey(at: position).bytes
    }

    private func hashOfKey(at position: Int) -> UInt64 {
        if entries[position].keyLength == Self.largeKey {
            return largeKeys[Int(entries[position].key0)].withUnsafeBytes { hash($0) }
        }
        return inlineKey(at: position).withUnsafeBytes { hash($0) }
    }

    /// What the entry at `position` adds to `usedMemory`: its share of the tables, its
    /// key when large, and its value.
    @inline(__always)
    func bytes(at position: Int) -> Int {
        var total = MemoryEstimate.entry + entries[position].value.heapBytes
        if entries[position].keyLength == Self.largeKey {
            total += MemoryEstimate.largeKey(largeKeys[Int(entries[position].key0)].count)
        }
        return total
    }

    // MARK: Watched-key versions

    /// Records a change to `key` for its watchers; one branch when nothing is watched.
    @inline(__always)
    mutating func touch(_ key: Key) {
        if !watches.isEmpty { bumpVersion(key) }
    }

    @inline(__always)
    mutating func touch(_ key: UnsafeRawBufferPointer) {
        if !watches.isEmpty { bumpVersion(Array(key)) }
    }

    /// `touch` for the key of an entry, whose bytes are built only when something is watched.
    @inline(__always)
    private mutating func touch(at position: Int) {
        if !watches.isEmpty { bumpVersion(keyBytes(at: position)) }
    }

    @inline(never)
    private mutating func bumpVersion(_ key: Key) {
        watches[key]?.version &+= 1
    }

    /// Before a flush: every watched key that is in the table changes; absent ones do not.
    private mutating func touchWatchedKeysPresent() {
        for key in watches.keys where key.withUnsafeBytes({ find($0, hash: hash($0)) }) != nil {
            bumpVersion(key)
        }
    }

    // MARK: Checks for tests

    /// Sizes of the two arrays, for tests of growth and compaction.
    var layout: (indexSlots: Int, entries: Int, largeKeys: Int) { (index.count, entries.count, largeKeys.count) }

    /// Slots of a growing index's old one still to move (0 when not growing), for tests.
    var slotsToMigrate: Int { oldIndex.isEmpty ? 0 : oldIndex.count - migrated }

    /// Slots of the next index cleared so far, for tests.
    var preparedSlots: Int { nextIndex.count }

    /// What is wrong with the table's bookkeeping, for tests: each live entry has exactly
    /// one slot with its tag, the counts match, and the free list holds every hole (below
    /// a running compaction's front).
    func layoutProblems() -> [String] {
        var problems: [String] = []
        let mask = UInt32(truncatingIfNeeded: index.count - 1)
        var pointedAt = [Int](repeating: 0, count: entries.count)
        var slotTombstones = 0
        for stored in index where stored != Self.emptySlot {
            if stored == mask { slotTombstones += 1; continue }
            let position = Int(stored & mask) - 1
            guard position < entries.count, entries[position].keyLength != Self.hole else {
                problems.append("slot points at no entry: \(position)")
                continue
            }
            pointedAt[position] += 1
            if stored & ~mask != Self.tag(hashOfKey(at: position), mask: mask) { problems.append("wrong tag for \(position)") }
        }
        // A growing index's old slots: those not moved yet point at entries as above.
        let oldMask = UInt32(truncatingIfNeeded: oldIndex.count - 1)
        for (slot, stored) in oldIndex.enumerated() where stored != Self.emptySlot && stored != oldMask {
            let position = Int(stored & oldMask) - 1
            guard slot >= migrated, position < entries.count, entries[position].keyLength != Self.hole else {
                problems.append("old slot \(slot) points at \(position) after its move or at no entry")
                continue
            }
            pointedAt[position] += 1
            if stored & ~oldMask != Self.tag(hashOfKey(at: position), mask: oldMask) { problems.append("wrong old tag for \(position)") }
        }
        var keys = 0, volatile = 0, holes = 0
        for position in entries.indices {
            if entries[position].keyLength == Self.hole {
                // A running compaction's front and what lies past it are not on the list.
                if position < compactFront { holes += 1 }
                continue
            }
            keys += 1
            if entries[position].expiresAt != Self.noExpiry { volatile += 1 }
            if pointedAt[position] != 1 { problems.append("entry \(position) has \(pointedAt[position]) slots") }
            if let found = keyBytes(at: position).withUnsafeBytes({ find($0, hash: hash($0)) }), found.entry != position {
                problems.append("key of entry \(position) found at \(found.entry)")
            }
        }
        var free = 0
        var next = freeHead
        while next != Self.noPosition && free <= entries.count {
            guard Int(next) < Swift.min(entries.count, compactFront), entries[Int(next)].keyLength == Self.hole else {
                problems.append("free list reaches a live entry, or past a compaction's front")
                break
            }
            free += 1
            next = entries[Int(next)].key0
        }
        if keys != count { problems.append("count \(count), entries \(keys)") }
        if volatile != volatileCount { problems.append("volatileCount \(volatileCount), entries \(volatile)") }
        if slotTombstones != tombstones { problems.append("tombstones \(tombstones), slots \(slotTombstones)") }
        if free != holes { problems.append("free list \(free), holes \(holes)") }
        if nextIndex.count > nextIndexSize || nextIndex.contains(where: { $0 != Self.emptySlot }) {
            problems.append("next index not clear: \(nextIndex.count) of \(nextIndexSize) slots")
        }
        if (count + tombstones) * Self.maximumLoadDenominator > index.count * Self.maximumLoadNumerator
            || entries.count * Self.maximumLoadDenominator > index.count * Self.maximumLoadNumerator {
            problems.append("index over its load limit")
        }
        return problems
    }

    // MARK: Growth and compaction

    /// An array with room for `capacity` elements, the first ones written by `initialize`
    /// (which returns how many). A large one asks the kernel for huge pages before it is
    /// first written: look-ups land on random slots and entries, and with 4 KiB pages
    /// most of them would also miss the TLB. Room not yet written takes no resident memory.
    static func table<Element>(
        capacity: Int, _ initialize: (UnsafeMutableBufferPointer<Element>) -> Int
    ) -> ContiguousArray<Element> {
        ContiguousArray(unsafeUninitializedCapacity: capacity) { buffer, initialized in
            #if os(Linux)
            let bytes = capacity * MemoryLayout<Element>.stride
            if bytes >= 4 * hugePageBytes {
                // madvise needs an aligned start; the unaligned ends keep small pages.
                let start = (Int(bitPattern: buffer.baseAddress!) + hugePageBytes - 1) & ~(hugePageBytes - 1)
                let end = (Int(bitPattern: buffer.baseAddress!) + bytes) & ~(hugePageBytes - 1)
                if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
            }
            #endif
            initialized = initialize(buffer)
        }
    }

    private static let hugePageBytes = 2 << 20

    /// Sets up malloc for large tables and mass frees. Process-wide; the server calls
    /// it when it starts.
    ///
    /// Each block of `threshold` bytes or more is mapped on its own, so a large table
    /// freed after it was replaced goes back to the kernel at once. By default glibc
    /// raises that threshold to the size of each mapped block freed, so the tables after
    /// the first came from an arena, whose freed middle stays resident; trimming it
    /// (`malloc_trim`) walked every free chunk holding the arenas' locks.
    ///
    /// Fast bins are off: they keep freed small blocks unmerged until the next large
    /// allocation merges them all, and after the sweep had reclaimed 600,000 expired
    /// strings that one allocation took 30 ms.
    public static func configureAllocator(threshold: Int = 1 << 20) {
        sluice_configure_malloc(threshold)
    }

    /// The slots of an index of at least `capacity` (a power of two) where `needed`
    /// entries stay within the load limit.
    private static func indexSize(capacity: Int, needed: Int) -> Int {
        var capacity = Swift.max(capacity, minimumCapacity)
        while needed * maximumLoadDenominator > capacity * maximumLoadNumerator { capacity *= 2 }
        // Positions and tags share 32 bits; this bounds the keyspace at 3/4 of 2^31 keys.
        precondition(capacity <= 1 << 31, "keyspace index beyond 2^31 slots")
        return capacity
    }

    /// An index of `size` empty slots.
    private static func emptyIndex(size: Int) -> ContiguousArray<UInt32> {
        table(capacity: size) { slots in
            slots.initialize(repeating: emptySlot)
            return size
        }
    }

    /// Old slots moved per insert while the index grows. A new index is made at most
    /// half full (twice the slots for 3/4 of the old, or as many when mostly tombstones
    /// were cleared), so a quarter of its slots' worth of inserts come before it must
    /// grow again; at 8 per insert, the old slots (no more than the new) have all moved
    /// after an eighth. Active expiry moves more when inserts are few.
    static let migrationStep = 8

    /// Slots of the next index cleared per insert between 5/8 and 3/4 full: that span
    /// is an eighth of the index's slots in inserts, and the next index has twice its
    /// slots, so 16 clear it in time.
    static let preparationStep = 16

    /// Clears up to `slots` more slots of `nextIndex`, making it first if need be.
    private mutating func prepareNextIndex(slots: Int) {
        if nextIndexSize != index.count * 2 {
            nextIndexSize = index.count * 2
            nextIndex = Self.table(capacity: nextIndexSize) { _ in 0 }
        }
        let more = Swift.min(slots, nextIndexSize - nextIndex.count)
        if more > 0 { nextIndex.append(contentsOf: repeatElement(Self.emptySlot, count: more)) }
    }

    /// Starts moving the index into an empty one of `indexSize` slots (the prepared
    /// one when it has that size, cleared the rest of the way), slot by slot; an earlier
    /// move still under way is finished first.
    private mutating func growIndex(capacity: Int, needed: Int) {
        if !oldIndex.isEmpty { migrateIndex(slots: oldIndex.count) }
        let size = Self.indexSize(capacity: capacity, needed: needed)
        oldIndex = index
        migrated = 0
        if size == nextIndexSize {
            nextIndex.append(contentsOf: repeatElement(Self.emptySlot, count: size - nextIndex.count))
            index = nextIndex
            nextIndex = []
            nextIndexSize = 0
        } else {
            index = Self.emptyIndex(size: size)
        }
        tombstones = 0
    }

    /// Moves up to `slots` slots of `oldIndex` into `index`, hashing their keys again;
    /// the last one frees `oldIndex`. The entries of a group of slots are asked for
    /// before any is read, as they lie at random places (one cache miss each).
    private mutating func migrateIndex(slots: Int) {
        let oldMask = UInt32(truncatingIfNeeded: oldIndex.count - 1)
        let end = Swift.min(oldIndex.count, migrated + slots)
        while migrated < end {
            let group = Swift.min(end, migrated + 8)
            for slot in migrated..<group {
                let stored = oldIndex[slot]
                if stored != Self.emptySlot && stored != oldMask {
                    entries.withAddress(of: Int(stored & oldMask) - 1) { start in
                        if let start { sluice_prefetch(start) }
                    }
                }
            }
            while migrated < group {
                let stored = oldIndex[migrated]
                if stored != Self.emptySlot && stored != oldMask {
                    let position = Int(stored & oldMask) - 1
                    placeInIndex(hash: hashOfKey(at: position), position: position)
                    oldIndex[migrated] = oldMask
                }
                migrated += 1
            }
        }
        if migrated == oldIndex.count {
            oldIndex = []
            migrated = 0
        }
    }

    /// Starts giving memory back once more than three quarters of the entries are holes.
    /// The free list is dropped: from now on the compaction's front finds the holes.
    private mutating func compactIfSparse() {
        guard compactFront == Int.max, entries.count > Self.minimumCapacity, count * 4 < entries.count else { return }
        compactFront = 0
        freeHead = Self.noPosition
    }

    /// Up to `budget` units of compaction work: dropping a hole at the end, passing a live
    /// entry at the front, or moving the last entry into the hole at the front. Moving
    /// them all in one step held every client up: 27-34 ms for 158,000 live entries
    /// among 632,000. Entries stay where a background snapshot expects them until it is done.
    private mutating func compactStep(budget: Int) {
        guard compactFront != Int.max, !isCapturing else { return }
        for _ in 0..<budget {
            let last = entries.count - 1
            if last < compactFront {
                finishCompaction()
                return
            }
            if entries[last].keyLength == Self.hole {
                entries.removeLast()
            } else if entries[compactFront].keyLength != Self.hole {
                compactFront += 1
            } else {
                move(last, to: compactFront)
                compactFront += 1
            }
        }
    }

    /// Moves the last entry into the hole at `target`, pointing its index slot there.
    private mutating func move(_ last: Int, to target: Int) {
        let hash = hashOfKey(at: last)
        let slot = slot(of: last, hash: hash)
        if slot >= 0 {
            index[slot] = Self.tag(hash, mask: UInt32(truncatingIfNeeded: index.count - 1)) | UInt32(target + 1)
        } else {
            oldIndex[~slot] = Self.tag(hash, mask: UInt32(truncatingIfNeeded: oldIndex.count - 1)) | UInt32(target + 1)
        }
        var entry = entries.removeLast()
        swap(&entry, &entries[target])
    }

    /// While a compaction runs, the hole at its front for an insert (moving the front past
    /// it), looking past at most a few live entries; nil if none is that near.
    private mutating func takeFrontHole() -> Int? {
        guard compactFront != Int.max else { return nil }
        var passed = 0
        while compactFront < entries.count && passed < 16 {
            if entries[compactFront].keyLength == Self.hole {
                compactFront += 1
                return compactFront - 1
            }
            compactFront += 1
            passed += 1
        }
        return nil
    }

    /// Ends a compaction: every hole left is on the free list. An index far larger than
    /// the keys need starts moving into a smaller one, a few slots at a time as in growth;
    /// one sized for twice the entries leaves room for the moving to finish before it must grow.
    private mutating func finishCompaction() {
        compactFront = Int.max
        if largeKeys.count == freeLargeKeys.count {
            largeKeys = []
            freeLargeKeys = []
        }
        let needed = Swift.max(count, entries.count) * 2
        if oldIndex.isEmpty && Self.indexSize(capacity: Self.minimumCapacity, needed: needed) * 2 <= index.count {
            nextIndex = []
            nextIndexSize = 0
            growIndex(capacity: Self.minimumCapacity, needed: needed)
        }
    }
}
