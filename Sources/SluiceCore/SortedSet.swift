#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Redis sorted set: unique members (raw bytes), each with a score, ordered by
/// (score, member bytes).
///
/// A dictionary answers "what is this member's score" in O(1). The order is kept as a
/// list of sorted blocks of at most `maximumBlockSize` elements (a two-level B-tree,
/// as Python's `sortedcontainers` does): finding a position is a binary search over the
/// blocks' last elements then inside one block, and inserting or removing shifts at most
/// one block. Rate limiters add at the end (timestamps grow) and trim the front, which
/// touch only the last or first block. The blocks' sizes are also kept in a Fenwick
/// tree, so the rank of a block's first element, and the block holding a rank, take
/// O(log blocks) steps; a block split, emptied or merged rebuilds the tree.
public struct SortedSet: Sendable {
    public struct Element: Sendable, Equatable {
        public var score: Double
        public var member: [UInt8]

        public init(score: Double, member: [UInt8]) {
            self.score = score
            self.member = member
        }

        /// Redis's order: by score, then by member bytes (memcmp, shorter first on a tie).
        @inline(__always)
        public func precedes(_ other: Element) -> Bool {
            if score != other.score { return score < other.score }
            return compareBytes(member, other.member) < 0
        }
    }

    /// A score bound of `ZRANGEBYSCORE`/`ZCOUNT`: inclusive, or exclusive with `(`.
    public struct ScoreBound: Sendable, Equatable {
        public var value: Double
        public var exclusive: Bool

        public init(_ value: Double, exclusive: Bool = false) {
            self.value = value
            self.exclusive = exclusive
        }
    }

    /// A member bound of `ZRANGE ... BYLEX`: `-`, `+`, `[member` or `(member`.
    public enum LexBound: Sendable, Equatable {
        case minimum
        case maximum
        case inclusive([UInt8])
        case exclusive([UInt8])
    }

    static let maximumBlockSize = 512
    /// A block shrunk below this merges with its neighbour, so removals cannot leave
    /// many tiny blocks behind.
    static let minimumBlockSize = 128

    /// A set of at most this many members finds a member by scanning the order, as Redis
    /// scans a small sorted set's listpack: no dictionary to allocate, fill and hash into.
    static let scanLimit = 128

    /// Until the set first passes `scanLimit` members its elements are packed into one
    /// byte array (`PackedElements`); then they move into `Contents` (blocks and a member
    /// dictionary), `CopiedOnWrite`, as Redis converts a listpack into a skiplist once,
    /// and stay there until the set is emptied. A packed set has no box of its own: that
    /// box, holding the fields only an indexed set uses, had cost every small set one
    /// more allocation.
    private enum Storage {
        case packed(PackedElements)
        case indexed(CopiedOnWrite<Contents>)
    }

    private var storage = Storage.packed(PackedElements())

    public init() {}

    /// The heap object holding an indexed set's contents.
    private static let contentsBytes = CopiedOnWrite<Contents>.heapBytes

