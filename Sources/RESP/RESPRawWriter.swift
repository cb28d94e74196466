extension RESPValue {
    /// The most bytes `value` can take encoded for `version`, so that one reservation
    /// holds the whole reply. Exact for most types; doubles get room for their longest text.
    func encodedSizeBound(_ version: RESPVersion) -> Int {
        switch self {
        case .simpleString(let text), .error(let text): return text.utf8.count + 3
        case .integer: return RESPRawWriter.maxHeader
        case .bulkString(let bytes): return RESPRawWriter.maxHeader + bytes.count + 2
        case .null, .nullArray: return 5
        case .boolean: return 4
        case .double: return RESPRawWriter.maxHeader + RESPRawWriter.maxDoubleText + 2
        case .bigNumber(let text): return RESPRawWriter.maxHeader + text.utf8.count + 2
        case .bulkError(let bytes): return RESPRawWriter.maxHeader + bytes.count + 2
        case .verbatimString(let format, let text): return RESPRawWriter.maxHeader + format.utf8.count + 1 + text.count + 2
        case .array(let elements), .set(let elements), .push(let elements):
            var total = RESPRawWriter.maxHeader
            for element in elements { total += element.encodedSizeBound(version) }
            return total
        case .map(let pairs):
            var total = RESPRawWriter.maxHeader
            for pair in pairs { total += pair.key.encodedSizeBound(version) + pair.value.encodedSizeBound(version) }
            return total
        case .attribute(let pairs, let attributed):
            return RESPValue.map(pairs).encodedSizeBound(version) + attributed.encodedSizeBound(version)
        }
    }
}

/// Writes RESP into memory reserved beforehand for `RESPValue.encodedSizeBound`.
struct RESPRawWriter {
    /// A type byte, a sign, 19 digits, CR and LF.
    static let maxHeader = 23
    /// Longer than any text `RESPValue.formatDouble` returns (`-1.2345678901234567e-308`).
    static let maxDoubleText = 32

    private let out: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(_ out: UnsafeMutableRawBufferPointer) {
        self.out = out
    }

    mutating func write(_ value: RESPValue, _ version: RESPVersion) {
        switch value {
        case .simpleString(let text):
            self.line(RESPType.simpleString, text)
        case .error(let text):
            self.line(RESPType.error, text)
        case .integer(let number):
            self.header(RESPType.integer, number)
        case .bulkString(let bytes):
            self.bulk(RESPType.bulkString, bytes)
        case .null:
            self.staticText(version == .resp3 ? "_\r\n" : "$-1\r\n")
        case .nullArray:
            self.staticText(version == .resp3 ? "_\r\n" : "*-1\r\n")
        case .boolean(let flag):
            switch (version, flag) {
            case (.resp3, true): self.staticText("#t\r\n")
            case (.resp3, false): self.staticText("#f\r\n")
            case (.resp2, true): self.staticText(":1\r\n")
            case (.resp2, false): self.staticText(":0\r\n")
            }
        case .double(let number):
            RESPValue.withDoubleText(number) { text in
                if version == .resp3 {
                    self.byte(RESPType.double)
                    self.bytes(text)
                    self.crlf()
                } else {
                    self.bulk(RESPType.bulkString, text)
                }
            }
        case .bigNumber(let text):
            if version == .resp3 {
                self.line(RESPType.bigNumber, text)
            } else {
                var text = text
                text.withUTF8 { self.bulk(RESPType.bulkString, UnsafeRawBufferPointer($0)) }
            }
        case .bulkError(let bytes):
            if version == .resp3 {
                self.bulk(RESPType.bulkError, bytes)
            } else {
                bytes.withUnsafeBytes { self.line(RESPType.error, $0) }
            }
        case .verbatimString(let format, let text):
            if version == .resp3 {
                // The format is three bytes by protocol (`txt`, `mkd`); it is sent as given.
                var format = format
                self.header(RESPType.verbatimString, Int64(format.utf8.count + 1 + text.count))
                format.withUTF8 { self.bytes(UnsafeRawBufferPointer($0)) }
                self.byte(UInt8(ascii: ":"))
                text.withUnsafeBytes { self.bytes($0) }
                self.crlf()
            } else {
                self.bulk(RESPType.bulkString, text)
            }
        case .array(let elements):
            self.aggregate(RESPType.array, elements, version)
        case .map(let pairs):
            if version == .resp3 {
                self.pairs(RESPType.map, pairs, version)
            } else {
                self.header(RESPType.array, Int64(pairs.count * 2))
                for pair in pairs {
                    self.write(pair.key, version)
                    self.write(pair.value, version)
                }
            }
        case .set(let elements):
            self.aggregate(version == .resp3 ? RESPType.set : RESPType.array, elements, version)
        case .attribute(let pairs, let attributed):
            if version == .resp3 {
                self.pairs(RESPType.attribute, pairs, version)
            }
            self.write(attributed, version)
        case .push(let elements):
            self.aggregate(version == .resp3 ? RESPType.push : RESPType.array, elements, version)
        }
    }

