import Foundation
import NIOCore
import RESP
import SluiceCore
import SluiceServer
import Testing

/// A throwaway `redis-server` for backend-mode tests: a free loopback port, no
/// persistence, stopped by its PID (SIGKILL: nothing to save, and the test runner's
/// blocked signal mask is inherited, so SIGTERM would not arrive).
final class RedisServer: @unchecked Sendable {
    let port: Int
    private var process: Process?

    init() throws {
        port = try Self.freePort()
        try start()
    }

    deinit { kill() }

    var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts (or restarts, on the same port) and waits until it answers PING.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--loglevel", "warning"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<250 {
            if (try? cli(["PING"])) == "PONG\n" { return }
            usleep(20_000)
        }
        throw TestFailure("redis-server did not start on port \(port)")
    }

    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: a Redis that accepts but never answers.
    func pause(_ paused: Bool) {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, paused ? SIGSTOP : SIGCONT)
    }

    /// `redis-cli -p port ...`'s standard output.
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-cli", "-p", String(port)] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else { throw TestFailure("cannot bind a free port") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

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