    public var count: Int {
        switch storage {
        case .packed(let packed): packed.count
        case .indexed(let box): box.contents.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// Whether the elements are packed (for tests of the layout).
    public var isPacked: Bool {
        if case .packed = storage { true } else { false }
    }

    /// Heap bytes of the set: the packed array, or the box, the members and their places
    /// in the index and the blocks, kept up to date so the keyspace's memory estimate
    /// reads it in O(1).
    public var heapBytes: Int {
        switch storage {
        case .packed(let packed): packed.bytes.heapBytes
        case .indexed(let box): Self.contentsBytes + box.contents.heapBytes
        }
    }

    /// Each block's element count and array capacity; none while packed (for tests).
    var blockShapes: [(count: Int, capacity: Int)] {
        if case .indexed(let box) = storage { box.contents.blockShapes } else { [] }
    }

    var sizesAreConsistent: Bool {
        switch storage {
        case .packed(let packed): packed.count <= Self.scanLimit
        case .indexed(let box): box.contents.sizesAreConsistent
        }
    }

    public func score(of member: [UInt8]) -> Double? {
        member.withUnsafeBytes { score(of: $0) }
    }

    /// `score(of:)` for a member read where it lies (a command's argument); so are the
    /// other raw-byte forms below.
    public func score(of member: UnsafeRawBufferPointer) -> Double? {
        switch storage {
        case .packed(let packed): packed.place(of: member)?.score
        case .indexed(let box): box.contents.score(of: member)
        }
    }

    /// The 0-based position of `member` in ascending order, or nil when absent.
    public func rank(of member: [UInt8]) -> Int? {
        member.withUnsafeBytes { rank(of: $0) }
    }

    public func rank(of member: UnsafeRawBufferPointer) -> Int? {
        switch storage {
        case .packed(let packed): packed.place(of: member)?.index
        case .indexed(let box): box.contents.rank(of: member)
        }
    }

    /// The element at `rank` (0-based, ascending); the rank must be valid.
    public func element(atRank rank: Int) -> Element {
        precondition(rank >= 0 && rank < count, "rank \(rank) out of range")
        switch storage {
        case .packed(let packed): return packed.elements(rank..<rank + 1)[0]
        case .indexed(let box): return box.contents.element(atRank: rank)
        }
    }

    /// The elements with ranks in `ranks` (clamped), ascending, or descending with `reverse`.
    public func elements(ranks: Range<Int>, reverse: Bool = false) -> [Element] {
        let ranks = ranks.clamped(to: 0..<count)
        guard !ranks.isEmpty else { return [] }
        switch storage {
        case .packed(let packed):
            let elements = packed.elements(ranks)
            return reverse ? elements.reversed() : elements
        case .indexed(let box):
            return box.contents.elements(ranks: ranks, reverse: reverse)
        }
    }

    /// Calls `body` with the score and member bytes of each element with a rank in
    /// `ranks` (clamped), ascending or descending: a reply written from them needs no
    /// element values, whose members a packed set would have to copy out.
    public func forEach(ranks: Range<Int>, reverse: Bool = false, _ body: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Void) {
        let ranks = ranks.clamped(to: 0..<count)
        guard !ranks.isEmpty else { return }
        switch storage {
        case .packed(let packed): packed.forEach(ranks, reverse: reverse, body)
        case .indexed(let box): box.contents.forEach(ranks: ranks, reverse: reverse, body)
        }
    }

    /// The ranks of the elements whose scores lie between `minimum` and `maximum`.
    public func ranks(from minimum: ScoreBound, to maximum: ScoreBound) -> Range<Int> {
        let lower = firstRank(whereScore: { minimum.exclusive ? $0 > minimum.value : $0 >= minimum.value })
        let upper = firstRank(whereScore: { maximum.exclusive ? $0 >= maximum.value : $0 > maximum.value })
        return lower..<Swift.max(lower, upper)
    }

    /// The ranks of the elements whose members lie between `minimum` and `maximum`. As in
    /// Redis, meaningful when all scores are equal (members are then in byte order).
    public func ranks(from minimum: LexBound, to maximum: LexBound) -> Range<Int> {
        let lower = firstRank { _, member in !Self.below(minimum, member) }
        let upper = firstRank { _, member in Self.above(maximum, member) }
        return lower..<Swift.max(lower, upper)
    }

    /// Every element in ascending order.
    public var elements: [Element] {
        switch storage {
        case .packed(let packed): packed.elements(0..<packed.count)
        case .indexed(let box): box.contents.elements
        }
    }

    /// One step of `ZSCAN` from `cursor` (0 to begin): the next elements in order and the
    /// next step's cursor, 0 once done. A packed set comes whole in one step, as Redis
    /// answers for a listpack (`Contents.scan` for an indexed one).
    public func scan(cursor: UInt64, count: Int) -> (elements: [Element], cursor: UInt64) {
        switch storage {
        case .packed: (elements, 0)
        case .indexed(let box): box.contents.scan(cursor: cursor, count: count)
        }
    }

    /// Sets `member`'s score; returns true when the member is new.
    @discardableResult
    public mutating func set(_ member: [UInt8], score: Double) -> Bool {
        replaceScore(of: member, with: score) == nil
    }

    @discardableResult
    public mutating func set(_ member: UnsafeRawBufferPointer, score: Double) -> Bool {
        replaceScore(of: member, with: score) == nil
    }

    /// Sets `member`'s score and returns the one it had, nil when it is new: a plain
    /// `ZADD` learns both in one look-up. A score of -0 is kept as 0, which is what
    /// Redis reads back.
    @discardableResult
    public mutating func replaceScore(of member: [UInt8], with score: Double) -> Double? {
        member.withUnsafeBytes { replaceScore(of: $0, with: score) }
    }

    @discardableResult
    public mutating func replaceScore(of member: UnsafeRawBufferPointer, with score: Double) -> Double? {
        let score = score == 0 ? 0 : score
        let old = modify(packed: { $0.set(member, score: score) }, indexed: { $0.set(member, score: score) })
        if old == nil, case .packed(let packed) = storage, packed.count > Self.scanLimit {
            storage = .indexed(CopiedOnWrite(Contents(packed.elements(0..<packed.count))))
        }
        return old
    }

    /// Removes `member`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ member: [UInt8]) -> Bool {
        member.withUnsafeBytes { remove($0) }
    }

    @discardableResult
    public mutating func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        modify(packed: { packed in
            guard let place = packed.place(of: member) else { return false }
            packed.remove(place)
            return true
        }, indexed: { $0.remove(member) })
    }

