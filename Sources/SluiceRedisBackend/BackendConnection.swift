#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHiredis
import NIOCore
import RESP
import Synchronization

/// Commands submitted together (e.g. one event-loop tick's requests for this
/// connection), and who to tell about their replies.
struct BackendRequest: Sendable {
    var commands: [BackendCommand]
    /// About how many bytes the commands take on the wire.
    var bytes: Int
    /// When it was queued (monotonic nanoseconds): one that waited past the timeout fails unsent.
    var queuedAt: Int
    /// Gets one result per command, in order, on the connection's thread.
    var completion: @Sendable ([Result<RESPValue, BackendError>]) -> Void
}

/// One hiredis connection driven by its own thread.
///
/// hiredis's calls block, so they never run on a NIO event loop: callers only queue a
/// request under a lock. The thread takes everything queued, writes it all with one
/// append, then reads the replies in order (`redisGetReply`), so a burst from many
/// clients costs one round trip and one wake-up. On an I/O error or timeout the
/// context is dropped (hiredis cannot resume it) and the thread reconnects with backoff;
/// while it is down, requests fail at once instead of waiting.
///
/// Scripts: each connection loads them (`SCRIPT LOAD`) when it connects and calls them
/// with `EVALSHA`, consecutive calls of one script as one run of its `BATCH` form.
/// Calls answered `NOSCRIPT` (Redis restarted or `SCRIPT FLUSH`) are re-sent as `EVAL`
/// on the same connection before anything queued after them, so a client's scripts
/// still run in the order it sent them.
final class BackendConnection: @unchecked Sendable {
    // @unchecked: `queue` and `stopping` are guarded by `lock`; everything else below the
    // queue is touched only by the connection's own thread.
    private let configuration: RedisBackendConfiguration
    private let statistics: BackendStatistics
    private let sharedHashes: ScriptHashes
    private let lock = ConditionLock()
    private var queue: [BackendRequest] = []
    private var stopping = false
    private var thread: pthread_t?

    private var context: UnsafeMutablePointer<redisContext>?
    private var lastError = "not connected yet"
    private var nextAttempt = 0
    private var backoffMilliseconds: Int
    /// SHA1 of each script this connection loaded; without one a call goes as `EVAL`.
    private var hashes: [BackendScript: [UInt8]] = [:]
    /// The commands of a round, kept to reuse its capacity.
    private var output = ByteBufferAllocator().buffer(capacity: 16 * 1024)
    /// What hiredis reads, kept flat (`FlatReplies`).
    private let replies = FlatReplies()
    /// When the connection last wrote or read (monotonic nanoseconds).
    private var lastActivity = 0

    /// Most bytes of commands written before reading replies (a request is never split,
    /// so a round may hold more). Redis reads up to 16 KiB at a time and runs all it read
    /// before serving another client, so a round this small is taken whole: a `SCRIPT
    /// FLUSH` from elsewhere lands before or after it, and its script calls meet
    /// `NOSCRIPT` all or none, keeping their order when they are re-sent.
    private static let maximumRoundBytes = 16 * 1024
    /// Most script calls sent as one run of the script: bounds how long a run holds
    /// Redis (a leaky-bucket call takes some 10-20 µs of Redis's time).
    private static let maximumRun = 32
    /// Idle this long, the socket is checked before use: Redis may have closed it
    /// (restart, idle timeout), and a request sent into it would fail for nothing.
    private static let idleCheckNanoseconds = 1_000_000

    init(configuration: RedisBackendConfiguration, statistics: BackendStatistics, hashes: ScriptHashes) {
        self.configuration = configuration
        self.statistics = statistics
        self.sharedHashes = hashes
        self.backoffMilliseconds = configuration.reconnectMinimumMilliseconds
    }

