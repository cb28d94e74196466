/// A Redis list. A small one is packed into one byte array (`PackedList`), as Redis keeps
/// a small list in a listpack; past `packLimit` elements or `packByteLimit` bytes its
/// elements move into a `RingDeque` of arrays (`Ring`, `CopiedOnWrite`), where pushing
/// and popping at either end and reading by position are O(1), and stay there until the
/// list is emptied. Either way the list is two words and changes in place in its key's
/// value: a packed list needs no box, where one had cost every list key an allocation.
/// The heap bytes are kept up to date on every change, so the keyspace's memory estimate
/// reads a list's size in O(1) however long it is.
public struct ListValue: Sendable {
    private enum Storage {
        case packed(PackedList)
        case ring(CopiedOnWrite<Ring>)
    }

    /// A list past the packed limits: its elements and their heap bytes.
    struct Ring {
        var elements = RingDeque<[UInt8]>()
        /// Heap bytes of the element arrays (not of the ring's slots).
        var elementBytes = 0

        mutating func insert(_ element: [UInt8], at position: Int) {
            elementBytes += MemoryEstimate.bytes(element.count)
            if position == elements.count {
                elements.append(element)
            } else if position == 0 {
                elements.prepend(element)
            } else {
                elements.insert(element, at: position)
            }
        }

        mutating func replace(at position: Int, with element: [UInt8]) {
            elementBytes += MemoryEstimate.bytes(element.count) - MemoryEstimate.bytes(elements[position].count)
            elements[position] = element
        }

        mutating func pop(last: Bool) -> [UInt8] {
            let element = last ? elements.popLast()! : elements.popFirst()!
            elementBytes -= MemoryEstimate.bytes(element.count)
            return element
        }

        mutating func remove(first n: Int) {
            for position in 0..<n { elementBytes -= MemoryEstimate.bytes(elements[position].count) }
            elements.removeFirst(n)
        }

        mutating func remove(last n: Int) {
            for position in (elements.count - n)..<elements.count { elementBytes -= MemoryEstimate.bytes(elements[position].count) }
            elements.removeLast(n)
        }

        mutating func removeAll(limit: Int, fromBack: Bool, where shouldRemove: (UnsafeRawBufferPointer) -> Bool) -> Int {
            var removedBytes = 0
            let removed = elements.removeAll(limit: limit, fromBack: fromBack) { element in
                guard element.withUnsafeBytes(shouldRemove) else { return false }
                removedBytes += MemoryEstimate.bytes(element.count)
                return true
            }
            elementBytes -= removedBytes
            return removed
        }
    }

    private var storage = Storage.packed(PackedList())

    /// A list of more elements than this is not packed: a walk to a position would cost
    /// more than a ring's slot. `limits`' moving windows of up to 128 hits stay packed.
    public static let packLimit = 128
    /// Nor is a list whose packed bytes pass this, the size of a Redis listpack node.
    public static let packByteLimit = 8192

    /// The heap object holding a ring.
    private static let ringBytes = CopiedOnWrite<Ring>.heapBytes

    public init() {}

    public init<S: Sequence>(_ elements: S) where S.Element == [UInt8] {
        for element in elements { append(element) }
    }

