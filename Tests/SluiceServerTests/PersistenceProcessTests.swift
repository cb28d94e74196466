import RESP
import SluiceCore
import Testing

#if canImport(Glibc)
import Glibc
import SeededRandom
#endif

/// The built `sluice-server` binary run as a child process, its output in a log file.
final class ServerProcess {
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    /// `sluice-server` sits beside the test bundle in the build directory.
    static func binaryPath() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw TestFailure("cannot resolve /proc/self/exe") }
        let executable = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let path = String(executable[..<executable.lastIndex(of: "/")!]) + "/sluice-server"
        guard access(path, X_OK) == 0 else { throw TestFailure("\(path) not found: run swift build --build-tests first") }
        return path
    }

    init(_ arguments: [String], logPath: String) throws {
        let binary = try Self.binaryPath()
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // An empty environment: no SLUICE_* variable of the test run leaks into the server.
        let environment: [UnsafeMutablePointer<CChar>?] = [nil]
        var child: pid_t = 0
        let result = posix_spawn(&child, binary, &actions, nil, argv, environment)
        guard result == 0 else { throw TestFailure("posix_spawn failed: \(result)") }
        pid = child
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    var log: String { String(decoding: readFileBytes(logPath) ?? [], as: UTF8.self) }

    /// The port from the "ready on HOST:PORT" line; fails if the process exits first.
    func waitUntilReady(timeoutSeconds: Int = 30) throws -> Int {
        for _ in 0..<(timeoutSeconds * 100) {
            let text = log
            if let range = text.range(of: "ready on 127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits) { return port }
            }
            if let status = exited() { throw TestFailure("sluice-server exited (\(status)) before ready:\n\(text)") }
            usleep(10_000)
        }
        throw TestFailure("sluice-server not ready in \(timeoutSeconds) s:\n\(log)")
    }

    /// The exit code (or 128 + signal), once the process has ended; nil while it runs.
    func exited() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG by hand: the macros are not imported.
        exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return exitStatus
    }

    func waitForExit(timeoutSeconds: Int = 30) throws -> Int32 {
        for _ in 0..<(timeoutSeconds * 100) {
            if let status = exited() { return status }
            usleep(10_000)
        }
        throw TestFailure("sluice-server still running after \(timeoutSeconds) s")
    }

    func signal(_ number: Int32) {
        kill(pid, number)
    }
}

@Suite("Snapshot persistence of the sluice-server process")
struct PersistenceProcessTests {
    @Test("a corrupt snapshot makes the binary exit non-zero before binding, naming the file and the problem")
    func corruptExits() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        var file = Snapshot.encode([Snapshot.Entry(key: Array("k".utf8), value: .integer(1))], savedAt: Instant(milliseconds: 0))
        file[file.count - 6] ^= 0x10
        writeFileBytes(directory.snapshot, file)
        let process = try ServerProcess(["--port", "0", "--snapshot", directory.snapshot], logPath: directory.path + "/server.log")
        #expect(try process.waitForExit() == 1)
        #expect(process.log.contains("sluice-server: snapshot \(directory.snapshot) is unusable: checksum mismatch"))
        #expect(!process.log.contains("ready on"))
    }

    /// The value the writer stores under key number `n`, padded so files take a while to write.
    static func value(_ n: Int) -> String {
        "v\(n):" + String(repeating: "x", count: 200)
    }

    /// Checks the server holds exactly keys `k:1` ... `k:N` with the values written, and returns N.
    func loadedPrefix(_ c: RawConnection) throws -> Int {
        guard case .integer(let count) = try c.call("DBSIZE") else { throw TestFailure("DBSIZE") }
        // In chunks: one huge reply would be re-parsed on every read by the test client.
        for start in stride(from: 1, through: Int(count), by: 500) {
            let numbers = start...min(Int(count), start + 499)
            let expected = numbers.map { RESPValue.bulkString(Array(Self.value($0).utf8)) }
            let actual = try c.call(["MGET"] + numbers.map { "k:\($0)" })
            guard actual == .array(expected) else {
                Issue.record("the \(count) loaded keys are not k:1...k:\(count) with their values (from k:\(start))")
                break
            }
        }
        return Int(count)
    }

    @Test("kill -9 at random moments while a client writes: every restart loads a complete earlier state; SIGTERM loses nothing")
    func killNine() throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let arguments = ["--port", "0", "--snapshot", directory.snapshot, "--snapshot-interval", "1"]
        var generator = SplitMix64(seed: 20_261_123)
        var previous = 0
        for iteration in 0..<3 {
            // Whatever is on disk after a kill is a whole snapshot, never a torn one.
            if let bytes = readFileBytes(directory.snapshot) {
                #expect(throws: Never.self, "iteration \(iteration): snapshot unreadable") { try Snapshot.decode(bytes) }
            }
            let process = try ServerProcess(arguments, logPath: directory.path + "/server.log")
            let c = try RawConnection(port: try process.waitUntilReady())
            let loaded = try loadedPrefix(c)
            #expect(loaded >= previous, "iteration \(iteration): a later snapshot lost keys")
            previous = loaded

            // Keys are written in order, so any point-in-time state is a prefix k:1...k:N.
            let killAfter = 1_100_000 + Int(generator.next() % 1_200_000)
            let started = monotonicMicroseconds()
            var next = loaded + 1
            while monotonicMicroseconds() - started < killAfter {
                let batch = (next..<(next + 50)).map { ["SET", "k:\($0)", Self.value($0)] }
                next += 50
                for command in batch { try c.send(encoded(command)) }
                for _ in batch { _ = try c.readRaw() }
                usleep(5_000)
            }
            process.signal(SIGKILL)
            #expect(try process.waitForExit() == 128 + SIGKILL)
        }

        // A graceful stop writes everything acknowledged.
        let process = try ServerProcess(arguments, logPath: directory.path + "/server.log")
        let c = try RawConnection(port: try process.waitUntilReady())
        let loaded = try loadedPrefix(c)
        #expect(loaded >= previous)
        for n in (loaded + 1)...(loaded + 100) { #expect(try c.command("SET", "k:\(n)", Self.value(n)) == "+OK\r\n") }
        process.signal(SIGTERM)
        #expect(try process.waitForExit() == 0)
        let final = try ServerProcess(arguments, logPath: directory.path + "/server.log")
        let d = try RawConnection(port: try final.waitUntilReady())
        #expect(try loadedPrefix(d) == loaded + 100)
        final.signal(SIGTERM)
        #expect(try final.waitForExit() == 0)
    }

    private func encoded(_ words: [String]) -> [UInt8] {
        var bytes = Array("*\(words.count)\r\n".utf8)
        for word in words { bytes += Array("$\(word.utf8.count)\r\n\(word)\r\n".utf8) }
        return bytes
    }
}

private func monotonicMicroseconds() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return spec.tv_sec * 1_000_000 + spec.tv_nsec / 1_000
}
