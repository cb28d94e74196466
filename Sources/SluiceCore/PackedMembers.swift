/// A small set's members in insertion order, packed into one run of bytes
/// (`PackedStore`) as Redis 7.2 packs a small set into a listpack: each member is its
/// length (LEB128, one byte below 128) and its bytes. One allocation holds them all,
/// where a member of its own took an array, a slot and an index entry, and the table a
/// box of its own.
///
/// The count is kept with the bytes (`SCARD`, and the draws of `SPOP` and
/// `SRANDMEMBER`, need it), and a look-up walks the members reading one length byte per
/// step: `SetValue` keeps at most `SetValue.packLimit` members here.
struct PackedMembers: Sendable {
    private(set) var bytes = PackedStore()
    /// Kept in the store's header (`PackedStore.elements`), so that this is one word.
    private(set) var count: Int {
        get { bytes.elements }
        set { bytes.elements = newValue }
    }

    /// Calls `body` with each member's entry (its length's first byte to its last byte)
    /// and bytes, in order, until it returns false.
    @inline(__always)
    private func walk(_ body: (_ entry: Range<Int>, _ member: UnsafeRawBufferPointer) -> Bool) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var start = offset + 1
                var length = Int(buffer[offset])
                if length >= 0x80 {
                    start = offset
                    length = PackedBytes.readLength(buffer, at: &start)
                }
                let end = start + length
                guard body(offset..<end, UnsafeRawBufferPointer(rebasing: buffer[start..<end])) else { return }
                offset = end
            }
        }
    }

    /// Where `member`'s entry lies, nil when it is not here. A loop of its own over raw
    /// loads: through `walk` a step cost about 60 instructions (callgrind, `SREM`).
    func find(_ member: UnsafeRawBufferPointer) -> Range<Int>? {
        bytes.withUnsafeBytes { buffer -> Range<Int>? in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            while offset < buffer.count {
                var start = offset + 1
                var length = Int(base.load(fromByteOffset: offset, as: UInt8.self))
                if length >= 0x80 {
                    start = offset
                    length = PackedBytes.readLength(buffer, at: &start)
                }
                if length == member.count, PackedBytes.same(UnsafeRawBufferPointer(start: base + start, count: length), member) {
                    return offset..<start + length
                }
                offset = start + length
            }
            return nil
        }
    }

    /// The entry and bytes of the member at `index` (within `0..<count`) in insertion order.
    func member(at index: Int) -> (entry: Range<Int>, member: [UInt8]) {
        var found: (Range<Int>, [UInt8])?
        var seen = 0
        walk { entry, member in
            if seen == index { found = (entry, Array(member)) }
            seen += 1
            return found == nil
        }
        return found!
    }

    func forEach(_ body: (_ member: UnsafeRawBufferPointer) -> Void) {
        walk { _, member in
            body(member)
            return true
        }
    }

    /// Whether `predicate` holds for every member, in order, stopping at the first that fails.
    func allSatisfy(_ predicate: (_ member: UnsafeRawBufferPointer) -> Bool) -> Bool {
        var holds = true
        walk { _, member in
            holds = predicate(member)
            return holds
        }
        return holds
    }

    /// Adds `member` after the last; it must not be here.
    mutating func append(_ member: UnsafeRawBufferPointer) {
        let start = bytes.count
        bytes.openGap(at: start, size: PackedBytes.lengthSize(member.count) + member.count)
        bytes.withUnsafeMutableBytes { PackedBytes.write(member, lengthAt: start, in: $0) }
        count += 1
    }

    /// Removes the member whose entry is `entry` (found in these bytes, unchanged since).
    mutating func remove(_ entry: Range<Int>) {
        count -= 1
        if count == 0 {
            bytes = PackedStore()
            return
        }
        bytes.removeSubrange(entry)
        bytes.shrinkIfSparse()
    }
}
