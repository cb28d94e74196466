import Testing
@testable import SluiceCore
import SeededRandom

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private let savedAt = Instant(milliseconds: 1_700_000_000_000)

/// One key of every kind, with binary and empty keys and values, and a large value.
private func sampleEntries() -> [Snapshot.Entry] {
    var hash = HashValue()
    hash.set(bytes("b"), bytes("2"))
    hash.set([0, 255], [])
    hash.set(bytes("a"), bytes("1"))
    var zset = SortedSet()
    zset.set(bytes("m1"), score: 1.5)
    zset.set(bytes("m2"), score: -.infinity)
    zset.set([0, 1, 2], score: .infinity)
    zset.set(bytes("z"), score: 0)
    let log = SlidingWindowLog(entries: [
        .init(timestampMilliseconds: 1_700_000_000_000, weight: 3),
        .init(timestampMilliseconds: 1_700_000_000_500, weight: 1),
    ])
    return [
        Snapshot.Entry(key: bytes("s"), value: .string(bytes("hello"))),
        Snapshot.Entry(key: [], value: .string([])),
        Snapshot.Entry(key: [0, 13, 10, 255, 128], value: .string([0, 0, 255]), expiresAt: 1_700_000_060_000),
        Snapshot.Entry(key: Array(repeating: 7, count: 300), value: .string(Array(repeating: 0xAB, count: 1_000_000))),
        Snapshot.Entry(key: bytes("i"), value: .integer(-42), expiresAt: 1),
        Snapshot.Entry(key: bytes("imax"), value: .integer(.max)),
        Snapshot.Entry(key: bytes("lb"), value: Value(leakyBucket: LeakyBucketState(level: 5, lastLeak: Instant(nanoseconds: 123_456_789)))),
        Snapshot.Entry(key: bytes("lb2"), value: Value(leakyBucket: LeakyBucketState(
            level: 0, lastLeak: Instant(nanoseconds: -5), blockedUntil: Instant(nanoseconds: .max))), expiresAt: .max - 1),
        Snapshot.Entry(key: bytes("sw"), value: .slidingWindow(log), expiresAt: 1_700_000_001_001),
        Snapshot.Entry(key: bytes("swempty"), value: .slidingWindow(SlidingWindowLog())),
        Snapshot.Entry(key: bytes("l"), value: .list(ListValue([bytes("x"), [], [0, 255], bytes("x")]))),
        Snapshot.Entry(key: bytes("h"), value: .hash(hash)),
        Snapshot.Entry(key: bytes("h0"), value: .hash(HashValue())),
        Snapshot.Entry(key: bytes("z"), value: .sortedSet(zset), expiresAt: -7),
        Snapshot.Entry(key: bytes("set"), value: .set(SetValue([bytes("b"), [], [0, 255, 13, 10], bytes("a")]))),
    ]
}

/// A small file for the exhaustive damage tests.
private func smallFile() -> [UInt8] {
    var entries = sampleEntries()
    entries[3].value = .string(bytes("large value made small"))
    return Snapshot.encode(entries, savedAt: savedAt)
}

@Suite("Snapshot format")
struct SnapshotTests {
    @Test("every value kind, binary and empty keys and values, and a large value read back as written")
    func roundTrip() throws {
        let entries = sampleEntries()
        let contents = try Snapshot.decode(Snapshot.encode(entries, savedAt: savedAt))
        #expect(contents.savedAtMilliseconds == savedAt.milliseconds)
        #expect(contents.entries == entries)
        // Insertion order of hash fields is part of what HGETALL shows.
        guard case .hash(let hash) = contents.entries[11].value else { Issue.record("not a hash"); return }
        #expect(hash.entries.map(\.field) == [bytes("b"), [0, 255], bytes("a")])
    }

    @Test("an empty keyspace is a valid file with no entries")
    func empty() throws {
        let file = Snapshot.encode(Keyspace(), now: savedAt)
        #expect(file.count == Snapshot.headerSize + Snapshot.checksumSize)
        #expect(try Snapshot.decode(file) == Snapshot.Contents(savedAtMilliseconds: savedAt.milliseconds, entries: []))
    }

