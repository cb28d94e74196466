import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SluiceCore
import SluiceRedisBackend
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running Sluice server: listener, connections and active expiry.
public final class SluiceServer: Sendable {
    public static let version = ServerContext.version

    public let configuration: ServerConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let channels = Mutex<(listeners: [Channel], connections: [ObjectIdentifier: Channel])>(([], [:]))
    private let expiryTask = Mutex<RepeatedTask?>(nil)
    private let snapshotTask = Mutex<RepeatedTask?>(nil)
    /// Set once the snapshot loaded: only then may shutdown write one (a file that failed
    /// to load is never overwritten by an empty keyspace).
    private let snapshotLoaded = Atomic<Bool>(false)
    /// The Prometheus listener (MetricsServer.swift), when `metricsPort` is set.
    private let metricsListener = Mutex<Channel?>(nil)

    public init(configuration: ServerConfiguration, timeSource: any TimeSource = SystemTimeSource(), logger: Logger = Logger(label: "sluice")) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let table = CommandTable.all
        // Only a server that allows DEBUG pays for a clock that DEBUG SET-CLOCK can pin.
        let debugClock = configuration.enableDebugCommand == .no ? nil : SwitchableTimeSource(timeSource)
        let persistence = configuration.snapshotPath.map { Persistence(path: $0, clock: debugClock ?? timeSource, logger: logger) }
        let database = Database(commandCount: table.specs.count)
        // A backend setting that does not validate leaves this nil, and start() reports it.
        var backend: BackendMode?
        if let settings = (try? configuration.backendConfiguration()) ?? nil, let client = try? RedisBackend(configuration: settings) {
            backend = BackendMode(backend: client, database: database)
        }
        let context = ServerContext(
            configuration: configuration, table: table, startedAt: timeSource.now(), processID: getpid(),
            debugClock: debugClock, logger: logger, persistence: persistence, backend: backend)
        self.dispatcher = Dispatcher(
            context: context, database: database, timeSource: debugClock ?? timeSource)
    }

    /// The port actually bound (useful when configured with port 0); 0 when only TLS is served.
    public var port: Int { dispatcher.context.boundPort.load(ordering: .relaxed) }

    /// The TLS port actually bound, nil without TLS.
    public var tlsPort: Int? {
        let port = dispatcher.context.boundTLSPort.load(ordering: .relaxed)
        return port == 0 ? nil : port
    }

    /// `in-memory`, or `backend redis://host:port/db`, for the ready line.
    public var modeDescription: String {
        dispatcher.context.backend.map { "backend \($0.url)" } ?? "in-memory"
    }

    /// The port serving `/metrics`, nil when metrics are off.
    public var metricsPort: Int? { metricsListener.withLock { $0?.localAddress?.port } }

    /// Loads the snapshot, if configured, then binds and starts serving; returns once the
    /// listeners are ready. Throws `PersistenceError` for a snapshot that cannot be loaded,
    /// `ConfigurationError` for TLS files that cannot be used.
    public func start() async throws {
        let dispatcher = self.dispatcher
        let tlsContext = try configuration.makeTLSContext()
        try await startBackend()
        try loadSnapshot()
        if configuration.plainTextEnabled {
            let listener = try await bootstrap(tls: nil).bind(host: configuration.host, port: configuration.port).get()
            self.channels.withLock { $0.listeners.append(listener) }
            dispatcher.context.boundPort.store(listener.localAddress?.port ?? configuration.port, ordering: .relaxed)
        }
        if let tlsContext, let tlsPort = configuration.tlsPort {
            do {
                let listener = try await bootstrap(tls: tlsContext).bind(host: configuration.host, port: tlsPort).get()
                self.channels.withLock { $0.listeners.append(listener) }
                dispatcher.context.boundTLSPort.store(listener.localAddress?.port ?? tlsPort, ordering: .relaxed)
            } catch {
                await shutdown()
                throw error
            }
        }

        let interval = TimeAmount.milliseconds(configuration.expiryIntervalMilliseconds)
        let task = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            dispatcher.expireKeys()
        }
        expiryTask.withLock { $0 = task }
        scheduleSnapshots()

        if let metricsPort = configuration.metricsPort {
            do {
                let metrics = try await Self.bindMetrics(host: configuration.metricsHost, port: metricsPort, group: group, dispatcher: dispatcher)
                metricsListener.withLock { $0 = metrics }
            } catch {
                await shutdown()
                throw MetricsListenError(host: configuration.metricsHost, port: metricsPort, underlying: error)
            }
        }
    }

    /// One listener's bootstrap. Connections on the TLS port get a TLS handler in front of
    /// the same connection handler; the plain-text port's pipeline has only the latter.
    private func bootstrap(tls: NIOSSLContext?) -> ServerBootstrap {
        let dispatcher = self.dispatcher
        // Unread replies past the output limit make the channel unwritable, and the handler closes it.
        let outputLimit = configuration.maxOutputBufferBytes > 0 ? configuration.maxOutputBufferBytes : Int.max
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 511)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: outputLimit / 2, high: outputLimit))
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                self.channels.withLock { $0.connections[id] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = self.channels.withLock { $0.connections.removeValue(forKey: id) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(dispatcher: dispatcher))
                }
            }
    }

    // MARK: Backend

    /// Loads the scripts; a Redis that is down is logged, not fatal: commands fail by the
    /// policy until it is back, and the scripts load on first use.
    private func startBackend() async throws {
        guard let configuration = try self.configuration.backendConfiguration() else { return }
        guard let backend = dispatcher.context.backend?.backend else {
            // The client refused these settings in init (e.g. the pool size): say why.
            try configuration.validate()
            return
        }
        do {
            try await backend.loadScripts()
            logger.info("Backend \(configuration.address) ready, scripts loaded")
        } catch {
            logger.warning("Backend \(configuration.address) not ready (\(error)); rate-limit commands answer by the \(configuration.failurePolicy.rawValue) policy until it is back")
        }
    }

    /// Closes the backend's connections; their threads are joined off the event loops.
    private func stopBackend() async {
        guard let backend = dispatcher.context.backend?.backend else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                backend.shutdown()
                continuation.resume()
            }
        }
    }

    // MARK: Snapshots

    private func loadSnapshot() throws(PersistenceError) {
        guard let persistence = dispatcher.context.persistence else { return }
        var keyspace = Keyspace()
        _ = try persistence.load(into: &keyspace, now: dispatcher.timeSource.now(), ignoreCorrupt: configuration.snapshotIgnoreCorrupt)
        dispatcher.database.state.withLock { $0.keyspace = keyspace }
        snapshotLoaded.store(true, ordering: .relaxed)
    }

    private func scheduleSnapshots() {
        guard let persistence = dispatcher.context.persistence, configuration.snapshotIntervalSeconds > 0 else { return }
        let dispatcher = self.dispatcher
        let interval = TimeAmount.seconds(Int64(configuration.snapshotIntervalSeconds))
        let task = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            // Only the copy happens under the lock; encoding and I/O run on the snapshot queue.
            let keyspace = dispatcher.database.state.withLock { $0.keyspace }
            persistence.saveInBackground(keyspace, now: dispatcher.timeSource.now())
        }
        snapshotTask.withLock { $0 = task }
    }

    /// The shutdown snapshot, once no connection can change the keyspace any more.
    private func saveSnapshotAtShutdown() {
        guard let persistence = dispatcher.context.persistence, snapshotLoaded.exchange(false, ordering: .relaxed) else { return }
        let dispatcher = self.dispatcher
        do throws(PersistenceError) {
            let count = try persistence.saveAfterPendingWrites(now: dispatcher.timeSource.now()) {
                dispatcher.database.state.withLock { $0.keyspace }
            }
            logger.info("Snapshot saved to \(persistence.path) (\(count) keys)")
        } catch {
            logger.error("Snapshot at shutdown failed: \(error)")
        }
    }

    /// Stops accepting, closes every connection, writes the snapshot (if configured) and
    /// closes the event loops.
    public func shutdown() async {
        expiryTask.withLock { $0?.cancel(); $0 = nil }
        snapshotTask.withLock { $0?.cancel(); $0 = nil }
        let (listeners, connections) = channels.withLock { ($0.listeners, Array($0.connections.values)) }
        for listener in listeners {
            try? await listener.close()
        }
        try? await metricsListener.withLock { $0 }?.close()
        for connection in connections {
            try? await connection.close()
        }
        saveSnapshotAtShutdown()
        await stopBackend()
        try? await group.shutdownGracefully()
    }
}
