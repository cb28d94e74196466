/// The keyspace's entries, by position, in chunks of `chunkSize`: growing appends a
/// chunk instead of copying every entry into an array twice the size, which paused
/// every client for as long as it took to copy (and, mostly, for the kernel to supply
/// the new array's pages): 269 ms past 2,097,152 keys. Only the first chunk grows by
/// doubling, up to `chunkSize`, so a small keyspace costs what one array did.
///
/// Each chunk is a copy-on-write array of its own: a snapshot's copy of the keyspace
/// costs a reference count, and a change after it copies the one chunk it touches.
struct EntryTable<Entry>: Sendable where Entry: Sendable {
    /// 65,536 entries of 48 bytes: 3 MiB. That is below the size `Keyspace.table` asks
    /// huge pages for, and with 3,000,000 keys a pipelined GET cost the same server CPU
    /// as with the entries in one array that had them (3 alternating pairs).
    static var chunkShift: Int { 16 }
    static var chunkSize: Int { 1 << chunkShift }
    static var chunkMask: Int { chunkSize - 1 }

    private var chunks: ContiguousArray<ContiguousArray<Entry>> = []
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }
    var indices: Range<Int> { 0..<count }

    /// Positions the chunks hold room for.
    var capacity: Int {
        chunks.count <= 1 ? (chunks.first?.capacity ?? 0) : chunks.count << Self.chunkShift
    }

    subscript(position: Int) -> Entry {
        @inline(__always) _read {
            yield chunks[position &>> Self.chunkShift][position & Self.chunkMask]
        }
        @inline(__always) _modify {
            yield &chunks[position &>> Self.chunkShift][position & Self.chunkMask]
        }
    }

    /// Adds an entry at position `count`, making room as described above.
    @inline(__always)
    mutating func append(_ entry: consuming Entry) {
        let chunk = count &>> Self.chunkShift
        if chunk == chunks.count {
            chunks.append(Self.emptyChunk(capacity: chunk == 0 ? 16 : Self.chunkSize))
        } else if chunk == 0 && count == chunks[0].capacity {
            var grown = Self.emptyChunk(capacity: Swift.min(Self.chunkSize, Swift.max(16, count * 2)))
            grown.append(contentsOf: chunks[0])
            chunks[0] = grown
        }
        chunks[chunk].append(entry)
        count += 1
    }

    /// Removes and returns the entry at position `count - 1`. An emptied chunk is kept
    /// for the next appends, and one beyond it let go, so a table shrinking and growing
    /// across a chunk's edge does not allocate a chunk each time.
    @discardableResult
    mutating func removeLast() -> Entry {
        let chunk = (count - 1) &>> Self.chunkShift
        let entry = chunks[chunk].removeLast()
        count -= 1
        if chunks.count > chunk + 2 { chunks.removeLast() }
        return entry
    }

    /// An empty chunk with room for `capacity` entries; room not yet written is not resident.
    private static func emptyChunk(capacity: Int) -> ContiguousArray<Entry> {
        var chunk = ContiguousArray<Entry>()
        chunk.reserveCapacity(capacity)
        return chunk
    }

    /// Calls `body` with the address of the entry at `position` (valid only inside it),
    /// or with nil when there is none; for prefetching.
    @inline(__always)
    func withAddress<R>(of position: Int, _ body: (UnsafeRawPointer?) -> R) -> R {
        guard position >= 0 && position < count else { return body(nil) }
        return chunks[position &>> Self.chunkShift].withUnsafeBufferPointer { buffer in
            body(UnsafeRawPointer(buffer.baseAddress! + (position & Self.chunkMask)))
        }
    }
}