    /// Removes the members at `ranks` (clamped to the set); returns how many.
    @discardableResult
    public mutating func removeRanks(_ ranks: Range<Int>) -> Int {
        let ranks = ranks.clamped(to: 0..<count)
        guard !ranks.isEmpty else { return 0 }
        return modify(packed: { packed in
            packed.remove(ranks)
            return ranks.count
        }, indexed: { $0.removeRanks(ranks) })
    }

    /// Changes the packed elements or the contents in place, the storage's reference
    /// dropped meanwhile so neither is copied.
    @inline(__always)
    private mutating func modify<R>(packed: (inout PackedElements) -> R, indexed: (inout Contents) -> R) -> R {
        switch storage {
        case .packed(var elements):
            storage = .packed(PackedElements())
            defer { storage = .packed(elements) }
            return packed(&elements)
        case .indexed(var box):
            storage = .packed(PackedElements())
            // Emptied, the set gives its box back: an empty set is packed.
            defer { if box.contents.count > 0 { storage = .indexed(box) } }
            return box.modify(indexed)
        }
    }

    /// The rank of the first element for which `isAtOrAfter` holds (`count` when none),
    /// given each element's score and member bytes where they lie, packed or in a block.
    private func firstRank(where isAtOrAfter: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Bool) -> Int {
        switch storage {
        case .packed(let packed): packed.firstIndex(where: isAtOrAfter)
        case .indexed(let box): box.contents.firstRank(where: isAtOrAfter)
        }
    }

    /// `firstRank(where:)` for a test of the score alone: an indexed set then reads no member.
    private func firstRank(whereScore isAtOrAfter: (Double) -> Bool) -> Int {
        switch storage {
        case .packed(let packed): packed.firstIndex { score, _ in isAtOrAfter(score) }
        case .indexed(let box): box.contents.firstRank(whereScore: isAtOrAfter)
        }
    }

    /// Whether `member` sorts before the range that starts at `bound`.
    private static func below(_ bound: LexBound, _ member: UnsafeRawBufferPointer) -> Bool {
        switch bound {
        case .minimum: false
        case .maximum: true
        case .inclusive(let edge): edge.withUnsafeBytes { compareRaw(member, $0) } < 0
        case .exclusive(let edge): edge.withUnsafeBytes { compareRaw(member, $0) } <= 0
        }
    }

    /// Whether `member` sorts after the range that ends at `bound`.
    private static func above(_ bound: LexBound, _ member: UnsafeRawBufferPointer) -> Bool {
        switch bound {
        case .minimum: true
        case .maximum: false
        case .inclusive(let edge): edge.withUnsafeBytes { compareRaw(member, $0) } > 0
        case .exclusive(let edge): edge.withUnsafeBytes { compareRaw(member, $0) } >= 0
        }
    }
}

extension SortedSet {
    /// A set past `scanLimit` members: its members with their scores, and the order as
    /// blocks of (score, member position).
    struct Contents {
        /// An element of the order: its score, and where its member lies in `members`.
        /// The member's bytes are kept once, in its table slot (in place when up to 22
        /// bytes, `MemberBytes`), where the order and a member dictionary had each held a
        /// reference to an array of its own: an allocation and about 60 bytes more per member.
        struct Entry {
            var score: Double
            var position: Int
        }

