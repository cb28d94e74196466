import NIOCore
@testable import RESP
import Testing
import SeededRandom

@Test("A multibulk request decodes into its arguments")
func decodesMultibulkRequest() throws {
    #expect(try decodeCommands("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n") == [["SET", "key", "value"]])
}

@Test("Bulk arguments are binary safe")
func decodesBinaryArguments() throws {
    var buffer = ByteBuffer()
    buffer.writeRESPCommand([[0, 13, 10, 255], []])
    var decoder = RESPRequestDecoder()
    #expect(try decoder.decode(&buffer) == [[0, 13, 10, 255], []])
}

@Test("A request fed one byte at a time decodes only once its last byte arrives")
func decodesRequestByteByByte() throws {
    let wire = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\nPING\r\n".utf8)
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer()
    var results: [(index: Int, arguments: [String])] = []
    for (index, byte) in wire.enumerated() {
        buffer.writeInteger(byte)
        while let arguments = try decoder.decode(&buffer) {
            results.append((index, arguments.map { String(decoding: $0, as: UTF8.self) }))
        }
    }
    #expect(results.map(\.index) == [wire.count - 7, wire.count - 1])
    #expect(results.map(\.arguments) == [["SET", "k", "0123456789"], ["PING"]])
}

@Test("Whole arguments are consumed as they arrive while incomplete ones stay in the buffer")
func consumesWholeArgumentsOnly() throws {
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer(string: "*2\r\n$3\r\nfo")
    var readable: [Int] = []
    #expect(try decoder.decode(&buffer) == nil)
    readable.append(buffer.readableBytes)
    buffer.writeString("o\r\n$3")
    #expect(try decoder.decode(&buffer) == nil)
    readable.append(buffer.readableBytes)
    buffer.writeString("\r\nbar\r\n")
    let arguments = try decoder.decode(&buffer)
    readable.append(buffer.readableBytes)
    #expect(arguments == [Array("foo".utf8), Array("bar".utf8)])
    #expect(readable == ["$3\r\nfo".utf8.count, "$3".utf8.count, 0])
}

@Test("1,000 pipelined commands in one buffer decode in order")
func decodesPipelinedCommands() throws {
    var buffer = ByteBuffer()
    for index in 0..<1_000 {
        buffer.writeRESPCommand("INCR", "counter:\(index)")
    }
    var decoder = RESPRequestDecoder()
    var commands: [[String]] = []
    while let arguments = try decoder.decode(&buffer) {
        commands.append(arguments.map { String(decoding: $0, as: UTF8.self) })
    }
    #expect(buffer.readableBytes == 0)
    #expect(commands == (0..<1_000).map { ["INCR", "counter:\($0)"] })
}

@Test("A multibulk of 200,000 arguments arriving in 4 KB chunks completes")
func decodesLargeMultibulkInChunks() throws {
    let count = 200_000
    var wire = ByteBuffer()
    wire.writeRESPCommand((0..<count).map { Array("member:\($0)".utf8) })
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer()
    var commands: [[[UInt8]]] = []
    while wire.readableBytes > 0 {
        var chunk = wire.readSlice(length: min(4096, wire.readableBytes))!
        buffer.writeBuffer(&chunk)
        while let arguments = try decoder.decode(&buffer) {
            commands.append(arguments)
        }
        buffer.discardReadBytes()
    }
    #expect(commands.count == 1)
    #expect(commands.first?.count == count)
    #expect(commands.first?.last == Array("member:\(count - 1)".utf8))
}

@Test("A 1 MB bulk argument arriving in 4 KB chunks completes")
func decodesLargeBulkInChunks() throws {
    let value = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
    var wire = ByteBuffer()
    wire.writeRESPCommand([Array("SET".utf8), Array("k".utf8), value])
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer()
    var commands: [[[UInt8]]] = []
    while wire.readableBytes > 0 {
        var chunk = wire.readSlice(length: min(4096, wire.readableBytes))!
        buffer.writeBuffer(&chunk)
        while let arguments = try decoder.decode(&buffer) {
            commands.append(arguments)
        }
    }
    #expect(commands == [[Array("SET".utf8), Array("k".utf8), value]])
}

