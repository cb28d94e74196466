import NIOCore

extension ByteBuffer {
    /// `writeWithUnsafeMutableBytes(minimumWritableBytes:_:)` without the `dropFirst` it
    /// takes of the storage to find the writer index, which Swift leaves as a call (about
    /// 60 instructions per reply or read); the same reservation, pointer and move.
    @inlinable @inline(__always) @discardableResult
    public mutating func writeInPlace(minimumWritableBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        self.reserveCapacity(minimumWritableBytes: minimumWritableBytes)
        let start = self.writerIndex
        let written = self.withVeryUnsafeMutableBytes { storage in
            body(UnsafeMutableRawBufferPointer(start: storage.baseAddress.map { $0 + start }, count: storage.count - start))
        }
        self.moveWriterIndex(forwardBy: written)
        return written
    }

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
        self.writeInPlace(minimumWritableBytes: bound) { out in
            var writer = RESPRawWriter(out)
            writer.write(value, version)
            return writer.count
        }
    }

    /// Writes a reply whose shape the caller knows, element by element through `body`,
    /// without building a `RESPValue`: one reservation of `bound` bytes, which must be at
    /// least what `body` writes (`RESPDirectWriter.headerBound` per header or integer,
    /// `scalarBound` per other scalar).
    public mutating func writeRESP(version: RESPVersion, bound: Int, _ body: (inout RESPDirectWriter) -> Void) {
        self.writeInPlace(minimumWritableBytes: bound) { out in
            var writer = RESPDirectWriter(RESPRawWriter(UnsafeMutableRawBufferPointer(rebasing: out[..<bound])), version: version)
            body(&writer)
            return writer.count
        }
    }

    /// An array of `count` integers, which `body` writes (`RESPDirectWriter.integer`).
    public mutating func writeRESPIntegerArray(count: Int, version: RESPVersion, _ body: (inout RESPDirectWriter) -> Void) {
        self.writeRESP(version: version, bound: (count + 1) * RESPDirectWriter.headerBound) { out in
            out.arrayHeader(count)
            body(&out)
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

    /// `*<count>\r\n`: the header of a request's array of words.
    public mutating func writeRESPArrayHeader(_ count: Int) {
        self.writeRESPHeader(RESPType.array, Int64(count))
    }

    /// One word of a request, `$<length>\r\n<bytes>\r\n`, in one reservation.
    public mutating func writeRESPBulkString(_ bytes: UnsafeRawBufferPointer) {
        self.writeRESPWords(bound: RESPWordWriter.bulkBound(bytes.count)) { $0.bulkString(bytes) }
    }

    /// `value`'s decimal text as one word of a request, made in place without a String.
    public mutating func writeRESPBulkString(decimal value: Int64) {
        self.writeRESPWords(bound: RESPWordWriter.decimalBound) { $0.bulkDecimal(value) }
    }

    /// Several words of a request in one reservation of `bound` bytes, which must be at
    /// least what `body` writes (`RESPWordWriter`'s bounds); returns how many it wrote.
    @discardableResult
    public mutating func writeRESPWords(bound: Int, _ body: (inout RESPWordWriter) -> Void) -> Int {
        var words = 0
        self.writeInPlace(minimumWritableBytes: bound) { out in
            var writer = RESPWordWriter(RESPRawWriter(UnsafeMutableRawBufferPointer(rebasing: out[..<bound])))
            body(&writer)
            words = writer.words
            return writer.count
        }
        return words
    }

    /// `<type><length>\r\n<bytes>\r\n`.
    private mutating func writeRESPBulk<Bytes: Collection<UInt8>>(_ type: UInt8, _ bytes: Bytes) {
        self.writeRESPHeader(type, Int64(bytes.count))
        self.writeBytes(bytes)
        self.writeStaticString("\r\n")
    }

    /// `<type><decimal>\r\n`, digits written straight into the buffer without a String.
    mutating func writeRESPHeader(_ type: UInt8, _ value: Int64) {
        self.writeInPlace(minimumWritableBytes: RESPRawWriter.maxHeader) { out in
            var writer = RESPRawWriter(out)
            writer.header(type, value)
            return writer.count
        }
    }
}

/// Writes the parts of a reply in the bytes `writeRESPValue` gives for the same values.
public struct RESPDirectWriter {
    private var raw: RESPRawWriter
    public let version: RESPVersion

    /// The most bytes an array header or an integer takes.
    public static let headerBound = RESPRawWriter.maxHeader
    /// The most bytes any scalar takes (an integer, double, boolean or null).
    public static let scalarBound = RESPRawWriter.maxHeader + RESPRawWriter.maxDoubleText + 2

    init(_ raw: RESPRawWriter, version: RESPVersion) {
        self.raw = raw
        self.version = version
    }

    var count: Int { self.raw.count }

    /// `*<count>`: the elements follow.
    public mutating func arrayHeader(_ count: Int) {
        self.raw.header(RESPType.array, Int64(count))
    }

    public mutating func integer(_ value: Int64) {
        self.raw.header(RESPType.integer, value)
    }

    /// The most bytes `bulkString` takes for `count` bytes.
    public static func bulkBound(_ count: Int) -> Int {
        RESPRawWriter.maxHeader + count + 2
    }

    /// `$<length>\r\n<bytes>\r\n`, as `.bulkString` is encoded.
    public mutating func bulkString(_ bytes: UnsafeRawBufferPointer) {
        self.raw.bulkString(bytes)
    }

    /// The header of a map of `count` pairs, as `.map` is encoded: RESP3 `%<count>`, RESP2
    /// a flat array of twice as many elements.
    public mutating func mapHeader(_ count: Int) {
        self.raw.header(self.version == .resp3 ? RESPType.map : RESPType.array, Int64(self.version == .resp3 ? count : 2 * count))
    }

    /// The header of a set of `count` elements, as `.set` is encoded: RESP3 `~<count>`,
    /// RESP2 an array.
    public mutating func setHeader(_ count: Int) {
        self.raw.header(self.version == .resp3 ? RESPType.set : RESPType.array, Int64(count))
    }

    /// A scalar, encoded as `writeRESPValue` encodes it; not for strings or aggregates,
    /// whose size the bounds do not cover.
    public mutating func scalar(_ value: RESPValue) {
        switch value {
        case .integer, .double, .boolean, .null, .nullArray: self.raw.write(value, self.version)
        default: preconditionFailure("RESPDirectWriter.scalar takes only scalars")
        }
    }
}

/// Writes words of a request (bulk strings) into memory `ByteBuffer.writeRESPWords` reserved.
public struct RESPWordWriter {
    private var raw: RESPRawWriter
    /// Words written so far.
    public private(set) var words = 0

    /// The most bytes `bulkDecimal` takes: `$20\r\n`, a sign and 19 digits, CR and LF.
    public static let decimalBound = 27

    /// The most bytes `bulkString` takes for `count` bytes.
    public static func bulkBound(_ count: Int) -> Int {
        RESPRawWriter.maxHeader + count + 2
    }

    init(_ raw: RESPRawWriter) {
        self.raw = raw
    }

    var count: Int { self.raw.count }

    public mutating func bulkString(_ bytes: UnsafeRawBufferPointer) {
        self.raw.bulkString(bytes)
        self.words += 1
    }

    /// `text`'s UTF-8 bytes as a word.
    public mutating func bulkString(_ text: String) {
        var text = text
        text.withUTF8 { self.bulkString(UnsafeRawBufferPointer($0)) }
    }

    /// `value`'s decimal text as a word.
    public mutating func bulkDecimal(_ value: Int64) {
        self.raw.bulkDecimal(value)
        self.words += 1
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