    public var count: Int {
        switch storage {
        case .packed(let packed): packed.count
        case .ring(let box): box.contents.elements.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Heap bytes of the list: the packed array, or the ring's box, slots and elements.
    public var heapBytes: Int {
        switch storage {
        case .packed(let packed):
            MemoryEstimate.bytes(packed.bytes.capacity)
        case .ring(let box):
            Self.ringBytes + MemoryEstimate.bytes(box.contents.elements.capacity * MemoryEstimate.listSlot) + box.contents.elementBytes
        }
    }

    /// Whether the elements are packed (for tests of the layout).
    public var isPacked: Bool {
        if case .packed = storage { true } else { false }
    }

    /// The elements in order, each copied into an array.
    public var elements: [[UInt8]] {
        if case .ring(let box) = storage { return Array(box.contents.elements) }
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
        switch storage {
        case .packed(let packed):
            packed.visit(range, reverse: reverse, body)
        case .ring(let box):
            let ring = box.contents.elements
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
        get {
            switch storage {
            case .packed(let packed): packed.element(at: position)
            case .ring(let box): box.contents.elements[position]
            }
        }
        set {
            let grew = modify(packed: { packed in
                packed.remove(position..<position + 1)
                newValue.withUnsafeBytes { packed.insert($0, at: position) }
                return Self.outgrows(packed)
            }, ring: { ring in
                ring.replace(at: position, with: newValue)
                return false
            })
            if grew { unpack() }
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
        let grew = modify(packed: { packed in
            element.withUnsafeBytes { packed.insert($0, at: position) }
            return Self.outgrows(packed)
        }, ring: { ring in
            ring.insert(element, at: position)
            return false
        })
        if grew { unpack() }
    }

    private static func outgrows(_ packed: PackedList) -> Bool {
        packed.count > packLimit || packed.bytes.count > packByteLimit
    }

    /// Moves the packed elements into a ring, as Redis converts a listpack into a quicklist.
    private mutating func unpack() {
        var ring = Ring()
        for element in elements { ring.insert(element, at: ring.elements.count) }
        storage = .ring(CopiedOnWrite(ring))
    }

    @discardableResult
    public mutating func popFirst() -> [UInt8]? {
        guard !isEmpty else { return nil }
        return modify(packed: { $0.popFirst() }, ring: { $0.pop(last: false) })
    }

    @discardableResult
    public mutating func popLast() -> [UInt8]? {
        guard !isEmpty else { return nil }
        return modify(packed: { $0.popLast() }, ring: { $0.pop(last: true) })
    }

    /// Drops the first `n` elements (all of them when `n >= count`).
    public mutating func removeFirst(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        modify(packed: { $0.remove(0..<n) }, ring: { $0.remove(first: n) })
    }

    /// Drops the last `n` elements (all of them when `n >= count`).
    public mutating func removeLast(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        modify(packed: { $0.remove($0.count - n..<$0.count) }, ring: { $0.remove(last: n) })
    }

    /// Removes up to `limit` elements for which `shouldRemove` holds, the first ones or
    /// with `fromBack` the last ones; how many.
    @discardableResult
    public mutating func removeAll(limit: Int = .max, fromBack: Bool = false, where shouldRemove: (UnsafeRawBufferPointer) -> Bool) -> Int {
        modify(packed: { $0.removeAll(limit: limit, fromBack: fromBack, where: shouldRemove) },
               ring: { $0.removeAll(limit: limit, fromBack: fromBack, where: shouldRemove) })
    }

    /// Removes up to `limit` elements equal to `element`, as `removeAll`; how many.
    @discardableResult
    public mutating func remove(_ element: [UInt8], limit: Int = .max, fromBack: Bool = false) -> Int {
        element.withUnsafeBytes { wanted in
            removeAll(limit: limit, fromBack: fromBack) { PackedBytes.same($0, wanted) }
        }
    }

    /// Changes the packed elements or the ring in place, the storage's reference dropped
    /// meanwhile so neither is copied. An emptied ring gives its box back: an empty list
    /// is packed.
    @inline(__always)
    private mutating func modify<R>(packed: (inout PackedList) -> R, ring: (inout Ring) -> R) -> R {
        switch storage {
        case .packed(var elements):
            storage = .packed(PackedList())
            defer { storage = .packed(elements) }
            return packed(&elements)
        case .ring(var box):
            storage = .packed(PackedList())
            defer { if box.contents.elements.count > 0 { storage = .ring(box) } }
            return box.modify(ring)
        }
    }
}

extension ListValue {
    /// Whether the kept sizes match the elements: the packed count and bytes, or the
    /// ring's element bytes (for tests).
    var sizesAreConsistent: Bool {
        switch storage {
        case .packed(let packed):
            var walked = 0
            var size = 0
            packed.visit(0..<packed.count, reverse: false) { _, element in
                walked += 1
                size += 2 * PackedBytes.lengthSize(element.count) + element.count
                return true
            }
            return walked == packed.count && size == packed.bytes.count
        case .ring(let box):
            return box.contents.elementBytes == box.contents.elements.reduce(0) { $0 + MemoryEstimate.bytes($1.count) }
        }
    }
}

extension ListValue: Equatable {
    /// The same elements in the same order, packed or not.
    public static func == (lhs: ListValue, rhs: ListValue) -> Bool {
        lhs.count == rhs.count && lhs.elements == rhs.elements
    }
}
