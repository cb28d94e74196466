import SeededRandom
import Testing
@testable import SluiceCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("SetValue")
struct SetValueTests {
    @Test("members given where they lie agree with arrays: packed, then a table with long members")
    func rawBytesAgreeWithArrays() {
        var random = SplitMix64(seed: 12)
        var fromArrays = SetValue()
        var fromRaw = SetValue()
        for _ in 0..<3_000 {
            let number = Int.random(in: 0..<400, using: &random)
            // Every third member is longer than a table slot keeps in place.
            let member = bytes(number % 3 == 0 ? "a-member-long-enough-to-need-an-array-\(number)" : "m\(number)")
            if Int.random(in: 0..<4, using: &random) == 0 {
                let removed = member.withUnsafeBytes { fromRaw.remove($0) }
                #expect(removed == fromArrays.remove(member))
            } else {
                let added = member.withUnsafeBytes { fromRaw.insert($0) }
                #expect(added == fromArrays.insert(member))
            }
            #expect(member.withUnsafeBytes { fromRaw.contains($0) } == fromArrays.contains(member))
        }
        #expect(!fromRaw.isPacked)
        #expect(fromRaw == fromArrays)
    }

    @Test("a set agrees with a model in members while scanned and once it builds its index")
    func agreesWithModel() {
        var random = SplitMix64(seed: 11)
        var set = SetValue()
        var model = Set<[UInt8]>()
        func check(_ step: Int) {
            #expect(set.count == model.count, "step \(step)")
            #expect(Set(set.members) == model, "step \(step)")
            #expect(set.members.count == model.count, "step \(step): a member listed twice")
        }
        for round in 0..<2 {
            // Round 0 keeps to 100 members (scanned); round 1 to 400 (indexed past 128).
            let members = round == 0 ? 100 : 400
            for step in 0..<4_000 {
                let member = bytes("m\(Int.random(in: 0..<members, using: &random))")
                switch Int.random(in: 0..<4, using: &random) {
                case 0: #expect(set.remove(member) == (model.remove(member) != nil), "step \(step)")
                case 1:
                    let popped = set.popRandom(using: &random)
                    #expect(popped.map { model.remove($0) != nil } ?? model.isEmpty, "step \(step)")
                default: #expect(set.insert(member) == model.insert(member).inserted, "step \(step)")
                }
                #expect(set.contains(member) == model.contains(member), "step \(step)")
                if step % 50 == 0 { check(step) }
            }
            check(round)
        }
    }

    @Test("popping at random takes every member once, then the set is empty")
    func popDrains() {
        var random = SplitMix64(seed: 5)
        let members = (0..<300).map { bytes("m\($0)") }
        var set = SetValue(members)
        var popped: [[UInt8]] = []
        while let member = set.popRandom(using: &random) { popped.append(member) }
        #expect(popped.count == 300)
        #expect(Set(popped) == Set(members))
        #expect(set.isEmpty && set.heapBytes == 0)
        #expect(set.randomMember(using: &random) == nil)
    }

    @Test("random members are spread over all members, holes skipped, packed or not", arguments: [20, 260])
    func randomIsSpread(size: Int) {
        var random = SplitMix64(seed: 9)
        var set = SetValue((0..<size).map { bytes("m\($0)") })
        // Holes where every other member was: a draw must never return one.
        for index in stride(from: 0, to: size, by: 2) { set.remove(bytes("m\(index)")) }
        #expect(set.isPacked == (size <= SetValue.packLimit))
        var seen: [[UInt8]: Int] = [:]
        for _ in 0..<(size * 500) { seen[set.randomMember(using: &random)!, default: 0] += 1 }
        #expect(Set(seen.keys) == Set(stride(from: 1, to: size, by: 2).map { bytes("m\($0)") }))
        // 1,000 expected each; a member drawn half as often as the others would fail.
        #expect(seen.values.allSatisfy { $0 > 800 && $0 < 1_200 }, "\(seen.values.sorted())")
    }

