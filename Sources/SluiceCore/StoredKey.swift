/// A key as the keyspace table stores it: up to 23 bytes inline, longer keys on the heap.
///
/// Rate-limit keys are short (`rl:user:12345`). Inline, confirming a match reads only
/// the bucket the probe already loaded, instead of a second cache line for the key's
/// array; and a short key costs no allocation of its own.
enum StoredKey: Sendable {
    /// The bytes packed little-endian into three words, the length in the top byte of the last.
    case small(UInt64, UInt64, UInt64)
    case large([UInt8])

    static let inlineCapacity = 23

    /// The packed form of a short key, or nil when it does not fit inline.
    @inline(__always)
    static func pack(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64)? {
        guard bytes.count <= inlineCapacity else { return nil }
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            if let base = bytes.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
            raw[23] = UInt8(bytes.count)
        }
        return words
    }

    /// Copies a key's bytes; only a key too long to sit inline allocates.
    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        if let words = Self.pack(bytes) {
            self = .small(words.0, words.1, words.2)
        } else {
            self = .large(Array(bytes))
        }
    }

    /// The key's bytes (allocates for an inline key; only iteration needs this).
    var bytes: [UInt8] {
        switch self {
        case .large(let bytes):
            return bytes
        case .small(let a, let b, let c):
            var words = (a, b, c)
            return withUnsafeBytes(of: &words) { raw in Array(raw[0..<Int(raw[23])]) }
        }
    }
}

/// A look-up key prepared once, then compared against each candidate bucket.
/// Valid only while the bytes it points at are.
struct ProbeKey {
    let bytes: UnsafeRawBufferPointer
    let packed: (UInt64, UInt64, UInt64)?

    @inline(__always)
    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.packed = StoredKey.pack(bytes)
    }

    @inline(__always)
    func matches(_ stored: StoredKey) -> Bool {
        switch stored {
        case .small(let a, let b, let c):
            guard let packed else { return false }
            return packed.0 == a && packed.1 == b && packed.2 == c
        case .large(let other):
            guard packed == nil, other.count == bytes.count else { return false }
            return other.withUnsafeBytes { left in left.elementsEqual(bytes) }
        }
    }
}
