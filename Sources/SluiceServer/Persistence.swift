import Dispatch
import Logging
import SluiceCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Snapshot persistence: loading the file at start, and writing it on `SAVE`, `BGSAVE`,
/// a timer and shutdown.
///
/// `BGSAVE` and the timer collect the keyspace as it was when they started, a thousand
/// entries at a time under the database lock (Keyspace+Capture.swift), so
/// clients wait at most one step; encoding and file I/O run on a queue of their own, off
/// the lock and the event loops. `SAVE` and shutdown write a copy of the keyspace taken
/// under the lock; `SAVE` blocks the server until the file is written, as Redis's does.
/// One write at a time: a write that finds another under way is skipped or refused.
final class Persistence: Sendable {
    struct Status {
        /// Unix seconds of the last successful write (or of start, as Redis reports it).
        var lastSave: Int64 = 0
        var inProgress = false
        var lastBackgroundSaveOK = true
        /// When the write under way started, Unix seconds.
        var startedAt: Int64 = 0
        var lastDurationSeconds: Int64 = -1
        /// Successful writes since start.
        var saves = 0
        /// Keys loaded at start, and keys left out because their deadline had passed.
        var loadedKeys = 0
        var expiredOnLoad = 0
    }

    let path: String
    let logger: Logger
    /// The server's clock, read when a background write finishes.
    let clock: any TimeSource
    private let status = Mutex(Status())
    private let queue = DispatchQueue(label: "sluice.snapshot")
    /// Where background writes collect the keyspace from.
    private let database: Database
    /// Entries a background write collects per hold of the database lock: about 0.2 ms
    /// of work (2,600,000 keys took 2,534 steps and 0.5 s under the lock in all).
    static let captureStep = 1024

    init(path: String, clock: any TimeSource, logger: Logger, database: Database) {
        self.path = path
        self.clock = clock
        self.logger = logger
        self.database = database
    }

    var currentStatus: Status { status.withLock { $0 } }

    // MARK: Loading

    /// Reads the file into `keyspace`, leaving out keys whose deadline passed by `now`.
    /// A missing file is an empty keyspace. A damaged one is an error, or with
    /// `ignoreCorrupt` a warning and an empty keyspace. Returns how many keys were loaded.
    func load(into keyspace: inout Keyspace, now: Instant, ignoreCorrupt: Bool) throws(PersistenceError) -> Int {
        status.withLock { $0.lastSave = now.milliseconds / 1000 }
        try checkDirectory()
        let bytes: [UInt8]
        switch SnapshotFile.read(path) {
        case .missing:
            logger.info("No snapshot at \(path); starting empty")
            return 0
        case .failed(let reason):
            throw PersistenceError("cannot read snapshot \(path): \(reason)")
        case .read(let contents):
            bytes = contents
        }
        let contents: Snapshot.Contents
        do {
            contents = try Snapshot.decode(bytes)
        } catch {
            guard ignoreCorrupt else {
                throw PersistenceError(
                    "snapshot \(path) is unusable: \(error). Refusing to start; move the file away, "
                        + "or pass --snapshot-ignore-corrupt yes to start empty (the next save replaces it).")
            }
            logger.warning("Snapshot \(path) is unusable: \(error); starting empty (snapshot-ignore-corrupt)")
            return 0
        }
        var loaded = 0
        var expired = 0
        let nowMs = now.milliseconds
        for entry in contents.entries {
            if let deadline = entry.expiresAt, deadline < nowMs {
                expired += 1
                continue
            }
            // Commands rely on collections never being empty; only a hand-made file has one.
            if Self.isEmptyCollection(entry.value) { continue }
            keyspace.set(entry.key, entry.value, expiresAt: entry.expiresAt, now: now)
            loaded += 1
        }
        status.withLock {
            $0.loadedKeys = loaded
            $0.expiredOnLoad = expired
        }
        logger.info("Loaded \(loaded) keys from snapshot \(path) (\(expired) expired while down)")
        return loaded
    }

    private static func isEmptyCollection(_ value: Value) -> Bool {
        switch value {
        case .list(let list): list.isEmpty
        case .hash(let hash): hash.isEmpty
        case .sortedSet(let set): set.isEmpty
        case .set(let set): set.isEmpty
        case .string, .integer, .leakyBucket, .blockedLeakyBucket, .slidingWindow: false
        }
    }

