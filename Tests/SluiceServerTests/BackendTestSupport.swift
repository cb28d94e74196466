import Foundation
import NIOCore
import RESP
import SluiceCore
import SluiceServer
import RedisTestSupport
import Testing

/// Runs `body` against a server in backend mode in front of `redis` (real time, DEBUG allowed).
func withBackendServer<T>(
    _ redis: RedisServer,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    try await withServer(configure: { configuration in
        configuration.backendURL = redis.url
        configuration.backendTimeoutMilliseconds = 500
        configuration.backendPoolSize = 2
        configuration.enableDebugCommand = .yes
        configure(&configuration)
    }, realTime: true, body)
}

/// `count` backend-mode servers in front of the same Redis.
func withBackendServers<T>(
    _ redis: RedisServer, count: Int, started: [TestServer] = [], _ body: ([TestServer]) async throws -> T
) async throws -> T {
    guard started.count < count else { return try await body(started) }
    return try await withBackendServer(redis) { server in
        try await withBackendServers(redis, count: count, started: started + [server], body)
    }
}

/// Sends every command in one write and reads as many replies, raw.
func pipelined(_ connection: RawConnection, _ commands: [[String]]) throws -> [String] {
    var buffer = ByteBuffer()
    for command in commands { buffer.writeRESPCommand(command.map { Array($0.utf8) }) }
    try connection.send(Array(buffer.readableBytesView))
    return try commands.map { _ in try connection.readRaw() }
}
