#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// The words of many commands in shared storage: every word's bytes in one array,
/// plus where each word and each command ends.
///
/// A read burst of pipelined commands costs a few allocations in all, instead of one
/// array per word. The words of a command still arriving (a multibulk request split
/// across reads) sit after the last complete command until `RESPRequestDecoder`
/// completes them; `removeCompleted()` keeps them.
public struct RESPCommands: Sendable {
    /// All words' bytes, back to back, in `bytes[0..<byteCount]`. The elements after
    /// them are room for the next words: appending a word is then one copy, where
    /// `Array.append(contentsOf:)` went through its generic sequence path per word.
    private var bytes: [UInt8] = []
    private var byteCount = 0
    /// The end offset in `bytes` of each word, in `wordEnds[0..<wordCount]`, with room
    /// after them as `bytes` has.
    private var wordEnds: [Int] = []
    private var wordCount = 0
    /// The end index in `wordEnds` of each complete command, in
    /// `commandEnds[0..<commandCount]`: forgetting them is then a store, where
    /// `removeAll(keepingCapacity:)` went through the array's generic replace path.
    private var commandEnds: [Int] = []
    private var commandCount = 0

    public init() {}

    /// Complete commands, each given as its words.
    public init(_ commands: [[[UInt8]]]) {
        for command in commands {
            for word in command {
                self.append(word)
            }
            self.endCommand()
        }
    }

    /// Memory held for words, complete commands' and a partial command's alike: their
    /// bytes and each word's end offset (so a flood of empty words counts too).
    public var heldBytes: Int { self.byteCount + self.wordCount * MemoryLayout<Int>.size }

    /// Memory reserved for words, in use or not.
    public var reservedBytes: Int {
        self.bytes.capacity + (self.wordEnds.capacity + self.commandEnds.capacity) * MemoryLayout<Int>.size
    }

    /// Room kept for the next words once the words in it are gone; beyond this the
    /// storage is let go, so a connection that once sent a 100 MiB argument (or a
    /// million words) does not hold that memory for as long as it stays open. Four
    /// times a 64 KiB read's worth, so ordinary pipelines never give it up and regrow it.
    public static let keptReserve = 256 * 1024

    /// The number of complete commands.
    public var count: Int { self.commandCount }
    public var isEmpty: Bool { self.commandCount == 0 }

    /// The end index in `wordEnds` of the last complete command; 0 when there is none.
    private var lastCommandEnd: Int { self.commandCount == 0 ? 0 : self.commandEnds[self.commandCount - 1] }

    /// The indices of the words of complete command `command`.
    @inline(__always)
    public func words(of command: Int) -> Range<Int> {
        assert(command < self.commandCount)
        return (command == 0 ? 0 : self.commandEnds[command - 1])..<self.commandEnds[command]
    }

    /// The bytes of word `index` (an index from `words(of:)`).
    @inline(__always)
    public func word(_ index: Int) -> [UInt8] {
        Array(self.bytes[self.byteRange(of: index)])
    }

