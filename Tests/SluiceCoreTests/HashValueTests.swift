import SeededRandom
import Testing
@testable import SluiceCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("HashValue")
struct HashValueTests {
    @Test("fields and values given where they lie agree with arrays: packed, then a table with long values")
    func rawBytesAgreeWithArrays() {
        var random = SplitMix64(seed: 11)
        var fromArrays = HashValue()
        var fromRaw = HashValue()
        for step in 0..<3_000 {
            let field = bytes("field-\(Int.random(in: 0..<300, using: &random))")
            // Up to 40 bytes: past what a packed hash or a table slot keeps in place.
            let value = bytes(String(repeating: "v", count: Int.random(in: 0...40, using: &random)) + "\(step)")
            if Int.random(in: 0..<4, using: &random) == 0 {
                let removed = field.withUnsafeBytes { fromRaw.remove($0) }
                #expect(removed == fromArrays.remove(field))
            } else {
                let added = field.withUnsafeBytes { field in value.withUnsafeBytes { fromRaw.set(field, $0) } }
                #expect(added == fromArrays.set(field, value))
            }
            #expect(field.withUnsafeBytes { fromRaw[$0] } == fromArrays[field])
        }
        #expect(!fromRaw.isPacked)
        #expect(fromRaw == fromArrays)
    }

    @Test("fields read back in insertion order, updates keep their place")
    func insertionOrder() {
        var hash = HashValue()
        let observed11 = hash.set(bytes("b"), bytes("1"))
        #expect(observed11)
        let observed12 = hash.set(bytes("a"), bytes("2"))
        #expect(observed12)
        let observed13 = hash.set(bytes("b"), bytes("3"))
        #expect(observed13 == false)
        #expect(hash.entries.map { String(decoding: $0.field, as: UTF8.self) } == ["b", "a"])
        #expect(hash[bytes("b")] == bytes("3"))
        #expect(hash[bytes("c")] == nil)
    }

