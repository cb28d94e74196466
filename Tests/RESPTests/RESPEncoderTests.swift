import NIOCore
import RESP
import Testing
import SeededRandom

@Test("Each RESP3 value encodes natively for a RESP3 peer", arguments: resp3Frames)
func encodesResp3Frame(frame: Frame) {
    #expect(encoded(frame.value, .resp3) == frame.wire)
}

@Test("Each RESP2 value encodes to its RESP2 form", arguments: resp2Frames)
func encodesResp2Frame(frame: Frame) {
    #expect(encoded(frame.value, .resp2) == frame.wire)
}

/// RESP3 values and the exact RESP2 bytes they are downgraded to.
let resp2Downgrades: [Frame] = [
    Frame("$-1\r\n", .null),
    Frame("*-1\r\n", .nullArray),
    Frame(":1\r\n", .boolean(true)),
    Frame(":0\r\n", .boolean(false)),
    Frame("$3\r\n1.5\r\n", .double(1.5)),
    Frame("$1\r\n3\r\n", .double(3)),
    Frame("$3\r\ninf\r\n", .double(.infinity)),
    Frame("$4\r\n-inf\r\n", .double(-.infinity)),
    Frame("$3\r\nnan\r\n", .double(.nan)),
    Frame("$20\r\n12345678901234567890\r\n", .bigNumber("12345678901234567890")),
    Frame("-SYNTAX invalid syntax\r\n", .bulkError(Array("SYNTAX invalid syntax".utf8))),
    Frame("-SYNTAX  two lines\r\n", .bulkError(Array("SYNTAX\r\ntwo lines".utf8))),
    Frame("$11\r\nSome string\r\n", .verbatimString(format: "txt", text: Array("Some string".utf8))),
    Frame("*4\r\n+a\r\n:1\r\n+b\r\n:0\r\n", .map([
        RESPPair(.simpleString("a"), .integer(1)), RESPPair(.simpleString("b"), .boolean(false)),
    ])),
    Frame("*2\r\n+x\r\n+y\r\n", .set([.simpleString("x"), .simpleString("y")])),
    Frame("*2\r\n$7\r\nmessage\r\n$-1\r\n", .push([.bulk("message"), .null])),
    Frame("$3\r\nfoo\r\n", .attribute([RESPPair(.simpleString("ttl"), .integer(1))], .bulk("foo"))),
    Frame("*2\r\n*-1\r\n$-1\r\n", .array([.nullArray, .null])),
]

@Test("RESP3-only values are downgraded for a RESP2 peer", arguments: resp2Downgrades)
func downgradesForResp2(frame: Frame) {
    #expect(encoded(frame.value, .resp2) == frame.wire)
}

@Test("A null array is sent as RESP3 null to a RESP3 peer")
func encodesNullArrayAsResp3Null() {
    #expect(encoded(.nullArray, .resp3) == "_\r\n")
}

@Test("A RESP3 nan double is sent as nan")
func encodesNaNForResp3() {
    #expect(encoded(.double(.nan), .resp3) == ",nan\r\n")
}

@Test("CR and LF inside a simple string are sent as spaces")
func sanitizesSimpleString() {
    #expect(encoded(.simpleString("a\r\nb\nc\rd"), .resp3) == "+a  b c d\r\n")
}

@Test("CR and LF inside an error are sent as spaces")
func sanitizesError() {
    #expect(encoded(.error("ERR bad\r\n+OK"), .resp2) == "-ERR bad  +OK\r\n")
}

@Test("CR and LF inside a big number are sent as spaces")
func sanitizesBigNumber() {
    #expect(encoded(.bigNumber("1\r\n2"), .resp3) == "(1  2\r\n")
}

@Test("Non-ASCII simple strings are sent as UTF-8")
func encodesUTF8SimpleString() {
    var buffer = ByteBuffer()
    buffer.writeRESPValue(.simpleString("héllo"), version: .resp3)
    #expect(Array(buffer.readableBytesView) == Array("+héllo\r\n".utf8))
}

@Test("Bulk strings are binary safe")
func encodesBinaryBulk() {
    var buffer = ByteBuffer()
    buffer.writeRESPValue(.bulkString([0, 13, 10, 255]), version: .resp2)
    #expect(Array(buffer.readableBytesView) == Array("$4\r\n".utf8) + [0, 13, 10, 255] + Array("\r\n".utf8))
}

