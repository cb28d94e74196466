/// The snapshot file format: the whole keyspace at one instant, as bytes.
///
/// Layout (integers little-endian; "varint" is unsigned LEB128, at most 10 bytes):
///
///     magic "SLUICEDB" (8 bytes) | version u32 | saved-at i64 (Unix ms) | entry count u64
///     entries:  key (varint length + bytes) | deadline tag u8 (0 none, 1 then i64 Unix ms)
///               | kind u8 | value (by kind, below)
///     CRC-32 (IEEE) of every byte before it, u32
///
/// Values: string = varint length + bytes; integer = i64; leaky bucket = level i64,
/// last leak i64 ns, blocked tag u8 (0, or 1 then i64 ns); sliding window = varint
/// count, then (timestamp i64 ms, weight i64) runs; list = varint count, then strings;
/// hash = varint count, then field and value strings in insertion order; sorted set =
/// varint count, then (score as f64 bits u64, member string) in ascending order; set =
/// varint count, then member strings.
///
/// Reading and writing are pure (bytes in, bytes out): the server does the file work.
/// The reader checks the checksum before it builds anything, so a truncated or damaged
/// file is refused whole, never loaded in part; and it checks every length against the
/// bytes left, so no input makes it crash or allocate more than the file's size.
public enum Snapshot {
    public static let magic: [UInt8] = Array("SLUICEDB".utf8)
    public static let version: UInt32 = 1
    /// Magic, version, saved-at, count.
    static let headerSize = 8 + 4 + 8 + 8
    static let checksumSize = 4

    /// One key as stored: `expiresAt` is a Unix-millisecond deadline, nil for none.
    public struct Entry: Sendable, Equatable {
        public var key: Key
        public var value: Value
        public var expiresAt: Int64?

        public init(key: Key, value: Value, expiresAt: Int64? = nil) {
            self.key = key
            self.value = value
            self.expiresAt = expiresAt
        }
    }

    /// A decoded file.
    public struct Contents: Sendable, Equatable {
        /// When the snapshot was taken, Unix milliseconds.
        public var savedAtMilliseconds: Int64
        public var entries: [Entry]
    }

    enum Kind: UInt8 {
        case string = 0
        case integer = 1
        case leakyBucket = 2
        case slidingWindow = 3
        case list = 4
        case hash = 5
        case sortedSet = 6
        case set = 7
    }

    // MARK: Writing

    /// The file for `entries`, taken at `savedAt`.
    public static func encode<S: Sequence>(_ entries: S, savedAt: Instant) -> [UInt8] where S.Element == Entry {
        var encoder = Encoder(savedAt: savedAt)
        for entry in entries { encoder.append(entry) }
        return encoder.finish()
    }

    /// A file written an entry at a time, for a keyspace collected in steps.
    public struct Encoder {
        private var writer = Writer()
        private var count: UInt64 = 0

        public init(savedAt: Instant) {
            writer.header(savedAt: savedAt)
        }

        public mutating func append(_ entry: Entry) {
            writer.entry(entry.key, entry.value, expiresAt: entry.expiresAt)
            count += 1
        }

        /// The whole file: the count and checksum filled in.
        public consuming func finish() -> [UInt8] {
            writer.finish(count: count)
        }
    }

    /// The file for every key of `keyspace` that is live at `now`.
    public static func encode(_ keyspace: Keyspace, now: Instant) -> [UInt8] {
        encode([keyspace], now: now)
    }

    /// The file for every key of the shards of a keyspace (`ShardedKeyspace.copies`) live at `now`.
    public static func encode(_ shards: [Keyspace], now: Instant) -> [UInt8] {
        var encoder = Encoder(savedAt: now)
        let nowMs = now.milliseconds
        for keyspace in shards {
            keyspace.forEachEntry { key, value, expiresAt in
                if let expiresAt, expiresAt < nowMs { return }
                encoder.append(Entry(key: key, value: value, expiresAt: expiresAt))
            }
        }
        return encoder.finish()
    }

    struct Writer {
        var bytes: [UInt8] = []

        mutating func header(savedAt: Instant) {
            bytes += Snapshot.magic
            fixed(Snapshot.version)
            fixed(savedAt.milliseconds)
            fixed(UInt64(0))  // The count, filled in by `finish`.
        }

        mutating func finish(count: UInt64) -> [UInt8] {
            withUnsafeBytes(of: count.littleEndian) { raw in
                for index in 0..<8 { bytes[Snapshot.headerSize - 8 + index] = raw[index] }
            }
            fixed(CRC32.checksum(bytes))
            return bytes
        }

