import RESP
import Synchronization

/// Backend mode's client: a pool of hiredis connections to one Redis, each on its own
/// thread, with requests from any thread or task pipelined onto them.
///
/// Create it once at start, call `loadScripts()` (optional: each connection also loads
/// the scripts when it connects), and `shutdown()` before exit. Completions run on a
/// connection's thread, so they must be quick (resume a continuation, hand the results
/// to an event loop).
public final class RedisBackend: Sendable {
    public let configuration: RedisBackendConfiguration
    private let connections: [BackendConnection]
    private let statistics: BackendStatistics
    private let nextConnection = Atomic<Int>(0)
    /// SHA1 of each script as Redis reported it from `SCRIPT LOAD`.
    private let hashes = ScriptHashes()

    /// Validates the configuration and starts the connections' threads, which connect
    /// right away (a Redis that is down is not an error here: requests fail until it is up).
    /// `roundTripObserver` is told every batch's round trip in nanoseconds, on the
    /// connection's thread (the server's latency histogram).
    public init(
        configuration: RedisBackendConfiguration, roundTripObserver: (@Sendable (_ nanoseconds: Int) -> Void)? = nil
    ) throws(BackendConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let statistics = BackendStatistics(roundTripObserver: roundTripObserver)
        self.statistics = statistics
        let hashes = self.hashes
        self.connections = (0..<configuration.poolSize).map { _ in
            BackendConnection(configuration: configuration, statistics: statistics, hashes: hashes)
        }
        for connection in connections { connection.start() }
    }

    /// Fails queued requests, closes every connection and joins the threads. Blocks:
    /// call it off the event loops (e.g. after the server has closed).
    public func shutdown() {
        for connection in connections { connection.stop() }
    }

    /// Current health, for `INFO`.
    public var stats: BackendStats {
        statistics.snapshot(address: configuration.address, poolSize: configuration.poolSize)
    }

    // MARK: - Commands

    /// The pool connection that requests with this affinity use.
    public func connectionIndex(affinity: Int) -> Int {
        (affinity & Int.max) % connections.count
    }

    /// Sends commands on one connection, pipelined in order; `completion` gets one result
    /// per command, in order, on the connection's thread: the reply, `.replyError` for an
    /// error reply, `.unavailable`/`.timeout` when Redis could not answer. Never blocks.
    /// Script calls that meet `NOSCRIPT` are loaded again and re-sent before anything
    /// submitted after them on that connection.
    public func submit(
        _ commands: [BackendCommand], connection index: Int,
        completion: @escaping @Sendable ([Result<RESPValue, BackendError>]) -> Void
    ) {
        let bytes = commands.reduce(0) { $0 + $1.wireSize }
        connections[index].enqueue(BackendRequest(commands: commands, bytes: bytes, queuedAt: monotonicNanoseconds(), completion: completion))
    }

    /// Sends one command; `completion` gets its result as `submit(_:connection:completion:)` does.
    ///
    /// Requests with the same `affinity` (e.g. a client's id) go to the same connection,
    /// so Redis runs them in the order they were submitted; without one, requests are
    /// spread over the pool in turn.
    public func submit(
        _ command: BackendCommand, affinity: Int? = nil, completion: @escaping @Sendable (Result<RESPValue, BackendError>) -> Void
    ) {
        let index = connectionIndex(affinity: affinity ?? nextConnection.add(1, ordering: .relaxed).newValue)
        submit([command], connection: index) { results in completion(results[0]) }
    }

    /// Sends one command given as its words, e.g. `[Array("GET".utf8), key]`.
    public func submit(
        _ words: [[UInt8]], affinity: Int? = nil, completion: @escaping @Sendable (Result<RESPValue, BackendError>) -> Void
    ) {
        submit(BackendCommand(words: words), affinity: affinity, completion: completion)
    }

    /// Sends one command, e.g. `[Array("GET".utf8), key]`, and returns its reply.
    public func command(_ words: [[UInt8]]) async throws(BackendError) -> RESPValue {
        try await withCallback { completion in submit(words, completion: completion) }
    }

    // MARK: - Scripts

    /// Runs a lua/ script with `EVALSHA` (loading it again on `NOSCRIPT`). A script's own
    /// errors (bad arguments, `WRONGTYPE`) come back as `.replyError` with the script's text.
    public func evalScript(
        _ script: BackendScript,
        keys: [[UInt8]],
        arguments: [[UInt8]],
        affinity: Int? = nil,
        completion: @escaping @Sendable (Result<RESPValue, BackendError>) -> Void
    ) {
        var command = BackendCommand(script: script, keyCount: keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        submit(command, affinity: affinity, completion: completion)
    }

    /// `evalScript` for async callers.
    public func evalScript(_ script: BackendScript, keys: [[UInt8]], arguments: [[UInt8]]) async throws(BackendError) -> RESPValue {
        try await withCallback { completion in evalScript(script, keys: keys, arguments: arguments, completion: completion) }
    }

    /// `SCRIPT LOAD`s every script; at start, so a misconfigured Redis shows up early
    /// (connections also load them whenever they connect).
    public func loadScripts() async throws(BackendError) {
        for script in BackendScript.allCases {
            let reply = try await command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)])
            guard case .bulkString(let hash) = reply else {
                throw .replyError("ERR unexpected SCRIPT LOAD reply \(reply)")
            }
            hashes.record(script, hash: String(decoding: hash, as: UTF8.self))
        }
    }

    /// The SHA1 Redis reported for a script, once loaded.
    public func scriptHash(_ script: BackendScript) -> String? {
        hashes[script]
    }
}

/// Bridges a completion-callback call to async, keeping the typed error.
private func withCallback<T: Sendable>(
    _ start: (@escaping @Sendable (Result<T, BackendError>) -> Void) -> Void
) async throws(BackendError) -> T {
    let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, BackendError>, Never>) in
        start { continuation.resume(returning: $0) }
    }
    return try result.get()
}