        /// Each member's bytes and score, by position (`FieldTable.indexed()`: positions
        /// stay `0..<count`, and a removal moves the last member into the hole, whose
        /// entry in the order `removeMember` then points at its new place).
        private var members = FieldTable<MemberBytes, Double>.indexed()
        /// Sorted, non-empty blocks whose concatenation is the whole order.
        private var blocks: [[Entry]] = []
        /// The blocks' sizes as a Fenwick tree: entry i (from 1) sums the sizes of blocks
        /// i - (i & -i) ..< i, so a prefix sum or a search for a rank visits O(log n) entries.
        private var sizes: [Int] = []
        /// Each block's size, in block order: what the tree is rebuilt from, since reading
        /// every block's own count would touch every block's storage (a cache miss each).
        private var counts: [Int] = []

        var count: Int { members.count }

        /// Heap bytes of the members, their slots and index cells, and their entries in the
        /// blocks, in O(1) for the keyspace's memory estimate.
        var heapBytes: Int { members.heapBytes + members.count * MemoryLayout<Entry>.stride }

        /// The packed elements of a set that outgrew scanning, in order, as one block.
        init(_ elements: [Element]) {
            blocks = [elements.map { Entry(score: $0.score, position: members.insert($0.member, $0.score)) }]
            counts = [elements.count]
            rebuildSizes()
        }

        func score(of member: UnsafeRawBufferPointer) -> Double? {
            members.position(of: member).map { members.payload(at: $0) }
        }

        // MARK: Changing

        /// Sets `member`'s score; returns the old score, nil when the member is new.
        mutating func set(_ member: UnsafeRawBufferPointer, score: Double) -> Double? {
            guard let position = members.position(of: member) else {
                let position = members.insert(member, score)
                insertInOrder(Entry(score: score, position: position), member: member)
                return nil
            }
            let old = members.payload(at: position)
            if old == score { return old }
            removeFromOrder(score: old, member: member)
            insertInOrder(Entry(score: score, position: position), member: member)
            members.setPayload(score, at: position)
            return old
        }

        /// Removes `member`; returns whether it was there.
        @discardableResult
        mutating func remove(_ member: UnsafeRawBufferPointer) -> Bool {
            guard let position = members.position(of: member) else { return false }
            let score = members.payload(at: position)
            removeFromOrder(score: score, member: member)
            removeMember(at: position)
            return true
        }

        /// Removes the elements whose ranks are in `ranks` (valid, not empty); returns how many.
        @discardableResult
        mutating func removeRanks(_ ranks: Range<Int>) -> Int {
            var (block, index) = location(ofRank: ranks.lowerBound)
            var left = ranks.count
            var changed = false
            var positions: [Int] = []
            positions.reserveCapacity(ranks.count)
            while left > 0 {
                let end = Swift.min(blocks[block].count, index + left)
                for entry in blocks[block][index..<end] { positions.append(entry.position) }
                blocks[block].removeSubrange(index..<end)
                left -= end - index
                if blocks[block].isEmpty {
                    blocks.remove(at: block)
                    counts.remove(at: block)
                    changed = true
                } else {
                    // Cut within one block (a limiter trimming its oldest entries): the
                    // tree takes the change in O(log blocks), unless a merge follows.
                    let removed = counts[block] - blocks[block].count
                    counts[block] -= removed
                    if !changed { updateTree(-removed, atBlock: block) }
                    block += 1
                }
                index = 0
            }
            // The blocks either side of the cut may now be small.
            for position in stride(from: Swift.min(block, blocks.count - 1), through: Swift.max(0, block - 2), by: -1) {
                if mergeIfSmall(position) { changed = true }
            }
            if changed { rebuildSizes() }
            // Highest first: the last member, moved into each hole, is then never one
            // still to be removed, so it is in the blocks for `removeMember` to find.
            positions.sort(by: >)
            for position in positions { removeMember(at: position) }
            return ranks.count
        }

        // MARK: Reading

        /// The 0-based position of `member` in ascending order, or nil when absent.
        func rank(of member: UnsafeRawBufferPointer) -> Int? {
            guard let score = score(of: member) else { return nil }
            let (block, index) = location(ofScore: score, member: member)
            return sizeBefore(block) + index
        }

