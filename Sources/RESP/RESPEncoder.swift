import NIOCore

extension ByteBuffer {
    /// Encodes `value` for a peer speaking `version`.
    ///
    /// RESP3 types are downgraded for RESP2 as `RESPValue` documents: `.null` is `$-1`,
    /// `.nullArray` is `*-1`, booleans are `:1`/`:0`, doubles, big numbers and verbatim
    /// strings are bulk strings, bulk errors are simple errors, maps are flat arrays of keys
    /// and values, sets and pushes are arrays, and attributes send only their value. A CR or
    /// LF inside a simple string or error is sent as a space, so no reply can break framing.
    public mutating func writeRESPValue(_ value: RESPValue, version: RESPVersion) {
        switch value {
        case .simpleString(let text):
            self.writeRESPLine(RESPType.simpleString, text)
        case .error(let text):
            self.writeRESPLine(RESPType.error, text)
        case .integer(let number):
            self.writeRESPHeader(RESPType.integer, number)
        case .bulkString(let bytes):
            self.writeRESPBulk(RESPType.bulkString, bytes)
        case .null:
            if version == .resp3 {
                self.writeStaticString("_\r\n")
            } else {
                self.writeStaticString("$-1\r\n")
            }
        case .nullArray:
            if version == .resp3 {
                self.writeStaticString("_\r\n")
            } else {
                self.writeStaticString("*-1\r\n")
            }
        case .array(let elements):
            self.writeRESPAggregate(RESPType.array, elements, version: version)
        case .boolean(let flag):
            switch (version, flag) {
            case (.resp3, true): self.writeStaticString("#t\r\n")
            case (.resp3, false): self.writeStaticString("#f\r\n")
            case (.resp2, true): self.writeStaticString(":1\r\n")
            case (.resp2, false): self.writeStaticString(":0\r\n")
            }
        case .double(let number):
            var text = RESPValue.formatDouble(number)
            if version == .resp3 {
                self.writeRESPLine(RESPType.double, text)
            } else {
                // Contiguous UTF-8: a String's `utf8` view as a generic collection is copied byte by byte.
                text.withUTF8 { self.writeRESPBulk(RESPType.bulkString, UnsafeRawBufferPointer($0)) }
            }
        case .bigNumber(let text):
            if version == .resp3 {
                self.writeRESPLine(RESPType.bigNumber, text)
            } else {
                self.writeRESPBulk(RESPType.bulkString, text.utf8)
            }
        case .bulkError(let bytes):
            if version == .resp3 {
                self.writeRESPBulk(RESPType.bulkError, bytes)
            } else {
                self.writeRESPLine(RESPType.error, bytes)
            }
        case .verbatimString(let format, let text):
            if version == .resp3 {
                // The format is three bytes by protocol (`txt`, `mkd`); it is sent as given.
                self.writeRESPHeader(RESPType.verbatimString, Int64(format.utf8.count + 1 + text.count))
                self.writeString(format)
                self.writeInteger(UInt8(ascii: ":"))
                self.writeBytes(text)
                self.writeStaticString("\r\n")
            } else {
                self.writeRESPBulk(RESPType.bulkString, text)
            }
        case .map(let pairs):
            if version == .resp3 {
                self.writeRESPPairs(RESPType.map, pairs, version: version)
            } else {
                self.writeRESPHeader(RESPType.array, Int64(pairs.count * 2))
                for pair in pairs {
                    self.writeRESPValue(pair.key, version: version)
                    self.writeRESPValue(pair.value, version: version)
                }
            }
        case .set(let elements):
            self.writeRESPAggregate(version == .resp3 ? RESPType.set : RESPType.array, elements, version: version)
        case .attribute(let pairs, let attributed):
            if version == .resp3 {
                self.writeRESPPairs(RESPType.attribute, pairs, version: version)
            }
            self.writeRESPValue(attributed, version: version)
        case .push(let elements):
            self.writeRESPAggregate(version == .resp3 ? RESPType.push : RESPType.array, elements, version: version)
        }
    }

    /// Encodes a request the way clients send it: an array of bulk strings.
    public mutating func writeRESPCommand(_ arguments: [[UInt8]]) {
        self.writeRESPHeader(RESPType.array, Int64(arguments.count))
        for argument in arguments {
            self.writeRESPBulk(RESPType.bulkString, argument)
        }
    }

    /// Encodes a request the way clients send it: an array of bulk strings of the UTF-8 texts.
    public mutating func writeRESPCommand(_ arguments: String...) {
        self.writeRESPHeader(RESPType.array, Int64(arguments.count))
        for argument in arguments {
            self.writeRESPBulk(RESPType.bulkString, argument.utf8)
        }
    }

