#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A byte string in 16 bytes: up to 14 bytes held in place, longer ones in an array.
///
/// A huge hash's fields and values are mostly short (`user:12345`, a count, a
/// timestamp). As arrays, each cost an allocation of 48 bytes or more and a cache miss
/// to read; in place they cost nothing beyond their table slot.
enum SmallBytes: Sendable {
    /// Bytes 0–7, 8–11 and 12–13, and the count: 15 bytes, so that with the case's tag
    /// the enum fills 16.
    case inline(UInt64, UInt32, UInt16, count: UInt8)
    case heap([UInt8])

    static let inlineCapacity = 14

    static let empty = SmallBytes.inline(0, 0, 0, count: 0)

    init(_ bytes: [UInt8]) {
        if bytes.count <= Self.inlineCapacity {
            self = bytes.withUnsafeBytes { Self.packing($0) }
        } else {
            self = .heap(bytes)
        }
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        self = bytes.count <= Self.inlineCapacity ? Self.packing(bytes) : .heap(Array(bytes))
    }

    /// `bytes`, at most `inlineCapacity` of them, in place.
    @inline(__always)
    private static func packing(_ bytes: UnsafeRawBufferPointer) -> SmallBytes {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            if let base = bytes.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        }
        return .inline(words.0, UInt32(truncatingIfNeeded: words.1), UInt16(truncatingIfNeeded: words.1 >> 32),
                       count: UInt8(bytes.count))
    }

    var count: Int {
        switch self {
        case .inline(_, _, _, let count): Int(count)
        case .heap(let bytes): bytes.count
        }
    }

    /// Calls `body` with the bytes where they lie, or unpacked on the stack.
    @inline(__always)
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .inline(let low, let middle, let high, let count):
            var words = (low, UInt64(middle) | UInt64(high) << 32)
            return try Swift.withUnsafeBytes(of: &words) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
        case .heap(let bytes):
            return try bytes.withUnsafeBytes(body)
        }
    }

    /// The bytes as an array (allocates when they are in place).
    var array: [UInt8] {
        switch self {
        case .inline: withUnsafeBytes { Array($0) }
        case .heap(let bytes): bytes
        }
    }

    /// Whether these are the bytes of `other`.
    @inline(__always)
    func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        withUnsafeBytes { mine in
            mine.count == other.count && (mine.count == 0 || memcmp(mine.baseAddress!, other.baseAddress!, mine.count) == 0)
        }
    }

    /// Heap bytes held beyond the 16: an array's, for bytes too long to sit in place.
    var heapBytes: Int {
        if case .heap(let bytes) = self { MemoryEstimate.bytes(bytes.count) } else { 0 }
    }
}
