/// A Redis hash: fields and values as raw bytes, read back in insertion order as Redis
/// does for small hashes (its listpack encoding), so `HGETALL` matches it there.
///
/// Until it has more than `packLimit` fields or a field or value longer than
/// `packValueLimit` bytes, a hash is packed into one byte array (`PackedFields`), as
/// Redis keeps such a hash in a listpack; a field is found by walking them. Then its
/// fields and values move into a `FieldTable` (how they are found and removed is told
/// there), `CopiedOnWrite`, as Redis converts a listpack into a hash table once; they
/// stay there until the hash is emptied.
/// Either way the hash is one reference, and changes in place in its key's value.
public struct HashValue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var field: [UInt8]
        public var value: [UInt8]
    }

    private enum Storage {
        case packed(PackedFields)
        case table(CopiedOnWrite<FieldTable<SmallBytes, SmallBytes>>)
    }

    private var storage = Storage.packed(PackedFields())

    /// Redis's `hash-max-listpack-entries` and `hash-max-listpack-value`.
    public static let packLimit = 128
    public static let packValueLimit = 64

    public init() {}

    /// The heap object holding a table's contents.
    private static let tableBytes = CopiedOnWrite<FieldTable<SmallBytes, SmallBytes>>.heapBytes

    public var count: Int {
        switch storage {
        case .packed(let packed): packed.count
        case .table(let table): table.contents.count
        }
    }

    public var isEmpty: Bool {
        switch storage {
        case .packed(let packed): packed.isEmpty
        case .table(let table): table.contents.count == 0
        }
    }

    /// Whether the fields are packed (for tests of the layout).
    public var isPacked: Bool {
        if case .packed = storage { true } else { false }
    }

    /// Heap bytes of the hash: the packed array, or the table's box, its fields and
    /// values and their places in the index and slots; kept up to date so the keyspace's
    /// memory estimate reads it in O(1).
    public var heapBytes: Int {
        switch storage {
        case .packed(let packed): packed.bytes.heapBytes
        case .table(let table): Self.tableBytes + table.contents.heapBytes
        }
    }

    /// A field's value; a packed hash's is copied out of its array.
    public subscript(field: [UInt8]) -> [UInt8]? {
        field.withUnsafeBytes { self[$0] }
    }

    /// A field's value, the field read where it lies (a command's argument, not copied
    /// into an array for the look-up).
    public subscript(field: UnsafeRawBufferPointer) -> [UInt8]? {
        switch storage {
        case .packed(let packed): packed.find(field).map(packed.value(of:))
        case .table(let table): table.contents[field]?.array
        }
    }

    /// Whether the hash has `field`, read where it lies, without copying its value.
    public func contains(_ field: UnsafeRawBufferPointer) -> Bool {
        switch storage {
        case .packed(let packed): packed.find(field) != nil
        case .table(let table): table.contents[field] != nil
        }
    }

    /// Whether `field` and `value` may be packed.
    @inline(__always)
    private static func packs(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        field.count <= packValueLimit && value.count <= packValueLimit
    }

    /// Lets `body` change the packed fields in place, the storage's reference dropped
    /// while it does so the array is not copied; nil when the hash is a table.
    @inline(__always)
    private mutating func withPacked<R, E: Error>(_ body: (inout PackedFields) throws(E) -> R) throws(E) -> R? {
        guard case .packed(var packed) = storage else { return nil }
        storage = .packed(PackedFields())
        defer { storage = .packed(packed) }
        return try body(&packed)
    }

    /// Changes the table, after moving the fields into one if they are packed.
    @inline(__always) @discardableResult
    private mutating func withTable<R, E: Error>(_ body: (inout FieldTable<SmallBytes, SmallBytes>) throws(E) -> R) throws(E) -> R {
        if case .packed(let packed) = storage {
            var table = FieldTable<SmallBytes, SmallBytes>()
            packed.forEach { table.set(Array($0), SmallBytes($1)) }
            storage = .table(CopiedOnWrite(table))
        }
        guard case .table(var table) = storage else { preconditionFailure("a hash is packed or a table") }
        storage = .packed(PackedFields())
        // A table left empty is dropped: nothing holds its box for an empty hash.
        defer { if table.contents.count > 0 { storage = .table(table) } }
        return try table.modify(body)
    }

    /// Sets `field` to `value`; returns true when the field is new.
    @discardableResult
    public mutating func set(_ field: [UInt8], _ value: [UInt8]) -> Bool {
        // In a table, a field or value too long to sit in place keeps its array.
        field.withUnsafeBytes { rawField in
            value.withUnsafeBytes { set(rawField, $0) { $0.set(field, SmallBytes(value)) } }
        }
    }

    /// `set` for a field and value read where they lie (a command's arguments).
    @discardableResult
    public mutating func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        set(field, value) { $0.set(field, SmallBytes(value)) }
    }

    private mutating func set(
        _ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, inTable: (inout FieldTable<SmallBytes, SmallBytes>) -> Bool
    ) -> Bool {
        if Self.packs(field, value), let added = withPacked({ packed -> Bool? in
            var walked = 0
            if let entry = packed.find(field, walked: &walked) {
                packed.replaceValue(of: entry, with: value)
                return false
            }
            guard walked < Self.packLimit else { return nil }
            packed.append(field, value)
            return true
        }), let added {
            return added
        }
        return withTable(inTable)
    }

    /// Finds `field` once and lets `body` change its value in place: nil when the field
    /// is new, and nil afterwards removes it (`FieldTable.update`). What `body` changed
    /// before throwing stays.
    public mutating func update<R, E: Error>(_ field: [UInt8], _ body: (inout [UInt8]?) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        field.withUnsafeBytes { field in
            do throws(E) {
                result = .success(try update(field, body))
            } catch {
                result = .failure(error)
            }
        }
        return try result!.get()
    }

    /// `update` for a field read where it lies (a command's argument).
    public mutating func update<R, E: Error>(_ field: UnsafeRawBufferPointer, _ body: (inout [UInt8]?) throws(E) -> R) throws(E) -> R {
        if field.count <= Self.packValueLimit, let (entry, walked, found) = packedLookUp(field) {
            var value = found
            // The packed bytes are not changed by `body`, so `entry` still says where the field is.
            defer {
                switch (entry, value) {
                case (let entry?, let value?) where value.count <= Self.packValueLimit:
                    withPacked { packed in value.withUnsafeBytes { packed.replaceValue(of: entry, with: $0) } }
                case (let entry?, nil):
                    withPacked { $0.remove(entry) }
                case (nil, let value?) where value.count <= Self.packValueLimit && walked < Self.packLimit:
                    withPacked { packed in value.withUnsafeBytes { packed.append(field, $0) } }
                case (_, let value?):
                    withTable { $0.set(field, SmallBytes(value)) }
                case (nil, nil):
                    break
                }
            }
            return try body(&value)
        }
        return try withTable { (table: inout FieldTable<SmallBytes, SmallBytes>) throws(E) -> R in
            try table.update(field) { (stored: inout SmallBytes?) throws(E) -> R in
                var value = stored?.array
                // Dropped here, so a value with an array of its own changes it in place.
                stored = nil
                defer { stored = value.map(SmallBytes.init) }
                return try body(&value)
            }
        }
    }

    /// Where `field` is in a packed hash, how many entries the walk met, and a copy of its
    /// value; nil when the hash is a table. No reference to the packed bytes outlives the
    /// call, so a change after it finds them unshared and makes no copy.
    private func packedLookUp(_ field: UnsafeRawBufferPointer) -> (entry: PackedFields.Entry?, walked: Int, value: [UInt8]?)? {
        guard case .packed(let packed) = storage else { return nil }
        var walked = 0
        let entry = packed.find(field, walked: &walked)
        return (entry, walked, entry.map(packed.value(of:)))
    }

    /// Removes `field`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ field: [UInt8]) -> Bool {
        field.withUnsafeBytes { remove($0) }
    }

    /// `remove` for a field read where it lies.
    @discardableResult
    public mutating func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        if let removed = withPacked({ packed -> Bool in
            guard let entry = packed.find(field) else { return false }
            packed.remove(entry)
            return true
        }) {
            return removed
        }
        return withTable { $0.remove(field) }
    }

    /// Positions in the slots, holes included, for tests of the layout (0 when packed).
    var slotCountForTests: Int {
        if case .table(let table) = storage { table.contents.slotCount } else { 0 }
    }

    /// Every field and value, in insertion order while the hash is packed or scanned (see FieldTable).
    public var entries: [Entry] {
        var entries = [Entry]()
        forEach { entries.append(Entry(field: Array($0), value: Array($1))) }
        return entries
    }

    /// Calls `body` with every field and value where they lie, in insertion order: a
    /// reply built from them needs no array of entries in between.
    public func forEach(_ body: (_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) rethrows {
        switch storage {
        case .packed(let packed):
            try packed.forEach(body)
        case .table(let table):
            try table.contents.forEach { field, value in try value.withUnsafeBytes { try body(field, $0) } }
        }
    }

    /// One step of `HSCAN` from `cursor` (0 to begin), at most about `count` fields; returns
    /// the next cursor, 0 once every field has been given. A packed hash comes whole in
    /// one step, as Redis gives a listpack (`FieldTable.scan` for a table).
    public func scan(cursor: UInt64, count: Int, _ body: (_ field: [UInt8], _ value: [UInt8]) -> Void) -> UInt64 {
        switch storage {
        case .packed(let packed):
            packed.forEach { body(Array($0), Array($1)) }
            return 0
        case .table(let table):
            return table.contents.scan(cursor: cursor, count: count) { body(Array($0), $1.array) }
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
