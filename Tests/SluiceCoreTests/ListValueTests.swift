import Testing
@testable import SluiceCore
import SeededRandom

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("ListValue")
struct ListValueTests {
    /// Random operations on a list and an array of arrays, compared after every step:
    /// a small universe stays packed, a large one moves to the ring part way.
    @Test("random operations agree with an array, packed and past the packed limits", arguments: [60, 400])
    func randomAgainstModel(length: Int) {
        var random = SplitMix64(seed: 11)
        var list = ListValue()
        var model: [[UInt8]] = []
        var wasUnpacked = false
        func element() -> [UInt8] {
            // Mostly timestamps; now and then empty, binary or longer than 127 bytes.
            switch Int.random(in: 0..<20, using: &random) {
            case 0: return []
            case 1: return (0..<Int.random(in: 1..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default: return bytes("17650000\(Int.random(in: 0..<100, using: &random)).5")
            }
        }
        for step in 0..<6_000 {
            // Phases of growing (no removals) and of shrinking (no pushes).
            let growing = (step / 1_500) % 2 == 0
            let grow = growing && model.count < length
            switch Int.random(in: 0..<12, using: &random) {
            case 0...1 where grow:
                let value = element()
                list.prepend(value)
                model.insert(value, at: 0)
            case 2...3 where grow:
                let value = element()
                list.append(value)
                model.append(value)
            case 4 where grow:
                let value = element()
                let position = Int.random(in: 0...model.count, using: &random)
                list.insert(value, at: position)
                model.insert(value, at: position)
            case 5 where !model.isEmpty:
                let position = Int.random(in: 0..<model.count, using: &random)
                let value = element()
                list[position] = value
                model[position] = value
            case 6 where !growing:
                #expect(list.popFirst() == (model.isEmpty ? nil : model.removeFirst()))
            case 7 where !growing:
                #expect(list.popLast() == model.popLast())
            case 8 where !growing:
                let n = Int.random(in: 0..<4, using: &random)
                list.removeFirst(n)
                model.removeFirst(min(n, model.count))
                let m = Int.random(in: 0..<4, using: &random)
                list.removeLast(m)
                model.removeLast(min(m, model.count))
            case 9 where !growing && !model.isEmpty:
                let target = model[Int.random(in: 0..<model.count, using: &random)]
                let limit = Int.random(in: 1..<4, using: &random)
                let fromBack = Bool.random(using: &random)
                var positions = model.indices.filter { model[$0] == target }
                positions = Array(fromBack ? positions.suffix(limit) : positions.prefix(limit))
                #expect(list.remove(target, limit: limit, fromBack: fromBack) == positions.count)
                for position in positions.reversed() { model.remove(at: position) }
            case 10 where !model.isEmpty:
                let lower = Int.random(in: 0..<model.count, using: &random)
                let upper = Int.random(in: lower...model.count, using: &random)
                let reverse = Bool.random(using: &random)
                var seen: [(Int, [UInt8])] = []
                list.visit(lower..<upper, reverse: reverse) { position, element in
                    seen.append((position, Array(element)))
                    return true
                }
                let expected = reverse ? Array((lower..<upper).reversed()) : Array(lower..<upper)
                #expect(seen.map(\.0) == expected, "step \(step)")
                #expect(seen.map(\.1) == expected.map { model[$0] }, "step \(step)")
            default:
                if let target = model.randomElement(using: &random) {
                    #expect(list.firstIndex(of: target) == model.firstIndex(of: target))
                    let position = Int.random(in: 0..<model.count, using: &random)
                    #expect(list[position] == model[position])
                }
            }
            #expect(list.count == model.count)
            #expect(list.sizesAreConsistent, "step \(step)")
            if !list.isPacked { wasUnpacked = true }
            if step % 500 == 499 { #expect(list.elements == model, "step \(step)") }
        }
        #expect(wasUnpacked == (length > ListValue.packLimit))
    }

    @Test("a list stays packed up to 128 elements and 8 KB, then moves to the ring until it is emptied")
    func packLimits() {
        var list = ListValue((0..<ListValue.packLimit).map { bytes("e\($0)") })
        #expect(list.isPacked)
        list.append(bytes("one more"))
        #expect(!list.isPacked)
        list.removeFirst(list.count - 1)
        #expect(!list.isPacked && list.elements == [bytes("one more")])

        var large = ListValue([Array(repeating: 1, count: 4_000), Array(repeating: 2, count: 4_000)])
        #expect(large.isPacked)
        large.prepend(Array(repeating: 3, count: 200))
        #expect(!large.isPacked && large.count == 3 && large[0].count == 200 && large[2] == Array(repeating: 2, count: 4_000))
        #expect(large.sizesAreConsistent)
    }

    @Test("a list value is two words, packed or not, and an emptied ring gives its box back")
    func twoWords() {
        #expect(MemoryLayout<ListValue>.size == 16)
        var list = ListValue((0..<200).map { bytes("e\($0)") })
        #expect(!list.isPacked)
        list.removeFirst(199)
        #expect(!list.isPacked && list.elements == [bytes("e199")])
        #expect(list.popLast() == bytes("e199"))
        #expect(list.isPacked && list.isEmpty && list.heapBytes == 0)
        list.append(bytes("again"))
        #expect(list.isPacked && list.elements == [bytes("again")])
    }

    @Test("packed elements of any length keep their bytes: empty, binary, 127, 128 and 20,000 bytes")
    func packedLengths() {
        let elements: [[UInt8]] = [[], [0, 255, 10, 13], Array(repeating: 7, count: 127), Array(repeating: 8, count: 128),
                                   Array(repeating: 9, count: 16_383), Array(repeating: 6, count: 16_384)]
        for element in elements {
            var list = ListValue([bytes("a"), element, bytes("z")])
            #expect(list.elements == [bytes("a"), element, bytes("z")])
            #expect(list[1] == element)
            #expect(list.popLast() == bytes("z"))
            #expect(list.popLast() == element)
            #expect(list.sizesAreConsistent)
        }
        let small = ListValue([[], [0, 255, 10, 13], Array(repeating: 7, count: 127), Array(repeating: 8, count: 128)])
        #expect(small.isPacked)
        var reversed: [[UInt8]] = []
        small.visit(0..<4, reverse: true) { _, element in
            reversed.append(Array(element))
            return true
        }
        #expect(reversed == small.elements.reversed())
    }

    @Test("a packed list takes less heap than the ring, and gives the room of trimmed elements back")
    func packedMemory() {
        let timestamps = (0..<100).map { bytes("1765000000.\(100_000 + $0)") }
        let packed = ListValue(timestamps)
        let ring = ListValue(timestamps + (0..<ListValue.packLimit).map { bytes("x\($0)") })
        #expect(packed.isPacked && !ring.isPacked)
        var unpacked = ring
        unpacked.removeLast(ListValue.packLimit)
        #expect(unpacked.elements == timestamps)
        #expect(packed.heapBytes * 2 < unpacked.heapBytes)
        // 100 entries of 17 bytes and their two lengths, and at most a quarter's slack.
        #expect(packed.heapBytes >= 1_900 && packed.heapBytes <= 1_900 * 5 / 4 + 32)

        var trimmed = packed
        trimmed.removeLast(90)
        #expect(trimmed.heapBytes < packed.heapBytes / 4)
        #expect(trimmed.elements == Array(timestamps.prefix(10)))
    }

    @Test("a copy is a value: changing either, packed or not, leaves the other as it was")
    func copiesAreValues() {
        for size in [3, 300] {
            let original = ListValue((0..<size).map { bytes("e\($0)") })
            let elements = original.elements
            var copy = original
            copy[0] = bytes("changed")
            copy.prepend(bytes("new"))
            copy.popLast()
            copy.remove(bytes("e1"))
            #expect(original.elements == elements)
            #expect(copy != original)
        }
    }
}
