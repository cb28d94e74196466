import SluiceServer
import Testing

@Suite("Writing replies")
struct ReplyWriteTests {
    /// A plain-text connection sends its replies on the socket itself, and hands what the
    /// socket does not take to the channel; replies after that must wait behind it.
    @Test("replies stay whole and in order while the socket takes only part of them")
    func repliesInOrderAcrossPartialSends() async throws {
        try await withServer { server in
            let digits = Array("0123456789".utf8)
            let value = String(decoding: (0..<300_000).map { digits[$0 % 10] }, as: UTF8.self)
            #expect(try server.connect().command("SET", "big", value) == "+OK\r\n")
            // A small receive buffer, read a little at a time while commands keep coming:
            // most replies find the socket full or the channel still holding earlier bytes.
            let client = try server.connect(receiveBuffer: 4096)
            var expected: [UInt8] = []
            var received: [UInt8] = []
            var count = 0
            for _ in 1...10 {
                try client.send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
                expected += Array("$300000\r\n\(value)\r\n".utf8)
                for _ in 1...40 {
                    count += 1
                    try client.send("*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
                    expected += Array(":\(count)\r\n".utf8)
                    _ = try client.receive(atMost: 2048)
                    received += client.takeReceived()
                }
            }
            while received.count < expected.count, try client.receive(atMost: 65_536) {
                received += client.takeReceived()
            }
            let firstDifference = received.indices.first { $0 < expected.count && received[$0] != expected[$0] }
            #expect(firstDifference == nil)
            #expect(received.count == expected.count)
        }
    }

    @Test("a port already in use stops the start with an error naming the bind")
    func portInUse() async throws {
        try await withServer { first in
            var configuration = ServerConfiguration()
            configuration.port = first.port
            let second = SluiceServer(configuration: configuration)
            do {
                try await second.start()
                Issue.record("started on a port in use")
            } catch {
                #expect("\(error)".contains("bind(127.0.0.1:\(first.port))"))
                #expect("\(error)".contains("Address already in use"))
            }
            await second.shutdown()
            let pong = try first.connect().command("PING")
            #expect(pong == "+PONG\r\n")
        }
    }
}
