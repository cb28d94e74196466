/// The bytes of a packed collection (`PackedFields`, `PackedElements`, `PackedMembers`,
/// `PackedList`) and how many elements they hold, in one heap object: the 16-byte
/// object header, the byte count and capacity and the element count in 4 bytes each,
/// then the bytes. An array's header takes 32 bytes, which put a token bucket's two
/// fields (27 bytes) in an 80-byte malloc chunk; here they take 64.
///
/// One word, nil when empty. An optional reference leaves an enum around it no spare
/// bits for its case, so a hash, set, sorted set or list value takes 9 bytes; the
/// element count lives here, not beside the store, so that they still fit in a key's
/// value (`Value`, 16 bytes).
///
/// A value, as an array is: copies share the object until one of them changes, which
/// copies it first (a snapshot keeps the bytes it saw).
struct PackedStore: @unchecked Sendable {
    // @unchecked: the object is changed only through a store that holds the only
    // reference to it (`makeUnique`), so shared objects are never written.

    private struct Header {
        var count: UInt32
        var capacity: UInt32
        /// Elements, as the collection counts them; unused by `PackedFields`.
        var elements: UInt32
    }

    private typealias Buffer = ManagedBuffer<Header, UInt8>

    private var buffer: Buffer?

    /// The object header and `Header`, before the bytes.
    static let headerBytes = 16 + MemoryLayout<Header>.size

    /// Sizes up to which the bytes grow to what they need (`openGap`).
    static let exactGrowth = 64

    init() {}

    /// A store of a copy of `bytes`, with no room to spare but malloc's rounding.
    init(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        reallocate(capacity: bytes.count, keeping: 0)
        buffer!.withUnsafeMutablePointers { header, elements in
            if let from = bytes.baseAddress { UnsafeMutableRawPointer(elements).copyMemory(from: from, byteCount: bytes.count) }
            header.pointee.count = UInt32(bytes.count)
        }
    }

    var count: Int { buffer.map { Int($0.header.count) } ?? 0 }

    var isEmpty: Bool { count == 0 }

    /// How many elements the collection holds: kept here, not beside the store, so that
    /// the collection stays one word.
    var elements: Int {
        get { buffer.map { Int($0.header.elements) } ?? 0 }
        set {
            precondition(newValue >= 0 && newValue <= Int(UInt32.max), "a packed collection cannot hold \(newValue) elements")
            guard newValue != elements else { return }
            precondition(buffer != nil, "elements without bytes")
            makeUnique(capacity: capacity)
            buffer!.header.elements = UInt32(newValue)
        }
    }

    /// Bytes the object has room for.
    var capacity: Int { buffer.map { Int($0.header.capacity) } ?? 0 }

    /// What the object takes from malloc (nothing when empty).
    var heapBytes: Int { buffer == nil ? 0 : MemoryEstimate.allocation(Self.headerBytes + capacity) }

