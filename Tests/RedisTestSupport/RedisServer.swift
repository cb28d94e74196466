import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway `redis-server` for tests: a free loopback port, no persistence, stopped
/// by its PID. Stopped with SIGKILL: nothing is saved, and the test runner's threads
/// block signals, a mask the spawned server inherits, so SIGTERM would never arrive.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    private var process: Process?

    public init() throws {
        port = try Self.freePort()
        try start()
    }

    deinit { kill() }

    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts (or restarts, on the same port) and waits until it answers PING.
    public func start() throws {
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
        throw RedisServerError("redis-server did not start on port \(port)")
    }

    /// Kills the server, as a crash would, and waits for it to exit.
    public func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: a Redis that accepts but never answers.
    public func pause(_ paused: Bool) {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, paused ? SIGSTOP : SIGCONT)
    }

    /// Runs `redis-cli -p port ...` and returns its standard output.
    @discardableResult
    public func cli(_ arguments: [String]) throws -> String {
        try runCommand(["redis-cli", "-p", String(port)] + arguments).output
    }

    /// A port that was free a moment ago (bind to 0, read it, close). Once, among tests
    /// running in parallel, the read gave port 0, and redis-server then listened on none:
    /// a try that does not read back a port is made again with a new socket.
    private static func freePort() throws -> Int {
        for _ in 0..<5 {
            if let port = boundPort(), port != 0 { return port }
        }
        throw RedisServerError("cannot bind a free port")
    }

    /// The port a new socket bound to port 0 got, nil when binding or reading it failed.
    private static func boundPort() -> Int? {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        let read = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard bound == 0, read == 0 else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs a command found on the PATH (`arguments[0]`) and waits for it: its exit status
/// and what it wrote to standard output and standard error.
public func runCommand(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

public struct RedisServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
