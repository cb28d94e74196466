import Testing
@testable import SluiceServer

@Suite("Shard sets")
struct ShardSetTests {
    @Test("a set lists its shards in order, across all four words, each once")
    func listsInOrder() {
        var set = ShardSet()
        let members = [0, 1, 63, 64, 100, 127, 128, 191, 192, 255]
        for shard in members.reversed() { set.insert(shard) }
        set.insert(64)
        var listed: [Int] = []
        var next = set.first(from: 0)
        while let shard = next {
            listed.append(shard)
            next = set.first(from: shard + 1)
        }
        #expect(listed == members)
        #expect(set.first(from: 101) == 127)
        #expect(set.first(from: 256) == nil)
        #expect(ShardSet().first(from: 0) == nil)
    }
}

@Suite("Database locks")
struct DatabaseLockTests {
    /// Which shards' locks are held, found by trying each.
    private func heldShards(_ database: Database) -> [Int] {
        database.shards.indices.filter { database.shards[$0].state.withLockIfAvailable { _ in } == nil }
    }

    @Test("withShards holds exactly the set's shards' locks while its body runs, and none after")
    func withShardsHoldsTheSet() {
        let database = Database(commandCount: 1, shards: 128)
        var set = ShardSet()
        for shard in [3, 64, 65, 127] { set.insert(shard) }
        let held = database.withShards(set) { _ in heldShards(database) }
        #expect(held == [3, 64, 65, 127])
        #expect(heldShards(database).isEmpty)
    }

    @Test("withExclusive holds the main lock and every shard's")
    func withExclusiveHoldsEverything() {
        let database = Database(commandCount: 1, shards: 8)
        let held = database.withExclusive { _ in heldShards(database) }
        #expect(held == Array(0..<8))
        let mainHeld = database.withExclusive { _ in database.state.withLockIfAvailable { _ in } == nil }
        #expect(mainHeld)
        #expect(heldShards(database).isEmpty)
    }
}
