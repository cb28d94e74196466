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
    mutating func collection<C: KeyspaceCollection>(_ key: Key, _ kind: C.Type, now: Instant) throws(CommandError) -> C? {
        guard let value = value(key, now: now) else { return nil }
        guard let collection = C.extract(value) else { throw .wrongType }
        return collection
    }

    /// Looks `key` up once and lets `body` change its collection in place, keeping the
    /// deadline. An absent key starts as an empty collection with `create`; without it
    /// `body` is not called and the result is nil. A collection left empty deletes the
    /// key, as in Redis. What `body` changed before throwing stays changed (Redis too
    /// keeps a command's earlier elements).
    mutating func modifyCollection<C: KeyspaceCollection, R>(
        _ key: Key, _ kind: C.Type, now: Instant, create: Bool, _ body: (inout C) throws(CommandError) -> R
    ) throws(CommandError) -> R? {
        var outcome: Result<R?, CommandError> = .success(nil)
        withEntry(key, now: now) { value, _ in
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
        }
        return try outcome.get()
    }
}
