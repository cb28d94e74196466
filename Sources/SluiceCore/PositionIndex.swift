/// A `FieldTable`'s index: from a field's 32-bit hash to the positions of the entries
/// with that hash, which the table then compares by their bytes.
///
/// Each entry costs one 8-byte cell, the hash beside the position: a look-up skips
/// entries of other hashes without reading them, and moving cells never needs the
/// entries. A dictionary keyed by the field held a reference to the field's array, its
/// hash and the position (24 bytes), in a table up to half empty.
///
/// It never grows all at once (linear hashing, `SplitOrder`):
/// the cells are spread over buckets by the hash's low bits, and once the entries pass
/// `splitLoad` per bucket, the next bucket in turn splits in two by its next bit. A bucket is a small
/// open-addressing table (linear probing, at most 3/4 full, deletion by moving later
/// cells back, so no tombstones).
struct PositionIndex: Sendable {
    /// A bucket's cells: `hash << 32 | (position + 1)`, 0 where empty.
    private var buckets: [[UInt64]] = [[]]
    /// Cells in use, per bucket.
    private var counts: [Int] = [0]
    private var order = SplitOrder()
    private let splitLoad: Int
    private(set) var count = 0

    /// Buckets average 4,096 entries, so a split moves about 4,000 cells at most.
    static var defaultSplitLoad: Int { 4096 }

    init() {
        splitLoad = Self.defaultSplitLoad
    }

    /// An index that splits past `splitLoad` entries per bucket; tests use small loads.
    init(splitLoad: Int) {
        precondition(splitLoad >= 1)
        self.splitLoad = splitLoad
    }

    var bucketCount: Int { buckets.count }

    /// The first position with `hash` for which `matches` holds.
    @inline(__always)
    func find(_ hash: UInt32, where matches: (Int) -> Bool) -> Int? {
        let cells = buckets[bucket(of: hash)]
        guard !cells.isEmpty else { return nil }
        let mask = cells.count - 1
        var slot = Self.start(hash, mask)
        while true {
            let cell = cells[slot]
            if cell == 0 { return nil }
            if UInt32(truncatingIfNeeded: cell >> 32) == hash {
                let position = Int(truncatingIfNeeded: cell & 0xFFFF_FFFF) - 1
                if matches(position) { return position }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `position` under `hash`.
    mutating func insert(_ hash: UInt32, position: Int) {
        precondition(position >= 0 && position < Int(UInt32.max), "a field table's position fits 32 bits")
        let bucket = self.bucket(of: hash)
        if (counts[bucket] + 1) * 4 > buckets[bucket].count * 3 {
            buckets[bucket] = Self.rebuilt(buckets[bucket], capacity: Swift.max(8, buckets[bucket].count * 2))
        }
        Self.place(UInt64(hash) << 32 | UInt64(position + 1), in: &buckets[bucket])
        counts[bucket] += 1
        count += 1
        if count > splitLoad * buckets.count { splitNext() }
    }

    /// Removes `position`, which is under `hash`.
    mutating func remove(_ hash: UInt32, position: Int) {
        let bucket = self.bucket(of: hash)
        Self.remove(UInt64(hash) << 32 | UInt64(position + 1), from: &buckets[bucket])
        counts[bucket] -= 1
        count -= 1
    }

    /// Changes the position of the entry at `old`, under `hash`, to `new`.
    mutating func move(_ hash: UInt32, from old: Int, to new: Int) {
        let bucket = self.bucket(of: hash)
        let mask = buckets[bucket].count - 1
        let cell = UInt64(hash) << 32 | UInt64(old + 1)
        var slot = Self.start(hash, mask)
        while buckets[bucket][slot] != cell {
            precondition(buckets[bucket][slot] != 0, "a position moved that the index does not hold")
            slot = (slot + 1) & mask
        }
        buckets[bucket][slot] = UInt64(hash) << 32 | UInt64(new + 1)
    }

    /// Whether every cell sits where a look-up finds it and the counts add up; for tests.
    var isConsistent: Bool {
        var total = 0
        for (index, cells) in buckets.enumerated() {
            let used = cells.filter { $0 != 0 }
            guard used.count == counts[index] else { return false }
            total += used.count
            for cell in used {
                let hash = UInt32(truncatingIfNeeded: cell >> 32)
                guard bucket(of: hash) == index,
                      find(hash, where: { $0 == Int(truncatingIfNeeded: cell & 0xFFFF_FFFF) - 1 }) != nil
                else { return false }
            }
        }
        return total == count
    }

    @inline(__always)
    private func bucket(of hash: UInt32) -> Int {
        order.bucket(of: Int(hash))
    }

    /// Where a hash's probe starts: a multiplicative mix, so that the low bits, which
    /// are the same for a bucket's hashes, still spread them.
    @inline(__always)
    private static func start(_ hash: UInt32, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(hash) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    private static func place(_ cell: UInt64, in cells: inout [UInt64]) {
        let mask = cells.count - 1
        var slot = start(UInt32(truncatingIfNeeded: cell >> 32), mask)
        while cells[slot] != 0 { slot = (slot + 1) & mask }
        cells[slot] = cell
    }

    /// Empties `cell`'s slot, then moves back each later cell of the run that a probe
    /// from its start would otherwise no longer reach.
    private static func remove(_ cell: UInt64, from cells: inout [UInt64]) {
        let mask = cells.count - 1
        var hole = start(UInt32(truncatingIfNeeded: cell >> 32), mask)
        while cells[hole] != cell {
            precondition(cells[hole] != 0, "a position removed that the index does not hold")
            hole = (hole + 1) & mask
        }
        var slot = hole
        while true {
            slot = (slot + 1) & mask
            let moving = cells[slot]
            if moving == 0 { break }
            let home = start(UInt32(truncatingIfNeeded: moving >> 32), mask)
            // The cell may move back unless its home lies after the hole, up to it.
            let stays = hole <= slot ? (home > hole && home <= slot) : (home > hole || home <= slot)
            if !stays {
                cells[hole] = moving
                hole = slot
            }
        }
        cells[hole] = 0
    }

    private static func rebuilt(_ cells: [UInt64], capacity: Int) -> [UInt64] {
        var grown = [UInt64](repeating: 0, count: capacity)
        for cell in cells where cell != 0 { place(cell, in: &grown) }
        return grown
    }

    /// The smallest capacity that holds `count` cells at most 3/4 full.
    private static func capacity(for count: Int) -> Int {
        var capacity = 8
        while count * 4 > capacity * 3 { capacity *= 2 }
        return capacity
    }

    /// Splits the next bucket in turn (`SplitOrder.advance`); the hash sits in a cell's
    /// upper 32 bits.
    @inline(never)
    private mutating func splitNext() {
        let (bucket, hashBit) = order.advance()
        let bit = UInt64(1) << (32 + hashBit)
        let cells = buckets[bucket]
        let moving = cells.reduce(0) { $0 + ($1 & bit != 0 ? 1 : 0) }
        var staying = [UInt64](repeating: 0, count: Self.capacity(for: counts[bucket] - moving))
        var moved = [UInt64](repeating: 0, count: Self.capacity(for: moving))
        for cell in cells where cell != 0 {
            if cell & bit != 0 { Self.place(cell, in: &moved) } else { Self.place(cell, in: &staying) }
        }
        buckets[bucket] = staying
        counts[bucket] -= moving
        buckets.append(moved)
        counts.append(moving)
    }
}
