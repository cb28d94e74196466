import CPrefetch

/// What a `FieldTable` keeps beside each byte string: a hash's value, or nothing for a set.
protocol FieldPayload: Sendable {
    /// A payload holding nothing to release, left in a slot while its own is changed.
    init()
    /// Heap bytes the payload holds, for the keyspace's memory estimate.
    var payloadHeapBytes: Int { get }
    /// Whether the payload's first word is a reference to heap storage worth loading ahead.
    static var pointsToStorage: Bool { get }
}

extension Array: FieldPayload where Element == UInt8 {
    var payloadHeapBytes: Int { MemoryEstimate.bytes(count) }
    static var pointsToStorage: Bool { true }
}

/// A set member's payload: none.
struct NoPayload: FieldPayload {
    var payloadHeapBytes: Int { 0 }
    static var pointsToStorage: Bool { false }
}

/// Distinct byte strings, each with a payload, in insertion order: a hash's fields or a
/// set's members (HashValue.swift, SetValue.swift).
///
/// Up to `scanLimit` entries a string is found by scanning them, as Redis scans a
/// listpack, and they stay in insertion order: deleting leaves a hole instead of
/// shifting the entries, and once holes outnumber entries they are compacted. Past it an
/// index maps each string to its position, and a deletion moves the last entry into the
/// hole, so nothing is ever compacted at once (a huge set emptied by half had paused
/// every client for 280 ms); the order is then not kept, as Redis's hash table keeps
/// none. Neither the entries (in chunks) nor the index (`SplitDictionary`) grow all at
/// once, so a huge table grows without pausing other clients.
struct FieldTable<Payload: FieldPayload> {
    /// Tables with at most this many entries have no index: scanning them costs less than
    /// allocating, filling and hashing into a dictionary.
    static var scanLimit: Int { 128 }

    /// A string and its payload, with a fingerprint of the string: a scan compares
    /// fingerprints, which sit side by side in the slots, and reads a string's bytes (an
    /// allocation of their own, likely a cache miss) only where they match. Without it,
    /// `HSET` of a new field read every field of the hash.
    struct Slot {
        var field: [UInt8]
        var payload: Payload
        var fingerprint: UInt32
    }

    /// What an entry costs beyond its string and payload: its place in the index (hashed
    /// key and position, in a dictionary at most 3/4 full) and its slot.
    static var entryBytes: Int { 32 + MemoryLayout<Slot?>.stride }

    /// String to position, built once the table passes `scanLimit` entries and kept after.
    private var index = SplitDictionary<Int>()
    private var indexed = false
    private var slots = EntryTable<Slot?>()
    /// Heap bytes of the strings and payloads and their places in the index and slots,
    /// kept up to date so the keyspace's memory estimate reads it in O(1).
    private(set) var heapBytes = 0
    private(set) var count = 0

    init() {}

    /// Positions in the slots, holes included.
    var slotCount: Int { slots.count }

    subscript(field: [UInt8]) -> Payload? {
        guard let position = position(of: field) else { return nil }
        return slots[position]?.payload
    }

    /// Where `field` is, by the index or by scanning.
    private func position(of field: [UInt8]) -> Int? {
        if indexed { return index[HashedBytes(field)] }
        let fingerprint = Self.fingerprint(field)
        // Each part read where it lies: binding the slot would retain its arrays.
        for position in slots.indices where slots[position]?.fingerprint == fingerprint {
            if slots[position]?.field == field { return position }
        }
        return nil
    }

    /// Sets `field`'s payload; returns true when the field is new.
    @discardableResult
    mutating func set(_ field: [UInt8], _ payload: Payload) -> Bool {
        if let position = position(of: field) {
            let replaced = Self.replacePayload(of: &slots[position], with: payload)
            heapBytes += payload.payloadHeapBytes - replaced
            return false
        }
        append(field, payload)
        return true
    }

    /// Adds `field`, which is not in the table.
    private mutating func append(_ field: [UInt8], _ payload: Payload) {
        if indexed { index.updateValue(slots.count, forKey: HashedBytes(field)) }
        slots.append(Slot(field: field, payload: payload, fingerprint: Self.fingerprint(field)))
        count += 1
        heapBytes += Self.bytes(field, payload)
        if !indexed && count > Self.scanLimit {
            // An indexed table has no holes, for deletions to fill.
            compact()
            indexed = true
            for position in slots.indices {
                if let entry = slots[position] { index.updateValue(position, forKey: HashedBytes(entry.field)) }
            }
        }
    }

    /// Finds `field` once and lets `body` change its payload in place (nil when the field
    /// is new; nil afterwards removes it). The payload is moved out of its slot for
    /// `body`, so an array held nowhere else changes without a copy. What `body`
    /// changed before throwing stays.
    mutating func update<R, E: Error>(_ field: [UInt8], _ body: (inout Payload?) throws(E) -> R) throws(E) -> R {
        guard let position = position(of: field) else {
            var payload: Payload?
            defer { if let payload { append(field, payload) } }
            return try body(&payload)
        }
        var moved = Payload()
        swap(&moved, &slots[position]!.payload)
        let before = moved.payloadHeapBytes
        var payload: Payload? = consume moved
        defer {
            if let payload {
                heapBytes += payload.payloadHeapBytes - before
                slots[position]!.payload = payload
            } else {
                // The slot holds the empty payload, so its old bytes leave the count here.
                heapBytes -= before
                if indexed { index.removeValue(forKey: HashedBytes(field)) }
                removeSlot(at: position)
            }
        }
        return try body(&payload)
    }

