/// A Redis list. A small one is packed into one byte array (`PackedList`), as Redis keeps
/// a small list in a listpack. Past `packLimit` elements or `packByteLimit` bytes it
/// becomes a chain of such arrays, each within the same limits (`Chunks`, boxed in a
/// `CopiedOnWrite`), as Redis chains listpacks into a quicklist: pushing and popping at
/// either end stays cheap, reading by position walks the chunks' counts from the nearer
/// end, and an element costs its bytes and two length bytes rather than an allocation of
/// its own. A chained list stays chained until it is emptied. Either way the list is two
/// words and changes in place in its key's value: a packed list needs no box, where one
/// had cost every list key an allocation. The heap bytes are kept up to date on every
/// change, so the keyspace's memory estimate reads a list's size in O(1).
public struct ListValue: Sendable {
    private enum Storage {
        case packed(PackedList)
        case chunked(CopiedOnWrite<Chunks>)
    }

    /// A list past the packed limits: its elements in packed chunks, in order, each
    /// holding at least one element and, unless it holds one, within the packed limits.
    struct Chunks {
        private(set) var chunks: [PackedList] = []
        private(set) var count = 0
        /// Heap bytes of the chunks' byte arrays (not of `chunks` itself).
        private(set) var chunkBytes = 0

        /// `packed`'s elements, split into chunks within the limits.
        init(_ packed: PackedList) {
            chunks = [packed]
            count = packed.count
            chunkBytes = Self.bytes(of: packed)
            fit(0)
        }

        var heapBytes: Int {
            MemoryEstimate.bytes(chunks.capacity * MemoryLayout<PackedList>.stride) + chunkBytes
        }

        private static func bytes(of chunk: PackedList) -> Int {
            chunk.bytes.heapBytes
        }

        /// Whether `chunk` has room for one more element of `length` bytes.
        static func accepts(_ chunk: PackedList, length: Int) -> Bool {
            chunk.count < packLimit && chunk.bytes.count + 2 * PackedBytes.lengthSize(length) + length <= packByteLimit
        }

        /// The chunk holding `position` (within `0..<count`) and the position in it,
        /// found by walking the chunks' counts from the nearer end.
        func locate(_ position: Int) -> (chunk: Int, offset: Int) {
            if position < count - position {
                var chunk = 0
                var offset = position
                while offset >= chunks[chunk].count {
                    offset -= chunks[chunk].count
                    chunk += 1
                }
                return (chunk, offset)
            }
            var chunk = chunks.count - 1
            var fromEnd = count - position
            while fromEnd > chunks[chunk].count {
                fromEnd -= chunks[chunk].count
                chunk -= 1
            }
            return (chunk, chunks[chunk].count - fromEnd)
        }

        func element(at position: Int) -> [UInt8] {
            let (chunk, offset) = locate(position)
            return chunks[chunk].element(at: offset)
        }

        /// As `ListValue.visit`, chunk by chunk.
        func visit(_ range: Range<Int>, reverse: Bool, _ body: (_ position: Int, _ element: UnsafeRawBufferPointer) -> Bool) {
            guard !range.isEmpty else { return }
            var going = true
            if reverse {
                var (chunk, offset) = locate(range.upperBound - 1)
                var remaining = range.count
                var first = range.upperBound - 1 - offset
                while going && remaining > 0 {
                    let taken = Swift.min(offset + 1, remaining)
                    chunks[chunk].visit(offset + 1 - taken..<offset + 1, reverse: true) { position, element in
                        going = body(first + position, element)
                        return going
                    }
                    remaining -= taken
                    chunk -= 1
                    if chunk >= 0 {
                        offset = chunks[chunk].count - 1
                        first -= chunks[chunk].count
                    }
                }
            } else {
                var (chunk, offset) = locate(range.lowerBound)
                var remaining = range.count
                var first = range.lowerBound - offset
                while going && remaining > 0 {
                    let taken = Swift.min(chunks[chunk].count - offset, remaining)
                    chunks[chunk].visit(offset..<offset + taken, reverse: false) { position, element in
                        going = body(first + position, element)
                        return going
                    }
                    remaining -= taken
                    first += chunks[chunk].count
                    chunk += 1
                    offset = 0
                }
            }
        }

        /// Changes chunk `index` in place, keeping `chunkBytes`.
        @inline(__always)
        private mutating func change<R>(_ index: Int, _ body: (inout PackedList) -> R) -> R {
            chunkBytes -= Self.bytes(of: chunks[index])
            defer { chunkBytes += Self.bytes(of: chunks[index]) }
            return body(&chunks[index])
        }