    @Test("a copy is a value: changing either, small or indexed, leaves the other as it was")
    func copiesAreValues() {
        var random = SplitMix64(seed: 1)
        for size in [3, 200] {
            var original = SetValue((0..<size).map { bytes("m\($0)") })
            let members = original.members, heapBytes = original.heapBytes
            var copy = original
            copy.insert(bytes("new"))
            copy.remove(bytes("m1"))
            _ = copy.popRandom(using: &random)
            #expect(original.members == members)
            #expect(original.heapBytes == heapBytes)
            #expect(!original.contains(bytes("new")) && original.contains(bytes("m1")))
            original.remove(bytes("m2"))
            #expect(copy.contains(bytes("new")))
            #expect(copy.count == size - 1)
        }
    }

    @Test("memory counts each member, and nothing once they are all gone")
    func memory() {
        var set = SetValue()
        set.insert(bytes("a"))
        let one = set.heapBytes
        // Packed: one small array of the member, its length and an empty value's.
        #expect(one > 0 && one <= MemoryEstimate.bytes(16))
        set.insert(bytes("a"))
        #expect(set.heapBytes == one)
        // A member past 64 bytes moves them into the table.
        set.insert(Array(repeating: 7, count: 100))
        #expect(!set.isPacked)
        // "a" sits in its slot; the 100-byte member has an array of its own.
        #expect(set.heapBytes == CopiedOnWrite<FieldTable<SmallBytes, NoPayload>>.heapBytes + 2 * MemoryEstimate.setMember
            + MemoryEstimate.bytes(100))
        set.remove(bytes("a"))
        set.remove(Array(repeating: 7, count: 100))
        #expect(set.heapBytes == 0 && set.isPacked)
    }

    @Test("a set value fits in a key's value (16 bytes), packed or not")
    func fitsInValue() {
        #expect(MemoryLayout<SetValue>.size <= 16)
    }

    @Test("a set stays packed up to 128 members of at most 64 bytes, then moves to the table, in the same order, until emptied")
    func packLimits() {
        var random = SplitMix64(seed: 3)
        let members = (0..<SetValue.packLimit).map { bytes("member:\($0 * 7919 % 1_000)") }
        var set = SetValue(members)
        #expect(set.isPacked && set.count == 128 && set.members == members)
        set.insert(members[5])
        #expect(set.isPacked)
        set.insert(bytes("one more"))
        #expect(!set.isPacked && set.members == members + [bytes("one more")])

        var long = SetValue([bytes("a"), Array(repeating: 1, count: 64)])
        #expect(long.isPacked)
        long.insert(Array(repeating: 2, count: 65))
        #expect(!long.isPacked && long.members == [bytes("a"), Array(repeating: 1, count: 64), Array(repeating: 2, count: 65)])
        while long.popRandom(using: &random) != nil {}
        long.insert(bytes("again"))
        #expect(long.isPacked && long.members == [bytes("again")])
    }

    @Test("packed members of any bytes: empty, binary, 63 and 64 bytes")
    func packedMembers() {
        let members: [[UInt8]] = [[], [0, 255, 13, 10], Array(repeating: 9, count: 63), Array(repeating: 8, count: 64)]
        var set = SetValue(members)
        #expect(set.isPacked && set.members == members)
        for member in members { #expect(set.contains(member)) }
        #expect(!set.contains([0]) && !set.contains(Array(repeating: 9, count: 62)))
        #expect(set.remove([]) && !set.remove([]))
        #expect(set.members == Array(members.dropFirst()))
    }

    @Test("10 short members packed take under half the table's memory")
    func packedMemory() {
        let members = (0..<10).map { bytes("item:\(1_000_000 + $0)") }
        let packed = SetValue(members)
        var table = SetValue(members + [Array(repeating: 0, count: 65)])
        table.remove(Array(repeating: 0, count: 65))
        #expect(packed.isPacked && !table.isPacked && packed == table)
        #expect(packed.heapBytes * 2 < table.heapBytes, "\(packed.heapBytes) \(table.heapBytes)")
    }

    @Test("repeated random draws come from every member, packed or not", arguments: [10, 300])
    func randomMembersRepeat(size: Int) {
        var random = SplitMix64(seed: 21)
        let set = SetValue((0..<size).map { bytes("m\($0)") })
        #expect(set.isPacked == (size <= SetValue.packLimit))
        let drawn = set.randomMembers(size * 100, using: &random)
        #expect(drawn.count == size * 100)
        var seen: [[UInt8]: Int] = [:]
        for member in drawn { seen[member, default: 0] += 1 }
        #expect(Set(seen.keys) == Set(set.members))
        #expect(seen.values.allSatisfy { $0 > 60 && $0 < 140 }, "\(seen.values.sorted())")
        #expect(SetValue().randomMembers(3, using: &random).isEmpty)
    }

    @Test("allSatisfy visits members in order and stops at the first that fails, packed or not", arguments: [20, 300])
    func allSatisfyStops(size: Int) {
        let set = SetValue((0..<size).map { bytes("m\($0)") })
        #expect(set.isPacked == (size <= SetValue.packLimit))
        var visited: [[UInt8]] = []
        #expect(!set.allSatisfy { member in
            visited.append(Array(member))
            return visited.count < 3
        })
        #expect(visited == [bytes("m0"), bytes("m1"), bytes("m2")])
        #expect(set.allSatisfy { _ in true })
    }

    @Test("equality ignores member order")
    func equality() {
        #expect(SetValue([bytes("a"), bytes("b")]) == SetValue([bytes("b"), bytes("a"), bytes("b")]))
        #expect(SetValue([bytes("a")]) != SetValue([bytes("a"), bytes("b")]))
        #expect(SetValue([bytes("a")]) != SetValue([bytes("b")]))
    }

    /// Every member a full SSCAN gives, from cursor 0 until the cursor is 0 again; `between`
    /// runs after each step that is not the last.
    private func scanAll(_ set: inout SetValue, count: Int, between: (inout SetValue) -> Void = { _ in }) -> (members: [[UInt8]], steps: Int) {
        var members: [[UInt8]] = []
        var cursor: UInt64 = 0
        var steps = 0
        repeat {
            cursor = set.scan(cursor: cursor, count: count) { members.append($0) }
            steps += 1
            if cursor != 0 { between(&set) }
        } while cursor != 0 && steps < 100_000
        return (members, steps)
    }

    @Test("SSCAN of a set without an index gives every member in one step, in insertion order")
    func scanSmall() {
        var set = SetValue([bytes("c"), bytes("a"), bytes("b")])
        set.remove(bytes("a"))
        let (members, steps) = scanAll(&set, count: 1)
        #expect(steps == 1)
        #expect(members == [bytes("c"), bytes("b")])
    }

    @Test("SSCAN of an unchanged indexed set gives each member once, count positions a step")
    func scanIndexed() {
        var set = SetValue((0..<1_000).map { bytes("m\($0)") })
        let (members, steps) = scanAll(&set, count: 10)
        #expect(steps == 100)
        #expect(members.count == 1_000)
        #expect(Set(members) == Set(set.members))
        // A cursor past the end starts again from the last position.
        var last: [[UInt8]] = []
        #expect(set.scan(cursor: 5_000, count: 3) { last.append($0) } == 997)
        #expect(last.count == 3)
    }

    @Test("SSCAN gives every member present throughout while members are removed and added between steps")
    func scanWhileChanging() {
        var random = SplitMix64(seed: 21)
        var set = SetValue((0..<2_000).map { bytes("m\($0)") })
        var removed = Set<[UInt8]>()
        var added = 0
        let (members, _) = scanAll(&set, count: 17) { set in
            for _ in 0..<6 {
                if let member = set.popRandom(using: &random) { removed.insert(member) }
            }
            for _ in 0..<4 {
                set.insert(bytes("new\(added)"))
                added += 1
            }
        }
        let throughout = Set((0..<2_000).map { bytes("m\($0)") }).subtracting(removed)
        #expect(throughout.count > 1_000)
        #expect(throughout.subtracting(members).isEmpty, "missed by the scan")
    }
}
