import Testing
import RESP
import SluiceServer

#if canImport(Glibc)
import Glibc
#endif

/// Sends each command and expects its exact raw reply.
private func expectReplies(_ connection: RawConnection, _ steps: [([String], String)], sourceLocation: SourceLocation = #_sourceLocation) throws {
    for (command, reply) in steps {
        #expect(try connection.command(command) == reply, "\(command)", sourceLocation: sourceLocation)
    }
}

/// `WATCH key`, then `change` (from any connection), then an empty transaction; returns EXEC's raw reply.
private func execAfterWatch(_ server: TestServer, key: String = "w", _ change: (RawConnection, RawConnection) throws -> Void) throws -> String {
    let watcher = try server.connect()
    let other = try server.connect()
    #expect(try watcher.command("WATCH", key) == "+OK\r\n")
    try change(watcher, other)
    #expect(try watcher.command("MULTI") == "+OK\r\n")
    #expect(try watcher.command("PING") == "+QUEUED\r\n")
    return try watcher.command("EXEC")
}

private let execAborted = "-EXECABORT Transaction discarded because of previous errors.\r\n"

@Suite("MULTI, EXEC, DISCARD, WATCH and UNWATCH")
struct TransactionTests {
    // MARK: Queuing and EXEC

    @Test("commands after MULTI reply QUEUED, run only at EXEC, and EXEC replies with their replies in order")
    func queueAndExec() async throws {
        try await withServer { server in
            let c = try server.connect()
            let observer = try server.connect()
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["INCR", "a"], "+QUEUED\r\n"),
                (["GET", "a"], "+QUEUED\r\n"),
            ])
            #expect(try observer.command("EXISTS", "a") == ":0\r\n")
            #expect(try c.command("EXEC") == "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n")
            #expect(try observer.command("GET", "a") == "$1\r\n2\r\n")
        }
    }

    @Test("an empty transaction replies with an empty array")
    func emptyExec() async throws {
        try await withServer { server in
            try expectReplies(try server.connect(), [(["MULTI"], "+OK\r\n"), (["EXEC"], "*0\r\n")])
        }
    }

    @Test("a runtime error inside EXEC is an element of its reply and the later commands still run")
    func runtimeErrorsAreElements() async throws {
        try await withServer { server in
            let c = try server.connect()
            try expectReplies(c, [
                (["SET", "s", "text"], "+OK\r\n"),
                (["MULTI"], "+OK\r\n"),
                (["INCR", "s"], "+QUEUED\r\n"),
                (["SET", "k", "v", "EX", "0"], "+QUEUED\r\n"),
                (["PING", "a", "b"], "+QUEUED\r\n"),
                (["CONSUME", "s", "1", "1"], "+QUEUED\r\n"),
                (["SET", "after", "1"], "+QUEUED\r\n"),
            ])
            #expect(try c.command("EXEC") == "*5\r\n-ERR value is not an integer or out of range\r\n"
                + "-ERR invalid expire time in 'set' command\r\n-ERR wrong number of arguments for 'ping' command\r\n"
                + "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n")
            #expect(try c.command("GET", "after") == "$1\r\n1\r\n")
        }
    }

    @Test("an unknown command after MULTI is an error and makes EXEC abort without running anything")
    func unknownCommandAborts() async throws {
        try await withServer { server in
            let c = try server.connect()
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["NOSUCH", "x"], "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"),
                (["SET", "b", "1"], "+QUEUED\r\n"),
                (["EXEC"], execAborted),
                (["EXISTS", "a", "b"], ":0\r\n"),
                (["EXEC"], "-ERR EXEC without MULTI\r\n"),
            ])
        }
    }

    @Test("a wrong number of arguments after MULTI is an error and makes EXEC abort")
    func wrongArityAborts() async throws {
        try await withServer { server in
            let c = try server.connect()
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["GET"], "-ERR wrong number of arguments for 'get' command\r\n"),
                (["EXEC"], execAborted),
                (["EXISTS", "a"], ":0\r\n"),
            ])
            // INCR and DECR take 1 or 4 arguments (plain or bounded): any other count is
            // refused while queuing, as Redis refuses INCR with more than one.
            for command in [["INCR", "a", "5"], ["DECR", "a", "5", "0"], ["INCR", "a", "1", "2", "3", "4"]] {
                try expectReplies(c, [
                    (["MULTI"], "+OK\r\n"),
                    (["SET", "a", "1"], "+QUEUED\r\n"),
                    (command, "-ERR wrong number of arguments for '\(command[0].lowercased())' command\r\n"),
                    (["EXEC"], execAborted),
                    (["EXISTS", "a"], ":0\r\n"),
                ])
            }
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["INCR", "a"], "+QUEUED\r\n"),
                (["INCR", "a", "5", "10", "1000"], "+QUEUED\r\n"),
                (["EXEC"], "*2\r\n:1\r\n:1\r\n"),
                (["INCR", "a", "5"], "-ERR wrong number of arguments for 'incr' command\r\n"),
            ])
        }
    }

    @Test("an unknown subcommand or a subcommand's wrong arity is rejected while queuing, as Redis does")
    func subcommandsCheckedWhileQueuing() async throws {
        try await withServer { server in
            let c = try server.connect()
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["CLIENT", "FOO"], "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"),
                (["EXEC"], execAborted),
                (["MULTI"], "+OK\r\n"),
                (["CONFIG", "GET"], "-ERR wrong number of arguments for 'config|get' command\r\n"),
                (["EXEC"], execAborted),
                (["MULTI"], "+OK\r\n"),
                (["CLIENT", "ID"], "+QUEUED\r\n"),
            ])
            #expect(try c.call("EXEC") == .array([.integer(1)]))
        }
    }

    @Test("MULTI inside MULTI is an error that leaves the transaction intact")
    func nestedMulti() async throws {
        try await withServer { server in
            try expectReplies(try server.connect(), [
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["MULTI"], "-ERR MULTI calls can not be nested\r\n"),
                (["EXEC"], "*1\r\n+OK\r\n"),
            ])
        }
    }

    @Test("EXEC and DISCARD without MULTI are errors")
    func withoutMulti() async throws {
        try await withServer { server in
            try expectReplies(try server.connect(), [
                (["EXEC"], "-ERR EXEC without MULTI\r\n"),
                (["DISCARD"], "-ERR DISCARD without MULTI\r\n"),
                (["PING"], "+PONG\r\n"),
            ])
        }
    }

    @Test("DISCARD drops the queued commands and ends the transaction")
    func discard() async throws {
        try await withServer { server in
            try expectReplies(try server.connect(), [
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["DISCARD"], "+OK\r\n"),
                (["EXISTS", "a"], ":0\r\n"),
                (["EXEC"], "-ERR EXEC without MULTI\r\n"),
                (["SET", "a", "2"], "+OK\r\n"),
            ])
        }
    }

    @Test("EXEC with arguments discards the transaction with EXECABORT, inside or outside MULTI")
    func execWithArguments() async throws {
        try await withServer { server in
            let c = try server.connect()
            let abort = "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["EXEC", "now"], abort),
                (["EXEC"], "-ERR EXEC without MULTI\r\n"),
                (["EXISTS", "a"], ":0\r\n"),
                (["DISCARD", "x"], "-ERR wrong number of arguments for 'discard' command\r\n"),
                (["EXEC", "x"], abort),
            ])
        }
    }

    @Test("WATCH inside MULTI is an error that leaves the transaction intact; WATCH and UNWATCH check arity")
    func watchInsideMulti() async throws {
        try await withServer { server in
            try expectReplies(try server.connect(), [
                (["WATCH"], "-ERR wrong number of arguments for 'watch' command\r\n"),
                (["UNWATCH", "x"], "-ERR wrong number of arguments for 'unwatch' command\r\n"),
                (["MULTI"], "+OK\r\n"),
                (["SET", "a", "1"], "+QUEUED\r\n"),
                (["WATCH", "a"], "-ERR WATCH inside MULTI is not allowed\r\n"),
                (["UNWATCH"], "+QUEUED\r\n"),
                (["EXEC"], "*2\r\n+OK\r\n+OK\r\n"),
            ])
        }
    }

    @Test("QUIT inside MULTI is not queued: it replies OK and closes the connection")
    func quitInsideMulti() async throws {
        try await withServer { server in
            let c = try server.connect()
            try expectReplies(c, [(["MULTI"], "+OK\r\n"), (["SET", "a", "1"], "+QUEUED\r\n"), (["QUIT"], "+OK\r\n")])
            #expect(try c.isClosedByPeer())
            #expect(try server.connect().command("EXISTS", "a") == ":0\r\n")
        }
    }

    @Test("native rate-limit commands are queued and EXEC replies with their replies")
    func rateLimitCommandsQueue() async throws {
        try await withServer { server in
            let c = try server.connect()
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["CONSUME", "b", "2", "0.5"], "+QUEUED\r\n"),
                (["CL.THROTTLE", "t", "1", "1", "1"], "+QUEUED\r\n"),
                (["ACQUIRE", "s", "2", "RATE", "3", "1000"], "+QUEUED\r\n"),
                (["INCR", "c", "2", "3", "1000"], "+QUEUED\r\n"),
            ])
            #expect(try c.command("EXEC") == "*4\r\n*4\r\n:1\r\n:1\r\n$3\r\n0.5\r\n$-1\r\n"
                + "*5\r\n:0\r\n:2\r\n:1\r\n:-1\r\n:1\r\n*3\r\n:1\r\n:0\r\n:-1\r\n:1\r\n")
        }
    }

    @Test("with RESP3, EXEC's array holds each command's RESP3 reply")
    func resp3Exec() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("HELLO", "3")
            try expectReplies(c, [
                (["MULTI"], "+OK\r\n"),
                (["CONSUME", "b", "1", "2"], "+QUEUED\r\n"),
                (["GET", "missing"], "+QUEUED\r\n"),
            ])
            #expect(try c.command("EXEC") == "*2\r\n%4\r\n$7\r\nsuccess\r\n#t\r\n$5\r\nlevel\r\n:1\r\n$15\r\nuntil_next_drop\r\n,2\r\n"
                + "$11\r\nblocked_for\r\n_\r\n_\r\n")
        }
    }

    @Test("CLIENT LIST shows flag x and the queued count while in MULTI, -1 outside, and the watched key count")
    func clientListFields() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("WATCH", "a", "b", "a") == "+OK\r\n")
            try expectReplies(c, [(["MULTI"], "+OK\r\n"), (["SET", "a", "1"], "+QUEUED\r\n"), (["INCR", "a"], "+QUEUED\r\n")])
            let line = try server.connect().call("CLIENT", "LIST", "ID", "1")
            guard case .bulkString(let bytes) = line else { throw TestFailure("CLIENT LIST: \(line)") }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.contains(" flags=x db=0 sub=0 psub=0 ssub=0 multi=2 watch=2 qbuf="), "\(text)")
            #expect(try c.command("EXEC") == "*2\r\n+OK\r\n:2\r\n")
            guard case .bulkString(let after) = try c.call("CLIENT", "INFO") else { throw TestFailure("CLIENT INFO") }
            #expect(String(decoding: after, as: UTF8.self).contains(" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf="))
        }
    }

    // MARK: WATCH

    @Test("WATCH without any change lets EXEC run")
    func watchUnchanged() async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { _, _ in }
            #expect(reply == "*1\r\n+PONG\r\n")
        }
    }

    @Test("another connection's SET on a watched key makes EXEC reply a null array (RESP2 *-1) without running")
    func otherConnectionSet() async throws {
        try await withServer { server in
            let watcher = try server.connect()
            let other = try server.connect()
            try expectReplies(watcher, [(["WATCH", "w"], "+OK\r\n")])
            #expect(try other.command("SET", "w", "theirs") == "+OK\r\n")
            try expectReplies(watcher, [
                (["MULTI"], "+OK\r\n"),
                (["SET", "w", "mine"], "+QUEUED\r\n"),
                (["EXEC"], "*-1\r\n"),
                (["GET", "w"], "$6\r\ntheirs\r\n"),
            ])
        }
    }

    @Test("with RESP3, a failed WATCH makes EXEC reply null (_)")
    func resp3WatchNull() async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { watcher, other in
                _ = try watcher.command("HELLO", "3")
                #expect(try other.command("SET", "w", "1") == "+OK\r\n")
            }
            #expect(reply == "_\r\n")
        }
    }

    @Test("a watched key changed by this connection before MULTI makes EXEC fail")
    func ownChangeBeforeMulti() async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { watcher, _ in _ = try watcher.command("SET", "w", "1") }
            #expect(reply == "*-1\r\n")
        }
    }

    @Test("a native CONSUME on a watched key makes EXEC fail")
    func consumeInvalidates() async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { _, other in
                let consumed = try other.command("CONSUME", "w", "2", "1")
                #expect(consumed == "*4\r\n:1\r\n:1\r\n$1\r\n1\r\n$-1\r\n")
            }
            #expect(reply == "*-1\r\n")
        }
    }

    @Test("a CONSUME refused by a full bucket leaves the watched bucket unchanged")
    func refusedConsumeKeepsExec() async throws {
        try await withServer { server in
            #expect(try server.connect().command("CONSUME", "w", "1", "1") == "*4\r\n:1\r\n:1\r\n$1\r\n1\r\n$-1\r\n")
            let reply = try execAfterWatch(server) { _, other in
                let refused = try other.command("CONSUME", "w", "1", "1")
                #expect(refused == "*4\r\n:0\r\n:1\r\n$1\r\n1\r\n$-1\r\n")
            }
            #expect(reply == "*1\r\n+PONG\r\n")
        }
    }

    @Test("a watched key that reaches its deadline before EXEC makes EXEC fail", arguments: [false, true])
    func expiryInvalidates(readFirst: Bool) async throws {
        try await withServer { server in
            let setup = try server.connect()
            #expect(try setup.command("SET", "w", "1", "PX", "100") == "+OK\r\n")
            let reply = try execAfterWatch(server) { _, other in
                server.clock.advance(milliseconds: 101)
                // Reading reclaims the key at once; otherwise EXEC finds it past its deadline.
                if readFirst {
                    let read = try other.command("GET", "w")
                    #expect(read == "$-1\r\n")
                }
            }
            #expect(reply == "*-1\r\n")
        }
    }

    @Test("a key already expired when watched is no change when it is reclaimed later")
    func expiredBeforeWatch() async throws {
        try await withServer { server in
            #expect(try server.connect().command("SET", "w", "1", "PX", "100") == "+OK\r\n")
            server.clock.advance(milliseconds: 100)
            let reply = try execAfterWatch(server) { _, other in _ = try other.command("GET", "w") }
            #expect(reply == "*1\r\n+PONG\r\n")
        }
    }

    @Test("DEL, EXPIRE, PERSIST, INCRBY 0 and FLUSHALL on an existing watched key make EXEC fail", arguments: [
        ["DEL", "w"], ["EXPIRE", "w", "100"], ["PERSIST", "w"], ["INCRBY", "w", "0"], ["FLUSHALL"], ["FLUSHDB"],
        ["SET", "w", "5"],
    ])
    func writesInvalidate(_ command: [String]) async throws {
        try await withServer { server in
            #expect(try server.connect().command("SET", "w", "5", "EX", "1000") == "+OK\r\n")
            let reply = try execAfterWatch(server) { _, other in _ = try other.command(command) }
            #expect(reply == "*-1\r\n", "\(command)")
        }
    }

    @Test("reads, writes to other keys, and no-op writes leave a watched key's EXEC running", arguments: [
        ["GET", "w"], ["EXISTS", "w"], ["TTL", "w"], ["TYPE", "w"], ["SCAN", "0"], ["KEYS", "*"], ["PEEK", "w", "2", "1"],
        ["SET", "other", "1"], ["DEL", "other"], ["CONSUME", "other", "1", "1"], ["SETNX", "w", "1"],
        ["EXPIRE", "w", "10", "XX"], ["PERSIST", "w"],
    ])
    func nonChangesKeepExec(_ command: [String]) async throws {
        try await withServer { server in
            #expect(try server.connect().command("SET", "w", "5") == "+OK\r\n")
            let reply = try execAfterWatch(server) { _, other in _ = try other.command(command) }
            #expect(reply == "*1\r\n+PONG\r\n", "\(command)")
        }
    }

    @Test("writes Redis counts even when they leave the value as it was make EXEC fail", arguments: [
        (["HSET", "w", "f", "1"], "hash"), (["HMSET", "w", "f", "1"], "hash"), (["HINCRBY", "w", "f", "0"], "hash"),
        (["HINCRBYFLOAT", "w", "f", "0"], "hash"), (["LSET", "w", "0", "a"], "list"), (["LTRIM", "w", "0", "-1"], "list"),
        (["LMOVE", "w", "w", "LEFT", "LEFT"], "list"), (["RPOPLPUSH", "w", "w"], "one-element list"),
    ])
    func sameValueWritesInvalidate(_ command: [String], _ kind: String) async throws {
        try await withServer { server in
            let setup = try server.connect()
            switch kind {
            case "hash": _ = try setup.command("HSET", "w", "f", "1")
            case "list": _ = try setup.command("RPUSH", "w", "a", "a")
            default: _ = try setup.command("RPUSH", "w", "a")
            }
            let reply = try execAfterWatch(server) { _, other in _ = try other.command(command) }
            #expect(reply == "*-1\r\n", "\(command)")
        }
    }

    @Test("GETEX PERSIST on a key without a deadline and LTRIM of a missing key are no change")
    func redisNoOps() async throws {
        try await withServer { server in
            #expect(try server.connect().command("SET", "w", "5") == "+OK\r\n")
            var reply = try execAfterWatch(server) { _, other in _ = try other.command("GETEX", "w", "PERSIST") }
            #expect(reply == "*1\r\n+PONG\r\n")
            reply = try execAfterWatch(server, key: "missing") { _, other in _ = try other.command("LTRIM", "missing", "0", "-1") }
            #expect(reply == "*1\r\n+PONG\r\n")
            // With a deadline, GETEX PERSIST removes it: a change.
            _ = try server.connect().command("EXPIRE", "w", "100")
            reply = try execAfterWatch(server) { _, other in _ = try other.command("GETEX", "w", "PERSIST") }
            #expect(reply == "*-1\r\n")
        }
    }

    @Test("deleting or flushing a watched key that does not exist is no change")
    func absentKeyDeletes() async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { _, other in
                _ = try other.command("DEL", "w")
                _ = try other.command("FLUSHALL")
            }
            #expect(reply == "*1\r\n+PONG\r\n")
        }
    }

    @Test("watching a key twice keeps the first version: a change between the two still counts")
    func watchTwice() async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { watcher, other in
                _ = try other.command("SET", "w", "1")
                #expect(try watcher.command("WATCH", "w") == "+OK\r\n")
            }
            #expect(reply == "*-1\r\n")
        }
    }

    @Test("UNWATCH, EXEC, DISCARD and an aborted EXEC each clear the watched keys", arguments: ["UNWATCH", "EXEC", "DISCARD", "EXECABORT"])
    func watchesCleared(_ how: String) async throws {
        try await withServer { server in
            let reply = try execAfterWatch(server) { watcher, other in
                switch how {
                case "UNWATCH":
                    #expect(try watcher.command("UNWATCH") == "+OK\r\n")
                case "EXECABORT":
                    try expectReplies(watcher, [(["MULTI"], "+OK\r\n"), (["NOSUCH"], "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"), (["EXEC"], execAborted)])
                default:
                    try expectReplies(watcher, [(["MULTI"], "+OK\r\n"), ([how], how == "EXEC" ? "*0\r\n" : "+OK\r\n")])
                }
                _ = try other.command("SET", "w", "1")
            }
            #expect(reply == "*1\r\n+PONG\r\n", "\(how)")
            #expect(try server.connect().command("INFO", "clients").contains("total_watched_keys:0\r\n"))
        }
    }

    @Test("closing a connection releases its watched keys")
    func disconnectReleases() async throws {
        try await withServer { server in
            let observer = try server.connect()
            do {
                let watcher = try server.connect()
                #expect(try watcher.command("WATCH", "a", "b") == "+OK\r\n")
                let info = try observer.command("INFO", "clients")
                #expect(info.contains("watching_clients:1\r\ntotal_watched_keys:2\r\n"), "\(info)")
            }
            var info = ""
            for _ in 0..<200 {
                info = try observer.command("INFO", "clients")
                if info.contains("total_watched_keys:0\r\n") { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(info.contains("watching_clients:0\r\ntotal_watched_keys:0\r\n"), "\(info)")
        }
    }

    // MARK: Concurrency

    @Test("EXEC runs its queue atomically: a concurrent reader sees all of it or none of it")
    func execIsAtomic() async throws {
        try await withServer(configure: { $0.threads = 2 }) { server in
            let port = server.port
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let writer = try RawConnection(port: port)
                    for round in 1...20 {
                        #expect(try writer.command("MULTI") == "+OK\r\n")
                        for _ in 0..<50 { #expect(try writer.command("INCR", "n") == "+QUEUED\r\n") }
                        // EXEC arrives alone, in a read burst of its own.
                        guard case .array(let replies) = try writer.call("EXEC") else { throw TestFailure("EXEC") }
                        #expect(replies.last == .integer(Int64(round * 50)))
                    }
                }
                group.addTask {
                    let reader = try RawConnection(port: port)
                    for _ in 0..<500 {
                        let value = try reader.call("GET", "n")
                        if case .bulkString(let bytes) = value {
                            let number = Int(String(decoding: bytes, as: UTF8.self)) ?? -1
                            #expect(number % 50 == 0, "saw \(number)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try server.connect().command("GET", "n") == "$4\r\n1000\r\n")
        }
    }

    @Test("two connections racing a WATCH/GET/MULTI/SET/EXEC increment loop lose no update")
    func optimisticLockRace() async throws {
        try await withServer(configure: { $0.threads = 2 }) { server in
            let port = server.port
            let perClient = 200
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        let c = try RawConnection(port: port)
                        var retries = 0
                        var done = 0
                        while done < perClient {
                            #expect(try c.command("WATCH", "counter") == "+OK\r\n")
                            var current = 0
                            if case .bulkString(let bytes) = try c.call("GET", "counter") {
                                current = Int(String(decoding: bytes, as: UTF8.self)) ?? 0
                            }
                            #expect(try c.command("MULTI") == "+OK\r\n")
                            #expect(try c.command("SET", "counter", String(current + 1)) == "+QUEUED\r\n")
                            switch try c.command("EXEC") {
                            case "*1\r\n+OK\r\n": done += 1
                            case "*-1\r\n": retries += 1
                            case let other: throw TestFailure("EXEC replied \(other)")
                            }
                        }
                        return retries
                    }
                }
                var retries = 0
                for try await count in group { retries += count }
                // Not asserted: whether the loops collide depends on scheduling.
                _ = retries
            }
            #expect(try server.connect().command("GET", "counter") == "$3\r\n400\r\n")
        }
    }
}
