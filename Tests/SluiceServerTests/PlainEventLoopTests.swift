import NIOCore
import Synchronization
import Testing
@testable import SluiceServer

#if canImport(Glibc)
import Glibc
#endif

@Suite("The plain-text event loop: tasks, timers, stopping")
struct PlainEventLoopTests {
    /// Runs `body` with a fresh loop, stopped afterwards.
    private func withLoop<T>(_ body: (PlainEventLoop) async throws -> T) async throws -> T {
        let loop = try PlainEventLoop(name: "test-loop")
        do {
            let result = try await body(loop)
            loop.stop()
            return result
        } catch {
            loop.stop()
            throw error
        }
    }

    @Test("tasks from several threads run on the loop's thread, each thread's in the order it sent them")
    func tasksFromOtherThreads() async throws {
        try await withLoop { loop in
            let seen = Mutex<[[Int]]>(Array(repeating: [], count: 4))
            let offLoop = Atomic<Int>(0)
            let senders = (0..<4).map { sender in
                TestThread {
                    for index in 0..<500 {
                        loop.execute {
                            if !loop.inEventLoop { offLoop.add(1, ordering: .relaxed) }
                            seen.withLock { $0[sender].append(index) }
                        }
                    }
                }
            }
            senders.forEach { $0.join() }
            try await loop.submit {}.get()
            let ranOffLoop = offLoop.load(ordering: .relaxed)
            #expect(ranOffLoop == 0)
            #expect(seen.withLock { $0 } == Array(repeating: Array(0..<500), count: 4))
        }
    }

    @Test("timers run by deadline, those with the same deadline in the order scheduled, and cancelled ones never")
    func timerOrder() async throws {
        try await withLoop { loop in
            let fired = Mutex<[Int]>([])
            let start = NIODeadline.now() + .milliseconds(20)
            // Deadlines out of order, many equal, about half cancelled: the heap's
            // removal from its middle is what keeps the rest in order.
            let offsets = (0..<300).map { Int64($0 * 7_919 % 40) }
            let cancelled = Set((0..<300).filter { $0 % 3 == 1 || $0 % 7 == 0 })
            // Scheduled and half cancelled in one task, so that none can fire in between
            // however slowly the test runs: timers run after the tick's tasks.
            try await loop.submit {
                let scheduled = offsets.enumerated().map { index, offset in
                    loop.scheduleTask(deadline: start + .milliseconds(offset)) { fired.withLock { $0.append(index) } }
                }
                for index in cancelled { scheduled[index].cancel() }
            }.get()
            let last = loop.scheduleTask(deadline: start + .milliseconds(60)) {}
            try await last.futureResult.get()
            let expected = (0..<300).filter { !cancelled.contains($0) }.sorted { (offsets[$0], $0) < (offsets[$1], $1) }
            #expect(fired.withLock { $0 } == expected)
        }
    }

    @Test("a timer scheduled from another thread fires no earlier than its deadline and its future gets the result")
    func timerFromAnotherThread() async throws {
        try await withLoop { loop in
            let scheduledAt = NIODeadline.now()
            let result = try await loop.scheduleTask(in: .milliseconds(30)) { NIODeadline.now() }.futureResult.get()
            #expect(result - scheduledAt >= .milliseconds(30))
        }
    }

    @Test("a timer cancelled from another thread fails its future as cancelled and does not run")
    func cancelFromAnotherThread() async throws {
        try await withLoop { loop in
            let ran = Atomic<Bool>(false)
            let deadline = NIODeadline.now() + .milliseconds(300)
            let task = loop.scheduleTask(deadline: deadline) { ran.store(true, ordering: .relaxed) }
            task.cancel()
            await #expect(throws: EventLoopError.self) { try await task.futureResult.get() }
            try await loop.scheduleTask(deadline: deadline + .milliseconds(10)) {}.futureResult.get()
            let didRun = ran.load(ordering: .relaxed)
            #expect(!didRun)
        }
    }

