/// A Redis set: distinct members as raw bytes, read back in insertion order, as Redis
/// 7.2's listpack sets do; Redis promises no order for sets.
///
/// Until it has more than `packLimit` members or one longer than `packValueLimit`
/// bytes, a set is packed into one byte array (`PackedMembers`), as Redis 7.2 keeps such
/// a set in a listpack; a member is found by walking them. Then its members move into a
/// `FieldTable` with no payload (how they are found and removed is told there),
/// `CopiedOnWrite`, and stay there until the set is emptied. Either way the set is two
/// words, and changes in place in its key's value.
public struct SetValue: Sendable {
    private enum Storage {
        case packed(PackedMembers)
        case table(CopiedOnWrite<FieldTable<SmallBytes, NoPayload>>)
    }

    private var storage = Storage.packed(PackedMembers())

    /// Redis 7.2's `set-max-listpack-entries` and `set-max-listpack-value`.
    public static let packLimit = 128
    public static let packValueLimit = 64

    public init() {}

    /// The set of `members`, each once.
    public init<S: Sequence>(_ members: S) where S.Element == [UInt8] {
        for member in members { insert(member) }
    }

    /// The heap object holding a table's contents, for the keyspace's memory estimate.
    private static let tableBytes = CopiedOnWrite<FieldTable<SmallBytes, NoPayload>>.heapBytes

    public var count: Int {
        switch storage {
        case .packed(let packed): packed.count
        case .table(let table): table.contents.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Whether the members are packed (for tests of the layout).
    public var isPacked: Bool {
        if case .packed = storage { true } else { false }
    }

    /// Heap bytes of the set: the packed array, or the table's box, its members and
    /// their places in the index and slots; kept up to date so the keyspace's memory
    /// estimate reads it in O(1).
    public var heapBytes: Int {
        switch storage {
        case .packed(let packed): packed.bytes.heapBytes
        case .table(let table): Self.tableBytes + table.contents.heapBytes
        }
    }

    public func contains(_ member: [UInt8]) -> Bool {
        member.withUnsafeBytes(contains)
    }

    /// `contains` for a member read where it lies (a command's argument).
    public func contains(_ member: UnsafeRawBufferPointer) -> Bool {
        switch storage {
        case .packed(let packed): packed.find(member) != nil
        case .table(let table): table.contents[member] != nil
        }
    }

    /// Lets `body` change the packed members in place, the storage's reference dropped
    /// while it does so the array is not copied; nil when the set is a table.
    @inline(__always)
    private mutating func withPacked<R>(_ body: (inout PackedMembers) -> R) -> R? {
        guard case .packed(var packed) = storage else { return nil }
        storage = .packed(PackedMembers())
        defer { storage = .packed(packed) }
        return body(&packed)
    }

    /// Changes the table, after moving the members into one if they are packed.
    @inline(__always)
    private mutating func withTable<R>(_ body: (inout FieldTable<SmallBytes, NoPayload>) -> R) -> R {
        if case .packed(let packed) = storage {
            var table = FieldTable<SmallBytes, NoPayload>()
            packed.forEach { table.set(Array($0), NoPayload()) }
            storage = .table(CopiedOnWrite(table))
        }
        guard case .table(var table) = storage else { preconditionFailure("a set is packed or a table") }
        storage = .packed(PackedMembers())
        // A table left empty is dropped: nothing holds its box for an empty set.
        defer { if table.contents.count > 0 { storage = .table(table) } }
        return table.modify(body)
    }

    /// Adds `member`; returns true when it is new.
    @discardableResult
    public mutating func insert(_ member: [UInt8]) -> Bool {
        // In a table, a member too long to sit in place keeps its array.
        member.withUnsafeBytes { insert($0) { $0.set(member, NoPayload()) } }
    }

    /// `insert` for a member read where it lies (a command's argument).
    @discardableResult
    public mutating func insert(_ member: UnsafeRawBufferPointer) -> Bool {
        insert(member) { $0.set(member, NoPayload()) }
    }

    private mutating func insert(_ member: UnsafeRawBufferPointer, inTable: (inout FieldTable<SmallBytes, NoPayload>) -> Bool) -> Bool {
        if member.count <= Self.packValueLimit, let added = withPacked({ packed -> Bool? in
            if packed.find(member) != nil { return false }
            guard packed.count < Self.packLimit else { return nil }
            packed.append(member)
            return true
        }), let added {
            return added
        }
        return withTable(inTable)
    }

    /// Removes `member`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ member: [UInt8]) -> Bool {
        member.withUnsafeBytes { remove($0) }
    }

    /// `remove` for a member read where it lies.
    @discardableResult
    public mutating func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if let removed = withPacked({ packed -> Bool in
            guard let entry = packed.find(member) else { return false }
            packed.remove(entry)
            return true
        }) {
            return removed
        }
        return withTable { $0.remove(member) }
    }

