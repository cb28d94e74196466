import NIOCore

/// Decodes any RESP2 or RESP3 value: the client side of the protocol, and tests.
///
/// It parses from a copy of the buffer and moves the reader index only when a whole value
/// is there, so partial input costs a re-parse from the value's start on the next call.
public struct RESPValueDecoder: Sendable {
    /// Bounds on lengths, counts, line lengths and nesting.
    public var limits: RESPLimits

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// Returns the next whole value and consumes its bytes; returns nil, consuming nothing,
    /// when more bytes are needed. Throws only for malformed input or a limit exceeded.
    public func decode(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> RESPValue? {
        var copy = buffer
        guard let value = try self.readValue(&copy, depth: 0) else {
            return nil
        }
        buffer.moveReaderIndex(to: copy.readerIndex)
        return value
    }

    /// Reads one value; `depth` counts the aggregates it sits inside.
    private func readValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPProtocolError) -> RESPValue? {
        guard let type = buffer.readInteger(as: UInt8.self) else {
            return nil
        }
        switch type {
        case RESPType.simpleString:
            return try self.readLine(&buffer).map { .simpleString(String(buffer: $0)) }
        case RESPType.error:
            return try self.readLine(&buffer).map { .error(String(buffer: $0)) }
        case RESPType.integer:
            guard let number = try self.readNumber(&buffer, invalid: .invalidInteger) else {
                return nil
            }
            return .integer(Int64(number))
        case RESPType.bulkString:
            guard let length = try self.readNumber(&buffer, invalid: .invalidBulkLength) else {
                return nil
            }
            if length == -1 {
                return .null
            }
            return try self.readBulkData(&buffer, length: length).map { .bulkString($0) }
        case RESPType.array:
            guard let count = try self.readCount(&buffer, depth: depth, allowNull: true) else {
                return nil
            }
            if count == -1 {
                return .nullArray
            }
            return try self.readElements(&buffer, count: count, depth: depth).map { .array($0) }
        case RESPType.null:
            guard let line = try self.readLine(&buffer) else {
                return nil
            }
            guard line.readableBytes == 0 else {
                throw .invalidNull
            }
            return .null
        case RESPType.boolean:
            guard let line = try self.readLine(&buffer) else {
                return nil
            }
            switch line.readableBytesView.first {
            case UInt8(ascii: "t") where line.readableBytes == 1: return .boolean(true)
            case UInt8(ascii: "f") where line.readableBytes == 1: return .boolean(false)
            default: throw .invalidBoolean
            }
        case RESPType.double:
            guard let line = try self.readLine(&buffer) else {
                return nil
            }
            return .double(try Self.parseDouble(String(buffer: line)))
        case RESPType.bigNumber:
            guard let line = try self.readLine(&buffer) else {
                return nil
            }
            guard Self.isBigNumber(line.readableBytesView) else {
                throw .invalidBigNumber
            }
            return .bigNumber(String(buffer: line))
        case RESPType.bulkError:
            guard let length = try self.readNumber(&buffer, invalid: .invalidBulkLength) else {
                return nil
            }
            return try self.readBulkData(&buffer, length: length).map { .bulkError($0) }
        case RESPType.verbatimString:
            guard let length = try self.readNumber(&buffer, invalid: .invalidBulkLength) else {
                return nil
            }
            guard let bytes = try self.readBulkData(&buffer, length: length) else {
                return nil
            }
            guard bytes.count >= 4, bytes[3] == UInt8(ascii: ":") else {
                throw .invalidVerbatimString
            }
            return .verbatimString(format: String(decoding: bytes[..<3], as: UTF8.self), text: Array(bytes[4...]))
        case RESPType.map:
            guard let count = try self.readCount(&buffer, depth: depth, allowNull: false) else {
                return nil
            }
            return try self.readPairs(&buffer, count: count, depth: depth).map { .map($0) }
        case RESPType.set:
            guard let count = try self.readCount(&buffer, depth: depth, allowNull: false) else {
                return nil
            }
            return try self.readElements(&buffer, count: count, depth: depth).map { .set($0) }
        case RESPType.attribute:
            guard let count = try self.readCount(&buffer, depth: depth, allowNull: false) else {
                return nil
            }
            guard let pairs = try self.readPairs(&buffer, count: count, depth: depth) else {
                return nil
            }
            // The described value counts one level deeper too, so chained attributes stay bounded.
            guard let attributed = try self.readValue(&buffer, depth: depth + 1) else {
                return nil
            }
            return .attribute(pairs, attributed)
        case RESPType.push:
            guard let count = try self.readCount(&buffer, depth: depth, allowNull: false) else {
                return nil
            }
            return try self.readElements(&buffer, count: count, depth: depth).map { .push($0) }
        default:
            throw .unknownType(type)
        }
    }