    @Test("stopping runs the tasks already queued and fails the timers not yet due with shutdown")
    func stopping() async throws {
        let loop = try PlainEventLoop(name: "test-loop")
        let ran = Atomic<Int>(0)
        let failure = Mutex<EventLoopError?>(nil)
        let later = loop.scheduleTask(in: .seconds(60)) {}
        later.futureResult.whenFailure { error in failure.withLock { $0 = error as? EventLoopError } }
        try await loop.submit {}.get()
        for _ in 0..<10 { loop.execute { ran.add(1, ordering: .relaxed) } }
        loop.stop()
        let ranCount = ran.load(ordering: .relaxed)
        #expect(ranCount == 10)
        #expect(failure.withLock { $0 } == .shutdown)
    }
}

@Suite("Plain-text connections on Sluice's event loop")
struct PlainChannelTests {
    @Test("a client that closes its side is closed and forgotten: connected_clients goes back down")
    func peerClose() async throws {
        try await withServer { server in
            let watcher = try server.connect()
            var closing: RawConnection? = try server.connect()
            #expect(try closing?.roundTrip("PING\r\n") == "+PONG\r\n")
            #expect(try connectedClients(watcher) == 2)
            closing = nil
            var clients = 2
            for _ in 0..<200 where clients != 1 {
                usleep(5_000)
                clients = try connectedClients(watcher)
            }
            #expect(clients == 1)
        }
    }

    @Test("with --threads 3, connections on every loop see one keyspace")
    func threeLoops() async throws {
        try await withServer(configure: { $0.threads = 3 }) { server in
            let connections = try (0..<6).map { _ in try server.connect() }
            for (index, connection) in connections.enumerated() {
                #expect(try connection.roundTrip("INCR shared\r\n") == ":\(index + 1)\r\n")
            }
            for connection in connections {
                #expect(try connection.roundTrip("GET shared\r\n") == "$1\r\n6\r\n")
            }
        }
    }

    @Test("a client parked on one loop is woken by a push and by CLIENT UNBLOCK from a connection on the other")
    func wakeUpAcrossLoops() async throws {
        try await withServer(configure: { $0.threads = 2 }) { server in
            // Connections go to the loops in turn, so these two are on different ones.
            let parked = try server.connect()
            let other = try server.connect()
            try parked.send("BLPOP list 0\r\n")
            // Parked or not yet, the pop gets the value: served by the push, or finding it.
            #expect(try other.roundTrip("RPUSH list v\r\n") == ":1\r\n")
            #expect(try parked.readRaw() == "*2\r\n$4\r\nlist\r\n$1\r\nv\r\n")
            let id = try parked.roundTrip("CLIENT ID\r\n").dropFirst().dropLast()  // "\r\n" is one Character
            try parked.send("BLPOP empty 0\r\nPING\r\n")
            var unblocked = ":0\r\n"
            for _ in 0..<200 where unblocked == ":0\r\n" {
                unblocked = try other.roundTrip("CLIENT UNBLOCK \(id)\r\n")
                if unblocked == ":0\r\n" { usleep(5_000) }
            }
            #expect(unblocked == ":1\r\n")
            #expect(try parked.readRaw() == "*-1\r\n")
            #expect(try parked.readRaw() == "+PONG\r\n")
        }
    }

    private func connectedClients(_ connection: RawConnection) throws -> Int {
        guard case .bulkString(let info)? = try? connection.call("INFO", "clients"),
            let line = String(decoding: info, as: UTF8.self).split(separator: "\r\n").first(where: { $0.hasPrefix("connected_clients:") }),
            let count = Int(line.dropFirst("connected_clients:".count))
        else { throw TestFailure("no connected_clients in INFO") }
        return count
    }
}

/// A thread for tests that need one outside Swift's concurrency pool.
private final class TestThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
        let result = pthread_create(&handle, nil, { argument in
            Unmanaged<TestThread>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(result == 0)
    }

    func join() {
        pthread_join(handle, nil)
    }
}
