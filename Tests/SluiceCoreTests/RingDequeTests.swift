import SeededRandom
import Testing
@testable import SluiceCore

@Suite("RingDeque")
struct RingDequeTests {
    @Test("pushes at both ends keep order and read back by position")
    func pushBothEnds() {
        var deque = RingDeque<Int>()
        deque.append(2)
        deque.append(3)
        deque.prepend(1)
        deque.prepend(0)
        #expect(Array(deque) == [0, 1, 2, 3])
        #expect(deque[0] == 0 && deque[3] == 3)
        #expect(deque.count == 4)
    }

    @Test("pops from both ends return elements in order and nil when empty")
    func popBothEnds() {
        var deque = RingDeque([1, 2, 3])
        #expect(deque.popFirst() == 1)
        #expect(deque.popLast() == 3)
        #expect(deque.popLast() == 2)
        #expect(deque.popFirst() == nil)
        #expect(deque.popLast() == nil)
        #expect(deque.isEmpty)
    }

    @Test("the buffer wraps around: a queue that cycles many times never grows")
    func wrapsAround() {
        var deque = RingDeque<Int>()
        for value in 0..<5 { deque.append(value) }
        for value in 5..<1_000 {
            #expect(deque.popFirst() == value - 5)
            deque.append(value)
        }
        #expect(Array(deque) == Array(995..<1_000))
        #expect(deque.capacity == RingDeque<Int>.minimumCapacity)
    }

    @Test("growth past the capacity keeps elements in order across the wrap point")
    func growsAcrossWrap() {
        var deque = RingDeque<Int>()
        for value in 0..<6 { deque.append(value) }
        for _ in 0..<4 { deque.popFirst() }
        for value in 6..<40 { deque.append(value) }
        for value in (-3)..<0 { deque.prepend(value + 2) }
        #expect(Array(deque) == [1, 0, -1] + Array(4..<40))
    }

    @Test("draining a long deque gives its memory back")
    func shrinks() {
        var deque = RingDeque(0..<1_024)
        #expect(deque.capacity >= 1_024)
        while deque.count > 3 { deque.popLast() }
        #expect(deque.capacity == RingDeque<Int>.minimumCapacity)
        #expect(Array(deque) == [0, 1, 2])
    }

    @Test("removeFirst and removeLast drop runs of elements, clamped to the count")
    func removeRuns() {
        var deque = RingDeque(0..<10)
        deque.removeFirst(3)
        deque.removeLast(2)
        #expect(Array(deque) == [3, 4, 5, 6, 7])
        deque.removeLast(0)
        deque.removeFirst(100)
        #expect(deque.isEmpty)
        deque.append(1)
        #expect(Array(deque) == [1])
    }

    @Test("removeAll with a limit removes the first matches from the front or the back")
    func removeMatches() {
        var deque = RingDeque([1, 2, 1, 3, 1])
        #expect(deque.removeAll(limit: 2) { $0 == 1 } == 2)
        #expect(Array(deque) == [2, 3, 1])
        deque = RingDeque([1, 2, 1, 3, 1])
        #expect(deque.removeAll(limit: 2, fromBack: true) { $0 == 1 } == 2)
        #expect(Array(deque) == [1, 2, 3])
        #expect(deque.removeAll { $0 == 9 } == 0)
        #expect(deque.removeAll { _ in true } == 3)
        #expect(deque.isEmpty)
    }

    @Test("removeAll and insert match an array doing the same, for random contents, wrap points, limits and ends")
    func randomRemovalsAndInserts() {
        var generator = SplitMix64(seed: 11)
        for _ in 0..<2_000 {
            var deque = RingDeque<Int>()
            var model: [Int] = []
            // Pops from the front first, so the contents start anywhere in the ring.
            for _ in 0..<Int.random(in: 0...20, using: &generator) { deque.append(0); deque.popFirst() }
            for _ in 0..<Int.random(in: 0...40, using: &generator) {
                let value = Int.random(in: 0...3, using: &generator)
                if Bool.random(using: &generator) { deque.append(value); model.append(value) } else { deque.prepend(value); model.insert(value, at: 0) }
            }
            let position = Int.random(in: 0...model.count, using: &generator)
            deque.insert(9, at: position)
            model.insert(9, at: position)
            #expect(Array(deque) == model)
            let target = Int.random(in: 0...3, using: &generator)
            let limit = Int.random(in: 0...5, using: &generator)
            let fromBack = Bool.random(using: &generator)
            var expected = model
            var removals = 0
            for index in (fromBack ? Array(model.indices.reversed()) : Array(model.indices)) where removals < limit && model[index] == target {
                expected.remove(at: index - (fromBack ? 0 : removals))
                removals += 1
            }
            #expect(deque.removeAll(limit: limit, fromBack: fromBack) { $0 == target } == removals)
            #expect(Array(deque) == expected, "removing \(target) up to \(limit) from the \(fromBack ? "back" : "front") of \(model)")
            #expect(deque.count == expected.count)
            deque.append(7)
            deque.prepend(8)
            #expect(Array(deque) == [8] + expected + [7])
        }
    }

    @Test("a copy is independent of the original (copy on write)")
    func copyOnWrite() {
        var original = RingDeque([1, 2])
        let copy = original
        original.append(3)
        original[0] = 9
        #expect(Array(copy) == [1, 2])
        #expect(Array(original) == [9, 2, 3])
        #expect(copy != original)
        #expect(copy == RingDeque([1, 2]))
    }

    @Test("insert puts an element before a position, also across the wrap point")
    func insertAtPosition() {
        var deque = RingDeque([3, 4, 5, 6])
        deque.popFirst()
        deque.popFirst()
        for value in 7..<12 { deque.append(value) }  // wraps in 8 slots
        deque.insert(0, at: 0)
        deque.insert(99, at: 3)
        deque.insert(100, at: deque.count)
        #expect(Array(deque) == [0, 5, 6, 99, 7, 8, 9, 10, 11, 100])
    }
}