        mutating func entry(_ key: Key, _ value: Value, expiresAt: Int64?) {
            string(key)
            if let expiresAt {
                bytes.append(1)
                fixed(expiresAt)
            } else {
                bytes.append(0)
            }
            switch value {
            case .string(let data):
                bytes.append(Kind.string.rawValue)
                string(data)
            case .integer(let number):
                bytes.append(Kind.integer.rawValue)
                fixed(number)
            case .leakyBucket, .blockedLeakyBucket:
                let state = value.leakyBucketState!
                bytes.append(Kind.leakyBucket.rawValue)
                fixed(state.level)
                fixed(state.lastLeak.nanoseconds)
                if let blockedUntil = state.blockedUntil {
                    bytes.append(1)
                    fixed(blockedUntil.nanoseconds)
                } else {
                    bytes.append(0)
                }
            case .slidingWindow(let log):
                bytes.append(Kind.slidingWindow.rawValue)
                varint(UInt64(log.entries.count))
                for run in log.entries {
                    fixed(run.timestampMilliseconds)
                    fixed(run.weight)
                }
            case .list(let list):
                bytes.append(Kind.list.rawValue)
                varint(UInt64(list.count))
                for element in list.elements { string(element) }
            case .hash(let hash):
                bytes.append(Kind.hash.rawValue)
                let entries = hash.entries
                varint(UInt64(entries.count))
                for entry in entries {
                    string(entry.field)
                    string(entry.value)
                }
            case .sortedSet(let set):
                bytes.append(Kind.sortedSet.rawValue)
                let elements = set.elements
                varint(UInt64(elements.count))
                for element in elements {
                    fixed(element.score.bitPattern)
                    string(element.member)
                }
            case .set(let set):
                bytes.append(Kind.set.rawValue)
                varint(UInt64(set.count))
                set.forEach { string(Array($0)) }
            }
        }

        mutating func string(_ data: [UInt8]) {
            varint(UInt64(data.count))
            bytes += data
        }

        mutating func varint(_ value: UInt64) {
            var rest = value
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }

