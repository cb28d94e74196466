import Dispatch
import NIOCore
import RESP
import RedisTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Graceful shutdown of the `sluice-server` binary: SIGTERM and SIGINT sent by PID to a
/// child process, with clients connected in different states. Serialized: each test
/// measures how long the process takes to exit.
@Suite("Graceful shutdown of the sluice-server process", .serialized)
struct ShutdownProcessTests {
    /// A server on a free port with a snapshot in `directory`.
    func start(_ directory: ScratchDirectory, _ extra: [String] = []) throws -> (ServerProcess, Int) {
        let process = try ServerProcess(["--port", "0", "--snapshot", directory.snapshot, "--snapshot-interval", "0"] + extra,
                                        logPath: directory.path + "/server.log")
        return (process, try process.waitUntilReady())
    }

    /// Waits until the log shows the drain has begun (the listener is closed by then).
    func waitForDrain(_ process: ServerProcess) throws {
        for _ in 0..<1_000 {
            if process.log.contains("Shutting down: ") { return }
            usleep(10_000)
        }
        throw TestFailure("no shutdown line in the log:\n\(process.log)")
    }

    /// What a restarted server on the same snapshot answers to `command`.
    func afterRestart(_ directory: ScratchDirectory, _ command: String...) throws -> String {
        let (process, port) = try start(directory)
        let reply = try RawConnection(port: port).command(command)
        process.signal(SIGTERM)
        #expect(try process.waitForExit() == 0)
        return reply
    }

