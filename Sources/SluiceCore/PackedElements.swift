/// A small sorted set's elements in order, packed into one run of bytes (`PackedStore`)
/// as Redis packs a small sorted set into a listpack: each element is its score's 8
/// bytes, its member's length (LEB128, one byte below 128) and the member's bytes. One
/// allocation holds them all, where an element of its own costs 16 bytes in a block
/// plus an allocation for the member (64 bytes for a 17-byte member).
///
/// Every operation walks the elements from the first: `SortedSet` keeps at most
/// `SortedSet.scanLimit` elements here, where a walk costs less than a dictionary.
struct PackedElements: Sendable {
    private(set) var bytes = PackedStore()
    /// Kept in the store's header (`PackedStore.elements`), so that this is one word.
    private(set) var count: Int {
        get { bytes.elements }
        set { bytes.elements = newValue }
    }

    /// Where an element lies in `bytes`, and what it holds.
    struct Place {
        var index: Int
        var start: Int
        var end: Int
        var score: Double
    }

    /// Calls `body` with each element's place and member bytes, in order, until it
    /// returns true; returns the place it stopped at (nil when it never did).
    @inline(__always)
    private func walk(_ body: (_ place: Place, _ member: UnsafeRawBufferPointer) -> Bool) -> Place? {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            var index = 0
            while offset < buffer.count {
                let score = Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                var position = offset + 8
                let length = PackedBytes.readLength(buffer, at: &position)
                let place = Place(index: index, start: offset, end: position + length, score: score)
                if body(place, UnsafeRawBufferPointer(rebasing: buffer[position..<place.end])) { return place }
                offset = place.end
                index += 1
            }
            return nil
        }
    }

    /// The place of the first element for which `body` holds, nil when none.
    @inline(__always)
    func first(where body: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Bool) -> Place? {
        walk { place, member in body(place.score, member) }
    }

    /// The place of `member`, nil when absent.
    func place(of member: UnsafeRawBufferPointer) -> Place? {
        first { _, candidate in PackedBytes.same(candidate, member) }
    }

    /// The index of the first element for which `isAtOrAfter` holds (`count` when none).
    func firstIndex(where isAtOrAfter: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Bool) -> Int {
        first(where: isAtOrAfter)?.index ?? count
    }

    /// The elements with indices in `range`, which must lie within `0..<count`, each
    /// member copied into an array of its own.
    func elements(_ range: Range<Int>) -> [SortedSet.Element] {
        var result: [SortedSet.Element] = []
        result.reserveCapacity(range.count)
        forEach(range, reverse: false) { result.append(SortedSet.Element(score: $0, member: Array($1))) }
        return result
    }

    /// Calls `body` with the score and member bytes of each element with an index in
    /// `range`, which must lie within `0..<count`; from the last with `reverse`.
    func forEach(_ range: Range<Int>, reverse: Bool, _ body: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Void) {
        guard reverse else {
            _ = walk { place, member in
                if place.index >= range.upperBound { return true }
                if place.index >= range.lowerBound { body(place.score, member) }
                return false
            }
            return
        }
        var places: [(score: Double, member: Range<Int>)] = []
        places.reserveCapacity(range.count)
        _ = walk { place, member in
            if place.index >= range.upperBound { return true }
            if place.index >= range.lowerBound { places.append((place.score, place.end - member.count..<place.end)) }
            return false
        }
        bytes.withUnsafeBytes { buffer in
            for place in places.reversed() { body(place.score, UnsafeRawBufferPointer(rebasing: buffer[place.member])) }
        }
    }

    /// Sets `member`'s score in one walk, which finds both where the member is and where
    /// its new score goes; returns the old score, nil when the member is new.
    mutating func set(_ member: UnsafeRawBufferPointer, score: Double) -> Double? {
        var found: Place?
        var insertion: Int?
        _ = walk { place, candidate in
            if found == nil && PackedBytes.same(candidate, member) { found = place }
            if insertion == nil && (score != place.score ? score < place.score : compareRaw(member, candidate) < 0) {
                insertion = place.start
            }
            return found != nil && insertion != nil
        }
        var start = insertion ?? bytes.count
        if let found {
            if found.score == score { return score }
            bytes.removeSubrange(found.start..<found.end)
            count -= 1
            if start > found.start { start -= found.end - found.start }
        }
        insert(member, score: score, at: start)
        return found?.score
    }

    /// Writes a new element at byte `start`, in place: no array of its encoding in between.
    private mutating func insert(_ member: UnsafeRawBufferPointer, score: Double, at start: Int) {
        let size = 8 + PackedBytes.lengthSize(member.count) + member.count
        bytes.openGap(at: start, size: size)
        bytes.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(of: score.bitPattern.littleEndian, toByteOffset: start, as: UInt64.self)
            PackedBytes.write(member, lengthAt: start + 8, in: buffer)
        }
        count += 1
    }

    /// Removes the elements with indices in `range`, which must lie within `0..<count`.
    mutating func remove(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        // Both ends in one walk; the end is the last byte when the range reaches the last.
        var start = 0
        var end = bytes.count
        _ = walk { place, _ in
            if place.index == range.lowerBound { start = place.start }
            if place.index == range.upperBound { end = place.start }
            return place.index == range.upperBound
        }
        bytes.removeSubrange(start..<end)
        count -= range.count
        if count == 0 { bytes = PackedStore() }
    }

    /// Removes the element at `place`.
    mutating func remove(_ place: Place) {
        bytes.removeSubrange(place.start..<place.end)
        count -= 1
        if count == 0 { bytes = PackedStore() }
    }
}

/// What the packed collections (`PackedElements`, `PackedList`, `PackedFields`,
/// `PackedMembers`) share: lengths in LEB128 and comparing bytes where they lie. Their
/// bytes are a `PackedStore`.
enum PackedBytes {
    /// Bytes a length takes in LEB128 (one below 128).
    @inline(__always)
    static func lengthSize(_ length: Int) -> Int {
        var size = 1
        while length >> (7 * size) > 0 { size += 1 }
        return size
    }

    /// Reads a LEB128 length at `position` and moves `position` past it.
    @inline(__always)
    static func readLength(_ buffer: UnsafeRawBufferPointer, at position: inout Int) -> Int {
        var length = 0
        var shift = 0
        while true {
            let byte = buffer[position]
            position += 1
            length |= Int(byte & 0x7F) << shift
            if byte < 0x80 { return length }
            shift += 7
        }
    }

    /// Writes `bytes`' length in LEB128 at `position` and the bytes after it; returns
    /// where they end.
    @discardableResult
    @inline(__always)
    static func write(_ bytes: UnsafeRawBufferPointer, lengthAt position: Int, in buffer: UnsafeMutableRawBufferPointer) -> Int {
        var position = position
        var length = bytes.count
        while length >= 0x80 {
            buffer[position] = UInt8(length & 0x7F) | 0x80
            length >>= 7
            position += 1
        }
        buffer[position] = UInt8(length)
        position += 1
        if let from = bytes.baseAddress {
            (buffer.baseAddress! + position).copyMemory(from: from, byteCount: bytes.count)
        }
        return position + bytes.count
    }

    /// Whether two byte strings are the same, compared 8 at a time in line: most
    /// elements a walk meets are short, and a call to `memcmp` for each cost more than
    /// the comparison.
    @inline(__always)
    static func same(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var offset = 0
        while offset + 8 <= lhs.count {
            if lhs.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != rhs.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        while offset < lhs.count {
            if lhs[offset] != rhs[offset] { return false }
            offset += 1
        }
        return true
    }
}