@Test("Integers of every digit count encode in decimal")
func encodesIntegerDigits() {
    var number: Int64 = 1
    var wires: [String] = []
    var expected: [String] = []
    for _ in 0..<19 {
        wires.append(encoded(.integer(number), .resp2))
        wires.append(encoded(.integer(-number), .resp2))
        wires.append(encoded(.integer(number - 1), .resp2))
        expected.append(":\(number)\r\n")
        expected.append(":\(-number)\r\n")
        expected.append(":\(number - 1)\r\n")
        number = number &* 10
    }
    #expect(wires == expected)
}

@Test("Small integers, array counts and bulk lengths, written as one word, encode as the rest do")
func encodesSmallHeaders() {
    for value in Int64(-12)...12 {
        #expect(encoded(.integer(value), .resp2) == ":\(value)\r\n")
    }
    for count in 0...11 {
        let elements = (0..<count).map { RESPValue.bulkString(Array(repeating: UInt8(ascii: "a"), count: $0)) }
        let text = "*\(count)\r\n" + (0..<count).map { "$\($0)\r\n\(String(repeating: "a", count: $0))\r\n" }.joined()
        #expect(encoded(.array(elements), .resp2) == text)
    }
}

@Test("A command of text arguments encodes as an array of bulk strings")
func encodesTextCommand() {
    var buffer = ByteBuffer()
    buffer.writeRESPCommand("SET", "key", "välue")
    #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\nvälue\r\n")
}

@Test("A command of byte arguments encodes as an array of bulk strings")
func encodesByteCommand() {
    var buffer = ByteBuffer()
    buffer.writeRESPCommand([Array("GET".utf8), [], [13, 10]])
    #expect(String(buffer: buffer) == "*3\r\n$3\r\nGET\r\n$0\r\n\r\n$2\r\n\r\n\r\n")
}

@Test("Several values append to the same buffer in order")
func appendsValues() {
    var buffer = ByteBuffer(string: "+first\r\n")
    buffer.writeRESPValue(.integer(2), version: .resp2)
    buffer.writeRESPValue(.ok, version: .resp3)
    #expect(String(buffer: buffer) == "+first\r\n:2\r\n+OK\r\n")
}

