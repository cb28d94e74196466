import Foundation
import RESP
import SluiceRedisBackend
import Testing

/// A throwaway `redis-server` on a free loopback port (no persistence), stopped by PID.
final class RedisProcess: @unchecked Sendable {
    let port: Int
    private var process: Process?

    init() throws {
        port = try freePort()
        try start()
    }

    deinit { stop() }

    /// Starts (or restarts) the server on the same port and waits until it answers PING.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--loglevel", "warning"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if (try? cli(["PING"])) == "PONG\n" { return }
            usleep(20_000)
        }
        throw RedisProcessError("redis-server did not start on port \(port)")
    }

    /// Kills the server (SIGKILL, as a crash) and waits for it to exit.
    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// SIGKILL too: the test runner's threads block signals, and a spawned redis-server
    /// inherits that mask, so it would never see SIGTERM. Nothing is persisted anyway.
    func stop() { kill() }

    /// Runs `redis-cli -p port ...` and returns its standard output.
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

    var configuration: RedisBackendConfiguration {
        var configuration = RedisBackendConfiguration()
        configuration.port = port
        configuration.timeoutMilliseconds = 500
        configuration.poolSize = 2
        return configuration
    }
}

struct RedisProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A port that was free a moment ago (bind to 0, read it, close).
private func freePort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
    }
    guard bound == 0 else { throw RedisProcessError("cannot bind a free port") }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Bytes of a string argument.
func word(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The repository's root, found from this file (Tests/SluiceRedisBackendTests/...).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
