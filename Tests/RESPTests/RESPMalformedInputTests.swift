import NIOCore
import RESP
import Testing

/// Malformed input and the exact message it is rejected with.
struct Malformed: Sendable, CustomStringConvertible {
    var wire: String
    var message: String

    init(_ wire: String, _ message: String) {
        self.wire = wire
        self.message = message
    }

    var description: String {
        String(self.wire.prefix(40)).debugDescription
    }
}

let tooLong = String(repeating: "1", count: 70 * 1024)

/// Requests Redis rejects, with Redis's message.
let malformedRequests: [Malformed] = [
    Malformed("*3000000000\r\n", "invalid multibulk length"),
    Malformed("*\(RESPLimits.defaultMaxArrayCount + 1)\r\n", "invalid multibulk length"),
    Malformed("*abc\r\n", "invalid multibulk length"),
    Malformed("*\r\n", "invalid multibulk length"),
    Malformed("*+1\r\n", "invalid multibulk length"),
    Malformed("*01\r\n", "invalid multibulk length"),
    Malformed("* 1\r\n", "invalid multibulk length"),
    Malformed("*99999999999999999999\r\n", "invalid multibulk length"),
    Malformed("*1\r\n$blabla\r\n", "invalid bulk length"),
    Malformed("*1\r\n$-5\r\n", "invalid bulk length"),
    Malformed("*1\r\n$-1\r\n", "invalid bulk length"),
    Malformed("*1\r\n$2000000000\r\n", "invalid bulk length"),
    Malformed("*1\r\n$03\r\nfoo\r\n", "invalid bulk length"),
    Malformed("*1\r\n$+3\r\nfoo\r\n", "invalid bulk length"),
    Malformed("*1\r\n+foo\r\n", "expected '$', got '+'"),
    Malformed("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"),
    Malformed("*1\r\n$3\r\nfooXY", "expected CRLF after bulk data"),
    Malformed("*1\r\n$3\r\nfoo\n\r", "expected CRLF after bulk data"),
    Malformed(String(repeating: "x", count: 70 * 1024), "too big inline request"),
    Malformed("*" + tooLong, "too big mbulk count string"),
    Malformed("*1\r\n$" + tooLong, "too big bulk count string"),
    Malformed("\"unbalanced\r\n", "unbalanced quotes in request"),
    Malformed("SET 'unbalanced\r\n", "unbalanced quotes in request"),
    Malformed("SET \"a\"b\r\n", "unbalanced quotes in request"),
    Malformed("SET 'a'b\r\n", "unbalanced quotes in request"),
    Malformed("SET \"a\\\"\r\n", "unbalanced quotes in request"),
]

@Test("Malformed requests are rejected with Redis's message", arguments: malformedRequests)
func rejectsMalformedRequest(input: Malformed) {
    #expect(throws: RESPProtocolError(input.message)) {
        try decodeCommands(input.wire)
    }
}

@Test("Malformed requests fed one byte at a time are rejected with the same message", arguments: malformedRequests)
func rejectsMalformedRequestByteByByte(input: Malformed) {
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer()
    #expect(throws: RESPProtocolError(input.message)) {
        for byte in input.wire.utf8 {
            buffer.writeInteger(byte)
            while try decoder.decode(&buffer) != nil {}
        }
    }
}

@Test("A bulk argument longer than the configured limit is rejected")
func rejectsBulkOverConfiguredLimit() {
    #expect(throws: RESPProtocolError("invalid bulk length")) {
        try decodeCommands("*1\r\n$11\r\n", limits: RESPLimits(maxBulkLength: 10))
    }
}

