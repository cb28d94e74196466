import RESP
import SluiceCore
import SluiceServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Connection limits: maxclients, timeout, query and output buffers")
struct ConnectionLimitTests {
    @Test("past maxclients a new connection gets the error and is closed; a freed slot admits the next")
    func maxClients() async throws {
        try await withServer(configure: { $0.maxClients = 2 }) { server in
            var first: RawConnection? = try server.connect()
            let second = try server.connect()
            #expect(try first?.command("PING") == "+PONG\r\n")
            #expect(try second.command("PING") == "+PONG\r\n")
            let refused = try server.connect()
            #expect(try refused.readRaw() == "-ERR max number of clients reached\r\n")
            #expect(try refused.isClosedByPeer())
            first = nil
            // The server notices the close on its own event loop; retry briefly.
            var admitted = false
            for _ in 0..<50 where !admitted {
                try await Task.sleep(for: .milliseconds(20))
                let next = try server.connect()
                admitted = (try? next.command("PING")) == "+PONG\r\n"
            }
            #expect(admitted)
            guard case .bulkString(let info) = try second.call("INFO", "stats") else { Issue.record("INFO"); return }
            #expect(String(decoding: info, as: UTF8.self).contains("rejected_connections:"))
            #expect(!String(decoding: info, as: UTF8.self).contains("rejected_connections:0\r\n"))
        }
    }

    @Test("a client idle longer than timeout is closed; an active one is not")
    func idleTimeout() async throws {
        try await withServer(configure: { $0.idleTimeoutSeconds = 2; $0.idleCheckIntervalMilliseconds = 10 }) { server in
            let idle = try server.connect()
            let active = try server.connect()
            #expect(try idle.command("PING") == "+PONG\r\n")
            #expect(try active.command("PING") == "+PONG\r\n")
            server.clock.advance(milliseconds: 2_000)
            try await Task.sleep(for: .milliseconds(100))
            // Exactly the timeout is not past it.
            #expect(try active.command("PING") == "+PONG\r\n")
            server.clock.advance(milliseconds: 1_000)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try idle.isClosedByPeer())
            #expect(try active.command("PING") == "+PONG\r\n")
        }
    }

    @Test("timeout 0 never closes; CONFIG SET timeout applies to open connections")
    func timeoutAtRunTime() async throws {
        try await withServer(configure: { $0.idleCheckIntervalMilliseconds = 10 }) { server in
            let admin = try server.connect()
            let idle = try server.connect()
            #expect(try idle.command("PING") == "+PONG\r\n")
            server.clock.advance(milliseconds: 100_000_000)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try idle.command("PING") == "+PONG\r\n")
            #expect(try admin.command("CONFIG", "SET", "timeout", "10") == "+OK\r\n")
            server.clock.advance(milliseconds: 11_000)
            try await Task.sleep(for: .milliseconds(100))
            #expect(try idle.isClosedByPeer())
        }
    }

    @Test("a command that never completes is cut off past the query buffer limit; others keep working")
    func queryBufferLimit() async throws {
        try await withServer(configure: { $0.maxQueryBufferBytes = 64 * 1024 }) { server in
            let bystander = try server.connect()
            #expect(try bystander.command("SET", "k", "v") == "+OK\r\n")
            let endless = try server.connect()
            try endless.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n")
            try? endless.send([UInt8](repeating: UInt8(ascii: "x"), count: 100_000))
            #expect(endless.closedOrReset())

            let manyWords = try server.connect()
            var words = "*100000\r\n"
            for _ in 0..<20_000 { words += "$1\r\na\r\n" }
            try? manyWords.send(words)
            #expect(manyWords.closedOrReset())

            #expect(try bystander.command("GET", "k") == "$1\r\nv\r\n")
            // Under the limit, a large value still goes through.
            let big = String(repeating: "y", count: 60_000)
            #expect(try bystander.command("SET", "big", big) == "+OK\r\n")
        }
    }

    @Test("a client that pipelines GETs of a large value and never reads is disconnected; others keep working")
    func outputBufferLimit() async throws {
        try await withServer(configure: { $0.maxOutputBufferBytes = 1024 * 1024 }) { server in
            let bystander = try server.connect()
            let value = String(repeating: "v", count: 200_000)
            #expect(try bystander.command("SET", "big", value) == "+OK\r\n")
            let reader = try server.connect()
            #expect(try reader.command("GET", "big").utf8.count == 200_000 + 11)

            // One GET per write, so each read burst stays under the limit and what piles up
            // is replies the socket cannot take: the channel's unwritten bytes.
            let greedy = try server.connect(receiveBuffer: 4096)
            var sent = 0
            do {
                while sent < 2_000 {
                    try greedy.send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
                    sent += 1
                    if sent % 10 == 0 { try await Task.sleep(for: .milliseconds(1)) }
                }
            } catch {
                // The server closed it mid-stream.
            }
            #expect(greedy.closedOrReset())
            #expect(sent < 2_000)
            #expect(try bystander.command("GET", "big").utf8.count == 200_000 + 11)
        }
    }

    @Test("one read burst whose replies pass the output limit closes the client without answering")
    func outputLimitWithinOneBurst() async throws {
        try await withServer(configure: { $0.maxOutputBufferBytes = 1024 * 1024 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "big", String(repeating: "v", count: 300_000)) == "+OK\r\n")
            try c.send(String(repeating: "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", count: 10))
            #expect(c.closedOrReset())
            #expect(try server.connect().command("PING") == "+PONG\r\n")
        }
    }
}