/// Doubles and Redis's text for them.
let doubleTexts: [(Double, String)] = [
    (1.5, "1.5"), (3, "3"), (-3, "-3"), (0, "0"), (-0.0, "-0"), (100, "100"), (3.14, "3.14"),
    (0.1, "0.1"), (0.1 + 0.2, "0.30000000000000004"), (-2.5, "-2.5"),
    (10_000_000, "10000000"), (100_000_000, "1e+8"), (123_456_789, "123456789"), (1.5e9, "1.5e+9"), (1e7 + 1, "10000001"),
    (0.0001, "0.0001"), (0.000001, "0.000001"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"),
    (1234.5678901234, "1234.5678901234"), (12345.678901234, "1.2345678901234e+4"),
    (1e100, "1e+100"), (1e300, "1e+300"), (Double.leastNonzeroMagnitude, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (.infinity, "inf"), (-.infinity, "-inf"), (.nan, "nan"),
    // Around the edges of the fast paths (integral below 1e7, fractions in [1e-3, 1e4)).
    (9_999_999, "9999999"), (-9_999_999, "-9999999"), (0.4, "0.4"), (59.5, "59.5"), (0.001, "0.001"),
    (0.0009, "0.0009"), (0.00012345, "1.2345e-4"), (9999.5, "9999.5"), (10000.5, "10000.5"),
    (1234567.0000000002, "1.2345670000000002e+6"),
]

@Test("Doubles format as Redis prints them", arguments: doubleTexts)
func formatsDouble(value: Double, text: String) {
    #expect(RESPValue.formatDouble(value) == text)
}

@Test("Whole billionths below 1e4 take the integer path and print as the shortest form does")
func formatsNanosecondFractions() {
    var generator = SplitMix64(seed: 11)
    var mismatches: [Double] = []
    for round in 0..<20_000 {
        // Seconds from nanoseconds, as the rate-limit replies compute them; then arbitrary doubles.
        // Rounded to a random power of ten, so that short fractions (0.5, 1.25) come up too.
        var unit: Int64 = 1
        for _ in 0..<(generator.next() % 9) { unit *= 10 }
        let nanoseconds = (Int64(generator.next() % 9_999_000_000_000) + 1_000_000) / unit * unit
        let value = round.isMultiple(of: 2)
            ? Double(nanoseconds) / 1e9 * (round.isMultiple(of: 4) ? 1 : -1)
            : Double(generator.next() % 1_000_000_000) / Double(generator.next() % 1_000_000 + 1)
        guard value.magnitude >= 1e-3, value.magnitude < 1e4, value != value.rounded(.towardZero) else { continue }
        if RESPValue.formatDouble(value) != value.description { mismatches.append(value) }
    }
    #expect(mismatches == [])
    #expect(RESPValue.formatDouble(0.844916820) == "0.84491682")
    #expect(RESPValue.formatDouble(-1234.000000001) == "-1234.000000001")
}

@Test("Formatted finite doubles read back as the same double")
func formattedDoublesRoundTrip() {
    var generator = SplitMix64(seed: 7)
    var mismatches: [Double] = []
    for _ in 0..<5_000 {
        let value = Double(bitPattern: generator.next())
        if value.isFinite && Double(RESPValue.formatDouble(value)) != value {
            mismatches.append(value)
        }
    }
    #expect(mismatches == [])
}

@Test("A request's words written one by one are the bulk strings writeRESPCommand gives, integers as their decimal text",
      arguments: [Int64(0), 7, 9, 10, -1, -9, -10, 99, 100, 123_456_789, 1_000_000_000_000_000_000, .max, .min])
func requestWordsWrittenOneByOne(number: Int64) {
    var expected = ByteBuffer()
    expected.writeRESPCommand([Array("EVALSHA".utf8), [], Array(String(number).utf8), Array(repeating: 120, count: 300)])
    var written = ByteBuffer()
    written.writeRESPArrayHeader(4)
    "EVALSHA".utf8.withContiguousStorageIfAvailable { written.writeRESPBulkString(UnsafeRawBufferPointer($0)) }
    written.writeRESPBulkString(UnsafeRawBufferPointer(start: nil, count: 0))
    written.writeRESPBulkString(decimal: number)
    Array(repeating: UInt8(120), count: 300).withUnsafeBytes { written.writeRESPBulkString($0) }
    #expect(String(buffer: written) == String(buffer: expected))
}

@Test("A bulk string of an integer's digits is the integer's decimal text, sign and extremes included")
func bulkOfDecimal() {
    var random = SplitMix64(seed: 17)
    let values: [Int64] = [0, 7, -7, 10, -10, 1_700_000_123, .max, .min] + (0..<1_000).map { _ in
        Int64(bitPattern: random.next()) >> Int64.random(in: 0..<64, using: &random)
    }
    for value in values {
        #expect(RESPValue.bulk(decimal: value) == .bulkString(Array(String(value).utf8)), "\(value)")
    }
}

@Test("A reply is written at the writer index: after bytes already read and unread, into a slice, and into a copy without touching the original")
func writesAtTheWriterIndex() {
    var buffer = ByteBuffer(string: "+OK\r\n:1\r\n")
    _ = buffer.readString(length: 5)
    buffer.writeRESPValue(.bulkString(Array("abc".utf8)), version: .resp2)
    #expect(buffer.readString(length: buffer.readableBytes) == ":1\r\n$3\r\nabc\r\n")

    let whole = ByteBuffer(string: "0123456789")
    var slice = whole.getSlice(at: 2, length: 4)!
    slice.writeRESPValue(.integer(7), version: .resp2)
    #expect(String(buffer: slice) == "2345:7\r\n")
    #expect(String(buffer: whole) == "0123456789")

    var copy = whole
    copy.writeRESPValue(.simpleString("PONG"), version: .resp2)
    #expect(String(buffer: copy) == "0123456789+PONG\r\n")
    #expect(String(buffer: whole) == "0123456789")

    // Past the first reservation: many writes, each at the end of the last.
    var grown = ByteBuffer()
    for index in 0..<2_000 { grown.writeRESPValue(.integer(Int64(index)), version: .resp2) }
    #expect(String(buffer: grown) == (0..<2_000).map { ":\($0)\r\n" }.joined())
}

@Test("Writing in place into a buffer without storage reserves it first, and a write of nothing leaves it as it was")
func writesInPlaceIntoEmptyBuffers() {
    var empty = ByteBuffer()
    #expect(empty.writeInPlace(minimumWritableBytes: 0) { _ in 0 } == 0)
    #expect(empty.readableBytes == 0)
    empty.writeRESPValue(.null, version: .resp3)
    #expect(String(buffer: empty) == "_\r\n")
}
