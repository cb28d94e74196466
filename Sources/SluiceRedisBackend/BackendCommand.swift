import RESP

/// One command for Redis with its words already in RESP form: built on the caller's
/// thread, copied as is into a connection's output by the connection's thread.
///
/// A script call holds its key count, keys and arguments; the connection puts
/// `EVALSHA <sha>` in front (or `EVAL <source>` while it has no hash for the script).
public struct BackendCommand: Sendable {
    /// The script to run, or nil for a plain command.
    public let script: BackendScript?
    /// The words as RESP bulk strings, without the array header.
    private(set) var bytes: [UInt8]
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
        self.bytes = []
        bytes.reserveCapacity(words.reduce(0) { $0 + $1.count + 16 })
        for word in words { append(word) }
    }

    /// A call of `script`; append its `keyCount` keys, then its arguments.
    public init(script: BackendScript, keyCount: Int, capacity: Int = 128) {
        self.script = script
        self.keyCount = keyCount
        self.bytes = []
        bytes.reserveCapacity(capacity)
        append(Int64(keyCount))
        keysStart = bytes.count
    }

    public mutating func append(_ word: UnsafeRawBufferPointer) {
        appendHeader(word.count)
        bytes.append(contentsOf: word)
        bytes.append(13)
        bytes.append(10)
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
        withDecimalText(value) { append($0) }
    }

    private mutating func appendHeader(_ length: Int) {
        if script != nil && count == 1 + keyCount { argumentsStart = bytes.count }
        count += 1
        bytes.append(UInt8(ascii: "$"))
        appendDigits(length, to: &bytes)
        bytes.append(13)
        bytes.append(10)
    }

    /// About how many bytes `write` adds (with a script's hash, not its text).
    var wireSize: Int { bytes.count + (script == nil ? 8 : 64) }

    /// The whole command for the wire: `*N`, then `EVALSHA <sha>` (or `EVAL <source>`)
    /// for a script, then the words.
    func write(into output: inout [UInt8], hash: [UInt8]?) {
        guard let script else {
            appendArrayHeader(count, to: &output)
            output.append(contentsOf: bytes)
            return
        }
        appendArrayHeader(count + 2, to: &output)
        Self.writeCall(of: script, hash: hash, into: &output)
        output.append(contentsOf: bytes)
    }

    /// `EVALSHA <sha>`, or `EVAL <source>` when the hash is not known to be loaded.
    private static func writeCall(of script: BackendScript, hash: [UInt8]?, into output: inout [UInt8]) {
        if let hash {
            output.append(contentsOf: evalsha)
            appendBulk(hash, to: &output)
        } else {
            output.append(contentsOf: eval)
            appendBulk(Array(script.source.utf8), to: &output)
        }
    }

    /// Calls of one script as a single run of it, in the scripts' `BATCH` form:
    /// `EVALSHA <sha> <all keys> <keys...> BATCH <calls> [<key count> <argument count> <arguments...>]...`,
    /// where a call with the same arguments as the one before it sends `=` as its
    /// argument count and no arguments.
    static func writeBatch(_ calls: ArraySlice<BackendCommand>, into output: inout [UInt8], hash: [UInt8]?) {
        let script = calls.first!.script!
        let keys = calls.reduce(0) { $0 + $1.keyCount }
        var arguments = 0
        for index in calls.indices {
            arguments += 2 + (repeatsPrevious(calls, index) ? 0 : calls[index].argumentCount)
        }
        appendArrayHeader(2 + 1 + keys + 2 + arguments, to: &output)
        writeCall(of: script, hash: hash, into: &output)
        appendBulkDecimal(keys, to: &output)
        for call in calls { output.append(contentsOf: call.bytes[call.keysStart..<call.argumentsOffset]) }
        output.append(contentsOf: Self.batch)
        appendBulkDecimal(calls.count, to: &output)
        for index in calls.indices {
            let call = calls[index]
            appendBulkDecimal(call.keyCount, to: &output)
            if repeatsPrevious(calls, index) {
                output.append(contentsOf: Self.same)
            } else {
                appendBulkDecimal(call.argumentCount, to: &output)
                output.append(contentsOf: call.arguments)
            }
        }
    }

    /// Whether the call at `index` has the same arguments, byte for byte, as the one before it.
    private static func repeatsPrevious(_ calls: ArraySlice<BackendCommand>, _ index: Int) -> Bool {
        index > calls.startIndex && calls[index].arguments == calls[index - 1].arguments
    }

    private var argumentsOffset: Int { argumentsStart >= 0 ? argumentsStart : bytes.count }
    private var argumentCount: Int { count - 1 - keyCount }
    /// The arguments' words as they go on the wire.
    private var arguments: ArraySlice<UInt8> { bytes[argumentsOffset...] }

    private static let batch = Array("$5\r\nBATCH\r\n".utf8)
    private static let same = Array("$1\r\n=\r\n".utf8)
    private static let evalsha = Array("$7\r\nEVALSHA\r\n".utf8)
    private static let eval = Array("$4\r\nEVAL\r\n".utf8)
}

func appendArrayHeader(_ count: Int, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "*"))
    appendDigits(count, to: &output)
    output.append(13)
    output.append(10)
}

func appendBulk(_ word: [UInt8], to output: inout [UInt8]) {
    word.withUnsafeBytes { appendBulk($0, to: &output) }
}

func appendBulk(_ word: UnsafeRawBufferPointer, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "$"))
    appendDigits(word.count, to: &output)
    output.append(13)
    output.append(10)
    output.append(contentsOf: word)
    output.append(13)
    output.append(10)
}

/// A count as a bulk string, its text made on the stack: building it as a `String`
/// and an `Array` cost two allocations per count, two counts per call of a batch.
func appendBulkDecimal(_ value: Int, to output: inout [UInt8]) {
    withDecimalText(Int64(value)) { appendBulk($0, to: &output) }
}

/// Calls `body` with `value`'s decimal text, valid only inside it.
private func withDecimalText<R>(_ value: Int64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    // 20 bytes hold "-9223372036854775808".
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
        var magnitude = value.magnitude
        var start = digits.count
        repeat {
            start -= 1
            digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            start -= 1
            digits[start] = UInt8(ascii: "-")
        }
        return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[start...])))
    }
}

/// The decimal digits of a non-negative count.
private func appendDigits(_ value: Int, to output: inout [UInt8]) {
    if value < 10 {
        output.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
        return
    }
    let start = output.count
    var rest = value
    while rest > 0 {
        output.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10))
        rest /= 10
    }
    // Swapped in place: reversing `output[start...]` copied the whole array.
    var low = start
    var high = output.count - 1
    while low < high {
        output.swapAt(low, high)
        low += 1
        high -= 1
    }
}