        /// The element at `rank` (0-based, ascending); the rank must be valid.
        func element(atRank rank: Int) -> Element {
            let (block, index) = location(ofRank: rank)
            return element(blocks[block][index])
        }

        /// The elements with ranks in `ranks` (valid, not empty), ascending, or descending with `reverse`.
        func elements(ranks: Range<Int>, reverse: Bool = false) -> [Element] {
            var result: [Element] = []
            result.reserveCapacity(ranks.count)
            forEachInBlocks(ranks: ranks, reverse: reverse) { result.append(element($0)) }
            return result
        }

        /// `SortedSet.forEach(ranks:reverse:_:)`, over valid ranks, not empty.
        func forEach(ranks: Range<Int>, reverse: Bool, _ body: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Void) {
            forEachInBlocks(ranks: ranks, reverse: reverse) { entry in members.withField(at: entry.position) { body(entry.score, $0) } }
        }

        /// Calls `body` with the blocks' entries at `ranks`, which must be valid and not empty.
        private func forEachInBlocks(ranks: Range<Int>, reverse: Bool, _ body: (Entry) -> Void) {
            var (block, index) = location(ofRank: reverse ? ranks.upperBound - 1 : ranks.lowerBound)
            for _ in 0..<ranks.count {
                body(blocks[block][index])
                if reverse {
                    index -= 1
                    if index < 0 && block > 0 {
                        block -= 1
                        index = blocks[block].count - 1
                    }
                } else {
                    index += 1
                    if index == blocks[block].count {
                        block += 1
                        index = 0
                    }
                }
            }
        }

        /// Every element in ascending order.
        var elements: [Element] { blocks.flatMap { $0.map(element) } }

        /// One step of `ZSCAN`: about `count` elements in order, and a cursor
        /// that names the next step's first score (`scanKey`), not a rank: a rank would
        /// shift past members that are added or removed, while every element still here
        /// with a score at or above the cursor's comes in a later step. A run of equal
        /// scores ends within one step, since the cursor cannot tell its members apart.
        /// An element whose score drops below the cursor during a scan is missed.
        func scan(cursor: UInt64, count: Int) -> (elements: [Element], cursor: UInt64) {
            let start = cursor == 0 ? 0 : firstRank(whereScore: { Self.scanKey($0) >= cursor })
            var end = start + Swift.min(Swift.max(1, count), self.count - start)
            if end > start && end < self.count {
                let last = element(atRank: end - 1).score
                end = firstRank(whereScore: { $0 > last })
            }
            let next = end < self.count ? Self.scanKey(element(atRank: end).score) : 0
            // A cursor past the last score names no elements.
            return (end > start ? elements(ranks: start..<end) : [], next)
        }

        /// A score as an unsigned integer in the same order (negative scores' bits
        /// inverted, positive ones' sign bit set); never 0, which starts a scan.
        static func scanKey(_ score: Double) -> UInt64 {
            let bits = score.bitPattern
            return score.sign == .minus ? ~bits : bits | (1 << 63)
        }

        /// The rank of the first element for which `isAtOrAfter` holds (`count` when none),
        /// given each element's score and member bytes; `isAtOrAfter` must be false then
        /// true along the order.
        func firstRank(where isAtOrAfter: (_ score: Double, _ member: UnsafeRawBufferPointer) -> Bool) -> Int {
            firstRank { entry in members.withField(at: entry.position) { isAtOrAfter(entry.score, $0) } }
        }

        /// `firstRank(where:)` for a test of the score alone, which reads no member.
        func firstRank(whereScore isAtOrAfter: (Double) -> Bool) -> Int {
            firstRank { isAtOrAfter($0.score) }
        }

        // MARK: Internals

        private func element(_ entry: Entry) -> Element {
            Element(score: entry.score, member: members.field(at: entry.position).array)
        }

        /// Whether `entry` sorts before the element of `score` and `member` (Redis's order).
        @inline(__always)
        private func entry(_ entry: Entry, precedes score: Double, _ member: UnsafeRawBufferPointer) -> Bool {
            if entry.score != score { return entry.score < score }
            return members.withField(at: entry.position) { compareRaw($0, member) } < 0
        }

