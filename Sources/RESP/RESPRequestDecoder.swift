import NIOCore

/// Decodes client requests, arrays of bulk strings or inline commands, into commands' words,
/// with Redis's rules and error messages (`processMultibulkBuffer`, `processInlineBuffer`).
///
/// The decoder keeps state between calls so that a command arriving in many reads costs
/// linear time in all: each complete argument of a multibulk request is consumed as soon as
/// it is whole and kept, with the count still expected, at the end of the caller's `RESPCommands`. A header line or an argument
/// that is still incomplete stays in the buffer. Feed one decoder the bytes of one stream,
/// consuming nothing in between. After it throws, the connection should be closed: Redis
/// replies `-ERR Protocol error: ...` and closes it.
public struct RESPRequestDecoder: Sendable {
    /// Bounds on counts, bulk lengths and line lengths.
    public var limits: RESPLimits
    /// Words still expected for the current multibulk request; 0 between requests.
    private var remaining = 0
    /// Bytes from the reader index already searched for a line end that was not there.
    private var searched = 0
    /// Holds the words of a request in progress for `decode(_:)`.
    private var pending = RESPCommands()

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// Decodes the next complete command from `buffer` into `commands`, consuming its
    /// bytes; false when more bytes are needed. The words of a multibulk request that
    /// is not yet whole are kept at the end of `commands`, so pass the same `commands`
    /// (or one whose `removeCompleted()` kept them) to the next call. Throws only for
    /// malformed input or a limit exceeded, dropping the incomplete request's words.
    /// Empty inline lines and `*0` or negative-count headers are skipped, as Redis does.
    public mutating func decode(_ buffer: inout ByteBuffer, into commands: inout RESPCommands) throws(RESPProtocolError) -> Bool {
        do throws(RESPProtocolError) {
            return try self.decodeCommand(&buffer, into: &commands)
        } catch {
            commands.removePartial()
            self.remaining = 0
            self.searched = 0
            throw error
        }
    }

    /// The next complete command's words, or nil when more bytes are needed; a
    /// convenience over `decode(_:into:)` for callers that want one command at a time.
    public mutating func decode(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [[UInt8]]? {
        var commands = self.pending
        self.pending = RESPCommands()
        defer { self.pending = commands }
        guard try self.decode(&buffer, into: &commands) else { return nil }
        let words = commands.words(of: 0).map { commands.word($0) }
        commands.removeCompleted()
        return words
    }

    private mutating func decodeCommand(_ buffer: inout ByteBuffer, into commands: inout RESPCommands) throws(RESPProtocolError) -> Bool {
        while true {
            if self.remaining == 0, self.searched == 0, let end = self.wholeCommand(buffer, into: &commands) {
                buffer.moveReaderIndex(forwardBy: end)
                return true
            }
            if self.remaining == 0 {
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
                    return false
                }
                if first == RESPType.array {
                    guard let count = try self.readMultibulkHeader(&buffer) else {
                        return false
                    }
                    if count <= 0 {
                        continue
                    }
                    self.remaining = count
                } else {
                    guard let count = try self.readInlineCommand(&buffer, into: &commands) else {
                        return false
                    }
                    if count == 0 {
                        continue
                    }
                    commands.endCommand()
                    return true
                }
            }
            while self.remaining > 0 {
                guard try self.readBulkArgument(&buffer, into: &commands) else {
                    return false
                }
                self.remaining -= 1
            }
            commands.endCommand()
            return true
        }
    }

    /// The common case in one pass over the raw bytes: a whole multibulk request with
    /// plain decimal counts and lengths, all of it already received. Returns how many
    /// bytes it took, or nil, having kept nothing, for anything else (incomplete,
    /// inline, empty, malformed, over a limit), which the general path then decodes
    /// with its exact errors. Accepts only what that path accepts, with the same words.
    private func wholeCommand(_ buffer: ByteBuffer, into commands: inout RESPCommands) -> Int? {
        buffer.withUnsafeReadableBytes { raw -> Int? in
            let end = raw.count
            // A positive decimal without a sign or leading zero, then CR; LF is assumed
            // after it, as the general path does. Returns the value and the index after LF.
            func number(at start: Int, limit: Int) -> (Int, Int)? {
                // One or two digits, as most counts and lengths are, without the loop.
                if start + 2 < end, case let first = raw[start] &- ASCII.zero, first <= 9 {
                    if raw[start + 1] == ASCII.cr {
                        return Int(first) <= limit ? (Int(first), start + 3) : nil
                    }
                    let second = raw[start + 1] &- ASCII.zero
                    if second <= 9, first != 0, start + 3 < end, raw[start + 2] == ASCII.cr {
                        let value = Int(first) &* 10 &+ Int(second)
                        return value <= limit ? (value, start + 4) : nil
                    }
                }
                var index = start
                var value = 0
                while index < end, index - start < 11 {
                    let digit = raw[index] &- ASCII.zero
                    guard digit <= 9 else { break }
                    value = value * 10 + Int(digit)
                    index += 1
                }
                guard index > start, index + 1 < end, raw[index] == ASCII.cr, value <= limit,
                    raw[start] != ASCII.zero || index == start + 1
                else { return nil }
                return (value, index + 2)
            }
            guard end >= 4, raw[0] == RESPType.array,
                let (count, afterHeader) = number(at: 1, limit: self.limits.maxArrayCount), count > 0
            else { return nil }
            // Each word takes at least 6 bytes (`$0\r\n\r\n`), so a count the bytes cannot
            // hold is incomplete, and no room is made for it.
            guard count <= (end - afterHeader) / 6 else { return nil }
            var index = afterHeader
            let whole = commands.appendWords(maxWords: count, maxBytes: end - afterHeader) { words in
                for _ in 0..<count {
                    guard index < end, raw[index] == RESPType.bulkString,
                        let (length, dataStart) = number(at: index + 1, limit: self.limits.maxBulkLength),
                        dataStart + length + 2 <= end,
                        raw[dataStart + length] == ASCII.cr, raw[dataStart + length + 1] == ASCII.lf
                    else { return false }
                    words.append(UnsafeRawBufferPointer(rebasing: raw[dataStart..<dataStart + length]))
                    index = dataStart + length + 2
                }
                return true
            }
            guard whole else { return nil }
            commands.endCommand()
            return index
        }
    }

