import NIOCore
import RESP
import SluiceCore
import Testing
@testable import SluiceServer

private let now = Instant(milliseconds: 1_700_000_000_000)
private func key(_ text: String) -> Key { Array(text.utf8) }
private func client(_ id: Int64) -> Client {
    Client(id: id, address: "test", localAddress: "test", createdAt: now)
}

/// The waiting logic without sockets: parking, serving order and the timeout decision.
@Suite("Blocking state")
struct BlockingStateTests {
    @Test("timeouts are seconds with a fraction, rounded up to milliseconds; 0 waits forever")
    func timeoutParsing() throws {
        #expect(try blockingTimeout(Array("0".utf8), now: now) == nil)
        #expect(try blockingTimeout(Array("0.0".utf8), now: now) == nil)
        #expect(try blockingTimeout(Array("1".utf8), now: now) == .milliseconds(1_000))
        #expect(try blockingTimeout(Array("0.1".utf8), now: now) == .milliseconds(100))
        #expect(try blockingTimeout(Array("0.0001".utf8), now: now) == .milliseconds(1))
        // Like Redis, a tiny negative number rounds up to 0 and waits forever.
        #expect(try blockingTimeout(Array("-0.0001".utf8), now: now) == nil)
        #expect(throws: CommandError.err("timeout is negative")) { try blockingTimeout(Array("-1".utf8), now: now) }
        #expect(throws: CommandError.err("timeout is out of range")) { try blockingTimeout(Array("1e16".utf8), now: now) }
        #expect(throws: CommandError.err("timeout is not a float or out of range")) {
            try blockingTimeout(Array("1s".utf8), now: now)
        }
    }

    @Test("a push serves waiters on its key in the order they blocked, one element each")
    func servingOrder() {
        var state = DatabaseState()
        let first = client(1), second = client(2), third = client(3)
        for waiter in [first, second, third] {
            _ = state.blocking.park(waiter, .pop(keys: [key("q")], end: .left), timeout: nil)
        }
        state.keyspace.set(key("q"), .list(ListValue([Array("a".utf8), Array("b".utf8)])), now: now)
        state.blocking.signal(key("q"))
        state.serveBlockedClients(now: now)
        let wakeups = state.blocking.takeWakeups()
        #expect(wakeups.map(\.client.id) == [1, 2])
        #expect(wakeups.map(\.reply) == [
            .array([.bulk("q"), .bulk("a")]),
            .array([.bulk("q"), .bulk("b")]),
        ])
        #expect(third.blockedRequest != nil)
        #expect(state.blocking.blockedClients == 1)
        #expect(state.keyspace.value(key("q"), now: now) == nil)
    }

    @Test("a push to a key nobody waits on marks nothing ready")
    func signalWithoutWaiters() {
        var state = DatabaseState()
        _ = state.blocking.park(client(1), .pop(keys: [key("other")], end: .left), timeout: nil)
        state.blocking.signal(key("q"))
        #expect(!state.blocking.hasReadyKeys)
    }

    @Test("a timer answers only the parking it was started for")
    func timeoutDecision() {
        var state = DatabaseState()
        let waiter = client(1)
        let first = state.blocking.park(waiter, .pop(keys: [key("q")], end: .left), timeout: .milliseconds(100))
        #expect(state.timeOut(waiter, token: first.token) == .nullArray)
        #expect(waiter.blockedRequest == nil)
        #expect(state.timeOut(waiter, token: first.token) == nil)
        let second = state.blocking.park(waiter, .pop(keys: [key("q")], end: .left), timeout: .milliseconds(100))
        // The first parking's timer, late, must not end the second.
        #expect(state.timeOut(waiter, token: first.token) == nil)
        #expect(waiter.blockedRequest?.token == second.token)
    }

    @Test("an unparked client leaves every key's queue")
    func unparkLeavesQueues() {
        var state = DatabaseState()
        let gone = client(1), staying = client(2)
        _ = state.blocking.park(gone, .pop(keys: [key("a"), key("b"), key("a")], end: .left), timeout: nil)
        _ = state.blocking.park(staying, .pop(keys: [key("b")], end: .left), timeout: nil)
        #expect(state.blocking.unpark(gone) != nil)
        #expect(state.blocking.unpark(gone) == nil)
        #expect(state.blocking.waiters(on: key("a")).isEmpty)
        #expect(state.blocking.waiters(on: key("b")).map(\.id) == [2])
    }

    @Test("a waiter whose command may not block answers at once with the denied reply")
    func deniedBlocking() {
        var state = DatabaseState()
        let waiter = client(1)
        waiter.denyBlocking = true
        let server = ServerContext(configuration: ServerConfiguration(), table: CommandTable([]), startedAt: now, processID: 1)
        let invocation = Invocation(arguments: Arguments([]), now: now, client: waiter, server: server)
        #expect(state.block(invocation, .pop(keys: [key("q")], end: .left), timeout: nil) == .nullArray)
        #expect(state.block(invocation, .move(source: key("q"), destination: key("d"), from: .right, to: .left), timeout: nil) == .null)
        #expect(waiter.blockedRequest == nil)
        #expect(state.blocking.blockedClients == 0)
    }

    @Test("waiters rotating a list with a TTL onto itself are all served and the TTL stays")
    func rotationServesAllAndKeepsTTL() {
        var state = DatabaseState()
        for id in 1...3 {
            _ = state.blocking.park(client(Int64(id)), .move(source: key("e"), destination: key("e"), from: .right, to: .left), timeout: nil)
        }
        let deadline = now.milliseconds + 30_000
        state.keyspace.set(key("e"), .list(ListValue([Array("x".utf8)])), expiresAt: deadline, now: now)
        state.blocking.signal(key("e"))
        state.serveBlockedClients(now: now)
        #expect(state.blocking.takeWakeups().map(\.reply) == Array(repeating: .bulk("x"), count: 3))
        #expect(state.blocking.blockedClients == 0)
        #expect(state.keyspace.expiry(key("e"), now: now) == .some(deadline))
    }
}