        /// The block and index of the element of `score` and `member`, which is in the order.
        private func location(ofScore score: Double, member: UnsafeRawBufferPointer) -> (block: Int, index: Int) {
            let block = firstBlock { !entry($0, precedes: score, member) }
            precondition(block < blocks.count, "sorted set order lost a member")
            let index = Self.firstIndex(in: blocks[block]) { !entry($0, precedes: score, member) }
            precondition(index < blocks[block].count && blocks[block][index].score == score
                && members.withField(at: blocks[block][index].position) { compareRaw($0, member) } == 0,
                "sorted set order lost a member")
            return (block, index)
        }

        /// Takes the member at `position` out of `members`, whose element has left the
        /// order, and points the element of the member moved into its place there.
        private mutating func removeMember(at position: Int) {
            let last = members.count - 1
            guard position != last else {
                members.remove(at: position)
                return
            }
            // Found before the move, while every entry in the blocks names a member.
            let (block, index) = members.withField(at: last) { location(ofScore: members.payload(at: last), member: $0) }
            members.remove(at: position)
            blocks[block][index].position = position
        }

        /// The rank of the first entry for which `isAtOrAfter` holds (`count` when none).
        private func firstRank(_ isAtOrAfter: (Entry) -> Bool) -> Int {
            let block = firstBlock(where: isAtOrAfter)
            guard block < blocks.count else { return count }
            return sizeBefore(block) + Self.firstIndex(in: blocks[block], where: isAtOrAfter)
        }

        /// The first block whose last entry satisfies `isAtOrAfter`.
        private func firstBlock(where isAtOrAfter: (Entry) -> Bool) -> Int {
            var low = 0
            var high = blocks.count
            while low < high {
                let middle = (low + high) / 2
                if isAtOrAfter(blocks[middle][blocks[middle].count - 1]) { high = middle } else { low = middle + 1 }
            }
            return low
        }

        private static func firstIndex(in block: [Entry], where isAtOrAfter: (Entry) -> Bool) -> Int {
            var low = 0
            var high = block.count
            while low < high {
                let middle = (low + high) / 2
                if isAtOrAfter(block[middle]) { high = middle } else { low = middle + 1 }
            }
            return low
        }

        /// The block and index of a valid rank.
        private func location(ofRank rank: Int) -> (block: Int, index: Int) {
            precondition(rank >= 0 && rank < count, "rank \(rank) out of range")
            // Down the tree: the most blocks whose sizes add up to at most `rank`.
            var block = 0
            var rest = rank
            var step = 1
            while step * 2 <= sizes.count { step *= 2 }
            while step > 0 {
                if block + step <= sizes.count && sizes[block + step - 1] <= rest {
                    block += step
                    rest -= sizes[block - 1]
                }
                step /= 2
            }
            return (block, rest)
        }

        /// The number of elements in the blocks before `block`.
        private func sizeBefore(_ block: Int) -> Int {
            var total = 0
            var entry = block
            while entry > 0 {
                total += sizes[entry - 1]
                entry -= entry & -entry
            }
            return total
        }

        /// Adds `delta` to the size of `block`.
        private mutating func addSize(_ delta: Int, toBlock block: Int) {
            counts[block] += delta
            updateTree(delta, atBlock: block)
        }

        /// Adds `delta` to the size of `block` in the tree only.
        private mutating func updateTree(_ delta: Int, atBlock block: Int) {
            var entry = block + 1
            while entry <= sizes.count {
                sizes[entry - 1] += delta
                entry += entry & -entry
            }
        }

        /// Builds the tree from `counts`, after blocks were added, removed or merged.
        private mutating func rebuildSizes() {
            sizes = counts
            for entry in 1...Swift.max(1, sizes.count) where entry <= sizes.count {
                let parent = entry + (entry & -entry)
                if parent <= sizes.count { sizes[parent - 1] += sizes[entry - 1] }
            }
        }

        /// Each block's element count and the capacity of its array (for tests of the layout).
        var blockShapes: [(count: Int, capacity: Int)] {
            blocks.map { ($0.count, $0.capacity) }
        }

