/// A dictionary from bytes to `Value` that never grows all at once, for the members of
/// one sorted set, which may number millions.
///
/// A Swift `Dictionary` doubles by moving every entry into a table twice the size:
/// at 1.5 million fields that paused every client for about 0.3 s. Here the entries
/// are spread by their hash over many dictionaries (linear hashing, `SplitOrder`). Once
/// the entries pass `splitLoad` per bucket, the next bucket in order splits in two by
/// its next bit, so one insert moves at most one bucket's entries. Until the first
/// split there is one plain dictionary, so a small set costs what a `Dictionary` did.
public struct SplitDictionary<Value: Sendable>: Sendable {
    /// Bucket 0, kept apart so that an unsplit dictionary needs no array of buckets.
    private var first: [HashedBytes: Value] = [:]
    /// Buckets 1 and on.
    private var rest: [[HashedBytes: Value]] = []
    private var order = SplitOrder()
    private let splitLoad: Int
    public private(set) var count = 0

    /// Buckets average 4,096 entries and hold at most about twice that, so a split moves
    /// about 4,000 entries at most.
    static var defaultSplitLoad: Int { 4096 }

    public init() {
        self.splitLoad = Self.defaultSplitLoad
    }

    /// A dictionary that splits past `splitLoad` entries per bucket; tests use small loads.
    init(splitLoad: Int) {
        precondition(splitLoad >= 1)
        self.splitLoad = splitLoad
    }

    public var isEmpty: Bool { count == 0 }

    /// How many buckets hold the entries (1 until the first split).
    var bucketCount: Int { 1 + rest.count }

    /// The most entries one bucket holds; for tests.
    var largestBucket: Int { rest.reduce(first.count) { Swift.max($0, $1.count) } }

    @inline(__always)
    public subscript(key: HashedBytes) -> Value? {
        let bucket = self.bucket(of: key)
        return bucket == 0 ? first[key] : rest[bucket - 1][key]
    }

    /// Sets `key` to `value`; returns the value it replaced, or nil when the key is new.
    @inline(__always) @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: HashedBytes) -> Value? {
        let bucket = self.bucket(of: key)
        let old = bucket == 0 ? first.updateValue(value, forKey: key) : rest[bucket - 1].updateValue(value, forKey: key)
        if old == nil {
            count += 1
            if count > splitLoad * bucketCount { splitNext() }
        }
        return old
    }

    /// Removes `key`; returns its value, or nil when it was not there.
    @inline(__always) @discardableResult
    public mutating func removeValue(forKey key: HashedBytes) -> Value? {
        let bucket = self.bucket(of: key)
        let old = bucket == 0 ? first.removeValue(forKey: key) : rest[bucket - 1].removeValue(forKey: key)
        if old != nil { count -= 1 }
        return old
    }

    /// Whether `body` holds for every key and value, in no particular order.
    public func allSatisfy(_ body: (HashedBytes, Value) -> Bool) -> Bool {
        first.allSatisfy { body($0.key, $0.value) }
            && rest.allSatisfy { bucket in bucket.allSatisfy { body($0.key, $0.value) } }
    }

    @inline(__always)
    private func bucket(of key: HashedBytes) -> Int {
        order.bucket(of: key.storedHash)
    }

    /// Splits the next bucket in turn (`SplitOrder.advance`).
    @inline(never)
    private mutating func splitNext() {
        let (bucket, bit) = order.advance()
        rest.append(bucket == 0 ? Self.split(&first, by: 1 << bit) : Self.split(&rest[bucket - 1], by: 1 << bit))
    }

    /// Takes the entries whose hash has `bit` set out of `bucket`; the others stay where
    /// they are. Moving an entry retains its key, a read of the key's storage, and
    /// `filter` retains only the keys it takes, where a loop retained every key it saw.
    private static func split(_ bucket: inout [HashedBytes: Value], by bit: Int) -> [HashedBytes: Value] {
        let moved = bucket.filter { $0.key.storedHash & bit != 0 }
        for key in moved.keys { bucket.removeValue(forKey: key) }
        return moved
    }
}

extension SplitDictionary: Equatable where Value: Equatable {
    /// Same keys with the same values, however they are split.
    public static func == (lhs: SplitDictionary, rhs: SplitDictionary) -> Bool {
        lhs.count == rhs.count && lhs.allSatisfy { rhs[$0] == $1 }
    }
}
