/// A Redis set: distinct members as raw bytes, kept in a `FieldTable` with no payload
/// (how they are found and removed is told there), `CopiedOnWrite`, so a set changes in
/// place in its key's value. Members read back in insertion order, as Redis 7.2's
/// listpack sets do; Redis promises no order for sets.
public struct SetValue: Sendable {
    private var storage = CopiedOnWrite(FieldTable<NoPayload>())

    public init() {}

    /// The set of `members`, each once.
    public init<S: Sequence>(_ members: S) where S.Element == [UInt8] {
        for member in members { insert(member) }
    }

    /// The heap object holding the contents, for the keyspace's memory estimate.
    static let storageBytes = CopiedOnWrite<FieldTable<NoPayload>>.heapBytes

    public var count: Int { storage.contents.count }
    public var isEmpty: Bool { storage.contents.count == 0 }
    /// Heap bytes of the members and their places in the index and slots, kept up to
    /// date so the keyspace's memory estimate reads it in O(1).
    public var heapBytes: Int { storage.contents.heapBytes }

    public func contains(_ member: [UInt8]) -> Bool { storage.contents[member] != nil }

    /// Adds `member`; returns true when it is new.
    @discardableResult
    public mutating func insert(_ member: [UInt8]) -> Bool {
        storage.modify { $0.set(member, NoPayload()) }
    }

    /// Removes `member`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ member: [UInt8]) -> Bool {
        storage.modify { $0.remove(member) }
    }

    /// A uniformly random member, nil when the set is empty.
    public func randomMember<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8]? {
        isEmpty ? nil : storage.contents.randomField(using: &generator)
    }

    /// Removes and returns a uniformly random member, nil when the set is empty.
    public mutating func popRandom<G: RandomNumberGenerator>(using generator: inout G) -> [UInt8]? {
        isEmpty ? nil : storage.modify { $0.removeRandom(using: &generator) }
    }

    /// Every member, in insertion order.
    public var members: [[UInt8]] {
        var members: [[UInt8]] = []
        members.reserveCapacity(count)
        forEach { members.append($0) }
        return members
    }

    /// Whether `predicate` holds for every member, in insertion order, stopping at the
    /// first that fails.
    public func allSatisfy(_ predicate: (_ member: [UInt8]) -> Bool) -> Bool {
        storage.contents.allSatisfy { member, _ in predicate(member) }
    }

    /// Calls `body` with every member, in insertion order.
    public func forEach(_ body: (_ member: [UInt8]) throws -> Void) rethrows {
        try storage.contents.forEach { member, _ in try body(member) }
    }

    /// One step of `SSCAN` from `cursor` (0 to begin), at most about `count` members;
    /// returns the next cursor, 0 once every member has been given (`FieldTable.scan`).
    public func scan(cursor: UInt64, count: Int, _ body: (_ member: [UInt8]) -> Void) -> UInt64 {
        storage.contents.scan(cursor: cursor, count: count) { member, _ in body(member) }
    }
}

extension SetValue: Equatable {
    /// Same members, whatever the order.
    public static func == (lhs: SetValue, rhs: SetValue) -> Bool {
        lhs.count == rhs.count && lhs.members.allSatisfy(rhs.contains)
    }
}