    @Test("removal keeps the order of the rest, across compactions")
    func removal() {
        var hash = HashValue()
        for index in 0..<100 { hash.set(bytes("f\(index)"), bytes("\(index)")) }
        for index in stride(from: 0, to: 100, by: 2) { let observed14 = hash.remove(bytes("f\(index)")); #expect(observed14) }
        let observed15 = hash.remove(bytes("f0"))
        #expect(observed15 == false)
        #expect(hash.count == 50)
        #expect(hash.entries.map(\.value) == stride(from: 1, to: 100, by: 2).map { bytes("\($0)") })
        hash.set(bytes("new"), bytes("x"))
        #expect(hash.entries.last?.field == bytes("new"))
        #expect(hash[bytes("f51")] == bytes("51"))
        for index in stride(from: 1, to: 100, by: 2) { hash.remove(bytes("f\(index)")) }
        hash.remove(bytes("new"))
        #expect(hash.isEmpty)
        #expect(hash.entries.isEmpty)
    }

    @Test("a hash small enough to scan agrees with a model in values and order; once it builds its index, in values")
    func scannedThenIndexed() {
        var random = SplitMix64(seed: 3)
        var hash = HashValue()
        var model: [(field: String, value: String)] = []
        // Whether the hash has passed the scan limit, and so keeps an index from then on.
        var indexed = false
        func check(_ step: Int) {
            #expect(hash.count == model.count, "step \(step)")
            let fields = hash.entries.map { String(decoding: $0.field, as: UTF8.self) }
            // Past the scan limit a deletion moves the last field into its place, so the
            // order is kept only while the hash is scanned (as Redis keeps it only in a listpack).
            if !indexed {
                #expect(fields == model.map(\.field), "step \(step)")
            } else {
                #expect(fields.sorted() == model.map(\.field).sorted(), "step \(step)")
            }
            for pair in model {
                #expect(hash[bytes(pair.field)] == bytes(pair.value), "step \(step)")
            }
        }
        for round in 0..<2 {
            // Round 0 keeps to 100 fields (scanned); round 1 to 400 (indexed past 128).
            let fields = round == 0 ? 100 : 400
            for step in 0..<4_000 {
                let field = "f\(Int.random(in: 0..<fields, using: &random))"
                let existing = model.firstIndex { $0.field == field }
                if Int.random(in: 0..<3, using: &random) == 0 {
                    #expect(hash.remove(bytes(field)) == (existing != nil))
                    if let existing { model.remove(at: existing) }
                } else {
                    let value = "v\(step)"
                    #expect(hash.set(bytes(field), bytes(value)) == (existing == nil))
                    if let existing { model[existing].value = value } else { model.append((field, value)) }
                    if model.count > FieldTable<SmallBytes, SmallBytes>.scanLimit { indexed = true }
                }
                if step % 50 == 0 { check(step) }
            }
            check(round)
        }
    }

    @Test("a hash of 50,000 fields, over many index buckets and entry chunks, reads back after removals")
    func largeHash() {
        var hash = HashValue()
        for index in 0..<50_000 { hash.set(bytes("f\(index)"), bytes("\(index)")) }
        for index in stride(from: 0, to: 50_000, by: 3) { hash.remove(bytes("f\(index)")) }
        hash.set(bytes("f1"), bytes("one"))
        let expected = (0..<50_000).filter { $0 % 3 != 0 }
        #expect(hash.count == expected.count)
        // Indexed: deletions move the last field into their place, leaving no holes.
        #expect(hash.entries.map(\.field).sorted { $0.lexicographicallyPrecedes($1) }
            == expected.map { bytes("f\($0)") }.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(hash.slotCountForTests == hash.count)
        #expect(hash[bytes("f1")] == bytes("one"))
        #expect(hash[bytes("f49999")] == bytes("49999"))
        #expect(hash[bytes("f3")] == nil)
    }

    @Test("a copy is a value: changing either, small or indexed, leaves the other as it was")
    func copiesAreValues() {
        for size in [3, 200] {
            var original = HashValue()
            for index in 0..<size { original.set(bytes("f\(index)"), bytes("\(index)")) }
            let entries = original.entries, heapBytes = original.heapBytes
            var copy = original
            copy.set(bytes("f0"), bytes("changed"))
            copy.set(bytes("new"), bytes("x"))
            copy.remove(bytes("f1"))
            #expect(original.entries == entries)
            #expect(original.heapBytes == heapBytes)
            #expect(original[bytes("new")] == nil && original[bytes("f1")] == bytes("1"))
            original.remove(bytes("f2"))
            #expect(copy[bytes("f2")] == bytes("2"))
            #expect(copy.count == size)
            #expect(copy[bytes("f0")] == bytes("changed"))
        }
    }

    @Test("fields with the same 32-bit hash stay apart, scanned and indexed")
    func hashCollision() {
        // The hash is seeded per process, so the pair is found, not written down: among
        // about 80,000 fields two share 32 bits more often than not.
        var seen: [UInt32: [UInt8]] = [:]
        var pair: ([UInt8], [UInt8])?
        for number in 0..<2_000_000 where pair == nil {
            let field = bytes("f\(number)")
            let hash = FieldTable<SmallBytes, SmallBytes>.hash(field)
            if let other = seen[hash] { pair = (other, field) } else { seen[hash] = field }
        }
        guard let (first, second) = pair else {
            Issue.record("no two fields share a hash")
            return
        }
        for filler in [0, 300] {
            var table = FieldTable<SmallBytes, SmallBytes>()
            for number in 0..<filler { table.set(bytes("filler\(number)"), SmallBytes(bytes("\(number)"))) }
            table.set(first, SmallBytes(bytes("a")))
            let added = table.set(second, SmallBytes(bytes("b")))
            #expect(added)
            func payload(_ field: [UInt8]) -> SmallBytes? { field.withUnsafeBytes { table[$0] } }
            #expect(payload(first)?.array == bytes("a") && payload(second)?.array == bytes("b"))
            #expect(table.isConsistent)
            let removed = first.withUnsafeBytes { table.remove($0) }
            #expect(removed)
            #expect(payload(second)?.array == bytes("b") && payload(first) == nil)
            #expect(table.isConsistent)
        }
    }

    @Test("a hash's short fields and values sit in its slots: an entry is 40 bytes and an index cell")
    func shortEntriesInPlace() {
        #expect(MemoryLayout<SmallBytes>.size == 16)
        #expect(MemoryLayout<FieldTable<SmallBytes, SmallBytes>.Slot?>.stride == 40)
        var hash = HashValue()
        for number in 0..<10_000 { hash.set(bytes("user:\(100_000 + number)"), bytes("\(number)")) }
        #expect(!hash.isPacked)
        // The slot and two cells' worth of index (buckets between 3/8 and 3/4 full).
        #expect(hash.heapBytes / hash.count == 40 + 16)
        // A field or value past 14 bytes has an array of its own, counted apart.
        hash.set(bytes("a field of 15 b"), bytes("a value of 16 by"))
        #expect(hash.heapBytes == 10_001 * 56 + MemoryEstimate.bytes(15) + MemoryEstimate.bytes(16) + CopiedOnWrite<FieldTable<SmallBytes, SmallBytes>>.heapBytes)
        #expect(hash[bytes("a field of 15 b")] == bytes("a value of 16 by"))
        #expect(hash[bytes("user:100005")] == bytes("5"))
    }

    @Test("update changes a value in place, adds a new field, removes one left nil, and keeps the value when it throws")
    func update() {
        struct Refused: Error {}
        for size in [3, 200] {
            var hash = HashValue()
            for index in 0..<size { hash.set(bytes("f\(index)"), bytes("\(index)")) }
            let fresh = hash
            hash.update(bytes("f1")) { value in
                #expect(value == bytes("1"))
                value!.append(contentsOf: bytes("00"))
            }
            #expect(hash[bytes("f1")] == bytes("100"))
            hash.update(bytes("new")) { value in
                #expect(value == nil)
                value = bytes("x")
            }
            hash.update(bytes("f2")) { $0 = nil }
            hash.update(bytes("absent")) { _ in }
            #expect(throws: Refused.self) { try hash.update(bytes("f0")) { (value: inout [UInt8]?) throws(Refused) in value = nil; throw Refused() } }
            var expected = fresh
            expected.set(bytes("f1"), bytes("100"))
            expected.set(bytes("new"), bytes("x"))
            expected.remove(bytes("f2"))
            expected.remove(bytes("f0"))
            // What the body did before throwing stays done, as for a collection's commands.
            #expect(hash == expected)
            #expect(hash.heapBytes == expected.heapBytes)
            // A small hash keeps insertion order; an indexed one filled f0's and f2's places.
            if size == 3 { #expect(hash.entries.last?.field == bytes("new")) }
        }
    }

    @Test("equality ignores field order")
    func equality() {
        var one = HashValue()
        one.set(bytes("a"), bytes("1"))
        one.set(bytes("b"), bytes("2"))
        var two = HashValue()
        two.set(bytes("b"), bytes("2"))
        two.set(bytes("a"), bytes("1"))
        #expect(one == two)
        two.set(bytes("a"), bytes("9"))
        #expect(one != two)
    }

    @Test("HSCAN steps give every field of an indexed hash with its value, once each")
    func scanPairs() {
        var hash = HashValue()
        for number in 0..<300 { hash.set(bytes("f\(number)"), bytes("v\(number)")) }
        var seen: [[UInt8]: [UInt8]] = [:]
        var fields = 0
        var cursor: UInt64 = 0
        repeat {
            cursor = hash.scan(cursor: cursor, count: 7) { field, value in
                seen[field] = value
                fields += 1
            }
        } while cursor != 0
        #expect(fields == 300)
        #expect(seen.count == 300 && hash.entries.allSatisfy { seen[$0.field] == $0.value })
    }
}

@Suite("HashValue packed")
struct PackedHashValueTests {
    private struct Refused: Error {}

    @Test("a hash value fits in a key's value (16 bytes), packed or not")
    func fitsInValue() {
        #expect(MemoryLayout<HashValue>.size <= 16)
    }

    @Test("a hash stays packed up to 128 fields of up to 64 bytes, then moves to a table keeping order and values")
    func packLimits() {
        var hash = HashValue()
        for index in 0..<HashValue.packLimit { hash.set(bytes("f\(index)"), bytes("\(index)")) }
        #expect(hash.isPacked && hash.count == HashValue.packLimit)
        hash.set(bytes("f0"), bytes("again"))
        #expect(hash.isPacked)
        hash.set(bytes("one more"), bytes("x"))
        #expect(!hash.isPacked && hash.count == HashValue.packLimit + 1)
        #expect(hash.entries.map(\.field) == (0..<HashValue.packLimit).map { bytes("f\($0)") } + [bytes("one more")])
        #expect(hash[bytes("f0")] == bytes("again"))

        for (field, value) in [(Array(repeating: UInt8(1), count: 65), bytes("v")), (bytes("f"), Array(repeating: UInt8(2), count: 65))] {
            var small = HashValue()
            small.set(bytes("a"), bytes("1"))
            small.set(Array(repeating: UInt8(1), count: 64), Array(repeating: UInt8(2), count: 64))
            #expect(small.isPacked)
            small.set(field, value)
            #expect(!small.isPacked)
            #expect(small.entries.map(\.field) == [bytes("a"), Array(repeating: UInt8(1), count: 64), field])
            #expect(small[field] == value)
        }
    }

    @Test("update on a packed hash: a new field, a changed one, one grown past 64 bytes, one removed, one at the limit")
    func packedUpdate() {
        var hash = HashValue()
        hash.update(bytes("n")) { value in
            #expect(value == nil)
            value = bytes("1")
        }
        hash.update(bytes("n")) { value in value!.append(contentsOf: bytes("23")) }
        #expect(hash[bytes("n")] == bytes("123") && hash.isPacked)
        hash.set(bytes("gone"), bytes("x"))
        hash.update(bytes("gone")) { $0 = nil }
        hash.update(bytes("absent")) { _ in }
        #expect(hash.entries.map(\.field) == [bytes("n")] && hash.isPacked)

        var grown = hash
        grown.update(bytes("n")) { $0 = Array(repeating: 7, count: 65) }
        #expect(!grown.isPacked && grown[bytes("n")] == Array(repeating: 7, count: 65))
        #expect(hash[bytes("n")] == bytes("123"))

        var full = HashValue()
        for index in 0..<HashValue.packLimit { full.set(bytes("f\(index)"), bytes("v")) }
        full.update(bytes("new")) { $0 = bytes("x") }
        #expect(!full.isPacked && full.count == HashValue.packLimit + 1 && full[bytes("new")] == bytes("x"))
    }

    @Test("a throwing update keeps what it changed before throwing, and the hash stays whole")
    func throwingUpdate() {
        var hash = HashValue()
        hash.set(bytes("a"), bytes("1"))
        hash.set(bytes("b"), bytes("2"))
        #expect(throws: Refused.self) {
            try hash.update(bytes("a")) { (value: inout [UInt8]?) throws(Refused) in
                value = bytes("changed")
                throw Refused()
            }
        }
        #expect(throws: Refused.self) {
            try hash.update(bytes("b")) { (_: inout [UInt8]?) throws(Refused) in throw Refused() }
        }
        #expect(hash.entries == [HashValue.Entry(field: bytes("a"), value: bytes("changed")), HashValue.Entry(field: bytes("b"), value: bytes("2"))])
    }