    @inline(__always)
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard let buffer else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try buffer.withUnsafeMutablePointers { header, elements in
            try body(UnsafeRawBufferPointer(start: elements, count: Int(header.pointee.count)))
        }
    }

    @inline(__always) @discardableResult
    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        makeUnique(capacity: capacity)
        guard let buffer else { return try body(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        return try buffer.withUnsafeMutablePointers { header, elements in
            try body(UnsafeMutableRawBufferPointer(start: elements, count: Int(header.pointee.count)))
        }
    }

    /// The bytes in `range` as an array of their own.
    func array(_ range: Range<Int>) -> [UInt8] {
        withUnsafeBytes { [UInt8](UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Opens `size` bytes at `start` (within `0...count`), moving what follows with one
    /// `memmove`, for an element to be written there; their bytes are unset.
    ///
    /// Grows to what is needed up to `exactGrowth` bytes, as Redis reallocates a listpack
    /// (malloc's rounding leaves some room), then by an eighth more, not by doubling: a
    /// small collection grows one element at a time, and its slack is most of what it
    /// wastes. A quarter more, as these collections grew in arrays, put a token bucket's
    /// two fields (27 bytes) in 80 bytes, and left an eighth of a collection unused on
    /// average where an eighth leaves a sixteenth.
    mutating func openGap(at start: Int, size: Int) {
        let count = self.count
        precondition(start >= 0 && start <= count && size >= 0, "PackedStore gap out of range")
        let needed = count + size
        makeUnique(capacity: needed <= capacity || needed <= Self.exactGrowth ? needed : needed + needed / 8)
        buffer?.withUnsafeMutablePointers { header, elements in
            let base = UnsafeMutableRawPointer(elements)
            // copyMemory moves: the two ranges overlap.
            if count > start { (base + start + size).copyMemory(from: base + start, byteCount: count - start) }
            header.pointee.count = UInt32(needed)
        }
    }

    /// Appends `bytes` after the last.
    mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
        let start = count
        openGap(at: start, size: bytes.count)
        guard let from = bytes.baseAddress else { return }
        withUnsafeMutableBytes { $0.baseAddress!.advanced(by: start).copyMemory(from: from, byteCount: bytes.count) }
    }

    /// Removes the bytes in `range`; at the end, nothing is moved.
    mutating func removeSubrange(_ range: Range<Int>) {
        let count = self.count
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "PackedStore range out of range")
        guard !range.isEmpty else { return }
        makeUnique(capacity: capacity)
        buffer!.withUnsafeMutablePointers { header, elements in
            let base = UnsafeMutableRawPointer(elements)
            if range.upperBound < count {
                base.advanced(by: range.lowerBound).copyMemory(from: base + range.upperBound, byteCount: count - range.upperBound)
            }
            header.pointee.count = UInt32(count - range.count)
        }
    }

    mutating func removeLast(_ size: Int) {
        removeSubrange(count - size..<count)
    }

    /// Gives back the room of removed bytes once they were most of it, as Redis shrinks
    /// a listpack: a trimmed collection would otherwise keep its largest size.
    mutating func shrinkIfSparse() {
        guard capacity > 64, count < capacity / 2 else { return }
        shrink(keeping: count / 4)
    }

    /// Moves the bytes into an object with room for only `slack` more (and malloc's
    /// rounding, which is why a few spare bytes are not worth a copy).
    mutating func shrink(keeping slack: Int = 0) {
        guard capacity > count + slack + 32 else { return }
        reallocate(capacity: count + slack, keeping: count)
    }

    /// Makes the object this store's own, with room for at least `capacity` bytes.
    @inline(__always)
    private mutating func makeUnique(capacity wanted: Int) {
        if isKnownUniquelyReferenced(&buffer), wanted <= capacity { return }
        guard wanted > 0 || buffer != nil else { return }
        reallocate(capacity: Swift.max(wanted, count), keeping: count)
    }

    /// Copies the first `kept` bytes into a new object with room for `capacity`.
    private mutating func reallocate(capacity wanted: Int, keeping kept: Int) {
        precondition(wanted <= Int(UInt32.max), "a packed collection cannot hold \(wanted) bytes")
        let counted = UInt32(elements)
        let fresh = Buffer.create(minimumCapacity: wanted) { _ in Header(count: 0, capacity: 0, elements: 0) }
        // malloc's rounding is room too, as far as MemoryEstimate counts it. malloc can
        // hand out more (a larger free chunk, when splitting it would leave too little),
        // which is left unused so that what a value is counted to take does not depend
        // on the heap's history.
        let rounded = MemoryEstimate.allocation(Self.headerBytes + wanted) - 8 - Self.headerBytes
        let capacity = Swift.min(fresh.capacity, rounded, Int(UInt32.max))
        fresh.withUnsafeMutablePointers { header, elements in
            header.pointee = Header(count: UInt32(kept), capacity: UInt32(capacity), elements: counted)
            guard kept > 0, let buffer else { return }
            buffer.withUnsafeMutablePointerToElements { elements.initialize(from: $0, count: kept) }
        }
        buffer = fresh
    }
}
