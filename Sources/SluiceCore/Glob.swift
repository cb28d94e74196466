/// Redis-style glob matching for `KEYS`, `SCAN MATCH` and `CONFIG GET`:
/// `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` and `\` to escape.
public struct GlobPattern: Sendable {
    public let pattern: [UInt8]
    public let caseInsensitive: Bool

    public init(_ pattern: [UInt8], caseInsensitive: Bool = false) {
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
    }

    /// True for `*`, which matches everything and lets callers skip matching.
    public var matchesEverything: Bool { pattern == [UInt8(ascii: "*")] }

    public func matches(_ subject: [UInt8]) -> Bool {
        // Iterative with one backtrack point for the last `*`: linear-ish, no recursion
        // depth that a hostile pattern could blow up.
        var p = 0
        var s = 0
        var starP = -1
        var starS = 0
        while s < subject.count {
            if p < pattern.count {
                let c = pattern[p]
                if c == UInt8(ascii: "*") {
                    while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
                    if p == pattern.count { return true }
                    starP = p
                    starS = s
                    continue
                }
                if let next = matchOne(at: p, subject[s]) {
                    p = next
                    s += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            starS += 1
            s = starS
            p = starP
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Matches one pattern element at `p` against `byte`; returns the position after
    /// the element, or nil when it does not match.
    private func matchOne(at p: Int, _ byte: UInt8) -> Int? {
        let c = pattern[p]
        switch c {
        case UInt8(ascii: "?"):
            return p + 1
        case UInt8(ascii: "\\") where p + 1 < pattern.count:
            return equal(pattern[p + 1], byte) ? p + 2 : nil
        case UInt8(ascii: "["):
            return matchClass(at: p, byte)
        default:
            return equal(c, byte) ? p + 1 : nil
        }
    }

    private func matchClass(at start: Int, _ byte: UInt8) -> Int? {
        var p = start + 1
        let negate = p < pattern.count && pattern[p] == UInt8(ascii: "^")
        if negate { p += 1 }
        var matched = false
        while p < pattern.count && pattern[p] != UInt8(ascii: "]") {
            if pattern[p] == UInt8(ascii: "\\") && p + 1 < pattern.count {
                if equal(pattern[p + 1], byte) { matched = true }
                p += 2
            } else if p + 2 < pattern.count && pattern[p + 1] == UInt8(ascii: "-") && pattern[p + 2] != UInt8(ascii: "]") {
                var low = fold(pattern[p])
                var high = fold(pattern[p + 2])
                if low > high { swap(&low, &high) }
                let b = fold(byte)
                if b >= low && b <= high { matched = true }
                p += 3
            } else {
                if equal(pattern[p], byte) { matched = true }
                p += 1
            }
        }
        // An unterminated class behaves as if closed at the end of the pattern, as in Redis.
        let after = p < pattern.count ? p + 1 : p
        return matched != negate ? after : nil
    }

    private func fold(_ byte: UInt8) -> UInt8 {
        caseInsensitive && byte >= 65 && byte <= 90 ? byte + 32 : byte
    }

    private func equal(_ a: UInt8, _ b: UInt8) -> Bool {
        fold(a) == fold(b)
    }
}
