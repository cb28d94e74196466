/// A Redis list: byte strings in a `RingDeque`, with the heap bytes of its elements kept
/// up to date on every change, so the keyspace's memory estimate reads the list's size
/// in O(1) however long it is. The deque's methods, each also adjusting the total.
public struct ListValue: Sendable, Equatable {
    private var elements = RingDeque<[UInt8]>()
    /// Heap bytes of the elements' arrays (not of the ring's slots).
    private var elementBytes = 0

    public init() {}

    public init<S: Sequence>(_ elements: S) where S.Element == [UInt8] {
        for element in elements { append(element) }
    }

    /// Heap bytes of the list: the ring's slots and every element.
    public var heapBytes: Int {
        MemoryEstimate.bytes(elements.capacity * MemoryEstimate.listSlot) + elementBytes
    }

    public subscript(position: Int) -> [UInt8] {
        get { elements[position] }
        set {
            elementBytes += MemoryEstimate.bytes(newValue.count) - MemoryEstimate.bytes(elements[position].count)
            elements[position] = newValue
        }
    }

    public mutating func append(_ element: [UInt8]) {
        elementBytes += MemoryEstimate.bytes(element.count)
        elements.append(element)
    }

    public mutating func prepend(_ element: [UInt8]) {
        elementBytes += MemoryEstimate.bytes(element.count)
        elements.prepend(element)
    }

    @discardableResult
    public mutating func popFirst() -> [UInt8]? {
        guard let element = elements.popFirst() else { return nil }
        elementBytes -= MemoryEstimate.bytes(element.count)
        return element
    }

    @discardableResult
    public mutating func popLast() -> [UInt8]? {
        guard let element = elements.popLast() else { return nil }
        elementBytes -= MemoryEstimate.bytes(element.count)
        return element
    }

    /// Inserts `element` before the one at `position` (`count` appends). O(n).
    public mutating func insert(_ element: [UInt8], at position: Int) {
        elementBytes += MemoryEstimate.bytes(element.count)
        elements.insert(element, at: position)
    }

    /// Drops the first `n` elements (all of them when `n >= count`).
    public mutating func removeFirst(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        for position in 0..<n { elementBytes -= MemoryEstimate.bytes(elements[position].count) }
        elements.removeFirst(n)
    }

    /// Drops the last `n` elements (all of them when `n >= count`).
    public mutating func removeLast(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        for position in (count - n)..<count { elementBytes -= MemoryEstimate.bytes(elements[position].count) }
        elements.removeLast(n)
    }

    /// Removes the elements for which `shouldRemove` is true, as `RingDeque.removeAll`.
    @discardableResult
    public mutating func removeAll(limit: Int = .max, fromBack: Bool = false, where shouldRemove: ([UInt8]) -> Bool) -> Int {
        var removedBytes = 0
        let removed = elements.removeAll(limit: limit, fromBack: fromBack) { element in
            guard shouldRemove(element) else { return false }
            removedBytes += MemoryEstimate.bytes(element.count)
            return true
        }
        elementBytes -= removedBytes
        return removed
    }
}

extension ListValue: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { elements.count }
    public var count: Int { elements.count }
    public var isEmpty: Bool { elements.isEmpty }
}
