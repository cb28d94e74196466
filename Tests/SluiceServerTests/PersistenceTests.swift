import RESP
import SluiceCore
import SluiceServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp for one test's snapshot; removed with `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/sluice-snapshot-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure("mkdtemp failed")
        }
        path = String(cString: made)
    }

    var snapshot: String { path + "/dump.sluice" }

    func remove() {
        for name in ["dump.sluice", "dump.sluice.tmp", "server.log"] { unlink(path + "/" + name) }
        rmdir(path)
    }
}

func readFileBytes(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count <= 0 { return bytes }
        bytes += chunk[0..<count]
    }
}

func writeFileBytes(_ path: String, _ bytes: [UInt8]) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    close(descriptor)
}

@Suite("Snapshot persistence")
struct PersistenceTests {
    /// `INFO persistence` once no background write is under way (waiting up to 5 s).
    func persistenceInfoAfterBackgroundSave(_ c: RawConnection) throws -> String {
        var info = ""
        for _ in 0..<500 {
            info = try c.command("INFO", "persistence")
            if info.contains("rdb_bgsave_in_progress:0\r\n") { break }
            usleep(10_000)
        }
        return info
    }

    /// Keys of every kind, some with deadlines, one with a binary name.
    func populate(_ c: RawConnection) throws {
        #expect(try c.command("SET", "s", "text", "PX", "60000") == "+OK\r\n")
        #expect(try c.command("INCRBY", "n", "41") == ":41\r\n")
        #expect(try c.command("SET", "bin\u{0}\r\nkey", "") == "+OK\r\n")
        #expect(try c.command("HSET", "h", "f2", "b", "f1", "a") == ":2\r\n")
        #expect(try c.command("RPUSH", "l", "x", "y", "x") == ":3\r\n")
        #expect(try c.command("ZADD", "z", "2.5", "m", "-1", "n") == ":2\r\n")
        #expect(try c.command("PEXPIRE", "z", "90000") == ":1\r\n")
        #expect(try c.command("SADD", "set", "b", "", "a") == ":3\r\n")
        _ = try c.command("CONSUME", "lb", "5", "10", "AMOUNT", "3")
        #expect(try c.command("ACQUIRE", "sw", "2", "RATE", "2", "60000") == "*3\r\n:1\r\n:0\r\n:-1\r\n")
    }

    /// Every key with its type, remaining time and contents, in key order.
    func fingerprint(_ c: RawConnection) throws -> [String] {
        guard case .array(let names) = try c.call("KEYS", "*") else { throw TestFailure("KEYS") }
        var lines: [String] = []
        for case .bulkString(let name) in names {
            let key = String(decoding: name, as: UTF8.self)
            let type = try c.command("TYPE", key)
            let contents: String = switch type {
            case "+string\r\n": try c.command("GET", key)
            case "+hash\r\n": try c.command("HGETALL", key)
            case "+list\r\n": try c.command("LRANGE", key, "0", "-1")
            case "+zset\r\n": try c.command("ZRANGE", key, "0", "-1", "WITHSCORES")
            case "+set\r\n": try c.command("SMEMBERS", key)
            case "+leakybucket\r\n": try c.command("PEEK", key, "5", "10")
            default: ""
            }
            lines.append("\(key.debugDescription) \(type) \(try c.command("PTTL", key)) \(contents)")
        }
        return lines.sorted()
    }

