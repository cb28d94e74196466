#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import RESP

/// One command for Redis with its words already in RESP form: built on the caller's
/// thread, copied as is into a connection's output by the connection's thread.
///
/// A script call holds its key count, keys and arguments; the connection puts
/// `EVALSHA <sha>` in front (or `EVAL <source>` while it has no hash for the script).
public struct BackendCommand: Sendable {
    /// The script to run, or nil for a plain command.
    public let script: BackendScript?
    /// The words as RESP bulk strings, without the array header. A ByteBuffer, which
    /// lets each word be written in place in one step: appending to an array byte by
    /// byte paid its uniqueness and capacity checks for every byte.
    private(set) var bytes: ByteBuffer
    /// Number of words in `bytes`.
    private(set) var count = 0
    /// For a script call: its number of keys, where they start in `bytes` (after the
    /// key count), and where its arguments start (-1 until the first one is appended).
    private let keyCount: Int
    private var keysStart = 0
    private var argumentsStart = -1

    /// A plain command, e.g. `[Array("GET".utf8), key]`.
    public init(words: [[UInt8]]) {
        self.script = nil
        self.keyCount = 0
        self.bytes = ByteBufferAllocator().buffer(capacity: words.reduce(0) { $0 + $1.count + 16 })
        for word in words { append(word) }
    }

    /// A call of `script`; append its `keyCount` keys, then its arguments.
    public init(script: BackendScript, keyCount: Int, capacity: Int = 256) {
        self.script = script
        self.keyCount = keyCount
        self.bytes = ByteBufferAllocator().buffer(capacity: capacity)
        append(Int64(keyCount))
        keysStart = bytes.writerIndex
    }

    public mutating func append(_ word: UnsafeRawBufferPointer) {
        countWord()
        bytes.writeRESPBulkString(word)
    }

    public mutating func append(_ word: [UInt8]) {
        word.withUnsafeBytes { append($0) }
    }

    public mutating func append(_ word: String) {
        var word = word
        word.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// An integer as its decimal text.
    public mutating func append(_ value: Int64) {
        countWord()
        bytes.writeRESPBulkString(decimal: value)
    }

    /// A script call's arguments, all in one reservation of `bound` bytes (at least what
    /// `body` writes, by `RESPWordWriter`'s bounds), once its keys are in: each word
    /// written on its own costs a reservation.
    public mutating func appendArguments(bound: Int, _ body: (inout RESPWordWriter) -> Void) {
        precondition(script != nil && count >= 1 + keyCount, "appendArguments comes after a script call's keys")
        if count == 1 + keyCount { argumentsStart = bytes.writerIndex }
        count += bytes.writeRESPWords(bound: bound, body)
    }

    private mutating func countWord() {
        if script != nil && count == 1 + keyCount { argumentsStart = bytes.writerIndex }
        count += 1
    }

    /// About how many bytes `write` adds (with a script's hash, not its text).
    var wireSize: Int { bytes.readableBytes + (script == nil ? 8 : 64) }

    /// The whole command for the wire: `*N`, then `EVALSHA <sha>` (or `EVAL <source>`)
    /// for a script, then the words.
    func write(into output: inout ByteBuffer, hash: [UInt8]?) {
        guard let script else {
            output.writeRESPArrayHeader(count)
            output.writeImmutableBuffer(bytes)
            return
        }
        output.writeRESPArrayHeader(count + 2)
        Self.writeCall(of: script, hash: hash, into: &output)
        output.writeImmutableBuffer(bytes)
    }

    /// `EVALSHA <sha>`, or `EVAL <source>` when the hash is not known to be loaded.
    private static func writeCall(of script: BackendScript, hash: [UInt8]?, into output: inout ByteBuffer) {
        if let hash {
            output.writeBytes(evalsha)
            hash.withUnsafeBytes { output.writeRESPBulkString($0) }
        } else {
            output.writeBytes(eval)
            var source = script.source
            source.withUTF8 { output.writeRESPBulkString(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Calls of one script as a single run of it, in the scripts' `BATCH` form:
    /// `EVALSHA <sha> <all keys> <keys...> BATCH <calls> [<key count> <argument count> <arguments...>]...`,
    /// where a call with the same arguments as the one before it sends `=` as its
    /// argument count and no arguments.
    static func writeBatch(_ calls: ArraySlice<BackendCommand>, into output: inout ByteBuffer, hash: [UInt8]?) {
        let script = calls.first!.script!
        let keys = calls.reduce(0) { $0 + $1.keyCount }
        var arguments = 0
        for index in calls.indices {
            arguments += 2 + (repeatsPrevious(calls, index) ? 0 : calls[index].argumentCount)
        }
        output.writeRESPArrayHeader(2 + 1 + keys + 2 + arguments)
        writeCall(of: script, hash: hash, into: &output)
        output.writeRESPBulkString(decimal: Int64(keys))
        for call in calls { call.withBytes(call.keysStart..<call.argumentsOffset) { output.writeBytes($0) } }
        output.writeBytes(Self.batch)
        output.writeRESPBulkString(decimal: Int64(calls.count))
        for index in calls.indices {
            let call = calls[index]
            output.writeRESPBulkString(decimal: Int64(call.keyCount))
            if repeatsPrevious(calls, index) {
                output.writeBytes(Self.same)
            } else {
                output.writeRESPBulkString(decimal: Int64(call.argumentCount))
                call.withBytes(call.argumentsOffset..<call.bytes.writerIndex) { output.writeBytes($0) }
            }
        }
    }

    /// Whether the call at `index` has the same arguments, byte for byte, as the one before it.
    private static func repeatsPrevious(_ calls: ArraySlice<BackendCommand>, _ index: Int) -> Bool {
        guard index > calls.startIndex else { return false }
        let call = calls[index]
        let previous = calls[index - 1]
        return call.withBytes(call.argumentsOffset..<call.bytes.writerIndex) { mine in
            previous.withBytes(previous.argumentsOffset..<previous.bytes.writerIndex) { theirs in
                mine.count == theirs.count && (mine.isEmpty || memcmp(mine.baseAddress!, theirs.baseAddress!, mine.count) == 0)
            }
        }
    }

    /// `body` over the bytes at `range` of `bytes`, in place.
    @discardableResult
    private func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeReadableBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    private var argumentsOffset: Int { argumentsStart >= 0 ? argumentsStart : bytes.writerIndex }
    private var argumentCount: Int { count - 1 - keyCount }

    private static let batch = Array("$5\r\nBATCH\r\n".utf8)
    private static let same = Array("$1\r\n=\r\n".utf8)
    private static let evalsha = Array("$7\r\nEVALSHA\r\n".utf8)
    private static let eval = Array("$4\r\nEVAL\r\n".utf8)
}
