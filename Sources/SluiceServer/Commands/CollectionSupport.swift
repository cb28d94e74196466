import NIOCore
import RESP
import SluiceCore

/// A kind of collection a key can hold (hash, sorted set, set): how to find it in a `Value`
/// and put it back.
protocol KeyspaceCollection {
    init()
    var isEmpty: Bool { get }
    /// The collection if `value` holds this kind, else nil.
    static func extract(_ value: Value) -> Self?
    var asValue: Value { get }
}

extension HashValue: KeyspaceCollection {
    static func extract(_ value: Value) -> HashValue? {
        if case .hash(let hash) = value { hash } else { nil }
    }

    var asValue: Value { .hash(self) }
}

extension SortedSet: KeyspaceCollection {
    static func extract(_ value: Value) -> SortedSet? {
        if case .sortedSet(let set) = value { set } else { nil }
    }

    var asValue: Value { .sortedSet(self) }
}

extension SetValue: KeyspaceCollection {
    static func extract(_ value: Value) -> SetValue? {
        if case .set(let set) = value { set } else { nil }
    }

    var asValue: Value { .set(self) }
}

extension ShardedKeyspace {
    /// The collection under `key`, nil when absent; `WRONGTYPE` for any other kind of value.
    mutating func collection<K: KeyBytes, C: KeyspaceCollection>(_ key: K, _ kind: C.Type, now: Instant) throws(CommandError) -> C? {
        guard let value = key.withBytes({ value($0, now: now) }) else { return nil }
        guard let collection = C.extract(value) else { throw .wrongType }
        return collection
    }

    mutating func noteWrite(_ key: ArgumentWord) {
        key.withBytes { noteWrite($0) }
    }

    /// Looks `key` up once and lets `body` change its collection in place, keeping the
    /// deadline. An absent key starts as an empty collection with `create`; without it
    /// `body` is not called and the result is nil. A collection left empty deletes the
    /// key, as in Redis. What `body` changed before throwing stays changed (Redis too
    /// keeps a command's earlier elements).
    mutating func modifyCollection<K: KeyBytes, C: KeyspaceCollection, R>(
        _ key: K, _ kind: C.Type, now: Instant, create: Bool, _ body: (inout C) throws(CommandError) -> R
    ) throws(CommandError) -> R? {
        var outcome: Result<R?, CommandError> = .success(nil)
        key.withBytes { key in withEntry(key, now: now) { value, _ in
            var collection: C
            if value != nil {
                guard let existing = C.extract(value!) else {
                    outcome = .failure(.wrongType)
                    return
                }
                collection = existing
                // Drop the stored reference so `collection` is unique and changes without a copy.
                value = nil
            } else {
                guard create else { return }
                collection = C()
            }
            do throws(CommandError) {
                outcome = .success(try body(&collection))
            } catch {
                outcome = .failure(error)
            }
            value = collection.isEmpty ? nil : collection.asValue
        } }
        return try outcome.get()
    }
}

/// The reply of a command that lists a collection (`HGETALL`, `HKEYS`, `HVALS`,
/// `SMEMBERS`, the `ZRANGE` family, `LRANGE`), written straight from the collection into the connection's output:
/// built as values, the reply retained every field and value and allocated an array of
/// them, only to encode and release them. The collection is held by one reference
/// until then, written before the next command of the burst runs.
enum CollectionListing {
    /// Fields and values: RESP3 a map, RESP2 a flat array.
    case hashPairs(HashValue)
    case hashFields(HashValue)
    case hashValues(HashValue)
    /// RESP3 a set, RESP2 an array.
    case setMembers(SetValue)
    /// The elements of a sorted set at some ranks (within the set), as `ZRANGE` replies.
    case sortedRange(SortedSet, ranks: Range<Int>, reverse: Bool, withScores: Bool)
    /// The elements of a list at some positions (within the list), as `LRANGE` replies.
    case listRange(ListValue, Range<Int>)

    /// The reply as a value, for `EXEC` and scripts; `write` gives the same bytes.
    func value(_ version: RESPVersion) -> RESPValue {
        var elements: [RESPValue] = []
        switch self {
        case .hashPairs(let hash):
            var pairs: [RESPPair] = []
            pairs.reserveCapacity(hash.count)
            hash.forEach { pairs.append(RESPPair(.bulkString(Array($0)), .bulkString(Array($1)))) }
            return .map(pairs)
        case .hashFields(let hash):
            elements.reserveCapacity(hash.count)
            hash.forEach { field, _ in elements.append(.bulkString(Array(field))) }
        case .hashValues(let hash):
            elements.reserveCapacity(hash.count)
            hash.forEach { _, value in elements.append(.bulkString(Array(value))) }
        case .setMembers(let set):
            elements.reserveCapacity(set.count)
            set.forEach { elements.append(.bulkString(Array($0))) }
            return .set(elements)
        case .sortedRange(let set, let ranks, let reverse, let withScores):
            return SortedSetCommands.reply(set.elements(ranks: ranks, reverse: reverse), withScores: withScores, version)
        case .listRange(let list, let range):
            elements.reserveCapacity(range.count)
            list.visit(range) { _, element in
                elements.append(.bulkString(Array(element)))
                return true
            }
        }
        return .array(elements)
    }

    func write(into buffer: inout ByteBuffer, _ version: RESPVersion) {
        switch self {
        case .hashPairs(let hash):
            buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) { $0.mapHeader(hash.count) }
            hash.forEach { field, value in
                Self.bulk(field, into: &buffer, version)
                Self.bulk(value, into: &buffer, version)
            }
        case .hashFields(let hash):
            buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) { $0.arrayHeader(hash.count) }
            hash.forEach { field, _ in Self.bulk(field, into: &buffer, version) }
        case .hashValues(let hash):
            buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) { $0.arrayHeader(hash.count) }
            hash.forEach { _, value in Self.bulk(value, into: &buffer, version) }
        case .setMembers(let set):
            buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) { $0.setHeader(set.count) }
            set.forEach { Self.bulk($0, into: &buffer, version) }
        case .sortedRange(let set, let ranks, let reverse, let withScores):
            // With scores: RESP3 a [member, double] pair each, RESP2 member and score flat.
            let pairs = withScores && version == .resp3
            buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) {
                $0.arrayHeader(withScores && !pairs ? 2 * ranks.count : ranks.count)
            }
            set.forEach(ranks: ranks, reverse: reverse) { score, member in
                if pairs { buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) { $0.arrayHeader(2) } }
                buffer.writeRESP(version: version, bound: RESPDirectWriter.bulkBound(member.count)) { $0.bulkString(member) }
                if withScores { buffer.writeRESP(version: version, bound: RESPDirectWriter.scalarBound) { $0.scalar(.double(score)) } }
            }
        case .listRange(let list, let range):
            buffer.writeRESP(version: version, bound: RESPDirectWriter.headerBound) { $0.arrayHeader(range.count) }
            list.visit(range) { _, element in
                buffer.writeRESP(version: version, bound: RESPDirectWriter.bulkBound(element.count)) { $0.bulkString(element) }
                return true
            }
        }
    }

    @inline(__always)
    private static func bulk(_ bytes: [UInt8], into buffer: inout ByteBuffer, _ version: RESPVersion) {
        bytes.withUnsafeBytes { bulk($0, into: &buffer, version) }
    }

    @inline(__always)
    private static func bulk(_ bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer, _ version: RESPVersion) {
        buffer.writeRESP(version: version, bound: RESPDirectWriter.bulkBound(bytes.count)) { $0.bulkString(bytes) }
    }
}
