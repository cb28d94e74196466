/// A key of up to 22 bytes in the form a keyspace entry holds it inline: two words, two
/// narrower fields and the length, which fill the space an entry has around its value.
///
/// Rate-limit keys are short (`rl:user:12345`). Inline, confirming a match reads only
/// the entry the look-up loads anyway, and a short key costs no allocation of its own.
/// Longer keys live in the keyspace's `largeKeys` (Keyspace.swift).
struct InlineKey: Equatable {
    var word0: UInt64
    var word1: UInt64
    var word2: UInt16
    var word3: UInt32
    var length: UInt8

    static let capacity = 22

    /// The packed form of a short key, or nil when it does not fit inline.
    @inline(__always)
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count <= Self.capacity else { return nil }
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            if let base = bytes.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        }
        word0 = words.0
        word1 = words.1
        word2 = UInt16(truncatingIfNeeded: words.2)
        word3 = UInt32(truncatingIfNeeded: words.2 >> 16)
        length = UInt8(bytes.count)
    }

    @inline(__always)
    init(word0: UInt64, word1: UInt64, word2: UInt16, word3: UInt32, length: UInt8) {
        self.word0 = word0
        self.word1 = word1
        self.word2 = word2
        self.word3 = word3
        self.length = length
    }

    /// Calls `body` with the key's bytes, unpacked on the stack.
    @inline(__always)
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var words = (word0, word1, UInt64(word2) | UInt64(word3) << 16)
        return Swift.withUnsafeBytes(of: &words) { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[0..<Int(length)]))
        }
    }

    /// The key's bytes as an array (allocates; iteration and watched keys need this).
    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// A look-up key prepared once, then compared against each candidate entry.
/// Valid only while the bytes it points at are.
struct ProbeKey {
    let bytes: UnsafeRawBufferPointer
    /// Nil for a key too long to sit inline: it can only match a large key.
    let inline: InlineKey?

    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.inline = InlineKey(bytes)
    }
}
