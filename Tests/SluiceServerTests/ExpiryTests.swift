import Testing
import SluiceCore
import SluiceServer

@Suite("Expiry end to end")
struct ExpiryTests {
    @Test("keys with a short real TTL disappear without being read")
    func realTTL() async throws {
        try await withServer(configure: { $0.expiryIntervalMilliseconds = 20 }, realTime: true) { server in
            let c = try server.connect()
            for i in 0..<100 { _ = try c.command("SET", "k\(i)", "v", "PX", "300") }
            _ = try c.command("SET", "keep", "v")
            #expect(try c.command("DBSIZE") == ":101\r\n")
            var size = ""
            for _ in 0..<100 {
                size = try c.command("DBSIZE")
                if size == ":1\r\n" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(size == ":1\r\n")
        }
    }
}
