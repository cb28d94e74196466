/// A small hash's fields and values in insertion order, packed into one run of bytes
/// (`PackedStore`) as Redis packs a small hash into a listpack: each entry is the
/// field's length (LEB128, one byte below 128), the field's bytes, the value's length
/// and the value's bytes. One allocation holds them all, where a field and a value of
/// their own took two arrays, a slot, and a table in a box of its own: a hash of two
/// short fields took about 870 bytes.
///
/// One word, the store's reference; the count is walked for, which
/// `HashValue` does only with at most `HashValue.packLimit` entries here.
struct PackedFields: Sendable {
    private(set) var bytes = PackedStore()

    /// Where an entry lies in `bytes`.
    struct Entry {
        var start: Int
        var field: Range<Int>
        /// Where the value's length begins.
        var valueStart: Int
        var value: Range<Int>
        var end: Int { value.upperBound }
    }

    var isEmpty: Bool { bytes.isEmpty }

    @inline(__always)
    private static func entry(at start: Int, in buffer: UnsafeRawBufferPointer) -> Entry {
        var position = start
        let fieldLength = PackedBytes.readLength(buffer, at: &position)
        let field = position..<position + fieldLength
        var valuePosition = field.upperBound
        let valueLength = PackedBytes.readLength(buffer, at: &valuePosition)
        return Entry(start: start, field: field, valueStart: field.upperBound, value: valuePosition..<valuePosition + valueLength)
    }

    /// Calls `body` with each entry in order until it returns false.
    @inline(__always)
    private func walk(_ body: (_ entry: Entry, _ buffer: UnsafeRawBufferPointer) -> Bool) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let entry = Self.entry(at: offset, in: buffer)
                guard body(entry, buffer) else { return }
                offset = entry.end
            }
        }
    }

    var count: Int {
        var count = 0
        walk { _, _ in
            count += 1
            return true
        }
        return count
    }

    /// The entry of `field`, nil when absent; `walked` is how many entries the walk met
    /// (all of them when absent).
    func find(_ field: UnsafeRawBufferPointer, walked: inout Int) -> Entry? {
        var found: Entry?
        walked = 0
        walk { entry, buffer in
            walked += 1
            if PackedBytes.same(UnsafeRawBufferPointer(rebasing: buffer[entry.field]), field) { found = entry }
            return found == nil
        }
        return found
    }

    func find(_ field: UnsafeRawBufferPointer) -> Entry? {
        var walked = 0
        return find(field, walked: &walked)
    }

    func value(of entry: Entry) -> [UInt8] {
        bytes.array(entry.value)
    }

    func forEach(_ body: (_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let entry = Self.entry(at: offset, in: buffer)
                try body(UnsafeRawBufferPointer(rebasing: buffer[entry.field]), UnsafeRawBufferPointer(rebasing: buffer[entry.value]))
                offset = entry.end
            }
        }
    }

    /// Adds an entry after the last; `field` must not be here.
    mutating func append(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let start = bytes.count
        let size = PackedBytes.lengthSize(field.count) + field.count + PackedBytes.lengthSize(value.count) + value.count
        bytes.openGap(at: start, size: size)
        bytes.withUnsafeMutableBytes { buffer in
            let valueStart = PackedBytes.write(field, lengthAt: start, in: buffer)
            PackedBytes.write(value, lengthAt: valueStart, in: buffer)
        }
    }

    /// Replaces the value of `entry` (found in these bytes, unchanged since), in place.
    mutating func replaceValue(of entry: Entry, with value: UnsafeRawBufferPointer) {
        let oldSize = entry.end - entry.valueStart
        let newSize = PackedBytes.lengthSize(value.count) + value.count
        if newSize > oldSize {
            bytes.openGap(at: entry.end, size: newSize - oldSize)
        } else if newSize < oldSize {
            bytes.removeSubrange(entry.end - (oldSize - newSize)..<entry.end)
        }
        bytes.withUnsafeMutableBytes { buffer in
            PackedBytes.write(value, lengthAt: entry.valueStart, in: buffer)
        }
    }

    /// Removes `entry` (found in these bytes, unchanged since).
    mutating func remove(_ entry: Entry) {
        if entry.start == 0 && entry.end == bytes.count {
            bytes = PackedStore()
            return
        }
        bytes.removeSubrange(entry.start..<entry.end)
        bytes.shrinkIfSparse()
    }
}
