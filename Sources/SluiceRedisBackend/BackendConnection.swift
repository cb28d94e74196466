#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHiredis
import RESP

/// A command waiting for a connection's thread, and who to tell about its reply.
struct BackendRequest: Sendable {
    var words: [[UInt8]]
    /// When it was queued (monotonic nanoseconds): one that waited past the timeout fails unsent.
    var queuedAt: Int
    var completion: @Sendable (Result<RESPValue, BackendError>) -> Void
}

/// One hiredis connection driven by its own thread.
///
/// hiredis's calls block, so they never run on a NIO event loop: callers only queue a
/// request under a lock. The thread takes everything queued, writes it all
/// (`redisAppendCommandArgv`), then reads the replies in order (`redisGetReply`), so a
/// burst from many clients costs one round trip. On an I/O error or timeout the
/// context is dropped (hiredis cannot resume it) and the thread reconnects with backoff;
/// while it is down, requests fail at once instead of waiting.
final class BackendConnection: @unchecked Sendable {
    // @unchecked: `queue` and `stopping` are guarded by `lock`; everything else below the
    // queue is touched only by the connection's own thread.
    private let configuration: RedisBackendConfiguration
    private let statistics: BackendStatistics
    private let lock = ConditionLock()
    private var queue: [BackendRequest] = []
    private var stopping = false
    private var thread: pthread_t?

    private var context: UnsafeMutablePointer<redisContext>?
    private var lastError = "not connected yet"
    private var nextAttempt = 0
    private var backoffMilliseconds: Int

    /// Most requests written before reading replies; bounds the latency of the first one.
    private static let maximumBatch = 512

    init(configuration: RedisBackendConfiguration, statistics: BackendStatistics) {
        self.configuration = configuration
        self.statistics = statistics
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
            lock.signal()
            return true
        }
        if !accepted { request.completion(.failure(.unavailable("the backend client was shut down"))) }
    }

    // MARK: - The connection's thread

    private func run() {
        connect()
        while true {
            let (batch, stop) = nextBatch()
            if stop {
                for request in batch { request.completion(.failure(.unavailable("the backend client was shut down"))) }
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
            let count = min(queue.count, Self.maximumBatch)
            let batch = Array(queue.prefix(count))
            queue.removeFirst(count)
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
                fail(request, .timeout)
            } else {
                live.append(request)
            }
        }
        if context == nil, now >= nextAttempt { connect() }
        guard let context else {
            for request in live { fail(request, .unavailable(lastError)) }
            return
        }
        statistics.requests.add(live.count, ordering: .relaxed)
        for request in live where !append(request.words, to: context) {
            // Only a broken context refuses a command; whatever was written is lost with it.
            let reason = errorText(context)
            for request in live { fail(request, .unavailable(reason)) }
            disconnect(reason: reason)
            return
        }
        let started = monotonicNanoseconds()
        for (index, request) in live.enumerated() {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
                let reason = errorText(context)
                for request in live[index...] { fail(request, timedOut ? .timeout : .unavailable(reason)) }
                disconnect(reason: timedOut ? "timed out" : reason)
                return
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            let value = respValue(reply)
            freeReplyObject(raw)
            if case .error(let text) = value {
                request.completion(.failure(.replyError(text)))
            } else {
                request.completion(.success(value))
            }
        }
        statistics.recordRoundTrip(nanoseconds: monotonicNanoseconds() - started)
    }

    private func fail(_ request: BackendRequest, _ error: BackendError) {
        statistics.failures.add(1, ordering: .relaxed)
        request.completion(.failure(error))
    }

    /// Connects, authenticates and selects the database; on failure schedules the next try.
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
    }

    /// Runs a setup command (`AUTH`, `SELECT`) and returns why it failed, or nil.
    private func setupError(_ words: [[UInt8]], on context: UnsafeMutablePointer<redisContext>) -> String? {
        guard append(words, to: context) else { return errorText(context) }
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { return errorText(context) }
        defer { freeReplyObject(raw) }
        if case .error(let text) = respValue(raw.assumingMemoryBound(to: redisReply.self)) {
            return "\(String(decoding: words[0], as: UTF8.self)) failed: \(text)"
        }
        return nil
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

/// hiredis 0.14 replies (RESP2 only) as RESP values.
private func respValue(_ reply: UnsafeMutablePointer<redisReply>) -> RESPValue {
    let reply = reply.pointee
    switch reply.type {
    case REDIS_REPLY_STRING:
        return .bulkString(Array(UnsafeRawBufferPointer(start: reply.str, count: reply.len)))
    case REDIS_REPLY_STATUS:
        return .simpleString(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
    case REDIS_REPLY_ERROR:
        return .error(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: reply.len), as: UTF8.self))
    case REDIS_REPLY_INTEGER:
        return .integer(Int64(reply.integer))
    case REDIS_REPLY_ARRAY:
        return .array((0..<reply.elements).map { respValue(reply.element[$0]!) })
    default:
        return .null
    }
}

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

    /// Call with the lock held.
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
