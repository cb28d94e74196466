/// What a `FieldTable` keeps beside each byte string: a hash's value, or nothing for a set.
protocol FieldPayload: Sendable {
    /// A payload holding nothing to release, left in a slot while its own is changed.
    init()
    /// Heap bytes the payload holds, for the keyspace's memory estimate.
    var payloadHeapBytes: Int { get }
}

/// A hash's value.
extension SmallBytes: FieldPayload {
    init() { self = .empty }
    var payloadHeapBytes: Int { heapBytes }
}

/// A sorted-set member's score.
extension Double: FieldPayload {
    var payloadHeapBytes: Int { 0 }
}

/// A set member's payload: none.
struct NoPayload: FieldPayload {
    var payloadHeapBytes: Int { 0 }
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
/// none. Neither the entries (in chunks) nor the index (`PositionIndex`) grow all at
/// once, so a huge table grows without pausing other clients.
///
/// Strings and payloads of up to 14 bytes sit in the slots (`SmallBytes`), so an entry
/// of a short field and value costs its 40-byte slot and an 8-byte index cell, with no
/// allocation of its own. A sorted set's members, up to 22 bytes, sit in theirs
/// (`MemberBytes`, `Field`).
struct FieldTable<Field: SlotBytes, Payload: FieldPayload> {
    /// Tables with at most this many entries have no index: scanning them costs less than
    /// filling and probing one.
    static var scanLimit: Int { 128 }

    /// A string and its payload, with the string's hash: a scan compares hashes and reads
    /// a string's bytes only where they match, and the index files the entry under it.
    struct Slot {
        var field: Field
        var payload: Payload
        var hash: UInt32
    }

    /// What an entry costs beyond the heap bytes of its string and payload: its slot, and
    /// its index cell in a bucket between 3/8 and 3/4 full (two cells on average).
    static var entryBytes: Int { MemoryLayout<Slot?>.stride + 2 * MemoryLayout<UInt64>.stride }

    /// Hash to positions, built once the table passes `scanLimit` entries and kept after.
    private var index = PositionIndex()
    private var indexed = false
    private var slots = EntryTable<Slot?>()
    /// Heap bytes of the strings and payloads and their places in the index and slots,
    /// kept up to date so the keyspace's memory estimate reads it in O(1).
    private(set) var heapBytes = 0
    private(set) var count = 0

    init() {}

    /// An empty table with its index from the first entry, so it never has holes and its
    /// positions are `0..<count`: for a caller that refers to entries by position (a
    /// sorted set's ordered blocks) and follows the moves `remove(at:)` makes.
    static func indexed() -> FieldTable {
        var table = FieldTable()
        table.indexed = true
        return table
    }

    /// Positions in the slots, holes included.
    var slotCount: Int { slots.count }

    /// The payload of `field` read where it lies (a command's argument), nil when absent.
    subscript(field: UnsafeRawBufferPointer) -> Payload? {
        guard let position = position(of: field, hash: Self.hash(field)) else { return nil }
        return slots[position]?.payload
    }

    /// Where `field` is, nil when absent.
    func position(of field: UnsafeRawBufferPointer) -> Int? {
        position(of: field, hash: Self.hash(field))
    }

    /// The payload at `position`, which holds an entry.
    func payload(at position: Int) -> Payload {
        slots[position]!.payload
    }

    /// Replaces the payload at `position`, which holds an entry.
    mutating func setPayload(_ payload: Payload, at position: Int) {
        heapBytes += payload.payloadHeapBytes - Self.replacePayload(of: &slots[position], with: payload)
    }

    /// Calls `body` with the bytes of the string at `position` (which holds an entry),
    /// where they lie or unpacked on the stack.
    @inline(__always)
    func withField<R>(at position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        slots[position]!.field.withUnsafeBytes(body)
    }

    /// The string at `position`, which holds an entry: sharing its array when it has one.
    func field(at position: Int) -> Field {
        slots[position]!.field
    }

    /// Adds `field`, which must not be in the table, sharing its array when it is too long
    /// to sit in place; returns its position.
    mutating func insert(_ field: [UInt8], _ payload: Payload) -> Int {
        append(Field(field), Self.hash(field), payload)
        return slots.count - 1
    }

    /// `insert` for a field read where it lies, copied into the table.
    mutating func insert(_ field: UnsafeRawBufferPointer, _ payload: Payload) -> Int {
        append(Field(field), Self.hash(field), payload)
        return slots.count - 1
    }

    /// Removes the entry at `position` of an `indexed()` table; the last entry, unless it
    /// was that one, moves into its place.
    mutating func remove(at position: Int) {
        precondition(indexed, "positions move only in an indexed table")
        removeSlot(at: position)
    }

    /// Where `field` is, by the index or by scanning.
    private func position(of field: UnsafeRawBufferPointer, hash: UInt32) -> Int? {
        if indexed {
            return index.find(hash) { slots[$0]!.field.equals(field) }
        }
        // Each part read where it lies: binding the slot would copy its strings.
        for position in slots.indices where slots[position]?.hash == hash {
            if slots[position]!.field.equals(field) { return position }
        }
        return nil
    }

    /// Sets `field`'s payload; returns true when the field is new.
    @discardableResult
    mutating func set(_ field: [UInt8], _ payload: Payload) -> Bool {
        // A new field keeps the array itself when too long to sit in place.
        field.withUnsafeBytes { set($0, payload) { _ in Field(field) } }
    }

    /// `set` for a field read where it lies (a command's argument).
    @discardableResult
    mutating func set(_ field: UnsafeRawBufferPointer, _ payload: Payload) -> Bool {
        set(field, payload, Field.init)
    }