    /// `*<count>\r\n`; the count may be zero or negative, meaning no command.
    private mutating func readMultibulkHeader(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> Int? {
        guard let cr = try self.findLineEnd(ASCII.cr, in: buffer, tooLong: .tooBigMultibulkCountString),
            cr + 1 < buffer.writerIndex
        else {
            return nil
        }
        let count = buffer.respWithBytes(from: buffer.readerIndex + 1, to: cr, RESPInteger.parseStrict)
        guard let count, count <= self.limits.maxArrayCount else {
            throw .invalidMultibulkLength
        }
        // Like Redis, the byte after CR is taken to be LF without looking.
        self.consume(&buffer, to: cr + 2)
        return count
    }

    /// `$<length>\r\n<bytes>\r\n`, consumed only once all of it is there.
    private mutating func readBulkArgument(_ buffer: inout ByteBuffer, into commands: inout RESPCommands) throws(RESPProtocolError) -> Bool {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else {
            return false
        }
        guard first == RESPType.bulkString else {
            throw .expectedDollar(got: first)
        }
        guard let cr = try self.findLineEnd(ASCII.cr, in: buffer, tooLong: .tooBigBulkCountString),
            cr + 1 < buffer.writerIndex
        else {
            return false
        }
        let length = buffer.respWithBytes(from: start + 1, to: cr, RESPInteger.parseStrict)
        guard let length, length >= 0, length <= self.limits.maxBulkLength else {
            throw .invalidBulkLength
        }
        let dataStart = cr + 2
        guard buffer.writerIndex - dataStart >= length + 2 else {
            return false
        }
        guard buffer.getInteger(at: dataStart + length, as: UInt8.self) == ASCII.cr,
            buffer.getInteger(at: dataStart + length + 1, as: UInt8.self) == ASCII.lf
        else {
            throw .expectedCRLFAfterBulkData
        }
        buffer.respAppendWord(at: dataStart, length: length, to: &commands)
        self.consume(&buffer, to: dataStart + length + 2)
        return true
    }

    /// A line up to LF (a CR before it is dropped), split into arguments like `redis-cli`
    /// input, which are appended to `commands`; returns how many, or nil until the line
    /// has arrived.
    private mutating func readInlineCommand(_ buffer: inout ByteBuffer, into commands: inout RESPCommands) throws(RESPProtocolError) -> Int? {
        guard let lf = try self.findLineEnd(ASCII.lf, in: buffer, tooLong: .tooBigInlineRequest) else {
            return nil
        }
        var end = lf
        if end > buffer.readerIndex && buffer.getInteger(at: end - 1, as: UInt8.self) == ASCII.cr {
            end -= 1
        }
        let count = buffer.respWithBytes(from: buffer.readerIndex, to: end) { RESPInlineSplitter.append($0, to: &commands) }
        guard let count else {
            throw .unbalancedQuotes
        }
        self.consume(&buffer, to: lf + 1)
        return count
    }

    /// Absolute index of the first `byte` from the reader index, searching each byte once
    /// across calls; throws `tooLong` when more than `maxInlineLength` bytes hold none.
    private mutating func findLineEnd(
        _ byte: UInt8,
        in buffer: ByteBuffer,
        tooLong: RESPProtocolError
    ) throws(RESPProtocolError) -> Int? {
        let from = buffer.readerIndex + min(self.searched, buffer.readableBytes)
        if let index = buffer.respFirstIndex(of: byte, from: from) {
            return index
        }
        if buffer.readableBytes > self.limits.maxInlineLength {
            throw tooLong
        }
        self.searched = buffer.readableBytes
        return nil
    }

    /// Moves the reader index to `index`, forgetting what was searched.
    private mutating func consume(_ buffer: inout ByteBuffer, to index: Int) {
        buffer.moveReaderIndex(to: index)
        self.searched = 0
    }
}