    @Test("SAVE writes the keyspace as it is; a new server on the same file has the same keys, values and TTLs")
    func saveAndRestart() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let clock = ManualTimeSource()
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }, clock: clock) { first in
            let c = try first.connect()
            try populate(c)
            let before = try fingerprint(c)
            #expect(before.count == 9)
            #expect(try c.command("SAVE") == "+OK\r\n")
            #expect(try c.command("LASTSAVE") == ":\(clock.now().milliseconds / 1000)\r\n")
            #expect(try c.command("SET", "after", "save") == "+OK\r\n")
            // The file holds what SAVE saw, not what came after.
            let saved = try Snapshot.decode(readFileBytes(directory.snapshot) ?? [])
            #expect(saved.entries.count == 9)
            #expect(!saved.entries.contains { $0.key == Array("after".utf8) })

            try await withServer(configure: { $0.snapshotPath = directory.snapshot }, clock: clock) { second in
                let d = try second.connect()
                #expect(try fingerprint(d) == before)
                // The sliding window's log came back too: its 2 units fill the limit.
                #expect(try d.command("ACQUIRE", "sw", "1", "RATE", "2", "60000") == "*3\r\n:0\r\n:60001\r\n:0\r\n")
                #expect(try d.command("INFO", "persistence").contains("rdb_last_load_keys_loaded:9\r\n"))
            }
        }
    }

    @Test("keys whose deadline passed while the server was down are not loaded")
    func expiredWhileDown() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let clock = ManualTimeSource()
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }, clock: clock) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "keep", "1") == "+OK\r\n")
            #expect(try c.command("SET", "short", "1", "PX", "1000") == "+OK\r\n")
            #expect(try c.command("SET", "long", "1", "PX", "5000") == "+OK\r\n")
        }
        clock.advance(milliseconds: 1001)
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }, clock: clock) { server in
            let c = try server.connect()
            #expect(try c.command("EXISTS", "keep", "short", "long") == ":2\r\n")
            #expect(try c.command("PTTL", "long") == ":3999\r\n")
            let info = try c.command("INFO", "persistence")
            #expect(info.contains("rdb_last_load_keys_loaded:2\r\n"))
            #expect(info.contains("rdb_last_load_keys_expired:1\r\n"))
        }
    }

    @Test("empty lists, hashes, sorted sets and sets in a file are not loaded")
    func emptyCollections() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        writeFileBytes(directory.snapshot, Snapshot.encode([
            Snapshot.Entry(key: Array("l".utf8), value: .list(ListValue())),
            Snapshot.Entry(key: Array("h".utf8), value: .hash(HashValue())),
            Snapshot.Entry(key: Array("z".utf8), value: .sortedSet(SortedSet())),
            Snapshot.Entry(key: Array("set".utf8), value: .set(SetValue())),
            Snapshot.Entry(key: Array("s".utf8), value: .string([])),
        ], savedAt: Instant(milliseconds: 0)))
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }) { server in
            let c = try server.connect()
            #expect(try c.command("KEYS", "*") == "*1\r\n$1\r\ns\r\n")
        }
    }

    @Test("a graceful shutdown writes the snapshot, and a missing file starts empty")
    func shutdownWrites() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }) { server in
            let c = try server.connect()
            #expect(try c.command("DBSIZE") == ":0\r\n")
            #expect(try c.command("SET", "k", "v") == "+OK\r\n")
            #expect(readFileBytes(directory.snapshot) == nil)
        }
        let saved = try Snapshot.decode(readFileBytes(directory.snapshot) ?? [])
        #expect(saved.entries == [Snapshot.Entry(key: Array("k".utf8), value: .string(Array("v".utf8)))])
        #expect(readFileBytes(directory.snapshot + ".tmp") == nil)
    }

    @Test("BGSAVE replies Background saving started and writes the file; INFO persistence reports it")
    func backgroundSave() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.snapshotIntervalSeconds = 0 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "v") == "+OK\r\n")
            #expect(try c.command("BGSAVE") == "+Background saving started\r\n")
            let info = try persistenceInfoAfterBackgroundSave(c)
            #expect(info.contains("rdb_bgsave_in_progress:0\r\n"))
            #expect(info.contains("rdb_last_bgsave_status:ok\r\n"))
            #expect(info.contains("rdb_saves:1\r\n"))
            #expect(info.contains("snapshot_enabled:1\r\n"))
            #expect(try Snapshot.decode(readFileBytes(directory.snapshot) ?? []).entries.count == 1)
            #expect(info.contains("current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n"))
            // Sent together, INFO runs before the write has collected anything.
            #expect(try c.command("SET", "k2", "v") == "+OK\r\n")
            let replies = try pipelined(c, [["BGSAVE"], ["INFO", "persistence"]])
            #expect(replies[0] == "+Background saving started\r\n")
            #expect(replies[1].contains("rdb_bgsave_in_progress:1\r\n"))
            #expect(replies[1].contains("current_save_keys_processed:0\r\ncurrent_save_keys_total:2\r\n"))
            _ = try persistenceInfoAfterBackgroundSave(c)
            #expect(try c.command("BGSAVE", "SCHEDULE") == "+Background saving started\r\n")
            #expect(try c.command("BGSAVE", "NOW") == "-ERR syntax error\r\n")
            #expect(try c.command("SAVE", "x") == "-ERR wrong number of arguments for 'save' command\r\n")
            #expect(try c.command("LASTSAVE", "x") == "-ERR wrong number of arguments for 'lastsave' command\r\n")
        }
    }

    @Test("BGSAVE writes the keys as they were when it started, though the commands after it change them all")
    func backgroundSaveIsPointInTime() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.snapshotIntervalSeconds = 0 }) { server in
            let c = try server.connect()
            let count = 20_000
            var setup: [[String]] = []
            for i in 0..<count {
                switch i % 4 {
                case 0: setup.append(["SET", "k\(i)", "old\(i)"])
                case 1: setup.append(["SET", "k\(i)", "old\(i)", "PX", "600000"])
                case 2: setup.append(["RPUSH", "k\(i)", "a", "b"])
                default: setup.append(["CONSUME", "k\(i)", "5", "10"])
                }
            }
            _ = try pipelined(c, setup)
            // What a foreground SAVE writes now, to compare the background one with.
            #expect(try c.command("SAVE") == "+OK\r\n")
            let before = try Snapshot.decode(readFileBytes(directory.snapshot) ?? []).entries
            // Sent in one write: the commands after BGSAVE run before it collects much, if anything.
            var after: [[String]] = [["BGSAVE"]]
            for i in 0..<count {
                switch i % 5 {
                case 0: after.append(["SET", "k\(i)", "new"])
                case 1: after.append(["DEL", "k\(i)"])
                case 2: after.append(["PERSIST", "k\(i)"])
                case 3: after.append(["SET", "added\(i)", "x"])
                default: after.append(["CONSUME", "k\(i)", "5", "10"])
                }
            }
            after.append(["FLUSHALL"])
            after.append(["SET", "last", "x"])
            let replies = try pipelined(c, after)
            #expect(replies.first == "+Background saving started\r\n")
            let info = try persistenceInfoAfterBackgroundSave(c)
            #expect(info.contains("rdb_last_bgsave_status:ok\r\n"))
            #expect(info.contains("rdb_saves:2\r\n"))
            let saved = try Snapshot.decode(readFileBytes(directory.snapshot) ?? []).entries
            #expect(before.count == count)
            // Compared key by key, so a failure names how many differ rather than printing them all.
            let expected = Dictionary(uniqueKeysWithValues: before.map { ($0.key, $0) })
            let differing = saved.filter { expected[$0.key] != $0 }.count
            #expect(saved.count == count && differing == 0, "\(saved.count) keys saved, \(differing) not as they were")
        }
    }

    @Test("a write that fails keeps the old file, SAVE says why, and INFO reports a failed BGSAVE")
    func writeFailure() async throws {
        let directory = try ScratchDirectory()
        defer {
            rmdir(directory.snapshot)
            directory.remove()
        }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.snapshotIntervalSeconds = 0 }) { server in
            let c = try server.connect()
            // A directory where the file should go makes the rename fail.
            mkdir(directory.snapshot, 0o755)
            #expect(try c.command("SAVE") == "-ERR cannot write snapshot \(directory.snapshot): rename \(directory.snapshot).tmp to \(directory.snapshot): Is a directory\r\n")
            #expect(try c.command("BGSAVE") == "+Background saving started\r\n")
            let info = try persistenceInfoAfterBackgroundSave(c)
            #expect(info.contains("rdb_last_bgsave_status:err\r\n"))
            #expect(info.contains("rdb_saves:0\r\n"))
            #expect(readFileBytes(directory.snapshot + ".tmp") == nil)
        }
    }

    @Test("a write goes to PATH.tmp first: when that cannot be created, the previous snapshot stays as it was")
    func previousSnapshotKept() async throws {
        let directory = try ScratchDirectory()
        defer {
            rmdir(directory.snapshot + ".tmp")
            directory.remove()
        }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.snapshotIntervalSeconds = 0 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "1") == "+OK\r\n")
            #expect(try c.command("SAVE") == "+OK\r\n")
            let saved = readFileBytes(directory.snapshot)
            mkdir(directory.snapshot + ".tmp", 0o755)
            #expect(try c.command("SET", "k", "2") == "+OK\r\n")
            #expect(try c.command("SAVE") == "-ERR cannot write snapshot \(directory.snapshot): open \(directory.snapshot).tmp: Is a directory\r\n")
            #expect(readFileBytes(directory.snapshot) == saved)
        }
    }

    @Test("SAVE is refused inside MULTI and from scripts, as in Redis")
    func saveFlags() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot }) { server in
            let c = try server.connect()
            #expect(try c.command("MULTI") == "+OK\r\n")
            #expect(try c.command("SAVE") == "-ERR Command not allowed inside a transaction\r\n")
            #expect(try c.command("DISCARD") == "+OK\r\n")
            #expect(try c.command("EVAL", "return redis.call('save')", "0").hasPrefix("-ERR This Redis command is not allowed from script"))
            #expect(try c.command("EVAL", "return redis.call('bgsave')", "0").hasPrefix("-ERR This Redis command is not allowed from script"))
            #expect(try c.command("EVAL", "return redis.call('lastsave')", "0").hasPrefix(":"))
        }
    }

    @Test("the timer writes snapshots in the background")
    func periodic() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.snapshotIntervalSeconds = 1 }) { server in
            let c = try server.connect()
            #expect(try c.command("SET", "k", "v") == "+OK\r\n")
            var entries: [Snapshot.Entry] = []
            for _ in 0..<300 {
                if let bytes = readFileBytes(directory.snapshot), let contents = try? Snapshot.decode(bytes) {
                    entries = contents.entries
                    break
                }
                usleep(10_000)
            }
            #expect(entries.map(\.key) == [Array("k".utf8)])
        }
    }

    @Test("SHUTDOWN's refusals: Redis's syntax errors, ABORT with none under way, SAVE without a snapshot, MULTI and scripts")
    func shutdownRefusals() async throws {
        try await withServer { server in
            let c = try server.connect()
            for arguments in [["FOO"], ["NOSAVE", "SAVE"], ["SAVE", "NOSAVE"], ["ABORT", "NOW"], ["ABORT", "NOSAVE"], ["NOW", "FOO"]] {
                #expect(try c.command(["SHUTDOWN"] + arguments) == "-ERR syntax error\r\n", "\(arguments)")
            }
            #expect(try c.command("SHUTDOWN", "ABORT") == "-ERR No shutdown in progress.\r\n")
            #expect(try c.command("SHUTDOWN", "SAVE") == "-ERR Errors trying to SHUTDOWN. Check logs.\r\n")
            #expect(try c.command("MULTI") == "+OK\r\n")
            #expect(try c.command("SHUTDOWN") == "-ERR Command not allowed inside a transaction\r\n")
            #expect(try c.command("DISCARD") == "+OK\r\n")
            #expect(try c.command("EVAL", "return redis.call('shutdown')", "0").hasPrefix("-ERR This Redis command is not allowed from script"))
            #expect(try c.command("PING") == "+PONG\r\n")
            // The one that is accepted closes the connection with no reply, as Redis does.
            try c.send("*2\r\n$8\r\nSHUTDOWN\r\n$5\r\nforce\r\n")
            #expect(c.closesWithoutReply())
        }
    }

    @Test("without a snapshot, SAVE and BGSAVE are errors, LASTSAVE is the start time and INFO says so")
    func notConfigured() async throws {
        let clock = ManualTimeSource()
        try await withServer(clock: clock) { server in
            let c = try server.connect()
            let error = "-ERR snapshot persistence is not configured (start the server with --snapshot PATH)\r\n"
            #expect(try c.command("SAVE") == error)
            #expect(try c.command("BGSAVE") == error)
            #expect(try c.command("LASTSAVE") == ":\(clock.now().milliseconds / 1000)\r\n")
            let info = try c.command("INFO")
            #expect(info.contains("# Persistence\r\nloading:0\r\nsnapshot_enabled:0\r\nrdb_bgsave_in_progress:0\r\n"))
        }
    }

    @Test("a corrupt snapshot refuses to start, names the file and the problem, and is left as it was")
    func corruptRefusesStart() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        var file = Snapshot.encode([Snapshot.Entry(key: Array("k".utf8), value: .integer(1))], savedAt: Instant(milliseconds: 0))
        file[file.count / 2] ^= 1
        writeFileBytes(directory.snapshot, file)
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.snapshotPath = directory.snapshot
        let server = SluiceServer(configuration: configuration, timeSource: ManualTimeSource())
        do {
            try await server.start()
            Issue.record("started on a corrupt snapshot")
        } catch let error as PersistenceError {
            #expect(error.description.hasPrefix("snapshot \(directory.snapshot) is unusable: checksum mismatch (\(file.count) bytes)"))
            #expect(error.description.contains("--snapshot-ignore-corrupt yes"))
        }
        await server.shutdown()
        #expect(readFileBytes(directory.snapshot) == file)
    }

    @Test("with snapshot-ignore-corrupt, a truncated snapshot starts empty")
    func ignoreCorrupt() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let file = Snapshot.encode([Snapshot.Entry(key: Array("k".utf8), value: .integer(1))], savedAt: Instant(milliseconds: 0))
        writeFileBytes(directory.snapshot, Array(file.dropLast(3)))
        try await withServer(configure: { $0.snapshotPath = directory.snapshot; $0.snapshotIgnoreCorrupt = true }) { server in
            let c = try server.connect()
            #expect(try c.command("DBSIZE") == ":0\r\n")
        }
    }

    @Test("a snapshot path in a directory that does not exist refuses to start")
    func missingDirectory() async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.snapshotPath = "/nonexistent-sluice-dir/dump.sluice"
        let server = SluiceServer(configuration: configuration, timeSource: ManualTimeSource())
        await #expect(throws: PersistenceError.self) { try await server.start() }
        await server.shutdown()
    }

    @Test("the snapshot options come from flags and the environment, and CONFIG GET shows them")
    func options() async throws {
        let configuration = try ServerConfiguration.load(
            flags: ["--snapshot", "/data/dump.sluice", "--snapshot-interval", "0"],
            environment: ["SLUICE_SNAPSHOT_IGNORE_CORRUPT": "yes"])
        #expect(configuration.snapshotPath == "/data/dump.sluice")
        #expect(configuration.snapshotIntervalSeconds == 0)
        #expect(configuration.snapshotIgnoreCorrupt)
        #expect(ServerConfiguration().snapshotPath == nil)
        #expect(ServerConfiguration().snapshotIntervalSeconds == 60)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.load(flags: ["--snapshot-interval", "-1"], environment: [:]) }
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CONFIG", "GET", "snapshot*") == "*6\r\n$8\r\nsnapshot\r\n$0\r\n\r\n$17\r\nsnapshot-interval\r\n$2\r\n60\r\n$23\r\nsnapshot-ignore-corrupt\r\n$2\r\nno\r\n")
        }
    }
}
