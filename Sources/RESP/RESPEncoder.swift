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
        // One reservation and one pass with a raw pointer: a reply written piece by piece
        // pays ByteBuffer's capacity and uniqueness checks for every piece.
        let bound = value.encodedSizeBound(version)
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
            var writer = RESPRawWriter(out)
            writer.write(value, version)
            return writer.count
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

    /// `<type><length>\r\n<bytes>\r\n`.
    private mutating func writeRESPBulk<Bytes: Collection<UInt8>>(_ type: UInt8, _ bytes: Bytes) {
        self.writeRESPHeader(type, Int64(bytes.count))
        self.writeBytes(bytes)
        self.writeStaticString("\r\n")
    }

    /// `<type><decimal>\r\n`, digits written straight into the buffer without a String.
    mutating func writeRESPHeader(_ type: UInt8, _ value: Int64) {
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: RESPRawWriter.maxHeader) { out in
            var writer = RESPRawWriter(out)
            writer.header(type, value)
            return writer.count
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
