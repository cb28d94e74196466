import Foundation
import SluiceServer
import Testing

/// Waits until the server reports `count` parked clients, so a test pushes only after
/// the blocking command really waits (it arrives on another connection).
private func waitUntilBlocked(_ count: Int, via connection: RawConnection, sourceLocation: SourceLocation = #_sourceLocation) throws {
    for _ in 0..<500 {
        let info = try connection.command("INFO", "clients")
        if info.contains("blocked_clients:\(count)\r\n") { return }
        usleep(2_000)
    }
    Issue.record("never saw blocked_clients:\(count)", sourceLocation: sourceLocation)
}

/// Two event loops, so waiting and pushing clients usually live on different threads.
private func twoLoops(_ configuration: inout ServerConfiguration) {
    configuration.threads = 2
}

@Suite("Blocking list commands")
struct BlockingListTests {
    @Test("BLPOP and BRPOP with data answer at once from the first key holding a list")
    func immediate() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "b", "1", "2")
            #expect(try c.command("BLPOP", "a", "b", "0") == "*2\r\n$1\r\nb\r\n$1\r\n1\r\n")
            #expect(try c.command("BRPOP", "a", "b", "0") == "*2\r\n$1\r\nb\r\n$1\r\n2\r\n")
            #expect(try c.command("EXISTS", "b") == ":0\r\n")
            _ = try c.command("RPUSH", "src", "x", "y")
            #expect(try c.command("BRPOPLPUSH", "src", "dst", "0") == "$1\r\ny\r\n")
            #expect(try c.command("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0") == "$1\r\nx\r\n")
            #expect(try c.command("LRANGE", "dst", "0", "-1") == "*2\r\n$1\r\ny\r\n$1\r\nx\r\n")
        }
    }

    @Test("a parked BLPOP gets no reply until another client pushes, then the pushed element")
    func parkedUntilPush() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            #expect(try pusher.command("RPUSH", "q", "hello") == ":1\r\n")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$5\r\nhello\r\n")
            #expect(try pusher.command("EXISTS", "q") == ":0\r\n")
            #expect(try waiter.command("PING") == "+PONG\r\n")
            try waitUntilBlocked(0, via: pusher)
        }
    }

    @Test("a parked BLPOP on several keys is served from the key that got data")
    func severalKeys() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send("*4\r\n$5\r\nBRPOP\r\n$2\r\nk1\r\n$2\r\nk2\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            #expect(try pusher.command("LPUSH", "k2", "a", "b") == ":2\r\n")
            #expect(try waiter.readRaw() == "*2\r\n$2\r\nk2\r\n$1\r\na\r\n")
            #expect(try pusher.command("LRANGE", "k2", "0", "-1") == "*1\r\n$1\r\nb\r\n")
        }
    }

    @Test("clients blocked on one key are served first-blocked first-served")
    func fairness() async throws {
        try await withServer(configure: twoLoops) { server in
            let pusher = try server.connect()
            var waiters: [RawConnection] = []
            for index in 1...3 {
                let waiter = try server.connect()
                _ = try waiter.command("CLIENT", "SETNAME", "w\(index)")
                try waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
                try waitUntilBlocked(index, via: pusher)
                waiters.append(waiter)
            }
            #expect(try pusher.command("RPUSH", "q", "a", "b", "c") == ":3\r\n")
            #expect(try waiters[0].readRaw() == "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
            #expect(try waiters[1].readRaw() == "*2\r\n$1\r\nq\r\n$1\r\nb\r\n")
            #expect(try waiters[2].readRaw() == "*2\r\n$1\r\nq\r\n$1\r\nc\r\n")
        }
    }

    @Test("a push of N elements wakes N waiting clients; the others keep waiting")
    func pushWakesAsManyAsElements() async throws {
        try await withServer(configure: twoLoops) { server in
            let pusher = try server.connect()
            var waiters: [RawConnection] = []
            for index in 1...3 {
                let waiter = try server.connect()
                try waiter.send("*3\r\n$5\r\nBRPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
                try waitUntilBlocked(index, via: pusher)
                waiters.append(waiter)
            }
            #expect(try pusher.command("LPUSH", "q", "a", "b") == ":2\r\n")
            #expect(try waiters[0].readRaw() == "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
            #expect(try waiters[1].readRaw() == "*2\r\n$1\r\nq\r\n$1\r\nb\r\n")
            try waitUntilBlocked(1, via: pusher)
            #expect(try pusher.command("EXISTS", "q") == ":0\r\n")
            #expect(try pusher.command("RPUSH", "q", "c") == ":1\r\n")
            #expect(try waiters[2].readRaw() == "*2\r\n$1\r\nq\r\n$1\r\nc\r\n")
        }
    }

    @Test("a parked BLMPOP takes up to COUNT of the pushed elements")
    func blmpopWoken() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send("*7\r\n$6\r\nBLMPOP\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\nq\r\n$5\r\nRIGHT\r\n$5\r\nCOUNT\r\n$1\r\n2\r\n")
            try waitUntilBlocked(1, via: pusher)
            #expect(try pusher.command("RPUSH", "q", "a", "b", "c") == ":3\r\n")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n")
            #expect(try pusher.command("LRANGE", "q", "0", "-1") == "*1\r\n$1\r\na\r\n")
            #expect(try waiter.command("BLMPOP", "0.05", "1", "none", "LEFT") == "*-1\r\n")
            #expect(try waiter.command("BLMPOP", "-1", "1", "none", "LEFT") == "-ERR timeout is negative\r\n")
            // The timeout is checked last, as in Redis.
            #expect(try waiter.command("BLMPOP", "-1", "1", "none", "LEFT", "COUNT", "0") == "-ERR count should be greater than 0\r\n")
            #expect(try waiter.command("BLMPOP", "abc", "1", "none", "UP") == "-ERR syntax error\r\n")
        }
    }

    @Test("a woken BRPOPLPUSH moves the element before the pusher's next command runs")
    func moveIsAtomic() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send("*4\r\n$10\r\nBRPOPLPUSH\r\n$3\r\nsrc\r\n$3\r\ndst\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            // One write: the push, then two reads that must already see the move.
            try pusher.send(
                "*3\r\n$5\r\nRPUSH\r\n$3\r\nsrc\r\n$1\r\nx\r\n"
                    + "*4\r\n$6\r\nLRANGE\r\n$3\r\ndst\r\n$1\r\n0\r\n$2\r\n-1\r\n"
                    + "*2\r\n$6\r\nEXISTS\r\n$3\r\nsrc\r\n")
            #expect(try pusher.readRaw() == ":1\r\n")
            #expect(try pusher.readRaw() == "*1\r\n$1\r\nx\r\n")
            #expect(try pusher.readRaw() == ":0\r\n")
            #expect(try waiter.readRaw() == "$1\r\nx\r\n")
        }
    }

    @Test("BLMOVE parked on a key moves between the ends it names when woken")
    func blmoveWoken() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            _ = try waiter.command("HELLO", "3")
            _ = try pusher.command("RPUSH", "dst", "old")
            try waiter.send("*6\r\n$6\r\nBLMOVE\r\n$3\r\nsrc\r\n$3\r\ndst\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            #expect(try pusher.command("RPUSH", "src", "a", "b") == ":2\r\n")
            #expect(try waiter.readRaw() == "$1\r\na\r\n")
            #expect(try pusher.command("LRANGE", "dst", "0", "-1") == "*2\r\n$3\r\nold\r\n$1\r\na\r\n")
            #expect(try pusher.command("LRANGE", "src", "0", "-1") == "*1\r\n$1\r\nb\r\n")
        }
    }

    @Test("one push to a list every waiter rotates with BRPOPLPUSH k k releases them all (dramatiq's barrier)")
    func rotationReleasesAll() async throws {
        try await withServer(configure: twoLoops) { server in
            let pusher = try server.connect()
            var waiters: [RawConnection] = []
            for index in 1...4 {
                let waiter = try server.connect()
                try waiter.send("*4\r\n$10\r\nBRPOPLPUSH\r\n$6\r\nevents\r\n$6\r\nevents\r\n$1\r\n0\r\n")
                try waitUntilBlocked(index, via: pusher)
                waiters.append(waiter)
            }
            #expect(try pusher.command("RPUSH", "events", "x") == ":1\r\n")
            for waiter in waiters {
                #expect(try waiter.readRaw() == "$1\r\nx\r\n")
            }
            #expect(try pusher.command("LRANGE", "events", "0", "-1") == "*1\r\n$1\r\nx\r\n")
        }
    }

    @Test("a woken move whose destination is not a list answers WRONGTYPE and leaves the element")
    func wokenMoveWrongType() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send("*4\r\n$10\r\nBRPOPLPUSH\r\n$3\r\nsrc\r\n$3\r\ndst\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            _ = try pusher.command("SET", "dst", "string")
            #expect(try pusher.command("RPUSH", "src", "x") == ":1\r\n")
            #expect(try waiter.readRaw() == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try pusher.command("LRANGE", "src", "0", "-1") == "*1\r\n$1\r\nx\r\n")
        }
    }

    @Test("a wait that times out answers a null array in RESP2 and null in RESP3")
    func timeout() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("BLPOP", "q", "0.1") == "*-1\r\n")
            #expect(try c.command("BRPOP", "q", "r", "0.05") == "*-1\r\n")
            #expect(try c.command("BRPOPLPUSH", "q", "d", "0.05") == "*-1\r\n")
            #expect(try c.command("BLMOVE", "q", "d", "LEFT", "LEFT", "0.05") == "*-1\r\n")
            _ = try c.command("HELLO", "3")
            #expect(try c.command("BLPOP", "q", "0.05") == "_\r\n")
            #expect(try c.command("BRPOPLPUSH", "q", "d", "0.05") == "_\r\n")
            #expect(try c.command("INFO", "clients").contains("blocked_clients:0\r\n"))
        }
    }

    @Test("a push after a wait timed out stays in the list")
    func pushAfterTimeout() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("BLPOP", "q", "0.05") == "*-1\r\n")
            #expect(try c.command("RPUSH", "q", "kept") == ":1\r\n")
            #expect(try c.command("LRANGE", "q", "0", "-1") == "*1\r\n$4\r\nkept\r\n")
        }
    }

    @Test("bad timeouts are rejected with Redis's errors before any key is read")
    func badTimeouts() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "x")
            try c.expectErrors(["BLPOP", "s"], [
                (["-1"], "timeout is negative"),
                (["-0.5"], "timeout is negative"),
                (["abc"], "timeout is not a float or out of range"),
                (["nan"], "timeout is not a float or out of range"),
                ([""], "timeout is not a float or out of range"),
                (["1e20"], "timeout is out of range"),
                (["inf"], "timeout is out of range"),
                ([String(repeating: "0", count: 5_120)], "timeout is not a float or out of range"),
            ])
            // Read as Redis reads a long double: up to 5,119 characters (256 were refused).
            _ = try c.command("RPUSH", "l", "x")
            #expect(try c.command("BLPOP", "l", String(repeating: "0", count: 5_117) + "1") == "*2\r\n$1\r\nl\r\n$1\r\nx\r\n")
            try c.expectErrors(["BRPOPLPUSH", "s", "d"], [(["-1"], "timeout is negative")])
            try c.expectErrors(["BLMOVE", "s", "d", "LEFT", "RIGHT"], [(["x"], "timeout is not a float or out of range")])
            #expect(try c.command("BLMOVE", "s", "d", "LEFT", "UP", "0") == "-ERR syntax error\r\n")
            #expect(try c.command("BLPOP", "s") == "-ERR wrong number of arguments for 'blpop' command\r\n")
            #expect(try c.command("BRPOPLPUSH", "s", "d") == "-ERR wrong number of arguments for 'brpoplpush' command\r\n")
        }
    }

    @Test("a client that disconnects while parked leaves the queue: a later push stays in the list")
    func disconnectWhileParked() async throws {
        try await withServer(configure: twoLoops) { server in
            let pusher = try server.connect()
            var waiter: RawConnection? = try server.connect()
            try waiter?.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            waiter = nil  // closes the socket
            try waitUntilBlocked(0, via: pusher)
            #expect(try pusher.command("RPUSH", "q", "kept") == ":1\r\n")
            #expect(try pusher.command("LRANGE", "q", "0", "-1") == "*1\r\n$4\r\nkept\r\n")
        }
    }

    @Test("other clients are served while one is parked")
    func othersNotBlocked() async throws {
        try await withServer { server in
            let waiter = try server.connect()
            let other = try server.connect()
            try waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: other)
            #expect(try other.command("SET", "k", "v") == "+OK\r\n")
            #expect(try other.command("GET", "k") == "$1\r\nv\r\n")
            #expect(try other.command("LLEN", "q") == ":0\r\n")
            #expect(try other.command("RPUSH", "q", "x") == ":1\r\n")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$1\r\nx\r\n")
        }
    }

    @Test("commands pipelined after a blocking one, or sent while it waits, run only after its reply")
    func pipelinedAfterBlocking() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send(
                "*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n"
                    + "*1\r\n$4\r\nPING\r\n"
                    + "*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
            try waitUntilBlocked(1, via: pusher)
            try waiter.send("*2\r\n$4\r\nECHO\r\n$5\r\nlater\r\n")
            // The waiter's queued commands have not run: a push reaches the waiter first.
            #expect(try pusher.command("RPUSH", "q", "a", "b") == ":2\r\n")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
            #expect(try waiter.readRaw() == "+PONG\r\n")
            #expect(try waiter.readRaw() == ":1\r\n")
            #expect(try waiter.readRaw() == "$5\r\nlater\r\n")
        }
    }

    @Test("a second blocking command in the same pipeline parks after the first is served")
    func twoBlockingInPipeline() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send(
                "*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n"
                    + "*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            _ = try pusher.command("RPUSH", "q", "a")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
            try waitUntilBlocked(1, via: pusher)
            _ = try pusher.command("RPUSH", "q", "b")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$1\r\nb\r\n")
        }
    }

    @Test("CLIENT UNBLOCK answers a parked client with its timeout reply or an UNBLOCKED error")
    func clientUnblock() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let other = try server.connect()
            let id = try waiter.command("CLIENT", "ID").filter(\.isNumber)
            try waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: other)
            #expect(try other.command("CLIENT", "LIST", "ID", String(id)).contains(" flags=b "))
            #expect(try other.command("CLIENT", "UNBLOCK", String(id)) == ":1\r\n")
            #expect(try waiter.readRaw() == "*-1\r\n")
            #expect(try other.command("CLIENT", "UNBLOCK", String(id)) == ":0\r\n")
            try waiter.send("*4\r\n$10\r\nBRPOPLPUSH\r\n$1\r\nq\r\n$1\r\nd\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: other)
            #expect(try other.command("CLIENT", "UNBLOCK", String(id), "error") == ":1\r\n")
            #expect(try waiter.readRaw() == "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n")
            #expect(try other.command("CLIENT", "UNBLOCK", "999") == ":0\r\n")
            #expect(try other.command("CLIENT", "UNBLOCK", "x") == "-ERR value is not an integer or out of range\r\n")
            #expect(try other.command("CLIENT", "UNBLOCK", String(id), "FOO") == "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n")
            // Redis's order: the word count, then the reason, then the id.
            #expect(try other.command("CLIENT", "UNBLOCK", "x", "FOO") == "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n")
            #expect(try other.command("CLIENT", "unBlock", "1", "TIMEOUT", "x")
                == "-ERR unknown subcommand or wrong number of arguments for 'unBlock'. Try CLIENT HELP.\r\n")
            #expect(try waiter.command("PING") == "+PONG\r\n")
            #expect(try other.command("CLIENT", "LIST", "ID", String(id)).contains(" flags=N "))
        }
    }

    @Test("inside MULTI a blocking command without data answers at once, as if timed out")
    func blockingInsideMulti() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("RPUSH", "full", "a")
            #expect(try c.command("MULTI") == "+OK\r\n")
            for command in [
                ["BLPOP", "empty", "0"], ["BRPOPLPUSH", "empty", "d", "0"], ["BLMOVE", "empty", "d", "LEFT", "LEFT", "0"],
                ["BLMPOP", "0", "1", "empty", "LEFT"], ["BLPOP", "full", "0"],
            ] {
                #expect(try c.command(command) == "+QUEUED\r\n")
            }
            #expect(try c.command("EXEC") == "*5\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n*2\r\n$4\r\nfull\r\n$1\r\na\r\n")
            #expect(try c.command("INFO", "clients").contains("blocked_clients:0\r\n"))
            _ = try c.command("HELLO", "3")
            _ = try c.command("MULTI")
            _ = try c.command("BRPOPLPUSH", "empty", "d", "0")
            #expect(try c.command("EXEC") == "*1\r\n_\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("a push inside MULTI serves waiters after EXEC, with the whole transaction applied")
    func pushInsideMulti() async throws {
        try await withServer(configure: twoLoops) { server in
            let pusher = try server.connect()
            var waiters: [RawConnection] = []
            for index in 1...2 {
                let waiter = try server.connect()
                try waiter.send("*4\r\n$10\r\nBRPOPLPUSH\r\n$1\r\ne\r\n$1\r\ne\r\n$1\r\n0\r\n")
                try waitUntilBlocked(index, via: pusher)
                waiters.append(waiter)
            }
            // dramatiq's barrier notification: RPUSH and PEXPIRE in one transaction.
            _ = try pusher.command("MULTI")
            _ = try pusher.command("RPUSH", "e", "x")
            _ = try pusher.command("PEXPIRE", "e", "5000")
            #expect(try pusher.command("EXEC") == "*2\r\n:1\r\n:1\r\n")
            for waiter in waiters {
                #expect(try waiter.readRaw() == "$1\r\nx\r\n")
            }
            #expect(try pusher.command("PTTL", "e") == ":5000\r\n")
            #expect(try pusher.command("LRANGE", "e", "0", "-1") == "*1\r\n$1\r\nx\r\n")
        }
    }

    @Test("a push then a delete inside one MULTI leaves the waiter waiting")
    func pushThenDeleteInsideMulti() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let pusher = try server.connect()
            try waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: pusher)
            _ = try pusher.command("MULTI")
            _ = try pusher.command("RPUSH", "q", "gone")
            _ = try pusher.command("DEL", "q")
            #expect(try pusher.command("EXEC") == "*2\r\n:1\r\n:1\r\n")
            try waitUntilBlocked(1, via: pusher)
            _ = try pusher.command("RPUSH", "q", "later")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$5\r\nlater\r\n")
        }
    }

    @Test("RENAME of a list onto a key clients wait on serves them")
    func renameServes() async throws {
        try await withServer(configure: twoLoops) { server in
            let waiter = try server.connect()
            let other = try server.connect()
            try waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            try waitUntilBlocked(1, via: other)
            _ = try other.command("RPUSH", "tmp", "a", "b")
            #expect(try other.command("RENAME", "tmp", "q") == "+OK\r\n")
            #expect(try waiter.readRaw() == "*2\r\n$1\r\nq\r\n$1\r\na\r\n")
            #expect(try other.command("LRANGE", "q", "0", "-1") == "*1\r\n$1\r\nb\r\n")
        }
    }
}
