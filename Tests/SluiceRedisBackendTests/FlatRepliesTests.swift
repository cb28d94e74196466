import CHiredis
import NIOCore
import RESP
import SeededRandom
@testable import SluiceRedisBackend
import Testing

@Suite("FlatReplies: hiredis's reader building replies without its reply objects")
struct FlatRepliesTests {
    /// A random RESP2 reply, nested at most `depth` arrays deep (hiredis reads at most 7).
    func randomReply(_ generator: inout SplitMix64, depth: Int) -> RESPValue {
        func text() -> String {
            String((0..<Int.random(in: 0...12, using: &generator)).map { _ in "abc xyz019-:é".randomElement(using: &generator)! })
        }
        switch Int.random(in: 0..<(depth > 0 ? 7 : 6), using: &generator) {
        case 0: return .simpleString(text())
        case 1: return .error("ERR " + text())
        case 2: return .integer(Int64.random(in: .min ... .max, using: &generator) >> Int64.random(in: 0...63, using: &generator))
        case 3: return .bulkString((0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        case 4: return .bulkString(Array(repeating: 7, count: Int.random(in: 0...70_000, using: &generator)))
        case 5: return .null
        default:
            return .array((0..<Int.random(in: 0...6, using: &generator)).map { _ in randomReply(&generator, depth: depth - 1) })
        }
    }

    @Test("random replies fed in random pieces read back as the values that were encoded, one after another")
    func randomRepliesRoundTrip() throws {
        var generator = SplitMix64(seed: 42)
        let reader = try #require(redisReaderCreate())
        defer { redisReaderFree(reader) }
        let replies = FlatReplies()
        replies.install(in: reader)
        var sent: [RESPValue] = []
        var wire = ByteBuffer()
        for _ in 0..<400 {
            let value = randomReply(&generator, depth: 4)
            sent.append(value)
            wire.writeRESPValue(value, version: .resp2)
        }
        var received: [RESPValue] = []
        let bytes = Array(wire.readableBytesView)
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, Int.random(in: 1...3_000, using: &generator))
            bytes[offset..<offset + piece].withUnsafeBytes { chunk in
                _ = redisReaderFeed(reader, chunk.baseAddress!.assumingMemoryBound(to: CChar.self), chunk.count)
            }
            offset += piece
            while true {
                var reply: UnsafeMutableRawPointer?
                #expect(redisReaderGetReply(reader, &reply) == REDIS_OK)
                guard reply != nil else { break }
                received.append(replies.value())
                replies.clear()
            }
        }
        #expect(received.count == sent.count)
        let first = zip(sent, received).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(first == nil, "reply \(first?.offset ?? -1) differs")
    }

    @Test("a nil array reads as null, as hiredis's own replies did")
    func nilArray() throws {
        let reader = try #require(redisReaderCreate())
        defer { redisReaderFree(reader) }
        let replies = FlatReplies()
        replies.install(in: reader)
        let wire = Array("*-1\r\n*2\r\n*-1\r\n$-1\r\n".utf8)
        wire.withUnsafeBytes { _ = redisReaderFeed(reader, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        var values: [RESPValue] = []
        for _ in 0..<2 {
            var reply: UnsafeMutableRawPointer?
            #expect(redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nil)
            values.append(replies.value())
            replies.clear()
        }
        #expect(values == [.null, .array([.null, .null])])
    }
}
