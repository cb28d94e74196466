import Testing
@testable import SluiceCore
import SeededRandom

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("ListValue")
struct ListValueTests {
    @Test("elements given where they lie agree with arrays, packed and chained")
    func rawBytesAgreeWithArrays() {
        var fromArrays = ListValue()
        var fromRaw = ListValue()
        for index in 0..<2_000 {
            let element = bytes(String(repeating: "e", count: index % 50) + "\(index)")
            if index % 3 == 0 {
                fromArrays.prepend(element)
                element.withUnsafeBytes { fromRaw.prepend($0) }
            } else {
                fromArrays.append(element)
                element.withUnsafeBytes { fromRaw.append($0) }
            }
        }
        #expect(fromRaw.elements == fromArrays.elements)
        #expect(fromRaw.count == 2_000)
    }

    /// Random operations on a list and an array of arrays, compared after every step:
    /// a small universe stays packed, a large one is chained part way, the largest into
    /// eight chunks or more.
    @Test("random operations agree with an array, packed and past the packed limits", arguments: [60, 400, 3_000])
    func randomAgainstModel(length: Int) {
        var random = SplitMix64(seed: 11)
        var list = ListValue()
        var model: [[UInt8]] = []
        var wasUnpacked = false
        var maxChunks = 1
        func element() -> [UInt8] {
            // Mostly timestamps; now and then empty, binary or longer than 127 bytes.
            switch Int.random(in: 0..<20, using: &random) {
            case 0: return []
            case 1: return (0..<Int.random(in: 1..<300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            default: return bytes("17650000\(Int.random(in: 0..<100, using: &random)).5")
            }
        }
        let steps = max(6_000, 4 * length)
        for step in 0..<steps {
            // Phases of growing (no removals) and of shrinking (no pushes).
            let growing = (step / (steps / 4)) % 2 == 0
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
                let n = Int.random(in: 0..<(length > 1_000 ? 300 : 4), using: &random)
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
            maxChunks = max(maxChunks, list.chunkCount)
        }
        #expect(wasUnpacked == (length > ListValue.packLimit))
        #expect((maxChunks >= 8) == (length > 1_000))
    }

    @Test("a list stays packed up to 128 elements and 8 KB, then is chained until it is emptied")
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
        #expect(large.sizesAreConsistent && large.chunkCount == 2)
    }

    @Test("a list value fits in a key's value (16 bytes), packed or not, and emptied chunks give their box back")
    func fitsInValue() {
        #expect(MemoryLayout<ListValue>.size <= 16)
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

    @Test("a packed list gives the room of trimmed elements back")
    func packedMemory() {
        let timestamps = (0..<100).map { bytes("1765000000.\(100_000 + $0)") }
        let packed = ListValue(timestamps)
        #expect(packed.isPacked)
        // 100 entries of 17 bytes and their two lengths, and at most a quarter's slack.
        #expect(packed.heapBytes >= 1_900 && packed.heapBytes <= 1_900 * 5 / 4 + 32)

        var trimmed = packed
        trimmed.removeLast(90)
        #expect(trimmed.heapBytes < packed.heapBytes / 4)
        #expect(trimmed.elements == Array(timestamps.prefix(10)))
    }

    /// A moving window of 10,000 hits, pushed at either end as `LPUSH` and `RPUSH` do.
    @Test("a long list costs about an element's bytes and two length bytes, pushed at either end", arguments: [false, true])
    func chainedMemory(prepending: Bool) {
        let timestamps = (0..<10_000).map { bytes("1765000000.\(100_000 + $0)") }
        var list = ListValue()
        for timestamp in timestamps {
            if prepending { list.prepend(timestamp) } else { list.append(timestamp) }
        }
        #expect(list.elements == (prepending ? timestamps.reversed() : timestamps))
        #expect(list.chunkCount == (10_000 + ListValue.packLimit - 1) / ListValue.packLimit)
        // 19 bytes an element; each full chunk gave its growth room back (a ring of
        // arrays had taken 80).
        #expect(list.heapBytes > 19 * 10_000 && list.heapBytes < 20 * 10_000)
        #expect(list.sizesAreConsistent)
    }

    @Test("a chunk holds at most 8 KB unless it holds one element")
    func chunkBytes() {
        let large = (0..<100).map { Array(repeating: UInt8($0), count: 1_000) }
        var list = ListValue(large)
        // 1,002 bytes an entry: eight fit in 8 KB.
        #expect(list.chunkCount == 13 && list.elements == large)
        list.insert(Array(repeating: 255, count: 20_000), at: 50)
        #expect(list[50].count == 20_000 && list[51] == large[50] && list.sizesAreConsistent)
        list[50] = bytes("small again")
        #expect(list[50] == bytes("small again") && list.count == 101 && list.sizesAreConsistent)
    }

    @Test("positions and visits cross chunk boundaries from either end")
    func acrossChunks() {
        let elements = (0..<1_000).map { bytes("e\($0)") }
        let list = ListValue(elements)
        #expect(list.chunkCount == 8)
        for position in [0, 127, 128, 129, 499, 500, 871, 872, 999] { #expect(list[position] == elements[position]) }
        for range in [0..<1_000, 127..<129, 100..<900, 128..<256, 999..<1_000, 0..<1] {
            for reverse in [false, true] {
                var seen: [(Int, [UInt8])] = []
                list.visit(range, reverse: reverse) { position, element in
                    seen.append((position, Array(element)))
                    return true
                }
                let expected = reverse ? Array(range.reversed()) : Array(range)
                #expect(seen.map(\.0) == expected && seen.map(\.1) == expected.map { elements[$0] }, "\(range) \(reverse)")
            }
        }
        // A visit stops where asked, in the middle of a chunk.
        var visited = 0
        list.visit(100..<900) { position, _ in
            visited += 1
            return position < 300
        }
        #expect(visited == 201)
        #expect(list.firstIndex(of: bytes("e640")) == 640)
    }

    @Test("removing from the middle joins chunks that fit in one")
    func removalsJoinChunks() {
        var list = ListValue((0..<1_000).map { bytes($0 % 2 == 0 ? "keep\($0)" : "drop") })
        #expect(list.chunkCount == 8)
        #expect(list.remove(bytes("drop")) == 500)
        #expect(list.chunkCount == 4 && list.count == 500 && list.sizesAreConsistent)
        #expect(list.elements == (0..<500).map { bytes("keep\($0 * 2)") })
        // Trimming from either end drops whole chunks.
        list.removeFirst(300)
        list.removeLast(150)
        #expect(list.chunkCount == 1 && list.elements == (300..<350).map { bytes("keep\($0 * 2)") })
        #expect(list.sizesAreConsistent)
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