    @Test("a keyspace encodes its live keys with their deadlines and leaves expired ones out")
    func fromKeyspace() throws {
        var keyspace = Keyspace()
        keyspace.set(bytes("persistent"), .integer(1), now: savedAt)
        keyspace.set(bytes("volatile"), .string(bytes("v")), expiresAt: savedAt.milliseconds + 10, now: savedAt)
        keyspace.set(bytes("due"), .string(bytes("v")), expiresAt: savedAt.milliseconds + 5, now: savedAt)
        let later = Instant(milliseconds: savedAt.milliseconds + 6)
        let contents = try Snapshot.decode(Snapshot.encode(keyspace, now: later))
        #expect(contents.savedAtMilliseconds == later.milliseconds)
        let sorted = contents.entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        #expect(sorted == [
            Snapshot.Entry(key: bytes("persistent"), value: .integer(1)),
            Snapshot.Entry(key: bytes("volatile"), value: .string(bytes("v")), expiresAt: savedAt.milliseconds + 10),
        ])
    }

    @Test("the file starts with the magic and version and ends with the CRC-32 of the rest")
    func layout() throws {
        let file = Snapshot.encode([], savedAt: savedAt)
        #expect(Array(file[0..<8]) == bytes("SLUICEDB"))
        #expect(Array(file[8..<12]) == [1, 0, 0, 0])
        let crc = CRC32.checksum(file.dropLast(4))
        #expect(Array(file.suffix(4)) == [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
    }

    @Test("CRC-32 matches the standard check value")
    func crcCheckValue() {
        #expect(CRC32.checksum(bytes("123456789")) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
    }

    @Test("every truncation of a file is refused")
    func everyTruncation() throws {
        let file = smallFile()
        for length in 0..<file.count {
            do {
                _ = try Snapshot.decode(Array(file[0..<length]))
                Issue.record("a file cut to \(length) of \(file.count) bytes was accepted")
            } catch {
                switch error.reason {
                case .truncated, .checksumMismatch: break
                default: Issue.record("cut to \(length): \(error)")
                }
            }
        }
    }

    @Test("every single flipped byte is refused")
    func everyFlippedByte() throws {
        let file = smallFile()
        for position in file.indices {
            var damaged = file
            damaged[position] ^= 0x5A
            #expect(throws: SnapshotError.self, "byte \(position) flipped") { try Snapshot.decode(damaged) }
        }
    }

    @Test("bytes appended after the checksum are refused")
    func trailingBytes() throws {
        #expect(throws: SnapshotError.self) { try Snapshot.decode(smallFile() + [0]) }
    }

    @Test("errors say what is wrong")
    func messages() throws {
        func message(_ file: [UInt8]) -> String {
            do {
                _ = try Snapshot.decode(file)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(message(bytes("SLUI")) == "truncated (4 bytes, shorter than the smallest snapshot)")
        #expect(message(bytes("REDIS0011 and more bytes than a header holds")) == "not a Sluice snapshot (bad magic)")
        var file = Snapshot.encode([], savedAt: savedAt)
        #expect(message(Array(file.dropLast())) == "truncated (31 bytes, shorter than the smallest snapshot)")
        let small = smallFile()
        #expect(message(Array(small.dropLast())) == "checksum mismatch (\(small.count - 1) bytes): the file is truncated or corrupted")
        file[8] = 2
        #expect(message(file) == "unsupported snapshot version 2 (this build reads 1)")
    }

    @Test("structurally bad files with a valid checksum are refused without crashing")
    func craftedFiles() throws {
        /// Header with `count` entries, then `body`, then a correct checksum.
        func crafted(count: UInt64, _ body: [UInt8]) -> [UInt8] {
            var file = Snapshot.magic + [1, 0, 0, 0] + Array(repeating: 0, count: 8)
            withUnsafeBytes(of: count.littleEndian) { file += $0 }
            file += body
            let crc = CRC32.checksum(file)
            withUnsafeBytes(of: crc.littleEndian) { file += $0 }
            return file
        }
        let cases: [(String, [UInt8])] = [
            ("more entries than bytes", crafted(count: .max, [])),
            ("key longer than the file", crafted(count: 1, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])),
            ("varint overflow", crafted(count: 1, Array(repeating: 0xFF, count: 11))),
            ("unknown deadline tag", crafted(count: 1, [1, 65, 9, 0])),
            ("unknown kind", crafted(count: 1, [1, 65, 0, 99])),
            ("list count past the end", crafted(count: 1, [1, 65, 0, 4, 0xFF, 0xFF, 0x7F])),
            ("NaN score", crafted(count: 1, [1, 65, 0, 6, 1] + [0, 0, 0, 0, 0, 0, 0xF8, 0x7F] + [1, 65])),
            ("bytes after the last entry", crafted(count: 0, [0])),
        ]
        for (name, file) in cases {
            #expect(throws: SnapshotError.self, "\(name)") { try Snapshot.decode(file) }
        }
    }

    @Test("seeded random keyspaces round-trip")
    func randomRoundTrip() throws {
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<50 {
            var entries: [Snapshot.Entry] = []
            for index in 0..<Int.random(in: 0..<20, using: &generator) {
                let key = bytes("k\(index)") + (0..<Int.random(in: 0..<5, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let deadline: Int64? = Bool.random(using: &generator) ? Int64.random(in: .min ... .max, using: &generator) : nil
                let value: Value = switch Int.random(in: 0..<3, using: &generator) {
                case 0: .integer(Int64.random(in: .min ... .max, using: &generator))
                case 1: .string((0..<Int.random(in: 0..<40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
                default: .list(ListValue((0..<Int.random(in: 1..<5, using: &generator)).map { bytes("e\($0)") }))
                }
                entries.append(Snapshot.Entry(key: key, value: value, expiresAt: deadline))
            }
            #expect(try Snapshot.decode(Snapshot.encode(entries, savedAt: savedAt)).entries == entries)
        }
    }
}