    /// Reads `count` values one level below `depth`.
    private func readElements(
        _ buffer: inout ByteBuffer,
        count: Int,
        depth: Int
    ) throws(RESPProtocolError) -> [RESPValue]? {
        var elements: [RESPValue] = []
        elements.reserveCapacity(min(count, 1024))
        for _ in 0..<count {
            guard let element = try self.readValue(&buffer, depth: depth + 1) else {
                return nil
            }
            elements.append(element)
        }
        return elements
    }

    /// Reads `count` key/value pairs one level below `depth`.
    private func readPairs(_ buffer: inout ByteBuffer, count: Int, depth: Int) throws(RESPProtocolError) -> [RESPPair]? {
        var pairs: [RESPPair] = []
        pairs.reserveCapacity(min(count, 1024))
        for _ in 0..<count {
            guard let key = try self.readValue(&buffer, depth: depth + 1),
                let value = try self.readValue(&buffer, depth: depth + 1)
            else {
                return nil
            }
            pairs.append(RESPPair(key, value))
        }
        return pairs
    }

    /// Reads an aggregate's count line and checks it and the nesting against the limits.
    private func readCount(
        _ buffer: inout ByteBuffer,
        depth: Int,
        allowNull: Bool
    ) throws(RESPProtocolError) -> Int? {
        guard let count = try self.readNumber(&buffer, invalid: .invalidMultibulkLength) else {
            return nil
        }
        if count == -1 && allowNull {
            return count
        }
        guard count >= 0, count <= self.limits.maxArrayCount else {
            throw .invalidMultibulkLength
        }
        guard depth < self.limits.maxNestingDepth else {
            throw .nestingTooDeep
        }
        return count
    }

    /// Reads `length` bytes of bulk data and the CRLF after them.
    private func readBulkData(_ buffer: inout ByteBuffer, length: Int) throws(RESPProtocolError) -> [UInt8]? {
        guard length >= 0, length <= self.limits.maxBulkLength else {
            throw .invalidBulkLength
        }
        guard buffer.readableBytes >= length + 2 else {
            return nil
        }
        let end = buffer.readerIndex + length
        guard buffer.getInteger(at: end, as: UInt8.self) == ASCII.cr,
            buffer.getInteger(at: end + 1, as: UInt8.self) == ASCII.lf
        else {
            throw .expectedCRLFAfterBulkData
        }
        let bytes = buffer.readBytes(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return bytes
    }

    /// Reads a line holding a decimal integer.
    private func readNumber(_ buffer: inout ByteBuffer, invalid: RESPProtocolError) throws(RESPProtocolError) -> Int? {
        guard let line = try self.readLine(&buffer) else {
            return nil
        }
        guard let number = line.withUnsafeReadableBytes({ RESPInteger.parseLenient($0) }) else {
            throw invalid
        }
        return number
    }

    /// Reads a line up to CRLF, consuming the CRLF; the line may hold no bare CR or LF.
    private func readLine(_ buffer: inout ByteBuffer) throws(RESPProtocolError) -> ByteBuffer? {
        guard let cr = buffer.respFirstIndex(of: ASCII.cr, from: buffer.readerIndex) else {
            if buffer.readableBytes > self.limits.maxInlineLength {
                throw .lineTooLong
            }
            return nil
        }
        let length = cr - buffer.readerIndex
        guard length <= self.limits.maxInlineLength else {
            throw .lineTooLong
        }
        guard let next = buffer.getInteger(at: cr + 1, as: UInt8.self) else {
            return nil
        }
        guard next == ASCII.lf else {
            throw .expectedCRLF
        }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    /// `inf`, `-inf`, `nan` or a decimal floating-point number.
    private static func parseDouble(_ text: String) throws(RESPProtocolError) -> Double {
        switch text {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "-nan": return .nan
        default:
            guard let first = text.utf8.first,
                first == ASCII.minus || first == ASCII.plus || first == UInt8(ascii: ".")
                    || (first >= ASCII.zero && first <= ASCII.nine),
                let number = Double(text), number.isFinite
            else {
                throw .invalidDouble
            }
            return number
        }
    }

    /// An optional sign followed by at least one digit.
    private static func isBigNumber(_ bytes: ByteBufferView) -> Bool {
        var digits = bytes[...]
        if let first = digits.first, first == ASCII.minus || first == ASCII.plus {
            digits = digits.dropFirst()
        }
        return !digits.isEmpty && digits.allSatisfy { $0 >= ASCII.zero && $0 <= ASCII.nine }
    }
}