    /// Starts the thread, which connects right away.
    func start() {
        let retained = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Glibc)
        var handle = pthread_t()
        #else
        var handle: pthread_t?
        #endif
        let result = pthread_create(&handle, nil, { argument in
            let connection = Unmanaged<BackendConnection>.fromOpaque(argument!).takeRetainedValue()
            connection.run()
            return nil
        }, retained)
        precondition(result == 0, "cannot start a backend connection thread: error \(result)")
        thread = handle
    }

    /// Fails what is queued, closes the connection and waits for the thread to end.
    func stop() {
        lock.withLock {
            stopping = true
            lock.signal()
        }
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    /// Queues a request; callable from any thread, never blocks on Redis.
    func enqueue(_ request: BackendRequest) {
        let accepted = lock.withLock {
            guard !stopping else { return false }
            queue.append(request)
            return true
        }
        // Signalled after unlocking: woken while the lock was still held, the thread
        // would block on it at once and need waking a second time.
        if accepted { lock.signal() } else { complete(request, failing: .unavailable("the backend client was shut down")) }
    }

    // MARK: - The connection's thread

    private func run() {
        connect()
        while true {
            let (batch, stop) = nextBatch()
            if stop {
                for request in batch { complete(request, failing: .unavailable("the backend client was shut down")) }
                break
            }
            if !batch.isEmpty {
                send(batch)
            } else if context == nil {
                connect()  // idle and down: reconnect in the background, so INFO shows the truth
            }
        }
        disconnect(reason: "shut down")
    }

    /// Waits for requests (or, while disconnected, for the next reconnect attempt).
    private func nextBatch() -> ([BackendRequest], stop: Bool) {
        lock.withLock {
            while queue.isEmpty && !stopping {
                if context == nil {
                    let wait = nextAttempt - monotonicNanoseconds()
                    if wait <= 0 { break }
                    lock.wait(nanoseconds: wait)
                } else {
                    lock.wait()
                }
            }
            if stopping {
                defer { queue.removeAll() }
                return (queue, true)
            }
            var taken = 0
            var bytes = 0
            while taken < queue.count && (taken == 0 || bytes + queue[taken].bytes <= Self.maximumRoundBytes) {
                bytes += queue[taken].bytes
                taken += 1
            }
            if taken == queue.count {
                defer { queue.removeAll(keepingCapacity: true) }
                return (queue, false)
            }
            let batch = Array(queue.prefix(taken))
            queue.removeFirst(taken)
            return (batch, false)
        }
    }

    private func send(_ batch: [BackendRequest]) {
        let now = monotonicNanoseconds()
        let timeout = configuration.timeoutMilliseconds * 1_000_000
        var live: [BackendRequest] = []
        live.reserveCapacity(batch.count)
        for request in batch {
            // Queued behind a slow batch for longer than the timeout: its caller gives up now.
            if now - request.queuedAt > timeout {
                complete(request, failing: .timeout)
            } else {
                live.append(request)
            }
        }
        if let context, now - lastActivity >= Self.idleCheckNanoseconds, closedWhileIdle(context) {
            // Nothing was sent on it yet, so reconnecting and sending now retries nothing.
            disconnect(reason: "connection closed by Redis")
        }
        if context == nil, monotonicNanoseconds() >= nextAttempt { connect() }
        guard let context else {
            for request in live { complete(request, failing: .unavailable(lastError)) }
            return
        }
        var commands: [BackendCommand] = []
        if live.count == 1 {
            commands = live[0].commands
        } else {
            commands.reserveCapacity(live.reduce(0) { $0 + $1.commands.count })
            for request in live { commands.append(contentsOf: request.commands) }
        }
        statistics.requests.add(commands.count, ordering: .relaxed)
        let started = monotonicNanoseconds()
        var results = roundTrip(commands, on: context)
        retryUnloadedScripts(commands, &results.values)
        lastActivity = monotonicNanoseconds()
        if self.context != nil { statistics.recordRoundTrip(nanoseconds: lastActivity - started) }
        var first = 0
        for request in live {
            let end = first + request.commands.count
            request.completion(live.count == 1 ? results.values : Array(results.values[first..<end]))
            first = end
        }
    }

    /// Writes `commands` and reads their replies (script calls as `EVALSHA`, or as `EVAL`
    /// with the script's text when `sendingSource`). Consecutive calls of one script go as
    /// one run of its `BATCH` form (up to `maximumRun` calls). On an I/O error or
    /// timeout the context is dropped, and the commands without a reply get that failure.
    private func roundTrip(
        _ commands: [BackendCommand], on context: UnsafeMutablePointer<redisContext>, sendingSource: Bool = false
    ) -> (values: [Result<RESPValue, BackendError>], failed: Bool) {
        output.clear()
        var runs: [Range<Int>] = []
        var start = 0
        while start < commands.count {
            let script = commands[start].script
            let hash = sendingSource ? nil : script.flatMap { hashes[$0] }
            var end = start + 1
            if let script {
                while end < commands.count && end - start < Self.maximumRun && commands[end].script == script { end += 1 }
            }
            if end - start == 1 {
                commands[start].write(into: &output, hash: hash)
            } else {
                BackendCommand.writeBatch(commands[start..<end], into: &output, hash: hash)
            }
            runs.append(start..<end)
            start = end
        }
        var values: [Result<RESPValue, BackendError>] = []
        values.reserveCapacity(commands.count)
        let appended = output.withUnsafeReadableBytes { bytes in
            redisAppendFormattedCommand(context, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count) == REDIS_OK
        }
        // Only a broken context refuses a command; whatever was written is lost with it.
        var failure: BackendError? = appended ? nil : .unavailable(errorText(context))
        for run in runs where failure == nil {
            guard let value = nextReply(context) else {
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
                failure = timedOut ? .timeout : .unavailable(errorText(context))
                break
            }
            switch value {
            case .array(let replies) where run.count > 1 && replies.count == run.count:
                for reply in replies { values.append(Self.result(reply)) }
            case .error where run.count > 1:
                // The whole run failed (NOSCRIPT, a script bug): each call shares the error.
                values.append(contentsOf: repeatElement(Self.result(value), count: run.count))
            case _ where run.count > 1:
                values.append(contentsOf: repeatElement(.failure(.replyError("ERR unexpected BATCH reply \(value)")), count: run.count))
            default:
                values.append(Self.result(value))
            }
        }
        guard let failure else { return (values, false) }
        statistics.failures.add(commands.count - values.count, ordering: .relaxed)
        values.append(contentsOf: repeatElement(.failure(failure), count: commands.count - values.count))
        disconnect(reason: failure == .timeout ? "timed out" : failure.description)
        return (values, true)
    }

    private static func result(_ reply: RESPValue) -> Result<RESPValue, BackendError> {
        if case .error(let text) = reply { return .failure(.replyError(text)) }
        return .success(reply)
    }

    /// Script calls answered `NOSCRIPT` (Redis lost its scripts since this connection
    /// loaded them) did not run: re-sends them, in their order and before the connection
    /// sends anything else, as `EVAL` with the script's text, which cannot meet
    /// `NOSCRIPT` again (another `SCRIPT FLUSH` may come at any time) and caches the
    /// script under the same hash for the calls after them.
    private func retryUnloadedScripts(_ commands: [BackendCommand], _ values: inout [Result<RESPValue, BackendError>]) {
        let unloaded = values.indices.filter { index in
            guard commands[index].script != nil, case .failure(.replyError(let text)) = values[index] else { return false }
            return text.hasPrefix("NOSCRIPT")
        }
        guard !unloaded.isEmpty else { return }
        guard let context else {
            // The round broke after these replies; they share its failure.
            for index in unloaded { values[index] = .failure(.unavailable(lastError)) }
            return
        }
        let retried = roundTrip(unloaded.map { commands[$0] }, on: context, sendingSource: true)
        for (index, value) in zip(unloaded, retried.values) { values[index] = value }
    }

    private static func loadCommand(_ script: BackendScript) -> BackendCommand {
        BackendCommand(words: [Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)])
    }

    /// Keeps a script's hash from a `SCRIPT LOAD` reply; a refused load leaves calls to `EVAL`.
    private func record(_ script: BackendScript, loaded result: Result<RESPValue, BackendError>) {
        guard case .success(.bulkString(let hash)) = result else {
            hashes[script] = nil
            return
        }
        hashes[script] = hash
        sharedHashes.record(script, hash: String(decoding: hash, as: UTF8.self))
    }

    private func complete(_ request: BackendRequest, failing error: BackendError) {
        statistics.failures.add(request.commands.count, ordering: .relaxed)
        request.completion(Array(repeating: .failure(error), count: request.commands.count))
    }

    /// True when Redis closed this idle connection (or sent something nobody asked for):
    /// an idle RESP2 connection has nothing to read.
    private func closedWhileIdle(_ context: UnsafeMutablePointer<redisContext>) -> Bool {
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// Connects, authenticates, selects the database and loads the scripts; on failure
    /// schedules the next try.
    private func connect() {
        let timeout = configuration.timeoutMilliseconds
        let interval = timeval(tv_sec: timeout / 1000, tv_usec: .init((timeout % 1000) * 1000))
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), interval) else {
            return connectFailed("cannot allocate a hiredis context")
        }
        if context.pointee.err != 0 {
            let reason = errorText(context)
            redisFree(context)
            return connectFailed(reason)
        }
        redisSetTimeout(context, interval)
        redisEnableKeepAlive(context)
        replies.install(in: context)
        var setup: [[[UInt8]]] = []
        if let password = configuration.password {
            setup.append([Array("AUTH".utf8)] + (configuration.username.map { [Array($0.utf8)] } ?? []) + [Array(password.utf8)])
        }
        if configuration.database != 0 {
            setup.append([Array("SELECT".utf8), Array(String(configuration.database).utf8)])
        }
        for words in setup {
            guard let reason = setupError(words, on: context) else { continue }
            redisFree(context)
            return connectFailed(reason)
        }
        self.context = context
        backoffMilliseconds = configuration.reconnectMinimumMilliseconds
        statistics.connectedConnections.add(1, ordering: .relaxed)
        let scripts = BackendScript.allCases
        let loads = roundTrip(scripts.map(Self.loadCommand), on: context)
        for (script, result) in zip(scripts, loads.values) { record(script, loaded: result) }
        lastActivity = monotonicNanoseconds()
    }

    /// Runs a setup command (`AUTH`, `SELECT`) and returns why it failed, or nil.
    private func setupError(_ words: [[UInt8]], on context: UnsafeMutablePointer<redisContext>) -> String? {
        guard append(words, to: context) else { return errorText(context) }
        guard let reply = nextReply(context) else { return errorText(context) }
        if case .error(let text) = reply {
            return "\(String(decoding: words[0], as: UTF8.self)) failed: \(text)"
        }
        return nil
    }

    /// The next reply (sending what is queued first), or nil when the connection failed.
    private func nextReply(_ context: UnsafeMutablePointer<redisContext>) -> RESPValue? {
        replies.clear()
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, raw != nil else { return nil }
        return replies.value()
    }

    private func connectFailed(_ reason: String) {
        statistics.connectFailures.add(1, ordering: .relaxed)
        lastError = reason
        nextAttempt = monotonicNanoseconds() + backoffMilliseconds * 1_000_000
        backoffMilliseconds = min(backoffMilliseconds * 2, configuration.reconnectMaximumMilliseconds)
    }

    /// Drops the context; the next request (or the idle loop) reconnects right away,
    /// since Redis may already be back (a restart), then with backoff.
    private func disconnect(reason: String) {
        guard let context else { return }
        redisFree(context)
        self.context = nil
        lastError = reason
        nextAttempt = monotonicNanoseconds()
        statistics.connectedConnections.subtract(1, ordering: .relaxed)
    }
}

