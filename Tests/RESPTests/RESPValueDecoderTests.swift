import NIOCore
import RESP
import Testing

/// Every RESP3 type in the exact form the encoder writes for RESP3 peers.
let resp3Frames: [Frame] = [
    Frame("+OK\r\n", .simpleString("OK")),
    Frame("+\r\n", .simpleString("")),
    Frame("-ERR unknown command\r\n", .error("ERR unknown command")),
    Frame(":42\r\n", .integer(42)),
    Frame(":0\r\n", .integer(0)),
    Frame(":-7\r\n", .integer(-7)),
    Frame(":9223372036854775807\r\n", .integer(.max)),
    Frame(":-9223372036854775808\r\n", .integer(.min)),
    Frame("$3\r\nfoo\r\n", .bulk("foo")),
    Frame("$0\r\n\r\n", .bulk("")),
    Frame("$4\r\na\r\nb\r\n", .bulk("a\r\nb")),
    Frame("_\r\n", .null),
    Frame("*2\r\n$1\r\na\r\n:1\r\n", .array([.bulk("a"), .integer(1)])),
    Frame("*0\r\n", .array([])),
    Frame("#t\r\n", .boolean(true)),
    Frame("#f\r\n", .boolean(false)),
    Frame(",1.5\r\n", .double(1.5)),
    Frame(",3\r\n", .double(3)),
    Frame(",-0.25\r\n", .double(-0.25)),
    Frame(",1e+100\r\n", .double(1e100)),
    Frame(",inf\r\n", .double(.infinity)),
    Frame(",-inf\r\n", .double(-.infinity)),
    Frame("(3492890328409238509324850943850943825024385\r\n", .bigNumber("3492890328409238509324850943850943825024385")),
    Frame("(-12\r\n", .bigNumber("-12")),
    Frame("!21\r\nSYNTAX invalid syntax\r\n", .bulkError(Array("SYNTAX invalid syntax".utf8))),
    Frame("=15\r\ntxt:Some string\r\n", .verbatimString(format: "txt", text: Array("Some string".utf8))),
    Frame("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", .map([
        RESPPair(.simpleString("first"), .integer(1)), RESPPair(.simpleString("second"), .integer(2)),
    ])),
    Frame("%0\r\n", .map([])),
    Frame("~2\r\n+orange\r\n+apple\r\n", .set([.simpleString("orange"), .simpleString("apple")])),
    Frame("|1\r\n+ttl\r\n:3600\r\n$3\r\nfoo\r\n", .attribute([RESPPair(.simpleString("ttl"), .integer(3600))], .bulk("foo"))),
    Frame(">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n", .push([.bulk("message"), .bulk("news"), .bulk("hi")])),
    Frame("*3\r\n%1\r\n+k\r\n~1\r\n_\r\n*0\r\n>1\r\n#t\r\n", .array([
        .map([RESPPair(.simpleString("k"), .set([.null]))]), .array([]), .push([.boolean(true)]),
    ])),
]

/// The RESP2-only types, with RESP2's two nulls.
let resp2Frames: [Frame] = [
    Frame("+OK\r\n", .simpleString("OK")),
    Frame("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
          .error("WRONGTYPE Operation against a key holding the wrong kind of value")),
    Frame(":-1\r\n", .integer(-1)),
    Frame("$5\r\nhello\r\n", .bulk("hello")),
    Frame("$-1\r\n", .null),
    Frame("*-1\r\n", .nullArray),
    Frame("*3\r\n$-1\r\n*0\r\n*1\r\n:5\r\n", .array([.null, .array([]), .array([.integer(5)])])),
]

@Test("Each RESP3 frame decodes to its value and consumes all its bytes", arguments: resp3Frames)
func decodesResp3Frame(frame: Frame) throws {
    let (values, rest) = try decodeValues(ByteBuffer(string: frame.wire))
    #expect(rest == 0)
    #expect(values == [frame.value])
}

@Test("Each RESP2 frame decodes to its value and consumes all its bytes", arguments: resp2Frames)
func decodesResp2Frame(frame: Frame) throws {
    let (values, rest) = try decodeValues(ByteBuffer(string: frame.wire))
    #expect(rest == 0)
    #expect(values == [frame.value])
}

@Test("A RESP3 nan double decodes to NaN")
func decodesNaN() throws {
    let value = try decodeValue(",nan\r\n")
    guard case .double(let number) = value else {
        Issue.record("expected a double, got \(String(describing: value))")
        return
    }
    #expect(number.isNaN)
}

@Test("Doubles in other decimal spellings decode to their value")
func decodesDoubleSpellings() throws {
    let values = try ["1.50", "+2", "1E3", "-0", ".5"].map { text throws(RESPProtocolError) in
        try decodeValue(",\(text)\r\n")
    }
    #expect(values == [.double(1.5), .double(2), .double(1000), .double(-0.0), .double(0.5)])
}

@Test("An integer reply may carry a plus sign")
func decodesPlusSignedInteger() throws {
    #expect(try decodeValue(":+5\r\n") == .integer(5))
}

@Test("Any type may appear inside an array")
func decodesMixedArray() throws {
    #expect(try decodeValue("*2\r\n+foo\r\n-ERR x\r\n") == .array([.simpleString("foo"), .error("ERR x")]))
}

@Test("Nesting exactly at the depth limit decodes")
func decodesNestingAtLimit() throws {
    let depth = RESPLimits.defaultMaxNestingDepth
    let wire = String(repeating: "*1\r\n", count: depth) + ":1\r\n"
    var expected = RESPValue.integer(1)
    for _ in 0..<depth {
        expected = .array([expected])
    }
    #expect(try decodeValue(wire) == expected)
}

@Test("An attribute may describe another attribute")
func decodesChainedAttributes() throws {
    let pair = RESPPair(.simpleString("a"), .integer(1))
    #expect(try decodeValue("|1\r\n+a\r\n:1\r\n|1\r\n+a\r\n:1\r\n#t\r\n") == .attribute([pair], .attribute([pair], .boolean(true))))
}