    private mutating func set(_ field: UnsafeRawBufferPointer, _ payload: Payload, _ makeField: (UnsafeRawBufferPointer) -> Field) -> Bool {
        let hash = Self.hash(field)
        if let position = position(of: field, hash: hash) {
            let replaced = Self.replacePayload(of: &slots[position], with: payload)
            heapBytes += payload.payloadHeapBytes - replaced
            return false
        }
        append(makeField(field), hash, payload)
        return true
    }

    /// Adds `field`, which is not in the table.
    private mutating func append(_ field: Field, _ hash: UInt32, _ payload: Payload) {
        if indexed { index.insert(hash, position: slots.count) }
        slots.append(Slot(field: field, payload: payload, hash: hash))
        count += 1
        heapBytes += Self.bytes(field, payload)
        if !indexed && count > Self.scanLimit {
            // An indexed table has no holes, for deletions to fill.
            compact()
            indexed = true
            for position in slots.indices { index.insert(slots[position]!.hash, position: position) }
        }
    }

    /// Finds `field` once and lets `body` change its payload in place (nil when the field
    /// is new; nil afterwards removes it). The payload is moved out of its slot for
    /// `body`, so an array held nowhere else changes without a copy. What `body`
    /// changed before throwing stays.
    mutating func update<R, E: Error>(_ field: UnsafeRawBufferPointer, _ body: (inout Payload?) throws(E) -> R) throws(E) -> R {
        let hash = Self.hash(field)
        guard let position = position(of: field, hash: hash) else {
            var payload: Payload?
            defer { if let payload { append(Field(field), hash, payload) } }
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
                removeSlot(at: position)
            }
        }
        return try body(&payload)
    }

    /// Removes `field`; returns whether it was there.
    @discardableResult
    mutating func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        guard let position = position(of: field, hash: Self.hash(field)) else { return false }
        removeSlot(at: position)
        return true
    }

    /// A uniformly random field; the table must not be empty.
    func randomField<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8] {
        slots[randomPosition(using: &generator)]!.field.array
    }

    /// Removes and returns a uniformly random field; the table must not be empty.
    mutating func removeRandom<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8] {
        let position = randomPosition(using: &generator)
        let field = slots[position]!.field.array
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

    /// Removes the entry at `position`, and its index cell.
    private mutating func removeSlot(at position: Int) {
        guard let entry = slots[position] else { return }
        heapBytes -= Self.bytes(entry.field, entry.payload)
        count -= 1
        if indexed {
            index.remove(entry.hash, position: position)
            let last = slots.removeLast()
            if position < slots.count, let last {
                index.move(last.hash, from: slots.count, to: position)
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

    func forEach(_ body: (_ field: UnsafeRawBufferPointer, _ payload: Payload) throws -> Void) rethrows {
        for position in slots.indices {
            if let entry = slots[position] { try entry.field.withUnsafeBytes { try body($0, entry.payload) } }
        }
    }

    /// One step of `HSCAN`/`SSCAN` from `cursor` (0 to begin): calls `body` for its
    /// entries and returns the next step's cursor, 0 once done. Without an index the one
    /// step is every entry, as Redis answers for a listpack. With one, positions are
    /// walked from the last down, `count` at a time, and a cursor is how many positions
    /// are left below. A deletion moves the last entry, which is either already visited
    /// or still below the cursor, into the deleted one's place; so an entry present
    /// throughout a scan is never skipped, though it may come twice, as Redis allows.
    func scan(cursor: UInt64, count: Int, _ body: (_ field: UnsafeRawBufferPointer, _ payload: Payload) -> Void) -> UInt64 {
        guard indexed else {
            forEach(body)
            return 0
        }
        let end = cursor == 0 ? slots.count : Int(clamping: Swift.min(cursor, UInt64(slots.count)))
        let start = Swift.max(0, end - Swift.max(1, count))
        for position in (start..<end).reversed() {
            if let entry = slots[position] { entry.field.withUnsafeBytes { body($0, entry.payload) } }
        }
        return UInt64(start)
    }

    /// Whether `predicate` holds for every entry, in order, stopping at the first that
    /// fails: a caller that needs only some entries reads no more.
    func allSatisfy(_ predicate: (_ field: UnsafeRawBufferPointer, _ payload: Payload) -> Bool) -> Bool {
        for position in slots.indices {
            if let entry = slots[position], !entry.field.withUnsafeBytes({ predicate($0, entry.payload) }) { return false }
        }
        return true
    }

    /// Whether the index holds every entry where a look-up finds it; for tests.
    var isConsistent: Bool {
        guard indexed else { return index.count == 0 }
        return index.isConsistent && index.count == count && slots.indices.allSatisfy { position in
            let entry = slots[position]!
            return entry.field.withUnsafeBytes { field in index.find(entry.hash) { slots[$0]!.field.equals(field) } } == position
        }
    }

    /// Sets the entry's payload in one access to it; returns the old payload's heap bytes.
    private static func replacePayload(of entry: inout Slot?, with payload: Payload) -> Int {
        let replaced = entry?.payload.payloadHeapBytes ?? 0
        entry?.payload = payload
        return replaced
    }

    /// The field's seeded hash, cut to 32 bits: seeded, so that fields chosen to collide
    /// cannot make the index's probes long.
    @inline(__always)
    static func hash(_ field: [UInt8]) -> UInt32 {
        field.withUnsafeBytes(hash)
    }

    @inline(__always)
    static func hash(_ field: UnsafeRawBufferPointer) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(bytes: field)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    private static func bytes(_ field: Field, _ payload: Payload) -> Int {
        entryBytes + field.heapBytes + payload.payloadHeapBytes
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
