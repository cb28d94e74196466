/// The keyspace's estimate of the memory its data takes, which `maxmemory` limits and
/// `INFO`'s `used_memory` reports.
///
/// Measuring the allocator is too slow per command (glibc's `mallinfo2` walks every
/// arena), and the process's resident size does not shrink when keys are freed. So the
/// keyspace keeps a running total instead: each key costs its share of the table, its
/// key and its value's heap bytes. Values report their heap bytes in O(1): byte strings
/// by their length, collections by a total they keep up to date as they change. The
/// figures below are what Swift and glibc's malloc spend on 64-bit Linux, rounded; the
/// total is an estimate of data size, not of the process (see README, "Memory").
public enum MemoryEstimate {
    /// A Swift array's heap object starts with 32 bytes (object header, count, capacity).
    static let arrayHeader = 32

    /// What malloc hands out for `size` bytes: an 8-byte chunk header, in 16-byte steps.
    @inline(__always)
    static func allocation(_ size: Int) -> Int {
        (size + 8 + 15) & ~15
    }

    /// The heap object of a boxed (`indirect`) value case: a 16-byte object header and the payload.
    @inline(__always)
    static func box<Payload>(_ payload: Payload.Type) -> Int {
        allocation(16 + MemoryLayout<Payload>.size)
    }

    /// Heap bytes of an array of `count` bytes; an empty array allocates nothing.
    @inline(__always)
    public static func bytes(_ count: Int) -> Int {
        count == 0 ? 0 : allocation(arrayHeader + count)
    }

    /// What one key costs in the tables: its entry, and two index slots (the index is
    /// between 3/8 and 3/4 full, so a key holds about two slots on average; charging
    /// that per key keeps the total smooth instead of jumping when the index grows).
    public static let entry = MemoryLayout<Keyspace.Entry>.stride + 2 * MemoryLayout<UInt32>.stride

    /// A key too long to sit in its entry: its array, and its place in the list of them.
    @inline(__always)
    public static func largeKey(_ count: Int) -> Int {
        bytes(count) + MemoryLayout<[UInt8]>.stride
    }

    /// A hash field beyond the arrays of a field or value too long to sit in its slot:
    /// the slot and its index cells.
    static let hashEntry = FieldTable<SmallBytes, SmallBytes>.entryBytes

    /// A set member beyond the array of one too long to sit in its slot: the slot and its
    /// index cells.
    static let setMember = FieldTable<SmallBytes, NoPayload>.entryBytes

    /// A sorted-set member beyond its bytes: the score index entry and its element in
    /// the ordered blocks.
    static let sortedSetMember = FieldTable<MemberBytes, Double>.entryBytes + MemoryLayout<SortedSet.Contents.Entry>.stride
}

extension Value {
    /// Heap bytes this value holds outside its entry, in O(1). Integers and unblocked
    /// leaky buckets live inside the entry and cost nothing more.
    @inline(__always)
    public var heapBytes: Int {
        switch self {
        case .integer, .leakyBucket: 0
        case .blockedLeakyBucket: MemoryEstimate.box(LeakyBucketState.self)
        case .string(let bytes): MemoryEstimate.bytes(bytes.count)
        case .slidingWindow(let log): MemoryEstimate.bytes(log.entries.capacity * MemoryLayout<SlidingWindowLog.Entry>.stride)
        case .list(let list): list.heapBytes
        case .hash(let hash): hash.heapBytes
        case .sortedSet(let set): set.heapBytes
        case .set(let set): set.heapBytes
        }
    }
}