    @Test("packed fields and values of any bytes: empty, binary, and lengths 0, 1, 63 and 64")
    func packedBytes() {
        var hash = HashValue()
        let pairs: [([UInt8], [UInt8])] = [([], bytes("empty field")), (bytes("empty value"), []), ([0, 255, 13, 10], [0]),
                                           (Array(repeating: 3, count: 63), Array(repeating: 4, count: 64))]
        for (field, value) in pairs { hash.set(field, value) }
        #expect(hash.isPacked)
        #expect(hash.entries.map(\.field) == pairs.map(\.0) && hash.entries.map(\.value) == pairs.map(\.1))
        for (field, value) in pairs { #expect(hash[field] == value) }
        // Shorter and longer values rewritten in place keep the others.
        hash.set([0, 255, 13, 10], Array(repeating: 9, count: 50))
        hash.set(Array(repeating: 3, count: 63), [])
        #expect(hash[[0, 255, 13, 10]] == Array(repeating: 9, count: 50) && hash[Array(repeating: 3, count: 63)] == [])
        #expect(hash[bytes("empty value")] == [] && hash[[]] == bytes("empty field"))
    }

    @Test("a packed hash of two short fields takes under half a table's heap")
    func packedMemory() {
        var packed = HashValue()
        packed.set(bytes("tokens"), bytes("9"))
        packed.set(bytes("ts"), bytes("1765000000123"))
        var table = packed
        table.set(Array(repeating: 1, count: 65), bytes("x"))
        table.remove(Array(repeating: 1, count: 65))
        #expect(packed.isPacked && !table.isPacked && table == packed)
        #expect(packed.heapBytes * 2 < table.heapBytes)
    }
}