    /// Reads word `index` in place, without copying it.
    @inline(__always)
    public func withWord<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let range = self.byteRange(of: index)
        return self.bytes.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }

    @inline(__always)
    public func wordLength(_ index: Int) -> Int {
        self.byteRange(of: index).count
    }

    @inline(__always)
    private func byteRange(of word: Int) -> Range<Int> {
        (word == 0 ? 0 : self.wordEnds[word - 1])..<self.wordEnds[word]
    }

    /// Words `range` as one array: each word's length in one byte, then all their bytes.
    /// Nil if a word is longer than 255 bytes. For `wordsEqual`.
    public func packed(_ range: Range<Int>) -> [UInt8]? {
        var packed: [UInt8] = []
        for word in range {
            let length = self.wordLength(word)
            guard length <= Int(UInt8.max) else { return nil }
            packed.append(UInt8(length))
        }
        if let first = range.first {
            packed.append(contentsOf: self.bytes[self.byteRange(of: first).lowerBound..<self.wordEnds[range.upperBound - 1]])
        }
        return packed
    }

    /// Whether words `range` are the words `packed(_:)` packed into `packed`: the lengths
    /// compared one by one, then the bytes, which lie back to back, all at once.
    public func wordsEqual(_ range: Range<Int>, packed: [UInt8]) -> Bool {
        guard let first = range.first else { return packed.isEmpty }
        let start = self.byteRange(of: first).lowerBound
        let byteCount = self.wordEnds[range.upperBound - 1] - start
        guard packed.count == range.count + byteCount else { return false }
        // Raw pointers: indexing the arrays checked bounds and uniqueness per word, which
        // cost `ACQUIRE` more than comparing its words did.
        return packed.withUnsafeBytes { stored in
            self.wordEnds.withUnsafeBufferPointer { ends in
                var wordStart = start
                for offset in 0..<range.count {
                    let end = ends[range.lowerBound + offset]
                    guard Int(stored[offset]) == end - wordStart else { return false }
                    wordStart = end
                }
                return byteCount == 0 || self.bytes.withUnsafeBytes { raw in
                    memcmp(raw.baseAddress! + start, stored.baseAddress! + range.count, byteCount) == 0
                }
            }
        }
    }

    /// Words after the last complete command: a command not yet whole.
    var partialWordCount: Int {
        self.wordCount - self.lastCommandEnd
    }

    public mutating func append(_ word: [UInt8]) {
        word.withUnsafeBytes { self.append($0) }
    }

    public mutating func append(_ word: UnsafeRawBufferPointer) {
        self.appendWords(maxWords: 1, maxBytes: word.count) { writer in
            writer.append(word)
            return true
        }
    }

    /// Appends the words `body` gives its writer, which has room for `maxWords` words of
    /// `maxBytes` bytes in all; they are kept only if `body` returns true. One check of
    /// room and ownership for them all, where appending word by word made two per word.
    @inline(__always)
    @discardableResult
    public mutating func appendWords(maxWords: Int, maxBytes: Int, _ body: (inout WordWriter) -> Bool) -> Bool {
        if self.byteCount + maxBytes > self.bytes.count { self.makeRoom(for: self.byteCount + maxBytes) }
        if self.wordCount + maxWords > self.wordEnds.count { self.makeWordRoom(for: self.wordCount + maxWords) }
        let byteStart = self.byteCount
        let wordStart = self.wordCount
        let (kept, byteCount, wordCount) = self.bytes.withUnsafeMutableBytes { bytes in
            self.wordEnds.withUnsafeMutableBufferPointer { ends in
                var writer = WordWriter(
                    bytes: bytes.baseAddress!, byteLimit: byteStart + maxBytes, ends: ends.baseAddress!,
                    wordLimit: wordStart + maxWords, byteCount: byteStart, wordCount: wordStart)
                return (body(&writer), writer.byteCount, writer.wordCount)
            }
        }
        if kept {
            self.byteCount = byteCount
            self.wordCount = wordCount
        }
        return kept
    }

    /// Writes words into the room `appendWords` made.
    public struct WordWriter {
        fileprivate let bytes: UnsafeMutableRawPointer
        fileprivate let byteLimit: Int
        fileprivate let ends: UnsafeMutablePointer<Int>
        fileprivate let wordLimit: Int
        fileprivate var byteCount: Int
        fileprivate var wordCount: Int

        @inline(__always)
        public mutating func append(_ word: UnsafeRawBufferPointer) {
            let end = self.byteCount + word.count
            precondition(end <= self.byteLimit && self.wordCount < self.wordLimit, "more words than appendWords made room for")
            if let source = word.baseAddress, word.count > 0 {
                (self.bytes + self.byteCount).copyMemory(from: source, byteCount: word.count)
            }
            self.byteCount = end
            self.ends[self.wordCount] = end
            self.wordCount += 1
        }
    }

    /// Grows `bytes` to hold `count` bytes, at least doubling it so that appends stay cheap.
    private mutating func makeRoom(for count: Int) {
        let target = max(count, self.bytes.count * 2, 64)
        self.bytes.append(contentsOf: repeatElement(0, count: target - self.bytes.count))
    }

    /// Grows `wordEnds` to hold `count` words, as `makeRoom` grows `bytes`.
    private mutating func makeWordRoom(for count: Int) {
        let target = max(count, self.wordEnds.count * 2, 16)
        self.wordEnds.append(contentsOf: repeatElement(0, count: target - self.wordEnds.count))
    }

    /// Ends a command made of the words appended since the previous one.
    public mutating func endCommand() {
        if self.commandCount < self.commandEnds.count {
            self.commandEnds[self.commandCount] = self.wordCount
        } else {
            self.commandEnds.append(self.wordCount)
        }
        self.commandCount += 1
    }

    /// Forgets every complete command, keeping the words of one still arriving.
    public mutating func removeCompleted() {
        guard self.commandCount > 0 else { return }
        let lastEnd = self.lastCommandEnd
        if lastEnd == self.wordCount {
            self.removeAll()
            return
        }
        self.commandCount = 0
        let byteStart = lastEnd == 0 ? 0 : self.wordEnds[lastEnd - 1]
        let kept = self.byteCount - byteStart
        if kept > 0 && byteStart > 0 {
            self.bytes.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + byteStart, byteCount: kept)
            }
        }
        self.byteCount = kept
        let keptWords = self.wordCount - lastEnd
        for index in 0..<keptWords {
            self.wordEnds[index] = self.wordEnds[lastEnd + index] - byteStart
        }
        self.wordCount = keptWords
        self.releaseExcess()
    }

    /// Forgets every word, keeping up to `keptReserve` bytes of room for the next ones.
    public mutating func removeAll() {
        self.byteCount = 0
        self.wordCount = 0
        self.commandCount = 0
        if self.commandEnds.count * MemoryLayout<Int>.size > Self.keptReserve {
            self.commandEnds = []
        }
        self.releaseExcess()
    }

    /// Gives back storage far beyond what the words left in it need.
    private mutating func releaseExcess() {
        let byteRoom = max(2 * self.byteCount, Self.keptReserve)
        if self.bytes.count > byteRoom {
            self.bytes = Array(self.bytes[0..<byteRoom])
        }
        let wordRoom = max(2 * self.wordCount, Self.keptReserve / MemoryLayout<Int>.size)
        if self.wordEnds.count > wordRoom {
            self.wordEnds = Array(self.wordEnds[0..<wordRoom])
        }
    }

    /// Drops the words of an incomplete command (after a protocol error).
    mutating func removePartial() {
        let keep = self.lastCommandEnd
        let byteEnd = keep == 0 ? 0 : self.wordEnds[keep - 1]
        self.byteCount = byteEnd
        self.wordCount = keep
    }
}

extension ByteBuffer {
    /// Copies `length` readable bytes at absolute `index` into `commands` as one word.
    func respAppendWord(at index: Int, length: Int, to commands: inout RESPCommands) {
        self.withUnsafeReadableBytes { raw in
            let offset = index - self.readerIndex
            commands.append(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + length]))
        }
    }
}
