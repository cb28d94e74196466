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
        let words = inlineWords(bytes, (UInt64(0), UInt64(0)))
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

    /// The array of bytes too long to sit in place; nil when in place.
    var heap: [UInt8]? {
        if case .heap(let bytes) = self { bytes } else { nil }
    }
}

/// `bytes` copied over the start of `zero`, words (a tuple of integers) with room for
/// them: what a type that keeps bytes in place stores.
@inline(__always)
private func inlineWords<Words>(_ bytes: UnsafeRawBufferPointer, _ zero: Words) -> Words {
    var words = zero
    withUnsafeMutableBytes(of: &words) { raw in
        if let base = bytes.baseAddress { raw.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
    }
    return words
}

/// How a `FieldTable` keeps the byte string of each slot: in place up to a size, else in
/// an array.
protocol SlotBytes: Sendable {
    /// Keeps an array too long to sit in place as it is.
    init(_ bytes: [UInt8])
    init(_ bytes: UnsafeRawBufferPointer)
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    /// The array of bytes too long to sit in place; nil when in place.
    var heap: [UInt8]? { get }
}

extension SlotBytes {
    /// The bytes as an array (allocates when they are in place).
    var array: [UInt8] {
        heap ?? withUnsafeBytes { Array($0) }
    }

    /// Heap bytes held beyond the value itself: an array's, for bytes too long to sit in place.
    var heapBytes: Int {
        heap.map { MemoryEstimate.bytes($0.count) } ?? 0
    }

    /// Whether these are the bytes of `other`.
    @inline(__always)
    func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        withUnsafeBytes { mine in
            mine.count == other.count && (mine.count == 0 || memcmp(mine.baseAddress!, other.baseAddress!, mine.count) == 0)
        }
    }
}

extension SmallBytes: SlotBytes {}

/// A byte string in 24 bytes: up to 22 bytes held in place, longer ones in an array.
///
/// For a sorted set's members, which rate limiters make a little longer than a hash's
/// fields: pyrate-limiter's `item:<10 hex digits>:1` is 17 bytes. In an array such a
/// member costs a 64-byte allocation; in place, 8 bytes more of its slot.
enum MemberBytes: SlotBytes {
    /// Bytes 0–7, 8–15, 16–19 and 20–21, and the count: 23 bytes, so that with the
    /// case's tag the enum fills 24.
    case inline(UInt64, UInt64, UInt32, UInt16, count: UInt8)
    case heap([UInt8])

    static let inlineCapacity = 22

    init(_ bytes: [UInt8]) {
        self = bytes.count <= Self.inlineCapacity ? bytes.withUnsafeBytes(Self.packing) : .heap(bytes)
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        self = bytes.count <= Self.inlineCapacity ? Self.packing(bytes) : .heap(Array(bytes))
    }

    /// `bytes`, at most `inlineCapacity` of them, in place.
    @inline(__always)
    private static func packing(_ bytes: UnsafeRawBufferPointer) -> MemberBytes {
        let words = inlineWords(bytes, (UInt64(0), UInt64(0), UInt64(0)))
        return .inline(words.0, words.1, UInt32(truncatingIfNeeded: words.2), UInt16(truncatingIfNeeded: words.2 >> 32),
                       count: UInt8(bytes.count))
    }

    /// Calls `body` with the bytes where they lie, or unpacked on the stack.
    @inline(__always)
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .inline(let first, let second, let third, let fourth, let count):
            var words = (first, second, UInt64(third) | UInt64(fourth) << 32)
            return try Swift.withUnsafeBytes(of: &words) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
        case .heap(let bytes):
            return try bytes.withUnsafeBytes(body)
        }
    }

    var heap: [UInt8]? {
        if case .heap(let bytes) = self { bytes } else { nil }
    }
}