    @Test("SIGTERM as soon as the ready line is out still shuts down gracefully, with status 0")
    func signalRightAfterReady() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        for _ in 0..<5 {
            let (process, _) = try start(directory)
            process.signal(SIGTERM)
            #expect(try process.waitForExit() == 0)
            #expect(process.log.contains("Sluice stopped"))
        }
    }

    @Test("idle clients connected: SIGTERM closes them, writes the snapshot and exits 0 long before the grace period")
    func idleClients() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        let writer = try RawConnection(port: port)
        #expect(try writer.command("SET", "kept", "across restarts") == "+OK\r\n")
        let idle = try RawConnection(port: port)
        #expect(try idle.command("PING") == "+PONG\r\n")
        let queuing = try RawConnection(port: port)
        #expect(try queuing.command("MULTI") == "+OK\r\n")

        let started = monotonicMilliseconds()
        process.signal(SIGTERM)
        #expect(try process.waitForExit() == 0)
        #expect(monotonicMilliseconds() - started < 5_000)
        for connection in [writer, idle, queuing] {
            #expect(try connection.isClosedByPeer())
        }
        #expect(process.log.contains("Snapshot saved to \(directory.snapshot) (1 keys)"))
        #expect(try afterRestart(directory, "GET", "kept") == "$15\r\nacross restarts\r\n")
    }

    @Test("a pipeline still arriving at SIGTERM gets every reply it was owed, in order, before the close")
    func pipelineInFlight() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        let client = try RawConnection(port: port)
        // 1.35 MB of requests: when send() returns, much of it still sits in the socket
        // buffers, unread by the server.
        let count = 50_000
        try sendIncrements(client, key: "counter", count: count)
        process.signal(SIGTERM)

        expectIncrementsThenClose(client, count: count)
        #expect(try process.waitForExit() == 0)
        #expect(try afterRestart(directory, "GET", "counter") == "$5\r\n50000\r\n")
    }

    @Test("backend mode: replies still awaited from Redis at SIGTERM are all delivered before the close")
    func backendRepliesInFlight() throws {
        let redis = try RedisServer()
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let process = try ServerProcess(["--port", "0", "--backend", redis.url, "--shutdown-timeout", "30"],
                                        logPath: directory.path + "/server.log")
        let client = try RawConnection(port: try process.waitUntilReady())
        // Forwarded to Redis: each reply comes back from it, more than the 1,024 one
        // connection may await at once.
        let count = 5_000
        try sendIncrements(client, key: "shutdown:counter", count: count)
        process.signal(SIGTERM)

        expectIncrementsThenClose(client, count: count)
        #expect(try process.waitForExit() == 0)
        #expect(try redis.cli(["GET", "shutdown:counter"]) == "5000\n")
    }

    @Test("a client blocked in BLPOP has its connection closed, and the server exits 0 long before the grace period")
    func blockedClient() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        let blocked = try RawConnection(port: port)
        try blocked.send("*3\r\n$5\r\nBLPOP\r\n$5\r\nqueue\r\n$1\r\n0\r\n")
        let observer = try RawConnection(port: port)
        try waitUntil("the client is blocked") { try observer.command("INFO", "clients").contains("blocked_clients:1") }

        let started = monotonicMilliseconds()
        process.signal(SIGTERM)
        #expect(try blocked.isClosedByPeer())
        #expect(try process.waitForExit() == 0)
        #expect(monotonicMilliseconds() - started < 5_000)
    }

    @Test("once SIGTERM has started the shutdown, new connections are refused while open ones are still served")
    func refusesNewConnections() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        let busy = try BusyClient(port: port)
        process.signal(SIGTERM)
        try waitForDrain(process)

        #expect(throws: TestFailure.self) { try RawConnection(port: port) }
        let served = busy.replies
        usleep(200_000)
        #expect(busy.replies > served, "the open connection is still answered")
        #expect(process.exited() == nil)

        // Once the busy client stops sending, it is done: closed, and the server exits.
        busy.stopSending()
        #expect(try process.waitForExit() == 0)
        #expect(busy.closedByServer())
    }

    @Test("a client that keeps sending is closed when the grace period (set by CONFIG SET) ends; the snapshot is still written")
    func gracePeriodEnds() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        let admin = try RawConnection(port: port)
        #expect(try admin.command("CONFIG", "SET", "shutdown-timeout", "1") == "+OK\r\n")
        #expect(try admin.command("SET", "written", "before") == "+OK\r\n")
        let busy = try BusyClient(port: port)

        let started = monotonicMilliseconds()
        process.signal(SIGTERM)
        #expect(try process.waitForExit() == 0)
        let elapsed = monotonicMilliseconds() - started
        #expect(elapsed >= 1_000 && elapsed < 5_000, "exited after \(elapsed) ms")
        #expect(busy.closedByServer())
        #expect(try admin.isClosedByPeer())
        #expect(process.log.contains("grace period ended, closing 1 connection(s) still open"))
        #expect(try afterRestart(directory, "GET", "written") == "$6\r\nbefore\r\n")
    }

    @Test("a second signal during the grace period closes the open connections at once; the snapshot is still written")
    func secondSignal() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        #expect(try RawConnection(port: port).command("SET", "written", "before") == "+OK\r\n")
        let busy = try BusyClient(port: port)
        process.signal(SIGTERM)
        try waitForDrain(process)

        let started = monotonicMilliseconds()
        process.signal(SIGINT)
        #expect(try process.waitForExit() == 0)
        #expect(monotonicMilliseconds() - started < 5_000)
        #expect(busy.closedByServer())
        #expect(try afterRestart(directory, "GET", "written") == "$6\r\nbefore\r\n")
    }

    @Test("SHUTDOWN: no reply, the connection closed, the snapshot written, exit 0; SHUTDOWN NOSAVE leaves the snapshot as it was")
    func shutdownCommand() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory)
        let client = try RawConnection(port: port)
        #expect(try client.command("SET", "kept", "1") == "+OK\r\n")
        try client.send("*1\r\n$8\r\nSHUTDOWN\r\n")
        #expect(client.closesWithoutReply())
        #expect(try process.waitForExit() == 0)
        #expect(process.log.contains("SHUTDOWN received from 127.0.0.1:"))
        #expect(process.log.contains("Snapshot saved to \(directory.snapshot) (1 keys)"))

        let (second, secondPort) = try start(directory)
        let changer = try RawConnection(port: secondPort)
        #expect(try changer.command("SET", "kept", "2") == "+OK\r\n")
        try changer.send("*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nnosave\r\n")
        #expect(changer.closesWithoutReply())
        #expect(try second.waitForExit() == 0)
        #expect(try afterRestart(directory, "GET", "kept") == "$1\r\n1\r\n")
    }

    @Test("SHUTDOWN NOW closes a client that keeps sending at once instead of giving it shutdown-timeout")
    func shutdownNow() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let (process, port) = try start(directory, ["--shutdown-timeout", "30"])
        let busy = try BusyClient(port: port)
        let started = monotonicMilliseconds()
        try RawConnection(port: port).send("*2\r\n$8\r\nSHUTDOWN\r\n$3\r\nNOW\r\n")
        #expect(try process.waitForExit() == 0)
        #expect(monotonicMilliseconds() - started < 5_000)
        #expect(busy.closedByServer())
    }

    @Test("shutdown-timeout: default 10, CONFIG GET and CONFIG SET, Redis's error for a bad value")
    func option() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CONFIG", "GET", "shutdown-timeout") == "*2\r\n$16\r\nshutdown-timeout\r\n$2\r\n10\r\n")
            #expect(try c.command("CONFIG", "SET", "shutdown-timeout", "0") == "+OK\r\n")
            #expect(try c.command("CONFIG", "GET", "shutdown-timeout") == "*2\r\n$16\r\nshutdown-timeout\r\n$1\r\n0\r\n")
            #expect(try c.command("CONFIG", "SET", "shutdown-timeout", "-1")
                == "-ERR CONFIG SET failed (possibly related to argument 'shutdown-timeout') - argument must be between 0 and 2147483647 inclusive\r\n")
        }
    }
}

