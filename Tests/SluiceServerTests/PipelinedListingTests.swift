import NIOCore
import RESP
import SluiceCore
import Testing
@testable import SluiceServer

/// A listing reply (`CollectionListing`) holds its collection until it is written. Held
/// while the rest of a pipelined burst ran, a later command that changed the collection
/// copied all of it first; so a burst's listings are handed over as they are made.
@Suite("Listings in a pipelined burst")
struct PipelinedListingTests {
    private func dispatcher() -> (Dispatcher, Client) {
        let context = ServerContext(configuration: ServerConfiguration(), table: CommandTable.all, startedAt: Instant(nanoseconds: 0), processID: 1)
        let dispatcher = Dispatcher(context: context, database: Database(commandCount: CommandTable.all.specs.count), timeSource: SystemTimeSource())
        return (dispatcher, dispatcher.connect(address: "127.0.0.1:1", localAddress: "127.0.0.1:6380")!)
    }

    /// Runs `commands` as one burst: each reply's bytes, whether it is a listing, and
    /// whether the burst still held the keyspace's lock when the reply was handed over.
    private func run(_ dispatcher: Dispatcher, _ client: Client, _ commands: [[String]]) -> [(bytes: String, listing: Bool, duringBurst: Bool)] {
        var replies: [(String, Bool, Bool)] = []
        var batch = RESPCommands(commands.map { $0.map { Array($0.utf8) } })
        dispatcher.execute(&batch, client: client, now: dispatcher.now()) { reply, version in
            var buffer = ByteBufferAllocator().buffer(capacity: 64)
            reply.write(into: &buffer, version)
            let listing = if case .listing = reply { true } else { false }
            let locked = dispatcher.database.state.withLockIfAvailable { _ in () } == nil
            replies.append((String(buffer: buffer), listing, locked))
        }
        // The burst is moved into the dispatcher's invocation while it runs, and back.
        #expect(batch.count == commands.count)
        #expect((0..<batch.count).map { batch.words(of: $0).map { String(decoding: batch.word($0), as: UTF8.self) } } == commands)
        return replies
    }

    @Test("a listing is handed over before the next command runs, after the replies before it")
    func handedOverAtOnce() {
        let (dispatcher, client) = dispatcher()
        let replies = run(dispatcher, client, [
            ["ZADD", "z", "1", "a", "2", "b"], ["HSET", "h", "f", "v"], ["RPUSH", "l", "x", "y"],
            ["ZRANGE", "z", "0", "0"], ["ZADD", "z", "0", "first"], ["ZRANGE", "z", "0", "0", "WITHSCORES"],
            ["HGETALL", "h"], ["HSET", "h", "f", "w"], ["HGETALL", "h"], ["HGETALL", "nope"],
            ["LRANGE", "l", "0", "-1"], ["LPUSH", "l", "w"], ["SMEMBERS", "nope"], ["GET", "nope"], ["LLEN", "l"],
        ])
        #expect(replies.map(\.bytes) == [
            ":2\r\n", ":1\r\n", ":2\r\n",
            "*1\r\n$1\r\na\r\n", ":1\r\n", "*2\r\n$5\r\nfirst\r\n$1\r\n0\r\n",
            "*2\r\n$1\r\nf\r\n$1\r\nv\r\n", ":0\r\n", "*2\r\n$1\r\nf\r\n$1\r\nw\r\n", "*0\r\n",
            "*2\r\n$1\r\nx\r\n$1\r\ny\r\n", ":3\r\n", "*0\r\n", "$-1\r\n", ":3\r\n",
        ])
        #expect(replies.map(\.listing) == [false, false, false, true, false, true, true, false, true, true, true, false, true, false, false])
        // Up to the last listing, everything is handed over while the burst runs; what
        // follows it waits until the lock is released, as in a burst without listings.
        #expect(replies.map(\.duringBurst) == Array(repeating: true, count: 13) + [false, false])
    }

    @Test("a burst without listings hands its replies over once the lock is released")
    func withoutListings() {
        let (dispatcher, client) = dispatcher()
        let replies = run(dispatcher, client, [["SET", "a", "1"], ["GET", "a"], ["INCR", "a"]])
        #expect(replies.map(\.bytes) == ["+OK\r\n", "$1\r\n1\r\n", ":2\r\n"])
        #expect(replies.allSatisfy { !$0.duringBurst })
    }
}
