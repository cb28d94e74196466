import Testing
@testable import SluiceCore
import SeededRandom

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func members(_ elements: [SortedSet.Element]) -> [String] { elements.map { String(decoding: $0.member, as: UTF8.self) } }

/// A model's members and scores in Redis's order: by score, then by member bytes.
private func inRedisOrder(_ model: [String: Double]) -> [(key: String, value: Double)] {
    model.sorted { $0.value != $1.value ? $0.value < $1.value : Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
}

/// Sets `member`'s score in the set and the model, or removes it from both when `score`
/// is nil, checking what the set reports.
private func change(_ set: inout SortedSet, _ model: inout [String: Double], _ member: String, score: Double?) {
    guard let score else {
        #expect(set.remove(bytes(member)) == (model.removeValue(forKey: member) != nil))
        return
    }
    #expect(set.set(bytes(member), score: score) == (model[member] == nil))
    model[member] = score
}

@Suite("SortedSet")
struct SortedSetTests {
    @Test("members given where they lie agree with arrays: packed, then indexed with long members")
    func rawBytesAgreeWithArrays() {
        var random = SplitMix64(seed: 13)
        var fromArrays = SortedSet()
        var fromRaw = SortedSet()
        for _ in 0..<3_000 {
            let number = Int.random(in: 0..<400, using: &random)
            // Every third member is longer than the 22 bytes an indexed set keeps in place.
            let member = bytes(number % 3 == 0 ? "a-member-long-enough-to-need-an-array-\(number)" : "m\(number)")
            let score = Double(Int.random(in: 0..<50, using: &random))
            if Int.random(in: 0..<4, using: &random) == 0 {
                let removed = member.withUnsafeBytes { fromRaw.remove($0) }
                #expect(removed == fromArrays.remove(member))
            } else {
                let old = member.withUnsafeBytes { fromRaw.replaceScore(of: $0, with: score) }
                #expect(old == fromArrays.replaceScore(of: member, with: score))
            }
            #expect(member.withUnsafeBytes { fromRaw.score(of: $0) } == fromArrays.score(of: member))
            #expect(member.withUnsafeBytes { fromRaw.rank(of: $0) } == fromArrays.rank(of: member))
        }
        #expect(!fromRaw.isPacked)
        #expect(members(fromRaw.elements) == members(fromArrays.elements))
    }

    @Test("members are ordered by score, then by member bytes")
    func order() {
        var set = SortedSet()
        let observed1 = set.set(bytes("b"), score: 1)
        #expect(observed1)
        let observed2 = set.set(bytes("a"), score: 1)
        #expect(observed2)
        let observed3 = set.set(bytes("z"), score: 0)
        #expect(observed3)
        let observed4 = set.set(bytes("ab"), score: 1)
        #expect(observed4)
        let observed5 = set.set(bytes(""), score: 1)
        #expect(observed5)
        #expect(members(set.elements) == ["z", "", "a", "ab", "b"])
        #expect(set.count == 5)
    }

    @Test("a copy is a value: changing either, small or indexed, leaves the other as it was")
    func copiesAreValues() {
        for size in [3, 1_000] {
            var original = SortedSet()
            for index in 0..<size { original.set(bytes("m\(index)"), score: Double(index)) }
            let elements = original.elements, heapBytes = original.heapBytes
            var copy = original
            copy.set(bytes("m0"), score: -1)
            copy.set(bytes("new"), score: 0.5)
            copy.remove(bytes("m1"))
            copy.removeRanks(0..<1)
            #expect(original.elements == elements)
            #expect(original.heapBytes == heapBytes)
            #expect(original.score(of: bytes("m1")) == 1 && original.score(of: bytes("new")) == nil)
            original.remove(bytes("m2"))
            #expect(copy.score(of: bytes("m2")) == 2)
            #expect(copy.count == size - 1)
            #expect(copy.sizesAreConsistent && original.sizesAreConsistent)
        }
    }

    @Test("setting a member again moves it and reports it is not new")
    func update() {
        var set = SortedSet()
        set.set(bytes("a"), score: 1)
        set.set(bytes("b"), score: 2)
        let observed6 = set.set(bytes("a"), score: 3)
        #expect(observed6 == false)
        #expect(members(set.elements) == ["b", "a"])
        #expect(set.score(of: bytes("a")) == 3)
        #expect(set.rank(of: bytes("a")) == 1)
        #expect(set.count == 2)
    }

    @Test("a score of -0 is stored as 0")
    func negativeZero() {
        var set = SortedSet()
        set.set(bytes("a"), score: -0.0)
        #expect(set.score(of: bytes("a"))?.sign == .plus)
    }

    @Test("score ranges honour exclusive bounds and infinities")
    func scoreRanges() {
        var set = SortedSet()
        for (score, member) in [(-Double.infinity, "lo"), (1, "a"), (2, "b"), (2, "c"), (3, "d"), (.infinity, "hi")] {
            set.set(bytes(member), score: score)
        }
        #expect(set.ranks(from: .init(2), to: .init(2)) == 2..<4)
        #expect(set.ranks(from: .init(1, exclusive: true), to: .init(3, exclusive: true)) == 2..<4)
        #expect(set.ranks(from: .init(-.infinity), to: .init(.infinity)) == 0..<6)
        #expect(set.ranks(from: .init(-.infinity, exclusive: true), to: .init(.infinity, exclusive: true)) == 1..<5)
        #expect(set.ranks(from: .init(3), to: .init(1)).isEmpty)
        #expect(set.ranks(from: .init(10), to: .init(20)).isEmpty)
    }

    @Test("lex ranges select members between bounds when scores are equal")
    func lexRanges() {
        var set = SortedSet()
        for member in ["a", "ab", "b", "ba", "c"] { set.set(bytes(member), score: 0) }
        #expect(members(set.elements(ranks: set.ranks(from: .inclusive(bytes("a")), to: .inclusive(bytes("b"))))) == ["a", "ab", "b"])
        #expect(members(set.elements(ranks: set.ranks(from: .exclusive(bytes("a")), to: .exclusive(bytes("b"))))) == ["ab"])
        #expect(set.ranks(from: .minimum, to: .maximum) == 0..<5)
        #expect(set.ranks(from: .maximum, to: .minimum).isEmpty)
    }

    @Test("elements by rank read forwards and backwards across blocks")
    func ranksAcrossBlocks() {
        var set = SortedSet()
        for index in 0..<2_000 { set.set(bytes("m\(index)"), score: Double(index)) }
        #expect(set.elements(ranks: 510..<515).map(\.score) == [510, 511, 512, 513, 514])
        #expect(set.elements(ranks: 510..<515, reverse: true).map(\.score) == [514, 513, 512, 511, 510])
        #expect(set.elements(ranks: 1_995..<5_000).count == 5)
        #expect(set.element(atRank: 1_234).score == 1_234)
        #expect(set.rank(of: bytes("m1999")) == 1_999)
    }

    @Test("removing a rank range removes those members and keeps the rest ordered")
    func removeRanks() {
        var set = SortedSet()
        for index in 0..<3_000 { set.set(bytes("m\(index)"), score: Double(index)) }
        let observed7 = set.removeRanks(100..<2_900)
        #expect(observed7 == 2_800)
        #expect(set.count == 200)
        #expect(set.score(of: bytes("m100")) == nil)
        #expect(set.elements.map(\.score) == (0..<100).map(Double.init) + (2_900..<3_000).map(Double.init))
        #expect(set.rank(of: bytes("m2900")) == 100)
        let observed8 = set.removeRanks(0..<1_000)
        #expect(observed8 == 200)
        #expect(set.isEmpty)
        #expect(set.elements.isEmpty)
    }

    @Test("removing the oldest members as a rate limiter does keeps every rank right")
    func slidingWindow() {
        var set = SortedSet()
        var oldest = 0
        for now in 0..<5_000 {
            set.set(bytes("req-\(now)"), score: Double(now))
            // Keep a window of 700 entries, trimmed by score as ZREMRANGEBYSCORE does.
            let removed = set.removeRanks(set.ranks(from: .init(-.infinity), to: .init(Double(now - 700), exclusive: false)))
            oldest += removed
            #expect(set.count == now - oldest + 1)
        }
        #expect(set.count == 700)
        #expect(set.element(atRank: 0).score == 4_300)
        #expect(set.rank(of: bytes("req-4999")) == 699)
    }

    @Test("a window spanning many blocks, trimmed within its oldest block, keeps every block size right")
    func slidingWindowAcrossBlocks() {
        var set = SortedSet()
        for now in 0..<12_000 {
            set.set(bytes("req-\(now)"), score: Double(now))
            set.removeRanks(set.ranks(from: .init(-.infinity), to: .init(Double(now - 5_000), exclusive: false)))
            if now % 250 == 0 { #expect(set.sizesAreConsistent, "step \(now)") }
        }
        #expect(set.count == 5_000)
        #expect(set.sizesAreConsistent)
        #expect(set.rank(of: bytes("req-9000")) == 2_000)
        #expect(set.element(atRank: 4_321).score == 11_321)
    }

    @Test("a set small enough to scan agrees with a model, and keeps agreeing once it builds its dictionary")
    func scannedThenIndexed() {
        var random = SplitMix64(seed: 11)
        var set = SortedSet()
        var model: [String: Double] = [:]
        func check(_ step: Int) {
            #expect(set.count == model.count, "step \(step)")
            for index in 0..<260 where index % 7 == step % 7 {
                #expect(set.score(of: bytes("m\(index)")) == model["m\(index)"], "step \(step) m\(index)")
            }
        }
        // Members m0 ..< m120 only: the set never passes 128 and is scanned.
        for step in 0..<3_000 {
            let member = "m\(Int.random(in: 0..<120, using: &random))"
            let removing = Int.random(in: 0..<3, using: &random) == 0
            change(&set, &model, member, score: removing ? nil : Double(Int.random(in: 0..<40, using: &random)))
            check(step)
        }
        let scanned = set
        // Past 128 members the dictionary is built from the order.
        for index in 120..<260 {
            set.set(bytes("m\(index)"), score: Double(index))
            model["m\(index)"] = Double(index)
        }
        check(0)
        #expect(set.sizesAreConsistent)
        for index in 120..<260 { set.remove(bytes("m\(index)")) }
        #expect(set == scanned)
        #expect(set.rank(of: bytes("m5")) == scanned.rank(of: bytes("m5")))
    }

    /// 120 members stay packed throughout; 1,500 take the blocks and the dictionary.
    @Test("random operations agree with a sorted array model", arguments: [120, 1_500])
    func randomAgainstModel(members universe: Int) {
        var random = SplitMix64(seed: 42)
        var set = SortedSet()
        var model: [String: Double] = [:]
        for step in 0..<20_000 {
            // Members short, of 15 to 22 bytes (in their slots too), and longer (in arrays).
            let number = Int.random(in: 0..<universe, using: &random)
            let member = ["m\(number)", "item:\(number):0123456789", "a member past twenty-two bytes \(number)"][number % 3]
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<6:
                let score = Double(Int.random(in: -50..<50, using: &random)) / 4
                let observed9 = set.set(bytes(member), score: score)
                #expect(observed9 == (model[member] == nil))
                model[member] = score
            case 6..<9:
                let observed10 = set.remove(bytes(member))
                let existed = model.removeValue(forKey: member) != nil
                #expect(observed10 == existed)
            default:
                let low = Double(Int.random(in: -15..<15, using: &random))
                let range = set.ranks(from: .init(low), to: .init(low + 3, exclusive: true))
                let expected = model.filter { $0.value >= low && $0.value < low + 3 }.count
                #expect(range.count == expected)
                set.removeRanks(range)
                model = model.filter { !($0.value >= low && $0.value < low + 3) }
            }
            #expect(set.sizesAreConsistent, "step \(step)")
            if step % 1_000 == 999 {
                let sorted = inRedisOrder(model)
                #expect(members(set.elements) == sorted.map(\.key))
                #expect(set.count == model.count)
                #expect(members(set.elements(ranks: 3..<9, reverse: true)) == sorted.dropFirst(3).prefix(6).reversed().map(\.key))
                for (rank, pair) in sorted.enumerated() where rank % 37 == 0 {
                    #expect(set.rank(of: bytes(pair.key)) == rank)
                    #expect(set.element(atRank: rank).member == bytes(pair.key))
                }
            }
        }
    }

    @Test("ranks stay right across hundreds of blocks as members come and go anywhere")
    func ranksAcrossManyBlocks() {
        var random = SplitMix64(seed: 7)
        var set = SortedSet()
        var scores = Array(0..<60_000).shuffled(using: &random)
        for score in scores { set.set(bytes("m\(score)"), score: Double(score)) }
        // Remove a random third, so blocks shrink, empty and merge all along the order.
        scores.shuffle(using: &random)
        for score in scores.prefix(20_000) { set.remove(bytes("m\(score)")) }
        let kept = scores.dropFirst(20_000).sorted()
        #expect(set.count == kept.count)
        #expect(set.sizesAreConsistent)
        for _ in 0..<2_000 {
            let rank = Int.random(in: 0..<kept.count, using: &random)
            #expect(set.rank(of: bytes("m\(kept[rank])")) == rank)
            #expect(set.element(atRank: rank).score == Double(kept[rank]))
        }
        #expect(set.elements(ranks: 29_990..<30_010).map(\.score) == kept[29_990..<30_010].map(Double.init))
    }

    @Test("runs of equal scores spanning many blocks keep members in byte order as members come and go")
    func equalScoresAcrossBlocks() {
        var random = SplitMix64(seed: 11)
        var set = SortedSet()
        var model: [String: Double] = [:]
        for step in 0..<12_000 {
            // Three scores for up to 6,000 members: each score's run spans several blocks.
            let member = "member \(Int.random(in: 0..<6_000, using: &random))"
            let removing = Int.random(in: 0..<4, using: &random) == 0
            change(&set, &model, member, score: removing ? nil : Double(Int.random(in: 0..<3, using: &random)))
            if step % 500 == 499 {
                #expect(set.sizesAreConsistent, "step \(step)")
                let sorted = inRedisOrder(model)
                #expect(members(set.elements) == sorted.map(\.key))
                for (rank, pair) in sorted.enumerated() where rank % 97 == 0 {
                    #expect(set.rank(of: bytes(pair.key)) == rank)
                }
                #expect(set.ranks(from: .init(1), to: .init(1)).count == model.values.filter { $0 == 1 }.count)
            }
        }
        // Trimming the lowest run in pieces, as a limiter trims, keeps the rest in order.
        while set.count > 100 { set.removeRanks(0..<Swift.min(700, set.count - 100)) }
        #expect(set.sizesAreConsistent && set.count == 100)
        #expect(members(set.elements) == Array(inRedisOrder(model).map(\.key).suffix(100)))
    }

    @Test("equality compares members and scores, not the block layout")
    func equality() {
        var grown = SortedSet()
        for index in 0..<1_000 { grown.set(bytes("m\(index)"), score: 1) }
        grown.removeRanks(10..<1_000)
        // The same members inserted afresh sit in one small block.
        var expected = SortedSet()
        for element in grown.elements { expected.set(element.member, score: element.score) }
        #expect(grown == expected)
        #expect(grown != SortedSet())
    }

    /// Every element a full ZSCAN gives and its steps' sizes; `between` runs after each
    /// step that is not the last.
    private func scanAll(_ set: inout SortedSet, count: Int, between: (inout SortedSet) -> Void = { _ in }) -> (elements: [SortedSet.Element], steps: [Int]) {
        var elements: [SortedSet.Element] = []
        var steps: [Int] = []
        var cursor: UInt64 = 0
        repeat {
            let step = set.scan(cursor: cursor, count: count)
            elements += step.elements
            steps.append(step.elements.count)
            cursor = step.cursor
            if cursor != 0 { between(&set) }
        } while cursor != 0 && steps.count < 100_000
        return (elements, steps)
    }

    @Test("ZSCAN of a set without its dictionary gives every element in order in one step")
    func scanSmall() {
        var set = SortedSet()
        set.set(bytes("b"), score: 2)
        set.set(bytes("a"), score: 1)
        set.set(bytes("c"), score: -.infinity)
        let (elements, steps) = scanAll(&set, count: 1)
        #expect(steps == [3])
        #expect(members(elements) == ["c", "a", "b"])
    }

    @Test("ZSCAN of an unchanged indexed set gives each element once, in order")
    func scanIndexed() {
        var set = SortedSet()
        for number in 0..<1_000 { set.set(bytes("m\(number)"), score: Double(number) - 500.5) }
        let (elements, steps) = scanAll(&set, count: 10)
        #expect(steps.count == 100)
        #expect(elements == set.elements)
        // A cursor above every score's ends the scan.
        #expect(set.scan(cursor: .max, count: 10).elements.isEmpty)
        #expect(set.scan(cursor: .max, count: 10).cursor == 0)
    }

    @Test("ZSCAN gives a run of equal scores in one step, however small the count")
    func scanTies() {
        var set = SortedSet()
        for number in 0..<300 { set.set(bytes("tie\(number)"), score: 1) }
        for number in 0..<100 { set.set(bytes("low\(number)"), score: Double(number) / 1_000) }
        for number in 0..<100 { set.set(bytes("high\(number)"), score: Double(number + 2)) }
        let (elements, steps) = scanAll(&set, count: 5)
        #expect(elements == set.elements)
        #expect(steps.max() == 300)
        #expect(steps.filter { $0 == 300 }.count == 1)
    }

    @Test("ZSCAN gives every element present throughout while others are added and removed between steps")
    func scanWhileChanging() {
        var random = SplitMix64(seed: 17)
        var set = SortedSet()
        for number in 0..<2_000 { set.set(bytes("m\(number)"), score: Double(Int.random(in: 0..<400, using: &random))) }
        var removed = Set<[UInt8]>()
        var added = 0
        let (elements, _) = scanAll(&set, count: 13) { set in
            for _ in 0..<5 {
                let member = bytes("m\(Int.random(in: 0..<2_000, using: &random))")
                if set.remove(member) { removed.insert(member) }
            }
            for _ in 0..<5 {
                set.set(bytes("new\(added)"), score: Double(Int.random(in: 0..<400, using: &random)))
                added += 1
            }
        }
        let throughout = Set((0..<2_000).map { bytes("m\($0)") }).subtracting(removed)
        #expect(throughout.count > 1_000)
        #expect(throughout.subtracting(elements.map(\.member)).isEmpty, "missed by the scan")
        #expect(elements.allSatisfy { set.score(of: $0.member) == nil || set.score(of: $0.member) == $0.score })
    }

    @Test("a scan cursor orders scores as doubles do and is never 0")
    func scanKeyOrder() {
        let scores: [Double] = [-.infinity, -1e300, -1, -.leastNonzeroMagnitude, 0, .leastNonzeroMagnitude, 0.1, 1, 1e300, .infinity]
        let keys = scores.map(SortedSet.Contents.scanKey)
        #expect(keys == keys.sorted())
        #expect(Set(keys).count == keys.count)
        #expect(!keys.contains(0))
        #expect(SortedSet.Contents.scanKey(-0.0) < SortedSet.Contents.scanKey(0))
    }

    @Test("a packed set keeps long, empty and binary members, infinite scores and byte order")
    func packedMembers() {
        var set = SortedSet()
        let long = [UInt8](repeating: 0x80, count: 200)
        let huge = [UInt8](repeating: 0xFF, count: 20_000)
        let members: [[UInt8]] = [[], long, huge, [0], [0, 0], bytes("b"), bytes("a\r\n"), [0x80, 0x01]]
        for member in members { set.set(member, score: 1) }
        #expect(set.ranks(from: .inclusive([0]), to: .exclusive(bytes("b"))) == 1..<4)
        set.set(bytes("low"), score: -.infinity)
        set.set(bytes("high"), score: .infinity)
        #expect(set.count == members.count + 2)
        #expect(set.sizesAreConsistent)
        for member in members { #expect(set.score(of: member) == 1) }
        // Equal scores order by bytes, a prefix first; the infinities at the ends.
        let expected = [bytes("low")] + members.sorted { compareBytes($0, $1) < 0 } + [bytes("high")]
        #expect(set.elements.map(\.member) == expected)
        #expect(set.rank(of: huge) == expected.firstIndex(of: huge))
        #expect(set.ranks(from: .init(1, exclusive: true), to: .init(.infinity)) == members.count + 1..<members.count + 2)
        let removed = set.remove(long)
        let removedAgain = set.remove(long)
        #expect(removed && !removedAgain)
        #expect(set.score(of: huge) == 1 && set.score(of: long) == nil)
        let cut = set.removeRanks(0..<3)
        #expect(cut == 3)
        #expect(set.elements.map(\.member) == Array(expected.dropFirst(3).filter { $0 != long }))
        set.set(huge, score: -1)
        #expect(set.element(atRank: 0) == SortedSet.Element(score: -1, member: huge))
    }

    @Test("a packed set takes less memory than the same set in blocks")
    func packedMemory() {
        var packed = SortedSet()
        for number in 0..<100 { packed.set(bytes("item:\(number):0123456789"), score: Double(number)) }
        var indexed = packed
        for number in 100..<200 { indexed.set(bytes("item:\(number):0123456789"), score: Double(number)) }
        for number in 100..<200 { indexed.remove(bytes("item:\(number):0123456789")) }
        #expect(indexed == packed)
        #expect(packed.isPacked && !indexed.isPacked)
        #expect(packed.heapBytes * 2 < indexed.heapBytes)
    }

    @Test("an indexed set keeps a member of up to 22 bytes in its slot, and a longer one in one array")
    func membersInTheirSlots() {
        var short = SortedSet()
        var long = SortedSet()
        var arrays = 0
        for number in 0..<1_000 {
            // 17 to 19 bytes, as pyrate-limiter's `item:<10 hex digits>:1`; then 34 to 36.
            short.set(bytes("item:\(number):0123456789"), score: Double(number))
            long.set(bytes("item:\(number):0123456789abcdefghijklmnop"), score: Double(number))
            arrays += MemoryEstimate.bytes(bytes("item:\(number):0123456789abcdefghijklmnop").count)
        }
        #expect(!short.isPacked && !long.isPacked)
        #expect(short.heapBytes == CopiedOnWrite<SortedSet.Contents>.heapBytes + 1_000 * MemoryEstimate.sortedSetMember)
        #expect(long.heapBytes == short.heapBytes + arrays)
        #expect(short.element(atRank: 999) == SortedSet.Element(score: 999, member: bytes("item:999:0123456789")))
        #expect(long.element(atRank: 999) == SortedSet.Element(score: 999, member: bytes("item:999:0123456789abcdefghijklmnop")))
        // A member's slot: 24 bytes of member, its score and its hash.
        #expect(MemoryLayout<MemberBytes>.size == 24 && MemoryLayout<FieldTable<MemberBytes, Double>.Slot?>.stride == 40)
    }

    @Test("member bytes of every length from 0 to 40 read back as written and compare by their bytes")
    func memberBytesRoundTrip() {
        for count in 0...40 {
            let written = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 1) }
            let member = MemberBytes(written)
            #expect(member.array == written)
            #expect(member.heapBytes == (count <= MemberBytes.inlineCapacity ? 0 : MemoryEstimate.bytes(count)))
            #expect(written.withUnsafeBytes { member.equals($0) })
            #expect(!(written + [0]).withUnsafeBytes { member.equals($0) })
        }
    }

    @Test("a sorted set value fits in a key's value (16 bytes), packed or indexed")
    func fitsInValue() {
        #expect(MemoryLayout<SortedSet>.size <= 16)
    }

    @Test("a set is packed up to 128 members, indexed past them, and packed again once emptied")
    func packedUntilEmptied() {
        var set = SortedSet()
        for number in 0..<SortedSet.scanLimit { set.set(bytes("m\(number)"), score: Double(number)) }
        #expect(set.isPacked)
        let packedBytes = set.heapBytes
        set.set(bytes("one more"), score: -1)
        #expect(!set.isPacked && set.count == SortedSet.scanLimit + 1 && set.rank(of: bytes("one more")) == 0)
        // The indexed set holds its box, blocks and dictionary.
        #expect(set.heapBytes > packedBytes)
        set.removeRanks(0..<100)
        #expect(!set.isPacked && set.count == SortedSet.scanLimit + 1 - 100)
        set.removeRanks(0..<set.count)
        #expect(set.isPacked && set.isEmpty && set.heapBytes == 0)
        set.set(bytes("again"), score: 1)
        #expect(set.isPacked && set.elements == [SortedSet.Element(score: 1, member: bytes("again"))])
    }

    /// pyrate-limiter adds each hit at the end (its score a timestamp) and trims the
    /// oldest: full blocks stay full, and no block keeps the room a split left behind.
    @Test("a set growing at its end fills block after block, each array about its size")
    func growingAtTheEnd() {
        var set = SortedSet()
        for number in 0..<2_000 { set.set(bytes("item:\(number)"), score: 1_765_000_000_000 + Double(number)) }
        let shapes = set.blockShapes
        #expect(shapes.map(\.count) == [512, 512, 512, 464], "\(shapes)")
        let elements = shapes.reduce(0) { $0 + $1.count }, capacity = shapes.reduce(0) { $0 + $1.capacity }
        #expect(capacity * 10 <= elements * 11, "\(shapes)")
        // Trimming the oldest keeps the order and the sizes right.
        set.removeRanks(0..<700)
        #expect(set.count == 1_300 && set.rank(of: bytes("item:700")) == 0 && set.sizesAreConsistent)
        // A split in the middle leaves both halves about their size too.
        for number in 0..<300 { set.set(bytes("middle:\(number)"), score: 1_765_000_001_000.5) }
        #expect(set.blockShapes.allSatisfy { $0.count <= SortedSet.maximumBlockSize && $0.capacity <= 2 * $0.count + 16 })
        #expect(set.sizesAreConsistent)
    }
}