    private mutating func aggregate(_ type: UInt8, _ elements: [RESPValue], _ version: RESPVersion) {
        self.header(type, Int64(elements.count))
        for element in elements {
            self.write(element, version)
        }
    }

    private mutating func pairs(_ type: UInt8, _ pairs: [RESPPair], _ version: RESPVersion) {
        self.header(type, Int64(pairs.count))
        for pair in pairs {
            self.write(pair.key, version)
            self.write(pair.value, version)
        }
    }

    @inline(__always)
    private mutating func byte(_ value: UInt8) {
        assert(self.count < self.out.count, "RESP reply longer than its size bound")
        self.out[self.count] = value
        self.count += 1
    }

    @inline(__always)
    private mutating func crlf() {
        self.byte(ASCII.cr)
        self.byte(ASCII.lf)
    }

    private mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard let base = source.baseAddress, source.count > 0 else { return }
        assert(self.count + source.count <= self.out.count, "RESP reply longer than its size bound")
        (self.out.baseAddress! + self.count).copyMemory(from: base, byteCount: source.count)
        self.count += source.count
    }

    private mutating func staticText(_ text: StaticString) {
        self.bytes(UnsafeRawBufferPointer(staticText: text))
    }

    /// `<type><length>\r\n<bytes>\r\n`.
    private mutating func bulk(_ type: UInt8, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.bulk(type, $0) }
    }

    private mutating func bulk(_ type: UInt8, _ bytes: UnsafeRawBufferPointer) {
        self.header(type, Int64(bytes.count))
        self.bytes(bytes)
        self.crlf()
    }

    /// `<type><text>\r\n`, with any CR or LF in the text sent as a space so no reply can
    /// break framing.
    private mutating func line(_ type: UInt8, _ text: String) {
        var text = text
        text.withUTF8 { self.line(type, UnsafeRawBufferPointer($0)) }
    }

    private mutating func line(_ type: UInt8, _ text: UnsafeRawBufferPointer) {
        self.byte(type)
        for byte in text {
            self.byte(byte == ASCII.cr || byte == ASCII.lf ? UInt8(ascii: " ") : byte)
        }
        self.crlf()
    }

    /// `$<length>\r\n<bytes>\r\n`.
    mutating func bulkString(_ bytes: UnsafeRawBufferPointer) {
        self.bulk(RESPType.bulkString, bytes)
    }

    /// `value`'s decimal text as a bulk string: `$<digit count>\r\n<digits>\r\n`.
    mutating func bulkDecimal(_ value: Int64) {
        let length = Self.decimalLength(value)
        self.header(RESPType.bulkString, Int64(length))
        if value < 0 { self.byte(ASCII.minus) }
        self.digits(value.magnitude, count: value < 0 ? length - 1 : length)
        self.crlf()
    }

    /// Characters in `value`'s decimal text, sign included.
    @inline(__always)
    static func decimalLength(_ value: Int64) -> Int {
        digitCount(value.magnitude) + (value < 0 ? 1 : 0)
    }

    @inline(__always)
    private static func digitCount(_ magnitude: UInt64) -> Int {
        var count = 1
        var bound: UInt64 = 10
        // Int64's magnitude has at most 19 digits, and 10^19 still fits UInt64.
        while count < 19 && magnitude >= bound {
            count += 1
            bound &*= 10
        }
        return count
    }

    /// The `count` decimal digits of `magnitude`, written in place from the last.
    @inline(__always)
    private mutating func digits(_ magnitude: UInt64, count: Int) {
        assert(self.count + count <= self.out.count, "RESP reply longer than its size bound")
        var magnitude = magnitude
        var position = self.count + count - 1
        repeat {
            self.out[position] = ASCII.zero &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            position -= 1
        } while magnitude > 0
        self.count += count
    }

    /// `<type><decimal>\r\n`, digits written in place.
    mutating func header(_ type: UInt8, _ value: Int64) {
        // 0 to 9 and -1, most of what rate-limit replies hold: stored as one word.
        if value >= 0 && value <= 9 {
            assert(self.count + 4 <= self.out.count, "RESP reply longer than its size bound")
            let text = UInt32(type) | UInt32(ASCII.zero &+ UInt8(truncatingIfNeeded: value)) << 8 | 0x0A0D << 16
            self.out.storeBytes(of: text.littleEndian, toByteOffset: self.count, as: UInt32.self)
            self.count += 4
            return
        }
        if value == -1 {
            assert(self.count + 5 <= self.out.count, "RESP reply longer than its size bound")
            let text = UInt32(type) | UInt32(ASCII.minus) << 8 | UInt32(ASCII.zero + 1) << 16 | UInt32(ASCII.cr) << 24
            self.out.storeBytes(of: text.littleEndian, toByteOffset: self.count, as: UInt32.self)
            self.out[self.count + 4] = ASCII.lf
            self.count += 5
            return
        }
        self.byte(type)
        if value < 0 { self.byte(ASCII.minus) }
        self.digits(value.magnitude, count: Self.digitCount(value.magnitude))
        self.crlf()
    }
}
