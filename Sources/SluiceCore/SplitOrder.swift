/// Which bucket a hash picks while buckets split one at a time, in turn (linear
/// hashing), for `PositionIndex`: a hash's bucket is its low
/// `level` bits, or `level + 1` bits for the buckets already split in this round.
/// Splitting buckets in turn, rather than each when it fills, keeps the moves spread
/// out: buckets fill at the same pace and would all split near the same insert.
struct SplitOrder: Sendable {
    /// Hash bits that pick a bucket not yet split in this round.
    private var level = 0
    /// The next bucket to split; those before it are picked by `level + 1` bits.
    private var next = 0

    @inline(__always)
    func bucket(of hash: Int) -> Int {
        let bucket = hash & ((1 << level) - 1)
        return bucket < next ? hash & ((2 << level) - 1) : bucket
    }

    /// The bucket to split now and the hash bit that splits it: the entries with the bit
    /// set go to a new bucket at the end. After the round's last bucket, a new round
    /// splits by the next bit.
    mutating func advance() -> (bucket: Int, bit: Int) {
        let split = (bucket: next, bit: level)
        next += 1
        if next == 1 << level {
            level += 1
            next = 0
        }
        return split
    }
}
