import SeededRandom
import Testing
@testable import SluiceCore

@Suite("PositionIndex")
struct PositionIndexTests {
    /// Keeps positions dense as FieldTable does: a removal moves the last position into
    /// the hole. Hashes come from few values, so many positions share one.
    @Test("inserts, removals and moves agree with a model across many splits, with shared hashes")
    func matchesModel() {
        var random = SplitMix64(seed: 7)
        var index = PositionIndex(splitLoad: 4)
        var hashes: [UInt32] = []  // by position
        for step in 0..<20_000 {
            if hashes.isEmpty || Int.random(in: 0..<3, using: &random) > 0 {
                // A few hashes repeat; the rest spread over all 32 bits.
                let hash = Bool.random(using: &random) ? UInt32.random(in: 0..<8, using: &random) : UInt32.random(in: .min ... .max, using: &random)
                index.insert(hash, position: hashes.count)
                hashes.append(hash)
            } else {
                let position = Int.random(in: 0..<hashes.count, using: &random)
                index.remove(hashes[position], position: position)
                let last = hashes.removeLast()
                if position < hashes.count {
                    index.move(last, from: hashes.count, to: position)
                    hashes[position] = last
                }
            }
            #expect(index.count == hashes.count)
            if step % 1_000 == 0 { #expect(index.isConsistent) }
        }
        #expect(index.bucketCount > 1_000)
        #expect(index.isConsistent)
        for (position, hash) in hashes.enumerated() {
            #expect(index.find(hash) { $0 == position } == position)
            // Every position under the same hash is offered until one matches.
            var offered: [Int] = []
            #expect(index.find(hash) { offered.append($0); return false } == nil)
            #expect(offered.allSatisfy { hashes[$0] == hash } && offered.contains(position))
        }
        #expect(index.find(0xDEAD_BEEF) { _ in true } == nil || hashes.contains(0xDEAD_BEEF))
    }

    @Test("buckets split in turn as entries pass the load")
    func splitsInTurn() {
        var index = PositionIndex(splitLoad: 16)
        for position in 0..<16 { index.insert(UInt32(position) &* 2_654_435_761, position: position) }
        #expect(index.bucketCount == 1)
        index.insert(99, position: 16)
        #expect(index.bucketCount == 2)
        for position in 17..<1_000 { index.insert(UInt32(position) &* 2_654_435_761, position: position) }
        #expect(index.bucketCount == 1_000 / 16 + 1 || index.bucketCount == 1_000 / 16)
        #expect(index.isConsistent)
    }
}