    /// Removes `field`; returns whether it was there.
    @discardableResult
    mutating func remove(_ field: [UInt8]) -> Bool {
        guard let position = indexed ? index.removeValue(forKey: HashedBytes(field)) : position(of: field) else { return false }
        removeSlot(at: position)
        return true
    }

    /// A uniformly random field; the table must not be empty.
    func randomField<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8] {
        slots[randomPosition(using: &generator)]!.field
    }

    /// Removes and returns a uniformly random field; the table must not be empty.
    mutating func removeRandom<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8] {
        let position = randomPosition(using: &generator)
        let field = slots[position]!.field
        if indexed { index.removeValue(forKey: HashedBytes(field)) }
        removeSlot(at: position)
        return field
    }

    /// A uniformly random position holding an entry. Positions are drawn until one is not
    /// a hole: holes are at most about half the slots, and none once indexed, so that
    /// takes at most about two draws.
    private func randomPosition<G: RandomNumberGenerator>(using generator: inout G) -> Int {
        precondition(count > 0, "a random field of an empty table")
        while true {
            let position = Int.random(in: slots.indices, using: &generator)
            if slots[position] != nil { return position }
        }
    }

    /// Removes the entry at `position`, which the index (if any) no longer maps.
    private mutating func removeSlot(at position: Int) {
        if let entry = slots[position] { heapBytes -= Self.bytes(entry.field, entry.payload) }
        count -= 1
        if indexed {
            let last = slots.removeLast()
            if position < slots.count, let last {
                index.updateValue(position, forKey: HashedBytes(last.field))
                slots[position] = last
            }
            return
        }
        slots[position] = nil
        if count == 0 {
            slots = EntryTable()
        } else if slots.count > 2 * count + 8 {
            compact()
        }
    }

    func forEach(_ body: (_ field: [UInt8], _ payload: Payload) throws -> Void) rethrows {
        prefetchBytes()
        for position in slots.indices {
            if let entry = slots[position] { try body(entry.field, entry.payload) }
        }
    }

    /// One step of `HSCAN`/`SSCAN` from `cursor` (0 to begin): calls `body` for its
    /// entries and returns the next step's cursor, 0 once done. Without an index the one
    /// step is every entry, as Redis answers for a listpack. With one, positions are
    /// walked from the last down, `count` at a time, and a cursor is how many positions
    /// are left below. A deletion moves the last entry, which is either already visited
    /// or still below the cursor, into the deleted one's place; so an entry present
    /// throughout a scan is never skipped, though it may come twice, as Redis allows.
    func scan(cursor: UInt64, count: Int, _ body: (_ field: [UInt8], _ payload: Payload) -> Void) -> UInt64 {
        guard indexed else {
            forEach(body)
            return 0
        }
        let end = cursor == 0 ? slots.count : Int(clamping: Swift.min(cursor, UInt64(slots.count)))
        let start = Swift.max(0, end - Swift.max(1, count))
        for position in (start..<end).reversed() {
            if let entry = slots[position] { body(entry.field, entry.payload) }
        }
        return UInt64(start)
    }

    /// Whether `predicate` holds for every entry, in order, stopping at the first that
    /// fails: a caller that needs only some entries reads no more.
    func allSatisfy(_ predicate: (_ field: [UInt8], _ payload: Payload) -> Bool) -> Bool {
        for position in slots.indices {
            if let entry = slots[position], !predicate(entry.field, entry.payload) { return false }
        }
        return true
    }

    /// Starts loading every field's and payload's bytes, each an allocation of its own,
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
                if Payload.pointsToStorage {
                    sluice_prefetch(UnsafeRawPointer(bitPattern: start.load(fromByteOffset: Self.payloadOffset, as: UInt.self)))
                }
            }
        }
    }

    private static var fieldOffset: Int { MemoryLayout<Slot>.offset(of: \.field)! }
    private static var payloadOffset: Int { MemoryLayout<Slot>.offset(of: \.payload)! }

    /// Sets the entry's payload in one access to it; returns the old payload's heap bytes.
    private static func replacePayload(of entry: inout Slot?, with payload: Payload) -> Int {
        let replaced = entry?.payload.payloadHeapBytes ?? 0
        entry?.payload = payload
        return replaced
    }

    /// FNV-1a over the field's bytes: fields are short, and this runs once per look-up.
    @inline(__always)
    static func fingerprint(_ field: [UInt8]) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in field { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash
    }

    private static func bytes(_ field: [UInt8], _ payload: Payload) -> Int {
        entryBytes + MemoryEstimate.bytes(field.count) + payload.payloadHeapBytes
    }

    /// Drops the holes of a table without an index, keeping the order.
    private mutating func compact() {
        var live = EntryTable<Slot?>()
        for position in slots.indices {
            if let entry = slots[position] { live.append(entry) }
        }
        slots = live
    }
}
