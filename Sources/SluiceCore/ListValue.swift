/// A Redis list. A small one is packed into one byte array (`PackedList`), as Redis keeps
/// a small list in a listpack; past `packLimit` elements or `packByteLimit` bytes its
/// elements move for good into a `RingDeque` of arrays, where pushing and popping at
/// either end and reading by position are O(1). The heap bytes are kept up to date on
/// every change, so the keyspace's memory estimate reads a list's size in O(1) however
/// long it is.
public struct ListValue: Sendable {
    private var packed = PackedList()
    private var ring = RingDeque<[UInt8]>()
    /// Heap bytes of the ring's element arrays (not of its slots).
    private var ringElementBytes = 0
    private var unpacked = false

    /// A list of more elements than this is not packed: a walk to a position would cost
    /// more than a ring's slot. `limits`' moving windows of up to 128 hits stay packed.
    public static let packLimit = 128
    /// Nor is a list whose packed bytes pass this, the size of a Redis listpack node.
    public static let packByteLimit = 8192

    public init() {}

    public init<S: Sequence>(_ elements: S) where S.Element == [UInt8] {
        for element in elements { append(element) }
    }

    public var count: Int { unpacked ? ring.count : packed.count }
    public var isEmpty: Bool { count == 0 }

    /// Heap bytes of the list: the packed array, or the ring's slots and every element.
    public var heapBytes: Int {
        guard unpacked else { return MemoryEstimate.bytes(packed.bytes.capacity) }
        return MemoryEstimate.bytes(ring.capacity * MemoryEstimate.listSlot) + ringElementBytes
    }

    /// Whether the elements are packed (for tests of the layout).
    public var isPacked: Bool { !unpacked }

    /// The elements in order, each copied into an array.
    public var elements: [[UInt8]] {
        if unpacked { return Array(ring) }
        var elements: [[UInt8]] = []
        elements.reserveCapacity(count)
        visit(0..<count) { _, element in
            elements.append(Array(element))
            return true
        }
        return elements
    }

    /// Calls `body` with the position and bytes of each element in `range` (within
    /// `0..<count`), from the first or with `reverse` from the last, until it returns
    /// false. The way to read many elements: a packed list finds each position by a walk.
    public func visit(_ range: Range<Int>, reverse: Bool = false, _ body: (_ position: Int, _ element: UnsafeRawBufferPointer) -> Bool) {
        guard unpacked else { return packed.visit(range, reverse: reverse, body) }
        if reverse {
            var position = range.upperBound
            while position > range.lowerBound {
                position -= 1
                guard ring[position].withUnsafeBytes({ body(position, $0) }) else { return }
            }
        } else {
            for position in range {
                guard ring[position].withUnsafeBytes({ body(position, $0) }) else { return }
            }
        }
    }

    /// The position of the first element equal to `element`, nil when none.
    public func firstIndex(of element: [UInt8]) -> Int? {
        var found: Int?
        element.withUnsafeBytes { wanted in
            visit(0..<count) { position, candidate in
                if PackedBytes.same(candidate, wanted) { found = position }
                return found == nil
            }
        }
        return found
    }

    public subscript(position: Int) -> [UInt8] {
        get { unpacked ? ring[position] : packed.element(at: position) }
        set {
            guard unpacked else {
                packed.remove(position..<position + 1)
                insert(newValue, at: position)
                return
            }
            ringElementBytes += MemoryEstimate.bytes(newValue.count) - MemoryEstimate.bytes(ring[position].count)
            ring[position] = newValue
        }
    }

    public mutating func append(_ element: [UInt8]) {
        insert(element, at: count)
    }

    public mutating func prepend(_ element: [UInt8]) {
        insert(element, at: 0)
    }