        /// Whether the tree holds the blocks' sizes, each entry names a member of its
        /// score, and each member has one entry (for tests).
        var sizesAreConsistent: Bool {
            var named = Set<Int>()
            for block in blocks {
                for entry in block where entry.position < members.count && members.payload(at: entry.position) == entry.score {
                    named.insert(entry.position)
                }
            }
            return blocks.indices.allSatisfy { sizeBefore($0) == blocks[..<$0].reduce(0) { $0 + $1.count } }
                && sizeBefore(blocks.count) == count && counts == blocks.map(\.count)
                && named.count == count && members.isConsistent
        }

        /// Adds `entry`, whose member is `member`, in its place in the order.
        private mutating func insertInOrder(_ entry: Entry, member: UnsafeRawBufferPointer) {
            guard !blocks.isEmpty else {
                blocks.append([entry])
                counts = [1]
                rebuildSizes()
                return
            }
            // The first entry the new one precedes: the first that does not precede it
            // (members are unique, so none is equal).
            func after(_ other: Entry) -> Bool { !self.entry(other, precedes: entry.score, member) }
            var block = firstBlock(where: after)
            if block == blocks.count {
                block -= 1
                if blocks[block].count >= SortedSet.maximumBlockSize {
                    // A set growing at its end (scores that are timestamps) starts a new
                    // block: splitting the full one would leave its lower half in the
                    // array doubled for the append, a quarter used for good.
                    blocks.append([entry])
                    counts.append(1)
                    rebuildSizes()
                    return
                }
                blocks[block].append(entry)
            } else {
                let index = Self.firstIndex(in: blocks[block], where: after)
                blocks[block].insert(entry, at: index)
            }
            if blocks[block].count > SortedSet.maximumBlockSize {
                let half = blocks[block].count / 2
                let upper = Array(blocks[block][half...])
                // A copy of the lower half rather than `removeSubrange`, which would keep
                // the array's whole capacity.
                blocks[block] = Array(blocks[block][..<half])
                blocks.insert(upper, at: block + 1)
                counts[block] = half
                counts.insert(upper.count, at: block + 1)
                rebuildSizes()
            } else {
                addSize(1, toBlock: block)
            }
        }

        /// Takes the element of `score` and `member` out of the order.
        private mutating func removeFromOrder(score: Double, member: UnsafeRawBufferPointer) {
            let (block, index) = location(ofScore: score, member: member)
            blocks[block].remove(at: index)
            if blocks[block].isEmpty {
                blocks.remove(at: block)
                counts.remove(at: block)
                rebuildSizes()
            } else if mergeIfSmall(block) {
                rebuildSizes()
            } else {
                addSize(-1, toBlock: block)
            }
        }

        /// Merges block `position` into its successor (or predecessor) when it is small and
        /// the two fit in one block; returns whether it did. `counts` follows the blocks, the
        /// tree is left to the caller.
        private mutating func mergeIfSmall(_ position: Int) -> Bool {
            guard position < blocks.count, blocks[position].count < SortedSet.minimumBlockSize else { return false }
            if position + 1 < blocks.count, blocks[position].count + blocks[position + 1].count <= SortedSet.maximumBlockSize {
                let next = blocks.remove(at: position + 1)
                blocks[position].append(contentsOf: next)
                counts.remove(at: position + 1)
                counts[position] = blocks[position].count
                return true
            } else if position > 0, blocks[position - 1].count + blocks[position].count <= SortedSet.maximumBlockSize {
                let current = blocks.remove(at: position)
                blocks[position - 1].append(contentsOf: current)
                counts.remove(at: position)
                counts[position - 1] = blocks[position - 1].count
                return true
            }
            return false
        }
    }
}

extension SortedSet: Equatable {
    /// Same members with the same scores; how the order is split into blocks does not matter.
    public static func == (lhs: SortedSet, rhs: SortedSet) -> Bool {
        lhs.count == rhs.count && lhs.elements == rhs.elements
    }
}

/// Byte-wise comparison as Redis's `sdscmp`: memcmp over the common prefix, then the
/// shorter one first.
@inline(__always)
func compareBytes(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
    lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in compareRaw(left, right) } }
}

/// `compareBytes` over bytes where they lie (a packed member).
@inline(__always)
func compareRaw(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Int {
    let common = Swift.min(lhs.count, rhs.count)
    if common > 0 {
        let result = memcmp(lhs.baseAddress!, rhs.baseAddress!, common)
        if result != 0 { return Int(result) }
    }
    return lhs.count - rhs.count
}