/// The hashes Redis reported for the scripts, for `RedisBackend.scriptHash`.
final class ScriptHashes: Sendable {
    private let hashes = Mutex<[BackendScript: String]>([:])

    func record(_ script: BackendScript, hash: String) {
        hashes.withLock { $0[script] = hash }
    }

    subscript(script: BackendScript) -> String? {
        hashes.withLock { $0[script] }
    }
}

// MARK: - hiredis glue

/// Writes one command into the context's output buffer (sent by the next `redisGetReply`).
/// The words are copied by hiredis, so the pointers only need to live during the call.
private func append(_ words: [[UInt8]], to context: UnsafeMutablePointer<redisContext>) -> Bool {
    var joined: [UInt8] = []
    joined.reserveCapacity(words.reduce(1) { $0 + $1.count })
    var offsets: [Int] = []
    var lengths: [Int] = []
    offsets.reserveCapacity(words.count)
    lengths.reserveCapacity(words.count)
    for word in words {
        offsets.append(joined.count)
        lengths.append(word.count)
        joined.append(contentsOf: word)
    }
    joined.append(0)  // never empty, so the base address exists
    return joined.withUnsafeBufferPointer { bytes in
        bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { base in
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argv in
                redisAppendCommandArgv(context, Int32(words.count), argv.baseAddress, lengths) == REDIS_OK
            }
        }
    }
}

