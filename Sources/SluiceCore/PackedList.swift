/// A small list's elements in order, packed into one run of bytes (`PackedStore`) as
/// Redis packs a small list into a listpack: each element is its length (LEB128, one
/// byte below 128), its bytes, and its length again with the bytes in reverse order, so
/// the elements can be walked from either end. One allocation holds them all, where an
/// element of its own costs a slot in a ring plus an allocation (48 bytes for a 17-byte
/// timestamp).
///
/// Finding a position walks from the nearer end: `ListValue` keeps at most
/// `ListValue.packLimit` elements here, where a walk costs little.
struct PackedList: Sendable {
    private(set) var bytes = PackedStore()
    /// Kept in the store's header (`PackedStore.elements`), so that this is one word.
    private(set) var count: Int {
        get { bytes.elements }
        set { bytes.elements = newValue }
    }

    /// Where an element lies in `bytes`: the whole entry and its own bytes.
    struct Span {
        var start: Int
        var end: Int
        var payload: Range<Int>
    }

    /// The element starting at byte `start`.
    @inline(__always)
    private static func span(startingAt start: Int, in buffer: UnsafeRawBufferPointer) -> Span {
        var position = start
        let length = PackedBytes.readLength(buffer, at: &position)
        let header = position - start
        return Span(start: start, end: position + length + header, payload: position..<position + length)
    }

