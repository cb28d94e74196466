/// A double-ended queue in one ring buffer: pushing and popping at either end is
/// O(1) amortised and reading by position is O(1). The clients blocked on a key wait
/// in one, in the order they came.
///
/// Storage grows by doubling and shrinks by half once it is three-quarters empty,
/// so a list that was long once does not keep its memory. A value type with
/// copy-on-write storage: keep one reference while changing it (move it out of the
/// keyspace first) or each change copies.
public struct RingDeque<Element: Sendable>: Sendable {
    /// Slots; nil where no element lives. The capacity is a power of two (or zero),
    /// so wrapping a position is a mask, not a division.
    private var slots: ContiguousArray<Element?>
    // 32-bit positions keep a list value as small as a leaky bucket's state, so a list
    // does not widen every keyspace entry; no list reaches 2^31 elements in memory.
    private var storedHead: Int32 = 0
    private var storedCount: Int32 = 0

    /// Slot of the first element.
    private var head: Int {
        get { Int(storedHead) }
        set { storedHead = Int32(truncatingIfNeeded: newValue) }
    }

    public private(set) var count: Int {
        get { Int(storedCount) }
        set { storedCount = Int32(newValue) }
    }

    static var minimumCapacity: Int { 8 }

    public init() {
        slots = []
    }

    public init<S: Sequence>(_ elements: S) where S.Element == Element {
        self.init()
        for element in elements { append(element) }
    }

    public var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func slot(_ offset: Int) -> Int {
        (head &+ offset) & (slots.count &- 1)
    }

    /// The element at `position` from the front (0 is the first).
    public subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < count, "RingDeque index out of range")
            return slots[slot(position)]!
        }
        set {
            precondition(position >= 0 && position < count, "RingDeque index out of range")
            slots[slot(position)] = newValue
        }
    }

    // MARK: Ends

    public mutating func append(_ element: Element) {
        if count == slots.count { resize(to: Swift.max(Self.minimumCapacity, slots.count * 2)) }
        slots[slot(count)] = element
        count += 1
    }

    public mutating func prepend(_ element: Element) {
        if count == slots.count { resize(to: Swift.max(Self.minimumCapacity, slots.count * 2)) }
        head = (head &- 1) & (slots.count &- 1)
        slots[head] = element
        count += 1
    }

    @discardableResult
    public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = slots[head].take()
        head = slot(1)
        count -= 1
        shrinkIfSparse()
        return element
    }

    @discardableResult
    public mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        let element = slots[slot(count - 1)].take()
        count -= 1
        shrinkIfSparse()
        return element
    }

    /// Inserts `element` before the one at `position` (`count` appends). O(n): the
    /// elements on the shorter side of `position` move one place.
    public mutating func insert(_ element: Element, at position: Int) {
        precondition(position >= 0 && position <= count, "RingDeque index out of range")
        if position < count - position {
            prepend(element)
            for index in 0..<position { slots.swapAt(slot(index), slot(index + 1)) }
            return
        }
        append(element)
        var index = count - 1
        while index > position {
            let previous = slot(index - 1)
            slots.swapAt(slot(index), previous)
            index -= 1
        }
    }

    /// Drops the first `n` elements (all of them when `n >= count`).
    public mutating func removeFirst(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        for offset in 0..<n { slots[slot(offset)] = nil }
        head = n == count ? 0 : slot(n)
        count -= n
        shrinkIfSparse()
    }

    /// Drops the last `n` elements (all of them when `n >= count`).
    public mutating func removeLast(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        for offset in (count - n)..<count { slots[slot(offset)] = nil }
        count -= n
        if count == 0 { head = 0 }
        shrinkIfSparse()
    }

    /// Removes the elements for which `shouldRemove` is true, visiting from the front
    /// (or from the back with `fromBack`) and stopping after `limit` removals.
    /// Returns how many were removed; the others keep their order.
    @discardableResult
    public mutating func removeAll(limit: Int = .max, fromBack: Bool = false, where shouldRemove: (Element) -> Bool) -> Int {
        // First the positions to remove (the predicate runs once per element looked at),
        // then one pass that closes the gaps by moving the shorter side: the elements
        // after the last removal toward the front, or those before the first toward the
        // back. A list without a match is only read; removing its head moves nothing.
        // (Copying every element into a new deque made LREM of one element of a million
        // take 60 ms.)
        var removals: [Int] = []
        for step in 0..<count {
            if removals.count == limit { break }
            let position = fromBack ? count - 1 - step : step
            if shouldRemove(slots[slot(position)]!) { removals.append(position) }
        }
        guard let firstFound = removals.first, let lastFound = removals.last else { return 0 }
        if fromBack { removals.reverse() }
        let (lowest, highest) = fromBack ? (lastFound, firstFound) : (firstFound, lastFound)
        for position in removals { slots[slot(position)] = nil }
        if count - 1 - highest <= lowest {
            // Kept elements from `lowest` on move toward the front, over the gaps.
            var write = lowest
            for read in lowest..<count where slots[slot(read)] != nil {
                if write != read { slots.swapAt(slot(write), slot(read)) }
                write += 1
            }
        } else {
            // Kept elements up to `highest` move toward the back; the front moves up.
            var write = highest
            for read in stride(from: highest, through: 0, by: -1) where slots[slot(read)] != nil {
                if write != read { slots.swapAt(slot(write), slot(read)) }
                write -= 1
            }
            head = slot(removals.count)
        }
        count -= removals.count
        if count == 0 { head = 0 }
        shrinkIfSparse()
        return removals.count
    }

    // MARK: Storage

    private mutating func shrinkIfSparse() {
        if slots.count > Self.minimumCapacity && count * 4 <= slots.count {
            resize(to: Swift.max(Self.minimumCapacity, slots.count / 2))
        }
    }

    /// Moves the elements, in order, to a fresh buffer of `capacity` slots starting at 0.
    private mutating func resize(to capacity: Int) {
        var fresh = ContiguousArray<Element?>(repeating: nil, count: capacity)
        for offset in 0..<count {
            fresh[offset] = slots[slot(offset)].take()
        }
        slots = fresh
        head = 0
    }

    /// Slots in use, for tests of growth and shrinking.
    var capacity: Int { slots.count }
}

extension RingDeque: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
}

extension RingDeque: Equatable where Element: Equatable {
    public static func == (lhs: RingDeque, rhs: RingDeque) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }
}