/// A client on its own thread that sends PING every 20 ms and reads the PONG, until
/// told to stop or until the server closes the connection.
final class BusyClient: Sendable {
    private let stop = Atomic<Bool>(false)
    private let answered = Atomic<Int>(0)
    /// 1: the server closed the connection while it was sending; 2: after it stopped
    /// sending; 3: it stopped sending and the connection stayed open.
    private let outcome = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int) throws {
        let connected = DispatchSemaphore(value: 0)
        let failed = Atomic<Bool>(false)
        DispatchQueue.global().async {
            defer { self.finished.signal() }
            guard let connection = try? RawConnection(port: port) else {
                failed.store(true, ordering: .relaxed)
                connected.signal()
                return
            }
            connected.signal()
            while !self.stop.load(ordering: .relaxed) {
                guard (try? connection.command("PING")) == "+PONG\r\n" else {
                    self.outcome.store(1, ordering: .relaxed)
                    return
                }
                self.answered.add(1, ordering: .relaxed)
                usleep(20_000)
            }
            // Stays connected (idle) until the server closes it.
            self.outcome.store(connection.closedOrReset() ? 2 : 3, ordering: .relaxed)
        }
        connected.wait()
        guard !failed.load(ordering: .relaxed) else { throw TestFailure("BusyClient could not connect") }
        // At least one round trip before the test goes on.
        try waitUntil("the busy client is answered") { self.replies > 0 }
    }

    var replies: Int { answered.load(ordering: .relaxed) }

    func stopSending() { stop.store(true, ordering: .relaxed) }

    /// Waits for the client thread to end; true if the server closed the connection.
    func closedByServer() -> Bool {
        finished.wait()
        return outcome.load(ordering: .relaxed) != 3
    }
}

func waitUntil(_ what: String, timeoutSeconds: Int = 10, _ condition: () throws -> Bool) throws {
    for _ in 0..<(timeoutSeconds * 100) {
        if try condition() { return }
        usleep(10_000)
    }
    throw TestFailure("timed out waiting until \(what)")
}

private func monotonicMilliseconds() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return spec.tv_sec * 1_000 + spec.tv_nsec / 1_000_000
}

/// Pipelines `count` `INCR key` in one send.
private func sendIncrements(_ client: RawConnection, key: String, count: Int) throws {
    var buffer = ByteBuffer()
    for _ in 0..<count { buffer.writeRESPCommand([Array("INCR".utf8), Array(key.utf8)]) }
    try client.send(Array(buffer.readableBytesView))
}

/// Expects the replies 1...count in order, then the server closing the connection.
private func expectIncrementsThenClose(_ client: RawConnection, count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    var inOrder = 0
    do {
        for expected in 1...count {
            guard try client.readValue() == .integer(Int64(expected)) else { break }
            inOrder = expected
        }
        #expect(try client.isClosedByPeer(), sourceLocation: sourceLocation)
    } catch {
        Issue.record("after \(inOrder) replies: \(error)", sourceLocation: sourceLocation)
    }
    #expect(inOrder == count, sourceLocation: sourceLocation)
}
