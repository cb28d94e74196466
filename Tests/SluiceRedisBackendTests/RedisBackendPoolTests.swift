import Foundation
import RESP
import SluiceRedisBackend
import Testing

@Suite("RedisBackend pool", .serialized)
struct RedisBackendPoolTests {
    @Test("a command gets its reply and an error reply throws replyError")
    func commandReply() async throws {
        let redis = try RedisProcess()
        let backend = try RedisBackend(configuration: redis.configuration)
        defer { backend.shutdown() }
        #expect(try await backend.command([word("SET"), word("k"), word("v")]) == .simpleString("OK"))
        #expect(try await backend.command([word("GET"), word("k")]) == .bulkString(word("v")))
        #expect(try await backend.command([word("GET"), word("missing")]) == .null)
        #expect(try await backend.command([word("RPUSH"), word("l"), word("a"), word("")]) == .integer(2))
        #expect(try await backend.command([word("LRANGE"), word("l"), word("0"), word("-1")]) == .array([.bulkString(word("a")), .bulkString([])]))
        await #expect(throws: BackendError.replyError("WRONGTYPE Operation against a key holding the wrong kind of value")) {
            try await backend.command([word("GET"), word("l")])
        }
    }
}
