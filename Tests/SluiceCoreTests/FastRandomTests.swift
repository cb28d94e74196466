import Testing
import SluiceCore

@Suite("FastRandom")
struct FastRandomTests {
    @Test("from a given state it gives xoshiro256**'s published sequence")
    func knownSequence() {
        var random = FastRandom(seeds: 1, 2, 3, 4)
        #expect((0..<4).map { _ in random.next() } == [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
    }

    @Test("two seeded from the system differ, and draws spread over a range")
    func spread() {
        var one = FastRandom(), two = FastRandom()
        #expect(one.next() != two.next())
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[Int.random(in: 0..<10, using: &one)] += 1 }
        #expect(counts.allSatisfy { $0 > 9_500 && $0 < 10_500 }, "\(counts)")
    }

    @Test("an all-zero state, which would give only zeros, is refused")
    func zeroState() {
        var random = FastRandom(seeds: 0, 0, 0, 0)
        #expect((0..<4).contains { _ in random.next() != 0 })
    }
}