    /// The element ending at byte `end`: its trailing length is the leading one reversed.
    @inline(__always)
    private static func span(endingAt end: Int, in buffer: UnsafeRawBufferPointer) -> Span {
        var position = end
        var length = 0
        var shift = 0
        while true {
            position -= 1
            let byte = buffer[position]
            length |= Int(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        let trailer = end - position
        let payloadEnd = position
        return Span(start: payloadEnd - length - trailer, end: end, payload: payloadEnd - length..<payloadEnd)
    }

    /// Where the element starting at byte `start` ends: one byte read when its length is
    /// below 128, as most are, where a whole `Span` cost twice the instructions per step.
    @inline(__always)
    private static func end(ofElementAt start: Int, in buffer: UnsafeRawBufferPointer) -> Int {
        let first = buffer[start]
        return first < 0x80 ? start + 2 + Int(first) : span(startingAt: start, in: buffer).end
    }

    /// Where the element ending at byte `end` starts.
    @inline(__always)
    private static func start(ofElementEndingAt end: Int, in buffer: UnsafeRawBufferPointer) -> Int {
        let last = buffer[end - 1]
        return last < 0x80 ? end - 2 - Int(last) : span(endingAt: end, in: buffer).start
    }

    /// The element at `position` (within `0..<count`), found from the nearer end.
    func span(at position: Int) -> Span {
        precondition(position >= 0 && position < count, "PackedList index out of range")
        return bytes.withUnsafeBytes { buffer in
            if position < count - position {
                var start = 0
                for _ in 0..<position { start = Self.end(ofElementAt: start, in: buffer) }
                return Self.span(startingAt: start, in: buffer)
            }
            var end = buffer.count
            for _ in 0..<(count - 1 - position) { end = Self.start(ofElementEndingAt: end, in: buffer) }
            return Self.span(endingAt: end, in: buffer)
        }
    }

    func element(at position: Int) -> [UInt8] {
        copy(span(at: position).payload)
    }

    /// The bytes in `range` as an array of their own.
    private func copy(_ range: Range<Int>) -> [UInt8] {
        bytes.array(range)
    }

    /// Removes and returns the first element (the list must not be empty): one walk
    /// finds it, where reading and then removing it found it twice.
    mutating func popFirst() -> [UInt8] {
        let span = span(at: 0)
        let element = copy(span.payload)
        removeBytes(0..<span.end, elements: 1)
        return element
    }

    /// Removes and returns the last element (the list must not be empty).
    mutating func popLast() -> [UInt8] {
        let span = span(at: count - 1)
        let element = copy(span.payload)
        removeBytes(span.start..<bytes.count, elements: 1)
        return element
    }

    /// Calls `body` with the position and bytes of each element in `range` (within
    /// `0..<count`), from the first or with `reverse` from the last, until it returns false.
    func visit(_ range: Range<Int>, reverse: Bool, _ body: (_ position: Int, _ element: UnsafeRawBufferPointer) -> Bool) {
        guard !range.isEmpty else { return }
        let first = span(at: reverse ? range.upperBound - 1 : range.lowerBound)
        bytes.withUnsafeBytes { buffer in
            var span = first
            if reverse {
                for position in range.reversed() {
                    if position != range.upperBound - 1 { span = Self.span(endingAt: span.start, in: buffer) }
                    guard body(position, UnsafeRawBufferPointer(rebasing: buffer[span.payload])) else { return }
                }
            } else {
                for position in range {
                    if position != range.lowerBound { span = Self.span(startingAt: span.end, in: buffer) }
                    guard body(position, UnsafeRawBufferPointer(rebasing: buffer[span.payload])) else { return }
                }
            }
        }
    }

    /// Writes `element` before the one at `position` (`count` appends), in place.
    mutating func insert(_ element: UnsafeRawBufferPointer, at position: Int) {
        let start = position == count ? bytes.count : span(at: position).start
        let lengthSize = PackedBytes.lengthSize(element.count)
        let size = 2 * lengthSize + element.count
        bytes.openGap(at: start, size: size)
        bytes.withUnsafeMutableBytes { buffer in
            var length = element.count
            for index in 0..<lengthSize {
                let group = UInt8(length & 0x7F) | (index < lengthSize - 1 ? 0x80 : 0)
                buffer[start + index] = group
                buffer[start + size - 1 - index] = group
                length >>= 7
            }
            if let from = element.baseAddress {
                (buffer.baseAddress! + start + lengthSize).copyMemory(from: from, byteCount: element.count)
            }
        }
        count += 1
    }

    /// Removes the elements at `positions` (within `0..<count`).
    mutating func remove(_ positions: Range<Int>) {
        guard !positions.isEmpty else { return }
        let start = positions.lowerBound == 0 ? 0 : span(at: positions.lowerBound).start
        let end = positions.upperBound == count ? bytes.count : span(at: positions.upperBound).start
        removeBytes(start..<end, elements: positions.count)
    }

    /// Removes the bytes of `elements` whole elements.
    private mutating func removeBytes(_ range: Range<Int>, elements: Int) {
        if elements == count {
            self = PackedList()
            return
        }
        bytes.removeSubrange(range)
        count -= elements
        bytes.shrinkIfSparse()
    }

    /// Whether `count` and the bytes agree: a walk meets `count` elements and ends at
    /// the last byte (for tests).
    var isConsistent: Bool {
        var walked = 0
        var size = 0
        visit(0..<count, reverse: false) { _, element in
            walked += 1
            size += 2 * PackedBytes.lengthSize(element.count) + element.count
            return true
        }
        return walked == count && size == bytes.count
    }

    /// Moves the elements from `position` on (within `1..<count`) into a list of their
    /// own, which it returns: a chunk of a long list that outgrew its limits.
    mutating func split(at position: Int) -> PackedList {
        let start = span(at: position).start
        var tail = PackedList()
        tail.bytes = bytes.withUnsafeBytes { PackedStore(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        tail.count = count - position
        bytes.removeLast(bytes.count - start)
        count = position
        bytes.shrinkIfSparse()
        return tail
    }

    /// Appends `other`'s elements after these.
    mutating func append(contentsOf other: PackedList) {
        other.bytes.withUnsafeBytes { bytes.append(contentsOf: $0) }
        count += other.count
    }

    /// Gives back the room kept for growth: a chunk of a long list that another chunk now
    /// follows at its end grows rarely, and an eighth of slack in every chunk adds up.
    mutating func shrinkToFit() {
        bytes.shrink()
    }

    /// Removes up to `limit` elements for which `shouldRemove` holds, the first ones
    /// (with `fromBack` the last ones), in one pass that closes the gaps; how many.
    mutating func removeAll(limit: Int, fromBack: Bool, where shouldRemove: (UnsafeRawBufferPointer) -> Bool) -> Int {
        var removals: [Span] = []
        bytes.withUnsafeBytes { buffer in
            var offset = fromBack ? buffer.count : 0
            while removals.count < limit, fromBack ? offset > 0 : offset < buffer.count {
                let span = fromBack ? Self.span(endingAt: offset, in: buffer) : Self.span(startingAt: offset, in: buffer)
                if shouldRemove(UnsafeRawBufferPointer(rebasing: buffer[span.payload])) { removals.append(span) }
                offset = fromBack ? span.start : span.end
            }
        }
        guard !removals.isEmpty else { return 0 }
        if fromBack { removals.reverse() }
        bytes.withUnsafeMutableBytes { buffer in
            var write = removals[0].start
            for (index, removal) in removals.enumerated() {
                let keptEnd = index + 1 < removals.count ? removals[index + 1].start : buffer.count
                let kept = keptEnd - removal.end
                if kept > 0 { (buffer.baseAddress! + write).copyMemory(from: buffer.baseAddress! + removal.end, byteCount: kept) }
                write += kept
            }
        }
        let removedBytes = removals.reduce(0) { $0 + $1.end - $1.start }
        bytes.removeLast(removedBytes)
        count -= removals.count
        if count == 0 { self = PackedList() }
        bytes.shrinkIfSparse()
        return removals.count
    }
}