@Test("Random commands split at random points decode to their arguments")
func decodesRandomlySplitCommands() throws {
    var generator = SplitMix64(seed: 42)
    var expected: [[[UInt8]]] = []
    var wire = ByteBuffer()
    for _ in 0..<500 {
        let arguments = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
            (0..<Int.random(in: 0...20, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        expected.append(arguments)
        wire.writeRESPCommand(arguments)
    }
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer()
    var commands: [[[UInt8]]] = []
    while wire.readableBytes > 0 {
        var chunk = wire.readSlice(length: min(Int.random(in: 1...64, using: &generator), wire.readableBytes))!
        buffer.writeBuffer(&chunk)
        while let arguments = try decoder.decode(&buffer) {
            commands.append(arguments)
        }
    }
    #expect(commands == expected)
}

@Test("Words of every length from 0 to 40 bytes decode intact, in one read and split")
func decodesEveryWordLength() throws {
    var generator = SplitMix64(seed: 7)
    let arguments = (0...40).map { length in (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) } }
    var wire = ByteBuffer()
    wire.writeRESPCommand(arguments)
    var decoder = RESPRequestDecoder()
    var whole = wire
    #expect(try decoder.decode(&whole) == arguments)
    // Every word but the first arrives apart, through the general path.
    var buffer = ByteBuffer()
    var decoded: [[UInt8]]?
    while wire.readableBytes > 0 {
        var chunk = wire.readSlice(length: min(7, wire.readableBytes))!
        buffer.writeBuffer(&chunk)
        if let arguments = try decoder.decode(&buffer) { decoded = arguments }
    }
    #expect(decoded == arguments)
}

@Test("Multibulk headers with a zero or negative count are skipped")
func skipsEmptyMultibulk() throws {
    #expect(try decodeCommands("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n") == [["PING"]])
}

@Test("An inline command splits on whitespace")
func decodesInlineCommand() throws {
    #expect(try decodeCommands("SET  key\tvalue\r\nPING\n") == [["SET", "key", "value"], ["PING"]])
}

@Test("Random inline lines decode to the words the quote rules give; lines without quotes take the plain path alike")
func inlineLinesFollowTheSplitRules() throws {
    // The bytes the rules treat apart (VT and FF are skipped between words but belong to
    // a word), and a few that they do not.
    let special: [UInt8] = [UInt8(ascii: "\""), UInt8(ascii: "'"), 0, 0x0B, 0x0C]
    let alphabet = Array(" \t\r\\xa4F".utf8) + special
    var generator = SplitMix64(seed: 23)
    var plainLines = 0
    for round in 0..<20_000 {
        var line = (0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
        if round % 2 == 0 { line.removeAll { special.contains($0) } }
        if !line.contains(where: special.contains) { plainLines += 1 }
        // The decoder drops one CR before the LF, so the rules see the line without it.
        let withoutCR = line.last == ASCII.cr ? Array(line.dropLast()) : line
        let expected = withoutCR.withUnsafeBytes { RESPInlineSplitter.split($0) }
        var buffer = ByteBuffer(bytes: line + [ASCII.lf])
        var decoder = RESPRequestDecoder()
        if let expected {
            #expect(try decoder.decode(&buffer) == (expected.isEmpty ? nil : expected), "line \(line)")
        } else {
            #expect(throws: RESPProtocolError.self, "line \(line)") { try decoder.decode(&buffer) }
        }
    }
    #expect(plainLines > 10_000)
}

@Test("Empty and blank inline lines are skipped")
func skipsEmptyInlineLines() throws {
    #expect(try decodeCommands("\r\n\n   \r\nPING\r\n") == [["PING"]])
}

@Test("An inline command fed one byte at a time decodes at its line end")
func decodesInlineByteByByte() throws {
    var decoder = RESPRequestDecoder()
    var buffer = ByteBuffer()
    var results: [[[UInt8]]?] = []
    for byte in "ECHO \"a b\"\r\n".utf8 {
        buffer.writeInteger(byte)
        results.append(try decoder.decode(&buffer))
    }
    #expect(results.dropLast().allSatisfy { $0 == nil })
    #expect(results.last == [Array("ECHO".utf8), Array("a b".utf8)])
}

@Test("Inline double quotes keep spaces and take escapes")
func decodesInlineDoubleQuotes() throws {
    var buffer = ByteBuffer(string: #"SET "a key" "\x41\x7a\n\r\t\b\a\\\"\q""# + "\r\n")
    var decoder = RESPRequestDecoder()
    let arguments = try decoder.decode(&buffer)
    #expect(arguments == [Array("SET".utf8), Array("a key".utf8), [0x41, 0x7A, 10, 13, 9, 8, 7, 92, 34, 113]])
}

@Test("Inline single quotes keep backslashes except before a single quote")
func decodesInlineSingleQuotes() throws {
    #expect(try decodeCommands(#"ECHO 'it\'s' 'a\nb'"# + "\n") == [["ECHO", "it's", #"a\nb"#]])
}

@Test("Inline quotes may start inside an argument and may be empty")
func decodesInlineEmbeddedQuotes() throws {
    #expect(try decodeCommands("SET a\"b c\" '' \"\"\r\n") == [["SET", "ab c", "", ""]])
}

@Test("An invalid hex escape inside double quotes is taken literally")
func decodesInvalidHexEscape() throws {
    #expect(try decodeCommands(#"ECHO "\xZZ""# + "\n") == [["ECHO", "xZZ"]])
}

@Test("Inline and multibulk commands may follow each other")
func decodesMixedRequests() throws {
    #expect(try decodeCommands("PING\r\n*1\r\n$4\r\nPING\r\nECHO hi\r\n") == [["PING"], ["PING"], ["ECHO", "hi"]])
}

@Test("A multibulk header at the array count limit is accepted")
func acceptsCountAtLimit() throws {
    var buffer = ByteBuffer(string: "*\(RESPLimits.defaultMaxArrayCount)\r\n")
    var decoder = RESPRequestDecoder()
    #expect(try decoder.decode(&buffer) == nil)
    #expect(buffer.readableBytes == 0)
}

@Test("The decoder starts afresh after an error")
func recoversAfterError() throws {
    var decoder = RESPRequestDecoder()
    var bad = ByteBuffer(string: "*2\r\n$3\r\nfoo\r\n+x\r\n")
    #expect(throws: RESPProtocolError("expected '$', got '+'")) {
        try decoder.decode(&bad)
    }
    var good = ByteBuffer(string: "PING\r\n")
    #expect(try decoder.decode(&good) == [Array("PING".utf8)])
}

@Test("Commands of a burst share one store, and a command still arriving survives removing the complete ones")
func decodesBurstIntoSharedStore() throws {
    var decoder = RESPRequestDecoder()
    var commands = RESPCommands()
    var buffer = ByteBuffer(string: "*2\r\n$4\r\nINCR\r\n$1\r\na\r\nPING x\r\n*3\r\n$3\r\nSET\r\n$1\r\nk")
    var complete = 0
    while try decoder.decode(&buffer, into: &commands) { complete += 1 }
    #expect(complete == 2)
    #expect(commands.words(of: 0).map { String(decoding: commands.word($0), as: UTF8.self) } == ["INCR", "a"])
    #expect(commands.words(of: 1).map { String(decoding: commands.word($0), as: UTF8.self) } == ["PING", "x"])
    commands.removeCompleted()
    #expect(commands.count == 0)
    buffer.writeString("\r\n$5\r\nvalue\r\n")
    #expect(try decoder.decode(&buffer, into: &commands))
    #expect(commands.words(of: 0).map { String(decoding: commands.word($0), as: UTF8.self) } == ["SET", "k", "value"])
    #expect(commands.withWord(commands.words(of: 0).upperBound - 1) { $0.count } == 5)
}

@Test("A protocol error drops the words of the broken command and keeps complete ones")
func protocolErrorDropsPartialWords() throws {
    var decoder = RESPRequestDecoder()
    var commands = RESPCommands()
    var buffer = ByteBuffer(string: "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n!oops\r\n")
    #expect(try decoder.decode(&buffer, into: &commands))
    #expect(throws: RESPProtocolError.self) { try decoder.decode(&buffer, into: &commands) }
    #expect(commands.count == 1)
    commands.removeCompleted()
    commands.append(Array("ECHO".utf8))
    commands.endCommand()
    #expect(commands.words(of: 0).map { commands.word($0) } == [Array("ECHO".utf8)])
}

@Test("Packed words equal only the same words: the same bytes split differently, fewer or more words, a byte off, differ")
func packedWordsCompare() throws {
    func words(_ list: [String]) -> RESPCommands {
        RESPCommands([["ACQUIRE", "k", "1"] + list].map { $0.map { Array($0.utf8) } })
    }
    let rest = { (commands: RESPCommands) in 3..<commands.words(of: 0).upperBound }
    let rates = words(["RATE", "5", "1100", "RATE", "50", "60000"])
    let packed = try #require(rates.packed(rest(rates)))
    #expect(rates.wordsEqual(rest(rates), packed: packed))
    for other in [
        ["RATE", "51", "100", "RATE", "50", "60000"],
        ["RATE", "5", "1100", "RATE", "50", "6000"],
        ["RATE", "5", "1100", "RATE", "50", "60000", "RATE"],
        ["RATE", "5", "1100", "RATE", "50", "60001"],
        ["rate", "5", "1100", "RATE", "50", "60000"],
        ["RATE", "5", "1100", "RATE", "5", "060000"],
        [],
    ] {
        let commands = words(other)
        #expect(!commands.wordsEqual(rest(commands), packed: packed), "\(other)")
        #expect(commands.packed(rest(commands)) != packed, "\(other)")
    }
    let empty = words([])
    #expect(empty.packed(rest(empty)) == [])
    #expect(empty.wordsEqual(rest(empty), packed: []))
    let long = words([String(repeating: "x", count: 256)])
    #expect(long.packed(rest(long)) == nil)
}

@Test("Room for words beyond keptReserve is given back once the words are gone, and ordinary room is kept")
func roomIsGivenBack() throws {
    var decoder = RESPRequestDecoder()
    var commands = RESPCommands()
    var buffer = ByteBuffer()
    buffer.writeRESPCommand([Array("SET".utf8), Array("k".utf8), Array(repeating: 120, count: 8 << 20)])
    #expect(try decoder.decode(&buffer, into: &commands))
    #expect(commands.reservedBytes > 8 << 20)
    commands.removeCompleted()
    // The room for bytes and for word offsets, each up to keptReserve.
    #expect(commands.reservedBytes <= 3 * RESPCommands.keptReserve)
    // 200,000 words, then gone: the word offsets are given back too.
    buffer.writeRESPCommand(Array(repeating: [UInt8](), count: 200_000))
    #expect(try decoder.decode(&buffer, into: &commands))
    #expect(commands.reservedBytes > 200_000 * 8)
    commands.removeAll()
    #expect(commands.reservedBytes <= 3 * RESPCommands.keptReserve)
    // A burst of ordinary commands keeps its room for the next.
    for _ in 0..<1_000 { buffer.writeRESPCommand([Array("GET".utf8), Array("key".utf8)]) }
    while try decoder.decode(&buffer, into: &commands) {}
    let room = commands.reservedBytes
    commands.removeCompleted()
    #expect(commands.reservedBytes == room)
}