/// Replies as hiredis's reader parses them, kept flat in the order read: its own reply
/// objects cost an allocation and a free for every element, and a batch's reply has
/// several per call. hiredis calls these functions for each element, parents first,
/// with this object as the reader's private data; each returns that pointer, since
/// hiredis wants something that is not null and the elements need no objects of their own.
final class FlatReplies {
    private struct Element {
        /// A `REDIS_REPLY_*` type.
        var type: Int32
        /// An integer's value, or an array's element count.
        var number: Int64 = 0
        /// A string's place in `bytes`.
        var start = 0
        var count = 0
    }

    private var elements: [Element] = []
    private var bytes: [UInt8] = []

    /// Makes `context`'s reader build replies here; for the context's whole life.
    func install(in context: UnsafeMutablePointer<redisContext>) {
        install(in: context.pointee.reader)
    }

    /// Makes `reader` build replies here, for as long as it lives.
    func install(in reader: UnsafeMutablePointer<redisReader>) {
        reader.pointee.fn = flatReplyFunctions
        reader.pointee.privdata = Unmanaged.passUnretained(self).toOpaque()
    }

    func clear() {
        elements.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
    }

    /// The reply read since `clear`, as a RESP value.
    func value() -> RESPValue {
        var index = 0
        return elements.isEmpty ? .null : value(at: &index)
    }

