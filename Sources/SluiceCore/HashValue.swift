/// A Redis hash: fields and values as raw bytes, read back in insertion order as Redis
/// does for small hashes (its listpack encoding), so `HGETALL` matches it there. The
/// fields and values sit in a `FieldTable` (how they are found and removed is told
/// there), `CopiedOnWrite`, so a hash changes in place in its key's value.
public struct HashValue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var field: [UInt8]
        public var value: [UInt8]
    }

    private var storage = CopiedOnWrite(FieldTable<[UInt8]>())

    public init() {}

    /// The heap object holding the contents, for the keyspace's memory estimate.
    static let storageBytes = CopiedOnWrite<FieldTable<[UInt8]>>.heapBytes

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

    /// Finds `field` once and lets `body` change its value in place: nil when the field
    /// is new, and nil afterwards removes it (`FieldTable.update`).
    public mutating func update<R, E: Error>(_ field: [UInt8], _ body: (inout [UInt8]?) throws(E) -> R) throws(E) -> R {
        try storage.modify { (contents: inout FieldTable<[UInt8]>) throws(E) -> R in try contents.update(field, body) }
    }

    /// Removes `field`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ field: [UInt8]) -> Bool {
        storage.modify { $0.remove(field) }
    }

    /// Positions in the slots, holes included, for tests of the layout.
    var slotCountForTests: Int { storage.contents.slotCount }

    /// Every field and value, in insertion order while the hash is scanned (see FieldTable).
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

    /// One step of `HSCAN` from `cursor` (0 to begin), at most about `count` fields; returns
    /// the next cursor, 0 once every field has been given (`FieldTable.scan`).
    public func scan(cursor: UInt64, count: Int, _ body: (_ field: [UInt8], _ value: [UInt8]) -> Void) -> UInt64 {
        storage.contents.scan(cursor: cursor, count: count, body)
    }
}

extension HashValue: Equatable {
    /// Same fields with the same values, whatever the order.
    public static func == (lhs: HashValue, rhs: HashValue) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.entries.allSatisfy { rhs[$0.field] == $0.value }
    }
}