    /// Inserts `element` before the one at `position` (`count` appends); in the ring
    /// O(1) at either end, O(n) between.
    public mutating func insert(_ element: [UInt8], at position: Int) {
        if unpacked {
            ringElementBytes += MemoryEstimate.bytes(element.count)
            if position == ring.count {
                ring.append(element)
            } else if position == 0 {
                ring.prepend(element)
            } else {
                ring.insert(element, at: position)
            }
            return
        }
        element.withUnsafeBytes { packed.insert($0, at: position) }
        if packed.count > Self.packLimit || packed.bytes.count > Self.packByteLimit { unpack() }
    }

    /// Moves the packed elements into the ring, for good, as Redis converts a listpack
    /// into a quicklist.
    private mutating func unpack() {
        let elements = elements
        packed = PackedList()
        unpacked = true
        for element in elements {
            ringElementBytes += MemoryEstimate.bytes(element.count)
            ring.append(element)
        }
    }

    @discardableResult
    public mutating func popFirst() -> [UInt8]? {
        guard !isEmpty else { return nil }
        guard unpacked else { return packed.popFirst() }
        let element = ring.popFirst()!
        ringElementBytes -= MemoryEstimate.bytes(element.count)
        return element
    }

    @discardableResult
    public mutating func popLast() -> [UInt8]? {
        guard !isEmpty else { return nil }
        guard unpacked else { return packed.popLast() }
        let element = ring.popLast()!
        ringElementBytes -= MemoryEstimate.bytes(element.count)
        return element
    }

    /// Drops the first `n` elements (all of them when `n >= count`).
    public mutating func removeFirst(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        guard unpacked else { return packed.remove(0..<n) }
        for position in 0..<n { ringElementBytes -= MemoryEstimate.bytes(ring[position].count) }
        ring.removeFirst(n)
    }

    /// Drops the last `n` elements (all of them when `n >= count`).
    public mutating func removeLast(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        guard unpacked else { return packed.remove(packed.count - n..<packed.count) }
        for position in (count - n)..<count { ringElementBytes -= MemoryEstimate.bytes(ring[position].count) }
        ring.removeLast(n)
    }

    /// Removes up to `limit` elements for which `shouldRemove` holds, the first ones or
    /// with `fromBack` the last ones; how many.
    @discardableResult
    public mutating func removeAll(limit: Int = .max, fromBack: Bool = false, where shouldRemove: (UnsafeRawBufferPointer) -> Bool) -> Int {
        guard unpacked else { return packed.removeAll(limit: limit, fromBack: fromBack, where: shouldRemove) }
        var removedBytes = 0
        let removed = ring.removeAll(limit: limit, fromBack: fromBack) { element in
            guard element.withUnsafeBytes(shouldRemove) else { return false }
            removedBytes += MemoryEstimate.bytes(element.count)
            return true
        }
        ringElementBytes -= removedBytes
        return removed
    }

    /// Removes up to `limit` elements equal to `element`, as `removeAll`; how many.
    @discardableResult
    public mutating func remove(_ element: [UInt8], limit: Int = .max, fromBack: Bool = false) -> Int {
        element.withUnsafeBytes { wanted in
            removeAll(limit: limit, fromBack: fromBack) { PackedBytes.same($0, wanted) }
        }
    }
}

extension ListValue {
    /// Whether the kept sizes match the elements: the packed count and bytes, or the
    /// ring's element bytes (for tests).
    var sizesAreConsistent: Bool {
        guard unpacked else {
            var walked = 0
            var size = 0
            packed.visit(0..<packed.count, reverse: false) { _, element in
                walked += 1
                size += 2 * PackedBytes.lengthSize(element.count) + element.count
                return true
            }
            return walked == packed.count && size == packed.bytes.count && ring.isEmpty
        }
        return ringElementBytes == ring.reduce(0) { $0 + MemoryEstimate.bytes($1.count) } && packed.count == 0
    }
}

extension ListValue: Equatable {
    /// The same elements in the same order, packed or not.
    public static func == (lhs: ListValue, rhs: ListValue) -> Bool {
        lhs.count == rhs.count && lhs.elements == rhs.elements
    }
}
