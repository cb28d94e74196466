/// The keyspace as shards: independent `Keyspace`s, each key in the one its hash picks,
/// so that commands on keys of different shards can run at the same time under
/// different locks.
///
/// A value of this type is a view: copies share the shards. The server keeps a view of
/// all of them, through which commands that may touch any key run with every shard
/// locked, and one view per shard, through which single-key commands run with only
/// that shard's lock held. One shard (the default with one event loop) is the plain
/// keyspace behind one more pointer.
///
/// Operations on one key go to its shard; counts, iteration, scans, captures, expiry and
/// eviction go over all shards. Not thread-safe: the server serialises access to each shard.
public struct ShardedKeyspace: @unchecked Sendable {
    /// Owns the shards; views keep it alive.
    private final class Storage: @unchecked Sendable {
        let shards: UnsafeMutablePointer<Keyspace>
        let count: Int
        /// The capture under way over all shards (`beginCapture`); here rather than in
        /// the view, which every command's look-ups pass around.
        var capture = Capture()

        init(count: Int) {
            self.count = count
            shards = .allocate(capacity: count)
            shards.initialize(repeating: Keyspace(), count: count)
        }

        deinit {
            shards.deinitialize(count: count)
            shards.deallocate()
        }
    }

    /// Most shards: a scan cursor keeps a shard's number in its top 8 bits.
    public static let maximumShards = 256

    private let storage: Storage
    /// The first shard this view covers, and how many (all of them, or one).
    @usableFromInline let base: UnsafeMutablePointer<Keyspace>
    public let shardCount: Int
    /// A key hashed ahead of its look-up (`expectKey`), so routing it does not hash it again.
    @usableFromInline var expected: (address: Int, count: Int, hash: UInt64) = (0, 0, 0)
    private var capture: Capture {
        get { storage.capture }
        nonmutating set { storage.capture = newValue }
    }

    /// A keyspace of `shards` shards (a power of two, at most `maximumShards`).
    public init(shards: Int = 1) {
        precondition(shards >= 1 && shards <= Self.maximumShards && shards & (shards - 1) == 0)
        storage = Storage(count: shards)
        base = storage.shards
        shardCount = shards
    }

    private init(storage: Storage, shard: Int) {
        self.storage = storage
        base = storage.shards + shard
        shardCount = 1
    }

    /// The view of shard `index` alone: what a single-key command on one of its keys
    /// runs against while only that shard is locked.
    public func shard(_ index: Int) -> ShardedKeyspace {
        precondition(shardCount == storage.count && index >= 0 && index < shardCount)
        return ShardedKeyspace(storage: storage, shard: index)
    }

