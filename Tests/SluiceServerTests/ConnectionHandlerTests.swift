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
}