        /// Splits chunk `index` in halves while it is past the limits.
        private mutating func fit(_ index: Int) {
            let chunk = (count: chunks[index].count, bytes: chunks[index].bytes.count)
            guard chunk.count > 1, chunk.count > packLimit || chunk.bytes > packByteLimit else { return }
            let tail = change(index) { $0.split(at: chunk.count / 2) }
            chunkBytes += Self.bytes(of: tail)
            chunks.insert(tail, at: index + 1)
            fit(index + 1)
            fit(index)
        }

        /// Inserts a chunk of `element` alone at `index`.
        private mutating func insertChunk(of element: UnsafeRawBufferPointer, at index: Int) {
            var chunk = PackedList()
            chunk.insert(element, at: 0)
            chunkBytes += Self.bytes(of: chunk)
            chunks.insert(chunk, at: index)
        }

        mutating func insert(_ element: UnsafeRawBufferPointer, at position: Int) {
            defer { count += 1 }
            if position == count || position == 0 {
                // At an end: into the end chunk while it has room, else a chunk of its own,
                // and the full one gives back its slack.
                let index = position == 0 ? 0 : chunks.count - 1
                if Self.accepts(chunks[index], length: element.count) {
                    change(index) { $0.insert(element, at: position == 0 ? 0 : $0.count) }
                } else {
                    change(index) { $0.shrinkToFit() }
                    insertChunk(of: element, at: position == 0 ? 0 : chunks.count)
                }
                return
            }
            let (index, offset) = locate(position)
            change(index) { $0.insert(element, at: offset) }
            fit(index)
        }

        mutating func replace(at position: Int, with element: UnsafeRawBufferPointer) {
            let (index, offset) = locate(position)
            change(index) { chunk in
                chunk.remove(offset..<offset + 1)
                chunk.insert(element, at: offset)
            }
            fit(index)
        }

        mutating func pop(last: Bool) -> [UInt8] {
            let index = last ? chunks.count - 1 : 0
            let element = change(index) { last ? $0.popLast() : $0.popFirst() }
            count -= 1
            if chunks[index].count == 0 { chunks.remove(at: index) }
            return element
        }

        /// Drops the first `n` elements (at most `count`): whole chunks, then part of one.
        mutating func remove(first n: Int) {
            count -= n
            var left = n
            var whole = 0
            while whole < chunks.count && chunks[whole].count <= left {
                left -= chunks[whole].count
                chunkBytes -= Self.bytes(of: chunks[whole])
                whole += 1
            }
            chunks.removeFirst(whole)
            if left > 0 { change(0) { $0.remove(0..<left) } }
        }

        /// Drops the last `n` elements (at most `count`).
        mutating func remove(last n: Int) {
            count -= n
            var left = n
            var whole = 0
            while whole < chunks.count && chunks[chunks.count - 1 - whole].count <= left {
                left -= chunks[chunks.count - 1 - whole].count
                chunkBytes -= Self.bytes(of: chunks[chunks.count - 1 - whole])
                whole += 1
            }
            chunks.removeLast(whole)
            if left > 0 { change(chunks.count - 1) { $0.remove($0.count - left..<$0.count) } }
        }

        mutating func removeAll(limit: Int, fromBack: Bool, where shouldRemove: (UnsafeRawBufferPointer) -> Bool) -> Int {
            var removed = 0
            var touched: ClosedRange<Int>?
            var index = fromBack ? chunks.count - 1 : 0
            while removed < limit && chunks.indices.contains(index) {
                let here = change(index) { $0.removeAll(limit: limit - removed, fromBack: fromBack, where: shouldRemove) }
                if here > 0 {
                    removed += here
                    touched = touched.map { Swift.min($0.lowerBound, index)...Swift.max($0.upperBound, index) } ?? index...index
                }
                index += fromBack ? -1 : 1
            }
            count -= removed
            if let touched { compact(touched) }
            return removed
        }

        /// Drops emptied chunks among `touched` and joins neighbours there (and on either
        /// side) that fit in one, as Redis merges quicklist nodes, so that removals do not
        /// leave a trail of small chunks. Only that stretch is rebuilt: `LREM` of an element
        /// near the head of a long list should not walk every chunk.
        private mutating func compact(_ touched: ClosedRange<Int>) {
            let window = Swift.max(touched.lowerBound - 1, 0)..<Swift.min(touched.upperBound + 2, chunks.count)
            var kept: [PackedList] = []
            for chunk in chunks[window] where chunk.count > 0 {
                if let last = kept.indices.last, kept[last].count + chunk.count <= packLimit,
                   kept[last].bytes.count + chunk.bytes.count <= packByteLimit {
                    kept[last].append(contentsOf: chunk)
                } else {
                    kept.append(chunk)
                }
            }
            for chunk in chunks[window] { chunkBytes -= Self.bytes(of: chunk) }
            for chunk in kept { chunkBytes += Self.bytes(of: chunk) }
            chunks.replaceSubrange(window, with: kept)
        }

