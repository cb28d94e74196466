import NIOCore
import RESP
import SluiceCore
import SluiceServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` against a fresh server on a free loopback port, driven by a manual clock.
/// `SLUICE_KEYSPACE_SHARDS` in the environment sets the keyspace's shards, as it does
/// for `sluice-server`, so the whole suite can run against a sharded keyspace too.
func withServer<T>(
    configure: (inout ServerConfiguration) -> Void = { _ in },
    clock: ManualTimeSource = ManualTimeSource(),
    realTime: Bool = false,
    _ body: (TestServer) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration()
    configuration.port = 0
    if let shards = environmentShards { configuration.keyspaceShards = shards }
    configure(&configuration)
    let server = SluiceServer(configuration: configuration, timeSource: realTime ? SystemTimeSource() : clock)
    try await server.start()
    let handle = TestServer(server: server, clock: clock)
    do {
        let result = try await body(handle)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// The shards `SLUICE_KEYSPACE_SHARDS` asks tests to run with; nil when unset.
let environmentShards: Int? = getenv("SLUICE_KEYSPACE_SHARDS").flatMap { Int(String(cString: $0)) }

struct TestServer {
    let server: SluiceServer
    let clock: ManualTimeSource

    var port: Int { server.port }

    func connect(receiveBuffer: Int? = nil) throws -> RawConnection {
        try RawConnection(port: port, receiveBuffer: receiveBuffer)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A blocking TCP client speaking raw bytes, for exact-bytes assertions.
final class RawConnection {
    private let descriptor: Int32
    private var pending = ByteBuffer()
    private let decoder = RESPValueDecoder()

    /// `receiveBuffer` shrinks the socket's receive buffer, for clients that stop reading.
    init(port: Int, timeoutSeconds: Int = 10, receiveBuffer: Int? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket() failed") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        // No close here: `deinit` runs when an initializer throws after every stored
        // property is set, and a second close could hit a descriptor another test has
        // opened since (another server's connection, or an event loop's wake-up).
        guard result == 0 else { throw TestFailure("connect() to port \(port) failed") }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestFailure("send() failed") }
            offset += sent
        }
    }

    /// Reads whatever has arrived, at most `limit` bytes, waiting for at least one;
    /// false when the peer closed the connection.
    func receive(atMost limit: Int) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: limit)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        guard count > 0 else { throw TestFailure("recv() failed or timed out (errno \(errno))") }
        pending.writeBytes(chunk[0..<count])
        return true
    }

    /// Reads more bytes; false when the peer closed the connection.
    private func receive() throws -> Bool {
        try receive(atMost: 65_536)
    }

    /// The bytes received and not yet read as replies, taken out.
    func takeReceived() -> [UInt8] {
        defer { pending.clear() }
        return Array(pending.readableBytesView)
    }

    /// The raw bytes of the next complete reply.
    func readRaw() throws -> String {
        while true {
            var copy = pending
            if try decoder.decode(&copy) != nil {
                let length = copy.readerIndex - pending.readerIndex
                return pending.readString(length: length)!
            }
            guard try receive() else { throw TestFailure("connection closed; unread: \(String(buffer: pending))") }
        }
    }

    /// The next complete reply, decoded.
    func readValue() throws -> RESPValue {
        while true {
            if let value = try decoder.decode(&pending) { return value }
            guard try receive() else { throw TestFailure("connection closed; unread: \(String(buffer: pending))") }
        }
    }

    /// Sends raw bytes and returns the raw bytes of one reply.
    func roundTrip(_ raw: String) throws -> String {
        try send(raw)
        return try readRaw()
    }

    /// Sends a command as a RESP array and returns the raw reply.
    func command(_ arguments: String...) throws -> String {
        try command(arguments)
    }

    /// Sends a command given as an array and returns the raw reply.
    func command(_ arguments: [String]) throws -> String {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand(arguments.map { Array($0.utf8) })
        try send(Array(buffer.readableBytesView))
        return try readRaw()
    }

    /// Sends a command as a RESP array and returns the decoded reply.
    func call(_ arguments: String...) throws -> RESPValue {
        try call(arguments)
    }

    /// Sends a command given as an array and returns the decoded reply.
    func call(_ arguments: [String]) throws -> RESPValue {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand(arguments.map { Array($0.utf8) })
        try send(Array(buffer.readableBytesView))
        return try readValue()
    }

    /// True when the server closes or resets the connection, reading past any unread
    /// bytes; false when it stays open until the receive timeout.
    func closedOrReset() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    /// True when the server closes the connection without sending anything more.
    func closesWithoutReply() -> Bool {
        var byte: UInt8 = 0
        return pending.readableBytes == 0 && recv(descriptor, &byte, 1, 0) == 0
    }

    /// True once the server has closed the connection (after any unread bytes).
    func isClosedByPeer() throws -> Bool {
        while true {
            if try !receive() { return true }
        }
    }
}

extension RawConnection {
    /// Sends `command + arguments` for each case and expects `-ERR <message>` back.
    func expectErrors(_ command: [String], _ cases: [([String], String)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (arguments, message) in cases {
            #expect(try call(command + arguments) == .error("ERR " + message), "\(command + arguments)", sourceLocation: sourceLocation)
        }
    }
}
