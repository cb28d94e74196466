import RESP
import Synchronization

/// Backend mode's client: a pool of hiredis connections to one Redis, each on its own
/// thread, with requests from any thread or task pipelined onto them.
///
/// Create it once at start, call `loadScripts()` (optional: scripts also load on first
/// use), and `shutdown()` before exit. Completions run on a connection's thread, so they
/// must be quick (resume a continuation, complete a promise).
public final class RedisBackend: Sendable {
    public let configuration: RedisBackendConfiguration
    private let connections: [BackendConnection]
    private let statistics = BackendStatistics()
    private let nextConnection = Atomic<Int>(0)
    /// SHA1 of each script as Redis reported it from `SCRIPT LOAD`.
    private let hashes = Mutex<[BackendScript: String]>([:])

    /// Validates the configuration and starts the connections' threads, which connect
    /// right away (a Redis that is down is not an error here: requests fail until it is up).
    public init(configuration: RedisBackendConfiguration) throws(BackendConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let statistics = self.statistics
        self.connections = (0..<configuration.poolSize).map { _ in
            BackendConnection(configuration: configuration, statistics: statistics)
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

    /// Sends one command; `completion` gets the reply, or `.replyError` for an error reply,
    /// `.unavailable`/`.timeout` when Redis could not answer. Never blocks.
    ///
    /// Requests with the same `affinity` (e.g. a client's id) go to the same connection,
    /// so Redis runs them in the order they were submitted; without one, requests are
    /// spread over the pool in turn.
    public func submit(
        _ words: [[UInt8]], affinity: Int? = nil, completion: @escaping @Sendable (Result<RESPValue, BackendError>) -> Void
    ) {
        let index = affinity ?? nextConnection.add(1, ordering: .relaxed).newValue
        let connection = connections[(index & Int.max) % connections.count]
        connection.enqueue(BackendRequest(words: words, queuedAt: monotonicNanoseconds(), completion: completion))
    }

    /// Sends one command, e.g. `[Array("GET".utf8), key]`, and returns its reply.
    public func command(_ words: [[UInt8]]) async throws(BackendError) -> RESPValue {
        try await withCallback { completion in submit(words, completion: completion) }
    }

    // MARK: - Scripts

    /// Runs a lua/ script with `EVALSHA`, loading it first if needed and once more on
    /// `NOSCRIPT` (Redis restarted or `SCRIPT FLUSH`). A script's own errors (bad
    /// arguments, `WRONGTYPE`) come back as `.replyError` with the script's text.
    public func evalScript(
        _ script: BackendScript,
        keys: [[UInt8]],
        arguments: [[UInt8]],
        affinity: Int? = nil,
        completion: @escaping @Sendable (Result<RESPValue, BackendError>) -> Void
    ) {
        let run: @Sendable (String, Bool) -> Void = { [self] hash, mayReload in
            submit(evalWords(hash, keys: keys, arguments: arguments), affinity: affinity) { result in
                if mayReload, case .failure(.replyError(let text)) = result, text.hasPrefix("NOSCRIPT") {
                    self.load(script, affinity: affinity) { loaded in
                        switch loaded {
                        case .success(let hash):
                            self.submit(self.evalWords(hash, keys: keys, arguments: arguments), affinity: affinity, completion: completion)
                        case .failure(let error): completion(.failure(error))
                        }
                    }
                } else {
                    completion(result)
                }
            }
        }
        if let hash = hashes.withLock({ $0[script] }) {
            run(hash, true)
        } else {
            load(script, affinity: affinity) { loaded in
                switch loaded {
                case .success(let hash): run(hash, false)
                case .failure(let error): completion(.failure(error))
                }
            }
        }
    }

    /// `evalScript` for async callers.
    public func evalScript(_ script: BackendScript, keys: [[UInt8]], arguments: [[UInt8]]) async throws(BackendError) -> RESPValue {
        try await withCallback { completion in evalScript(script, keys: keys, arguments: arguments, completion: completion) }
    }

    /// `SCRIPT LOAD`s every script; at start, so a misconfigured Redis shows up early.
    public func loadScripts() async throws(BackendError) {
        for script in BackendScript.allCases {
            _ = try await withCallback { completion in
                load(script) { completion($0.map { RESPValue.bulk($0) }) }
            }
        }
    }

    /// The SHA1 Redis reported for a script, once loaded.
    public func scriptHash(_ script: BackendScript) -> String? {
        hashes.withLock { $0[script] }
    }

    private func load(
        _ script: BackendScript, affinity: Int? = nil, completion: @escaping @Sendable (Result<String, BackendError>) -> Void
    ) {
        submit([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)], affinity: affinity) { [self] result in
            switch result {
            case .success(.bulkString(let bytes)):
                let hash = String(decoding: bytes, as: UTF8.self)
                hashes.withLock { $0[script] = hash }
                completion(.success(hash))
            case .success(let other):
                completion(.failure(.replyError("ERR unexpected SCRIPT LOAD reply \(other)")))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    private func evalWords(_ hash: String, keys: [[UInt8]], arguments: [[UInt8]]) -> [[UInt8]] {
        var words: [[UInt8]] = [Array("EVALSHA".utf8), Array(hash.utf8), Array(String(keys.count).utf8)]
        words.reserveCapacity(3 + keys.count + arguments.count)
        words.append(contentsOf: keys)
        words.append(contentsOf: arguments)
        return words
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