        /// Whether the kept count and bytes match the chunks, and each chunk holds
        /// something and keeps to the limits (for tests).
        var isConsistent: Bool {
            chunks.reduce(0) { $0 + $1.count } == count
                && chunks.reduce(0) { $0 + Self.bytes(of: $1) } == chunkBytes
                && chunks.allSatisfy { chunk in
                    chunk.count > 0 && chunk.isConsistent
                        && (chunk.count == 1 || (chunk.count <= packLimit && chunk.bytes.count <= packByteLimit))
                }
        }
    }

    private var storage = Storage.packed(PackedList())

    /// A list of more elements than this is not packed in one array, nor is a chunk of a
    /// longer one: a walk to a position would cost more than the chunks' counts.
    /// `limits`' moving windows of up to 128 hits stay in one array.
    public static let packLimit = 128
    /// Nor are more packed bytes than this, the size of a Redis listpack node.
    public static let packByteLimit = 8192

    /// The heap object holding the chunks.
    private static let boxBytes = CopiedOnWrite<Chunks>.heapBytes

    public init() {}

    public init<S: Sequence>(_ elements: S) where S.Element == [UInt8] {
        for element in elements { append(element) }
    }

    public var count: Int {
        switch storage {
        case .packed(let packed): packed.count
        case .chunked(let box): box.contents.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Heap bytes of the list: the packed array, or the box, its array of chunks and theirs.
    public var heapBytes: Int {
        switch storage {
        case .packed(let packed): packed.bytes.heapBytes
        case .chunked(let box): Self.boxBytes + box.contents.heapBytes
        }
    }

    /// Whether the elements are in one packed array (for tests of the layout).
    public var isPacked: Bool {
        if case .packed = storage { true } else { false }
    }

    /// How many packed chunks hold the elements: 1 for a packed list (for tests).
    var chunkCount: Int {
        switch storage {
        case .packed: 1
        case .chunked(let box): box.contents.chunks.count
        }
    }

    /// The elements in order, each copied into an array.
    public var elements: [[UInt8]] {
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
    /// false. The way to read many elements: each position is found by a walk.
    public func visit(_ range: Range<Int>, reverse: Bool = false, _ body: (_ position: Int, _ element: UnsafeRawBufferPointer) -> Bool) {
        switch storage {
        case .packed(let packed): packed.visit(range, reverse: reverse, body)
        case .chunked(let box): box.contents.visit(range, reverse: reverse, body)
        }
    }

    /// The position of the first element equal to `element`, nil when none.
    public func firstIndex(of element: [UInt8]) -> Int? {
        element.withUnsafeBytes { firstIndex(of: $0) }
    }

    /// `firstIndex(of:)` for an element read where it lies (a command's argument).
    public func firstIndex(of element: UnsafeRawBufferPointer) -> Int? {
        var found: Int?
        visit(matching: element, in: 0..<count) { position in
            found = position
            return false
        }
        return found
    }

    /// Calls `body` with the position of each element in `range` equal to `element`, as
    /// `visit` goes, until it returns false (`LPOS`).
    public func visit(
        matching element: UnsafeRawBufferPointer, in range: Range<Int>, reverse: Bool = false, _ body: (_ position: Int) -> Bool
    ) {
        visit(range, reverse: reverse) { position, candidate in
            !PackedBytes.same(candidate, element) || body(position)
        }
    }

    public subscript(position: Int) -> [UInt8] {
        get {
            switch storage {
            case .packed(let packed): packed.element(at: position)
            case .chunked(let box): box.contents.element(at: position)
            }
        }
        set {
            newValue.withUnsafeBytes { element in
                let grew = modify(packed: { packed in
                    packed.remove(position..<position + 1)
                    packed.insert(element, at: position)
                    return Self.outgrows(packed)
                }, chunked: { chunks in
                    chunks.replace(at: position, with: element)
                    return false
                })
                if grew { chain() }
            }
        }
    }

    public mutating func append(_ element: [UInt8]) {
        insert(element, at: count)
    }

    public mutating func prepend(_ element: [UInt8]) {
        insert(element, at: 0)
    }

    /// `append` for an element read where it lies (a command's argument).
    public mutating func append(_ element: UnsafeRawBufferPointer) {
        insert(element, at: count)
    }

    public mutating func prepend(_ element: UnsafeRawBufferPointer) {
        insert(element, at: 0)
    }

    /// Inserts `element` before the one at `position` (`count` appends); at either end
    /// it moves at most one chunk's bytes.
    public mutating func insert(_ element: [UInt8], at position: Int) {
        element.withUnsafeBytes { insert($0, at: position) }
    }

    public mutating func insert(_ element: UnsafeRawBufferPointer, at position: Int) {
        if case .packed(let packed) = storage, !packed.bytes.isEmpty, !Chunks.accepts(packed, length: element.count) {
            // Chained before the push, the full array stays whole and the element starts
            // a chunk of its own, as at any full end chunk.
            chain()
        }
        let grew = modify(packed: { packed in
            packed.insert(element, at: position)
            return Self.outgrows(packed)
        }, chunked: { chunks in
            chunks.insert(element, at: position)
            return false
        })
        if grew { chain() }
    }

    private static func outgrows(_ packed: PackedList) -> Bool {
        packed.count > packLimit || packed.bytes.count > packByteLimit
    }

    /// Splits the packed array into chunks, as Redis converts a listpack into a quicklist.
    private mutating func chain() {
        guard case .packed(let packed) = storage else { return }
        storage = .packed(PackedList())
        storage = .chunked(CopiedOnWrite(Chunks(packed)))
    }

    @discardableResult
    public mutating func popFirst() -> [UInt8]? {
        guard !isEmpty else { return nil }
        return modify(packed: { $0.popFirst() }, chunked: { $0.pop(last: false) })
    }

    @discardableResult
    public mutating func popLast() -> [UInt8]? {
        guard !isEmpty else { return nil }
        return modify(packed: { $0.popLast() }, chunked: { $0.pop(last: true) })
    }

    /// Drops the first `n` elements (all of them when `n >= count`).
    public mutating func removeFirst(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        modify(packed: { $0.remove(0..<n) }, chunked: { $0.remove(first: n) })
    }

    /// Drops the last `n` elements (all of them when `n >= count`).
    public mutating func removeLast(_ n: Int) {
        let n = Swift.min(Swift.max(n, 0), count)
        modify(packed: { $0.remove($0.count - n..<$0.count) }, chunked: { $0.remove(last: n) })
    }

    /// Removes up to `limit` elements for which `shouldRemove` holds, the first ones or
    /// with `fromBack` the last ones; how many.
    @discardableResult
    public mutating func removeAll(limit: Int = .max, fromBack: Bool = false, where shouldRemove: (UnsafeRawBufferPointer) -> Bool) -> Int {
        modify(packed: { $0.removeAll(limit: limit, fromBack: fromBack, where: shouldRemove) },
               chunked: { $0.removeAll(limit: limit, fromBack: fromBack, where: shouldRemove) })
    }

    /// Removes up to `limit` elements equal to `element`, as `removeAll`; how many.
    @discardableResult
    public mutating func remove(_ element: [UInt8], limit: Int = .max, fromBack: Bool = false) -> Int {
        element.withUnsafeBytes { remove($0, limit: limit, fromBack: fromBack) }
    }

    /// `remove` for an element read where it lies.
    @discardableResult
    public mutating func remove(_ element: UnsafeRawBufferPointer, limit: Int = .max, fromBack: Bool = false) -> Int {
        removeAll(limit: limit, fromBack: fromBack) { PackedBytes.same($0, element) }
    }

    /// Changes the packed elements or the chunks in place, the storage's reference
    /// dropped meanwhile so neither is copied. Emptied chunks give their box back: an
    /// empty list is packed.
    @inline(__always)
    private mutating func modify<R>(packed: (inout PackedList) -> R, chunked: (inout Chunks) -> R) -> R {
        switch storage {
        case .packed(var elements):
            storage = .packed(PackedList())
            defer { storage = .packed(elements) }
            return packed(&elements)
        case .chunked(var box):
            storage = .packed(PackedList())
            defer { if box.contents.count > 0 { storage = .chunked(box) } }
            return box.modify(chunked)
        }
    }
}

extension ListValue {
    /// Whether the kept counts and sizes match the elements (for tests).
    var sizesAreConsistent: Bool {
        switch storage {
        case .packed(let packed): packed.isConsistent
        case .chunked(let box): box.contents.isConsistent
        }
    }
}

extension ListValue: Equatable {
    /// The same elements in the same order, packed or not.
    public static func == (lhs: ListValue, rhs: ListValue) -> Bool {
        lhs.count == rhs.count && lhs.elements == rhs.elements
    }
}