    /// Which of `shards` shards holds keys of `hash` (`Keyspace.hash`). Multiplied first:
    /// a shard's keys then still spread over all of its index's slots, which the hash's low
    /// bits choose, and over all tags, which its top bits give.
    @inlinable @inline(__always)
    public static func shardIndex(hash: UInt64, shards: Int) -> Int {
        shards == 1 ? 0 : Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> 32) & (shards - 1)
    }

    /// The shard of `key`. The one-key operations are inlinable, so that with one shard
    /// a command's call costs a compare and a load more than the keyspace's own.
    @inlinable @inline(__always)
    func at(_ key: UnsafeRawBufferPointer) -> UnsafeMutablePointer<Keyspace> {
        if shardCount == 1 { return base }
        let hash = expected.address != 0 && Int(bitPattern: key.baseAddress) == expected.address && key.count == expected.count
            ? expected.hash : Keyspace.hash(key)
        return base + Self.shardIndex(hash: hash, shards: shardCount)
    }

    @inlinable @inline(__always)
    func at(hash: UInt64) -> UnsafeMutablePointer<Keyspace> {
        shardCount == 1 ? base : base + Self.shardIndex(hash: hash, shards: shardCount)
    }

    @inlinable @inline(__always)
    func at(_ key: Key) -> UnsafeMutablePointer<Keyspace> {
        shardCount == 1 ? base : key.withUnsafeBytes { at($0) }
    }

    /// The one shard of a view of one, for callers that make many calls in a row.
    public var singleShard: UnsafeMutablePointer<Keyspace>? { shardCount == 1 ? base : nil }

    /// The shards this view covers.
    @usableFromInline var shards: UnsafeMutableBufferPointer<Keyspace> { UnsafeMutableBufferPointer(start: base, count: shardCount) }

    // MARK: One key

    @inlinable @inline(__always) public mutating func value(_ key: Key, now: Instant) -> Value? { at(key).pointee.value(key, now: now) }
    @inlinable @inline(__always) public mutating func value(_ key: UnsafeRawBufferPointer, now: Instant) -> Value? { at(key).pointee.value(key, now: now) }
    @inlinable @inline(__always) public mutating func inspect<R>(_ key: UnsafeRawBufferPointer, now: Instant, _ body: (Value) -> R) -> R? {
        at(key).pointee.inspect(key, now: now, body)
    }
    @inlinable public mutating func contains(_ key: Key, now: Instant) -> Bool { at(key).pointee.contains(key, now: now) }
    @inlinable @inline(__always) public mutating func contains(_ key: UnsafeRawBufferPointer, now: Instant) -> Bool { at(key).pointee.contains(key, now: now) }

    @inlinable public mutating func memoryUsage(_ key: UnsafeRawBufferPointer, now: Instant) -> Int? {
        at(key).pointee.memoryUsage(key, now: now)
    }

    @inlinable public mutating func expiry(_ key: Key, now: Instant) -> Int64?? { at(key).pointee.expiry(key, now: now) }
    @inlinable public mutating func expiry(_ key: UnsafeRawBufferPointer, now: Instant) -> Int64?? { at(key).pointee.expiry(key, now: now) }

    @inlinable public mutating func set(_ key: Key, _ value: Value, expiresAt: Int64? = nil, keepExpiry: Bool = false, now: Instant) {
        at(key).pointee.set(key, value, expiresAt: expiresAt, keepExpiry: keepExpiry, now: now)
    }

    @inlinable public mutating func set(
        _ key: UnsafeRawBufferPointer, _ value: Value, expiresAt: Int64? = nil, keepExpiry: Bool = false, now: Instant
    ) {
        at(key).pointee.set(key, value, expiresAt: expiresAt, keepExpiry: keepExpiry, now: now)
    }

    @inlinable public mutating func update<R, E: Error>(_ key: Key, now: Instant, _ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        try at(key).pointee.update(key, now: now, body)
    }

    @inlinable public mutating func update<R, E: Error>(
        _ key: UnsafeRawBufferPointer, now: Instant, _ body: (inout Value) throws(E) -> R
    ) throws(E) -> R? {
        try at(key).pointee.update(key, now: now, body)
    }

    @inlinable @inline(__always) public mutating func withEntry(_ key: Key, now: Instant, _ body: (inout Value?, inout Int64?) -> Void) {
        at(key).pointee.withEntry(key, now: now, body)
    }

    @inlinable @inline(__always) public mutating func withEntry(_ key: UnsafeRawBufferPointer, now: Instant, _ body: (inout Value?, inout Int64?) -> Void) {
        at(key).pointee.withEntry(key, now: now, body)
    }

    @discardableResult
    @inlinable public mutating func remove(_ key: Key, now: Instant) -> Bool { at(key).pointee.remove(key, now: now) }

    @discardableResult
    @inlinable public mutating func remove(_ key: UnsafeRawBufferPointer, now: Instant) -> Bool { at(key).pointee.remove(key, now: now) }

    @discardableResult
    @inlinable public mutating func setExpiry(_ key: Key, at deadline: Int64?, now: Instant) -> Bool {
        at(key).pointee.setExpiry(key, at: deadline, now: now)
    }

    @discardableResult
    @inlinable public mutating func setExpiry(_ key: UnsafeRawBufferPointer, at deadline: Int64?, now: Instant) -> Bool {
        at(key).pointee.setExpiry(key, at: deadline, now: now)
    }

    @inlinable public mutating func apply<State>(_ write: RateLimitWrite<State>, to key: Key, now: Instant, as wrap: (State) -> Value) {
        at(key).pointee.apply(write, to: key, now: now, as: wrap)
    }

    // MARK: Watching

    @inlinable public mutating func watch(_ key: Key, now: Instant) -> UInt64 { at(key).pointee.watch(key, now: now) }
    @inlinable public mutating func unwatch(_ key: Key) { at(key).pointee.unwatch(key) }

    @inlinable public mutating func hasChanged(_ key: Key, since version: UInt64, now: Instant) -> Bool {
        at(key).pointee.hasChanged(key, since: version, now: now)
    }

    @inlinable public mutating func noteWrite(_ key: Key) { at(key).pointee.noteWrite(key) }
    @inlinable public mutating func noteWrite(_ key: UnsafeRawBufferPointer) { at(key).pointee.noteWrite(key) }
    public var watchedKeyCount: Int { shards.reduce(0) { $0 + $1.watchedKeyCount } }

    // MARK: Look-ups ahead

    /// Hands the key's shard the hash of the key about to be looked up (`Keyspace.expectKey`),
    /// and keeps it to route that key by.
    @inlinable @inline(__always)
    public mutating func expectKey(_ key: UnsafeRawBufferPointer, hash: UInt64) {
        if shardCount > 1 { expected = (Int(bitPattern: key.baseAddress), key.count, hash) }
        at(hash: hash).pointee.expectKey(key, hash: hash)
    }

    @inlinable @inline(__always)
    public mutating func forgetExpectedKey() {
        if shardCount == 1 { return base.pointee.forgetExpectedKey() }
        at(hash: expected.hash).pointee.forgetExpectedKey()
        expected.address = 0
    }

    @inlinable @inline(__always) public mutating func prefetchIndex(hash: UInt64) { at(hash: hash).pointee.prefetchIndex(hash: hash) }
    @inlinable @inline(__always) public mutating func prefetchEntry(hash: UInt64) { at(hash: hash).pointee.prefetchEntry(hash: hash) }
    @inlinable @inline(__always) public mutating func prefetchValue(hash: UInt64) { at(hash: hash).pointee.prefetchValue(hash: hash) }
    @inlinable public mutating func prefetchLogEnd(hash: UInt64) { at(hash: hash).pointee.prefetchLogEnd(hash: hash) }

    // MARK: All keys

    public var count: Int { shards.reduce(0) { $0 + $1.count } }
    public var volatileCount: Int { shards.reduce(0) { $0 + $1.volatileCount } }
    /// Whether any shard is being compacted (`Keyspace.isCompacting`).
    public var isCompacting: Bool { shards.contains { $0.isCompacting } }
    /// Read before every command while `maxmemory` is set.
    @inlinable
    public var usedMemory: Int { shardCount == 1 ? base.pointee.usedMemory : shards.reduce(0) { $0 + $1.usedMemory } }

    public var stats: Keyspace.Stats {
        shards.reduce(into: Keyspace.Stats()) { sum, shard in
            sum.expiredKeys += shard.stats.expiredKeys
            sum.evictedKeys += shard.stats.evictedKeys
            sum.hits += shard.stats.hits
            sum.misses += shard.stats.misses
        }
    }

    public mutating func removeAll() {
        for index in shards.indices { shards[index].removeAll() }
    }

    /// Replaces every shard's keys with `keyspace`'s (a loaded snapshot), each in its shard.
    public mutating func replaceAll(with keyspace: Keyspace, now: Instant) {
        guard shardCount > 1 else { return base.pointee = keyspace }
        removeAll()
        keyspace.forEachEntry { key, value, deadline in set(key, value, expiresAt: deadline, now: now) }
    }

    /// Copies of the shards, as they are now (copy-on-write): what a snapshot taken with
    /// the lock released reads.
    public var copies: [Keyspace] { Array(shards) }

    public mutating func keys(now: Instant, where include: (Key) -> Bool = { _ in true }) -> [Key] {
        var result: [Key] = []
        for index in shards.indices { result += shards[index].keys(now: now, where: include) }
        return result
    }

    public func forEachEntry(_ body: (Key, Value, Int64?) -> Void) {
        for shard in shards { shard.forEachEntry(body) }
    }

    /// `Keyspace.scan` over the shards in turn: a cursor is the shard's number in its top
    /// 8 bits and that shard's own cursor in the rest. A step that finishes a shard goes
    /// on into the next one while it has found fewer than `count` keys.
    public mutating func scan(cursor: UInt64, count: Int, now: Instant) -> (cursor: UInt64, keys: [Key]) {
        if shardCount == 1 { return base.pointee.scan(cursor: cursor, count: count, now: now) }
        var shard = Int(cursor >> 56)
        guard shard < shardCount else { return (0, []) }
        var inner = cursor & 0x00FF_FFFF_FFFF_FFFF
        var found: [Key] = []
        while true {
            let step = shards[shard].scan(cursor: inner, count: count, now: now)
            found += step.keys
            if step.cursor != 0 { return (UInt64(shard) << 56 | step.cursor, found) }
            shard += 1
            if shard == shardCount { return (0, found) }
            if found.count >= count { return (UInt64(shard) << 56, found) }
            inner = 0
        }
    }

    /// `Keyspace.expireCycle` with `maxChecks` shared among the shards.
    @discardableResult
    public mutating func expireCycle(now: Instant, maxChecks: Int) -> Int {
        expireStep(now: now, maxChecks: maxChecks).removed
    }

    /// `Keyspace.expireStep` with `maxChecks` shared among the shards, their results summed.
    public mutating func expireStep(now: Instant, maxChecks: Int) -> Keyspace.ExpiryStep {
        let each = Self.checksPerShard(maxChecks, shards: shardCount)
        var total = Keyspace.ExpiryStep()
        for index in shards.indices {
            let step = shards[index].expireStep(now: now, maxChecks: each)
            total.removed += step.removed
            total.checkedWithDeadline += step.checkedWithDeadline
        }
        return total
    }

    /// Each shard's share of an active-expiry step of `maxChecks` over `shards` shards,
    /// whether they are swept under one hold of every lock or one shard at a time.
    public static func checksPerShard(_ maxChecks: Int, shards: Int) -> Int {
        max(1, maxChecks / shards)
    }

    /// `Keyspace.evict` for the total: `volatile-ttl` evicts the nearest deadline among
    /// the shards' choices; the random policies take a key from a shard drawn by its share
    /// of the keys they may take.
    public mutating func evict(toFit limit: Int, policy: EvictionPolicy, samples: Int, now: Instant) -> Bool {
        if shardCount == 1 { return base.pointee.evict(toFit: limit, policy: policy, samples: samples, now: now) }
        let nowMs = now.milliseconds
        let samples = max(samples, 1)
        while usedMemory > limit {
            var best: (shard: Int, position: Int, deadline: Int64)?
            var reclaimed = false
            for index in policy == .volatileTTL ? Array(shards.indices) : randomShardOrder(policy) {
                switch shards[index].evictionChoice(policy: policy, samples: samples, nowMs: nowMs) {
                case .none: continue
                case .reclaimed: reclaimed = true
                case .key(let position, let deadline):
                    if best.map({ deadline < $0.deadline }) ?? true { best = (index, position, deadline) }
                }
                // A random policy takes the first shard's choice.
                if reclaimed || (policy != .volatileTTL && best != nil) { break }
            }
            if reclaimed { continue }
            guard let best else { return false }
            shards[best.shard].evict(at: best.position)
        }
        return true
    }

    /// The shards, the first drawn by its share of the keys `policy` may evict, then the rest in turn.
    private func randomShardOrder(_ policy: EvictionPolicy) -> [Int] {
        let weight = { (shard: Keyspace) in policy == .allKeysRandom ? shard.count : shard.volatileCount }
        let total = shards.reduce(0) { $0 + weight($1) }
        guard total > 0 else { return [] }
        var draw = Int.random(in: 0..<total)
        var first = 0
        for index in shards.indices {
            if draw < weight(shards[index]) {
                first = index
                break
            }
            draw -= weight(shards[index])
        }
        return (0..<shardCount).map { (first + $0) % shardCount }
    }

    // MARK: Snapshot capture

    private struct Capture {
        var id: UInt64 = 0
        var active = false
        /// Each shard's own capture id, and the shard being collected.
        var shardIDs: [UInt64] = []
        var shard = 0
        /// Keys collected from the shards before `shard`.
        var collectedBefore = 0
        var total = 0
    }

    /// `Keyspace.beginCapture` on every shard at once; the shards are then collected one
    /// after another.
    public mutating func beginCapture(now: Instant) -> UInt64 {
        let id = capture.id &+ 1 == 0 ? 1 : capture.id &+ 1
        let shardIDs = shards.indices.map { shards[$0].beginCapture(now: now) }
        let total = shards.reduce(0) { $0 + ($1.captureCounts?.total ?? 0) }
        capture = Capture(id: id, active: true, shardIDs: shardIDs, shard: 0, collectedBefore: 0, total: total)
        return id
    }

    public mutating func captureStep(_ id: UInt64, slots: Int, into collected: inout [Snapshot.Entry]) -> Keyspace.CaptureProgress {
        guard capture.active, capture.id == id else { return .lost }
        let shard = capture.shard
        let before = collected.count
        let earlier = shards[shard].captureCounts?.collected ?? 0
        switch shards[shard].captureStep(capture.shardIDs[shard], slots: slots, into: &collected) {
        case .more:
            return .more
        case .lost:
            endCapture(id)
            return .lost
        case .done:
            capture.collectedBefore += earlier + collected.count - before
            capture.shard += 1
            guard capture.shard == shardCount else { return .more }
            capture = Capture(id: id)
            return .done
        }
    }

    public mutating func endCapture(_ id: UInt64) {
        guard capture.id == id else { return }
        for index in shards.indices where index < capture.shardIDs.count { shards[index].endCapture(capture.shardIDs[index]) }
        capture = Capture(id: id)
    }

    public var captureCounts: (collected: Int, total: Int)? {
        guard capture.active else { return nil }
        return (capture.collectedBefore + (shards[capture.shard].captureCounts?.collected ?? 0), capture.total)
    }
}
