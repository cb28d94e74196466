import NIOCore
import NIOEmbedded
import SluiceCore
import Testing
@testable import SluiceServer

@Suite("Replies written at the end of the event loop's tick")
struct TickFlushTests {
    /// Two connections on one event loop, as the server's handlers see them.
    private func connections() throws -> (EmbeddedEventLoop, EmbeddedChannel, EmbeddedChannel) {
        let context = ServerContext(configuration: ServerConfiguration(), table: CommandTable.all, startedAt: Instant(nanoseconds: 0), processID: 1)
        let dispatcher = Dispatcher(context: context, database: Database(commandCount: CommandTable.all.specs.count), timeSource: SystemTimeSource())
        let loop = EmbeddedEventLoop()
        let first = EmbeddedChannel(handler: ConnectionHandler(dispatcher: dispatcher), loop: loop)
        let second = EmbeddedChannel(handler: ConnectionHandler(dispatcher: dispatcher), loop: loop)
        for channel in [first, second] {
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }
        return (loop, first, second)
    }

    @Test("no reply is written until the tick's reads are all handled")
    func heldUntilTickEnds() throws {
        let (loop, first, second) = try connections()
        try first.writeInbound(ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
        try second.writeInbound(ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"))
        #expect(try first.readOutbound(as: ByteBuffer.self) == nil)
        #expect(try second.readOutbound(as: ByteBuffer.self) == nil)
        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "+PONG\r\n")
        #expect(try second.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "+OK\r\n")
    }

    @Test("several reads of one connection in a tick go out in one write, and the next tick's in another")
    func oneWritePerTick() throws {
        let (loop, first, _) = try connections()
        try first.writeInbound(ByteBuffer(string: "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"))
        try first.writeInbound(ByteBuffer(string: "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nPI"))
        try first.writeInbound(ByteBuffer(string: "NG\r\n"))
        loop.run()
        // The next tick writes again, into a buffer of its own while the channel still
        // holds the first one (the handler reuses a flushed buffer only once it is free).
        try first.writeInbound(ByteBuffer(string: "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"))
        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == ":1\r\n:2\r\n+PONG\r\n")
        #expect(try first.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == ":3\r\n")
        #expect(try first.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test("a connection closed before its tick ends takes its replies along and spares the others'")
    func closedBeforeTickEnds() throws {
        let (loop, first, second) = try connections()
        try first.writeInbound(ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"))
        try second.writeInbound(ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"))
        try first.close().wait()
        loop.run()
        #expect(try second.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "$1\r\n1\r\n")
    }

    @Test("a handler its pipeline lets go of before the tick ends is not flushed; the others are")
    func removedBeforeTickEnds() throws {
        let (loop, first, second) = try connections()
        try first.writeInbound(ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
        try second.writeInbound(ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
        // What a pipeline tells a handler it removes. The end-of-tick flush holds handlers
        // unretained, so flushing one after this could touch freed memory; here the
        // handler stays in the pipeline, where a flush would show as a written reply.
        let context = try first.pipeline.syncOperations.context(handlerType: ConnectionHandler.self)
        (context.handler as! ConnectionHandler).handlerRemoved(context: context)
        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self) == nil)
        #expect(try second.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "+PONG\r\n")
    }

    @Test("QUIT's reply is written at the tick's end, then the connection closes")
    func quitAtTickEnd() throws {
        let (loop, first, _) = try connections()
        try first.writeInbound(ByteBuffer(string: "*1\r\n$4\r\nQUIT\r\n"))
        #expect(first.isActive)
        loop.run()
        #expect(try first.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "+OK\r\n")
        #expect(!first.isActive)
    }
}
