import NIOCore
import RESP
import Testing

@Test("A RESP3 frame fed one byte at a time decodes only once complete, consuming nothing before", arguments: resp3Frames)
func decodesResp3FrameByteByByte(frame: Frame) throws {
    try expectByteByByte(frame)
}

@Test("A RESP2 frame fed one byte at a time decodes only once complete, consuming nothing before", arguments: resp2Frames)
func decodesResp2FrameByteByByte(frame: Frame) throws {
    try expectByteByByte(frame)
}

/// Feeds `frame` one byte at a time, expecting nil and no bytes consumed until the last byte.
private func expectByteByByte(_ frame: Frame) throws {
    let decoder = RESPValueDecoder()
    let bytes = Array(frame.wire.utf8)
    var buffer = ByteBuffer()
    var earlyResults: [RESPValue] = []
    for byte in bytes.dropLast() {
        buffer.writeInteger(byte)
        if let value = try decoder.decode(&buffer) {
            earlyResults.append(value)
        }
        #expect(buffer.readableBytes == buffer.writerIndex)
    }
    #expect(earlyResults == [])
    buffer.writeInteger(bytes.last!)
    let value = try decoder.decode(&buffer)
    #expect(buffer.readableBytes == 0)
    #expect(value == frame.value)
}

@Test("Many frames in one buffer decode in order")
func decodesManyFramesInOneBuffer() throws {
    let frames = resp3Frames + resp2Frames
    let (values, rest) = try decodeValues(ByteBuffer(string: frames.map(\.wire).joined()))
    #expect(rest == 0)
    #expect(values == frames.map(\.value))
}

@Test("A trailing partial frame stays in the buffer after the whole ones decode")
func leavesTrailingPartialFrame() throws {
    let (values, rest) = try decodeValues(ByteBuffer(string: "+OK\r\n:1\r\n*2\r\n$3\r\nfoo\r\n$3\r\nba"))
    #expect(values == [.ok, .integer(1)])
    #expect(rest == "*2\r\n$3\r\nfoo\r\n$3\r\nba".utf8.count)
}

@Test("A line whose CR arrived without its LF is incomplete")
func waitsForLFAfterCR() throws {
    #expect(try decodeValue("+OK\r") == nil)
}
