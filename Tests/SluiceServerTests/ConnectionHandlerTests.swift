import NIOCore
@testable import SluiceServer
import Testing

@Suite("Connection input kept between reads")
struct ConnectionHandlerTests {
    @Test("each read is appended in place to the bytes kept from earlier ones, not to a copy of them")
    func readsAppendInPlace() {
        var kept: ByteBuffer? = ByteBufferAllocator().buffer(capacity: 1 << 20)
        kept!.writeString("$1048000\r\n")
        let storage = kept!.withUnsafeReadableBytes { $0.baseAddress }
        for _ in 0..<200 {
            var incoming = ByteBuffer(repeating: 120, count: 1_000)
            let joined = ConnectionHandler.joined(&kept, &incoming)
            #expect(kept == nil)
            // Still the first storage: nothing held a second reference while appending.
            #expect(joined.withUnsafeReadableBytes { $0.baseAddress } == storage)
            kept = joined
        }
        #expect(kept?.readableBytes == 10 + 200 * 1_000)
    }

    @Test("the start of a command left in a 64 KiB read is copied out, so the read buffer is not held")
    func smallRestCopiedOut() {
        var read = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        read.writeString("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGE")
        read.moveReaderIndex(forwardBy: 14)
        let kept = ConnectionHandler.kept(read, allocator: ByteBufferAllocator())
        #expect(String(buffer: kept) == "*2\r\n$3\r\nGE")
        #expect(kept.capacity < 1024)
        #expect(kept.withUnsafeReadableBytes { $0.baseAddress } != read.withUnsafeReadableBytes { $0.baseAddress })
    }

    @Test("a buffer the kept bytes fill a quarter of or more is kept as it is, as is a small one")
    func fullBufferKept() {
        var growing = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        growing.writeBytes(Array(repeating: UInt8(ascii: "x"), count: 16 * 1024))
        let kept = ConnectionHandler.kept(growing, allocator: ByteBufferAllocator())
        #expect(kept.withUnsafeReadableBytes { $0.baseAddress } == growing.withUnsafeReadableBytes { $0.baseAddress })
        var small = ByteBufferAllocator().buffer(capacity: 2048)
        small.writeString("*1\r\n")
        #expect(ConnectionHandler.kept(small, allocator: ByteBufferAllocator()).withUnsafeReadableBytes { $0.baseAddress }
            == small.withUnsafeReadableBytes { $0.baseAddress })
    }
}