    /// Refuses a snapshot path whose directory does not exist, before binding rather
    /// than at the first save.
    private func checkDirectory() throws(PersistenceError) {
        let directory = SnapshotFile.directory(of: path)
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw PersistenceError("snapshot directory \(directory) is not usable: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
    }

    // MARK: Writing

    /// Claims the right to write; false when a write is under way.
    private func begin(now: Instant) -> Bool {
        status.withLock { status in
            if status.inProgress { return false }
            status.inProgress = true
            status.startedAt = now.milliseconds / 1000
            return true
        }
    }

    private func end(ok: Bool, now: Instant, background: Bool) {
        status.withLock { status in
            status.inProgress = false
            status.lastDurationSeconds = max(0, now.milliseconds / 1000 - status.startedAt)
            if ok {
                status.lastSave = now.milliseconds / 1000
                status.saves += 1
            }
            if background { status.lastBackgroundSaveOK = ok }
        }
    }

    /// `SAVE`: writes the keyspace whose shards are `keyspace` now, on the calling thread.
    func save(_ keyspace: [Keyspace], now: Instant) throws(PersistenceError) {
        guard begin(now: now) else { throw PersistenceError("Background save already in progress") }
        try writeClaimed(keyspace, now: now)
    }

    /// Writes on the calling thread once `begin` succeeded, and records the outcome.
    private func writeClaimed(_ keyspace: [Keyspace], now: Instant) throws(PersistenceError) {
        do throws(PersistenceError) {
            try write(keyspace, now: now)
            end(ok: true, now: now, background: false)
        } catch {
            end(ok: false, now: now, background: false)
            throw error
        }
    }

    /// `BGSAVE` and the timer, holding the database lock (`keyspace` is the database's):
    /// starts collecting the keyspace as it is `now`, then collects and writes it on the
    /// snapshot queue. False when a write is already under way.
    @discardableResult
    func saveInBackground(_ keyspace: inout ShardedKeyspace, now: Instant) -> Bool {
        guard begin(now: now) else { return false }
        let capture = keyspace.beginCapture(now: now)
        queue.async {
            do throws(PersistenceError) {
                try self.writeCaptured(capture, now: now)
                self.end(ok: true, now: self.clock.now(), background: true)
            } catch {
                self.database.withExclusive { $0.keyspace.endCapture(capture) }
                self.logger.error("Background snapshot failed: \(error)")
                self.end(ok: false, now: self.clock.now(), background: true)
            }
        }
        return true
    }

    private func writeCaptured(_ capture: UInt64, now: Instant) throws(PersistenceError) {
        let started = monotonicNanoseconds()
        var encoder = Snapshot.Encoder(savedAt: now)
        var collected: [Snapshot.Entry] = []
        collected.reserveCapacity(Self.captureStep)
        var progress = Keyspace.CaptureProgress.more
        var steps = 0
        var longestStep = 0
        var locked = 0
        while progress == .more {
            progress = database.withExclusive {
                let stepStarted = monotonicNanoseconds()
                defer {
                    let held = monotonicNanoseconds() - stepStarted
                    longestStep = max(longestStep, held)
                    locked += held
                }
                return $0.keyspace.captureStep(capture, slots: Self.captureStep, into: &collected)
            }
            steps += 1
            // Encoded off the lock: the values are copy-on-write, so later changes leave these as they were.
            for entry in collected { encoder.append(entry) }
            collected.removeAll(keepingCapacity: true)
        }
        guard progress == .done else { throw PersistenceError("the keyspace changed under the snapshot") }
        logger.debug("Snapshot collected in \(steps) steps holding the keyspace for \(locked / 1_000_000) ms in all, \(longestStep / 1000) µs at most")
        try write(encoder.finish(), started: started)
    }

    /// Shutdown: waits for any write under way (a timer tick may start one while the
    /// server stops), then writes the keyspace `take` returns, on the calling thread.
    func saveAfterPendingWrites(now: Instant, _ take: () -> [Keyspace]) throws(PersistenceError) -> Int {
        while !begin(now: now) {
            queue.sync {}  // Returns once the queued write has run.
            usleep(1_000)  // A write claimed but not queued yet.
        }
        let keyspace = take()
        try writeClaimed(keyspace, now: now)
        return keyspace.reduce(0) { $0 + $1.count }
    }

    private func write(_ keyspace: [Keyspace], now: Instant) throws(PersistenceError) {
        let started = monotonicNanoseconds()
        try write(Snapshot.encode(keyspace, now: now), started: started)
    }

    private func write(_ bytes: [UInt8], started: Int) throws(PersistenceError) {
        if let problem = SnapshotFile.writeAtomically(bytes, to: path) {
            throw PersistenceError("cannot write snapshot \(path): \(problem)")
        }
        let milliseconds = (monotonicNanoseconds() - started) / 1_000_000
        logger.debug("Snapshot written to \(path): \(bytes.count) bytes in \(milliseconds) ms")
    }
}

/// A snapshot that cannot be loaded or written: the whole message, naming the file.
public struct PersistenceError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The file operations, in POSIX terms.
enum SnapshotFile {
    enum ReadResult {
        case read([UInt8])
        case missing
        case failed(String)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func read(_ path: String) -> ReadResult {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return errno == ENOENT ? .missing : .failed(String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return .read(bytes) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed(String(cString: strerror(errno)))
            }
            bytes += chunk[0..<count]
        }
    }

    /// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path`
    /// and syncs the directory: a crash leaves the old file or the new one, never a mix.
    /// Returns what went wrong, or nil.
    static func writeAtomically(_ bytes: [UInt8], to path: String) -> String? {
        let temporary = path + ".tmp"
        func failure(_ step: String) -> String {
            let reason = "\(step): \(String(cString: strerror(errno)))"
            unlink(temporary)
            return reason
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return failure("open \(temporary)") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                close(descriptor)
                return failure("write \(temporary)")
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else {
            close(descriptor)
            return failure("fsync \(temporary)")
        }
        guard close(descriptor) == 0 else { return failure("close \(temporary)") }
        guard rename(temporary, path) == 0 else { return failure("rename \(temporary) to \(path)") }
        // The rename is durable only once the directory entry is.
        let directory = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return "open directory of \(path): \(String(cString: strerror(errno)))" }
        defer { close(directory) }
        guard fsync(directory) == 0 else { return "fsync directory of \(path): \(String(cString: strerror(errno)))" }
        return nil
    }
}