    private func value(at index: inout Int) -> RESPValue {
        let element = elements[index]
        index += 1
        switch element.type {
        case REDIS_REPLY_STRING:
            return .bulkString(Array(bytes[element.start..<element.start + element.count]))
        case REDIS_REPLY_STATUS:
            return .simpleString(String(decoding: bytes[element.start..<element.start + element.count], as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes[element.start..<element.start + element.count], as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(element.number)
        case REDIS_REPLY_ARRAY:
            var values: [RESPValue] = []
            values.reserveCapacity(Int(element.number))
            for _ in 0..<element.number { values.append(value(at: &index)) }
            return .array(values)
        default:
            return .null
        }
    }

    fileprivate static func from(_ task: UnsafePointer<redisReadTask>?) -> (FlatReplies, UnsafeMutableRawPointer) {
        let privdata = task!.pointee.privdata!
        return (Unmanaged<FlatReplies>.fromOpaque(privdata).takeUnretainedValue(), privdata)
    }

    fileprivate func appendString(type: Int32, _ text: UnsafePointer<CChar>?, _ count: Int) {
        elements.append(Element(type: type, start: bytes.count, count: count))
        if count > 0 { bytes.append(contentsOf: UnsafeRawBufferPointer(start: text, count: count)) }
    }

    fileprivate func append(type: Int32, number: Int64) {
        elements.append(Element(type: type, number: number))
    }
}

/// `FlatReplies`'s functions for hiredis's reader, shared by every connection; written
/// once, before any use, and only read after.
nonisolated(unsafe) private let flatReplyFunctions: UnsafeMutablePointer<redisReplyObjectFunctions> = {
    let functions = UnsafeMutablePointer<redisReplyObjectFunctions>.allocate(capacity: 1)
    functions.initialize(to: redisReplyObjectFunctions(
        createString: { task, text, count in
            let (replies, handle) = FlatReplies.from(task)
            replies.appendString(type: task!.pointee.type, text, count)
            return handle
        },
        createArray: { task, count in
            let (replies, handle) = FlatReplies.from(task)
            replies.append(type: REDIS_REPLY_ARRAY, number: Int64(count))
            return handle
        },
        createInteger: { task, value in
            let (replies, handle) = FlatReplies.from(task)
            replies.append(type: REDIS_REPLY_INTEGER, number: Int64(value))
            return handle
        },
        createNil: { task in
            let (replies, handle) = FlatReplies.from(task)
            replies.append(type: REDIS_REPLY_NIL, number: 0)
            return handle
        },
        // Nothing was allocated per element; `clear` drops a reply read halfway.
        freeObject: { _ in }))
    return functions
}()

private func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
    let text = withUnsafeBytes(of: context.pointee.errstr) { bytes in
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
    return text.isEmpty ? "connection error \(context.pointee.err)" : text
}

func monotonicNanoseconds() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return spec.tv_sec * 1_000_000_000 + spec.tv_nsec
}

/// A pthread mutex with one condition variable: what a thread waiting for work needs
/// (Synchronization's Mutex has no condition).
final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Wakes the waiting thread, if any; with or without the lock held (a thread checks
    /// its condition under the lock before waiting, so no wake-up is lost either way).
    func signal() { pthread_cond_signal(condition) }

    /// Call with the lock held.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Call with the lock held; returns after at most about `nanoseconds`.
    func wait(nanoseconds: Int) {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let total = deadline.tv_nsec + nanoseconds
        deadline.tv_sec += total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        pthread_cond_timedwait(condition, mutex, &deadline)
    }
}