        mutating func fixed<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
        }
    }

    // MARK: Reading

    /// Decodes a whole file; throws for anything but a complete, intact snapshot.
    public static func decode(_ bytes: [UInt8]) throws(SnapshotError) -> Contents {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            // A prefix of the magic is a file cut short, anything else is not ours.
            let isPrefix = bytes.count < magic.count && Array(magic[0..<bytes.count]) == bytes
            throw SnapshotError(isPrefix ? .truncated(size: bytes.count) : .notASnapshot)
        }
        guard bytes.count >= headerSize + checksumSize else { throw SnapshotError(.truncated(size: bytes.count)) }
        var reader = Reader(bytes: bytes, end: bytes.count - checksumSize)
        reader.position = magic.count
        let version = try reader.fixed(UInt32.self)
        guard version == Self.version else { throw SnapshotError(.unsupportedVersion(version)) }
        let stored = bytes.withUnsafeBytes { raw in UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: bytes.count - checksumSize, as: UInt32.self)) }
        let computed = CRC32.checksum(bytes[0..<(bytes.count - checksumSize)])
        guard stored == computed else { throw SnapshotError(.checksumMismatch(size: bytes.count)) }

        let savedAt = try reader.fixed(Int64.self)
        let count = try reader.fixed(UInt64.self)
        var entries: [Entry] = []
        // Every entry takes at least 4 bytes: never reserve more than the file could hold.
        entries.reserveCapacity(Int(min(count, UInt64(reader.remaining / 4))))
        for _ in 0..<count {
            entries.append(try reader.entry())
        }
        guard reader.position == reader.end else { throw SnapshotError(.malformed("unexpected bytes after the last entry", offset: reader.position)) }
        return Contents(savedAtMilliseconds: savedAt, entries: entries)
    }

    struct Reader {
        let bytes: [UInt8]
        /// Where the checksum starts.
        let end: Int
        var position = 0

        var remaining: Int { end - position }

        func fail(_ what: String) -> SnapshotError {
            SnapshotError(.malformed(what, offset: position))
        }

        mutating func byte() throws(SnapshotError) -> UInt8 {
            guard position < end else { throw fail("entry runs past the end") }
            position += 1
            return bytes[position - 1]
        }

        mutating func fixed<T: FixedWidthInteger>(_ type: T.Type) throws(SnapshotError) -> T {
            let size = MemoryLayout<T>.size
            guard remaining >= size else { throw fail("entry runs past the end") }
            let value = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: T.self)) }
            position += size
            return value
        }

        mutating func varint() throws(SnapshotError) -> UInt64 {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                let byte = try byte()
                let bits = UInt64(byte & 0x7F)
                guard shift < 63 || bits <= 1 else { throw fail("length overflows 64 bits") }
                value |= bits << UInt64(shift)
                if byte < 0x80 { return value }
            }
            throw fail("length overflows 64 bits")
        }

        /// A count of items that each take at least `minimumSize` bytes, checked against what is left.
        mutating func count(minimumSize: Int) throws(SnapshotError) -> Int {
            let count = try varint()
            guard count <= UInt64(remaining / minimumSize) else { throw fail("count \(count) exceeds the bytes left") }
            return Int(count)
        }

        mutating func string() throws(SnapshotError) -> [UInt8] {
            let length = try count(minimumSize: 1)
            position += length
            return Array(bytes[(position - length)..<position])
        }

        mutating func deadline() throws(SnapshotError) -> Int64? {
            switch try byte() {
            case 0: return nil
            case 1: return try fixed(Int64.self)
            case let tag: throw fail("unknown deadline tag \(tag)")
            }
        }

        mutating func entry() throws(SnapshotError) -> Entry {
            let key = try string()
            let expiresAt = try deadline()
            let kindOffset = position
            guard let kind = Kind(rawValue: try byte()) else {
                throw SnapshotError(.malformed("unknown value kind \(bytes[kindOffset])", offset: kindOffset))
            }
            let value: Value
            switch kind {
            case .string:
                value = .string(try string())
            case .integer:
                value = .integer(try fixed(Int64.self))
            case .leakyBucket:
                let level = try fixed(Int64.self)
                let lastLeak = Instant(nanoseconds: try fixed(Int64.self))
                let blockedUntil = try deadline().map { Instant(nanoseconds: $0) }
                value = Value(leakyBucket: LeakyBucketState(level: level, lastLeak: lastLeak, blockedUntil: blockedUntil))
            case .slidingWindow:
                let count = try count(minimumSize: 16)
                var runs: [SlidingWindowLog.Entry] = []
                runs.reserveCapacity(count)
                for _ in 0..<count {
                    runs.append(SlidingWindowLog.Entry(timestampMilliseconds: try fixed(Int64.self), weight: try fixed(Int64.self)))
                }
                value = .slidingWindow(SlidingWindowLog(entries: runs))
            case .list:
                let count = try count(minimumSize: 1)
                var list = ListValue()
                for _ in 0..<count { list.append(try string()) }
                value = .list(list)
            case .hash:
                let count = try count(minimumSize: 2)
                var hash = HashValue()
                for _ in 0..<count {
                    let field = try string()
                    hash.set(field, try string())
                }
                value = .hash(hash)
            case .sortedSet:
                let count = try count(minimumSize: 9)
                var set = SortedSet()
                for _ in 0..<count {
                    let score = Double(bitPattern: try fixed(UInt64.self))
                    // A NaN has no place in the order; the writer never stores one.
                    guard !score.isNaN else { throw fail("sorted-set score is NaN") }
                    set.set(try string(), score: score)
                }
                value = .sortedSet(set)
            case .set:
                let count = try count(minimumSize: 1)
                var set = SetValue()
                for _ in 0..<count { set.insert(try string()) }
                value = .set(set)
            }
            return Entry(key: key, value: value, expiresAt: expiresAt)
        }
    }
}

/// Why a snapshot could not be read.
public struct SnapshotError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Reason: Sendable, Equatable {
        case notASnapshot
        case truncated(size: Int)
        case unsupportedVersion(UInt32)
        case checksumMismatch(size: Int)
        case malformed(String, offset: Int)
    }

    let reason: Reason

    init(_ reason: Reason) {
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .notASnapshot: "not a Sluice snapshot (bad magic)"
        case .truncated(let size): "truncated (\(size) bytes, shorter than the smallest snapshot)"
        case .unsupportedVersion(let version): "unsupported snapshot version \(version) (this build reads \(Snapshot.version))"
        case .checksumMismatch(let size): "checksum mismatch (\(size) bytes): the file is truncated or corrupted"
        case .malformed(let what, let offset): "malformed at byte \(offset): \(what)"
        }
    }
}

/// CRC-32 as zlib and PNG compute it (reflected polynomial 0xEDB88320), a table lookup per byte.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        return crc
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let table = Self.table
        let fast = bytes.withContiguousStorageIfAvailable { buffer in
            var crc: UInt32 = 0xFFFF_FFFF
            table.withUnsafeBufferPointer { table in
                for byte in buffer { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            }
            return ~crc
        }
        if let fast { return fast }
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}
