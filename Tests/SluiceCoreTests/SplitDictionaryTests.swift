import SeededRandom
import Testing
@testable import SluiceCore

private func key(_ number: Int) -> HashedBytes { HashedBytes(Array("k\(number)".utf8)) }

@Suite("SplitDictionary")
struct SplitDictionaryTests {
    @Test("random sets, updates and removals read back as a Dictionary's, across many splits")
    func matchesDictionary() {
        var random = SplitMix64(seed: 42)
        var split = SplitDictionary<Int>(splitLoad: 4)
        var model: [Int: Int] = [:]
        for step in 0..<20_000 {
            let number = Int.random(in: 0..<3_000, using: &random)
            if Int.random(in: 0..<4, using: &random) == 0 {
                #expect(split.removeValue(forKey: key(number)) == model.removeValue(forKey: number))
            } else {
                #expect(split.updateValue(step, forKey: key(number)) == model.updateValue(step, forKey: number))
            }
            #expect(split.count == model.count)
        }
        #expect(split.bucketCount > 200)
        for number in 0..<3_000 { #expect(split[key(number)] == model[number]) }
        var seen = 0
        let consistent = split.allSatisfy { key, value in
            seen += 1
            return model.contains { HashedBytes(Array("k\($0.key)".utf8)) == key && $0.value == value }
        }
        #expect(consistent)
        #expect(seen == model.count)
    }

    @Test("buckets split in turn as entries pass the load, so no bucket holds many more than it")
    func bucketsStayBounded() {
        var split = SplitDictionary<Int>(splitLoad: 64)
        for number in 0..<64 { split.updateValue(number, forKey: key(number)) }
        #expect(split.bucketCount == 1)
        split.updateValue(64, forKey: key(64))
        #expect(split.bucketCount == 2)
        for number in 65..<20_000 { split.updateValue(number, forKey: key(number)) }
        #expect(split.bucketCount == (20_000 + 63) / 64)
        #expect(split.largestBucket <= 3 * 64)
        for number in 0..<20_000 { #expect(split[key(number)] == number) }
    }

    @Test("equality ignores how the entries are split")
    func equality() {
        var small = SplitDictionary<Int>(splitLoad: 2)
        var large = SplitDictionary<Int>()
        for number in (0..<100).reversed() { small.updateValue(number, forKey: key(number)) }
        for number in 0..<100 { large.updateValue(number, forKey: key(number)) }
        #expect(small == large)
        large.updateValue(-1, forKey: key(7))
        #expect(small != large)
        large.removeValue(forKey: key(7))
        #expect(small != large)
    }
}
