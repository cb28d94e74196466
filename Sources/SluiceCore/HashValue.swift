import CPrefetch

/// A Redis hash: fields and values as raw bytes, read back in insertion order as Redis
/// does for small hashes (its listpack encoding), so `HGETALL` matches it there.
///
/// Entries sit in insertion order. Up to `scanLimit` fields a field is found by scanning
/// them, as Redis scans a listpack; past it an index maps each field to its position.
/// Deleting leaves a hole instead of shifting the entries; once holes outnumber entries
/// they are compacted, so every operation is O(1) amortized. Neither the entries (in
/// chunks) nor the index (`SplitDictionary`) grow all at once, so a huge hash grows
/// without pausing other clients.
///
/// The contents are `CopiedOnWrite`, so a hash changes in place in its key's value.
public struct HashValue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var field: [UInt8]
        public var value: [UInt8]
    }

    private var storage = CopiedOnWrite(Contents())

    public init() {}

    /// The heap object holding the contents, for the keyspace's memory estimate.
    static let storageBytes = CopiedOnWrite<Contents>.heapBytes

    public var count: Int { storage.contents.count }
    public var isEmpty: Bool { storage.contents.count == 0 }
    /// Heap bytes of the fields and values and their places in the index and slots,
    /// kept up to date so the keyspace's memory estimate reads it in O(1).
    public var heapBytes: Int { storage.contents.heapBytes }

    public subscript(field: [UInt8]) -> [UInt8]? { storage.contents[field] }

    /// Sets `field` to `value`; returns true when the field is new.
    @discardableResult
    public mutating func set(_ field: [UInt8], _ value: [UInt8]) -> Bool {
        storage.modify { $0.set(field, value) }
    }

    /// Removes `field`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ field: [UInt8]) -> Bool {
        storage.modify { $0.remove(field) }
    }

    /// Every field and value, in insertion order.
    public var entries: [Entry] {
        var entries = [Entry]()
        entries.reserveCapacity(count)
        forEach { entries.append(Entry(field: $0, value: $1)) }
        return entries
    }

    /// Calls `body` with every field and value, in insertion order: a reply built from
    /// them needs no array of entries in between.
    public func forEach(_ body: (_ field: [UInt8], _ value: [UInt8]) throws -> Void) rethrows {
        try storage.contents.forEach(body)
    }
}

extension HashValue {
    /// The fields and values themselves.
    struct Contents {
        /// Hashes with at most this many fields have no index: scanning them costs less than
        /// allocating, filling and hashing into a dictionary.
        static let scanLimit = 128

        /// A field and its value, with a fingerprint of the field: a scan compares
        /// fingerprints, which sit side by side in the slots, and reads a field's bytes (an
        /// allocation of their own, likely a cache miss) only where they match. Without
        /// it, `HSET` of a new field read every field of the hash.
        struct Slot {
            var field: [UInt8]
            var value: [UInt8]
            var fingerprint: UInt32
        }

        /// Field to position, built once the hash passes `scanLimit` fields and kept after.
        private var index = SplitDictionary<Int>()
        private var indexed = false
        private var slots = EntryTable<Slot?>()
        /// Heap bytes of the fields and values and their places in the index and slots,
        /// kept up to date so the keyspace's memory estimate reads it in O(1).
        private(set) var heapBytes = 0

        init() {}

        private(set) var count = 0

        subscript(field: [UInt8]) -> [UInt8]? {
            guard let position = position(of: field) else { return nil }
            return slots[position]?.value
        }

        /// Where `field` is, by the index or by scanning.
        private func position(of field: [UInt8]) -> Int? {
            if indexed { return index[HashedBytes(field)] }
            let fingerprint = Self.fingerprint(field)
            for position in slots.indices {
                if let slot = slots[position], slot.fingerprint == fingerprint, slot.field == field {
                    return position
                }
            }
            return nil
        }

