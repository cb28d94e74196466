import NIOCore

/// Decodes client requests, arrays of bulk strings or inline commands, into argument lists,
/// with Redis's rules and error messages (`processMultibulkBuffer`, `processInlineBuffer`).
///
/// The decoder keeps state between calls so that a command arriving in many reads costs
/// linear time in all: each complete argument of a multibulk request is consumed as soon as
/// it is whole and kept here with the count still expected. A header line or an argument
/// that is still incomplete stays in the buffer. Feed one decoder the bytes of one stream,
/// consuming nothing in between. After it throws, the connection should be closed: Redis
/// replies `-ERR Protocol error: ...` and closes it.
public struct RESPRequestDecoder: Sendable {
    /// Bounds on counts, bulk lengths and line lengths.
    public var limits: RESPLimits
    /// The arguments read so far of a multibulk request that is not yet complete.
    private var arguments: [[UInt8]] = []
    /// Arguments still expected for the current multibulk request; 0 between requests.
    private var remaining = 0
    /// Bytes from the reader index already searched for a line end that was not there.
    private var searched = 0

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// Returns the next complete command's arguments and consumes its bytes; nil when more
    /// bytes are needed. Throws only for malformed input or a limit exceeded. Empty inline
    /// lines and `*0` or negative-count headers are skipped, as Redis does.
    public mutating func decode(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [[UInt8]]? {
        do throws(RESPProtocolError) {
            return try self.decodeCommand(&buffer)
        } catch {
            self.arguments = []
            self.remaining = 0
            self.searched = 0
            throw error
        }
    }

    private mutating func decodeCommand(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [[UInt8]]? {
        while true {
            if self.remaining == 0 {
                guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else {
                    return nil
                }
                if first == RESPType.array {
                    guard let count = try self.readMultibulkHeader(&buffer) else {
                        return nil
                    }
                    if count <= 0 {
                        continue
                    }
                    self.remaining = count
                    self.arguments.reserveCapacity(min(count, 1024))
                } else {
                    guard let arguments = try self.readInlineCommand(&buffer) else {
                        return nil
                    }
                    if arguments.isEmpty {
                        continue
                    }
                    return arguments
                }
            }
            while self.remaining > 0 {
                guard let argument = try self.readBulkArgument(&buffer) else {
                    return nil
                }
                self.arguments.append(argument)
                self.remaining -= 1
            }
            let command = self.arguments
            self.arguments = []
            return command
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
    private mutating func readBulkArgument(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [UInt8]? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else {
            return nil
        }
        guard first == RESPType.bulkString else {
            throw .expectedDollar(got: first)
        }
        guard let cr = try self.findLineEnd(ASCII.cr, in: buffer, tooLong: .tooBigBulkCountString),
            cr + 1 < buffer.writerIndex
        else {
            return nil
        }
        let length = buffer.respWithBytes(from: start + 1, to: cr, RESPInteger.parseStrict)
        guard let length, length >= 0, length <= self.limits.maxBulkLength else {
            throw .invalidBulkLength
        }
        let dataStart = cr + 2
        guard buffer.writerIndex - dataStart >= length + 2 else {
            return nil
        }
        guard buffer.getInteger(at: dataStart + length, as: UInt8.self) == ASCII.cr,
            buffer.getInteger(at: dataStart + length + 1, as: UInt8.self) == ASCII.lf
        else {
            throw .expectedCRLFAfterBulkData
        }
        let argument = buffer.getBytes(at: dataStart, length: length)!
        self.consume(&buffer, to: dataStart + length + 2)
        return argument
    }

    /// A line up to LF (a CR before it is dropped), split into arguments like `redis-cli` input.
    private mutating func readInlineCommand(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> [[UInt8]]? {
        guard let lf = try self.findLineEnd(ASCII.lf, in: buffer, tooLong: .tooBigInlineRequest) else {
            return nil
        }
        var end = lf
        if end > buffer.readerIndex && buffer.getInteger(at: end - 1, as: UInt8.self) == ASCII.cr {
            end -= 1
        }
        let arguments = buffer.respWithBytes(from: buffer.readerIndex, to: end, RESPInlineSplitter.split)
        guard let arguments else {
            throw .unbalancedQuotes
        }
        self.consume(&buffer, to: lf + 1)
        return arguments
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