@Test("Limits hold for whole commands, whose one- and two-digit lengths are read without the loop")
func limitsHoldForWholeCommands() throws {
    #expect(throws: RESPProtocolError("invalid bulk length")) {
        try decodeCommands("*1\r\n$11\r\n01234567890\r\n", limits: RESPLimits(maxBulkLength: 10))
    }
    #expect(throws: RESPProtocolError("invalid bulk length")) {
        try decodeCommands("*1\r\n$7\r\n0123456\r\n", limits: RESPLimits(maxBulkLength: 6))
    }
    #expect(throws: RESPProtocolError("invalid multibulk length")) {
        try decodeCommands("*9\r\n" + String(repeating: "$1\r\nx\r\n", count: 9), limits: RESPLimits(maxArrayCount: 8))
    }
    #expect(throws: RESPProtocolError("invalid multibulk length")) {
        try decodeCommands("*10\r\n" + String(repeating: "$1\r\nx\r\n", count: 10), limits: RESPLimits(maxArrayCount: 9))
    }
    #expect(try decodeCommands("*1\r\n$10\r\n0123456789\r\n", limits: RESPLimits(maxBulkLength: 10)) == [["0123456789"]])
    #expect(try decodeCommands("*2\r\n$0\r\n\r\n$99\r\n\(String(repeating: "y", count: 99))\r\n") == [["", String(repeating: "y", count: 99)]])
}

@Test("An inline line with a newline may exceed the inline limit when it arrives whole, as in Redis")
func acceptsLongInlineLineWithNewline() throws {
    let argument = String(repeating: "a", count: 100)
    #expect(try decodeCommands("ECHO \(argument)\r\n", limits: RESPLimits(maxInlineLength: 16)) == [["ECHO", argument]])
}

/// Replies the value decoder rejects, with its message.
let malformedValues: [Malformed] = [
    Malformed("*3000000000\r\n", "invalid multibulk length"),
    Malformed("*abc\r\n", "invalid multibulk length"),
    Malformed("*-2\r\n", "invalid multibulk length"),
    Malformed("%-1\r\n", "invalid multibulk length"),
    Malformed("~x\r\n", "invalid multibulk length"),
    Malformed("$blabla\r\n", "invalid bulk length"),
    Malformed("$-5\r\n", "invalid bulk length"),
    Malformed("$2000000000\r\n", "invalid bulk length"),
    Malformed("!-1\r\n", "invalid bulk length"),
    Malformed("$3\r\nfooXY", "expected CRLF after bulk data"),
    Malformed(String(repeating: "*1\r\n", count: 100), "nesting too deep"),
    Malformed(String(repeating: "*1\r\n", count: RESPLimits.defaultMaxNestingDepth + 1) + ":1\r\n", "nesting too deep"),
    Malformed(String(repeating: "|1\r\n+k\r\n+v\r\n", count: 100), "nesting too deep"),
    Malformed("?foo\r\n", "unknown type byte '?'"),
    Malformed(":12a\r\n", "invalid integer"),
    Malformed(":\r\n", "invalid integer"),
    Malformed(":99999999999999999999\r\n", "invalid integer"),
    Malformed(",abc\r\n", "invalid double"),
    Malformed(",\r\n", "invalid double"),
    Malformed("#x\r\n", "invalid boolean"),
    Malformed("#true\r\n", "invalid boolean"),
    Malformed("_x\r\n", "invalid null"),
    Malformed("(12a\r\n", "invalid big number"),
    Malformed("(\r\n", "invalid big number"),
    Malformed("=3\r\ntxt\r\n", "invalid verbatim string"),
    Malformed("=5\r\ntxt-a\r\n", "invalid verbatim string"),
    Malformed("+OK\rX", "expected CRLF at end of line"),
    Malformed("+" + tooLong, "line too long"),
]

@Test("Malformed replies are rejected with the exact message", arguments: malformedValues)
func rejectsMalformedValue(input: Malformed) {
    #expect(throws: RESPProtocolError(input.message)) {
        try decodeValue(input.wire)
    }
}

@Test("A protocol error reads as Redis's error text")
func describesProtocolError() {
    #expect(RESPProtocolError("invalid bulk length").description == "Protocol error: invalid bulk length")
}