        /// Sets `field` to `value`; returns true when the field is new.
        @discardableResult
        mutating func set(_ field: [UInt8], _ value: [UInt8]) -> Bool {
            if let position = position(of: field) {
                let replaced = Self.replaceValue(of: &slots[position], with: value)
                heapBytes += MemoryEstimate.bytes(value.count) - MemoryEstimate.bytes(replaced)
                return false
            }
            if indexed { index.updateValue(slots.count, forKey: HashedBytes(field)) }
            slots.append(Slot(field: field, value: value, fingerprint: Self.fingerprint(field)))
            count += 1
            heapBytes += Self.bytes(field: field, value: value)
            if !indexed && count > Self.scanLimit {
                indexed = true
                for position in slots.indices {
                    if let entry = slots[position] { index.updateValue(position, forKey: HashedBytes(entry.field)) }
                }
            }
            return true
        }

        /// Removes `field`; returns whether it was there.
        @discardableResult
        mutating func remove(_ field: [UInt8]) -> Bool {
            guard let position = indexed ? index.removeValue(forKey: HashedBytes(field)) : position(of: field) else { return false }
            if let entry = slots[position] { heapBytes -= Self.bytes(field: entry.field, value: entry.value) }
            slots[position] = nil
            count -= 1
            if count == 0 {
                slots = EntryTable()
            } else if slots.count > 2 * count + 8 {
                compact()
            }
            return true
        }

        func forEach(_ body: (_ field: [UInt8], _ value: [UInt8]) throws -> Void) rethrows {
            prefetchBytes()
            for position in slots.indices {
                if let entry = slots[position] { try body(entry.field, entry.value) }
            }
        }

        /// Starts loading every field's and value's bytes, each an allocation of its own,
        /// so that their cache misses overlap: `body`'s retains of them, atomic, would
        /// otherwise wait for them one after another. The storage pointers are read from
        /// the slots' bytes, as `Keyspace.prefetchValue` reads a value's; a hole's bytes
        /// are no address, and a prefetch of an address not mapped does nothing.
        private func prefetchBytes() {
            guard count > 1 else { return }
            for position in slots.indices {
                slots.withAddress(of: position) { start in
                    guard let start else { return }
                    sluice_prefetch(UnsafeRawPointer(bitPattern: start.load(fromByteOffset: Self.fieldOffset, as: UInt.self)))
                    sluice_prefetch(UnsafeRawPointer(bitPattern: start.load(fromByteOffset: Self.valueOffset, as: UInt.self)))
                }
            }
        }

        private static let fieldOffset = MemoryLayout<Slot>.offset(of: \.field)!
        private static let valueOffset = MemoryLayout<Slot>.offset(of: \.value)!

        /// Sets the entry's value in one access to it; returns the old value's length.
        private static func replaceValue(of entry: inout Slot?, with value: [UInt8]) -> Int {
            let replaced = entry?.value.count ?? 0
            entry?.value = value
            return replaced
        }

        /// FNV-1a over the field's bytes: fields are short, and this runs once per look-up.
        @inline(__always)
        static func fingerprint(_ field: [UInt8]) -> UInt32 {
            var hash: UInt32 = 0x811C_9DC5
            for byte in field { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
            return hash
        }

        private static func bytes(field: [UInt8], value: [UInt8]) -> Int {
            MemoryEstimate.hashEntry + MemoryEstimate.bytes(field.count) + MemoryEstimate.bytes(value.count)
        }

        private mutating func compact() {
            var live = EntryTable<Slot?>()
            for position in slots.indices {
                guard let entry = slots[position] else { continue }
                if indexed { index.updateValue(live.count, forKey: HashedBytes(entry.field)) }
                live.append(entry)
            }
            slots = live
        }
    }
}

extension HashValue: Equatable {
    /// Same fields with the same values, whatever the order.
    public static func == (lhs: HashValue, rhs: HashValue) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.entries.allSatisfy { rhs[$0.field] == $0.value }
    }
}
