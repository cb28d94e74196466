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

/// Every command or error the decoder yields for `wire`, fed in chunks of `chunk` bytes.
private func decodeOutcomes(_ wire: [UInt8], chunk: Int) -> [String] {
    var decoder = RESPRequestDecoder(limits: RESPLimits(maxBulkLength: 64, maxArrayCount: 8))
    var buffer = ByteBuffer()
    var outcomes: [String] = []
    var offset = 0
    while offset < wire.count {
        buffer.writeBytes(wire[offset..<min(offset + chunk, wire.count)])
        offset += chunk
        do {
            while let words = try decoder.decode(&buffer) {
                outcomes.append(words.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "))
            }
        } catch {
            outcomes.append("error: \(error.message)")
            return outcomes
        }
    }
    return outcomes
}

@Test("A request that arrives whole decodes exactly as one arriving byte by byte, odd and malformed ones included")
func wholeRequestsMatchIncrementalDecoding() {
    // A request that has fully arrived takes a one-pass path; one arriving in pieces
    // never does. Both must accept the same requests with the same words and refuse the
    // same ones with the same errors.
    let requests = [
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        "*1\r\n$0\r\n\r\n",
        "*0\r\n*1\r\n$4\r\nPING\r\n",
        "*-1\r\n*1\r\n$4\r\nPING\r\n",
        "*01\r\n$4\r\nPING\r\n",
        "*1\r\n$04\r\nPING\r\n",
        "*1\r\n$-1\r\n",
        "*1\r\n$+4\r\nPING\r\n",
        "*1\r\n$4x\r\nPING\r\n",
        "*1\r\n$4\r\nPINGxx",
        "*1\r\n$65\r\n" + String(repeating: "a", count: 65) + "\r\n",
        "*1\r\n$64\r\n" + String(repeating: "a", count: 64) + "\r\n",
        "*9\r\n" + String(repeating: "$1\r\na\r\n", count: 9),
        "*8\r\n" + String(repeating: "$1\r\na\r\n", count: 8),
        "*2\r\n$1\r\na\r\n:1\r\n",
        "*1\r\n$1\r\na\nb",
        "*1\r\n$1\r\nab\r\n",
        "*1\n$1\r\na\r\n",
        "*2\r\n$3\r\nGET\r\n$12345678901\r\n",
        "*99999999999\r\n",
        "PING\r\n*1\r\n$4\r\nPING\r\n",
    ]
    for request in requests {
        // A valid request follows, to show the decoder carries on after an odd one.
        let wire = Array((request + "*1\r\n$4\r\nECHO\r\n").utf8)
        #expect(decodeOutcomes(wire, chunk: wire.count) == decodeOutcomes(wire, chunk: 1), "\(request.debugDescription)")
    }
}