    /// A uniformly random member, nil when the set is empty.
    public func randomMember<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8]? {
        guard !isEmpty else { return nil }
        switch storage {
        case .packed(let packed):
            return packed.member(at: Int.random(in: 0..<packed.count, using: &generator)).member
        case .table(let table):
            return table.contents.randomField(using: &generator)
        }
    }

    /// `count` members drawn uniformly and independently, so they may repeat; a packed
    /// set is read once rather than walked for every draw.
    public func randomMembers<G: RandomNumberGenerator>(_ count: Int, using generator: inout G) -> [[UInt8]] {
        guard !isEmpty else { return [] }
        if isPacked {
            let members = members
            return (0..<count).map { _ in members[Int.random(in: 0..<members.count, using: &generator)] }
        }
        return (0..<count).map { _ in randomMember(using: &generator)! }
    }

    /// Removes and returns a uniformly random member, nil when the set is empty.
    public mutating func popRandom<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8]? {
        guard !isEmpty else { return nil }
        if let popped = withPacked({ packed -> [UInt8] in
            let (entry, member) = packed.member(at: Int.random(in: 0..<packed.count, using: &generator))
            packed.remove(entry)
            return member
        }) {
            return popped
        }
        return withTable { $0.removeRandom(using: &generator) }
    }

    /// Every member, in insertion order.
    public var members: [[UInt8]] {
        var members: [[UInt8]] = []
        members.reserveCapacity(count)
        forEach { members.append(Array($0)) }
        return members
    }

    /// Whether `predicate` holds for every member, in insertion order, stopping at the
    /// first that fails.
    public func allSatisfy(_ predicate: (_ member: UnsafeRawBufferPointer) -> Bool) -> Bool {
        switch storage {
        case .packed(let packed): packed.allSatisfy(predicate)
        case .table(let table): table.contents.allSatisfy { member, _ in predicate(member) }
        }
    }

    /// Calls `body` with every member where it lies, in insertion order: a reply built
    /// from them needs no array of members in between.
    public func forEach(_ body: (_ member: UnsafeRawBufferPointer) -> Void) {
        switch storage {
        case .packed(let packed): packed.forEach(body)
        case .table(let table): table.contents.forEach { member, _ in body(member) }
        }
    }

    /// One step of `SSCAN` from `cursor` (0 to begin), at most about `count` members;
    /// returns the next cursor, 0 once every member has been given. A packed set comes
    /// whole in one step, as Redis gives a listpack (`FieldTable.scan` for a table).
    public func scan(cursor: UInt64, count: Int, _ body: (_ member: [UInt8]) -> Void) -> UInt64 {
        switch storage {
        case .packed(let packed):
            packed.forEach { body(Array($0)) }
            return 0
        case .table(let table):
            return table.contents.scan(cursor: cursor, count: count) { member, _ in body(Array(member)) }
        }
    }
}

extension SetValue: Equatable {
    /// Same members, whatever the order.
    public static func == (lhs: SetValue, rhs: SetValue) -> Bool {
        lhs.count == rhs.count && lhs.members.allSatisfy(rhs.contains)
    }
}
