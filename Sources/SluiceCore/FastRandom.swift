/// A fast generator for random picks (`SPOP`, `SRANDMEMBER`): xoshiro256**, seeded once
/// from the system's generator. `SystemRandomNumberGenerator` makes a `getrandom` system
/// call for every number on Linux, which cost `SPOP` more than the pop itself. Not for
/// secrets: nothing here needs to be unpredictable, only well spread.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seeds: system.next(), system.next(), system.next(), system.next())
    }

    /// A generator with the given state, for tests that replay a sequence; not all zero.
    public init(seeds a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) {
        (s0, s1, s2, s3) = (a, b, c, d)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    @inline(__always)
    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
