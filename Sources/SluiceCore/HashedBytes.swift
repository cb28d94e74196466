#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes as a dictionary key, carrying their hash.
///
/// `[UInt8]`'s own `Hashable` feeds the hasher one byte at a time and compares element
/// by element. Worse, a probe in `Dictionary` compares keys, and each comparison reads
/// the other key's heap storage: a cache miss per probed bucket in a large keyspace.
/// Keeping the (seeded) hash inline lets a probe reject a different key without
/// touching its bytes.
public struct HashedBytes: Hashable, Sendable {
    public let bytes: [UInt8]
    private let hash: Int

    @inline(__always)
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        self.hash = hasher.finalize()
    }

    /// The seeded hash of `bytes`, for tables that split by its bits.
    var storedHash: Int {
        @inline(__always) get { hash }
    }

    @inline(__always)
    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    @inline(__always)
    public static func == (lhs: HashedBytes, rhs: HashedBytes) -> Bool {
        guard lhs.hash == rhs.hash else { return false }
        let count = lhs.bytes.count
        guard count == rhs.bytes.count else { return false }
        return lhs.bytes.withUnsafeBytes { left in
            rhs.bytes.withUnsafeBytes { right in
                count == 0 || memcmp(left.baseAddress!, right.baseAddress!, count) == 0
            }
        }
    }
}