    /// `<type><elements.count>\r\n` followed by each element.
    private mutating func writeRESPAggregate(_ type: UInt8, _ elements: [RESPValue], version: RESPVersion) {
        self.writeRESPHeader(type, Int64(elements.count))
        for element in elements {
            self.writeRESPValue(element, version: version)
        }
    }

    /// `<type><pairs.count>\r\n` followed by each key and value.
    private mutating func writeRESPPairs(_ type: UInt8, _ pairs: [RESPPair], version: RESPVersion) {
        self.writeRESPHeader(type, Int64(pairs.count))
        for pair in pairs {
            self.writeRESPValue(pair.key, version: version)
            self.writeRESPValue(pair.value, version: version)
        }
    }

    /// `<type><length>\r\n<bytes>\r\n`.
    private mutating func writeRESPBulk<Bytes: Collection<UInt8>>(_ type: UInt8, _ bytes: Bytes) {
        self.writeRESPHeader(type, Int64(bytes.count))
        self.writeBytes(bytes)
        self.writeStaticString("\r\n")
    }

    /// `<type><text>\r\n`, with any CR or LF in the text sent as a space.
    private mutating func writeRESPLine(_ type: UInt8, _ text: String) {
        var text = text
        // Replies like `+OK` are written once per command: one pass over the UTF-8 bytes
        // both copies them and turns line breaks into spaces.
        _ = text.withUTF8 { bytes in
            self.writeWithUnsafeMutableBytes(minimumWritableBytes: bytes.count + 3) { out in
                out[0] = type
                for (offset, byte) in bytes.enumerated() {
                    out[offset + 1] = byte == ASCII.cr || byte == ASCII.lf ? UInt8(ascii: " ") : byte
                }
                out[bytes.count + 1] = ASCII.cr
                out[bytes.count + 2] = ASCII.lf
                return bytes.count + 3
            }
        }
    }

    /// `<type><bytes>\r\n`, with any CR or LF in the bytes sent as a space.
    private mutating func writeRESPLine(_ type: UInt8, _ bytes: [UInt8]) {
        self.writeInteger(type)
        let start = self.writerIndex
        let written = self.writeBytes(bytes)
        self.replaceLineBreaks(at: start, length: written)
        self.writeStaticString("\r\n")
    }

    /// Overwrites each CR and LF among the `length` bytes written at `start` with a space.
    private mutating func replaceLineBreaks(at start: Int, length: Int) {
        guard length > 0 else {
            return
        }
        let hasBreak = self.withUnsafeReadableBytes { raw in
            let lower = start - self.readerIndex
            return raw[lower..<(lower + length)].contains { $0 == ASCII.cr || $0 == ASCII.lf }
        }
        guard hasBreak else {
            return
        }
        for index in start..<(start + length) {
            let byte = self.getInteger(at: index, as: UInt8.self)
            if byte == ASCII.cr || byte == ASCII.lf {
                self.setInteger(UInt8(ascii: " "), at: index)
            }
        }
    }

    /// `<type><decimal>\r\n`, digits written straight into the buffer without a String.
    mutating func writeRESPHeader(_ type: UInt8, _ value: Int64) {
        // type, sign, 19 digits, CR, LF
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 23) { out in
            out[0] = type
            var length = 1
            if value < 0 {
                out[length] = ASCII.minus
                length += 1
            }
            var magnitude = value.magnitude
            var digitCount = 1
            var bound: UInt64 = 10
            // Int64's magnitude has at most 19 digits, and 10^19 still fits UInt64.
            while digitCount < 19 && magnitude >= bound {
                digitCount += 1
                bound &*= 10
            }
            var position = length + digitCount - 1
            repeat {
                out[position] = ASCII.zero &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                position -= 1
            } while magnitude > 0
            length += digitCount
            out[length] = ASCII.cr
            out[length + 1] = ASCII.lf
            return length + 2
        }
    }
}

/// The first byte of each RESP2 and RESP3 type.
enum RESPType {
    static let simpleString = UInt8(ascii: "+")
    static let error = UInt8(ascii: "-")
    static let integer = UInt8(ascii: ":")
    static let bulkString = UInt8(ascii: "$")
    static let array = UInt8(ascii: "*")
    static let null = UInt8(ascii: "_")
    static let boolean = UInt8(ascii: "#")
    static let double = UInt8(ascii: ",")
    static let bigNumber = UInt8(ascii: "(")
    static let bulkError = UInt8(ascii: "!")
    static let verbatimString = UInt8(ascii: "=")
    static let map = UInt8(ascii: "%")
    static let set = UInt8(ascii: "~")
    static let attribute = UInt8(ascii: "|")
    static let push = UInt8(ascii: ">")
}
